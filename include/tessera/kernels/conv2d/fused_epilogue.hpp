// Conv part: the fused epilogue (bias, residual, activation) of every conv path. The GEMM
// paths hand it to the GEMM's tile store; the direct paths (depthwise, ConvTranspose's
// col2im) apply it per output row here, with the same activation functor, so a fused conv
// gives the bits of the unfused conv followed by the unary kernel.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

namespace tessera::kernels {

// Per-call fusion. The bias belongs to the prepared weights.
struct conv2d_epilogue {
  const float* residual = nullptr;  // NHWC, output-shaped, not overlapping the output; or null
  activation act = activation::none;
  float clip_min = -INFINITY, clip_max = INFINITY;
};

namespace detail {

// The activation part of a conv epilogue as a GEMM epilogue (no bias, no residual).
inline epilogue to_epilogue(const conv2d_epilogue& ep) {
  epilogue e;
  e.act = ep.act;
  e.clip_min = ep.clip_min;
  e.clip_max = ep.clip_max;
  return e;
}

// For `pixels` consecutive pixels of C channels: o = act(o + bias + residual). bias (C
// values, repeated per pixel) and residual (pixels x C, contiguous) may be null. The
// activation is activation.hpp's functor on full and partial batches alike (never a scalar
// tail: <cmath> rounds differently from the lanes), as on the GEMM paths and in the unary
// kernels, so every path of a conv gives the bits of the unfused conv then the unary kernel.
inline void conv_epilogue_rows(float* o, const float* bias, const float* residual, std::size_t pixels,
                               std::size_t C, const conv2d_epilogue& ep) {
  using B = simd::f32;
  if (!bias && !residual && ep.act == activation::none) return;
  with_activation(ep.act, ep.clip_min, ep.clip_max, [&](const auto& act_ref) {
    const auto act = act_ref;  // a local copy: stores to o cannot alias clip's bounds, which stay in registers
    if (!bias || C % B::size == 0) {
      // One pass over rows of whole batches. Without a bias the pixels are one contiguous row.
      const std::size_t n = bias ? C : pixels * C, rows = bias ? pixels : 1;
      for (std::size_t r = 0; r < rows; ++r) {
        float* orow = o + r * n;
        const float* res = residual ? residual + r * n : nullptr;
        std::size_t i = 0;
        for (; i + B::size <= n; i += B::size) {
          B v = B::load_unaligned(orow + i);
          if (bias) v = v + B::load_unaligned(bias + i);
          if (res) v = v + B::load_unaligned(res + i);
          act(v).store_unaligned(orow + i);
        }
        if (i < n) {
          const std::size_t t = n - i;
          B v = simd::load_partial<B>(orow + i, t);
          if (bias) v = v + simd::load_partial<B>(bias + i, t);
          if (res) v = v + simd::load_partial<B>(res + i, t);
          simd::store_partial(orow + i, act(v), t);
        }
      }
      return;
    }
    // A bias with C not a multiple of the lanes would leave a partial batch in every pixel
    // (all of them when C < lanes): add per pixel instead (an add rounds the same in a lane
    // and in a scalar), then activate a block of pixels as one contiguous run while in L1.
    const std::size_t block = std::max<std::size_t>(1, 2048 / C);
    for (std::size_t p0 = 0; p0 < pixels; p0 += block) {
      const std::size_t p1 = std::min(pixels, p0 + block);
      for (std::size_t px = p0; px < p1; ++px) {
        float* orow = o + px * C;
        const float* res = residual ? residual + px * C : nullptr;
        std::size_t i = 0;
        for (; i + B::size <= C; i += B::size) {
          B v = B::load_unaligned(orow + i) + B::load_unaligned(bias + i);
          if (res) v = v + B::load_unaligned(res + i);
          v.store_unaligned(orow + i);
        }
        for (; i < C; ++i) orow[i] = res ? (orow[i] + bias[i]) + res[i] : orow[i] + bias[i];
      }
      if constexpr (!std::is_same_v<std::decay_t<decltype(act)>, identity_fn>)
        simd::transform(o + p0 * C, o + p0 * C, (p1 - p0) * C, act);
    }
  });
}

// The GEMM epilogue of group `grp`'s output columns for output rows from `row0` (the GEMM
// paths): the group's slice of the bias and of the residual (rows of out_c floats).
inline epilogue conv_gemm_epilogue(const conv2d_epilogue& ep, const float* bias, std::size_t out_c, std::size_t out_cg,
                                   std::size_t grp, std::size_t row0) {
  epilogue e = to_epilogue(ep);
  e.bias = bias ? bias + grp * out_cg : nullptr;
  e.residual = ep.residual ? ep.residual + row0 * out_c + grp * out_cg : nullptr;
  e.ld_residual = static_cast<std::ptrdiff_t>(out_c);
  return e;
}

inline status validate_conv_epilogue(const conv2d_epilogue& ep, const char* op) {
  return validate_epilogue(to_epilogue(ep), op);
}

}  // namespace detail
}  // namespace tessera::kernels
