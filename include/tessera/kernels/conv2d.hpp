// 2D convolution and transposed convolution over NHWC activations (f32).
//
// Weights are prepared once at load time (`prepared_conv2d::prepare` from ONNX/PyTorch OIHW,
// `prepared_conv_transpose2d::prepare` from IOHW): the preparation packs them for the GEMM
// (one packed_b_f32 per group) or reorders them for the direct depthwise kernel, and picks
// the algorithm. Every call then reuses them:
//
//   gemm_1x1      1x1, stride 1, no padding: the NHWC input already is the GEMM's A
//                 (M = N*H*W rows, K = Cin/groups, N = Cout/groups; groups offset the columns).
//   im2col_gemm   everything else: patches of a tile of output rows are gathered into a
//                 bounded scratch (K ordered ky, kx, ci so each tap is one contiguous copy),
//                 then one GEMM per group and tile. The scratch comes from the caller's
//                 arena or the calling thread's thread_arena() (core/arena.hpp).
//   winograd_3x3  3x3, stride 1, no dilation, one group, >= 16 channels in and out: F(2x2, 3x3)
//                 Winograd, 16 GEMMs over transformed 4x4 input tiles, 2.25x fewer multiply-adds.
//   depthwise     groups == Cin == Cout: a direct kernel vectorized over channels, with
//                 compile-time 3x3 and 5x5 bodies (any stride, padding, dilation) and a
//                 runtime-size fallback.
//   ConvTranspose GEMM (A = input, B = [Cin/g, kh*kw*Cout/g]) into a bounded column scratch,
//                 then a scatter-add (col2im) into the output.
//
// Bias, residual and activation are fused: through the GEMM epilogue on the GEMM paths, per
// output row on the direct paths: out = act(conv + bias + residual). `residual` is an NHWC
// tensor shaped like the output and must not overlap it.
//
// The parts, one job per file, in kernels/conv2d/ (private: reach them through this header):
//   fused_epilogue.hpp  conv2d_epilogue (public) and its application on every path
//   validation.hpp      parameter and buffer checks, as error values
//   scratch.hpp         the bounded scratch tiles of the GEMM paths, from an arena
//   prepared_weights.hpp what prepared Conv and ConvTranspose weights share (packed B, bias)
//   prepared.hpp        prepared_conv2d (public): weights prepared once, the algorithm choice
//   depthwise.hpp       the direct depthwise kernel
//   im2col.hpp          the im2col + GEMM path
//   winograd.hpp        the Winograd F(2x2, 3x3) path
//   transposed.hpp      prepared_conv_transpose2d and conv_transpose2d (public)
#pragma once

#ifndef TESSERA_PUBLIC_FRONT
#define TESSERA_PUBLIC_FRONT
#endif

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <tessera/kernels/conv2d/fused_epilogue.hpp>
#include <tessera/kernels/conv2d/validation.hpp>
#include <tessera/kernels/conv2d/prepared.hpp>
#include <tessera/kernels/conv2d/depthwise.hpp>
#include <tessera/kernels/conv2d/im2col.hpp>
#include <tessera/kernels/conv2d/transposed.hpp>

#include <cstddef>

namespace tessera::kernels {

// out [N, OH, OW, Cout] = act(Conv(in [N, H, W, Cin]) + bias + residual), NHWC.
// `in_shape` holds the logical sizes; `pool` defaults to runtime::default_pool(); the im2col
// scratch comes from `scratch` (a model's planned workspace) or else thread_arena().
inline status conv2d(float* out, const float* in, const image_shape& in_shape, const prepared_conv2d& w,
                     const conv2d_epilogue& ep = {}, runtime::thread_pool* pool = nullptr, arena* scratch = nullptr) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, w.geometry(in_shape));
  TESSERA_TRY(detail::validate_conv_epilogue(ep, "conv2d"));
  TESSERA_TRY(detail::check_conv_buffers(out, in, g, ep, "conv2d"));
  if (g.batch == 0) return {};
  runtime::thread_pool& tp = runtime::pool_or_default(pool);
  switch (w.algorithm()) {
    case conv2d_algorithm::depthwise:
      detail::depthwise_conv(out, in, g, w.depthwise_weights(), w.bias(), ep, tp);
      return {};
    case conv2d_algorithm::gemm_1x1: {
      // The NHWC input already is the GEMM's A; groups offset its columns.
      const std::size_t M = g.batch * g.in_h * g.in_w;
      for (std::size_t grp = 0; grp < g.groups; ++grp)
        TESSERA_TRY(gemm_f32(M, in + grp * g.in_cg, static_cast<std::ptrdiff_t>(g.in_c), w.packed(grp),
                             out + grp * g.out_cg, static_cast<std::ptrdiff_t>(g.out_c),
                             detail::conv_gemm_epilogue(ep, w.bias(), g.out_c, g.out_cg, grp, 0), &tp));
      return {};
    }
    case conv2d_algorithm::winograd_3x3:
      return detail::winograd_conv(out, in, g, w, ep, tp, scratch ? *scratch : thread_arena());
    case conv2d_algorithm::im2col_gemm:
    case conv2d_algorithm::automatic:
      return detail::im2col_gemm_conv(out, in, g, w, ep, tp, scratch ? *scratch : thread_arena());
  }
  return make_error(errc::invalid_argument, "conv2d: unknown algorithm");
}

}  // namespace tessera::kernels
