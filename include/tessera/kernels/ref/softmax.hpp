// Scalar references of kernels/softmax.hpp: max-shifted softmax and log_softmax along an
// axis, one row at a time, in T (tests use T = double).
#pragma once

#include <tessera/kernels/ref/common.hpp>

#include <cmath>
#include <type_traits>
#include <vector>

namespace tessera::kernels::ref {

namespace detail {
template <class T, class F>
status along_rows(TensorView<T> out, TensorView<const T> in, int axis, F f) {
  if (out.shape() != in.shape()) return mismatch("ref softmax", out.shape(), in.shape());
  if (!axis_ok(axis, in.rank())) return make_error(errc::invalid_argument, "ref softmax: bad axis");
  const index_t n = in.dim(axis);
  std::vector<T> row(static_cast<std::size_t>(n));
  for_each_row_start(in.shape(), axis, [&](const index_t* idx0) {
    index_t idx[TESSERA_MAX_RANK];
    for (int i = 0; i < in.rank(); ++i) idx[i] = idx0[i];
    for (index_t k = 0; k < n; ++k) { idx[axis] = k; row[static_cast<std::size_t>(k)] = at(in, idx, in.rank()); }
    f(row);
    for (index_t k = 0; k < n; ++k) { idx[axis] = k; at(out, idx, out.rank()) = row[static_cast<std::size_t>(k)]; }
  });
  return {};
}
}  // namespace detail

template <class T>
status softmax(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis = -1) {
  return detail::along_rows(out, in, axis, [](std::vector<T>& x) {
    T m = -INFINITY;
    for (T v : x) m = (std::isnan(v) || v > m) ? v : m;
    T s = 0;
    for (T& v : x) { v = std::exp(v - m); s += v; }
    for (T& v : x) v /= s;
  });
}

template <class T>
status log_softmax(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis = -1) {
  return detail::along_rows(out, in, axis, [](std::vector<T>& x) {
    T m = -INFINITY;
    for (T v : x) m = (std::isnan(v) || v > m) ? v : m;
    T s = 0;
    for (T v : x) s += std::exp(v - m);
    const T ls = std::log(s);
    for (T& v : x) v = v - m - ls;
  });
}

}  // namespace tessera::kernels::ref
