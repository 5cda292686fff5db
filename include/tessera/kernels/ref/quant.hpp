// Scalar reference of kernels/quant.hpp: the value of each element of a ggml block, read one
// element at a time from the format's byte layout (never through the fast kernels' block
// decoders), and products accumulated in double.
#pragma once

#include <tessera/core/bit_cast.hpp>
#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tessera::kernels::ref {

namespace detail {

inline double half_at(const std::uint8_t* p) { return f16::to_float(static_cast<std::uint16_t>(p[0] | (p[1] << 8))); }

// The 6-bit scale (which = 0) or min (which = 1) of sub-block j of a Q4_K/Q5_K scale array.
inline int k4_field(const std::uint8_t* s, int j, int which) {
  if (j < 4) return s[j + 4 * which] & 63;
  const int low = which == 0 ? (s[j + 4] & 0x0f) : (s[j + 4] >> 4);
  const int top = s[j - 4 + 4 * which] >> 6;
  return low | (top << 4);
}

}  // namespace detail

// Value of element i of the block of type t at `block` (i < the type's block size).
inline double element_value(dtype t, const std::uint8_t* block, std::size_t i) {
  using detail::half_at;
  const int e = static_cast<int>(i);
  const auto nibble = [](std::uint8_t byte, bool high) { return high ? byte >> 4 : byte & 0x0f; };
  const auto bit = [](const std::uint8_t* bytes, int k) { return (bytes[k / 8] >> (k % 8)) & 1; };
  switch (t) {
    case dtype::f32: { float v; std::memcpy(&v, block, 4); return v; }
    case dtype::f16: return half_at(block);
    case dtype::bf16: return bf16::to_float(static_cast<std::uint16_t>(block[0] | (block[1] << 8)));
    case dtype::q8_0: return half_at(block) * static_cast<std::int8_t>(block[2 + e]);
    case dtype::q8_1: return half_at(block) * static_cast<std::int8_t>(block[4 + e]);
    case dtype::q4_0: return half_at(block) * (nibble(block[2 + e % 16], e >= 16) - 8);
    case dtype::q4_1: return half_at(block) * nibble(block[4 + e % 16], e >= 16) + half_at(block + 2);
    case dtype::q5_0: return half_at(block) * ((nibble(block[6 + e % 16], e >= 16) | (bit(block + 2, e) << 4)) - 16);
    case dtype::q5_1: return half_at(block) * (nibble(block[8 + e % 16], e >= 16) | (bit(block + 4, e) << 4)) + half_at(block + 2);
    case dtype::q4_k: case dtype::q5_k: {
      // 64-value chunks c: 32 bytes whose low nibbles are values 0-31 and high nibbles 32-63.
      const int c = e / 64, r = e % 64, j = e / 32;
      const std::uint8_t* qs = block + (t == dtype::q4_k ? 16 : 48);
      int q = nibble(qs[32 * c + r % 32], r >= 32);
      if (t == dtype::q5_k) q |= ((block[16 + r % 32] >> (2 * c + (r >= 32))) & 1) << 4;
      return half_at(block) * detail::k4_field(block + 4, j, 0) * q - half_at(block + 2) * detail::k4_field(block + 4, j, 1);
    }
    case dtype::q6_k: {
      // 128-value halves h; quarter k of a half: low nibbles of ql bytes 0-31 (k = 0) or 32-63
      // (k = 1), high nibbles of the same (k = 2, 3); bits 2k, 2k + 1 of qh bytes on top.
      const int h = e / 128, r = e % 128, l = r % 32, k = r / 32;
      const int low = nibble(block[64 * h + 32 * (k & 1) + l], k >= 2);
      const int top = (block[128 + 32 * h + l] >> (2 * k)) & 3;
      return half_at(block + 208) * static_cast<std::int8_t>(block[192 + e / 16]) * ((low | (top << 4)) - 32);
    }
    case dtype::q8_k: { float d; std::memcpy(&d, block, 4); return d * static_cast<std::int8_t>(block[4 + e]); }
    default: return 0.0;
  }
}

// y[0, n) = the n values stored at src with type t (n a multiple of the block size).
inline status dequantize_row(dtype t, const void* src, double* y, std::size_t n) {
  const dtype_traits tr = traits_of(t);
  if (n % tr.block_elements != 0) return make_error(errc::invalid_argument, "ref dequantize_row: partial block");
  const auto* bytes = static_cast<const std::uint8_t*>(src);
  for (std::size_t i = 0; i < n; ++i)
    y[i] = element_value(t, bytes + (i / tr.block_elements) * tr.block_bytes, i % tr.block_elements);
  return {};
}

// y[m * N + n] = sum_k W[n, k] A[m, k] in double, W rows of type wt, A rows of type at
// (e.g. activations already quantized), both row-major and packed.
inline status matmul(std::vector<double>& y, dtype wt, const void* W, std::size_t N, dtype at, const void* A, std::size_t M,
                     std::size_t K) {
  const std::size_t wrow = K / traits_of(wt).block_elements * traits_of(wt).block_bytes;
  const std::size_t arow = K / traits_of(at).block_elements * traits_of(at).block_bytes;
  std::vector<double> w(K), a(K);
  y.assign(M * N, 0.0);
  for (std::size_t m = 0; m < M; ++m) {
    TESSERA_TRY(dequantize_row(at, static_cast<const std::uint8_t*>(A) + m * arow, a.data(), K));
    for (std::size_t n = 0; n < N; ++n) {
      TESSERA_TRY(dequantize_row(wt, static_cast<const std::uint8_t*>(W) + n * wrow, w.data(), K));
      double s = 0;
      for (std::size_t k = 0; k < K; ++k) s += w[k] * a[k];
      if (at == dtype::q8_1 && (wt == dtype::q4_1 || wt == dtype::q5_1)) {
        // Q8_1 carries each block's sum d * sum(q) as an f16 (s): a weight's min multiplies
        // that stored sum, not the exact one (this is what the format means to ggml).
        const auto* wb = static_cast<const std::uint8_t*>(W) + n * wrow;
        const auto* ab = static_cast<const std::uint8_t*>(A) + m * arow;
        for (std::size_t b = 0; b < K / 32; ++b) {
          const double min = detail::half_at(wb + b * traits_of(wt).block_bytes + 2);
          double exact = 0;
          for (std::size_t k = 32 * b; k < 32 * b + 32; ++k) exact += a[k];
          s += min * (detail::half_at(ab + b * 36 + 2) - exact);
        }
      }
      y[m * N + n] = s;
    }
  }
  return {};
}

}  // namespace tessera::kernels::ref
