// Element types: f32, f16, bf16, i8, i32, and the GGUF block-quantized types (Q8_0, Q4_0,
// Q4_K) whose tensors store blocks rather than elements.
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
struct block_q4_k {  // 256 elements in 8 sub-blocks of 32 with 6-bit scales and mins
  static constexpr std::size_t elements = 256;
  f16 d;
  f16 dmin;
  std::uint8_t scales[12];
  std::uint8_t qs[128];
};
static_assert(sizeof(f16) == 2 && sizeof(bf16) == 2);
static_assert(sizeof(block_q8_0) == 34 && sizeof(block_q4_0) == 18 && sizeof(block_q4_k) == 144,
              "block layouts must match ggml's on-disk format");

enum class dtype : std::uint8_t { f32, f16, bf16, i8, i32, q8_0, q4_0, q4_k };
inline constexpr int dtype_count = 8;

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
template <class T>
inline constexpr dtype dtype_of = dtype_of_t<std::remove_cv_t<T>>::value;

// Scalar conversions used by casts and tests.
inline float to_float(float v) { return v; }
inline float to_float(f16 v) { return static_cast<float>(v); }
inline float to_float(bf16 v) { return static_cast<float>(v); }
inline float to_float(std::int8_t v) { return static_cast<float>(v); }
inline float to_float(std::int32_t v) { return static_cast<float>(v); }

}  // namespace tessera
