// Conv part: the im2col path. Patches of a tile of output lines are gathered into bounded
// scratch (K ordered ky, kx, ci so each tap is one contiguous copy), then one GEMM per group
// and tile multiplies them by the packed weights with the fused epilogue.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/conv2d/fused_epilogue.hpp>
#include <tessera/kernels/conv2d/prepared.hpp>
#include <tessera/kernels/conv2d/scratch.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/runtime/first_failure.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tessera::kernels::detail {

// Patches of output lines [l0, l1) for group `grp`: row (line, ox) holds K = kh*kw*in_cg
// values ordered (ky, kx, ci); taps in the padding are zeros.
inline void im2col_lines(float* col, const float* in, const conv2d_geometry& g, std::size_t grp, std::size_t l0,
                         std::size_t l1) {
  const std::size_t cg = g.in_cg, K = g.kh * g.kw * cg;
  const std::int64_t H = static_cast<std::int64_t>(g.in_h), W = static_cast<std::int64_t>(g.in_w);
  // With one group and no dilation, a row of kw taps is kw*Cin contiguous input floats.
  const bool contiguous_taps = g.groups == 1 && g.dw == 1;
  for (std::size_t line = l0; line < l1; ++line) {
    const std::size_t n = line / g.out_h, oy = line % g.out_h;
    const std::int64_t y0 = static_cast<std::int64_t>(oy * g.sh) - static_cast<std::int64_t>(g.pt);
    for (std::size_t ox = 0; ox < g.out_w; ++ox) {
      float* dst = col + ((line - l0) * g.out_w + ox) * K;
      const std::int64_t x0 = static_cast<std::int64_t>(ox * g.sw) - static_cast<std::int64_t>(g.pl);
      const bool x_inside = x0 >= 0 && x0 + static_cast<std::int64_t>((g.kw - 1) * g.dw) < W;
      for (std::size_t ky = 0; ky < g.kh; ++ky, dst += g.kw * cg) {
        const std::int64_t iy = y0 + static_cast<std::int64_t>(ky * g.dh);
        if (iy < 0 || iy >= H) {
          std::memset(dst, 0, g.kw * cg * sizeof(float));
          continue;
        }
        const float* src_row = in + ((n * g.in_h + static_cast<std::size_t>(iy)) * g.in_w) * g.in_c + grp * cg;
        if (contiguous_taps && x_inside) {
          std::memcpy(dst, src_row + static_cast<std::size_t>(x0) * g.in_c, g.kw * cg * sizeof(float));
          continue;
        }
        for (std::size_t kx = 0; kx < g.kw; ++kx) {
          const std::int64_t ix = x0 + static_cast<std::int64_t>(kx * g.dw);
          if (ix < 0 || ix >= W) std::memset(dst + kx * cg, 0, cg * sizeof(float));
          else std::memcpy(dst + kx * cg, src_row + static_cast<std::size_t>(ix) * g.in_c, cg * sizeof(float));
        }
      }
    }
  }
}

// Rows [row0, row0 + M) of group `grp`'s output from their gathered patches `col`.
inline status multiply_patches(float* out, const float* col, std::size_t row0, std::size_t M, std::size_t grp,
                               const conv2d_geometry& g, const prepared_conv2d& w, const conv2d_epilogue& ep,
                               runtime::thread_pool& tp) {
  const std::size_t K = g.kh * g.kw * g.in_cg;
  return gemm_f32(M, col, static_cast<std::ptrdiff_t>(K), w.packed(grp), out + row0 * g.out_c + grp * g.out_cg,
                  static_cast<std::ptrdiff_t>(g.out_c), conv_gemm_epilogue(ep, w.bias(), g.out_c, g.out_cg, grp, row0), &tp);
}

// With several threads, each owns whole chunks of output lines: it gathers a chunk's patches
// into its own part of the scratch and multiplies them alone, so the patches stay in the cache
// of the core that wrote them and the conv costs one fork-join (the shared tiles below cost two
// per tile, and a thread multiplies rows another core gathered). Worth it when the chunks are
// tall enough for the GEMM's row tiles and plentiful enough to balance the threads; a small
// image with many channels (resnet's 7x7x512) splits the GEMM's columns instead, and a conv too
// small for threads runs serially there. The threads' chunks fit the shared tile's scratch, so
// workspace_floats() holds for both. Returns 0 when the shared tiles are the better choice.
inline std::size_t lines_per_thread_chunk(const conv2d_geometry& g, std::size_t threads) noexcept {
  if (threads <= 1) return 0;
  constexpr std::size_t kChunkFloats = std::size_t{96} << 10;  // 384 KB of patches: L2-resident
  const std::size_t lines = g.batch * g.out_h, K = g.kh * g.kw * g.in_cg, line_floats = g.out_w * K;
  const double flops = 2.0 * double(lines) * double(line_floats) * double(g.out_cg);
  if (flops < double(1 << 22)) return 0;  // the GEMM's own threshold for threads
  std::size_t chunk = std::max<std::size_t>(1, kChunkFloats / std::max<std::size_t>(1, line_floats));
  chunk = std::min({chunk, std::max<std::size_t>(1, lines / (2 * threads)), prepared_conv2d::lines_per_tile(g) / threads});
  const bool tall = chunk * g.out_w >= 4 * gemm::config::MR;
  const bool plentiful = chunk > 0 && (lines + chunk - 1) / chunk >= 2 * threads;
  return tall && plentiful ? chunk : 0;
}

inline status im2col_gemm_thread_chunks(float* out, const float* in, const conv2d_geometry& g, const prepared_conv2d& w,
                                        const conv2d_epilogue& ep, runtime::thread_pool& tp, arena& a, std::size_t chunk) {
  const std::size_t lines = g.batch * g.out_h, K = g.kh * g.kw * g.in_cg, chunk_floats = chunk * g.out_w * K;
  const arena_scope scope(a);
  TESSERA_ASSIGN_OR_RETURN(float* cols, conv_scratch(a, tp.num_threads() * chunk_floats, "conv2d"));
  runtime::first_failure failure;
  tp.run((lines + chunk - 1) / chunk, [&](std::size_t c, std::size_t thread) {
    const std::size_t l0 = c * chunk, l1 = std::min(lines, l0 + chunk);
    const std::size_t row0 = l0 * g.out_w, M = (l1 - l0) * g.out_w;
    float* col = cols + thread * chunk_floats;
    for (std::size_t grp = 0; grp < g.groups && !failure.failed(); ++grp) {
      im2col_lines(col, in, g, grp, l0, l1);
      failure.record(multiply_patches(out, col, row0, M, grp, g, w, ep, tp));
    }
  });
  return failure.take();
}

// The im2col path: per tile of output lines, gather the patches of each group, then one GEMM
// with the packed weights and the fused epilogue. The tile's scratch comes from `a`.
inline status im2col_gemm_conv(float* out, const float* in, const conv2d_geometry& g, const prepared_conv2d& w,
                               const conv2d_epilogue& ep, runtime::thread_pool& tp, arena& a) {
  if (const std::size_t chunk = lines_per_thread_chunk(g, tp.num_threads()))
    return im2col_gemm_thread_chunks(out, in, g, w, ep, tp, a, chunk);
  const std::size_t lines = g.batch * g.out_h;
  const std::size_t tile = prepared_conv2d::lines_per_tile(g);
  const std::size_t K = g.kh * g.kw * g.in_cg;
  const arena_scope scope(a);
  TESSERA_ASSIGN_OR_RETURN(float* col, conv_scratch(a, tile * g.out_w * K, "conv2d"));
  for (std::size_t l0 = 0; l0 < lines; l0 += tile) {
    const std::size_t l1 = std::min(lines, l0 + tile);
    const std::size_t row0 = l0 * g.out_w, M = (l1 - l0) * g.out_w;
    for (std::size_t grp = 0; grp < g.groups; ++grp) {
      // At least 64K floats of patches per task: a small layer's gather is cheaper than a fork-join.
      runtime::parallel_for(tp, l0, l1, std::max<std::size_t>(1, (std::size_t{1} << 16) / (g.out_w * K)), [&](std::size_t b0, std::size_t b1) {
        im2col_lines(col + (b0 - l0) * g.out_w * K, in, g, grp, b0, b1);
      });
      TESSERA_TRY(multiply_patches(out, col, row0, M, grp, g, w, ep, tp));
    }
  }
  return {};
}

}  // namespace tessera::kernels::detail
