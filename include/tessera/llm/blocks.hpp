// Row-wise blocks of a transformer layer over packed f32 rows (a batch of tokens, one row
// each), built on the kernels: RMSNorm and LayerNorm (kernels/norm.hpp), gated feed-forward
// activations (SwiGLU: silu(gate) * up, GeGLU: gelu_tanh(gate) * up; kernels/activation.hpp),
// bias and residual adds, and linear layers on quantized weights (kernels/quant.hpp).
//
//   llm::rms_norm_rows(out, x, rows, dim, gamma, eps);
//   llm::linear(y, rows, W, x, bias, pool, scratch);     // y[rows, W.rows] = x W^T + bias
//   llm::gated_activation(out, gate, up, rows * hidden, llm::ffn_activation::silu);
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/norm.hpp>
#include <tessera/kernels/quant.hpp>
#include <tessera/llm/config.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <cstddef>

namespace tessera::llm {

inline status rms_norm_rows(float* out, const float* x, std::size_t rows, std::size_t n, const float* gamma, float eps) {
  const shape_t shape{static_cast<index_t>(rows), static_cast<index_t>(n)};
  return kernels::rms_norm<float>(TensorView<float>(out, shape), TensorView<const float>(x, shape),
                                  TensorView<const float>(gamma, shape_t{static_cast<index_t>(n)}), eps);
}

inline status layer_norm_rows(float* out, const float* x, std::size_t rows, std::size_t n, const float* gamma, const float* beta, float eps) {
  const shape_t shape{static_cast<index_t>(rows), static_cast<index_t>(n)};
  const shape_t param{static_cast<index_t>(n)};
  return kernels::layer_norm<float>(TensorView<float>(out, shape), TensorView<const float>(x, shape), TensorView<const float>(gamma, param),
                                    TensorView<const float>(beta, param), eps);
}

// out[i] = act(gate[i]) * up[i]; out may alias gate or up.
inline void gated_activation(float* out, const float* gate, const float* up, std::size_t n, ffn_activation act) {
  using B = simd::batch<float>;
  const auto run = [&](auto fn) {
    std::size_t i = 0;
    for (; i + B::size <= n; i += B::size)
      simd::store_unaligned(out + i, fn(simd::load_unaligned<B>(gate + i)) * simd::load_unaligned<B>(up + i));
    if (i < n) {
      const std::size_t rest = n - i;
      simd::store_partial(out + i, fn(simd::load_partial<B>(gate + i, rest)) * simd::load_partial<B>(up + i, rest), rest);
    }
  };
  if (act == ffn_activation::silu) run(kernels::silu_fn{});
  else run(kernels::gelu_tanh_fn{});
}

// y[i] += x[i] for n values.
inline void add_rows(float* y, const float* x, std::size_t n) {
  using B = simd::batch<float>;
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) simd::store_unaligned(y + i, simd::load_unaligned<B>(y + i) + simd::load_unaligned<B>(x + i));
  for (; i < n; ++i) y[i] += x[i];
}

// y[rows, W.rows] (row stride ldy) = x[rows, W.cols] W^T (+ bias per row).
inline status linear(float* y, std::size_t ldy, std::size_t rows, const kernels::quant_matrix& W, const float* x, const float* bias,
                     runtime::thread_pool* pool, arena* scratch, kernels::quant_matmul how = kernels::quant_matmul::integer) {
  TESSERA_TRY(kernels::matmul(y, ldy, W, x, W.cols, rows, pool, scratch, how));
  if (bias)
    for (std::size_t r = 0; r < rows; ++r) add_rows(y + r * ldy, bias, W.rows);
  return {};
}

}  // namespace tessera::llm
