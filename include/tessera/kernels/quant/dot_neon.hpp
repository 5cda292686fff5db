// Quantization part: aarch64 NEON dot kernels for every quantized weight format: the 32-blocks
// (Q8_0, Q4_0, Q5_0 against Q8_0 activations; Q4_1, Q5_1 against Q8_1) and the K-quants Q4_K,
// Q5_K and Q6_K against Q8_K. Baseline armv8-a AdvSIMD; with the dot-product extension
// (__ARM_FEATURE_DOTPROD) sdot takes 16 products to int32 in one instruction instead.
//
// Baseline products of bytes: smull/smlal2 (8 products per instruction, in int16) then sadalp
// or saddlp (int16 pairs to int32). Products are summed in int16 first, which cannot overflow:
// activation codes are within [-127, 127] (quantize.hpp rounds x / (amax / 127), Q8_K
// x * (-127 / max)), so two products of int8 weight codes stay within 2 * 128 * 127 = 32512,
// and four products of codes within [-32, 31] (Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q5_K) within
// 4 * 32 * 127 = 16256.
//
// The K-quants form exact integer sums per super-block, then the generic bodies' float
// expression with its contractions spelled out (see below): dot_generic.hpp's bits where the
// compiler fuses it the same way (GCC at -O2 and up, clang; GCC's -O1 fuses nothing, and then
// the last bit can differ). The 32-blocks accumulate per-lane float sums (within
// quant_test.cpp's tolerance, like the AVX2 kernels). Either way a product has the same bits
// in every tile shape, which matvec agreeing with matmul relies on.
//
// Same contract as dot_generic.hpp: out[r * NT + t] = dot(w[r], a[t]) for an R x NT tile.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/quant/formats.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__aarch64__) && defined(__ARM_NEON)
#define TESSERA_QUANT_NEON 1
#include <arm_neon.h>
#else
#define TESSERA_QUANT_NEON 0
#endif

#if TESSERA_QUANT_NEON
// Loops over the tile's rows are unrolled so that per-row accumulators live in registers.
#define TESSERA_QUANT_NEON_UNROLL _Pragma("GCC unroll 8")

namespace tessera::kernels::detail::quant::neon {

// A block's 32 codes: elements 0-15 and 16-31 (signed, or unsigned below 32 for Q4_1/Q5_1).
struct codes32 {
  int8x16_t lo, hi;
};

// 16 bytes of nibbles: low nibbles are elements 0-15, high nibbles 16-31.
TESSERA_ALWAYS_INLINE codes32 nibbles(const std::uint8_t* qs) {
  const uint8x16_t q = vld1q_u8(qs);
  return {vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), vreinterpretq_s8_u8(vshrq_n_u8(q, 4))};
}
// 0x10 in the bytes of `bits` that have a bit of `mask` set: a code's fifth bit.
TESSERA_ALWAYS_INLINE int8x16_t fifth_bit(uint8x16_t bits, uint8x16_t mask) {
  return vreinterpretq_s8_u8(vandq_u8(vtstq_u8(bits, mask), vdupq_n_u8(0x10)));
}
// The fifth bits of Q5_0/Q5_1 codes: byte i is 0x10 where bit i of the 32-bit word qh is set.
TESSERA_ALWAYS_INLINE codes32 fifth_bits(const std::uint8_t* qh) {
  // Byte i takes byte i / 8 of the word, then tests bit i % 8.
  static constexpr std::uint8_t bit_of_byte[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(bit_of_byte);
  const uint8x16_t lo = vcombine_u8(vld1_dup_u8(qh), vld1_dup_u8(qh + 1));
  const uint8x16_t hi = vcombine_u8(vld1_dup_u8(qh + 2), vld1_dup_u8(qh + 3));
  return {fifth_bit(lo, bit), fifth_bit(hi, bit)};
}
TESSERA_ALWAYS_INLINE codes32 or_codes(const codes32& a, const codes32& b) { return {vorrq_s8(a.lo, b.lo), vorrq_s8(a.hi, b.hi)}; }
TESSERA_ALWAYS_INLINE codes32 minus(const codes32& c, std::int8_t offset) {
  return {vsubq_s8(c.lo, vdupq_n_s8(offset)), vsubq_s8(c.hi, vdupq_n_s8(offset))};
}

TESSERA_ALWAYS_INLINE codes32 codes(const block_q8_0& b) { return {vld1q_s8(b.qs), vld1q_s8(b.qs + 16)}; }
TESSERA_ALWAYS_INLINE codes32 codes(const block_q8_1& b) { return {vld1q_s8(b.qs), vld1q_s8(b.qs + 16)}; }
TESSERA_ALWAYS_INLINE codes32 codes(const block_q4_0& b) { return minus(nibbles(b.qs), 8); }
TESSERA_ALWAYS_INLINE codes32 codes(const block_q5_0& b) { return minus(or_codes(nibbles(b.qs), fifth_bits(b.qh)), 16); }
TESSERA_ALWAYS_INLINE codes32 codes(const block_q4_1& b) { return nibbles(b.qs); }
TESSERA_ALWAYS_INLINE codes32 codes(const block_q5_1& b) { return or_codes(nibbles(b.qs), fifth_bits(b.qh)); }

// Whether four products of a weight and an activation code fit an int16 lane (codes within
// [-32, 31]): all formats but Q8_0.
template <class Block>
inline constexpr bool small_codes = !std::is_same_v<Block, block_q8_0>;

#if !defined(__ARM_FEATURE_DOTPROD)
// w[i] * x[i] over 16 codes, two products per int16 lane.
TESSERA_ALWAYS_INLINE int16x8_t pair_products(int8x16_t w, int8x16_t x) {
  return vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x);
}
#endif

// sum(w[i] * x[i]) over 16 codes, as four int32 partial sums.
TESSERA_ALWAYS_INLINE int32x4_t dot16(int8x16_t w, int8x16_t x) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdupq_n_s32(0), w, x);
#else
  return vpaddlq_s16(pair_products(w, x));
#endif
}

// sum(w[i] * x[i]) over 32 codes, as four int32 partial sums.
template <class Block>
TESSERA_ALWAYS_INLINE int32x4_t dot32(const codes32& w, const codes32& x) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w.lo, x.lo), w.hi, x.hi);
#else
  if constexpr (small_codes<Block>) {
    const int16x8_t p = vmlal_s8(pair_products(w.lo, x.lo), vget_low_s8(w.hi), vget_low_s8(x.hi));
    return vpaddlq_s16(vmlal_high_s8(p, w.hi, x.hi));
  } else {
    return vpadalq_s16(vpaddlq_s16(pair_products(w.lo, x.lo)), pair_products(w.hi, x.hi));
  }
#endif
}

// Tiles: R weight rows x NT activation rows. Each weight block is decoded once for the NT
// activation rows, each activation block loaded once for the R weight rows; the R * NT
// accumulators are independent chains.
// 32-blocks: d_w d_a sum(q a) per block into four float lanes (plus m_w s_a for Q8_1).
template <class Block, std::size_t R, std::size_t NT>
  requires(std::is_same_v<typename format<Block>::act, block_q8_0> || std::is_same_v<typename format<Block>::act, block_q8_1>)
void dot(std::size_t nb, const Block* const* w, const typename format<Block>::act* const* a, float* out) {
  constexpr bool with_min = std::is_same_v<typename format<Block>::act, block_q8_1>;
  float32x4_t acc[R][NT] = {};
  float mins[R][NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    codes32 q[R];
    float dw[R], mw[R];
    TESSERA_QUANT_NEON_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      q[r] = codes(w[r][b]);
      dw[r] = half_to_float(w[r][b].d);
      if constexpr (with_min) mw[r] = half_to_float(w[r][b].m);
    }
    TESSERA_QUANT_NEON_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const auto& x = a[t][b];
      const codes32 xq = codes(x);
      const float dx = half_to_float(x.d);
      float sx = 0.0f;
      if constexpr (with_min) sx = half_to_float(x.s);
      TESSERA_QUANT_NEON_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(dot32<Block>(q[r], xq)), dw[r] * dx);
        if constexpr (with_min) mins[r][t] = std::fma(mw[r], sx, mins[r][t]);  // fused in every tile shape
      }
    }
  }
  TESSERA_QUANT_NEON_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_NEON_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = vaddvq_f32(acc[r][t]) + mins[r][t];
}

// ---- K-quants against Q8_K -------------------------------------------------------------
// Integer sums per super-block (exact, so their order does not matter), then the generic
// bodies' float expression per block with std::fma where GCC and clang contract the generic
// ones: left to the compiler, GCC -O2 fused the other product of d * sum - dmin * sum_min in
// a vectorized 2 x 4 tile, which then disagreed with the 4 x 1 tile in the last bit.

// Q4_K / Q5_K: per 64 values, the low nibbles of 32 bytes are sub-block 2c and the high
// nibbles 2c + 1 (Q5_K: fifth bits 2c and 2c + 1 of the qh byte of the same position), each
// dot weighted by its 6-bit scale; the mins come in through the activations' 16-sums.
template <class Block, std::size_t R, std::size_t NT>
  requires(std::is_same_v<Block, block_q4_k> || std::is_same_v<Block, block_q5_k>)
void dot(std::size_t nb, const Block* const* w, const block_q8_k* const* a, float* out) {
  constexpr bool five = std::is_same_v<Block, block_q5_k>;
  float acc[R][NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    int sc[R][8], mn[R][8];
    TESSERA_QUANT_NEON_UNROLL
    for (std::size_t r = 0; r < R; ++r)
      for (int j = 0; j < 8; ++j) scale_min_k4(j, w[r][b].scales, sc[r][j], mn[r][j]);
    int32x4_t sum[R][NT] = {};
    for (int c = 0; c < 4; ++c) {
      codes32 lo[R], hi[R];  // sub-blocks 2c and 2c + 1
      TESSERA_QUANT_NEON_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const codes32 n0 = nibbles(w[r][b].qs + 32 * c), n1 = nibbles(w[r][b].qs + 32 * c + 16);
        lo[r] = {n0.lo, n1.lo};
        hi[r] = {n0.hi, n1.hi};
        if constexpr (five) {
          const uint8x16_t h0 = vld1q_u8(w[r][b].qh), h1 = vld1q_u8(w[r][b].qh + 16);
          const uint8x16_t bit_lo = vdupq_n_u8(static_cast<std::uint8_t>(1u << (2 * c)));
          const uint8x16_t bit_hi = vdupq_n_u8(static_cast<std::uint8_t>(2u << (2 * c)));
          lo[r] = or_codes(lo[r], {fifth_bit(h0, bit_lo), fifth_bit(h1, bit_lo)});
          hi[r] = or_codes(hi[r], {fifth_bit(h0, bit_hi), fifth_bit(h1, bit_hi)});
        }
      }
      TESSERA_QUANT_NEON_UNROLL
      for (std::size_t t = 0; t < NT; ++t) {
        const std::int8_t* x = a[t][b].qs + 64 * c;
        const codes32 x_lo = {vld1q_s8(x), vld1q_s8(x + 16)}, x_hi = {vld1q_s8(x + 32), vld1q_s8(x + 48)};
        TESSERA_QUANT_NEON_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          sum[r][t] = vmlaq_n_s32(sum[r][t], dot32<Block>(lo[r], x_lo), sc[r][2 * c]);
          sum[r][t] = vmlaq_n_s32(sum[r][t], dot32<Block>(hi[r], x_hi), sc[r][2 * c + 1]);
        }
      }
    }
    TESSERA_QUANT_NEON_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      int pair_sums[8];
      for (int j = 0; j < 8; ++j) pair_sums[j] = x.bsums[2 * j] + x.bsums[2 * j + 1];
      TESSERA_QUANT_NEON_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        int sum_min = 0;
        for (int j = 0; j < 8; ++j) sum_min += mn[r][j] * pair_sums[j];
        const float d = half_to_float(w[r][b].d), dmin = half_to_float(w[r][b].dmin);
        const float block = std::fma(d, static_cast<float>(vaddvq_s32(sum[r][t])), -(dmin * static_cast<float>(sum_min)));
        acc[r][t] = std::fma(x.d, block, acc[r][t]);
      }
    }
  }
  std::memcpy(out, acc, sizeof(acc));  // acc[r][t] is out[r * NT + t]
}

// Q6_K: codes decoded to -32..31 sixteen at a time (4 low bits from ql, 2 high from qh), each
// group of 16 one sub-block with its int8 scale.
template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<Block, block_q6_k>
void dot(std::size_t nb, const Block* const* w, const block_q8_k* const* a, float* out) {
  float acc[R][NT] = {};
  const uint8x16_t low4 = vdupq_n_u8(0x0f), top2 = vdupq_n_u8(0x30);
  const int8x16_t offset = vdupq_n_s8(32);
  for (std::size_t b = 0; b < nb; ++b) {
    int32x4_t sum[R][NT] = {};
    for (int h = 0; h < 2; ++h)
      for (int half = 0; half < 2; ++half) {
        const int l = 16 * half;
        int8x16_t q[R][4];  // elements 128h + 32k + l .. + 15, sub-block 8h + 2k + half
        TESSERA_QUANT_NEON_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          const Block& wb = w[r][b];
          const uint8x16_t lo = vld1q_u8(wb.ql + 64 * h + l), hi = vld1q_u8(wb.ql + 64 * h + 32 + l);
          const uint8x16_t top = vld1q_u8(wb.qh + 32 * h + l);
          // The two high bits moved to bits 4-5 of the code.
          const uint8x16_t high0 = vandq_u8(vshlq_n_u8(top, 4), top2), high1 = vandq_u8(vshlq_n_u8(top, 2), top2);
          const uint8x16_t high2 = vandq_u8(top, top2), high3 = vandq_u8(vshrq_n_u8(top, 2), top2);
          q[r][0] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(lo, low4), high0)), offset);
          q[r][1] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(hi, low4), high1)), offset);
          q[r][2] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(lo, 4), high2)), offset);
          q[r][3] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(hi, 4), high3)), offset);
        }
        TESSERA_QUANT_NEON_UNROLL
        for (std::size_t t = 0; t < NT; ++t) {
          const std::int8_t* x = a[t][b].qs + 128 * h + l;
          const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 32), x2 = vld1q_s8(x + 64), x3 = vld1q_s8(x + 96);
          TESSERA_QUANT_NEON_UNROLL
          for (std::size_t r = 0; r < R; ++r) {
            const std::int8_t* s = w[r][b].scales + 8 * h + half;
            int32x4_t p = vmlaq_n_s32(sum[r][t], dot16(q[r][0], x0), s[0]);
            p = vmlaq_n_s32(p, dot16(q[r][1], x1), s[2]);
            p = vmlaq_n_s32(p, dot16(q[r][2], x2), s[4]);
            sum[r][t] = vmlaq_n_s32(p, dot16(q[r][3], x3), s[6]);
          }
        }
      }
    TESSERA_QUANT_NEON_UNROLL
    for (std::size_t t = 0; t < NT; ++t)
      TESSERA_QUANT_NEON_UNROLL
      for (std::size_t r = 0; r < R; ++r)
        acc[r][t] = std::fma(half_to_float(w[r][b].d) * a[t][b].d, static_cast<float>(vaddvq_s32(sum[r][t])), acc[r][t]);
  }
  std::memcpy(out, acc, sizeof(acc));  // acc[r][t] is out[r * NT + t]
}

// The weight formats with a kernel here: every quantized one (dispatch.hpp runs the generic
// bodies, vectorized by xsimd, for the float types).
template <class Block>
inline constexpr bool has_kernel = !std::is_same_v<typename format<Block>::act, float>;

}  // namespace tessera::kernels::detail::quant::neon

#undef TESSERA_QUANT_NEON_UNROLL
#endif
