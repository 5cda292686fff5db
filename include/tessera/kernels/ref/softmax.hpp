// Scalar references of kernels/softmax.hpp: max-shifted softmax and log_softmax along an
// axis, one row at a time, in T (tests use T = double).
#pragma once

#include <tessera/kernels/ref/common.hpp>

#include <cmath>
#include <type_traits>
#include <vector>

namespace tessera::kernels::ref {


template <class T>
status softmax(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis = -1) {
  return detail::along_rows("ref softmax", out, in, axis, [](std::vector<T>& x) {
    T m = -INFINITY;
    for (T v : x) m = (std::isnan(v) || v > m) ? v : m;
    T s = 0;
    for (T& v : x) { v = std::exp(v - m); s += v; }
    for (T& v : x) v /= s;
  });
}

template <class T>
status log_softmax(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis = -1) {
  return detail::along_rows("ref softmax", out, in, axis, [](std::vector<T>& x) {
    T m = -INFINITY;
    for (T v : x) m = (std::isnan(v) || v > m) ? v : m;
    T s = 0;
    for (T v : x) s += std::exp(v - m);
    const T ls = std::log(s);
    for (T& v : x) v = v - m - ls;
  });
}

}  // namespace tessera::kernels::ref
