// Element types: f32, f16, bf16, i8, i32, and the GGUF block-quantized types (Q8_0, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_1, Q4_K, Q5_K, Q6_K, Q8_K) whose tensors store blocks rather than
// elements.
#pragma once

#include <tessera/core/bit_cast.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tessera {

// IEEE 754 binary16. Conversions round to nearest even and keep inf/NaN.
struct f16 {
  std::uint16_t bits = 0;

  f16() = default;
  explicit f16(float v) : bits(from_float(v)) {}
  static f16 from_bits(std::uint16_t b) { f16 h; h.bits = b; return h; }
  explicit operator float() const { return to_float(bits); }

  static std::uint16_t from_float(float v) {
    const std::uint32_t x = tessera::bit_cast<std::uint32_t>(v);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u)  // inf or NaN (keep NaN quiet and non-zero)
      return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u | ((abs >> 13) & 0x3ffu) : 0u));
    if (abs >= 0x477ff000u)  // rounds to >= 65520: overflow to inf
      return static_cast<std::uint16_t>(sign | 0x7c00u);
    if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
      // Scale so that the half subnormal step (2^-24) becomes 1, then round to nearest even.
      const float scaled = tessera::bit_cast<float>(abs) * 16777216.0f;  // exact: power of two
      const float r = std::nearbyint(scaled);  // default rounding mode: nearest even
      return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(r));
    }
    // Normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits to even.
    std::uint32_t h = (abs - 0x38000000u) >> 13;
    const std::uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }

  static float to_float(std::uint16_t h) {
    const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t man = h & 0x3ffu;
    if (exp == 0) {  // zero or subnormal: man * 2^-24
      const float v = static_cast<float>(man) * (1.0f / 16777216.0f);
      return sign ? -v : v;
    }
    if (exp == 31) return tessera::bit_cast<float>(sign | 0x7f800000u | (man << 13));
    return tessera::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
  }
};

// bfloat16: the top half of a float. Conversion rounds to nearest even, NaN stays NaN.
struct bf16 {
  std::uint16_t bits = 0;

  bf16() = default;
  explicit bf16(float v) : bits(from_float(v)) {}
  static bf16 from_bits(std::uint16_t b) { bf16 h; h.bits = b; return h; }
  explicit operator float() const { return to_float(bits); }

  static std::uint16_t from_float(float v) {
    const std::uint32_t x = tessera::bit_cast<std::uint32_t>(v);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
    return static_cast<std::uint16_t>((x + rounding) >> 16);
  }
  static float to_float(std::uint16_t b) { return tessera::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }
};

// GGUF/ggml block-quantized types. A tensor of these stores blocks; its last dimension
// counts blocks, and element count = blocks * block_elements.
struct block_q8_0 {  // 32 elements: x = d * qs[i]
  static constexpr std::size_t elements = 32;
  f16 d;
  std::int8_t qs[32];
};
struct block_q4_0 {  // 32 elements: x = d * (nibble - 8); low nibbles hold 0..15, high 16..31
  static constexpr std::size_t elements = 32;
  f16 d;
  std::uint8_t qs[16];
};
struct block_q4_1 {  // 32 elements: x = d * nibble + m; nibbles packed as in q4_0
  static constexpr std::size_t elements = 32;
  f16 d;
  f16 m;
  std::uint8_t qs[16];
};
struct block_q5_0 {  // 32 elements: x = d * (q - 16), q = nibble | (bit i of qh) << 4
  static constexpr std::size_t elements = 32;
  f16 d;
  std::uint8_t qh[4];  // the fifth bits, little-endian u32: bit i belongs to element i
  std::uint8_t qs[16];
};
struct block_q5_1 {  // 32 elements: x = d * q + m, q as in q5_0
  static constexpr std::size_t elements = 32;
  f16 d;
  f16 m;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
struct block_q8_1 {  // 32 elements, activation side of q4_1/q5_1: x = d * qs[i]
  static constexpr std::size_t elements = 32;
  f16 d;
  f16 s;  // d * sum(qs): lets a dot with a min-carrying block add m * s once
  std::int8_t qs[32];
};
struct block_q4_k {  // 256 elements in 8 sub-blocks of 32 with 6-bit scales and mins
  static constexpr std::size_t elements = 256;
  f16 d;
  f16 dmin;
  std::uint8_t scales[12];
  std::uint8_t qs[128];
};
struct block_q5_k {  // 256 elements: q4_k's scales and low nibbles plus one high bit each
  static constexpr std::size_t elements = 256;
  f16 d;
  f16 dmin;
  std::uint8_t scales[12];
  std::uint8_t qh[32];
  std::uint8_t qs[128];
};
struct block_q6_k {  // 256 elements in 16 sub-blocks of 16: x = d * scales[j] * (q - 32)
  static constexpr std::size_t elements = 256;
  std::uint8_t ql[128];  // low 4 bits
  std::uint8_t qh[64];   // high 2 bits
  std::int8_t scales[16];
  f16 d;  // last on disk, so the struct has no padding
};
struct block_q8_k {  // 256 elements, activation side of the K-quants: x = d * qs[i]
  static constexpr std::size_t elements = 256;
  float d;
  std::int8_t qs[256];
  std::int16_t bsums[16];  // sums of each 16 qs, for the K-quants' min terms
};
static_assert(sizeof(f16) == 2 && sizeof(bf16) == 2);
static_assert(sizeof(block_q8_0) == 34 && sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 &&
                  sizeof(block_q5_0) == 22 && sizeof(block_q5_1) == 24 && sizeof(block_q8_1) == 36 &&
                  sizeof(block_q4_k) == 144 && sizeof(block_q5_k) == 176 &&
                  sizeof(block_q6_k) == 210 && sizeof(block_q8_k) == 292,
              "block layouts must match ggml's on-disk format");

// New types go at the end so existing tags keep their values.
enum class dtype : std::uint8_t {
  f32, f16, bf16, i8, i32, q8_0, q4_0, q4_k, q4_1, q5_0, q5_1, q8_1, q5_k, q6_k, q8_k
};
inline constexpr int dtype_count = 15;

struct dtype_traits {
  const char* name;
  std::size_t block_elements;  // 1 for plain element types
  std::size_t block_bytes;     // bytes of one element or one block
  bool is_float;
  bool is_quantized;
};

inline constexpr dtype_traits traits_of(dtype t) {
  switch (t) {
    case dtype::f32: return {"f32", 1, 4, true, false};
    case dtype::f16: return {"f16", 1, 2, true, false};
    case dtype::bf16: return {"bf16", 1, 2, true, false};
    case dtype::i8: return {"i8", 1, 1, false, false};
    case dtype::i32: return {"i32", 1, 4, false, false};
    case dtype::q8_0: return {"q8_0", 32, sizeof(block_q8_0), false, true};
    case dtype::q4_0: return {"q4_0", 32, sizeof(block_q4_0), false, true};
    case dtype::q4_k: return {"q4_k", 256, sizeof(block_q4_k), false, true};
    case dtype::q4_1: return {"q4_1", 32, sizeof(block_q4_1), false, true};
    case dtype::q5_0: return {"q5_0", 32, sizeof(block_q5_0), false, true};
    case dtype::q5_1: return {"q5_1", 32, sizeof(block_q5_1), false, true};
    case dtype::q8_1: return {"q8_1", 32, sizeof(block_q8_1), false, true};
    case dtype::q5_k: return {"q5_k", 256, sizeof(block_q5_k), false, true};
    case dtype::q6_k: return {"q6_k", 256, sizeof(block_q6_k), false, true};
    case dtype::q8_k: return {"q8_k", 256, sizeof(block_q8_k), false, true};
  }
  return {"?", 1, 0, false, false};
}
inline constexpr const char* dtype_name(dtype t) { return traits_of(t).name; }

// The dtype tag of a C++ element type (a compile error for anything else).
template <class T> struct dtype_of_t;
template <> struct dtype_of_t<float> { static constexpr dtype value = dtype::f32; };
template <> struct dtype_of_t<f16> { static constexpr dtype value = dtype::f16; };
template <> struct dtype_of_t<bf16> { static constexpr dtype value = dtype::bf16; };
template <> struct dtype_of_t<std::int8_t> { static constexpr dtype value = dtype::i8; };
template <> struct dtype_of_t<std::int32_t> { static constexpr dtype value = dtype::i32; };
template <> struct dtype_of_t<block_q8_0> { static constexpr dtype value = dtype::q8_0; };
template <> struct dtype_of_t<block_q4_0> { static constexpr dtype value = dtype::q4_0; };
template <> struct dtype_of_t<block_q4_k> { static constexpr dtype value = dtype::q4_k; };
template <> struct dtype_of_t<block_q4_1> { static constexpr dtype value = dtype::q4_1; };
template <> struct dtype_of_t<block_q5_0> { static constexpr dtype value = dtype::q5_0; };
template <> struct dtype_of_t<block_q5_1> { static constexpr dtype value = dtype::q5_1; };
template <> struct dtype_of_t<block_q8_1> { static constexpr dtype value = dtype::q8_1; };
template <> struct dtype_of_t<block_q5_k> { static constexpr dtype value = dtype::q5_k; };
template <> struct dtype_of_t<block_q6_k> { static constexpr dtype value = dtype::q6_k; };
template <> struct dtype_of_t<block_q8_k> { static constexpr dtype value = dtype::q8_k; };
template <class T>
inline constexpr dtype dtype_of = dtype_of_t<std::remove_cv_t<T>>::value;

// Scalar conversions used by casts and tests.
inline float to_float(float v) { return v; }
inline float to_float(f16 v) { return static_cast<float>(v); }
inline float to_float(bf16 v) { return static_cast<float>(v); }
inline float to_float(std::int8_t v) { return static_cast<float>(v); }
inline float to_float(std::int32_t v) { return static_cast<float>(v); }

}  // namespace tessera
