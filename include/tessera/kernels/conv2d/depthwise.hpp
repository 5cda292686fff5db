// Conv part: the direct depthwise kernel (groups == Cin == Cout), vectorized over channels
// in NHWC: 3x3 and 5x5 with stride 1 or 2 run register-tiled line groups with the epilogue
// fused; other sizes, strides and dilations a per-pixel body (compile-time 3x3 and 5x5, and
// a runtime-size fallback).
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

// Vector registers of the build: what a register tile of the depthwise bodies may hold.
// WASM: V8's TurboFan allocates 15 xmm registers on x64 (gemm/microkernel_wasm128.hpp).
#if defined(__wasm_simd128__)
inline constexpr std::size_t dw_vector_registers = 15;
#elif XSIMD_WITH_AVX512F || XSIMD_WITH_NEON64
inline constexpr std::size_t dw_vector_registers = 32;
#else
inline constexpr std::size_t dw_vector_registers = 16;
#endif

// The register tile of the KH x KW, stride S body: R output lines x PX neighbouring outputs
// of one channel block per step, and whether the block's KH*KW weights stay in registers for
// the whole line (Hoist) or are loaded per multiply-add (they sit in L1). Two lines share the
// input rows between them (stride 1: 4 input rows feed 2 x 3 kernel rows), so each input
// column loaded serves up to R * ceil(KW / S) accumulators; that needs 32 registers
// (3x3: 9 weights + 2 x 6 accumulators + a column). Measurements: docs/performance.md.
template <std::size_t KH, std::size_t KW, std::size_t S>
struct dw_tiling {
  static constexpr bool small = KH * KW <= 9;
  static constexpr std::size_t R = dw_vector_registers >= 32 && small ? 2 : 1;
  static constexpr std::size_t PX = small ? 6 : 8;
  static constexpr bool hoist = KH * KW + R * PX + 1 <= dw_vector_registers;
};

// The input a column strip of the tiled bodies may span: most of a 32 KiB L1.
inline constexpr std::size_t dw_strip_bytes = 24 * 1024;

// Input row ir (0 <= ir < (R-1)*S + KH) of a step feeds kernel row ir - r*S of output line r.
template <std::size_t S, std::size_t KH>
constexpr bool row_feeds(std::size_t ir, std::size_t r) noexcept {
  return ir >= r * S && ir - r * S < KH;
}
// Input column j of a step feeds output q through tap j - q*S when that tap exists.
template <std::size_t S, std::size_t KW>
constexpr bool column_feeds(std::size_t j, std::size_t q) noexcept {
  return j >= q * S && j - q * S < KW;
}

// The input rows of a group of R output lines starting at oy0 of image `image`: row ir is
// image row oy0*S - pt + ir, or null in the padding (its taps are skipped).
template <std::size_t N>
struct step_rows {
  const float* row[N];
  step_rows(const float* image, const conv2d_geometry& g, std::size_t oy0) {
    const std::int64_t y0 = static_cast<std::int64_t>(oy0 * g.sh) - static_cast<std::int64_t>(g.pt);
    for (std::size_t ir = 0; ir < N; ++ir) {
      const std::int64_t iy = y0 + static_cast<std::int64_t>(ir);
      row[ir] = iy < 0 || iy >= static_cast<std::int64_t>(g.in_h) ? nullptr
                                                                    : image + static_cast<std::size_t>(iy) * g.in_w * g.in_c;
    }
  }
};

// The activations the steps apply in registers: ReLU and clip, as max then min with the
// functors' exact operations (relu_fn = max(x, 0), clip_fn = min(max(x, lo), hi)), so the
// bits equal the unary kernel's. SiLU and GELU (long bodies that would be inlined into every
// step variant) run as a pass over a line group's output right after it, while it is in L1/L2.
struct dw_clamp {
  bool lo_on = false, hi_on = false;
  float lo = 0, hi = 0;
  explicit dw_clamp(const conv2d_epilogue& ep) {
    if (ep.act == activation::relu) lo_on = true;
    if (ep.act == activation::clip) {
      lo_on = hi_on = true;
      lo = ep.clip_min;
      hi = ep.clip_max;
    }
  }
  bool in_registers(const conv2d_epilogue& ep) const { return ep.act == activation::none || lo_on; }
  TESSERA_ALWAYS_INLINE simd::f32 operator()(simd::f32 v) const {
    if (lo_on) v = simd::bound_max(v, simd::f32(lo));
    if (hi_on) v = simd::bound_min(v, simd::f32(hi));
    return v;
  }
};

// One step: outputs (line r < nr, column ox + q < ox + nq) for channels [c0, c0 + lanes),
// accumulated from the bias in registers, taps in kernel-row then
// kernel-column order (the order of every depthwise body, so all give the same bits), then
// stored as clamp(acc + residual). x0 = the step's first input column, which may lie in the
// padding when Checked (columns outside [0, W) are then skipped). One function owns the
// accumulators from start to store, so they never leave the registers.
template <std::size_t KH, std::size_t KW, std::size_t S, std::size_t R, std::size_t PX, bool Hoist, bool Checked,
          std::size_t NR>
TESSERA_ALWAYS_INLINE void depthwise_step(float* out, const float* residual, std::size_t row_stride,
                                          const step_rows<NR>& rows, std::int64_t x0, std::int64_t W, std::size_t C,
                                          std::size_t c0, std::size_t nr, std::size_t nq,
                                          const simd::f32& bv, const simd::f32* wv, const float* w,
                                          const dw_clamp& clamp) {
  using B = simd::f32;
  constexpr std::size_t cols = (PX - 1) * S + KW;
  auto load = [](const float* p) { return B::load_unaligned(p); };
  B acc[R][PX];
  TESSERA_GEMM_UNROLL
  for (std::size_t r = 0; r < R; ++r) {
    TESSERA_GEMM_UNROLL
    for (std::size_t q = 0; q < PX; ++q) acc[r][q] = bv;
  }
  TESSERA_GEMM_UNROLL
  for (std::size_t ir = 0; ir < NR; ++ir) {
    if (!rows.row[ir]) continue;
    // Walks the row's columns with a pointer (one add per column, no per-column offset live).
    const float* p = rows.row[ir] + c0 + static_cast<std::ptrdiff_t>(x0) * static_cast<std::ptrdiff_t>(C);
    TESSERA_GEMM_UNROLL
    for (std::size_t j = 0; j < cols; ++j, p += C) {
      if constexpr (Checked) {
        const std::int64_t ix = x0 + static_cast<std::int64_t>(j);
        if (ix < 0 || ix >= W) continue;
      }
      const B v = load(p);
      TESSERA_GEMM_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        if (!row_feeds<S, KH>(ir, r)) continue;
        const std::size_t ky = ir - r * S;
        TESSERA_GEMM_UNROLL
        for (std::size_t q = 0; q < PX; ++q) {
          if (!column_feeds<S, KW>(j, q)) continue;
          const std::size_t t = ky * KW + (j - q * S);
          if constexpr (Hoist) acc[r][q] = simd::fma(v, wv[t], acc[r][q]);
          else acc[r][q] = simd::fma(v, load(w + t * C + c0), acc[r][q]);
        }
      }
    }
  }
  // Guards, not breaks: clang does not fully unroll a loop with a second exit.
  TESSERA_GEMM_UNROLL
  for (std::size_t r = 0; r < R; ++r) {
    TESSERA_GEMM_UNROLL
    for (std::size_t q = 0; q < PX; ++q) {
      if (r >= nr || q >= nq) continue;
      const std::size_t at = r * row_stride + q * C;
      B v = acc[r][q];
      if (residual) v = v + B::load_unaligned(residual + at);
      clamp(v).store_unaligned(out + at);
    }
  }
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

// The general body: one channel block of one output line (n, oy), one pixel at a time, any
// kernel size (KH = 0: runtime size), stride and dilation; the block's weights stay in
// registers when the size is known at compile time. The epilogue is a pass over the line.
// With `residual_line` and `clamp` it stores clamp(acc + residual) (the tiled bodies' channel
// tail); the general path passes neither and runs the epilogue over the line afterwards.
template <std::size_t KH, std::size_t KW, bool Tail>
void depthwise_block(float* out_line, const line_rows& rows, const conv2d_geometry& g, const float* w,
                     const float* bias, std::size_t c0, std::size_t nc, std::size_t ox_lo, std::size_t ox_hi,
                     const float* residual_line, const dw_clamp& clamp) {
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
    const std::size_t KHr = fixed ? KH : g.kh, KWr = fixed ? KW : g.kw;
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
    if (residual_line) {
      const float* res = residual_line + ox * C + c0;
      acc = acc + (Tail ? simd::load_partial<B>(res, nc) : B::load_unaligned(res));
    }
    acc = clamp(acc);
    if constexpr (Tail) simd::store_partial(o, acc, nc);
    else acc.store_unaligned(o);
  };
  for (std::size_t ox = 0; ox < ox_lo; ++ox) pixel(ox, std::true_type{});
  for (std::size_t ox = ox_lo; ox < ox_hi; ++ox) pixel(ox, std::false_type{});
  for (std::size_t ox = std::max(ox_lo, ox_hi); ox < g.out_w; ++ox) pixel(ox, std::true_type{});
}

// Output lines [oy0, oy0 + nr) (nr <= R) of image n, all channels, the fused epilogue
// included: per channel block (its weights loaded once for the lines), the lines are walked in
// steps of PX outputs; steps whose windows lie inside the image skip the bounds checks.
template <std::size_t KH, std::size_t KW, std::size_t S>
void depthwise_line_group(float* out, const float* in, const conv2d_geometry& g, const float* w, const float* bias,
                          const conv2d_epilogue& ep, std::size_t n, std::size_t oy0, std::size_t nr) {
  using B = simd::f32;
  using T = dw_tiling<KH, KW, S>;
  constexpr std::size_t R = T::R, PX = T::PX, NR = (R - 1) * S + KH;
  const std::size_t C = g.in_c, OW = g.out_w;
  const std::int64_t W = static_cast<std::int64_t>(g.in_w), pl = static_cast<std::int64_t>(g.pl);
  const step_rows<NR> rows(in + n * g.in_h * g.in_w * C, g, oy0);
  // Outputs [0, ox_in) need no bounds check: every tap of output ox is at ox*S - pl + kx.
  // An output is inside when ox*S >= pl and ox*S - pl + KW <= W.
  const std::size_t first_in = (g.pl + S - 1) / S;
  const std::size_t end_in = g.in_w + g.pl >= KW ? std::min(OW, (g.in_w + g.pl - KW) / S + 1) : 0;
  const std::size_t line0 = n * g.out_h + oy0, row_stride = OW * C;
  float* out0 = out + line0 * row_stride;
  const float* res0 = ep.residual ? ep.residual + line0 * row_stride : nullptr;
  const dw_clamp clamp(ep);
  auto block = [&](std::size_t c0, std::size_t ox_begin, std::size_t ox_end) {
    B wv[T::hoist ? KH * KW : 1];
    if constexpr (T::hoist) {
      TESSERA_GEMM_UNROLL
      for (std::size_t t = 0; t < KH * KW; ++t) wv[t] = B::load_unaligned(w + t * C + c0);
    }
    const B bv = B::load_unaligned(bias + c0);
    for (std::size_t ox = ox_begin; ox < ox_end; ox += PX) {
      const std::size_t nq = std::min(PX, OW - ox);
      const std::int64_t x0 = static_cast<std::int64_t>(ox * S) - pl;
      float* o = out0 + ox * C + c0;
      const float* res = res0 ? res0 + ox * C + c0 : nullptr;
      if (ox >= first_in && ox + PX <= end_in)
        depthwise_step<KH, KW, S, R, PX, T::hoist, false>(o, res, row_stride, rows, x0, W, C, c0, nr, nq, bv,
                                                                 wv, w, clamp);
      else
        depthwise_step<KH, KW, S, R, PX, T::hoist, true>(o, res, row_stride, rows, x0, W, C, c0, nr, nq, bv,
                                                                wv, w, clamp);
    }
  };
  const std::size_t c_full = C / B::size * B::size;
  // Column strips whose input rows fit in L1 (dw_strip_bytes), every channel block inside a
  // strip: on wide lines with many channels a block walking the whole line would stream the
  // rows from L2 once per block, in strides of C floats the prefetchers follow badly.
  const std::size_t step_bytes = NR * PX * S * C * sizeof(float);
  const std::size_t strip = PX * std::max<std::size_t>(1, dw_strip_bytes / step_bytes);
  for (std::size_t x = 0; x < OW; x += strip)
    for (std::size_t c0 = 0; c0 < c_full; c0 += B::size) block(c0, x, std::min(OW, x + strip));
  // The channel tail (C not a multiple of the lanes): the per-pixel body, line by line.
  if (c_full < C) {
    const std::size_t ox_lo = std::min(first_in, OW), ox_hi = std::max(ox_lo, end_in);
    for (std::size_t r = 0; r < nr; ++r) {
      const line_rows lr{in + n * g.in_h * g.in_w * C,
                         static_cast<std::int64_t>((oy0 + r) * S) - static_cast<std::int64_t>(g.pt), 1, g.in_h,
                         g.in_w * C};
      depthwise_block<KH, KW, true>(out0 + r * row_stride, lr, g, w, bias, c_full, C - c_full, ox_lo, ox_hi,
                                    res0 ? res0 + r * row_stride : nullptr, clamp);
    }
  }
  if (!clamp.in_registers(ep)) {
    conv2d_epilogue act_only = ep;
    act_only.residual = nullptr;
    conv_epilogue_rows(out0, nullptr, nullptr, nr * OW, C, act_only);
  }
}

// Output lines [l0, l1) through the general body, then the epilogue per line.
template <std::size_t KH, std::size_t KW>
void depthwise_lines(float* out, const float* in, const conv2d_geometry& g, const float* w, const float* bias,
                     const conv2d_epilogue& ep, std::size_t l0, std::size_t l1) {
  using B = simd::f32;
  const std::size_t C = g.in_c;
  // Interior columns [ox_lo, ox_hi): every tap inside [0, W).
  std::size_t ox_lo = std::min((g.pl + g.sw - 1) / g.sw, g.out_w), ox_hi = ox_lo;  // first ox with ox*sw >= pl
  const std::size_t ext = (g.kw - 1) * g.dw;
  if (g.in_w + g.pl >= ext + 1) ox_hi = std::max(ox_lo, std::min(g.out_w, (g.in_w + g.pl - ext - 1) / g.sw + 1));
  const std::size_t c_full = C / B::size * B::size;
  for (std::size_t line = l0; line < l1; ++line) {
    const std::size_t n = line / g.out_h, oy = line % g.out_h;
    const line_rows rows{in + n * g.in_h * g.in_w * C,
                         static_cast<std::int64_t>(oy * g.sh) - static_cast<std::int64_t>(g.pt), g.dh, g.in_h,
                         g.in_w * C};
    float* out_line = out + line * g.out_w * C;
    const dw_clamp none(conv2d_epilogue{});
    for (std::size_t c0 = 0; c0 < c_full; c0 += B::size)
      depthwise_block<KH, KW, false>(out_line, rows, g, w, bias, c0, B::size, ox_lo, ox_hi, nullptr, none);
    if (c_full < C)
      depthwise_block<KH, KW, true>(out_line, rows, g, w, bias, c_full, C - c_full, ox_lo, ox_hi, nullptr, none);
    conv_epilogue_rows(out_line, nullptr, ep.residual ? ep.residual + line * g.out_w * C : nullptr, g.out_w, C, ep);
  }
}

inline void depthwise_conv(float* out, const float* in, const conv2d_geometry& g, const float* w, const float* bias,
                           const conv2d_epilogue& ep, runtime::thread_pool& tp) {
  const std::size_t per_line = std::max<std::size_t>(1, g.out_w * g.in_c * g.kh * g.kw);
  // 3x3 and 5x5 with stride 1 or 2 and no dilation: the register-tiled line groups (the
  // common layers); everything else: the general per-pixel body.
  auto tiled = [&](auto kh_tag, auto s_tag) {
    constexpr std::size_t K = decltype(kh_tag)::value, S = decltype(s_tag)::value, R = dw_tiling<K, K, S>::R;
    const std::size_t groups_per_image = (g.out_h + R - 1) / R, units = g.batch * groups_per_image;
    runtime::parallel_for(tp, 0, units, std::max<std::size_t>(1, 32768 / (per_line * R)), [&](std::size_t u0, std::size_t u1) {
      for (std::size_t u = u0; u < u1; ++u) {
        const std::size_t n = u / groups_per_image, oy0 = u % groups_per_image * R;
        depthwise_line_group<K, K, S>(out, in, g, w, bias, ep, n, oy0, std::min(R, g.out_h - oy0));
      }
    });
  };
  using k3 = std::integral_constant<std::size_t, 3>;
  using k5 = std::integral_constant<std::size_t, 5>;
  using s1 = std::integral_constant<std::size_t, 1>;
  using s2 = std::integral_constant<std::size_t, 2>;
  const bool square = g.kh == g.kw && g.dh == 1 && g.dw == 1 && g.sh == g.sw && (g.sw == 1 || g.sw == 2);
  if (square && g.kh == 3) return g.sw == 1 ? tiled(k3{}, s1{}) : tiled(k3{}, s2{});
  if (square && g.kh == 5) return g.sw == 1 ? tiled(k5{}, s1{}) : tiled(k5{}, s2{});
  runtime::parallel_for(tp, 0, g.batch * g.out_h, std::max<std::size_t>(1, 32768 / per_line),
                        [&](std::size_t l0, std::size_t l1) {
                          if (g.kh == 3 && g.kw == 3) depthwise_lines<3, 3>(out, in, g, w, bias, ep, l0, l1);
                          else if (g.kh == 5 && g.kw == 5) depthwise_lines<5, 5>(out, in, g, w, bias, ep, l0, l1);
                          else depthwise_lines<0, 0>(out, in, g, w, bias, ep, l0, l1);
                        });
}

}  // namespace tessera::kernels::detail
