// Quantization part: WebAssembly SIMD128 dot kernels for every quantized weight format: the
// 32-blocks (Q8_0, Q4_0, Q5_0 against Q8_0 activations; Q4_1, Q5_1 against Q8_1) and the
// K-quants Q4_K, Q5_K and Q6_K against Q8_K.
//
// 32-blocks: codes are widened to int16 once per block (a weight block serves NT activation
// rows, an activation block R weight rows) and i32x4.dot_i16x8 takes them to int32 sums.
// K-quants: products of bytes go through i16x8.extmul (8 products per instruction), summed in
// int16 (Q6_K's codes, within [-32, 31], two to a lane; Q4_K's and Q5_K's, at most 31, four),
// then i32x4.dot_i16x8 against the sub-block's scale multiplies and widens them at once.
//
// Same contract as dot_generic.hpp: out[r * NT + t] = dot(w[r], a[t]) for an R x NT tile.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/quant/formats.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#if defined(__wasm_simd128__)
#define TESSERA_QUANT_WASM 1
#include <wasm_simd128.h>
#else
#define TESSERA_QUANT_WASM 0
#endif

#if TESSERA_QUANT_WASM
#define TESSERA_QUANT_WASM_UNROLL _Pragma("clang loop unroll(full)")

namespace tessera::kernels::detail::quant::wasm128 {

// A block's 32 codes: elements 0-15 and 16-31 (signed, or unsigned below 128 for Q4_1/Q5_1).
struct codes32 {
  v128_t lo, hi;
};

// Each byte's high nibble, by a 16-bit shift and a mask: two instructions, where V8 lowers
// i8x16.shr_u to more on x86.
TESSERA_ALWAYS_INLINE v128_t high_nibbles(v128_t q) { return wasm_v128_and(wasm_u16x8_shr(q, 4), wasm_i8x16_splat(0x0f)); }

// 16 bytes of nibbles: low nibbles are elements 0-15, high nibbles 16-31.
TESSERA_ALWAYS_INLINE codes32 nibbles(const std::uint8_t* qs) {
  const v128_t q = wasm_v128_load(qs);
  return {wasm_v128_and(q, wasm_i8x16_splat(0x0f)), high_nibbles(q)};
}
// The fifth bits of Q5_0/Q5_1 codes: byte i is 0x10 where bit i of the 32-bit word is set.
TESSERA_ALWAYS_INLINE codes32 fifth_bits(const std::uint8_t* qh) {
  const v128_t word = wasm_v128_load32_splat(qh);
  // Byte i takes byte i / 8 of the word, then tests bit i % 8. The bytes are spread by three
  // interleaves (each one instruction, where a general byte shuffle needs its mask built).
  const v128_t bytes2 = wasm_i8x16_shuffle(word, word, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t bytes4 = wasm_i16x8_shuffle(bytes2, bytes2, 0, 8, 1, 9, 2, 10, 3, 11);
  const v128_t lo = wasm_i32x4_shuffle(bytes4, bytes4, 0, 4, 1, 5), hi = wasm_i32x4_shuffle(bytes4, bytes4, 2, 6, 3, 7);
  const v128_t bit = wasm_u64x2_splat(0x8040201008040201ull);
  const auto spread = [&](v128_t bytes) { return wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(bytes, bit), bit), wasm_i8x16_splat(0x10)); };
  return {spread(lo), spread(hi)};
}

template <class B>
  requires(std::is_same_v<B, block_q8_0> || std::is_same_v<B, block_q8_1>)
TESSERA_ALWAYS_INLINE codes32 codes(const B& b) {
  return {wasm_v128_load(b.qs), wasm_v128_load(b.qs + 16)};
}
TESSERA_ALWAYS_INLINE codes32 codes(const block_q4_0& b) {
  const codes32 n = nibbles(b.qs);
  const v128_t eight = wasm_i8x16_splat(8);
  return {wasm_i8x16_sub(n.lo, eight), wasm_i8x16_sub(n.hi, eight)};
}
TESSERA_ALWAYS_INLINE codes32 codes(const block_q5_0& b) {
  const codes32 n = nibbles(b.qs), h = fifth_bits(b.qh);
  const v128_t sixteen = wasm_i8x16_splat(16);
  return {wasm_i8x16_sub(wasm_v128_or(n.lo, h.lo), sixteen), wasm_i8x16_sub(wasm_v128_or(n.hi, h.hi), sixteen)};
}
TESSERA_ALWAYS_INLINE codes32 codes(const block_q4_1& b) { return nibbles(b.qs); }
TESSERA_ALWAYS_INLINE codes32 codes(const block_q5_1& b) {
  const codes32 n = nibbles(b.qs), h = fifth_bits(b.qh);
  return {wasm_v128_or(n.lo, h.lo), wasm_v128_or(n.hi, h.hi)};
}

// sum(w[i] * x[i]) over 16 codes as int16 pairs (at most 2 * 128 * 127: the activations'
// codes are within [-127, 127]).
TESSERA_ALWAYS_INLINE v128_t pair_products(v128_t w, v128_t x) {
  return wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(w, x), wasm_i16x8_extmul_high_i8x16(w, x));
}

// Each byte's bit `from` (and those above it) moved to bit `to`, by a 16-bit shift: one
// instruction, where V8 lowers a byte shift to several on x86. Callers keep only bits 4-5 of
// each byte (to = 4), and what a shift carries across bytes never lands there: a left shift
// by k <= 4 brings bits in at 0 to k - 1, a right shift by k in at 8 - k to 7, and k <= 2
// where bit 5 is kept (Q6_K's pairs come from bits 0, 2, 4, 6), k <= 3 where only bit 4 is.
TESSERA_ALWAYS_INLINE v128_t bit_to(v128_t v, int from, int to) {
  return from >= to ? wasm_u16x8_shr(v, static_cast<std::uint32_t>(from - to)) : wasm_i16x8_shl(v, static_cast<std::uint32_t>(to - from));
}

// scale * sum(w[i] * x[i]) over 32 codes of at most 5 bits (Q4_K, Q5_K) as four int32 partial
// sums: the products summed four to an int16 lane (at most 4 * 31 * 128), and one
// i32x4.dot_i16x8 against the scale (at most 63) both multiplies and widens them.
TESSERA_ALWAYS_INLINE v128_t scaled_dot32(v128_t w0, v128_t w1, v128_t x0, v128_t x1, v128_t scale16) {
  return wasm_i32x4_dot_i16x8(wasm_i16x8_add(pair_products(w0, x0), pair_products(w1, x1)), scale16);
}

// A block's 32 codes widened to int16 (elements 0-7, 8-15, 16-23, 24-31): widened once, a
// weight block serves NT activation rows and an activation block R weight rows, and each
// i32x4.dot_i16x8 then takes 8 products to int32 in one instruction.
struct wide32 {
  v128_t q[4];
};
TESSERA_ALWAYS_INLINE wide32 widen(const codes32& c) {
  return {{wasm_i16x8_extend_low_i8x16(c.lo), wasm_i16x8_extend_high_i8x16(c.lo), wasm_i16x8_extend_low_i8x16(c.hi),
           wasm_i16x8_extend_high_i8x16(c.hi)}};
}
TESSERA_ALWAYS_INLINE v128_t dot32(const wide32& w, const wide32& x) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.q[0], x.q[0]), wasm_i32x4_dot_i16x8(w.q[1], x.q[1])),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.q[2], x.q[2]), wasm_i32x4_dot_i16x8(w.q[3], x.q[3])));
}

// Lane i: the sum of the lanes of v[i].
TESSERA_ALWAYS_INLINE v128_t hsum4_i32(v128_t a, v128_t b, v128_t c, v128_t d) {
  const v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
  const v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 1, 4, 5), wasm_i32x4_shuffle(c, d, 2, 3, 6, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 2, 4, 6), wasm_i32x4_shuffle(ab, cd, 1, 3, 5, 7));
}

// Lane i < N: the float value of half_of(i); lanes past N are 0 (all lanes for N = 1: one
// value converts faster in scalar code, which branches but needs no vector constants).
template <std::size_t N, class HalfOf>
TESSERA_ALWAYS_INLINE v128_t half_lanes(HalfOf&& half_of) {
  if constexpr (N == 1) {
    return wasm_f32x4_splat(half_to_float(half_of(0)));
  } else {
    std::uint32_t bits[4] = {};
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t i = 0; i < N; ++i) bits[i] = half_of(i).bits;
    return halves_to_floats(wasm_u32x4_make(bits[0], bits[1], bits[2], bits[3]));
  }
}

// Generation reads each weight byte once, R rows at a time: R interleaved streams, which
// hardware prefetchers follow poorly, and driver.hpp's prefetch_ahead is nothing in WASM (no
// prefetch instruction). Reading one byte of every cache line of the R rows first turns them
// into one sequential stream (the rows are consecutive in the matrix) that the prefetchers
// run ahead of (about 2x on a Q8_0 matrix streamed from DRAM).
template <class Rows>
inline constexpr bool plain_rows = std::is_pointer_v<std::decay_t<Rows>>;
template <std::size_t R, class Block>
TESSERA_ALWAYS_INLINE void touch_rows(const Block* const* w, std::size_t nb) {
  constexpr std::size_t line = 64;
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t r = 0; r < R; ++r) {
    const volatile std::uint8_t* bytes = reinterpret_cast<const volatile std::uint8_t*>(w[r]);
    for (std::size_t i = 0; i < nb * sizeof(Block); i += line) (void)bytes[i];
  }
}

// Tiles: R weight rows x NT activation rows. Each weight block is decoded once for the NT
// activation rows, each activation block loaded once for the R weight rows. The R * NT
// products are taken four at a time (product k = r * NT + t, the output's order): their
// block sums, exact in int32, are gathered into one vector, converted and scaled with one
// instruction each, the scales (and Q8_1's min terms) converted from f16 four rows at a time.
// Each lane accumulates d_w d_a sum(q a) (+ m_w s_a) per block in the generic body's order,
// so the results equal dot_generic.hpp's bit for bit.
template <std::size_t R, std::size_t NT>
struct tile_lanes {
  static constexpr std::size_t products = R * NT, groups = (products + 3) / 4;
  // Lane j of group g: product 4g + j's weight row and activation row (lane 0's past the end).
  static constexpr int row(std::size_t g, std::size_t j) { return 4 * g + j < products ? static_cast<int>((4 * g + j) / NT) : 0; }
  static constexpr int token(std::size_t g, std::size_t j) { return 4 * g + j < products ? static_cast<int>((4 * g + j) % NT) : 0; }
  // Per-row values v (lane r) times per-token values x (lane t), laid out as group G's lanes.
  template <std::size_t G>
  static TESSERA_ALWAYS_INLINE v128_t outer(v128_t v, v128_t x) {
    return wasm_f32x4_mul(wasm_i32x4_shuffle(v, v, row(G, 0), row(G, 1), row(G, 2), row(G, 3)),
                          wasm_i32x4_shuffle(x, x, token(G, 0), token(G, 1), token(G, 2), token(G, 3)));
  }
};

template <class Block, std::size_t R, std::size_t NT, class Rows>
  requires(std::is_same_v<typename format<Block>::act, block_q8_0> || std::is_same_v<typename format<Block>::act, block_q8_1>)
void dot(std::size_t nb, const Rows& w, const typename format<Block>::act* const* a, float* out) {
  using lanes = tile_lanes<R, NT>;
  constexpr std::size_t P = lanes::products, G = lanes::groups;
  constexpr bool with_min = std::is_same_v<typename format<Block>::act, block_q8_1>;
  v128_t acc[G];
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t g = 0; g < G; ++g) acc[g] = wasm_f32x4_splat(0.0f);
  if constexpr (NT == 1 && plain_rows<Rows>) touch_rows<R>(w, nb);
  for (std::size_t b = 0; b < nb; ++b) {
    wide32 x[NT];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) x[t] = widen(codes(a[t][b]));
    v128_t sum[4 * G];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t k = P; k < 4 * G; ++k) sum[k] = wasm_i32x4_splat(0);
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      const wide32 q = widen(codes(w[r][b]));
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t t = 0; t < NT; ++t) sum[r * NT + t] = dot32(q, x[t]);
    }
    const v128_t dw = half_lanes<R>([&](std::size_t r) { return w[r][b].d; });
    const v128_t dx = half_lanes<NT>([&](std::size_t t) { return a[t][b].d; });
    v128_t mw = dw, sx = dx;  // Q8_1's min terms m_w s_a
    if constexpr (with_min) {
      mw = half_lanes<R>([&](std::size_t r) { return w[r][b].m; });
      sx = half_lanes<NT>([&](std::size_t t) { return a[t][b].s; });
    }
    [&]<std::size_t... g>(std::index_sequence<g...>) {
      const auto add_group = [&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
        const v128_t s = wasm_f32x4_convert_i32x4(hsum4_i32(sum[4 * I], sum[4 * I + 1], sum[4 * I + 2], sum[4 * I + 3]));
        v128_t block = wasm_f32x4_mul(lanes::template outer<I>(dw, dx), s);
        if constexpr (with_min) block = wasm_f32x4_add(block, lanes::template outer<I>(mw, sx));
        acc[I] = wasm_f32x4_add(acc[I], block);
      };
      (add_group(std::integral_constant<std::size_t, g>{}), ...);
    }(std::make_index_sequence<G>{});
  }
  alignas(16) float lanes_out[4 * G];
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t g = 0; g < G; ++g) wasm_v128_store(lanes_out + 4 * g, acc[g]);
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t k = 0; k < P; ++k) out[k] = lanes_out[k];
}

// ---- K-quants against Q8_K -------------------------------------------------------------
// Integer sums per super-block as the generic bodies form them (exact), then the same float
// expression per block: the results equal dot_generic.hpp's bit for bit.

TESSERA_ALWAYS_INLINE std::int32_t hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) +
         wasm_i32x4_extract_lane(v, 3);
}

// Q4_K / Q5_K: per 64 values, the low nibbles of 32 bytes are sub-block 2c and the high
// nibbles 2c + 1 (Q5_K: fifth bits 2c and 2c + 1 of the qh byte of the same position), each
// dot weighted by its 6-bit scale; the mins come in through the activations' 16-sums.
template <class Block, std::size_t R, std::size_t NT, class Rows>
  requires(std::is_same_v<Block, block_q4_k> || std::is_same_v<Block, block_q5_k>)
void dot(std::size_t nb, const Rows& w, const block_q8_k* const* a, float* out) {
  constexpr bool five = std::is_same_v<Block, block_q5_k>;
  float acc[R][NT] = {};
  const v128_t low4 = wasm_i8x16_splat(0x0f);
  if constexpr (NT == 1 && plain_rows<Rows>) touch_rows<R>(w, nb);
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
        hi0[r] = high_nibbles(p0);
        hi1[r] = high_nibbles(p1);
        if constexpr (five) {
          const v128_t h0 = wasm_v128_load(w[r][b].qh), h1 = wasm_v128_load(w[r][b].qh + 16);
          const auto fifth = [&](v128_t h, int bit) { return wasm_v128_and(bit_to(h, bit, 4), wasm_i8x16_splat(0x10)); };
          lo0[r] = wasm_v128_or(lo0[r], fifth(h0, 2 * c));
          lo1[r] = wasm_v128_or(lo1[r], fifth(h1, 2 * c));
          hi0[r] = wasm_v128_or(hi0[r], fifth(h0, 2 * c + 1));
          hi1[r] = wasm_v128_or(hi1[r], fifth(h1, 2 * c + 1));
        }
      }
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t t = 0; t < NT; ++t) {
        const std::int8_t* x = a[t][b].qs + 64 * c;
        const v128_t x0 = wasm_v128_load(x), x1 = wasm_v128_load(x + 16), x2 = wasm_v128_load(x + 32), x3 = wasm_v128_load(x + 48);
        TESSERA_QUANT_WASM_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          const v128_t s_lo = scaled_dot32(lo0[r], lo1[r], x0, x1, wasm_i16x8_splat(static_cast<std::int16_t>(sc[r][2 * c])));
          const v128_t s_hi = scaled_dot32(hi0[r], hi1[r], x2, x3, wasm_i16x8_splat(static_cast<std::int16_t>(sc[r][2 * c + 1])));
          sum[r][t] = wasm_i32x4_add(sum[r][t], wasm_i32x4_add(s_lo, s_hi));
        }
      }
    }
    // The rows' f16 scales converted four at a time (the scalar conversion branches).
    alignas(16) float d[4], dmin[4];
    wasm_v128_store(d, half_lanes<R>([&](std::size_t r) { return w[r][b].d; }));
    wasm_v128_store(dmin, half_lanes<R>([&](std::size_t r) { return w[r][b].dmin; }));
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      int pair_sums[8];
      for (int j = 0; j < 8; ++j) pair_sums[j] = x.bsums[2 * j] + x.bsums[2 * j + 1];
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        int sum_min = 0;
        for (int j = 0; j < 8; ++j) sum_min += mn[r][j] * pair_sums[j];
        acc[r][t] += x.d * (d[r] * static_cast<float>(hsum_i32(sum[r][t])) - dmin[r] * static_cast<float>(sum_min));
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
template <class Block, std::size_t R, std::size_t NT, class Rows>
  requires std::is_same_v<Block, block_q6_k>
void dot(std::size_t nb, const Rows& w, const block_q8_k* const* a, float* out) {
  float acc[R][NT] = {};
  const v128_t low4 = wasm_i8x16_splat(0x0f), offset = wasm_i8x16_splat(32);
  if constexpr (NT == 1 && plain_rows<Rows>) touch_rows<R>(w, nb);
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
          const auto high2 = [&](int shift) { return wasm_v128_and(bit_to(top, shift, 4), wasm_i8x16_splat(0x30)); };
          q[r][0] = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(lo, low4), high2(0)), offset);
          q[r][1] = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(hi, low4), high2(2)), offset);
          q[r][2] = wasm_i8x16_sub(wasm_v128_or(high_nibbles(lo), high2(4)), offset);
          q[r][3] = wasm_i8x16_sub(wasm_v128_or(high_nibbles(hi), high2(6)), offset);
        }
        TESSERA_QUANT_WASM_UNROLL
        for (std::size_t t = 0; t < NT; ++t) {
          const std::int8_t* x = a[t][b].qs + 128 * h + l;
          const v128_t x0 = wasm_v128_load(x), x1 = wasm_v128_load(x + 32), x2 = wasm_v128_load(x + 64), x3 = wasm_v128_load(x + 96);
          TESSERA_QUANT_WASM_UNROLL
          for (std::size_t r = 0; r < R; ++r) {
            // Each pair of products (at most 2 * 32 * 128) times its int8 scale, widened, by one
            // i32x4.dot_i16x8.
            const std::int8_t* s = w[r][b].scales + 8 * h + half;
            const auto scaled = [&](int k, v128_t x) { return wasm_i32x4_dot_i16x8(pair_products(q[r][k], x), wasm_i16x8_splat(s[2 * k])); };
            const v128_t p = wasm_i32x4_add(wasm_i32x4_add(scaled(0, x0), scaled(1, x1)), wasm_i32x4_add(scaled(2, x2), scaled(3, x3)));
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

// ---- Float weights (F16, BF16) against f32 activations ----------------------------------
// 8 weights per load, widened exactly to two f32x4; then the generic body's arithmetic: one
// 4-lane sum per (row, token), w * x added 4 values at a time, the lanes reduced as
// (l0 + l1) + (l2 + l3) (xsimd's hadd), the tail in scalars: the same bits as dot_generic.hpp,
// with each activation load serving the R rows.

// Lanes 0-3 (low) or 4-7 (high) of 8 16-bit values, moved to the high halves of 32-bit lanes
// and converted.
template <class T, bool High>
TESSERA_ALWAYS_INLINE v128_t widen_float16(v128_t v) {
  const v128_t zero = wasm_i32x4_splat(0);
  const v128_t x = High ? wasm_i16x8_shuffle(zero, v, 0, 12, 1, 13, 2, 14, 3, 15) : wasm_i16x8_shuffle(zero, v, 0, 8, 1, 9, 2, 10, 3, 11);
  if constexpr (std::is_same_v<T, f16>) return high_halves_to_floats(x);
  else return x;
}

template <class Block, std::size_t R, std::size_t NT, class Rows>
  requires(std::is_same_v<Block, f16> || std::is_same_v<Block, bf16>)
void dot(std::size_t n, const Rows& w, const float* const* a, float* out) {
  v128_t acc[R][NT];
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) acc[r][t] = wasm_f32x4_splat(0.0f);
  const auto step = [&](std::size_t i, const v128_t* wv, std::size_t k) {  // w[r][i, i + 4) in wv[r]
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const v128_t x = wasm_v128_load(a[t] + i);
      TESSERA_QUANT_WASM_UNROLL
      for (std::size_t r = 0; r < R; ++r) acc[r][t] = wasm_f32x4_add(acc[r][t], wasm_f32x4_mul(wv[r * k], x));
    }
  };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t wv[R][2];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      const v128_t v = wasm_v128_load(&w[r][i]);
      wv[r][0] = widen_float16<Block, false>(v);
      wv[r][1] = widen_float16<Block, true>(v);
    }
    step(i, &wv[0][0], 2);
    step(i + 4, &wv[0][1], 2);
  }
  if (i + 4 <= n) {
    v128_t wv[R];
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t r = 0; r < R; ++r) wv[r] = widen_float16<Block, false>(wasm_v128_load64_zero(&w[r][i]));
    step(i, wv, 1);
    i += 4;
  }
  TESSERA_QUANT_WASM_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_WASM_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const v128_t v = acc[r][t];
      float s = (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
      for (std::size_t k = i; k < n; ++k) {
        float v1 = 0.0f;
        dequantize_block(w[r][k], &v1);
        s += v1 * a[t][k];
      }
      out[r * NT + t] = s;
    }
}

// The weight formats with a kernel here: every quantized one, F16 and BF16 (dispatch.hpp runs
// the generic body for F32, which needs no conversion).
template <class Block>
inline constexpr bool has_kernel = !std::is_same_v<Block, float>;

}  // namespace tessera::kernels::detail::quant::wasm128

#undef TESSERA_QUANT_WASM_UNROLL
#endif
