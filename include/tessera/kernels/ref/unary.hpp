// Scalar references of kernels/unary.hpp: the textbook formula of each op, element by
// element, evaluated in T (tests use T = double). The activations are ref/activation.hpp's.
#pragma once

#include <tessera/core/dtype.hpp>
#include <tessera/kernels/ref/activation.hpp>
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
TESSERA_REF_UNARY_(sigmoid, act::sigmoid(x))
TESSERA_REF_UNARY_(relu, act::relu(x))
TESSERA_REF_UNARY_(silu, act::silu(x))
TESSERA_REF_UNARY_(gelu, act::gelu(x))
TESSERA_REF_UNARY_(gelu_tanh, act::gelu_tanh(x))
TESSERA_REF_UNARY_(softplus, act::softplus(x))
TESSERA_REF_UNARY_(hardswish, act::hardswish(x))
TESSERA_REF_UNARY_(floor, std::floor(x))
TESSERA_REF_UNARY_(ceil, std::ceil(x))
TESSERA_REF_UNARY_(round, std::nearbyint(x))
#undef TESSERA_REF_UNARY_

template <class T>
status leaky_relu(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, T alpha) {
  return map(out, in, [alpha](T x) -> T { return act::leaky_relu(x, alpha); });
}

template <class T>
status elu(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, T alpha) {
  return map(out, in, [alpha](T x) -> T { return act::elu(x, alpha); });
}

template <class T>
status selu(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, T alpha, T gamma) {
  return map(out, in, [alpha, gamma](T x) -> T { return act::selu(x, alpha, gamma); });
}

template <class T>
status hard_sigmoid(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, T alpha, T beta) {
  return map(out, in, [alpha, beta](T x) -> T { return act::hard_sigmoid(x, alpha, beta); });
}

template <class T>
status clip(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, T lo, T hi) {
  return map(out, in, [lo, hi](T x) -> T { return act::clip(x, lo, hi); });
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
