// Conv part: ConvTranspose2d (public): GEMM (A = input, B = [Cin/g, kh*kw*Cout/g]) into a
// bounded column scratch, then a scatter-add (col2im) into the output.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/conv2d/fused_epilogue.hpp>
#include <tessera/kernels/conv2d/prepared_weights.hpp>
#include <tessera/kernels/conv2d/scratch.hpp>
#include <tessera/kernels/conv2d/validation.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/detail/rows.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera::kernels {

// Weights of one ConvTranspose node, packed for the GEMM + col2im path.
class prepared_conv_transpose2d : public detail::prepared_conv_weights {
 public:
  // weight: ONNX/PyTorch IOHW [in_channels, out_channels/groups, kernel_h, kernel_w];
  // bias: out_channels values or null.
  static expected<prepared_conv_transpose2d> prepare(const conv2d_params& p, std::int64_t in_channels,
                                                     std::int64_t out_channels, const float* weight,
                                                     const float* bias) {
    constexpr const char* op = "prepare_conv_transpose2d";
    prepared_conv_transpose2d w;
    TESSERA_TRY(w.init(p, in_channels, out_channels, weight, op));
    TESSERA_TRY(detail::check_range(op, "output_padding_h", p.output_padding_h, 0));
    TESSERA_TRY(detail::check_range(op, "output_padding_w", p.output_padding_w, 0));
    const std::size_t G = static_cast<std::size_t>(p.groups), icg = w.in_c_ / G, ocg = w.out_c_ / G;
    const std::size_t taps = static_cast<std::size_t>(p.kernel_h * p.kernel_w);
    TESSERA_TRY(w.set_bias(bias, false));
    // Per group: B[ci][t*ocg + co] = W[g*icg + ci][co][t].
    const std::size_t Ncols = taps * ocg;
    TESSERA_TRY(w.pack_groups(icg, Ncols, [&](std::size_t grp, float* b) {
      for (std::size_t ci = 0; ci < icg; ++ci)
        for (std::size_t co = 0; co < ocg; ++co)
          for (std::size_t t = 0; t < taps; ++t)
            b[ci * Ncols + t * ocg + co] = weight[((grp * icg + ci) * ocg + co) * taps + t];
    }));
    return w;
  }

  expected<conv2d_geometry> geometry(const image_shape& in) const {
    TESSERA_TRY(check_input_channels(in, "conv_transpose2d"));
    return conv_transpose2d_geometry_of(in, static_cast<std::int64_t>(out_c_), p_);
  }
};

// out [N, OH, OW, Cout] = act(ConvTranspose(in [N, H, W, Cin]) + bias + residual), NHWC.
inline status conv_transpose2d(float* out, const float* in, const image_shape& in_shape,
                               const prepared_conv_transpose2d& w, const conv2d_epilogue& ep = {},
                               runtime::thread_pool* pool = nullptr, arena* scratch = nullptr) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, w.geometry(in_shape));
  TESSERA_TRY(detail::validate_conv_epilogue(ep, "conv_transpose2d"));
  TESSERA_TRY(detail::check_conv_buffers(out, in, g, ep, "conv_transpose2d"));
  if (g.batch == 0) return {};
  runtime::thread_pool& tp = runtime::pool_or_default(pool);
  const std::size_t out_pixels = g.batch * g.out_h * g.out_w;
  runtime::parallel_for(tp, 0, out_pixels, 1024, [&](std::size_t a, std::size_t b) {
    std::fill(out + a * g.out_c, out + b * g.out_c, 0.0f);
  });

  const std::size_t taps = g.kh * g.kw, Ncols = taps * g.out_cg;
  const std::size_t lines = g.batch * g.in_h;
  const std::size_t tile = detail::scratch_lines_per_tile(lines, g.in_w * Ncols);
  arena& a = scratch ? *scratch : thread_arena();
  const arena_scope scope(a);
  TESSERA_ASSIGN_OR_RETURN(float* col, detail::conv_scratch(a, tile * g.in_w * Ncols, "conv_transpose2d"));
  const std::int64_t OH = static_cast<std::int64_t>(g.out_h), OW = static_cast<std::int64_t>(g.out_w);
  for (std::size_t l0 = 0; l0 < lines; l0 += tile) {
    const std::size_t l1 = std::min(lines, l0 + tile);
    for (std::size_t grp = 0; grp < g.groups; ++grp) {
      TESSERA_TRY(gemm_f32((l1 - l0) * g.in_w, in + l0 * g.in_w * g.in_c + grp * g.in_cg,
                           static_cast<std::ptrdiff_t>(g.in_c), w.packed(grp), col,
                           static_cast<std::ptrdiff_t>(Ncols), epilogue{}, &tp));
      // col2im: disjoint channel slices per task, so the scatter needs no synchronisation.
      runtime::parallel_for(tp, 0, g.out_cg, 32, [&](std::size_t c0, std::size_t c1) {
        for (std::size_t line = l0; line < l1; ++line) {
          const std::size_t n = line / g.in_h, iy = line % g.in_h;
          for (std::size_t ky = 0; ky < g.kh; ++ky) {
            const std::int64_t oy = static_cast<std::int64_t>(iy * g.sh + ky * g.dh) - static_cast<std::int64_t>(g.pt);
            if (oy < 0 || oy >= OH) continue;
            float* orow = out + (n * g.out_h + static_cast<std::size_t>(oy)) * g.out_w * g.out_c + grp * g.out_cg;
            for (std::size_t ix = 0; ix < g.in_w; ++ix) {
              const float* src = col + ((line - l0) * g.in_w + ix) * Ncols + ky * g.kw * g.out_cg;
              for (std::size_t kx = 0; kx < g.kw; ++kx) {
                const std::int64_t ox = static_cast<std::int64_t>(ix * g.sw + kx * g.dw) - static_cast<std::int64_t>(g.pl);
                if (ox < 0 || ox >= OW) continue;
                detail::row_add_f32(orow + static_cast<std::size_t>(ox) * g.out_c + c0, src + kx * g.out_cg + c0, c1 - c0);
              }
            }
          }
        }
      });
    }
  }
  const float* bias = w.bias();
  if (bias || ep.residual || ep.act != activation::none)
    runtime::parallel_for(tp, 0, out_pixels, 256, [&](std::size_t a, std::size_t b) {
      detail::conv_epilogue_rows(out + a * g.out_c, bias, ep.residual ? ep.residual + a * g.out_c : nullptr, b - a,
                                 g.out_c, ep);
    });
  return {};
}

}  // namespace tessera::kernels
