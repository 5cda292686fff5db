// Conv part: the direct depthwise kernel (groups == Cin == Cout), vectorized over channels
// in NHWC, with compile-time 3x3 and 5x5 bodies (stride 1 and 2 get register-blocked
// interiors; other strides and dilations the per-pixel body) and a runtime-size fallback.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/conv2d/fused_epilogue.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tessera::kernels::detail {

// One channel block of one output line (n, oy), one pixel at a time: the block's weights stay
// in registers (compile-time KH x KW) while ox walks the line; interior pixels skip the bounds
// checks. Serves the borders, channel tails, and strides/dilations without a blocked body.
template <std::size_t KH, std::size_t KW, bool Tail, class Rows>
void depthwise_block(float* out_line, const Rows& rows, const conv2d_geometry& g, const float* w,
                     const float* bias, std::size_t c0, std::size_t nc, std::size_t kh, std::size_t kw,
                     std::size_t ox_lo, std::size_t ox_hi, std::size_t skip_lo, std::size_t skip_hi) {
  using B = simd::f32;
  constexpr bool fixed = KH != 0;
  constexpr std::size_t taps_fixed = fixed ? KH * KW : 1;
  const std::size_t C = g.in_c;
  auto load = [&](const float* p) {
    if constexpr (Tail) return simd::load_partial<B>(p, nc);
    else return B::load_unaligned(p);
  };
  B wv[taps_fixed];
  if constexpr (fixed)
    for (std::size_t t = 0; t < KH * KW; ++t) wv[t] = load(w + t * C + c0);
  const B bv = load(bias + c0);
  auto weight = [&](std::size_t t) {
    if constexpr (fixed) return wv[t];
    else return load(w + t * C + c0);
  };
  const std::int64_t W = static_cast<std::int64_t>(g.in_w);
  auto pixel = [&](std::size_t ox, auto checked) {
    const std::int64_t x0 = static_cast<std::int64_t>(ox * g.sw) - static_cast<std::int64_t>(g.pl);
    B acc = bv;
    const std::size_t KHr = fixed ? KH : kh, KWr = fixed ? KW : kw;
    for (std::size_t ky = 0; ky < KHr; ++ky) {
      const float* row = rows[ky];
      if (!row) continue;
      for (std::size_t kx = 0; kx < KWr; ++kx) {
        const std::int64_t ix = x0 + static_cast<std::int64_t>(kx * g.dw);
        if constexpr (decltype(checked)::value)
          if (ix < 0 || ix >= W) continue;
        acc = simd::fma(load(row + static_cast<std::size_t>(ix) * C + c0), weight(ky * KWr + kx), acc);
      }
    }
    float* o = out_line + ox * C + c0;
    if constexpr (Tail) simd::store_partial(o, acc, nc);
    else acc.store_unaligned(o);
  };
  for (std::size_t ox = 0; ox < ox_lo; ++ox) pixel(ox, std::true_type{});
  // [skip_lo, skip_hi) was computed by depthwise_interior_blocked.
  for (std::size_t ox = ox_lo; ox < skip_lo; ++ox) pixel(ox, std::false_type{});
  for (std::size_t ox = skip_hi; ox < ox_hi; ++ox) pixel(ox, std::false_type{});
  for (std::size_t ox = std::max(ox_lo, ox_hi); ox < g.out_w; ++ox) pixel(ox, std::true_type{});
}

// The interior bodies below walk outputs [ox0, ox1) in steps of PX neighbours; step(ox, x0)
// gets the step's first output and first input column (interior: x0 >= 0). Within a step,
// input column j of a kernel row feeds output q through tap j - q*S when that tap exists.
template <std::size_t S, std::size_t PX, class Step>
void for_each_interior_step(const conv2d_geometry& g, std::size_t ox0, std::size_t ox1, Step&& step) {
  for (std::size_t ox = ox0; ox < ox1; ox += PX) step(ox, ox * S - g.pl);
}
template <std::size_t S, std::size_t KW>
constexpr bool column_feeds(std::size_t j, std::size_t q) noexcept {
  return j >= q * S && j - q * S < KW;
}

// Interior outputs [ox0, ox1) (a multiple of PX), full channel blocks [0, c_full): PX
// neighbouring outputs (stride S, dilation 1) per step, every full channel block inside the
// step, so the input columns of a step (a few pixels x C) stay in L1 across the blocks and
// the kernel rows. Each input column loaded serves every output whose window covers it.
template <std::size_t KH, std::size_t KW, std::size_t S, std::size_t PX>
void depthwise_interior_blocked(float* out_line, const float* const* rows, const conv2d_geometry& g, const float* w,
                                const float* bias, std::size_t c_full, std::size_t ox0, std::size_t ox1) {
  using B = simd::f32;
  constexpr std::size_t cols = (PX - 1) * S + KW;
  const std::size_t C = g.in_c;
  for_each_interior_step<S, PX>(g, ox0, ox1, [&](std::size_t ox, std::size_t x0) {
    // CB channel blocks per step: PX * CB independent accumulator chains hide the FMA latency
    // (PX = 4 alone leaves a 4-deep chain per 9-tap window, latency- not throughput-bound).
    auto step = [&](std::size_t c0, auto cb_tag) {
      constexpr std::size_t CB = decltype(cb_tag)::value;
      B acc[CB][PX];
      TESSERA_GEMM_UNROLL
      for (std::size_t b = 0; b < CB; ++b) {
        const B bv = B::load_unaligned(bias + c0 + b * B::size);
        TESSERA_GEMM_UNROLL
        for (std::size_t q = 0; q < PX; ++q) acc[b][q] = bv;
      }
      TESSERA_GEMM_UNROLL
      for (std::size_t ky = 0; ky < KH; ++ky) {
        const float* row = rows[ky];
        if (!row) continue;
        const float* base = row + x0 * C + c0;
        const float* wrow = w + ky * KW * C + c0;
        TESSERA_GEMM_UNROLL
        for (std::size_t j = 0; j < cols; ++j) {
          TESSERA_GEMM_UNROLL
          for (std::size_t b = 0; b < CB; ++b) {
            const B v = B::load_unaligned(base + j * C + b * B::size);
            TESSERA_GEMM_UNROLL
            for (std::size_t q = 0; q < PX; ++q)
              if (column_feeds<S, KW>(j, q))
                acc[b][q] = simd::fma(v, B::load_unaligned(wrow + (j - q * S) * C + b * B::size), acc[b][q]);
          }
        }
      }
      TESSERA_GEMM_UNROLL
      for (std::size_t b = 0; b < CB; ++b)
        TESSERA_GEMM_UNROLL
        for (std::size_t q = 0; q < PX; ++q) acc[b][q].store_unaligned(out_line + (ox + q) * C + c0 + b * B::size);
    };
    std::size_t c0 = 0;
    for (; c0 + 2 * B::size <= c_full; c0 += 2 * B::size) step(c0, std::integral_constant<std::size_t, 2>{});
    for (; c0 < c_full; c0 += B::size) step(c0, std::integral_constant<std::size_t, 1>{});
  });
}

// The same interior for small windows (3x3) with the weights of a channel block in registers
// for the whole step: per step of PX outputs, each channel block loads its KH*KW weights once,
// then every input column once per kernel row, and each weight serves PX outputs (the body
// above reloads a weight per FMA). PX = 6: 6 accumulators + 9 weights + 1 column = 16
// registers at 3x3. Channel blocks stay inside the step so its input columns stay in L1.
// It beats the blocked body natively and by more in WASM (numbers: docs/performance.md).
template <std::size_t KH, std::size_t KW, std::size_t S, std::size_t PX>
void depthwise_interior_wreg(float* out_line, const float* const* rows, const conv2d_geometry& g, const float* w,
                             const float* bias, std::size_t c_full, std::size_t ox0, std::size_t ox1) {
  using B = simd::f32;
  constexpr std::size_t cols = (PX - 1) * S + KW;
  const std::size_t C = g.in_c;
  for_each_interior_step<S, PX>(g, ox0, ox1, [&](std::size_t ox, std::size_t x0) {
    for (std::size_t c0 = 0; c0 < c_full; c0 += B::size) {
      B wv[KH * KW];
      TESSERA_GEMM_UNROLL
      for (std::size_t t = 0; t < KH * KW; ++t) wv[t] = B::load_unaligned(w + t * C + c0);
      const B bv = B::load_unaligned(bias + c0);
      B acc[PX];
      TESSERA_GEMM_UNROLL
      for (std::size_t q = 0; q < PX; ++q) acc[q] = bv;
      TESSERA_GEMM_UNROLL
      for (std::size_t ky = 0; ky < KH; ++ky) {
        const float* row = rows[ky];
        if (!row) continue;
        const float* base = row + x0 * C + c0;
        TESSERA_GEMM_UNROLL
        for (std::size_t j = 0; j < cols; ++j) {
          const B v = B::load_unaligned(base + j * C);
          TESSERA_GEMM_UNROLL
          for (std::size_t q = 0; q < PX; ++q)
            if (column_feeds<S, KW>(j, q)) acc[q] = simd::fma(v, wv[ky * KW + (j - q * S)], acc[q]);
        }
      }
      TESSERA_GEMM_UNROLL
      for (std::size_t q = 0; q < PX; ++q) acc[q].store_unaligned(out_line + (ox + q) * C + c0);
    }
  });
}

// The input rows of one output line: row ky is the image row y0 + ky*dh, or null in the padding.
struct line_rows {
  const float* image;  // the line's image (n), rows of `row_floats`
  std::int64_t y0;
  std::size_t dh, height, row_floats;
  const float* operator[](std::size_t ky) const noexcept {
    const std::int64_t iy = y0 + static_cast<std::int64_t>(ky * dh);
    return iy < 0 || iy >= static_cast<std::int64_t>(height) ? nullptr : image + static_cast<std::size_t>(iy) * row_floats;
  }
};

template <std::size_t KH, std::size_t KW, std::size_t S>
void depthwise_lines(float* out, const float* in, const conv2d_geometry& g, const float* w, const float* bias,
                     const conv2d_epilogue& ep, std::size_t l0, std::size_t l1) {
  using B = simd::f32;
  const std::size_t C = g.in_c;
  // Interior columns: every tap inside [0, W).
  std::size_t ox_lo = 0, ox_hi = 0;
  {
    const std::size_t ext = (g.kw - 1) * g.dw;
    ox_lo = (g.pl + g.sw - 1) / g.sw;  // first ox with ox*sw >= pl
    if (g.in_w + g.pl >= ext + 1) {
      const std::size_t last = (g.in_w + g.pl - ext - 1) / g.sw;  // last ox with ox*sw - pl + ext < W
      ox_hi = std::min(g.out_w, last + 1);
    }
    ox_lo = std::min(ox_lo, g.out_w);
    if (ox_hi < ox_lo) ox_hi = ox_lo;
  }
  // The input row of each kernel row of a line, in an array; windows taller than the array
  // (rare: only the runtime-size body sees them) compute their rows on use instead.
  constexpr std::size_t max_rows = KH != 0 ? KH : 64;
  const float* rows[max_rows];
  const std::size_t c_full = C / B::size * B::size;
  for (std::size_t line = l0; line < l1; ++line) {
    const std::size_t n = line / g.out_h, oy = line % g.out_h;
    const line_rows dyn{in + n * g.in_h * g.in_w * C, static_cast<std::int64_t>(oy * g.sh) - static_cast<std::int64_t>(g.pt),
                        g.dh, g.in_h, g.in_w * C};
    for (std::size_t ky = 0; ky < std::min(g.kh, max_rows); ++ky) rows[ky] = dyn[ky];
    float* out_line = out + line * g.out_w * C;
    auto run = [&](const auto& rp) {
      std::size_t skip_hi = ox_lo;
      if constexpr (KH != 0 && S != 0 && KH * KW <= 9) {
        constexpr std::size_t PX = 6;
        skip_hi = ox_lo + (ox_hi - ox_lo) / PX * PX;
        depthwise_interior_wreg<KH, KW, S, PX>(out_line, rp, g, w, bias, c_full, ox_lo, skip_hi);
      } else if constexpr (KH != 0 && S != 0) {
        constexpr std::size_t PX = 4;
        skip_hi = ox_lo + (ox_hi - ox_lo) / PX * PX;
        depthwise_interior_blocked<KH, KW, S, PX>(out_line, rp, g, w, bias, c_full, ox_lo, skip_hi);
      }
      for (std::size_t c0 = 0; c0 < c_full; c0 += B::size)
        depthwise_block<KH, KW, false>(out_line, rp, g, w, bias, c0, B::size, g.kh, g.kw, ox_lo, ox_hi, ox_lo, skip_hi);
      if (c_full < C)
        depthwise_block<KH, KW, true>(out_line, rp, g, w, bias, c_full, C - c_full, g.kh, g.kw, ox_lo, ox_hi, ox_lo,
                                      ox_lo);
    };
    if constexpr (KH == 0) {
      if (g.kh > max_rows) run(dyn);
      else run(rows);
    } else {
      run(rows);
    }
    conv_epilogue_rows(out_line, nullptr, ep.residual ? ep.residual + line * g.out_w * C : nullptr, g.out_w, C, ep);
  }
}

inline void depthwise_conv(float* out, const float* in, const conv2d_geometry& g, const float* w, const float* bias,
                           const conv2d_epilogue& ep, runtime::thread_pool& tp) {
  const std::size_t lines = g.batch * g.out_h;
  const std::size_t per_line = std::max<std::size_t>(1, g.out_w * g.in_c * g.kh * g.kw);
  runtime::parallel_for(tp, 0, lines, std::max<std::size_t>(1, 32768 / per_line), [&](std::size_t l0, std::size_t l1) {
    // Stride 1 and 2 without dilation get the register-blocked interior (S); other strides
    // and dilations the per-pixel body.
    const std::size_t s = g.dw == 1 && g.sw <= 2 ? g.sw : 0;
    if (g.kh == 3 && g.kw == 3) {
      if (s == 1) depthwise_lines<3, 3, 1>(out, in, g, w, bias, ep, l0, l1);
      else if (s == 2) depthwise_lines<3, 3, 2>(out, in, g, w, bias, ep, l0, l1);
      else depthwise_lines<3, 3, 0>(out, in, g, w, bias, ep, l0, l1);
    } else if (g.kh == 5 && g.kw == 5) {
      if (s == 1) depthwise_lines<5, 5, 1>(out, in, g, w, bias, ep, l0, l1);
      else if (s == 2) depthwise_lines<5, 5, 2>(out, in, g, w, bias, ep, l0, l1);
      else depthwise_lines<5, 5, 0>(out, in, g, w, bias, ep, l0, l1);
    } else {
      depthwise_lines<0, 0, 0>(out, in, g, w, bias, ep, l0, l1);
    }
  });
}

}  // namespace tessera::kernels::detail
