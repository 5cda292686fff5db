// Shared helpers of the scalar reference kernels (kernels/ref/*.hpp): a plain multi-index
// walk. The references are the test oracle: obvious loops, no SIMD, no coalescing, no
// blocking, so that they share as little as possible with the kernels they check.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/core/tensor.hpp>

#include <string>
#include <vector>

namespace tessera::kernels::ref::detail {

// fn(idx) for every multi-index of `shape` in row-major order (idx has shape.rank() entries).
template <class F>
void for_each_index(const shape_t& shape, F&& fn) {
  for (index_t d : shape)
    if (d == 0) return;
  index_t idx[TESSERA_MAX_RANK] = {};
  const int r = shape.rank();
  for (;;) {
    fn(static_cast<const index_t*>(idx));
    int ax = r - 1;
    for (; ax >= 0; --ax) {
      if (++idx[ax] < shape[ax]) break;
      idx[ax] = 0;
    }
    if (ax < 0) return;
  }
}

// Element at a multi-index of `v`; `idx` may be longer than v's rank (NumPy broadcasting:
// v's axes align with the last ones of idx) and extent-1 axes of v read index 0.
template <class T>
T& at(const TensorView<T>& v, const index_t* idx, int idx_rank) {
  index_t off = 0;
  const int lead = idx_rank - v.rank();
  for (int i = 0; i < v.rank(); ++i) off += (v.dim(i) == 1 ? 0 : idx[lead + i]) * v.stride(i);
  return v.data()[off];
}

inline status mismatch(const char* op, const shape_t& a, const shape_t& b) {
  return make_error(errc::shape_mismatch, std::string(op) + ": " + a.str() + " vs " + b.str());
}

}  // namespace tessera::kernels::ref::detail

namespace tessera::kernels::ref::detail {

// fn(idx) for the first element of every row along `axis` (idx[axis] == 0); the caller walks
// the row by setting idx[axis].
template <class F>
void for_each_row_start(const shape_t& shape, int axis, F&& fn) {
  shape_t s = shape;
  s[axis] = 1;
  for_each_index(s, fn);
}

inline bool axis_ok(int& axis, int rank) {
  if (axis < -rank || axis >= rank) return false;
  if (axis < 0) axis += rank;
  return true;
}

// Copies each 1-D row along `axis` out of `in`, lets f(row) rewrite it, writes it to `out`.
template <class T, class F>
status along_rows(const char* op, TensorView<T> out, TensorView<const T> in, int axis, F f) {
  if (out.shape() != in.shape() || in.rank() == 0) return mismatch(op, out.shape(), in.shape());
  if (!axis_ok(axis, in.rank())) return make_error(errc::invalid_argument, std::string(op) + ": bad axis");
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

}  // namespace tessera::kernels::ref::detail
