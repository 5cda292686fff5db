// Fully connected layers over kernels/gemm.hpp: `linear` (weights packed once: Gemm with a
// constant B, MatMul by a constant matrix) and `matmul` (NumPy matmul of two runtime
// tensors: batched, broadcasting, 1-D operands promoted).
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace tessera::nn {

// y[M, N] = act(x[M, K] * alpha W + bias + residual), W packed at load.
class linear {
 public:
  // w: K x N (trans == no) or N x K (trans == yes); bias: N values or null.
  static expected<linear> create(std::size_t K, std::size_t N, const float* w, kernels::transpose trans, const float* bias,
                                 float alpha = 1.0f) {
    linear l;
    if (alpha == 1.0f) {
      TESSERA_ASSIGN_OR_RETURN(l.packed_, kernels::packed_b_f32::pack(K, N, w, static_cast<std::ptrdiff_t>(trans == kernels::transpose::no ? N : K), trans));
    } else {  // alpha folded into the weights
      aligned_buffer<float> scaled;
      TESSERA_TRY(scaled.allocate(K * N, first_touch::now));
      for (std::size_t i = 0; i < K * N; ++i) scaled[i] = alpha * w[i];
      TESSERA_ASSIGN_OR_RETURN(l.packed_, kernels::packed_b_f32::pack(K, N, scaled.data(), static_cast<std::ptrdiff_t>(trans == kernels::transpose::no ? N : K), trans));
    }
    if (bias) {
      TESSERA_TRY(l.bias_.allocate(N));
      std::memcpy(l.bias_.data(), bias, N * sizeof(float));
    }
    return l;
  }

  std::size_t in_features() const noexcept { return packed_.rows(); }
  std::size_t out_features() const noexcept { return packed_.cols(); }
  void set_activation(kernels::activation a, float lo = -INFINITY, float hi = INFINITY) {
    act_ = a;
    lo_ = lo;
    hi_ = hi;
  }
  kernels::activation activation() const noexcept { return act_; }

  // y [M, N] (leading dimension N) from x [M, K] (leading dimension K). residual: M x N or null.
  status forward(float* y, const float* x, std::size_t M, const float* residual, runtime::thread_pool* pool) const {
    kernels::epilogue ep;
    ep.bias = bias_.size() ? bias_.data() : nullptr;
    ep.residual = residual;
    ep.ld_residual = static_cast<std::ptrdiff_t>(out_features());
    ep.act = act_;
    ep.clip_min = lo_;
    ep.clip_max = hi_;
    return kernels::gemm_f32(M, x, static_cast<std::ptrdiff_t>(in_features()), packed_, y,
                             static_cast<std::ptrdiff_t>(out_features()), ep, pool);
  }

 private:
  kernels::packed_b_f32 packed_;
  aligned_buffer<float> bias_;
  kernels::activation act_ = kernels::activation::none;
  float lo_ = -INFINITY, hi_ = INFINITY;
};

// Shape of NumPy matmul(a, b): 1-D a is [1, K] (the 1 dropped), 1-D b is [K, 1] (dropped),
// batch dims broadcast.
inline expected<shape_t> matmul_shape(const shape_t& a, const shape_t& b) {
  if (a.rank() < 1 || b.rank() < 1) return make_error(errc::shape_mismatch, "matmul: operands must have rank >= 1");
  const index_t K = a[a.rank() - 1];
  const index_t Kb = b.rank() == 1 ? b[0] : b[b.rank() - 2];
  if (K != Kb) return make_error(errc::shape_mismatch, "matmul: " + a.str() + " x " + b.str() + ": inner extents differ");
  shape_t ba, bb;
  for (int i = 0; i + 2 < a.rank(); ++i) ba.push_back(a[i]);
  for (int i = 0; i + 2 < b.rank(); ++i) bb.push_back(b[i]);
  TESSERA_ASSIGN_OR_RETURN(shape_t out, broadcast_shapes(ba, bb));
  if (a.rank() >= 2) out.push_back(a[a.rank() - 2]);
  if (b.rank() >= 2) out.push_back(b[b.rank() - 1]);
  TESSERA_TRY(checked_numel(out));
  return out;
}

// out = matmul(a, b), float32, every view contiguous.
inline status matmul(const any_view& out, const any_view& a, const any_view& b, runtime::thread_pool* pool) {
  if (a.type != elem_type::f32 || b.type != elem_type::f32 || out.type != elem_type::f32)
    return make_error(errc::unsupported, "matmul: float32 only");
  TESSERA_ASSIGN_OR_RETURN(const shape_t want, matmul_shape(a.shape, b.shape));
  if (want != out.shape) return make_error(errc::shape_mismatch, "matmul: output " + out.shape.str() + " != " + want.str());
  if (!a.is_contiguous() || !b.is_contiguous() || !out.is_contiguous())
    return make_error(errc::invalid_argument, "matmul: operands must be contiguous");
  const std::size_t M = a.rank() >= 2 ? static_cast<std::size_t>(a.shape[a.rank() - 2]) : 1;
  const std::size_t K = static_cast<std::size_t>(a.shape[a.rank() - 1]);
  const std::size_t N = b.rank() >= 2 ? static_cast<std::size_t>(b.shape[b.rank() - 1]) : 1;
  // Batch index -> offsets in a and b through the broadcast batch shape.
  shape_t batch, sa, sb;
  const int rb = want.rank() - (a.rank() >= 2) - (b.rank() >= 2);
  for (int i = 0; i < rb; ++i) batch.push_back(want[i]);
  auto batch_strides = [&](const shape_t& s, std::size_t mat) {
    shape_t st = dims::filled(rb, 0);
    const int r = s.rank() - 2;
    std::size_t acc = mat;
    for (int i = r - 1; i >= 0; --i) {
      const int j = rb - r + i;
      st[j] = s[i] == 1 ? 0 : static_cast<index_t>(acc);
      acc *= static_cast<std::size_t>(s[i]);
    }
    return st;
  };
  sa = batch_strides(a.shape, M * K);
  sb = batch_strides(b.shape, K * N);
  const float* pa = a.ptr<const float>();
  const float* pb = b.ptr<const float>();
  float* po = out.ptr<float>();
  const index_t batches = numel(batch);
  index_t idx[TESSERA_MAX_RANK] = {};
  for (index_t t = 0; t < batches; ++t) {
    index_t oa = 0, ob = 0;
    for (int i = 0; i < rb; ++i) oa += idx[i] * sa[i], ob += idx[i] * sb[i];
    TESSERA_TRY(kernels::gemm_f32(M, N, K, 1.0f, pa + oa, static_cast<std::ptrdiff_t>(K), kernels::transpose::no, pb + ob,
                                  static_cast<std::ptrdiff_t>(N), kernels::transpose::no, 0.0f,
                                  po + static_cast<std::size_t>(t) * M * N, static_cast<std::ptrdiff_t>(N), {}, pool));
    for (int i = rb - 1; i >= 0; --i) {
      if (++idx[i] < batch[i]) break;
      idx[i] = 0;
    }
  }
  return {};
}

}  // namespace tessera::nn
