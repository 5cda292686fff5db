// Quantization part: the weight formats a quantized matrix can hold, the activation format
// each is multiplied with (as ggml pairs them), and the block decoders (dequantization).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/dtype.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__F16C__)
#include <immintrin.h>
#endif
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace tessera::kernels::detail::quant {

// f16 bits to float: one instruction with F16C, else tessera's exact conversion.
TESSERA_ALWAYS_INLINE float half_to_float(f16 h) {
#if defined(__F16C__)
  return _cvtsh_ss(h.bits);
#elif defined(__aarch64__)
  __fp16 v;  // one fcvt
  std::memcpy(&v, &h.bits, sizeof v);
  return v;
#else
  return f16::to_float(h.bits);
#endif
}

#if defined(__wasm_simd128__)
// f16 bits in the high half of each 32-bit lane to float, exactly as half_to_float (WASM has
// no F16C, and the scalar conversion branches): shifted down arithmetically by 3, the sign
// stays on top and exponent and mantissa land in float's position, read as 2^-112 times the
// value (normal or subnormal), which one multiply by 2^112 restores, sign included; exponent
// 31 (inf, NaN) is then set to all ones, keeping the mantissa.
TESSERA_ALWAYS_INLINE v128_t high_halves_to_floats(v128_t x) {
  const v128_t bits = wasm_v128_and(wasm_i32x4_shr(x, 3), wasm_i32x4_splat(static_cast<std::int32_t>(0x8fffe000u)));
  const v128_t scaled = wasm_f32x4_mul(bits, wasm_f32x4_splat(0x1p112f));
  const v128_t exponent31 = wasm_i32x4_gt(wasm_v128_and(x, wasm_i32x4_splat(0x7fff0000)), wasm_i32x4_splat(0x7bffffff));
  return wasm_v128_or(scaled, wasm_v128_and(exponent31, wasm_i32x4_splat(0x7f800000)));
}
// The same for f16 bits in the low half of each lane.
TESSERA_ALWAYS_INLINE v128_t halves_to_floats(v128_t h) { return high_halves_to_floats(wasm_i32x4_shl(h, 16)); }
#endif

// What a weight of type W is stored as and multiplied with: Block is its storage unit
// (a block of Block::elements values, or one plain element), Act the activations' storage
// (Q8_0 for the symmetric 32-blocks and Q8_0 itself, Q8_1 for those with a min, Q8_K for the
// K-quants, float for the float types).
template <class Block> struct format;
template <> struct format<float> { using act = float; };
template <> struct format<f16> { using act = float; };
template <> struct format<bf16> { using act = float; };
template <> struct format<block_q8_0> { using act = block_q8_0; };
template <> struct format<block_q4_0> { using act = block_q8_0; };
template <> struct format<block_q5_0> { using act = block_q8_0; };
template <> struct format<block_q4_1> { using act = block_q8_1; };
template <> struct format<block_q5_1> { using act = block_q8_1; };
template <> struct format<block_q4_k> { using act = block_q8_k; };
template <> struct format<block_q5_k> { using act = block_q8_k; };
template <> struct format<block_q6_k> { using act = block_q8_k; };

template <class T>
inline constexpr std::size_t elements_of = [] {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, f16> || std::is_same_v<T, bf16>) return std::size_t{1};
  else return T::elements;
}();

// Calls fn(Block{}) with the storage type of dtype t; returns false for a dtype that is not a
// weight format (i8, i32, the activation-only Q8_1 and Q8_K).
template <class Fn>
bool visit_weight_type(dtype t, Fn&& fn) {
  switch (t) {
    case dtype::f32: fn(float{}); return true;
    case dtype::f16: fn(f16{}); return true;
    case dtype::bf16: fn(bf16{}); return true;
    case dtype::q8_0: fn(block_q8_0{}); return true;
    case dtype::q4_0: fn(block_q4_0{}); return true;
    case dtype::q4_1: fn(block_q4_1{}); return true;
    case dtype::q5_0: fn(block_q5_0{}); return true;
    case dtype::q5_1: fn(block_q5_1{}); return true;
    case dtype::q4_k: fn(block_q4_k{}); return true;
    case dtype::q5_k: fn(block_q5_k{}); return true;
    case dtype::q6_k: fn(block_q6_k{}); return true;
    default: return false;
  }
}

// ---- block decoders -------------------------------------------------------------------------
// 32-element blocks to their integer codes: symmetric ones as signed values (q - offset),
// those with a min as unsigned codes.
inline void codes_of(const block_q8_0& b, std::int8_t* q) { std::memcpy(q, b.qs, 32); }
inline void codes_of(const block_q4_0& b, std::int8_t* q) {
  for (int i = 0; i < 16; ++i) {
    q[i] = static_cast<std::int8_t>((b.qs[i] & 0x0f) - 8);
    q[i + 16] = static_cast<std::int8_t>((b.qs[i] >> 4) - 8);
  }
}
inline std::uint32_t fifth_bits_of(const std::uint8_t* qh) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, qh, 4);
  return bits;
}
inline void codes_of(const block_q5_0& b, std::int8_t* q) {
  const std::uint32_t h = fifth_bits_of(b.qh);
  for (int i = 0; i < 16; ++i) {
    q[i] = static_cast<std::int8_t>(((b.qs[i] & 0x0f) | (((h >> i) & 1u) << 4)) - 16);
    q[i + 16] = static_cast<std::int8_t>(((b.qs[i] >> 4) | (((h >> (i + 16)) & 1u) << 4)) - 16);
  }
}
inline void codes_of(const block_q4_1& b, std::uint8_t* q) {
  for (int i = 0; i < 16; ++i) {
    q[i] = static_cast<std::uint8_t>(b.qs[i] & 0x0f);
    q[i + 16] = static_cast<std::uint8_t>(b.qs[i] >> 4);
  }
}
inline void codes_of(const block_q5_1& b, std::uint8_t* q) {
  const std::uint32_t h = fifth_bits_of(b.qh);
  for (int i = 0; i < 16; ++i) {
    q[i] = static_cast<std::uint8_t>((b.qs[i] & 0x0f) | (((h >> i) & 1u) << 4));
    q[i + 16] = static_cast<std::uint8_t>((b.qs[i] >> 4) | (((h >> (i + 16)) & 1u) << 4));
  }
}

// Q4_K/Q5_K: the 6-bit scale and min of sub-block j (see quantize.hpp's pack_scales_k4).
inline void scale_min_k4(int j, const std::uint8_t* s, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
// Codes 0..15 (Q4_K) / 0..31 (Q5_K) of all 256 values, in element order.
inline void codes_of(const block_q4_k& b, std::uint8_t* q) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      q[64 * c + l] = static_cast<std::uint8_t>(b.qs[32 * c + l] & 0x0f);
      q[64 * c + 32 + l] = static_cast<std::uint8_t>(b.qs[32 * c + l] >> 4);
    }
}
inline void codes_of(const block_q5_k& b, std::uint8_t* q) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      q[64 * c + l] = static_cast<std::uint8_t>((b.qs[32 * c + l] & 0x0f) | (((b.qh[l] >> (2 * c)) & 1) << 4));
      q[64 * c + 32 + l] = static_cast<std::uint8_t>((b.qs[32 * c + l] >> 4) | (((b.qh[l] >> (2 * c + 1)) & 1) << 4));
    }
}
// Signed codes -32..31 of all 256 values of a Q6_K block, in element order.
inline void codes_of(const block_q6_k& b, std::int8_t* q) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const std::uint8_t lo = b.ql[64 * h + l], hi = b.ql[64 * h + 32 + l], top = b.qh[32 * h + l];
      std::int8_t* o = q + 128 * h + l;
      o[0] = static_cast<std::int8_t>(((lo & 0x0f) | ((top & 3) << 4)) - 32);
      o[32] = static_cast<std::int8_t>(((hi & 0x0f) | (((top >> 2) & 3) << 4)) - 32);
      o[64] = static_cast<std::int8_t>(((lo >> 4) | (((top >> 4) & 3) << 4)) - 32);
      o[96] = static_cast<std::int8_t>(((hi >> 4) | (((top >> 6) & 3) << 4)) - 32);
    }
}

inline void dequantize_block(const block_q8_0& b, float* y) {
  const float d = half_to_float(b.d);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(b.qs[i]);
}
// The 4- and 5-bit 32-blocks: low nibbles are elements 0-15, high nibbles 16-31, bit i of qh
// (Q5) the fifth bit of element i. Two straight loops rather than codes_of's interleaved one,
// so that they vectorize (prompts dequantize every weight row, driver.hpp).
template <class B>
  requires(std::is_same_v<B, block_q4_0> || std::is_same_v<B, block_q5_0> || std::is_same_v<B, block_q4_1> ||
           std::is_same_v<B, block_q5_1>)
inline void dequantize_block(const B& b, float* y) {
  constexpr bool five = std::is_same_v<B, block_q5_0> || std::is_same_v<B, block_q5_1>;
  constexpr bool with_min = std::is_same_v<B, block_q4_1> || std::is_same_v<B, block_q5_1>;
  constexpr int offset = with_min ? 0 : (five ? 16 : 8);
  std::uint32_t h = 0;
  if constexpr (five) h = fifth_bits_of(b.qh);
  const float d = half_to_float(b.d);
  const float m = [&] {
    if constexpr (with_min) return half_to_float(b.m);
    else return 0.0f;
  }();
  const auto value = [&](int code) {
    if constexpr (with_min) return d * static_cast<float>(code) + m;
    else return d * static_cast<float>(code - offset);
  };
  for (int i = 0; i < 16; ++i) y[i] = value((b.qs[i] & 0x0f) | static_cast<int>(((h >> i) & 1u) << 4));
  for (int i = 0; i < 16; ++i) y[i + 16] = value((b.qs[i] >> 4) | static_cast<int>(((h >> (i + 16)) & 1u) << 4));
}
// K-quants: per 64 values, the low nibbles of 32 bytes are sub-block 2c and the high nibbles
// 2c + 1 (Q5_K: bits 2c and 2c + 1 of qh their fifth bits); Q6_K's four 32-value groups of a
// half come from ql's nibbles and qh's bit pairs. Decoded straight into floats, one
// sub-block per loop, so that the loops vectorize.
template <class B>
  requires(std::is_same_v<B, block_q4_k> || std::is_same_v<B, block_q5_k>)
inline void dequantize_block(const B& b, float* y) {
  const float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
  for (int c = 0; c < 4; ++c) {
    const std::uint8_t* qs = b.qs + 32 * c;
    for (int half = 0; half < 2; ++half) {
      const int j = 2 * c + half, shift = 4 * half;
      int sc = 0, m = 0;
      scale_min_k4(j, b.scales, sc, m);
      const float ds = d * static_cast<float>(sc), dm = dmin * static_cast<float>(m);
      float* out = y + 32 * j;
      for (int l = 0; l < 32; ++l) {
        int code = (qs[l] >> shift) & 0x0f;
        if constexpr (std::is_same_v<B, block_q5_k>) code |= ((b.qh[l] >> j) & 1) << 4;
        out[l] = ds * static_cast<float>(code) - dm;
      }
    }
  }
}
inline void dequantize_block(const block_q6_k& b, float* y) {
  const float d = half_to_float(b.d);
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 4; ++g) {  // values 128h + 32g + l: nibble g / 2 of ql[64h + 32(g % 2) + l]
      const std::uint8_t* ql = b.ql + 64 * h + 32 * (g % 2);
      const std::uint8_t* qh = b.qh + 32 * h;
      const int shift = 4 * (g / 2);
      for (int half = 0; half < 2; ++half) {  // sub-blocks of 16, each with its scale
        const float ds = d * static_cast<float>(b.scales[8 * h + 2 * g + half]);
        float* out = y + 128 * h + 32 * g + 16 * half;
        for (int l = 16 * half; l < 16 * half + 16; ++l) {
          const int code = (((ql[l] >> shift) & 0x0f) | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
          out[l - 16 * half] = ds * static_cast<float>(code);
        }
      }
    }
}
inline void dequantize_block(const block_q8_1& b, float* y) {
  const float d = half_to_float(b.d);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(b.qs[i]);
}
inline void dequantize_block(const block_q8_k& b, float* y) {
  for (int i = 0; i < 256; ++i) y[i] = b.d * static_cast<float>(b.qs[i]);
}
inline void dequantize_block(const float& v, float* y) { *y = v; }
inline void dequantize_block(const f16& v, float* y) { *y = half_to_float(v); }
inline void dequantize_block(const bf16& v, float* y) { *y = bf16::to_float(v.bits); }

template <class Block>
inline void dequantize_blocks(const Block* b, float* y, std::size_t blocks) {
  for (std::size_t i = 0; i < blocks; ++i) dequantize_block(b[i], y + i * elements_of<Block>);
}
#if defined(__F16C__)
inline void dequantize_blocks(const f16* b, float* y, std::size_t n) {  // 8 at a time
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))));
  for (; i < n; ++i) y[i] = half_to_float(b[i]);
}
#endif

}  // namespace tessera::kernels::detail::quant
