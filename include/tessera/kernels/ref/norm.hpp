// Scalar references of kernels/norm.hpp over the last axis, in T (tests use T = double):
// two-pass mean and variance (accumulated in long double), then the textbook formulas.
#pragma once

#include <tessera/kernels/ref/common.hpp>

#include <cmath>
#include <type_traits>
#include <vector>

namespace tessera::kernels::ref {


template <class T>
status layer_norm(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, std::type_identity_t<TensorView<const T>> gamma,
                  std::type_identity_t<TensorView<const T>> beta, double eps = 1e-5) {
  return detail::along_rows("ref norm", out, in, -1, [&](std::vector<T>& x) {
    // long double sums: rows with a large offset (1e4 + noise) must not make the oracle
    // itself the least accurate party when T is double.
    using W = long double;
    const W n = static_cast<W>(x.size());
    W mean = 0, var = 0;
    for (T v : x) mean += v;
    mean /= n;
    for (T v : x) var += (v - mean) * (v - mean);
    var /= n;
    const W inv = 1 / std::sqrt(var + static_cast<W>(eps));
    for (std::size_t k = 0; k < x.size(); ++k)
      x[k] = static_cast<T>((x[k] - mean) * inv * gamma(static_cast<index_t>(k)) + beta(static_cast<index_t>(k)));
  });
}

template <class T>
status rms_norm(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, std::type_identity_t<TensorView<const T>> gamma,
                double eps = 1e-6) {
  return detail::along_rows("ref norm", out, in, -1, [&](std::vector<T>& x) {
    using W = long double;
    W ss = 0;
    for (T v : x) ss += static_cast<W>(v) * v;
    const W inv = 1 / std::sqrt(ss / static_cast<W>(x.size()) + static_cast<W>(eps));
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<T>(x[k] * inv * gamma(static_cast<index_t>(k)));
  });
}

}  // namespace tessera::kernels::ref
