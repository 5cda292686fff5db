// Scalar references of kernels/unary.hpp: the textbook formula of each op, element by
// element, evaluated in T (tests use T = double).
#pragma once

#include <tessera/core/dtype.hpp>
#include <tessera/kernels/ref/common.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace tessera::kernels::ref {

template <class T, class F>
status map(TensorView<T> out, TensorView<const T> in, F f) {
  if (out.shape() != in.shape()) return detail::mismatch("ref::map", out.shape(), in.shape());
  const int r = out.rank();
  // Read everything first so in-place calls behave like the kernels' NumPy semantics.
  std::vector<T> vals;
  detail::for_each_index(in.shape(), [&](const index_t* i) { vals.push_back(detail::at(in, i, r)); });
  std::size_t k = 0;
  detail::for_each_index(out.shape(), [&](const index_t* i) { detail::at(out, i, r) = f(vals[k++]); });
  return {};
}

#define TESSERA_REF_UNARY_(name, expr)                                                       \
  template <class T>                                                                         \
  status name(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {             \
    return map(out, in, [](T x) -> T { return expr; });                                      \
  }
TESSERA_REF_UNARY_(neg, -x)
TESSERA_REF_UNARY_(abs, std::fabs(x))
TESSERA_REF_UNARY_(square, x * x)
TESSERA_REF_UNARY_(exp, std::exp(x))
TESSERA_REF_UNARY_(log, std::log(x))
TESSERA_REF_UNARY_(sqrt, std::sqrt(x))
TESSERA_REF_UNARY_(rsqrt, 1 / std::sqrt(x))
TESSERA_REF_UNARY_(reciprocal, 1 / x)
TESSERA_REF_UNARY_(tanh, std::tanh(x))
TESSERA_REF_UNARY_(erf, std::erf(x))
TESSERA_REF_UNARY_(sigmoid, 1 / (1 + std::exp(-x)))
TESSERA_REF_UNARY_(relu, std::isnan(x) ? x : std::max(x, T(0)))
TESSERA_REF_UNARY_(silu, x / (1 + std::exp(-x)))
TESSERA_REF_UNARY_(gelu, x * 0.5 * std::erfc(-x / std::sqrt(T(2))))
TESSERA_REF_UNARY_(gelu_tanh, 0.5 * x * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x))))
TESSERA_REF_UNARY_(softplus, std::log1p(std::exp(x)))
TESSERA_REF_UNARY_(hardswish, std::isnan(x) ? x : x * std::min(std::max(x + 3, T(0)), T(6)) / 6)
#undef TESSERA_REF_UNARY_

template <class T>
status leaky_relu(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, T alpha) {
  return map(out, in, [alpha](T x) -> T { return x > 0 ? x : alpha * x; });
}

template <class T>
status clip(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, T lo, T hi) {
  return map(out, in, [lo, hi](T x) -> T { return std::isnan(x) ? x : std::min(std::max(x, lo), hi); });
}


// cast: f16/bf16 through core/dtype.hpp's conversions (round to nearest even); integers by
// rounding half to even in double and clamping; NaN -> 0.
template <class To, class From>
status cast(TensorView<To> out, TensorView<const From> in) {
  if (out.shape() != in.shape()) return detail::mismatch("ref::cast", out.shape(), in.shape());
  const int r = out.rank();
  std::vector<To> vals;
  detail::for_each_index(in.shape(), [&](const index_t* i) {
    const From x = detail::at(in, i, r);
    if constexpr (std::is_same_v<To, From>) {
      vals.push_back(x);
    } else if constexpr (std::is_integral_v<To>) {
      const double v = static_cast<double>(x);
      double rounded = std::isnan(v) ? 0.0 : std::nearbyint(v);
      rounded = std::min(std::max(rounded, static_cast<double>(std::numeric_limits<To>::min())),
                         static_cast<double>(std::numeric_limits<To>::max()));
      vals.push_back(static_cast<To>(rounded));
    } else if constexpr (std::is_same_v<To, f16> || std::is_same_v<To, bf16>) {
      vals.push_back(To(static_cast<float>(x)));
    } else if constexpr (std::is_same_v<From, f16> || std::is_same_v<From, bf16>) {
      vals.push_back(static_cast<To>(static_cast<float>(x)));
    } else {
      vals.push_back(static_cast<To>(x));
    }
  });
  std::size_t k = 0;
  detail::for_each_index(out.shape(), [&](const index_t* i) { detail::at(out, i, r) = vals[k++]; });
  return {};
}

}  // namespace tessera::kernels::ref
