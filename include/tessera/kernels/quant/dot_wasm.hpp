// Quantization part: WebAssembly SIMD128 dot kernels for the symmetric 32-blocks (Q8_0, Q4_0,
// Q5_0) against Q8_0 activations, and for Q4_K and Q6_K (Q4_K_M files, most published GGUFs)
// against Q8_K: the formats LLMs in the browser are mostly shipped in. The other formats
// (Q4_1, Q5_1, Q5_K) run the generic bodies.
//
// Products of bytes go through i16x8.extmul (8 products per instruction) and
// i32x4.extadd_pairwise; two products are summed in int16 first, which cannot overflow: the
// activations' codes are within [-127, 127] (quantize.hpp rounds x / (amax / 127)) and the
// weights' within [-128, 127], so a pair stays within 2 * 128 * 127 = 32512. Q4_0's and Q5_0's
// smaller codes let four products share an int16 lane.
//
// Same contract as dot_generic.hpp: out[r * NT + t] = dot(w[r], a[t]) for an R x NT tile.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/quant/formats.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__wasm_simd128__)
#define TESSERA_QUANT_WASM 1
#include <wasm_simd128.h>
#else
#define TESSERA_QUANT_WASM 0
#endif

#if TESSERA_QUANT_WASM
#define TESSERA_QUANT_WASM_UNROLL _Pragma("clang loop unroll(full)")

namespace tessera::kernels::detail::quant::wasm128 {

// A block's 32 signed codes: elements 0-15 and 16-31.
struct codes32 {
  v128_t lo, hi;
};

TESSERA_ALWAYS_INLINE codes32 codes(const block_q8_0& b) { return {wasm_v128_load(b.qs), wasm_v128_load(b.qs + 16)}; }
TESSERA_ALWAYS_INLINE codes32 codes(const block_q4_0& b) {
  const v128_t q = wasm_v128_load(b.qs), eight = wasm_i8x16_splat(8);
  return {wasm_i8x16_sub(wasm_v128_and(q, wasm_i8x16_splat(0x0f)), eight), wasm_i8x16_sub(wasm_u8x16_shr(q, 4), eight)};
}
TESSERA_ALWAYS_INLINE codes32 codes(const block_q5_0& b) {
  std::int8_t q[32];
  codes_of(b, q);
  return {wasm_v128_load(q), wasm_v128_load(q + 16)};
}

// Whether four products of a weight and an activation code fit an int16 lane: Q4_0's and Q5_0's
// codes are within [-16, 15], Q4_K's within [0, 15] (activations [-128, 127]: at most 4 * 2048).
template <class Block>
inline constexpr bool small_codes = !std::is_same_v<Block, block_q8_0> && !std::is_same_v<Block, block_q6_k>;

// sum(w[i] * x[i]) over 16 codes as int16 pairs (any int8 codes: 2 * 128 * 128 fits).
TESSERA_ALWAYS_INLINE v128_t pair_products(v128_t w, v128_t x) {
  return wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(w, x), wasm_i16x8_extmul_high_i8x16(w, x));
}
// The same as four int32 partial sums.
TESSERA_ALWAYS_INLINE v128_t dot16(v128_t w, v128_t x) { return wasm_i32x4_extadd_pairwise_i16x8(pair_products(w, x)); }

// sum(w[i] * x[i]) over the 32 codes, as four int32 partial sums.
template <class Block>
TESSERA_ALWAYS_INLINE v128_t dot32(const codes32& w, const codes32& x) {
  if constexpr (small_codes<Block>) return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(pair_products(w.lo, x.lo), pair_products(w.hi, x.hi)));
  else return wasm_i32x4_add(dot16(w.lo, x.lo), dot16(w.hi, x.hi));
}

TESSERA_ALWAYS_INLINE float hsum(v128_t v) {
  const v128_t s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1);
}

// Tiles: R weight rows x NT activation rows. Each weight block is decoded once for the NT
// activation rows, each activation block loaded once for the R weight rows; the R * NT
// accumulators are independent chains.
template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, block_q8_0>
void dot(std::size_t nb, const Block* const* w, const block_q8_0* const* a, float* out) {
  v128_t acc[R][NT];
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) acc[r][t] = wasm_f32x4_splat(0.0f);
  for (std::size_t b = 0; b < nb; ++b) {
    codes32 q[R];
    float dw[R];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      q[r] = codes(w[r][b]);
      dw[r] = half_to_float(w[r][b].d);
    }
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_0& x = a[t][b];
      const codes32 xq = codes(x);
      const float dx = half_to_float(x.d);
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const v128_t p = wasm_f32x4_convert_i32x4(dot32<Block>(q[r], xq));
        acc[r][t] = wasm_f32x4_add(acc[r][t], wasm_f32x4_mul(p, wasm_f32x4_splat(dw[r] * dx)));
      }
    }
  }
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = hsum(acc[r][t]);
}

// ---- K-quants against Q8_K -------------------------------------------------------------
// Integer sums per super-block as the generic bodies form them (exact), then the same float
// expression per block: the results equal dot_generic.hpp's bit for bit.

TESSERA_ALWAYS_INLINE std::int32_t hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) +
         wasm_i32x4_extract_lane(v, 3);
}

// Q4_K: per 64 values, the low nibbles of 32 bytes are sub-block 2c and the high nibbles 2c + 1,
// each dot weighted by its 6-bit scale; the mins come in through the activations' 16-sums.
template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<Block, block_q4_k>
void dot(std::size_t nb, const Block* const* w, const block_q8_k* const* a, float* out) {
  float acc[R][NT] = {};
  const v128_t low4 = wasm_i8x16_splat(0x0f);
  for (std::size_t b = 0; b < nb; ++b) {
    int sc[R][8], mn[R][8];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t r = 0; r < R; ++r)
      for (int j = 0; j < 8; ++j) scale_min_k4(j, w[r][b].scales, sc[r][j], mn[r][j]);
    v128_t sum[R][NT];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t r = 0; r < R; ++r)
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t t = 0; t < NT; ++t) sum[r][t] = wasm_i32x4_splat(0);
    for (int c = 0; c < 4; ++c) {
      v128_t lo0[R], lo1[R], hi0[R], hi1[R];
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const v128_t p0 = wasm_v128_load(w[r][b].qs + 32 * c), p1 = wasm_v128_load(w[r][b].qs + 32 * c + 16);
        lo0[r] = wasm_v128_and(p0, low4);
        lo1[r] = wasm_v128_and(p1, low4);
        hi0[r] = wasm_u8x16_shr(p0, 4);
        hi1[r] = wasm_u8x16_shr(p1, 4);
      }
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t t = 0; t < NT; ++t) {
        const std::int8_t* x = a[t][b].qs + 64 * c;
        const v128_t x0 = wasm_v128_load(x), x1 = wasm_v128_load(x + 16), x2 = wasm_v128_load(x + 32), x3 = wasm_v128_load(x + 48);
        TESSERA_QUANT_WASM_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          const v128_t s_lo = wasm_i32x4_mul(dot32<Block>({lo0[r], lo1[r]}, {x0, x1}), wasm_i32x4_splat(sc[r][2 * c]));
          const v128_t s_hi = wasm_i32x4_mul(dot32<Block>({hi0[r], hi1[r]}, {x2, x3}), wasm_i32x4_splat(sc[r][2 * c + 1]));
          sum[r][t] = wasm_i32x4_add(sum[r][t], wasm_i32x4_add(s_lo, s_hi));
        }
      }
    }
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      int pair_sums[8];
      for (int j = 0; j < 8; ++j) pair_sums[j] = x.bsums[2 * j] + x.bsums[2 * j + 1];
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        int sum_min = 0;
        for (int j = 0; j < 8; ++j) sum_min += mn[r][j] * pair_sums[j];
        const float d = half_to_float(w[r][b].d), dmin = half_to_float(w[r][b].dmin);
        acc[r][t] += x.d * (d * static_cast<float>(hsum_i32(sum[r][t])) - dmin * static_cast<float>(sum_min));
      }
    }
  }
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = acc[r][t];
}

// Q6_K: codes decoded to -32..31 sixteen at a time (4 low bits from ql, 2 high from qh), each
// group of 16 one sub-block with its int8 scale.
template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<Block, block_q6_k>
void dot(std::size_t nb, const Block* const* w, const block_q8_k* const* a, float* out) {
  float acc[R][NT] = {};
  const v128_t low4 = wasm_i8x16_splat(0x0f), three = wasm_i8x16_splat(3), offset = wasm_i8x16_splat(32);
  for (std::size_t b = 0; b < nb; ++b) {
    v128_t sum[R][NT];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t r = 0; r < R; ++r)
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t t = 0; t < NT; ++t) sum[r][t] = wasm_i32x4_splat(0);
    for (int h = 0; h < 2; ++h)
      for (int half = 0; half < 2; ++half) {
        const int l = 16 * half;
        v128_t q[R][4];  // elements 128h + 32k + l .. + 15, sub-block 8h + 2k + half
        TESSERA_QUANT_WASM_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          const Block& wb = w[r][b];
          const v128_t lo = wasm_v128_load(wb.ql + 64 * h + l), hi = wasm_v128_load(wb.ql + 64 * h + 32 + l);
          const v128_t top = wasm_v128_load(wb.qh + 32 * h + l);
          const auto high2 = [&](int shift) { return wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(top, shift), three), 4); };
          q[r][0] = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(lo, low4), high2(0)), offset);
          q[r][1] = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(hi, low4), high2(2)), offset);
          q[r][2] = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(lo, 4), high2(4)), offset);
          q[r][3] = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(hi, 4), high2(6)), offset);
        }
        TESSERA_QUANT_WASM_UNROLL
        for (std::size_t t = 0; t < NT; ++t) {
          const std::int8_t* x = a[t][b].qs + 128 * h + l;
          const v128_t x0 = wasm_v128_load(x), x1 = wasm_v128_load(x + 32), x2 = wasm_v128_load(x + 64), x3 = wasm_v128_load(x + 96);
          TESSERA_QUANT_WASM_UNROLL
          for (std::size_t r = 0; r < R; ++r) {
            const std::int8_t* s = w[r][b].scales + 8 * h + half;
            v128_t p = wasm_i32x4_mul(dot16(q[r][0], x0), wasm_i32x4_splat(s[0]));
            p = wasm_i32x4_add(p, wasm_i32x4_mul(dot16(q[r][1], x1), wasm_i32x4_splat(s[2])));
            p = wasm_i32x4_add(p, wasm_i32x4_mul(dot16(q[r][2], x2), wasm_i32x4_splat(s[4])));
            p = wasm_i32x4_add(p, wasm_i32x4_mul(dot16(q[r][3], x3), wasm_i32x4_splat(s[6])));
            sum[r][t] = wasm_i32x4_add(sum[r][t], p);
          }
        }
      }
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t)
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t r = 0; r < R; ++r)
        acc[r][t] += half_to_float(w[r][b].d) * a[t][b].d * static_cast<float>(hsum_i32(sum[r][t]));
  }
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = acc[r][t];
}

// The weight formats with a kernel here (dispatch.hpp runs the generic bodies for the others).
template <class Block>
inline constexpr bool has_kernel = std::is_same_v<typename format<Block>::act, block_q8_0> || std::is_same_v<Block, block_q4_k> ||
                                   std::is_same_v<Block, block_q6_k>;

}  // namespace tessera::kernels::detail::quant::wasm128

#undef TESSERA_QUANT_WASM_UNROLL
#endif
