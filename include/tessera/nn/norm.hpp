// Normalization layers: per-channel affine (inference BatchNormalization), LayerNormalization
// over trailing axes, InstanceNormalization and local response normalization (LRN), on
// kernels/norm.hpp and the binary kernels.
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/norm.hpp>
#include <tessera/kernels/reduce.hpp>
#include <tessera/nn/elementwise.hpp>
#include <tessera/nn/tensor.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::nn {

// BatchNormalization (inference) as y = x * scale[c] + shift[c], with
// scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
inline status batch_norm_coefficients(std::vector<float>& scale, std::vector<float>& shift, const float* gamma,
                                      const float* beta, const float* mean, const float* var, std::size_t C, double eps) {
  scale.resize(C);
  shift.resize(C);
  for (std::size_t c = 0; c < C; ++c) {
    const double s = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>(static_cast<double>(beta[c]) - static_cast<double>(mean[c]) * s);
  }
  return {};
}

// out = in * scale[c] + shift[c] along axis 1 (any layout: views with strides). float32.
inline status channel_affine(const any_view& out, const any_view& in, const float* scale, const float* shift) {
  if (in.rank() < 2) return make_error(errc::shape_mismatch, "channel_affine: input " + in.shape.str() + " has no channel axis");
  shape_t cs = dims::filled(in.rank(), 1);
  cs[1] = in.shape[1];
  const any_view sv(const_cast<float*>(scale), elem_type::f32, cs), tv(const_cast<float*>(shift), elem_type::f32, cs);
  TESSERA_TRY(binary(out, in, sv, binary_op::mul));
  return binary(out, out, tv, binary_op::add);
}

// LayerNormalization over axes [axis, rank): y = (x - mean) / sqrt(var + eps) * gamma + beta,
// x and out contiguous. gamma/beta hold the normalized extent's elements (already
// broadcast). mean/inv_std (one per row, or null) receive the statistics.
inline status layer_norm(float* out, const float* in, std::size_t rows, std::size_t cols, const float* gamma,
                         const float* beta, double eps, float* mean, float* inv_std) {
  const index_t R = static_cast<index_t>(rows), K = static_cast<index_t>(cols);
  TESSERA_TRY(kernels::layer_norm(TensorView<float>(out, {R, K}), TensorView<const float>(in, {R, K}),
                                  TensorView<const float>(gamma, {K}), TensorView<const float>(beta, {K}), eps));
  if (mean || inv_std) {  // the optional outputs (training graphs export them): double sums
    for (std::size_t r = 0; r < rows; ++r) {
      const float* x = in + r * cols;
      double m = 0, v = 0;
      for (std::size_t i = 0; i < cols; ++i) m += x[i];
      m /= static_cast<double>(cols);
      for (std::size_t i = 0; i < cols; ++i) v += (x[i] - m) * (x[i] - m);
      v /= static_cast<double>(cols);
      if (mean) mean[r] = static_cast<float>(m);
      if (inv_std) inv_std[r] = static_cast<float>(1.0 / std::sqrt(v + eps));
    }
  }
  return {};
}

// InstanceNormalization of a contiguous [N, C, S...]: every (n, c) row normalized over S,
// then scaled and shifted per channel.
inline status instance_norm(float* out, const float* in, const shape_t& shape, const float* scale, const float* bias,
                            double eps, arena& scratch) {
  if (shape.rank() < 3) return make_error(errc::shape_mismatch, "instance_norm: input " + shape.str() + " needs rank >= 3");
  const std::size_t N = static_cast<std::size_t>(shape[0]), C = static_cast<std::size_t>(shape[1]);
  const std::size_t S = static_cast<std::size_t>(numel(shape)) / std::max<std::size_t>(1, N * C);
  if (N * C * S == 0) return {};
  const arena_scope scope(scratch);
  TESSERA_ASSIGN_OR_RETURN(float* ones, scratch.allocate<float>(S));
  TESSERA_ASSIGN_OR_RETURN(float* zeros, scratch.allocate<float>(S));
  std::fill(ones, ones + S, 1.0f);
  std::fill(zeros, zeros + S, 0.0f);
  TESSERA_TRY(layer_norm(out, in, N * C, S, ones, zeros, eps, nullptr, nullptr));
  const any_view o(out, elem_type::f32, shape);
  return channel_affine(o, o, scale, bias);
}

// LRN across channels of a contiguous [N, C, S...]:
// y = x / (bias + alpha / size * sum of x^2 over channels [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
inline status lrn(float* out, const float* in, const shape_t& shape, std::int64_t size, float alpha, float beta, float bias) {
  if (shape.rank() < 2) return make_error(errc::shape_mismatch, "lrn: input " + shape.str() + " needs rank >= 2");
  if (size < 1) return make_error(errc::invalid_argument, "lrn: size must be >= 1");
  const std::int64_t N = shape[0], C = shape[1];
  const std::size_t S = N * C == 0 ? 0 : static_cast<std::size_t>(numel(shape) / (N * C));
  const std::int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  const double k = static_cast<double>(alpha) / static_cast<double>(size);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c) {
      const float* x = in + static_cast<std::size_t>(n * C + c) * S;
      float* y = out + static_cast<std::size_t>(n * C + c) * S;
      for (std::size_t i = 0; i < S; ++i) {
        double sq = 0;
        for (std::int64_t j = std::max<std::int64_t>(0, c - lo); j <= std::min(C - 1, c + hi); ++j) {
          const double v = in[static_cast<std::size_t>(n * C + j) * S + i];
          sq += v * v;
        }
        y[i] = static_cast<float>(x[i] / std::pow(static_cast<double>(bias) + k * sq, static_cast<double>(beta)));
      }
    }
  return {};
}

}  // namespace tessera::nn
