// Conv part: 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin and
// Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016). Each 2x2 block of
// outputs comes from a 4x4 input tile:
//
//   V = B^T d B   per tile and input channel (the input transform),
//   M = V U       16 GEMMs, one per tile position: [tiles x Cin] x [Cin x Cout], with
//                 U = G g G^T transformed and packed once at load (prepared.hpp),
//   Y = A^T M A   per tile and output channel, then bias, residual and activation.
//
// That is 16 multiply-adds per (Cin, Cout) pair for 4 outputs where im2col spends 36: 2.25x
// fewer. The transforms' coefficients are 0, +-1 and +-1/2, so the rounding stays close to
// the direct sum's (tests/kernels/conv2d_test.cpp bounds it against a double reference).
// Tiles are processed in blocks whose V and M stay in L2 between the three steps; with
// threads, each thread takes whole blocks (one fork-join per conv), or, when there are too
// few blocks to share, the blocks run in turn and each GEMM splits its columns.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/conv2d/fused_epilogue.hpp>
#include <tessera/kernels/conv2d/prepared_weights.hpp>
#include <tessera/kernels/conv2d/scratch.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/runtime/first_failure.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tessera::kernels::detail {

inline constexpr std::size_t winograd_positions = 16;  // of a 4x4 input tile

// U = G g G^T for one 3x3 filter g (row-major) into u[16], in double then rounded once.
// G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
inline void winograd_filter(const float* g, float* u) noexcept {
  double t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    const double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
    t[0][j] = g0;
    t[1][j] = 0.5 * (g0 + g1 + g2);
    t[2][j] = 0.5 * (g0 - g1 + g2);
    t[3][j] = g2;
  }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T
    u[i * 4 + 0] = static_cast<float>(t[i][0]);
    u[i * 4 + 1] = static_cast<float>(0.5 * (t[i][0] + t[i][1] + t[i][2]));
    u[i * 4 + 2] = static_cast<float>(0.5 * (t[i][0] - t[i][1] + t[i][2]));
    u[i * 4 + 3] = static_cast<float>(t[i][2]);
  }
}

// Tiles of 2x2 outputs: per image rows x cols of them, `count` over the batch.
struct winograd_tiles {
  std::size_t rows = 0, cols = 0, count = 0;
};

inline winograd_tiles winograd_tiles_of(const conv2d_geometry& g) noexcept {
  winograd_tiles t;
  t.rows = (g.out_h + 1) / 2;
  t.cols = (g.out_w + 1) / 2;
  t.count = g.batch * t.rows * t.cols;
  return t;
}

// Tiles per block: V (16 x T x Cin) and M (16 x T x Cout) of a block take about 512 KB, and
// at least four of the GEMM's row tiles, so the GEMMs do not starve on short A.
inline std::size_t winograd_block_tiles(const conv2d_geometry& g, const winograd_tiles& wt) noexcept {
  constexpr std::size_t kBlockFloats = std::size_t{1} << 17;
  constexpr std::size_t MR = gemm::config::MR;
  const std::size_t per_tile = winograd_positions * (g.in_c + g.out_c);
  const std::size_t t = std::max<std::size_t>(4 * MR, kBlockFloats / per_tile / MR * MR);
  return std::max<std::size_t>(1, std::min(t, wt.count));
}

// Scratch floats of one block (V then M).
inline std::size_t winograd_block_floats(const conv2d_geometry& g, std::size_t block_tiles) noexcept {
  return winograd_positions * block_tiles * (g.in_c + g.out_c);
}

template <class B>
TESSERA_ALWAYS_INLINE B winograd_load(const float* p, std::size_t n) {
  return n == B::size ? B::load_unaligned(p) : simd::load_partial<B>(p, n);
}
template <class B>
TESSERA_ALWAYS_INLINE void winograd_store(float* p, const B& v, std::size_t n) {
  if (n == B::size) v.store_unaligned(p);
  else simd::store_partial(p, v, n);
}

// V for tiles [t0, t0 + n): position p's matrix starts at v + p * ldp, tile r's row at + r * Cin.
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; taps outside the image are zeros.
inline void winograd_input(float* v, std::size_t ldp, const float* in, const conv2d_geometry& g,
                           const winograd_tiles& wt, std::size_t t0, std::size_t n) {
  using B = simd::f32;
  const std::size_t C = g.in_c;
  const std::int64_t H = static_cast<std::int64_t>(g.in_h), Wd = static_cast<std::int64_t>(g.in_w);
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t t = t0 + r, per_image = wt.rows * wt.cols;
    const std::size_t img = t / per_image, ty = t % per_image / wt.cols, tx = t % wt.cols;
    const std::int64_t y0 = static_cast<std::int64_t>(2 * ty) - static_cast<std::int64_t>(g.pt);
    const std::int64_t x0 = static_cast<std::int64_t>(2 * tx) - static_cast<std::int64_t>(g.pl);
    const float* src[4][4];  // each tap's pixel, or null in the padding
    for (std::int64_t i = 0; i < 4; ++i)
      for (std::int64_t j = 0; j < 4; ++j) {
        const std::int64_t y = y0 + i, x = x0 + j;
        src[i][j] = y < 0 || y >= H || x < 0 || x >= Wd
                        ? nullptr
                        : in + ((img * g.in_h + static_cast<std::size_t>(y)) * g.in_w + static_cast<std::size_t>(x)) * C;
      }
    float* dst = v + r * C;
    for (std::size_t c = 0; c < C; c += B::size) {
      const std::size_t cnt = std::min(B::size, C - c);
      B d[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) d[i][j] = src[i][j] ? winograd_load<B>(src[i][j] + c, cnt) : B(0.0f);
      B e[4][4];  // B^T d
      for (int j = 0; j < 4; ++j) {
        e[0][j] = d[0][j] - d[2][j];
        e[1][j] = d[1][j] + d[2][j];
        e[2][j] = d[2][j] - d[1][j];
        e[3][j] = d[1][j] - d[3][j];
      }
      for (int i = 0; i < 4; ++i) {  // (B^T d) B
        float* row = dst + c + std::size_t(i) * 4 * ldp;
        winograd_store(row, e[i][0] - e[i][2], cnt);
        winograd_store(row + ldp, e[i][1] + e[i][2], cnt);
        winograd_store(row + 2 * ldp, e[i][2] - e[i][1], cnt);
        winograd_store(row + 3 * ldp, e[i][1] - e[i][3], cnt);
      }
    }
  }
}

// Y = A^T M A for tiles [t0, t0 + n), A^T = [1 1 1 0; 0 1 -1 -1], then out = act(Y + bias +
// residual) for the outputs inside the image (a tile past an odd edge keeps only its first
// row or column).
inline void winograd_output(float* out, const float* m, std::size_t ldp, const conv2d_geometry& g,
                            const winograd_tiles& wt, std::size_t t0, std::size_t n, const float* bias,
                            const conv2d_epilogue& ep) {
  using B = simd::f32;
  const std::size_t K = g.out_c;
  with_activation(ep.act, ep.clip_min, ep.clip_max, [&](const auto& act_ref) {
    const auto act = act_ref;
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t t = t0 + r, per_image = wt.rows * wt.cols;
      const std::size_t img = t / per_image, oy = 2 * (t % per_image / wt.cols), ox = 2 * (t % wt.cols);
      const std::size_t rows = std::min<std::size_t>(2, g.out_h - oy), cols = std::min<std::size_t>(2, g.out_w - ox);
      const std::size_t pixel0 = (img * g.out_h + oy) * g.out_w + ox;
      const float* src = m + r * K;
      for (std::size_t c = 0; c < K; c += B::size) {
        const std::size_t cnt = std::min(B::size, K - c);
        B s[2][4];  // A^T M
        for (int j = 0; j < 4; ++j) {
          const B m0 = winograd_load<B>(src + c + std::size_t(j) * ldp, cnt);
          const B m1 = winograd_load<B>(src + c + std::size_t(4 + j) * ldp, cnt);
          const B m2 = winograd_load<B>(src + c + std::size_t(8 + j) * ldp, cnt);
          const B m3 = winograd_load<B>(src + c + std::size_t(12 + j) * ldp, cnt);
          s[0][j] = m0 + m1 + m2;
          s[1][j] = m1 - m2 - m3;
        }
        const B b = bias ? winograd_load<B>(bias + c, cnt) : B(0.0f);
        for (std::size_t i = 0; i < rows; ++i) {
          const B y[2] = {s[i][0] + s[i][1] + s[i][2], s[i][1] - s[i][2] - s[i][3]};
          for (std::size_t j = 0; j < cols; ++j) {
            const std::size_t at = (pixel0 + i * g.out_w + j) * K + c;
            B o = y[j];
            if (bias) o = o + b;
            if (ep.residual) o = o + winograd_load<B>(ep.residual + at, cnt);
            winograd_store(out + at, act(o), cnt);
          }
        }
      }
    }
  });
}

// How a call splits its tiles over the pool's threads.
//   serial     blocks in turn on the calling thread (one thread, or a conv too small for a
//              fork-join: under the GEMM's own threshold on its direct flops);
//   blocks     each thread takes whole blocks (one fork-join), when each gets a few GEMM row
//              tiles' worth of tiles; the blocks are evened out to a multiple of the threads;
//   positions  fewer tiles (a small image: resnet's 14x14 and 7x7 stages): all tiles form one
//              block, the threads split its transforms by tiles and its 16 GEMMs by position
//              (three fork-joins, each GEMM whole on one core).
enum class winograd_split { serial, blocks, positions };
struct winograd_plan {
  winograd_split split = winograd_split::serial;
  std::size_t block_tiles = 0, blocks = 0;
  std::size_t scratch_floats = 0;  // all threads' blocks
};

inline winograd_plan plan_winograd(const conv2d_geometry& g, const winograd_tiles& wt, std::size_t threads) noexcept {
  constexpr std::size_t kOneBlockMaxFloats = std::size_t{1} << 22;  // 16 MB of V and M
  const double flops = 2.0 * double(g.batch * g.out_h * g.out_w) * double(g.in_c) * double(g.out_c) * 9.0;
  if (flops < double(1 << 22)) threads = 1;
  winograd_plan plan;
  plan.block_tiles = winograd_block_tiles(g, wt);
  plan.blocks = (wt.count + plan.block_tiles - 1) / plan.block_tiles;
  if (threads > 1 && wt.count >= threads * 4 * gemm::config::MR) {
    plan.split = winograd_split::blocks;
    const std::size_t even = (plan.blocks + threads - 1) / threads * threads;
    plan.block_tiles = (wt.count + even - 1) / even;
    plan.blocks = (wt.count + plan.block_tiles - 1) / plan.block_tiles;
  } else if (threads > 1 && winograd_block_floats(g, wt.count) <= kOneBlockMaxFloats) {
    plan.split = winograd_split::positions;
    plan.block_tiles = wt.count;
    plan.blocks = 1;
  }
  plan.scratch_floats = (plan.split == winograd_split::blocks ? threads : 1) * winograd_block_floats(g, plan.block_tiles);
  return plan;
}

// `w` holds U as 16 packed matrices (packed(p): position p's Cin x Cout) and the bias.
inline status winograd_conv(float* out, const float* in, const conv2d_geometry& g, const prepared_conv_weights& w,
                            const conv2d_epilogue& ep, runtime::thread_pool& tp, arena& a) {
  const winograd_tiles wt = winograd_tiles_of(g);
  const std::size_t threads = runtime::in_parallel_region() ? 1 : tp.num_threads();
  const winograd_plan plan = plan_winograd(g, wt, threads);
  const std::size_t C = g.in_c, K = g.out_c, T = plan.block_tiles, block_floats = winograd_block_floats(g, T);
  const arena_scope scope(a);
  TESSERA_ASSIGN_OR_RETURN(float* scratch, conv_scratch(a, plan.scratch_floats, "conv2d"));
  runtime::first_failure failure;
  const epilogue plain;
  auto multiply = [&](const float* v, float* m, std::size_t n, std::size_t p) {
    failure.record(gemm_f32(n, v + p * T * C, static_cast<std::ptrdiff_t>(C), w.packed(p), m + p * T * K,
                            static_cast<std::ptrdiff_t>(K), plain, &tp));
  };
  if (plan.split == winograd_split::positions) {
    float* v = scratch;
    float* m = v + winograd_positions * T * C;
    const std::size_t per = (T + threads - 1) / threads;
    tp.run(threads, [&](std::size_t i, std::size_t) {
      if (i * per < T) winograd_input(v + i * per * C, T * C, in, g, wt, i * per, std::min(per, T - i * per));
    });
    tp.run(winograd_positions, [&](std::size_t p, std::size_t) {
      if (!failure.failed()) multiply(v, m, T, p);
    });
    if (failure.failed()) return failure.take();
    tp.run(threads, [&](std::size_t i, std::size_t) {
      if (i * per < T) winograd_output(out, m + i * per * K, T * K, g, wt, i * per, std::min(per, T - i * per), w.bias(), ep);
    });
    return {};
  }
  auto run_block = [&](std::size_t b, std::size_t slot) {
    const std::size_t t0 = b * T, n = std::min(T, wt.count - t0);
    float* v = scratch + slot * block_floats;
    float* m = v + winograd_positions * T * C;
    winograd_input(v, T * C, in, g, wt, t0, n);
    for (std::size_t p = 0; p < winograd_positions && !failure.failed(); ++p) multiply(v, m, n, p);
    if (!failure.failed()) winograd_output(out, m, T * K, g, wt, t0, n, w.bias(), ep);
  };
  if (plan.split == winograd_split::blocks) tp.run(plan.blocks, run_block);
  else
    for (std::size_t b = 0; b < plan.blocks; ++b) run_block(b, 0);
  return failure.take();
}

}  // namespace tessera::kernels::detail
