// Lane helpers that behave the same on a scalar T and on a simd::batch<T>, so an element-wise
// op is one functor body for both (MLX style): select, and max/min that propagate NaN.
// Shared by the activations (activation.hpp) and the element-wise/row-wise kernel families.
#pragma once

#include <tessera/config.hpp>
#include <tessera/simd/simd.hpp>

#include <cmath>
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

// max(x, b) / min(x, b) for a bound b that is never NaN (a constant, a validated clip
// bound): x unless b lies strictly beyond it, so a NaN x stays NaN and a tie returns x
// (bound_max(-0, +0) = -0, as NumPy's maximum). That is exactly x86's maxps(b, x) /
// minps(b, x), which return the second operand on NaN and on ties: one instruction (also
// under Emscripten, whose SSE shim keeps those semantics); elsewhere a compare and a blend.
template <class A>
inline constexpr bool x86_minmax_v = std::is_base_of_v<xsimd::sse2, A> || std::is_base_of_v<xsimd::avx, A> ||
                                     std::is_base_of_v<xsimd::avx512f, A>;

// Scalars through std::isless/isgreater: clang folds `x < 0 ? 0 : x` into a max that loses -0.
template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
TESSERA_ALWAYS_INLINE T bound_max(const T& x, const T& b) { return std::isless(x, b) ? b : x; }
template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
TESSERA_ALWAYS_INLINE T bound_min(const T& x, const T& b) { return std::isgreater(x, b) ? b : x; }
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch<T, A> bound_max(const xsimd::batch<T, A>& x, const xsimd::batch<T, A>& b) {
  if constexpr (std::is_floating_point_v<T> && x86_minmax_v<A>) return xsimd::max(b, x);
  else return xsimd::select(x < b, b, x);
}
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch<T, A> bound_min(const xsimd::batch<T, A>& x, const xsimd::batch<T, A>& b) {
  if constexpr (std::is_floating_point_v<T> && x86_minmax_v<A>) return xsimd::min(b, x);
  else return xsimd::select(x > b, b, x);
}

}  // namespace tessera::kernels::lanes
