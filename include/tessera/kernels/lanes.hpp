// Lane helpers that behave the same on a scalar T and on a simd::batch<T>, so an element-wise
// op is one functor body for both (MLX style): select, and max/min that propagate NaN.
// Shared by the activations (activation.hpp) and the element-wise/row-wise kernel families.
#pragma once

#include <tessera/config.hpp>
#include <tessera/simd/simd.hpp>

#include <type_traits>

namespace tessera::kernels::lanes {

template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
TESSERA_ALWAYS_INLINE T select(bool c, const T& a, const T& b) { return c ? a : b; }
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch<T, A> select(const xsimd::batch_bool<T, A>& c, const xsimd::batch<T, A>& a,
                                                const xsimd::batch<T, A>& b) {
  return xsimd::select(c, a, b);
}

// max/min that return NaN when either operand is NaN (NumPy's maximum/minimum; IEEE
// maximum, not maxNum). The hardware max instructions return the second operand instead.
// Equal operands (-0 and +0 included) give b.
template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
TESSERA_ALWAYS_INLINE T max(const T& a, const T& b) { return (a > b || a != a) ? a : b; }
template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
TESSERA_ALWAYS_INLINE T min(const T& a, const T& b) { return (a < b || a != a) ? a : b; }
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch<T, A> max(const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b) {
  return xsimd::select((a > b) | xsimd::isnan(a), a, b);
}
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch<T, A> min(const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b) {
  return xsimd::select((a < b) | xsimd::isnan(a), a, b);
}

}  // namespace tessera::kernels::lanes
