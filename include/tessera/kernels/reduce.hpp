// Reductions: sum, mean, max, min, argmax, argmin over one axis or over all elements.
//
//   kernels::sum(out, in, axis);   // over one axis (negative axes count from the end)
//   kernels::sum(out, in);         // over everything: out holds one element
//
// keepdims: the output's rank says it. For `in` of shape [A, R, C] reduced over axis 1, `out`
// may be [A, C] (axis dropped) or [A, 1, C] (axis kept with extent 1); the elements are the
// same. reduced_shape(in.shape(), axis, keepdims) gives either shape. For the all-axes form,
// `out` may have any shape with one element ([], [1], [1, 1], ...).
//
// Accuracy of sum/mean (explicitly): rows are cut into blocks of 2048 elements. A block is
// summed in T with 4 SIMD accumulators (so each lane adds at most 2048 / (4 * lanes) terms:
// 64 for AVX2 f32), and block totals are combined in double with Neumaier compensation.
// The error of a long f32 sum therefore does not grow with its length the way a running f32
// total does (a naive sum of 2^24 + 1 ones stops at 2^24; this one does not). Reductions over
// a non-innermost axis add rows of SIMD lanes in T per block of 2048 rows and combine the
// blocks in double. mean = sum / count computed in double, then rounded to T.
//
// Special values: sum/mean propagate NaN and inf as IEEE addition does. max/min propagate NaN
// (any NaN in a row gives NaN, like NumPy's max). argmax/argmin return the index of the first
// extreme value; a row holding NaN returns the index of its first NaN (NumPy). Indices are
// index_t (int64), counted along the reduced axis (or, for the all-axes form, in row-major
// order of `in`).
//
// Empty rows: sum gives 0, mean gives NaN; max, min, argmax and argmin of an empty row are an
// error (invalid_argument), as NumPy raises.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/elementwise.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>

namespace tessera::kernels {

// Shape of `in` reduced over `axis`: that axis removed, or kept with extent 1 (keepdims).
inline expected<shape_t> reduced_shape(const shape_t& in, int axis, bool keepdims = false) {
  TESSERA_TRY(detail::normalize_axis(axis, in.rank(), "reduced_shape"));
  shape_t s;
  for (int i = 0; i < in.rank(); ++i) {
    if (i != axis) s.push_back(in[i]);
    else if (keepdims) s.push_back(1);
  }
  return s;
}

namespace detail {

inline constexpr index_t reduce_block = 2048;

struct identity_op {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return x; }
};
struct max_op {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return lanes::max(a, b); }
};
struct min_op {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return lanes::min(a, b); }
};

// sum over i < n of f(p[i]) for a contiguous row (f takes and returns simd::batch<T>). See the
// accuracy note at the top of this file.
template <class T, class F = identity_op>
double sum_contig(const T* p, index_t n, F f = {}) {
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  wide_sum acc;
  for (index_t b0 = 0; b0 < n; b0 += reduce_block) {
    const index_t len = std::min(reduce_block, n - b0);
    const T* q = p + b0;
    B a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
    index_t i = 0;
    for (; i + 4 * W <= len; i += 4 * W) {
      a0 += f(simd::load_unaligned<B>(q + i));
      a1 += f(simd::load_unaligned<B>(q + i + W));
      a2 += f(simd::load_unaligned<B>(q + i + 2 * W));
      a3 += f(simd::load_unaligned<B>(q + i + 3 * W));
    }
    for (; i + W <= len; i += W) a0 += f(simd::load_unaligned<B>(q + i));
    double part = static_cast<double>(simd::reduce_add((a0 + a1) + (a2 + a3)));
    if (i < len) {  // f of the fill value need not be 0: add only the real lanes
      alignas(64) T buf[B::size];
      f(simd::load_partial<B>(q + i, static_cast<std::size_t>(len - i))).store_aligned(buf);
      for (index_t k = 0; k < len - i; ++k) part += static_cast<double>(buf[k]);
    }
    acc.add(part);
  }
  return acc.value();
}

template <class T>
double sum_strided(const T* p, index_t n, index_t s) {
  wide_sum acc;
  for (index_t b0 = 0; b0 < n; b0 += reduce_block) {
    const index_t end = std::min(n, b0 + reduce_block);
    double part = 0;
    for (index_t i = b0; i < end; ++i) part += static_cast<double>(p[i * s]);
    acc.add(part);
  }
  return acc.value();
}

template <class T>
double sum_row(const T* p, index_t n, index_t s) { return s == 1 ? sum_contig(p, n) : sum_strided(p, n, s); }

// op-fold (max/min) of a row with n >= 1 elements.
template <class T, class Op>
T fold_row(const T* p, index_t n, index_t s, Op op) {
  if (s != 1) {
    T m = p[0];
    for (index_t i = 1; i < n; ++i) m = op(m, p[i * s]);
    return m;
  }
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  B a0(p[0]), a1(p[0]);
  index_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    a0 = op(a0, simd::load_unaligned<B>(p + i));
    a1 = op(a1, simd::load_unaligned<B>(p + i + W));
  }
  for (; i + W <= n; i += W) a0 = op(a0, simd::load_unaligned<B>(p + i));
  if (i < n) a1 = op(a1, simd::load_partial<B>(p + i, static_cast<std::size_t>(n - i), p[0]));
  alignas(64) T buf[B::size];
  op(a0, a1).store_aligned(buf);
  T m = buf[0];
  for (std::size_t k = 1; k < B::size; ++k) m = op(m, buf[k]);
  return m;
}

// Index of the first extreme (or first NaN) of a row with n >= 1 elements.
template <class T, class Op>
index_t arg_row(const T* p, index_t n, index_t s, Op op) {
  const T m = fold_row(p, n, s, op);
  const bool nan = m != m;
  for (index_t i = 0; i < n; ++i) {
    const T v = p[i * s];
    if (nan ? v != v : v == m) return i;
  }
  return 0;  // unreachable: m is one of the elements
}

// Column reductions: out[j] = reduce over r < R of p[r * s + j] for j < ncols, when the
// columns are adjacent (the reduced axis is not the innermost one). Tiles of K batches.
template <int K, class T>
index_t sum_column_tiles(T* out, const T* p, index_t ncols, index_t R, index_t s, double scale) {
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  index_t j = 0;
  for (; j + K * W <= ncols; j += K * W) {
    double acc[K * W] = {};
    alignas(64) T buf[K * W];
    for (index_t r0 = 0; r0 < R; r0 += reduce_block) {
      const index_t r1 = std::min(R, r0 + reduce_block);
      B a[K];
      for (int k = 0; k < K; ++k) a[k] = B(T(0));
      for (index_t r = r0; r < r1; ++r) {
        const T* row = p + r * s + j;
        for (int k = 0; k < K; ++k) a[k] += simd::load_unaligned<B>(row + k * W);
      }
      for (int k = 0; k < K; ++k) a[k].store_aligned(buf + k * W);
      for (index_t k = 0; k < K * W; ++k) acc[k] += static_cast<double>(buf[k]);
    }
    for (index_t k = 0; k < K * W; ++k) out[j + k] = static_cast<T>(acc[k] * scale);
  }
  return j;
}

template <class T>
void sum_columns(T* out, const T* p, index_t ncols, index_t R, index_t s, double scale) {
  index_t j = sum_column_tiles<4>(out, p, ncols, R, s, scale);
  j += sum_column_tiles<1>(out + j, p + j, ncols - j, R, s, scale);
  for (; j < ncols; ++j) out[j] = static_cast<T>(sum_strided(p + j, R, s) * scale);
}

template <class T, class Op>
void fold_columns(T* out, const T* p, index_t ncols, index_t R, index_t s, Op op) {
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  index_t j = 0;
  for (; j + 2 * W <= ncols; j += 2 * W) {
    B a0 = simd::load_unaligned<B>(p + j), a1 = simd::load_unaligned<B>(p + j + W);
    for (index_t r = 1; r < R; ++r) {
      a0 = op(a0, simd::load_unaligned<B>(p + r * s + j));
      a1 = op(a1, simd::load_unaligned<B>(p + r * s + j + W));
    }
    simd::store_unaligned(out + j, a0);
    simd::store_unaligned(out + j + W, a1);
  }
  for (; j < ncols; ++j) out[j] = fold_row(p + j, R, s, op);
}

// The driver for one-axis reductions. row(p, R, s) returns the result for one output element;
// cols(o, p, ncols, R, s) fills ncols adjacent outputs whose inputs are adjacent columns (or
// is nullptr_t to use row() there too).
template <class To, class T, class Row, class Cols>
status reduce_axis(TensorView<To> out, TensorView<const T> in, int axis, const char* op, bool allow_empty, Row row,
                   Cols cols) {
  TESSERA_TRY(detail::normalize_axis(axis, in.rank(), op));
  const int r = in.rank();
  bool shape_ok = false;
  if (out.rank() == r - 1) {
    shape_ok = true;
    for (int i = 0, k = 0; i < r; ++i)
      if (i != axis) shape_ok = shape_ok && out.dim(k++) == in.dim(i);
  } else if (out.rank() == r) {
    shape_ok = out.dim(axis) == 1;
    for (int i = 0; i < r; ++i)
      if (i != axis) shape_ok = shape_ok && out.dim(i) == in.dim(i);
  }
  if (!shape_ok) {
    const shape_t want = *reduced_shape(in.shape(), axis, false);
    return make_error(errc::shape_mismatch, op_prefix(op) + "output " + out.shape().str() + " does not fit " +
                                                in.shape().str() + " reduced over axis " + std::to_string(axis) +
                                                " (want " + want.str() + " or, keepdims, with a 1 at the axis)");
  }
  TESSERA_TRY(check_output(out, op));
  if (out.size() == 0) return {};
  const index_t R = in.dim(axis);
  if (R == 0 && !allow_empty)
    return make_error(errc::invalid_argument, op_prefix(op) + "reduction over an empty axis of " + in.shape().str());
  Tensor<T> scratch;
  if (may_overlap(out, in)) {
    TESSERA_ASSIGN_OR_RETURN(scratch, Tensor<T>::copy_of(in));
    in = scratch.view();
  }
  const TensorView<To> o_view = out.rank() == r ? drop_axis(out, axis) : out;
  const TensorView<const T> i_view = drop_axis(in, axis);
  const index_t s = in.stride(axis);
  const strides_t* st[2] = {&o_view.strides(), &i_view.strides()};
  const auto l = coalesce<2>(o_view.shape(), st);
  const index_t n = l.inner(), so = l.inner_stride(0), si = l.inner_stride(1);
  To* o = out.data();
  const T* x = in.data();
  for_each_row(l, [&](const index_t* off) {
    To* orow = o + off[0];
    const T* xrow = x + off[1];
    if constexpr (!std::is_same_v<Cols, std::nullptr_t>) {
      if (s != 1 && si == 1 && so == 1 && R > 0) {
        cols(orow, xrow, n, R, s);
        return;
      }
    }
    for (index_t j = 0; j < n; ++j) orow[j * so] = row(xrow + j * si, R, s);
  });
  return {};
}

// The driver for all-axes reductions: visits `in` row by row (after coalescing).
template <class T, class F>
void for_each_input_row(const TensorView<const T>& in, F&& fn) {
  const strides_t* st[1] = {&in.strides()};
  const auto l = coalesce<1>(in.shape(), st);
  const index_t n = l.inner(), s = l.inner_stride(0);
  for_each_row(l, [&](const index_t* off) { fn(in.data() + off[0], n, s); });
}

template <class To, class T>
status check_all_axes(const TensorView<To>& out, const TensorView<const T>& in, const char* op, bool allow_empty) {
  if (out.size() != 1)
    return make_error(errc::shape_mismatch, op_prefix(op) + "an all-axes reduction needs a one-element output, got " +
                                                out.shape().str());
  if (in.size() == 0 && !allow_empty)
    return make_error(errc::invalid_argument, op_prefix(op) + "reduction of an empty tensor " + in.shape().str());
  return {};
}

}  // namespace detail

// ---- one axis --------------------------------------------------------------------------------
template <class T>
status sum(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  return detail::reduce_axis(
      out, in, axis, "sum", true, [](const T* p, index_t n, index_t s) { return static_cast<T>(detail::sum_row(p, n, s)); },
      [](T* o, const T* p, index_t nc, index_t R, index_t s) { detail::sum_columns(o, p, nc, R, s, 1.0); });
}

template <class T>
status mean(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  return detail::reduce_axis(
      out, in, axis, "mean", true,
      [](const T* p, index_t n, index_t s) {
        return n == 0 ? std::numeric_limits<T>::quiet_NaN()
                      : static_cast<T>(detail::sum_row(p, n, s) / static_cast<double>(n));
      },
      [](T* o, const T* p, index_t nc, index_t R, index_t s) {
        detail::sum_columns(o, p, nc, R, s, 1.0 / static_cast<double>(R));
      });
}

template <class T>
status max(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  return detail::reduce_axis(
      out, in, axis, "max", false, [](const T* p, index_t n, index_t s) { return detail::fold_row(p, n, s, detail::max_op{}); },
      [](T* o, const T* p, index_t nc, index_t R, index_t s) { detail::fold_columns(o, p, nc, R, s, detail::max_op{}); });
}

template <class T>
status min(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis) {
  return detail::reduce_axis(
      out, in, axis, "min", false, [](const T* p, index_t n, index_t s) { return detail::fold_row(p, n, s, detail::min_op{}); },
      [](T* o, const T* p, index_t nc, index_t R, index_t s) { detail::fold_columns(o, p, nc, R, s, detail::min_op{}); });
}

template <class T>
status argmax(TensorView<index_t> out, TensorView<T> in_view, int axis) {
  using U = std::remove_const_t<T>;
  const TensorView<const U> in = in_view;
  return detail::reduce_axis(
      out, in, axis, "argmax", false, [](const U* p, index_t n, index_t s) { return detail::arg_row(p, n, s, detail::max_op{}); },
      nullptr);
}

template <class T>
status argmin(TensorView<index_t> out, TensorView<T> in_view, int axis) {
  using U = std::remove_const_t<T>;
  const TensorView<const U> in = in_view;
  return detail::reduce_axis(
      out, in, axis, "argmin", false, [](const U* p, index_t n, index_t s) { return detail::arg_row(p, n, s, detail::min_op{}); },
      nullptr);
}

// ---- all axes ---------------------------------------------------------------------------------
template <class T>
status sum(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  TESSERA_TRY(detail::check_all_axes(out, in, "sum", true));
  detail::wide_sum acc;
  if (in.size() > 0) detail::for_each_input_row(in, [&](const T* p, index_t n, index_t s) { acc.add(detail::sum_row(p, n, s)); });
  *out.data() = static_cast<T>(acc.value());
  return {};
}

template <class T>
status mean(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  TESSERA_TRY(detail::check_all_axes(out, in, "mean", true));
  detail::wide_sum acc;
  if (in.size() > 0) detail::for_each_input_row(in, [&](const T* p, index_t n, index_t s) { acc.add(detail::sum_row(p, n, s)); });
  *out.data() = in.size() == 0 ? std::numeric_limits<T>::quiet_NaN()
                               : static_cast<T>(acc.value() / static_cast<double>(in.size()));
  return {};
}

namespace detail {
template <class T, class Op>
status fold_all(TensorView<T> out, TensorView<const T> in, const char* name, Op op) {
  TESSERA_TRY(check_all_axes(out, in, name, false));
  T m = *in.data();  // size >= 1; in.data() addresses element 0 whatever the strides
  for_each_input_row(in, [&](const T* p, index_t n, index_t s) { m = op(m, fold_row(p, n, s, op)); });
  *out.data() = m;
  return {};
}
template <class T, class Op>
status arg_all(TensorView<index_t> out, TensorView<const T> in, const char* name, Op op) {
  TESSERA_TRY(check_all_axes(out, in, name, false));
  Tensor<T> scratch;
  if (!in.is_contiguous()) {  // flat row-major indices are simplest over a packed copy
    TESSERA_ASSIGN_OR_RETURN(scratch, Tensor<T>::copy_of(in));
    in = scratch.view();
  }
  *out.data() = arg_row(in.data(), in.size(), 1, op);
  return {};
}
}  // namespace detail

template <class T>
status max(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  return detail::fold_all(out, in, "max", detail::max_op{});
}
template <class T>
status min(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {
  return detail::fold_all(out, in, "min", detail::min_op{});
}
template <class T>
status argmax(TensorView<index_t> out, TensorView<T> in) {
  return detail::arg_all(out, TensorView<const std::remove_const_t<T>>(in), "argmax", detail::max_op{});
}
template <class T>
status argmin(TensorView<index_t> out, TensorView<T> in) {
  return detail::arg_all(out, TensorView<const std::remove_const_t<T>>(in), "argmin", detail::min_op{});
}

}  // namespace tessera::kernels
