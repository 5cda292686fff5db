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
//                 then one GEMM per group and tile. The scratch comes from a caller-owned
//                 conv2d_workspace (reused across calls) or a per-call buffer.
//   depthwise     groups == Cin == Cout: a direct kernel vectorized over channels, with
//                 compile-time 3x3 and 5x5 bodies (any stride, padding, dilation) and a
//                 runtime-size fallback.
//   ConvTranspose GEMM (A = input, B = [Cin/g, kh*kw*Cout/g]) into a bounded column scratch,
//                 then a scatter-add (col2im) into the output.
//
// Bias, residual and activation are fused: through the GEMM epilogue on the GEMM paths, per
// output row on the direct paths: out = act(conv + bias + residual). `residual` is an NHWC
// tensor shaped like the output and must not overlap it.
#pragma once

#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/kernels/layout.hpp>
#include <tessera/kernels/pool.hpp>  // row helpers shared with pooling
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace tessera::kernels {

enum class conv2d_algorithm : int { automatic, gemm_1x1, im2col_gemm, depthwise };

inline const char* conv2d_algorithm_name(conv2d_algorithm a) noexcept {
  switch (a) {
    case conv2d_algorithm::automatic: return "automatic";
    case conv2d_algorithm::gemm_1x1: return "gemm_1x1";
    case conv2d_algorithm::im2col_gemm: return "im2col_gemm";
    case conv2d_algorithm::depthwise: return "depthwise";
  }
  return "unknown";
}

// Per-call fusion. The bias belongs to the prepared weights.
struct conv2d_epilogue {
  const float* residual = nullptr;  // NHWC, output-shaped, not overlapping the output; or null
  activation act = activation::none;
  float clip_min = -INFINITY, clip_max = INFINITY;
};

// Scratch memory reused across calls (im2col patches, ConvTranspose columns). Not shared
// between threads that call conv2d concurrently: give each caller its own.
class conv2d_workspace {
 public:
  float* get(std::size_t n) {
    if (buf_.size() < n) buf_.resize(n);
    return buf_.data();
  }
  std::size_t size() const noexcept { return buf_.size(); }

 private:
  std::vector<float> buf_;
};

namespace detail {

// Target size of one im2col / column tile in floats (2 MiB): big enough for GEMM tiles with
// hundreds of rows, small enough to stay in L2/L3 between the gather and the GEMM.
inline constexpr std::size_t conv_scratch_floats = std::size_t{1} << 19;

// Lines (rows of `line_floats` scratch floats each) per scratch tile: as many as fit in
// conv_scratch_floats, at least 1, at most `lines`.
inline std::size_t scratch_lines_per_tile(std::size_t lines, std::size_t line_floats) noexcept {
  return std::min(lines, std::max<std::size_t>(1, conv_scratch_floats / std::max<std::size_t>(1, line_floats)));
}

// The scratch of one call: the caller's workspace when given, else `local` (per call).
inline float* conv_scratch(conv2d_workspace* ws, std::vector<float>& local, std::size_t n) {
  if (ws) return ws->get(n);
  local.resize(n);
  return local.data();
}

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

inline status validate_conv_epilogue(const conv2d_epilogue& ep, const char* op) {
  return validate_epilogue(to_epilogue(ep), op);
}

// Checks parameters that do not depend on the input size (at prepare time).
inline status check_conv_params(const conv2d_params& p, std::int64_t in_c, std::int64_t out_c, const char* op) {
  TESSERA_TRY(check_range(op, "in_channels", in_c, 1));
  TESSERA_TRY(check_range(op, "out_channels", out_c, 1));
  TESSERA_TRY(check_range(op, "groups", p.groups, 1));
  TESSERA_TRY(check_window(op, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_top,
                           p.pad_left, p.pad_bottom, p.pad_right));
  TESSERA_TRY(check_groups(op, in_c, out_c, p.groups));
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  if (!count_fits(u(out_c), u(in_c / p.groups), u(p.kernel_h), u(p.kernel_w)) ||
      !count_fits(u(in_c), u(out_c / p.groups), u(p.kernel_h), u(p.kernel_w)))
    return make_error(errc::out_of_range, std::string(op) + ": weight element count overflows");
  return {};
}

inline status check_conv_buffers(float* out, const float* in, const conv2d_geometry& g, const conv2d_epilogue& ep,
                                 const char* op) {
  if (!out || !in) return make_error(errc::invalid_argument, std::string(op) + ": null tensor");
  if (overlaps(out, g.out_size(), in, g.in_size()))
    return make_error(errc::invalid_argument, std::string(op) + ": output overlaps the input (no in-place convolution)");
  if (ep.residual && overlaps(out, g.out_size(), ep.residual, g.out_size()))
    return make_error(errc::invalid_argument, std::string(op) + ": residual overlaps the output");
  return {};
}

// ---- depthwise direct kernel ----------------------------------------------------------
// One channel block of one output line (n, oy), one pixel at a time: the block's weights stay
// in registers (compile-time KH x KW) while ox walks the line; interior pixels skip the bounds
// checks. Serves the borders, channel tails, and strides/dilations without a blocked body.
template <std::size_t KH, std::size_t KW, bool Tail>
void depthwise_block(float* out_line, const float* const* rows, const conv2d_geometry& g, const float* w,
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
  for (std::size_t ox = ox0; ox < ox1; ox += PX) {
    const std::size_t x0 = ox * S - g.pl;  // interior: >= 0
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
              if (j >= q * S && j - q * S < KW)
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
  }
}

// The same interior for small windows (3x3) with the weights of a channel block in registers
// for the whole step: per step of PX outputs, each channel block loads its KH*KW weights once,
// then every input column once per kernel row, and each weight serves PX outputs (the body
// above reloads a weight per FMA). PX = 6: 6 accumulators + 9 weights + 1 column = 16
// registers at 3x3. Channel blocks stay inside the step so its input columns stay in L1.
// Against the blocked body, measured in one process: native AVX2 +3-15%, WASM +32-54%
// (112x112x32, 56x56x144/2, 28x28x192).
template <std::size_t KH, std::size_t KW, std::size_t S, std::size_t PX>
void depthwise_interior_wreg(float* out_line, const float* const* rows, const conv2d_geometry& g, const float* w,
                             const float* bias, std::size_t c_full, std::size_t ox0, std::size_t ox1) {
  using B = simd::f32;
  constexpr std::size_t cols = (PX - 1) * S + KW;
  const std::size_t C = g.in_c;
  for (std::size_t ox = ox0; ox < ox1; ox += PX) {
    const std::size_t x0 = ox * S - g.pl;  // interior: >= 0
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
            if (j >= q * S && j - q * S < KW) acc[q] = simd::fma(v, wv[ky * KW + (j - q * S)], acc[q]);
        }
      }
      TESSERA_GEMM_UNROLL
      for (std::size_t q = 0; q < PX; ++q) acc[q].store_unaligned(out_line + (ox + q) * C + c0);
    }
  }
}

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
  const float* rows[KH != 0 ? KH : 64];
  std::vector<const float*> rows_dyn;
  const float** rp = rows;
  if (KH == 0 && g.kh > 64) {
    rows_dyn.resize(g.kh);
    rp = rows_dyn.data();
  }
  for (std::size_t line = l0; line < l1; ++line) {
    const std::size_t n = line / g.out_h, oy = line % g.out_h;
    const std::int64_t y0 = static_cast<std::int64_t>(oy * g.sh) - static_cast<std::int64_t>(g.pt);
    for (std::size_t ky = 0; ky < g.kh; ++ky) {
      const std::int64_t iy = y0 + static_cast<std::int64_t>(ky * g.dh);
      rp[ky] = (iy < 0 || iy >= static_cast<std::int64_t>(g.in_h))
                   ? nullptr
                   : in + (n * g.in_h + static_cast<std::size_t>(iy)) * g.in_w * C;
    }
    float* out_line = out + line * g.out_w * C;
    const std::size_t c_full = C / B::size * B::size;
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

// ---- im2col -------------------------------------------------------------------------------
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

}  // namespace detail

// Weights of one Conv node, prepared for the NHWC kernels.
class prepared_conv2d {
 public:
  // weight: ONNX/PyTorch OIHW [out_channels, in_channels/groups, kernel_h, kernel_w];
  // bias: out_channels values or null. `algo` forces a path (tests, benchmarks); automatic
  // picks depthwise, then gemm_1x1, then im2col_gemm.
  static expected<prepared_conv2d> prepare(const conv2d_params& p, std::int64_t in_channels,
                                           std::int64_t out_channels, const float* weight, const float* bias,
                                           conv2d_algorithm algo = conv2d_algorithm::automatic) {
    constexpr const char* op = "prepare_conv2d";
    TESSERA_TRY(detail::check_conv_params(p, in_channels, out_channels, op));
    if (!weight) return make_error(errc::invalid_argument, std::string(op) + ": null weight");
    prepared_conv2d w;
    w.p_ = p;
    w.in_c_ = static_cast<std::size_t>(in_channels);
    w.out_c_ = static_cast<std::size_t>(out_channels);
    const std::size_t G = static_cast<std::size_t>(p.groups), icg = w.in_c_ / G, ocg = w.out_c_ / G;
    const std::size_t kh = static_cast<std::size_t>(p.kernel_h), kw = static_cast<std::size_t>(p.kernel_w);
    const bool depthwise_ok = G == w.in_c_ && G == w.out_c_;
    const bool pointwise_ok = kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                              p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
    if (algo == conv2d_algorithm::automatic)
      algo = depthwise_ok ? conv2d_algorithm::depthwise
             : pointwise_ok ? conv2d_algorithm::gemm_1x1
                            : conv2d_algorithm::im2col_gemm;
    if (algo == conv2d_algorithm::depthwise && !depthwise_ok)
      return make_error(errc::unsupported, std::string(op) + ": depthwise needs groups == in_channels == out_channels");
    if (algo == conv2d_algorithm::gemm_1x1 && !pointwise_ok)
      return make_error(errc::unsupported, std::string(op) + ": gemm_1x1 needs a 1x1 kernel, stride 1, no padding");
    w.algo_ = algo;
    if (bias) w.bias_.assign(bias, bias + w.out_c_);
    if (algo == conv2d_algorithm::depthwise) {
      // [kh][kw][C]: one contiguous channel row per tap.
      const std::size_t C = w.in_c_;
      w.dw_weight_.resize(kh * kw * C);
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t t = 0; t < kh * kw; ++t) w.dw_weight_[t * C + c] = weight[c * kh * kw + t];
      if (w.bias_.empty()) w.bias_.assign(C, 0.0f);
      return w;
    }
    // Per group: B[(ky*kw + kx)*icg + ci][co] = W[g*ocg + co][ci][ky][kx].
    const std::size_t K = kh * kw * icg;
    std::vector<float> b(K * ocg);
    w.packed_.reserve(G);
    for (std::size_t grp = 0; grp < G; ++grp) {
      for (std::size_t co = 0; co < ocg; ++co)
        for (std::size_t ci = 0; ci < icg; ++ci)
          for (std::size_t t = 0; t < kh * kw; ++t)
            b[(t * icg + ci) * ocg + co] = weight[(((grp * ocg + co) * icg + ci) * kh * kw) + t];
      TESSERA_ASSIGN_OR_RETURN(auto packed, packed_b_f32::pack(K, ocg, b.data(), static_cast<std::ptrdiff_t>(ocg),
                                                               transpose::no));
      w.packed_.push_back(std::move(packed));
    }
    return w;
  }

  const conv2d_params& params() const noexcept { return p_; }
  std::size_t in_channels() const noexcept { return in_c_; }
  std::size_t out_channels() const noexcept { return out_c_; }
  conv2d_algorithm algorithm() const noexcept { return algo_; }

  // Validated sizes for an input; the output is [batch, out_h, out_w, out_channels].
  expected<conv2d_geometry> geometry(const image_shape& in) const {
    if (in.channels != static_cast<std::int64_t>(in_c_))
      return make_error(errc::shape_mismatch, "conv2d: input has " + std::to_string(in.channels) +
                                                  " channels, weights expect " + std::to_string(in_c_));
    return conv2d_geometry_of(in, static_cast<std::int64_t>(out_c_), p_);
  }

  // Scratch floats a call on `in` uses (0 for the paths without scratch).
  std::size_t workspace_floats(const conv2d_geometry& g) const noexcept {
    if (algo_ != conv2d_algorithm::im2col_gemm) return 0;
    const std::size_t K = g.kh * g.kw * g.in_cg;
    return lines_per_tile(g) * g.out_w * K;
  }

 private:
  friend status conv2d(float*, const float*, const image_shape&, const prepared_conv2d&, const conv2d_epilogue&,
                       conv2d_workspace*, runtime::thread_pool*);

  static std::size_t lines_per_tile(const conv2d_geometry& g) noexcept {
    return detail::scratch_lines_per_tile(g.batch * g.out_h, g.out_w * g.kh * g.kw * g.in_cg);
  }

  conv2d_params p_;
  std::size_t in_c_ = 0, out_c_ = 0;
  conv2d_algorithm algo_ = conv2d_algorithm::im2col_gemm;
  std::vector<packed_b_f32> packed_;  // GEMM paths: one per group
  std::vector<float> dw_weight_;      // depthwise: [kh][kw][C]
  std::vector<float> bias_;           // out_channels values, or empty (GEMM paths, no bias)
};

// out [N, OH, OW, Cout] = act(Conv(in [N, H, W, Cin]) + bias + residual), NHWC.
// `in_shape` holds the logical sizes; `ws` (optional) keeps the im2col scratch across calls;
// `pool` defaults to runtime::default_pool().
inline status conv2d(float* out, const float* in, const image_shape& in_shape, const prepared_conv2d& w,
                     const conv2d_epilogue& ep = {}, conv2d_workspace* ws = nullptr,
                     runtime::thread_pool* pool = nullptr) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, w.geometry(in_shape));
  TESSERA_TRY(detail::validate_conv_epilogue(ep, "conv2d"));
  TESSERA_TRY(detail::check_conv_buffers(out, in, g, ep, "conv2d"));
  if (g.batch == 0) return {};
  runtime::thread_pool& tp = runtime::pool_or_default(pool);
  const std::ptrdiff_t ldo = static_cast<std::ptrdiff_t>(g.out_c);
  const float* bias = w.bias_.empty() ? nullptr : w.bias_.data();
  auto gemm_epilogue = [&](std::size_t grp, std::size_t row0) {
    epilogue e = detail::to_epilogue(ep);
    e.bias = bias ? bias + grp * g.out_cg : nullptr;
    e.residual = ep.residual ? ep.residual + row0 * g.out_c + grp * g.out_cg : nullptr;
    e.ld_residual = ldo;
    return e;
  };

  switch (w.algo_) {
    case conv2d_algorithm::depthwise:
      detail::depthwise_conv(out, in, g, w.dw_weight_.data(), bias, ep, tp);
      return {};
    case conv2d_algorithm::gemm_1x1: {
      const std::size_t M = g.batch * g.in_h * g.in_w;
      for (std::size_t grp = 0; grp < g.groups; ++grp)
        TESSERA_TRY(gemm_f32(M, in + grp * g.in_cg, static_cast<std::ptrdiff_t>(g.in_c), w.packed_[grp],
                             out + grp * g.out_cg, ldo, gemm_epilogue(grp, 0), &tp));
      return {};
    }
    case conv2d_algorithm::im2col_gemm:
    case conv2d_algorithm::automatic: {
      const std::size_t lines = g.batch * g.out_h;
      const std::size_t tile = prepared_conv2d::lines_per_tile(g);
      const std::size_t K = g.kh * g.kw * g.in_cg;
      std::vector<float> local;
      float* col = detail::conv_scratch(ws, local, tile * g.out_w * K);
      for (std::size_t l0 = 0; l0 < lines; l0 += tile) {
        const std::size_t l1 = std::min(lines, l0 + tile);
        const std::size_t row0 = l0 * g.out_w, M = (l1 - l0) * g.out_w;
        for (std::size_t grp = 0; grp < g.groups; ++grp) {
          runtime::parallel_for(tp, l0, l1, 1, [&](std::size_t a, std::size_t b) {
            detail::im2col_lines(col + (a - l0) * g.out_w * K, in, g, grp, a, b);
          });
          TESSERA_TRY(gemm_f32(M, col, static_cast<std::ptrdiff_t>(K), w.packed_[grp], out + row0 * g.out_c + grp * g.out_cg,
                               ldo, gemm_epilogue(grp, row0), &tp));
        }
      }
      return {};
    }
  }
  return make_error(errc::invalid_argument, "conv2d: unknown algorithm");
}

// Weights of one ConvTranspose node, packed for the GEMM + col2im path.
class prepared_conv_transpose2d {
 public:
  // weight: ONNX/PyTorch IOHW [in_channels, out_channels/groups, kernel_h, kernel_w];
  // bias: out_channels values or null.
  static expected<prepared_conv_transpose2d> prepare(const conv2d_params& p, std::int64_t in_channels,
                                                     std::int64_t out_channels, const float* weight,
                                                     const float* bias) {
    constexpr const char* op = "prepare_conv_transpose2d";
    TESSERA_TRY(detail::check_conv_params(p, in_channels, out_channels, op));
    TESSERA_TRY(detail::check_range(op, "output_padding_h", p.output_padding_h, 0));
    TESSERA_TRY(detail::check_range(op, "output_padding_w", p.output_padding_w, 0));
    if (!weight) return make_error(errc::invalid_argument, std::string(op) + ": null weight");
    prepared_conv_transpose2d w;
    w.p_ = p;
    w.in_c_ = static_cast<std::size_t>(in_channels);
    w.out_c_ = static_cast<std::size_t>(out_channels);
    const std::size_t G = static_cast<std::size_t>(p.groups), icg = w.in_c_ / G, ocg = w.out_c_ / G;
    const std::size_t taps = static_cast<std::size_t>(p.kernel_h * p.kernel_w);
    if (bias) w.bias_.assign(bias, bias + w.out_c_);
    // Per group: B[ci][t*ocg + co] = W[g*icg + ci][co][t].
    const std::size_t Ncols = taps * ocg;
    std::vector<float> b(icg * Ncols);
    w.packed_.reserve(G);
    for (std::size_t grp = 0; grp < G; ++grp) {
      for (std::size_t ci = 0; ci < icg; ++ci)
        for (std::size_t co = 0; co < ocg; ++co)
          for (std::size_t t = 0; t < taps; ++t)
            b[ci * Ncols + t * ocg + co] = weight[((grp * icg + ci) * ocg + co) * taps + t];
      TESSERA_ASSIGN_OR_RETURN(auto packed, packed_b_f32::pack(icg, Ncols, b.data(), static_cast<std::ptrdiff_t>(Ncols),
                                                               transpose::no));
      w.packed_.push_back(std::move(packed));
    }
    return w;
  }

  const conv2d_params& params() const noexcept { return p_; }
  std::size_t in_channels() const noexcept { return in_c_; }
  std::size_t out_channels() const noexcept { return out_c_; }

  expected<conv2d_geometry> geometry(const image_shape& in) const {
    if (in.channels != static_cast<std::int64_t>(in_c_))
      return make_error(errc::shape_mismatch, "conv_transpose2d: input has " + std::to_string(in.channels) +
                                                  " channels, weights expect " + std::to_string(in_c_));
    return conv_transpose2d_geometry_of(in, static_cast<std::int64_t>(out_c_), p_);
  }

 private:
  friend status conv_transpose2d(float*, const float*, const image_shape&, const prepared_conv_transpose2d&,
                                 const conv2d_epilogue&, conv2d_workspace*, runtime::thread_pool*);
  conv2d_params p_;
  std::size_t in_c_ = 0, out_c_ = 0;
  std::vector<packed_b_f32> packed_;
  std::vector<float> bias_;
};

// out [N, OH, OW, Cout] = act(ConvTranspose(in [N, H, W, Cin]) + bias + residual), NHWC.
inline status conv_transpose2d(float* out, const float* in, const image_shape& in_shape,
                               const prepared_conv_transpose2d& w, const conv2d_epilogue& ep = {},
                               conv2d_workspace* ws = nullptr, runtime::thread_pool* pool = nullptr) {
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
  std::vector<float> local;
  float* col = detail::conv_scratch(ws, local, tile * g.in_w * Ncols);
  const std::int64_t OH = static_cast<std::int64_t>(g.out_h), OW = static_cast<std::int64_t>(g.out_w);
  for (std::size_t l0 = 0; l0 < lines; l0 += tile) {
    const std::size_t l1 = std::min(lines, l0 + tile);
    for (std::size_t grp = 0; grp < g.groups; ++grp) {
      TESSERA_TRY(gemm_f32((l1 - l0) * g.in_w, in + l0 * g.in_w * g.in_c + grp * g.in_cg,
                           static_cast<std::ptrdiff_t>(g.in_c), w.packed_[grp], col,
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
  const float* bias = w.bias_.empty() ? nullptr : w.bias_.data();
  if (bias || ep.residual || ep.act != activation::none)
    runtime::parallel_for(tp, 0, out_pixels, 256, [&](std::size_t a, std::size_t b) {
      detail::conv_epilogue_rows(out + a * g.out_c, bias, ep.residual ? ep.residual + a * g.out_c : nullptr, b - a,
                                 g.out_c, ep);
    });
  return {};
}

}  // namespace tessera::kernels
