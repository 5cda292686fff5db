// Reductions over several axes (ReduceSum, ReduceMean, ReduceMax, ...) and softmax, on
// kernels/reduce.hpp and kernels/softmax.hpp (float32, contiguous input).
//
// A multi-axis reduction first merges runs of adjacent reduced axes (a contiguous tensor
// reshapes for free), then reduces one axis at a time, innermost first, through scratch
// buffers: sum, max and min compose exactly; mean over equal-sized groups is the mean of
// means. The ops without a kernel (prod, l1, l2, sum_square, log_sum, log_sum_exp) map the
// input first (square, abs, exp, ...) and the sum after (sqrt, log).
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/reduce.hpp>
#include <tessera/kernels/softmax.hpp>
#include <tessera/kernels/unary.hpp>
#include <tessera/nn/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace tessera::nn {

enum class reduce_op : std::uint8_t { sum, mean, max, min, prod, l1, l2, sum_square, log_sum, log_sum_exp };

// The output shape: reduced axes dropped, or kept with extent 1.
inline shape_t reduced_shape(const shape_t& in, const bool* reduce_axis, bool keepdims) {
  shape_t out;
  for (int i = 0; i < in.rank(); ++i) {
    if (!reduce_axis[i]) out.push_back(in[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

namespace detail {

inline status reduce_one_axis(reduce_op op, float* out, const float* in, const shape_t& s, int axis) {
  const TensorView<const float> x(in, s);
  shape_t os = s;
  os[axis] = 1;
  const TensorView<float> y(out, os);
  switch (op) {
    case reduce_op::max: return kernels::max(y, x, axis);
    case reduce_op::min: return kernels::min(y, x, axis);
    case reduce_op::mean: return kernels::mean(y, x, axis);
    default: return kernels::sum(y, x, axis);
  }
}

}  // namespace detail

// out = op over the axes flagged in reduce_axis of a contiguous float32 `in` of shape s.
// out holds numel(reduced shape) floats. Temporaries come from `scratch`.
inline status reduce(reduce_op op, float* out, const float* in, const shape_t& s, const bool* reduce_axis, arena& scratch) {
  // Merge adjacent axes: kept runs and reduced runs.
  shape_t m;
  bool mred[TESSERA_MAX_RANK] = {};
  for (int i = 0; i < s.rank(); ++i) {
    if (s[i] == 1) continue;  // extent 1: reducing it or not is the same
    if (m.rank() > 0 && mred[m.rank() - 1] == reduce_axis[i]) {
      m[m.rank() - 1] *= s[i];
    } else {
      mred[m.rank()] = reduce_axis[i];
      m.push_back(s[i]);
    }
  }
  const index_t n_out = [&] {
    index_t n = 1;
    for (int i = 0; i < m.rank(); ++i)
      if (!mred[i]) n *= m[i];
    return n;
  }();
  const index_t n_in = numel(m);
  const arena_scope scope(scratch);
  const float* src = in;
  // Map the input first where the op needs it.
  if (op == reduce_op::l1 || op == reduce_op::l2 || op == reduce_op::sum_square || op == reduce_op::log_sum_exp ||
      op == reduce_op::prod) {
    TESSERA_ASSIGN_OR_RETURN(float* mapped, scratch.allocate<float>(static_cast<std::size_t>(std::max<index_t>(n_in, 1))));
    const TensorView<float> mv(mapped, {n_in});
    const TensorView<const float> iv(in, {n_in});
    if (op == reduce_op::l1) TESSERA_TRY(kernels::abs(mv, iv));
    else if (op == reduce_op::l2 || op == reduce_op::sum_square) TESSERA_TRY(kernels::square(mv, iv));
    else if (op == reduce_op::log_sum_exp) TESSERA_TRY(kernels::exp(mv, iv));
    else std::memcpy(mapped, in, static_cast<std::size_t>(n_in) * sizeof(float));
    src = mapped;
  }
  if (n_in == 0 || n_out == 0) {
    // Empty reductions: the identity of the op (sum 0, max -inf, ...), NaN for the mean.
    float v = 0;
    if (op == reduce_op::max) v = -std::numeric_limits<float>::infinity();
    else if (op == reduce_op::min) v = std::numeric_limits<float>::infinity();
    else if (op == reduce_op::prod) v = 1;
    else if (op == reduce_op::mean) v = std::numeric_limits<float>::quiet_NaN();
    else if (op == reduce_op::log_sum || op == reduce_op::log_sum_exp) v = -std::numeric_limits<float>::infinity();
    std::fill(out, out + n_out, v);
    return {};
  }
  const reduce_op kernel_op = op == reduce_op::max || op == reduce_op::min || op == reduce_op::mean ? op : reduce_op::sum;
  shape_t cur = m;
  bool any = false;
  for (int a = m.rank() - 1; a >= 0; --a) {
    if (!mred[a]) continue;
    // Is this the last reduced axis to process (the outermost)? Then write into out.
    bool last = true;
    for (int b = a - 1; b >= 0; --b) last = last && !mred[b];
    float* dst = out;
    if (!last) {
      shape_t next = cur;
      next[a] = 1;
      TESSERA_ASSIGN_OR_RETURN(dst, scratch.allocate<float>(static_cast<std::size_t>(numel(next))));
    }
    if (op == reduce_op::prod) {  // no kernel: a scalar product along the axis
      index_t outer = 1, inner = 1;
      for (int i = 0; i < a; ++i) outer *= cur[i];
      for (int i = a + 1; i < cur.rank(); ++i) inner *= cur[i];
      for (index_t o = 0; o < outer; ++o)
        for (index_t j = 0; j < inner; ++j) {
          double p = 1;
          for (index_t k = 0; k < cur[a]; ++k) p *= src[(o * cur[a] + k) * inner + j];
          dst[o * inner + j] = static_cast<float>(p);
        }
    } else {
      TESSERA_TRY(detail::reduce_one_axis(kernel_op, dst, src, cur, a));
    }
    cur[a] = 1;
    src = dst;
    any = true;
  }
  if (!any) std::memcpy(out, src, static_cast<std::size_t>(n_out) * sizeof(float));
  const TensorView<float> ov(out, {n_out});
  if (op == reduce_op::l2) TESSERA_TRY(kernels::sqrt(ov, ov));
  if (op == reduce_op::log_sum || op == reduce_op::log_sum_exp) TESSERA_TRY(kernels::log(ov, ov));
  return {};
}

// softmax / log_softmax of a contiguous float32 tensor along `axis`; with `coerce_2d`
// (opset < 13) over all the axes from `axis` on (the tensor as [prod(:axis), prod(axis:)]).
inline status softmax(bool log, float* out, const float* in, const shape_t& s, int axis, bool coerce_2d) {
  if (axis < 0) axis += s.rank();
  if (axis < 0 || axis >= std::max(1, s.rank()))
    return make_error(errc::invalid_argument, "softmax: axis out of range for " + s.str());
  if (numel(s) == 0) return {};
  if (s.rank() == 0) {
    out[0] = log ? 0.0f : 1.0f;
    return {};
  }
  if (coerce_2d) {
    index_t rows = 1, cols = 1;
    for (int i = 0; i < axis; ++i) rows *= s[i];
    for (int i = axis; i < s.rank(); ++i) cols *= s[i];
    const TensorView<float> o(out, {rows, cols});
    const TensorView<const float> x(in, {rows, cols});
    return log ? kernels::log_softmax(o, x, 1) : kernels::softmax(o, x, 1);
  }
  const TensorView<float> o(out, s);
  const TensorView<const float> x(in, s);
  return log ? kernels::log_softmax(o, x, axis) : kernels::softmax(o, x, axis);
}

}  // namespace tessera::nn
