// Machinery shared by the element-wise kernel families (unary.hpp, binary.hpp) and the
// row-wise ones (reduce, softmax, norm):
//
//  - the lane helpers of lanes.hpp (one functor body for scalars and batches);
//  - the n-d walk: operands that share one shape (inputs already broadcast, stride 0 where
//    stretched) are "coalesced" (extent-1 axes dropped, adjacent axes merged where every
//    operand is linear across them), then visited one innermost row at a time, so a kernel
//    only has to handle a 1-d row with per-operand strides;
//  - overlap checks: NumPy semantics for in/out aliasing (an output that is exactly an input
//    is fine; any other overlap makes the kernel read from a private copy of that input).
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/lanes.hpp>
#include <tessera/simd/simd.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace tessera::kernels {

namespace detail {

// Operands (N of them) of one common shape, after dropping extent-1 axes and merging
// neighbours that are linear in every operand. Rank 0 means a single element.
template <int N>
struct nd_layout {
  int rank = 0;
  index_t shape[TESSERA_MAX_RANK] = {};
  index_t strides[N][TESSERA_MAX_RANK] = {};

  index_t inner() const { return rank ? shape[rank - 1] : 1; }
  index_t inner_stride(int k) const { return rank ? strides[k][rank - 1] : 0; }
};

template <int N>
nd_layout<N> coalesce(const shape_t& shape, const strides_t* const (&st)[N]) {
  nd_layout<N> l;
  for (int i = 0; i < shape.rank(); ++i) {
    if (shape[i] == 1) continue;
    if (l.rank > 0) {
      const int p = l.rank - 1;
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && l.strides[k][p] == (*st[k])[i] * shape[i];
      if (merge) {
        l.shape[p] *= shape[i];
        for (int k = 0; k < N; ++k) l.strides[k][p] = (*st[k])[i];
        continue;
      }
    }
    l.shape[l.rank] = shape[i];
    for (int k = 0; k < N; ++k) l.strides[k][l.rank] = (*st[k])[i];
    ++l.rank;
  }
  return l;
}

// Calls fn(const index_t* offsets) once per innermost row (offsets of the row's first
// element in each operand); the row has l.inner() elements with strides l.inner_stride(k).
template <int N, class F>
void for_each_row(const nd_layout<N>& l, F&& fn) {
  index_t off[N] = {};
  if (l.rank <= 1) { fn(static_cast<const index_t*>(off)); return; }
  index_t idx[TESSERA_MAX_RANK] = {};
  for (;;) {
    fn(static_cast<const index_t*>(off));
    int ax = l.rank - 2;
    for (; ax >= 0; --ax) {
      for (int k = 0; k < N; ++k) off[k] += l.strides[k][ax];
      if (++idx[ax] < l.shape[ax]) break;
      for (int k = 0; k < N; ++k) off[k] -= idx[ax] * l.strides[k][ax];
      idx[ax] = 0;
    }
    if (ax < 0) return;
  }
}

// [lo, hi) address range spanned by a view's elements.
template <class T>
void byte_range(const TensorView<T>& v, std::uintptr_t& lo, std::uintptr_t& hi) {
  index_t mn = 0, mx = 0;
  for (int i = 0; i < v.rank(); ++i) {
    const index_t span = (v.dim(i) - 1) * v.stride(i);
    if (span < 0) mn += span;
    else mx += span;
  }
  const auto base = reinterpret_cast<std::uintptr_t>(v.data());
  const auto sz = static_cast<std::intptr_t>(sizeof(T));
  lo = base + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(mn) * sz);
  hi = base + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(mx + 1) * sz);
}

template <class T, class U>
bool may_overlap(const TensorView<T>& a, const TensorView<U>& b) {
  if (a.size() == 0 || b.size() == 0) return false;
  std::uintptr_t alo, ahi, blo, bhi;
  byte_range(a, alo, ahi);
  byte_range(b, blo, bhi);
  return alo < bhi && blo < ahi;
}

// True when `in` (already broadcast to out's shape) addresses exactly out's elements, element
// for element: reading in[i] then writing out[i] is then safe in any order.
template <class T, class U>
bool same_elements(const TensorView<T>& out, const TensorView<U>& in) {
  if (sizeof(T) != sizeof(U)) return false;
  if (static_cast<const void*>(out.data()) != static_cast<const void*>(in.data()) || out.shape() != in.shape()) return false;
  for (int i = 0; i < out.rank(); ++i)
    if (out.dim(i) != 1 && out.stride(i) != in.stride(i)) return false;
  return true;
}

// An output must not write one element twice: no zero stride on an axis longer than 1.
template <class T>
status check_output(const TensorView<T>& out, const char* op) {
  for (int i = 0; i < out.rank(); ++i)
    if (out.dim(i) > 1 && out.stride(i) == 0)
      return make_error(errc::invalid_argument, std::string(op) + ": output " + out.shape().str() +
                                                    " has a zero (broadcast) stride on axis " + std::to_string(i));
  return {};
}

// If `in` overlaps `out` other than element-for-element, copies it into `scratch` and points
// `in` there (NumPy's rule: the result is as if all inputs were read before any write).
template <class T>
status unalias(const TensorView<T>& out, TensorView<const T>& in, Tensor<T>& scratch) {
  if (!may_overlap(out, in) || same_elements(out, in)) return {};
  const shape_t target = in.shape();
  // Copy only the distinct elements: strip stride-0 axes first, re-broadcast afterwards.
  shape_t compact = target;
  for (int i = 0; i < compact.rank(); ++i)
    if (in.stride(i) == 0) compact[i] = 1;
  TensorView<const T> distinct(in.data(), compact, in.strides());
  TESSERA_ASSIGN_OR_RETURN(scratch, Tensor<T>::copy_of(distinct));
  TESSERA_ASSIGN_OR_RETURN(in, TensorView<const T>(scratch.view()).broadcast_to(target));
  return {};
}

inline std::string op_prefix(const char* op) { return std::string(op) + ": "; }

inline status normalize_axis(int& axis, int rank, const char* op) {
  if (axis < -rank || axis >= rank || rank == 0)
    return make_error(errc::invalid_argument, op_prefix(op) + "axis " + std::to_string(axis) + " out of range for rank " +
                                                  std::to_string(rank));
  if (axis < 0) axis += rank;
  return {};
}

// A view without one axis (used to walk every row along `axis`).
template <class T>
TensorView<T> drop_axis(const TensorView<T>& v, int axis) {
  shape_t s;
  strides_t st;
  for (int i = 0; i < v.rank(); ++i)
    if (i != axis) { s.push_back(v.dim(i)); st.push_back(v.stride(i)); }
  return TensorView<T>(v.data(), s, st);
}

// Neumaier-compensated summation in double: block partial sums (each computed in T over
// at most a few thousand elements) are combined here, so long rows lose no accuracy to a
// running total that has outgrown its terms. Inf/NaN propagate as in a plain sum.
struct wide_sum {
  double s = 0, c = 0;
  TESSERA_ALWAYS_INLINE void add(double x) {
    const double t = s + x;
    if (t - t == 0) {  // finite: keep the lost low-order bits
      if ((s < 0 ? -s : s) >= (x < 0 ? -x : x)) c += (s - t) + x;
      else c += (x - t) + s;
    }
    s = t;
  }
  double value() const { return s + c; }
};


// Calls fn(out_row, in_row, n) for every row along `axis` of two views of one (validated,
// non-empty) shape. Rows adjacent in both views are passed where they are; other rows are
// gathered into a packed scratch row, transformed there in place (out_row == in_row) and
// scattered back, so fn only ever sees packed rows and must accept out_row == in_row.
template <class T, class F>
status for_each_packed_row(const TensorView<T>& out, TensorView<const T> in, int axis, F&& fn) {
  Tensor<T> copy;
  TESSERA_TRY(unalias(out, in, copy));
  const index_t n = in.dim(axis), so = out.stride(axis), si = in.stride(axis);
  const bool packed = (so == 1 && si == 1) || n == 1;
  // The scratch row comes from the thread's arena (core/arena.hpp): a repeated call makes
  // no heap allocation.
  arena& a = thread_arena();
  const arena_scope scope(a);
  T* row = nullptr;
  if (!packed) {
    TESSERA_ASSIGN_OR_RETURN(row, a.allocate<T>(static_cast<std::size_t>(n)));
  }
  const TensorView<T> o_rows = drop_axis(out, axis);
  const TensorView<const T> i_rows = drop_axis(in, axis);
  const strides_t* st[2] = {&o_rows.strides(), &i_rows.strides()};
  const auto l = coalesce<2>(o_rows.shape(), st);
  const index_t m = l.inner(), os = l.inner_stride(0), is = l.inner_stride(1);
  T* o = out.data();
  const T* x = in.data();
  for_each_row(l, [&](const index_t* off) {
    for (index_t j = 0; j < m; ++j) {
      T* orow = o + off[0] + j * os;
      const T* xrow = x + off[1] + j * is;
      if (packed) {
        fn(orow, xrow, n);
      } else {
        T* buf = row;
        for (index_t k = 0; k < n; ++k) buf[k] = xrow[k * si];
        fn(buf, static_cast<const T*>(buf), n);
        for (index_t k = 0; k < n; ++k) orow[k * so] = buf[k];
      }
    }
  });
  return {};
}

}  // namespace detail
}  // namespace tessera::kernels
