// softmax and log_softmax along one axis (the last by default).
//
//   kernels::softmax(probs, logits);          // out.shape() == in.shape(); in place allowed
//   kernels::log_softmax(out, in, /*axis=*/0);
//
// Numerically stable: each row is shifted by its maximum first, so exp never overflows
// (softmax([1000, 1000]) is [0.5, 0.5]). Three passes over a packed row: SIMD max, SIMD
// exp(x - max) with the running sum (block partials in T, blocks combined in double, see
// reduce.hpp), then a SIMD scale by 1 / sum; log_softmax writes (x - max) - log(sum).
// Softmax over a middle axis of contiguous rows runs W columns at once (softmax_columns); other
// rows that are not adjacent in memory (transposed views) are gathered into a packed scratch
// row first.
//
// Special values (same as PyTorch): a row holding NaN, +inf, or only -inf becomes all NaN;
// -inf entries in an otherwise finite row get probability 0 (log-probability -inf).
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/elementwise.hpp>
#include <tessera/kernels/reduce.hpp>
#include <tessera/simd/simd.hpp>

#include <cmath>
#include <type_traits>

namespace tessera::kernels {

namespace detail {

// out[i] = exp(in[i] - m), returns sum of out (Store = false: only the sum).
template <bool Store, class T>
double exp_shift_sum(T* out, const T* in, index_t n, T m) {
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  const B mv(m);
  wide_sum acc;
  for (index_t b0 = 0; b0 < n; b0 += reduce_block) {
    const index_t len = std::min(reduce_block, n - b0);
    const T* x = in + b0;
    T* o = out + b0;
    B a0(T(0)), a1(T(0));
    index_t i = 0;
    for (; i + 2 * W <= len; i += 2 * W) {
      const B e0 = simd::exp(simd::load_unaligned<B>(x + i) - mv);
      const B e1 = simd::exp(simd::load_unaligned<B>(x + i + W) - mv);
      if constexpr (Store) {
        simd::store_unaligned(o + i, e0);
        simd::store_unaligned(o + i + W, e1);
      }
      a0 += e0;
      a1 += e1;
    }
    for (; i + W <= len; i += W) {
      const B e = simd::exp(simd::load_unaligned<B>(x + i) - mv);
      if constexpr (Store) simd::store_unaligned(o + i, e);
      a0 += e;
    }
    double part = static_cast<double>(simd::reduce_add(a0 + a1));
    if (i < len) {
      const std::size_t rest = static_cast<std::size_t>(len - i);
      alignas(64) T buf[B::size];
      simd::exp(simd::load_partial<B>(x + i, rest) - mv).store_aligned(buf);
      for (std::size_t k = 0; k < rest; ++k) {
        if constexpr (Store) o[i + static_cast<index_t>(k)] = buf[k];
        part += static_cast<double>(buf[k]);
      }
    }
    acc.add(part);
  }
  return acc.value();
}

template <class T>
void softmax_row(T* out, const T* in, index_t n) {
  const T m = fold_row(in, n, 1, max_op{});
  const double sum = exp_shift_sum<true>(out, in, n, m);
  const T scale = static_cast<T>(1.0 / sum);
  using B = simd::batch<T>;
  simd::transform(out, out, static_cast<std::size_t>(n), [scale](const B& v) { return v * B(scale); });
}

template <class T>
void log_softmax_row(T* out, const T* in, index_t n) {
  const T m = fold_row(in, n, 1, max_op{});
  const double sum = exp_shift_sum<false>(out, in, n, m);
  const T log_sum = static_cast<T>(std::log(sum));
  using B = simd::batch<T>;
  simd::transform(out, in, static_cast<std::size_t>(n), [m, log_sum](const B& v) { return (v - B(m)) - B(log_sum); });
}

// Softmax across rows: `width` (<= W) columns of `rows` rows, rows `si` (in) and `so` (out)
// elements apart; every lane is one softmax, with the row path's arithmetic (shift by the
// NaN-propagating max, exp sums in T per reduce_block and in double across blocks, one scale
// by 1 / sum). Lanes past `width` are neither read nor written.
template <bool Log, class T>
void softmax_columns(T* out, index_t so, const T* in, index_t si, index_t rows, std::size_t width) {
  using B = simd::batch<T>;
  constexpr std::size_t W = B::size;
  const auto load = [width](const T* p) { return width == W ? simd::load_unaligned<B>(p) : simd::load_partial<B>(p, width); };
  const auto store = [width](T* p, const B& v) { width == W ? simd::store_unaligned(p, v) : simd::store_partial(p, v, width); };
  B m = load(in);
  for (index_t k = 1; k < rows; ++k) m = lanes::max(m, load(in + k * si));
  double sum[W] = {};
  alignas(64) T part[W];
  for (index_t b0 = 0; b0 < rows; b0 += reduce_block) {
    B acc(T(0));
    for (index_t k = b0; k < std::min(rows, b0 + reduce_block); ++k) {
      const B e = simd::exp(load(in + k * si) - m);
      if constexpr (!Log) store(out + k * so, e);
      acc += e;
    }
    acc.store_aligned(part);
    for (std::size_t l = 0; l < W; ++l) sum[l] += static_cast<double>(part[l]);
  }
  for (std::size_t l = 0; l < W; ++l) part[l] = static_cast<T>(Log ? std::log(sum[l]) : 1.0 / sum[l]);
  const B f = simd::load_aligned<B>(part);
  for (index_t k = 0; k < rows; ++k) {
    if constexpr (Log) store(out + k * so, (load(in + k * si) - m) - f);
    else store(out + k * so, load(out + k * so) * f);
  }
}

template <bool Log, class T>
status softmax_like(TensorView<T> out, TensorView<const T> in, int axis, const char* op) {
  static_assert(std::is_floating_point_v<T>, "softmax takes float or double views");
  if (out.shape() != in.shape())
    return make_error(errc::shape_mismatch, op_prefix(op) + "output " + out.shape().str() + " != input " + in.shape().str());
  TESSERA_TRY(normalize_axis(axis, in.rank(), op));
  TESSERA_TRY(check_output(out, op));
  if (out.size() == 0) return {};
  const auto row = [](T* o, const T* x, index_t n) {
    if constexpr (Log) log_softmax_row(o, x, n);
    else softmax_row(o, x, n);
  };
  // Softmax over a middle axis of contiguous data (a detector's DFL head: [1, 16, 4, 8400]
  // over axis 1) runs down columns of the rows behind it, W softmaxes per vector, instead of
  // gathering each strided row of 16 into scratch.
  constexpr index_t W = static_cast<index_t>(simd::batch<T>::size);
  const index_t n = in.dim(axis);
  if (n > 1 && in.stride(axis) != 1 && out.stride(axis) != 1 && (!may_overlap(out, in) || same_elements(out, in))) {
    const TensorView<T> o_rows = drop_axis(out, axis);
    const TensorView<const T> i_rows = drop_axis(in, axis);
    const strides_t* st[2] = {&o_rows.strides(), &i_rows.strides()};
    const auto l = coalesce<2>(o_rows.shape(), st);
    if (l.inner_stride(0) == 1 && l.inner_stride(1) == 1) {
      const index_t cols = l.inner(), so = out.stride(axis), si = in.stride(axis);
      T* o = out.data();
      const T* x = in.data();
      for_each_row(l, [&](const index_t* off) {
        for (index_t j = 0; j < cols; j += W)
          softmax_columns<Log>(o + off[0] + j, so, x + off[1] + j, si, n, static_cast<std::size_t>(std::min(W, cols - j)));
      });
      return {};
    }
  }
  return for_each_packed_row(out, in, axis, row);
}

}  // namespace detail

template <class T>
status softmax(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis = -1) {
  return detail::softmax_like<false>(out, in, axis, "softmax");
}

template <class T>
status log_softmax(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, int axis = -1) {
  return detail::softmax_like<true>(out, in, axis, "log_softmax");
}

}  // namespace tessera::kernels
