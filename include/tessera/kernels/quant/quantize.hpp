// Quantization part: f32 rows to ggml's block types with ggml's reference (round-to-nearest)
// schemes, so a tensor tessera writes holds the bytes llama.cpp's reference quantizer writes
// (llama-quantize without an importance matrix) and activations quantize as ggml's matmuls
// quantize them:
//   Q8_0 / Q8_1  d = amax / 127, q = round(x / d) (half away from zero); Q8_1 adds d * sum(q);
//   Q4_0 / Q5_0  d = v / -8 (-16) for the v of largest magnitude, q = floor(x / d + 8.5) (16.5)
//                capped at 15 (31);
//   Q4_1 / Q5_1  d = (max - min) / 15 (31), m = min, q = floor((x - min) / d + 0.5);
//   Q4_K / Q5_K  per sub-block of 32 a weighted least-squares search over scale and min
//                (make_qkx2_quants: 21 / 16 candidate scales, weights |x| + rms), scales and
//                mins stored as 6 bits of the super-block's f16 d and dmin, then re-rounded;
//   Q6_K         per sub-block of 16 a search over 19 scales (make_qx_quants, weights x^2),
//                int8 scales of the super-block's f16 d;
//   Q8_K         d = max / -127 for the max of largest magnitude, f32 d, sums of each 16 q.
// Rounding to nearest is done as ggml does it (adding 1.5 * 2^23), so ties break the same way.
// ggml compiles these in ISO C, where a * b + c is never fused into one FMA; C++ compilers fuse
// by default (GCC across statements, clang within one), which moves values across rounding
// boundaries. So this file turns contraction off: GCC by an optimize region, clang by a pragma
// at the top of each function (TESSERA_QUANT_EXACT_FP).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/bit_cast.hpp>
#include <tessera/core/dtype.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__clang__)
#define TESSERA_QUANT_EXACT_FP _Pragma("clang fp contract(off)")
#else
#define TESSERA_QUANT_EXACT_FP
#if defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
#endif

namespace tessera::kernels::detail::quant {

// Round to nearest int (ties to even) through the float format: valid for |v| < 2^22.
inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;  // 1.5 * 2^23: the low mantissa bits hold the result
  return static_cast<int>(bit_cast<std::uint32_t>(shifted) & 0x007fffffu) - 0x00400000;
}

// Float to a small integer type with C's truncation for values in range (what ggml's casts
// do), saturating beyond it and 0 for NaN: a block whose scale underflows makes 1/d infinite,
// and ggml's plain casts of such products are undefined behaviour.
template <class Int>
inline Int truncate_to(float v) {
  if (!(v == v)) return Int{0};
  const float lo = static_cast<float>(std::numeric_limits<Int>::min()), hi = static_cast<float>(std::numeric_limits<Int>::max());
  return static_cast<Int>(std::clamp(v, lo, hi));
}

// The value of largest magnitude in x[0, n) (the first of equal magnitudes), and that magnitude.
inline void signed_absmax(const float* x, std::size_t n, float& value, float& magnitude) {
  value = 0.0f;
  magnitude = 0.0f;
  for (std::size_t i = 0; i < n; ++i)
    if (std::fabs(x[i]) > magnitude) {
      magnitude = std::fabs(x[i]);
      value = x[i];
    }
}

inline void min_max(const float* x, std::size_t n, float& lo, float& hi) {
  lo = FLT_MAX;
  hi = -FLT_MAX;
  for (std::size_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
}

// std::round (halves away from zero) in operations that vectorize, where a call to roundf
// does not: v - trunc(v) is exact, so the result is too.
inline float round_half_away(float v) {
  const float t = std::trunc(v);
  return std::fabs(v - t) >= 0.5f ? t + std::copysign(1.0f, v) : t;
}

// ---- 32-element blocks -----------------------------------------------------------------------
// Q8_0 and Q8_1: d = amax / 127, q = round(x / d); Q8_1 also keeps d * sum(q).
// The activations of every product go through here, so it is written in vectors (the max of
// finite magnitudes as the max of their bits); callers pass finite values (quantize_blocks
// poisons the others' blocks).
template <class Block>
inline void quantize_q8(const float* x, Block& b) {
  TESSERA_QUANT_EXACT_FP
  std::uint32_t amax_bits = 0;
  for (int i = 0; i < 32; ++i) amax_bits = std::max(amax_bits, bit_cast<std::uint32_t>(x[i]) & 0x7fffffffu);
  const float amax = bit_cast<float>(amax_bits);
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f16(d);
  // round_half_away and truncate_to, in vectors (NaN or infinite where 1 / d overflowed).
  using V = simd::batch<float>;
  static_assert(32 % V::size == 0);
  const V vid(id), half(0.5f), one(1.0f), lo(-128.0f), hi(127.0f), zero(0.0f);
  alignas(64) std::int32_t codes[32];
  for (int i = 0; i < 32; i += static_cast<int>(V::size)) {
    const V v = V::load_unaligned(x + i) * vid;
    const V t = xsimd::trunc(v);
    V r = xsimd::select(xsimd::abs(v - t) >= half, xsimd::select(v < zero, t - one, t + one), t);
    r = xsimd::select(r == r, xsimd::min(xsimd::max(r, lo), hi), zero);
    xsimd::to_int(r).store_aligned(codes + i);
  }
  int sum = 0;
  for (int i = 0; i < 32; ++i) {
    b.qs[i] = static_cast<std::int8_t>(codes[i]);
    sum += codes[i];
  }
  if constexpr (std::is_same_v<Block, block_q8_1>) b.s = f16(static_cast<float>(sum) * d);
}
inline void quantize_block(const float* x, block_q8_0& b) { quantize_q8(x, b); }
inline void quantize_block(const float* x, block_q8_1& b) { quantize_q8(x, b); }

// Symmetric 4/5-bit codes: d maps the extreme value to -2^(bits-1); codes are floor(x/d + half).
template <int Levels>
inline void symmetric_codes(const float* x, float& d_out, std::uint8_t* q) {
  TESSERA_QUANT_EXACT_FP
  float max = 0.0f, amax = 0.0f;
  signed_absmax(x, 32, max, amax);
  const float d = max / -static_cast<float>(Levels / 2);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d_out = d;
  const float offset = static_cast<float>(Levels / 2) + 0.5f;
  for (int i = 0; i < 32; ++i)
    q[i] = static_cast<std::uint8_t>(std::min(Levels - 1, static_cast<int>(truncate_to<std::int8_t>(x[i] * id + offset))));
}

// Asymmetric codes: d spans [min, max] in Levels - 1 steps, codes are floor((x - min)/d + 0.5).
template <int Levels>
inline void asymmetric_codes(const float* x, float& d_out, float& m_out, std::uint8_t* q) {
  TESSERA_QUANT_EXACT_FP
  float lo = 0.0f, hi = 0.0f;
  min_max(x, 32, lo, hi);
  const float d = (hi - lo) / static_cast<float>(Levels - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d_out = d;
  m_out = lo;
  for (int i = 0; i < 32; ++i) {
    const int v = static_cast<int>(truncate_to<std::uint8_t>((x[i] - lo) * id + 0.5f));
    q[i] = static_cast<std::uint8_t>(std::min(Levels - 1, v));
  }
}

// Element i < 16 in the low nibble of byte i, element 16 + i in its high nibble.
inline void pack_nibbles(const std::uint8_t* q, std::uint8_t* qs) {
  for (int i = 0; i < 16; ++i) qs[i] = static_cast<std::uint8_t>((q[i] & 0x0f) | ((q[i + 16] & 0x0f) << 4));
}
inline std::uint32_t fifth_bits(const std::uint8_t* q) {
  std::uint32_t qh = 0;
  for (int i = 0; i < 32; ++i) qh |= static_cast<std::uint32_t>((q[i] >> 4) & 1u) << i;
  return qh;
}

inline void quantize_block(const float* x, block_q4_0& b) {
  std::uint8_t q[32];
  float d = 0.0f;
  symmetric_codes<16>(x, d, q);
  b.d = f16(d);
  pack_nibbles(q, b.qs);
}

inline void quantize_block(const float* x, block_q5_0& b) {
  std::uint8_t q[32];
  float d = 0.0f;
  symmetric_codes<32>(x, d, q);
  b.d = f16(d);
  pack_nibbles(q, b.qs);
  const std::uint32_t qh = fifth_bits(q);
  std::memcpy(b.qh, &qh, 4);
}

inline void quantize_block(const float* x, block_q4_1& b) {
  std::uint8_t q[32];
  float d = 0.0f, m = 0.0f;
  asymmetric_codes<16>(x, d, m, q);
  b.d = f16(d);
  b.m = f16(m);
  pack_nibbles(q, b.qs);
}

inline void quantize_block(const float* x, block_q5_1& b) {
  std::uint8_t q[32];
  float d = 0.0f, m = 0.0f;
  asymmetric_codes<32>(x, d, m, q);
  b.d = f16(d);
  b.m = f16(m);
  pack_nibbles(q, b.qs);
  const std::uint32_t qh = fifth_bits(q);
  std::memcpy(b.qh, &qh, 4);
}

// ---- K-quant searches ---------------------------------------------------------------------
// Scale and min for codes L in [0, nmax] of x[0, n) under weights w: a first guess from the
// range, then nstep + 1 candidate scales (rmin + rdelta * i + nmax) / range, each refit by
// weighted least squares (min clamped to <= 0); the lowest weighted squared error wins.
// Returns the scale; *neg_min receives -min.
inline float search_scale_min(int n, int nmax, const float* x, const float* w, std::uint8_t* L, float* neg_min,
                              float rmin, float rdelta, int nstep) {
  TESSERA_QUANT_EXACT_FP
  float lo = x[0], hi = x[0];
  float sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -lo;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (hi - lo);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<std::uint8_t>(std::clamp(nearest_int(iscale * (x[i] - lo)), 0, nmax));
    const float diff = scale * L[i] + lo - x[i];
    best_error += w[i] * (diff * diff);
  }
  std::uint8_t cand[32];
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - lo)), 0, nmax);
      cand[i] = static_cast<std::uint8_t>(l);
      sum_l += w[i] * static_cast<float>(l);
      sum_l2 += w[i] * static_cast<float>(l) * static_cast<float>(l);
      sum_xl += w[i] * static_cast<float>(l) * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float fit_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float fit_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (fit_min > 0) {
        fit_min = 0;
        fit_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = fit_scale * cand[i] + fit_min - x[i];
        error += w[i] * (diff * diff);
      }
      if (error < best_error) {
        std::memcpy(L, cand, static_cast<std::size_t>(n));
        best_error = error;
        scale = fit_scale;
        lo = fit_min;
      }
    }
  }
  *neg_min = -lo;
  return scale;
}

// Signed codes L + nmax in [0, 2 nmax) for x[0, n): the scale maximising the weighted
// correlation over 19 candidates around -nmax / max (weights x^2). Returns the scale.
inline float search_signed_scale(int n, int nmax, const float* x, std::int8_t* L) {
  TESSERA_QUANT_EXACT_FP
  float max = 0, amax = 0;
  signed_absmax(x, static_cast<std::size_t>(n), max, amax);
  if (amax < 1e-15f) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const auto code = [&](float iscale, int i) { return std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1); };
  float iscale = -static_cast<float>(nmax) / max;
  float sum_lx = 0, sum_l2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = code(iscale, i);
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sum_lx += w * x[i] * static_cast<float>(l);
    sum_l2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = sum_l2 != 0 ? sum_lx / sum_l2 : 0.0f;
  float best = scale * sum_lx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
    sum_lx = sum_l2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = code(iscale, i);
      const float w = x[i] * x[i];
      sum_lx += w * x[i] * static_cast<float>(l);
      sum_l2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<std::int8_t>(code(iscale, i) + nmax);
      scale = sum_lx / sum_l2;
      best = scale * sum_lx;
    }
  }
  return scale;
}

// The 12 scale bytes of Q4_K/Q5_K: 8 six-bit scales and 8 six-bit mins. Sub-blocks 0-3 keep
// theirs in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 in the nibbles
// of bytes 8-11 with their top two bits in the top bits of bytes 0-7.
inline void pack_scales_k4(const std::uint8_t* ls, const std::uint8_t* lm, std::uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = ls[j];
    s[j + 4] = lm[j];
  }
  for (int j = 4; j < 8; ++j) {
    s[j + 4] = static_cast<std::uint8_t>((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
    s[j - 4] = static_cast<std::uint8_t>(s[j - 4] | ((ls[j] >> 4) << 6));
    s[j] = static_cast<std::uint8_t>(s[j] | ((lm[j] >> 4) << 6));
  }
}
inline void unpack_scale_k4(int j, const std::uint8_t* s, std::uint8_t& scale, std::uint8_t& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = static_cast<std::uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    min = static_cast<std::uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q4_K and Q5_K share everything but the code range (15 / 31) and the search's parameters.
template <int Nmax>
inline void quantize_k_super_block(const float* x, f16& d_out, f16& dmin_out, std::uint8_t* scales_out, std::uint8_t* L) {
  TESSERA_QUANT_EXACT_FP
  float scales[8], mins[8], w[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float rms = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) w[l] = rms + std::fabs(xs[l]);
    if constexpr (Nmax == 15) scales[j] = search_scale_min(32, Nmax, xs, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
    else scales[j] = search_scale_min(32, Nmax, xs, w, L + 32 * j, &mins[j], -0.5f, 0.1f, 15);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  std::uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::min<std::uint8_t>(63, static_cast<std::uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<std::uint8_t>(63, static_cast<std::uint8_t>(nearest_int(inv_min * mins[j])));
  }
  std::memset(scales_out, 0, 12);
  pack_scales_k4(ls, lm, scales_out);
  d_out = f16(max_scale / 63.0f);
  dmin_out = f16(max_min / 63.0f);
  // Codes again against the scales as stored (6-bit, f16).
  for (int j = 0; j < 8; ++j) {
    std::uint8_t sc = 0, m = 0;
    unpack_scale_k4(j, scales_out, sc, m);
    const float d = static_cast<float>(d_out) * sc;
    if (d == 0.0f) continue;
    const float dm = static_cast<float>(dmin_out) * m;
    for (int i = 0; i < 32; ++i) L[32 * j + i] = static_cast<std::uint8_t>(std::clamp(nearest_int((x[32 * j + i] + dm) / d), 0, Nmax));
  }
}

inline void quantize_block(const float* x, block_q4_k& b) {
  std::uint8_t L[256];
  quantize_k_super_block<15>(x, b.d, b.dmin, b.scales, L);
  // Each 64 values: the first 32 in the low nibbles of 32 bytes, the next 32 in the high.
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<std::uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

inline void quantize_block(const float* x, block_q5_k& b) {
  std::uint8_t L[256];
  quantize_k_super_block<31>(x, b.d, b.dmin, b.scales, L);
  std::memset(b.qh, 0, 32);
  // As Q4_K's nibbles; the fifth bits of chunk c's two halves are bits 2c and 2c + 1 of qh[l].
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
      b.qs[32 * c + l] = static_cast<std::uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
      b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
}

inline void quantize_block(const float* x, block_q6_k& b) {
  TESSERA_QUANT_EXACT_FP
  std::int8_t L[256];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int j = 0; j < 16; ++j) {
    scales[j] = search_signed_scale(16, 32, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  b = block_q6_k{};
  if (max_abs_scale < 1e-15f) return;
  const float iscale = -128.0f / max_scale;
  b.d = f16(1 / iscale);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<std::int8_t>(std::min(127, nearest_int(iscale * scales[j])));
  for (int j = 0; j < 16; ++j) {
    const float d = static_cast<float>(b.d) * b.scales[j];
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i) L[16 * j + i] = static_cast<std::int8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
  }
  // Per 128 values (h): ql[64h + l] holds l and 64 + l, ql[64h + 32 + l] holds 32 + l and 96 + l
  // (low / high nibble); qh[32h + l] their top two bits, in that order from bit 0.
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const std::int8_t* q = L + 128 * h + l;
      b.ql[64 * h + l] = static_cast<std::uint8_t>((q[0] & 0x0f) | ((q[64] & 0x0f) << 4));
      b.ql[64 * h + 32 + l] = static_cast<std::uint8_t>((q[32] & 0x0f) | ((q[96] & 0x0f) << 4));
      b.qh[32 * h + l] = static_cast<std::uint8_t>((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
    }
}

inline void quantize_block(const float* x, block_q8_k& b) {
  TESSERA_QUANT_EXACT_FP
  float max = 0, amax = 0;
  signed_absmax(x, 256, max, amax);
  if (amax == 0.0f) {
    b = block_q8_k{};
    return;
  }
  const float iscale = -127.0f / max;
  for (int i = 0; i < 256; ++i) b.qs[i] = static_cast<std::int8_t>(std::min(127, nearest_int(iscale * x[i])));
  for (int j = 0; j < 16; ++j) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
    b.bsums[j] = static_cast<std::int16_t>(sum);
  }
  b.d = 1 / iscale;
}

// A block holding NaN or an infinity has no scale that represents it (ggml's conversions of
// such values to integers are undefined behaviour): it becomes all-zero codes with a NaN
// scale, so every product with it is NaN, as the float computation would be.
template <class Block>
inline void poison_block(Block& b) {
  b = Block{};
  if constexpr (std::is_same_v<decltype(b.d), float>) b.d = std::numeric_limits<float>::quiet_NaN();
  else b.d = f16(std::numeric_limits<float>::quiet_NaN());
}

inline bool all_finite(const float* x, std::size_t n) {
  std::uint32_t non_finite = 0;  // an exponent of all ones: NaN or infinite
  for (std::size_t i = 0; i < n; ++i) non_finite |= (bit_cast<std::uint32_t>(x[i]) & 0x7f800000u) == 0x7f800000u;
  return non_finite == 0;
}

template <class Block>
inline void quantize_blocks(const float* x, Block* out, std::size_t blocks) {
  for (std::size_t i = 0; i < blocks; ++i) {
    const float* xb = x + i * Block::elements;
    if (all_finite(xb, Block::elements)) quantize_block(xb, out[i]);
    else poison_block(out[i]);
  }
}

}  // namespace tessera::kernels::detail::quant

#if !defined(__clang__) && defined(__GNUC__)
#pragma GCC pop_options
#endif
#undef TESSERA_QUANT_EXACT_FP
