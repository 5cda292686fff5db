// Scalar references of kernels/reduce.hpp: one running accumulator in T per output element
// (tests use T = double), walking the reduced axis in order.
#pragma once

#include <tessera/kernels/ref/common.hpp>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace tessera::kernels::ref {

namespace detail {

// fn(row values...) -> result for each output element of a one-axis reduction.
template <class To, class T, class F>
status reduce_axis(TensorView<To> out, TensorView<const T> in, int axis, F f) {
  if (!axis_ok(axis, in.rank())) return make_error(errc::invalid_argument, "ref reduce: bad axis");
  shape_t keep = in.shape(), drop;
  keep[axis] = 1;
  for (int i = 0; i < in.rank(); ++i)
    if (i != axis) drop.push_back(in.dim(i));
  if (out.shape() != keep && out.shape() != drop) return mismatch("ref reduce", out.shape(), keep);
  const index_t R = in.dim(axis);
  std::vector<T> row(static_cast<std::size_t>(R));
  for_each_row_start(in.shape(), axis, [&](const index_t* idx0) {
    index_t idx[TESSERA_MAX_RANK];
    for (int i = 0; i < in.rank(); ++i) idx[i] = idx0[i];
    for (index_t k = 0; k < R; ++k) {
      idx[axis] = k;
      row[static_cast<std::size_t>(k)] = at(in, idx, in.rank());
    }
    index_t oidx[TESSERA_MAX_RANK];
    int o = 0;
    for (int i = 0; i < in.rank(); ++i)
      if (out.rank() == in.rank() || i != axis) oidx[o++] = idx0[i];
    at(out, oidx, out.rank()) = f(row);
  });
  return {};
}

template <class T>
T sum_of(const std::vector<T>& v) {
  T s = 0;
  for (T x : v) s += x;
  return s;
}
template <class T>
T max_of(const std::vector<T>& v) {
  T m = v.at(0);
  for (T x : v) if (std::isnan(x) || x > m) { m = x; if (std::isnan(x)) break; }
  return m;
}
template <class T>
T min_of(const std::vector<T>& v) {
  T m = v.at(0);
  for (T x : v) if (std::isnan(x) || x < m) { m = x; if (std::isnan(x)) break; }
  return m;
}
template <class T, bool Max>
index_t arg_of(const std::vector<T>& v) {
  index_t best = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return static_cast<index_t>(i);
    if (Max ? v[i] > v[static_cast<std::size_t>(best)] : v[i] < v[static_cast<std::size_t>(best)]) best = static_cast<index_t>(i);
  }
  return best;
}

// All elements of `in`, row-major.
template <class T>
std::vector<T> flatten(TensorView<const T> in) {
  std::vector<T> v;
  for_each_index(in.shape(), [&](const index_t* i) { v.push_back(at(in, i, in.rank())); });
  return v;
}

}  // namespace detail

template <class T>
status sum(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  return detail::reduce_axis(out, in, axis, [](const std::vector<T>& v) { return detail::sum_of(v); });
}
template <class T>
status mean(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  return detail::reduce_axis(out, in, axis, [](const std::vector<T>& v) {
    return v.empty() ? std::numeric_limits<T>::quiet_NaN() : detail::sum_of(v) / static_cast<T>(v.size());
  });
}
template <class T>
status max(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref max: empty");
  return detail::reduce_axis(out, in, axis, [](const std::vector<T>& v) { return detail::max_of(v); });
}
template <class T>
status min(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref min: empty");
  return detail::reduce_axis(out, in, axis, [](const std::vector<T>& v) { return detail::min_of(v); });
}
template <class T>
status argmax(TensorView<index_t> out, TensorView<const T> in, int axis) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref argmax: empty");
  return detail::reduce_axis(out, in, axis, [](const std::vector<T>& v) { return detail::arg_of<T, true>(v); });
}
template <class T>
status argmin(TensorView<index_t> out, TensorView<const T> in, int axis) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref argmin: empty");
  return detail::reduce_axis(out, in, axis, [](const std::vector<T>& v) { return detail::arg_of<T, false>(v); });
}

// All-axes forms: out holds one element.
template <class T>
status sum(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  *out.data() = detail::sum_of(detail::flatten(in));
  return {};
}
template <class T>
status mean(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  const auto v = detail::flatten(in);
  *out.data() = v.empty() ? std::numeric_limits<T>::quiet_NaN() : detail::sum_of(v) / static_cast<T>(v.size());
  return {};
}
template <class T>
status max(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref max: empty");
  *out.data() = detail::max_of(detail::flatten(in));
  return {};
}
template <class T>
status min(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref min: empty");
  *out.data() = detail::min_of(detail::flatten(in));
  return {};
}
template <class T>
status argmax(TensorView<index_t> out, TensorView<const T> in) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref argmax: empty");
  *out.data() = detail::arg_of<T, true>(detail::flatten(in));
  return {};
}
template <class T>
status argmin(TensorView<index_t> out, TensorView<const T> in) {
  if (in.size() == 0) return make_error(errc::invalid_argument, "ref argmin: empty");
  *out.data() = detail::arg_of<T, false>(detail::flatten(in));
  return {};
}

}  // namespace tessera::kernels::ref
