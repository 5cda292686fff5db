// Quantization part: WebAssembly SIMD128 dot kernels for the symmetric 32-blocks (Q8_0, Q4_0,
// Q5_0) against Q8_0 activations, the formats LLMs in the browser are mostly shipped in. The
// other formats run the generic bodies.
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

// Whether four products of a weight and an activation code fit an int16 lane.
template <class Block>
inline constexpr bool small_codes = !std::is_same_v<Block, block_q8_0>;

// sum(w[i] * x[i]) over the 32 codes, as four int32 partial sums.
template <class Block>
TESSERA_ALWAYS_INLINE v128_t dot32(const codes32& w, const codes32& x) {
  const v128_t lo = wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(w.lo, x.lo), wasm_i16x8_extmul_high_i8x16(w.lo, x.lo));
  const v128_t hi = wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(w.hi, x.hi), wasm_i16x8_extmul_high_i8x16(w.hi, x.hi));
  if constexpr (small_codes<Block>) return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(lo, hi));
  else return wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(lo), wasm_i32x4_extadd_pairwise_i16x8(hi));
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

}  // namespace tessera::kernels::detail::quant::wasm128

#undef TESSERA_QUANT_WASM_UNROLL
#endif
