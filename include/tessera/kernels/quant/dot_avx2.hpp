// Quantization part: AVX2 dot kernels (also what AVX-512 builds run: 32 codes per register
// is one ggml block). Integer products go through maddubs (unsigned x signed bytes to int16
// pairs) and madd (int16 pairs to int32): no VNNI needed. Signed x signed codes use the sign
// trick: |w| * (a with w's sign). No pair sum can saturate int16: codes are within
// [-127, 127] x [-127, 127] (Q8_0), [0, 63] x [-127, 127] (K-quants).
//
// Same contract as dot_generic.hpp: out[t] = dot(w, a[t]) for NT activation rows.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/quant/formats.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define TESSERA_QUANT_AVX2 1
#include <immintrin.h>
#else
#define TESSERA_QUANT_AVX2 0
#endif

#if TESSERA_QUANT_AVX2
namespace tessera::kernels::detail::quant::avx2 {

TESSERA_ALWAYS_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
TESSERA_ALWAYS_INLINE __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes of nibbles to 32 bytes: low nibbles (elements 0-15), then high nibbles (16-31).
TESSERA_ALWAYS_INLINE __m256i nibbles_32(const std::uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}
// 32 bits to 32 bytes: 0x10 where bit i is set (the fifth bit of Q5_0/Q5_1 codes).
TESSERA_ALWAYS_INLINE __m256i fifth_bits_32(const std::uint8_t* qh) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, qh, 4);
  // Byte i takes byte i / 8 of the word, then tests bit i % 8.
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                                             _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}
// Sum of products of unsigned bytes u and signed bytes s, as 8 int32 lanes.
TESSERA_ALWAYS_INLINE __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
// Signed x signed through the sign trick; `abs_w` is |w|, computed once per weight block.
TESSERA_ALWAYS_INLINE __m256i dot_s8s8(__m256i abs_w, __m256i w, __m256i a) {
  return dot_u8s8(abs_w, _mm256_sign_epi8(a, w));
}

// Symmetric 32-blocks: the signed codes of one block in a register.
TESSERA_ALWAYS_INLINE __m256i codes(const block_q8_0& b) { return load32(b.qs); }
TESSERA_ALWAYS_INLINE __m256i codes(const block_q4_0& b) { return _mm256_sub_epi8(nibbles_32(b.qs), _mm256_set1_epi8(8)); }
TESSERA_ALWAYS_INLINE __m256i codes(const block_q5_0& b) {
  return _mm256_sub_epi8(_mm256_or_si256(nibbles_32(b.qs), fifth_bits_32(b.qh)), _mm256_set1_epi8(16));
}
// Blocks with a min: unsigned codes.
TESSERA_ALWAYS_INLINE __m256i codes(const block_q4_1& b) { return nibbles_32(b.qs); }
TESSERA_ALWAYS_INLINE __m256i codes(const block_q5_1& b) { return _mm256_or_si256(nibbles_32(b.qs), fifth_bits_32(b.qh)); }

// Two accumulators per row (even and odd blocks) hide the FMA latency when NT is small.
template <class Block, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, block_q8_0>
void dot(std::size_t nb, const Block* w, const block_q8_0* const* a, float* out) {
  __m256 acc[2][NT];
  for (std::size_t t = 0; t < NT; ++t) acc[0][t] = acc[1][t] = _mm256_setzero_ps();
  for (std::size_t b = 0; b < nb; ++b) {
    const __m256i q = codes(w[b]);
    const __m256i abs_q = _mm256_sign_epi8(q, q);
    const float dw = half_to_float(w[b].d);
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_0& x = a[t][b];
      const __m256 p = _mm256_cvtepi32_ps(dot_s8s8(abs_q, q, load32(x.qs)));
      acc[b & 1][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * half_to_float(x.d)), p, acc[b & 1][t]);
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = hsum(_mm256_add_ps(acc[0][t], acc[1][t]));
}

template <class Block, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, block_q8_1>
void dot(std::size_t nb, const Block* w, const block_q8_1* const* a, float* out) {
  __m256 acc[2][NT];
  float mins[NT] = {};
  for (std::size_t t = 0; t < NT; ++t) acc[0][t] = acc[1][t] = _mm256_setzero_ps();
  for (std::size_t b = 0; b < nb; ++b) {
    const __m256i q = codes(w[b]);
    const float dw = half_to_float(w[b].d), mw = half_to_float(w[b].m);
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_1& x = a[t][b];
      const __m256 p = _mm256_cvtepi32_ps(dot_u8s8(q, load32(x.qs)));
      acc[b & 1][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * half_to_float(x.d)), p, acc[b & 1][t]);
      mins[t] += mw * half_to_float(x.s);
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = hsum(_mm256_add_ps(acc[0][t], acc[1][t])) + mins[t];
}

// Q4_K / Q5_K: per 64 values, the low nibbles (sub-block 2c) and high nibbles (2c + 1) of 32
// bytes, each multiplied with its 32 activations and weighted by its 6-bit scale in madd.
template <class Block, std::size_t NT>
  requires(std::is_same_v<Block, block_q4_k> || std::is_same_v<Block, block_q5_k>)
void dot(std::size_t nb, const Block* w, const block_q8_k* const* a, float* out) {
  constexpr bool five = std::is_same_v<Block, block_q5_k>;
  __m256 acc[NT];
  float mins[NT] = {};
  for (std::size_t t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  for (std::size_t b = 0; b < nb; ++b) {
    const Block& blk = w[b];
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) scale_min_k4(j, blk.scales, sc[j], mn[j]);
    const float d = half_to_float(blk.d), dmin = half_to_float(blk.dmin);
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (five) hbits = load32(blk.qh);
    __m256i sum[NT];
    for (std::size_t t = 0; t < NT; ++t) sum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i packed = load32(blk.qs + 32 * c);
      __m256i lo = _mm256_and_si256(packed, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
      if constexpr (five) {
        const __m256i one = _mm256_set1_epi8(1);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * c)), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * c + 1)), one), 4));
      }
      const __m256i s_lo = _mm256_set1_epi16(static_cast<short>(sc[2 * c]));
      const __m256i s_hi = _mm256_set1_epi16(static_cast<short>(sc[2 * c + 1]));
      for (std::size_t t = 0; t < NT; ++t) {
        const std::int8_t* x = a[t][b].qs + 64 * c;
        const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(x)), s_lo);
        const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(x + 32)), s_hi);
        sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(p_lo, p_hi));
      }
    }
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      int sum_min = 0;
      for (int j = 0; j < 8; ++j) sum_min += mn[j] * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x.d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
      mins[t] += dmin * x.d * static_cast<float>(sum_min);
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = hsum(acc[t]) - mins[t];
}

// Q6_K: codes as unsigned 0..63, the -32 offset folded in through the activations' 16-sums.
// Each 32 values span two sub-blocks of 16: one madd with both scales (one per 128-bit lane).
template <class Block, std::size_t NT>
  requires std::is_same_v<Block, block_q6_k>
void dot(std::size_t nb, const Block* w, const block_q8_k* const* a, float* out) {
  __m256 acc[NT];
  float offsets[NT] = {};
  for (std::size_t t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(3);
  for (std::size_t b = 0; b < nb; ++b) {
    const Block& blk = w[b];
    const float d = half_to_float(blk.d);
    __m256i sum[NT];
    for (std::size_t t = 0; t < NT; ++t) sum[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load32(blk.ql + 64 * h), ql1 = load32(blk.ql + 64 * h + 32), qh = load32(blk.qh + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two), 4)),
      };
      for (int k = 0; k < 4; ++k) {
        const int j = 8 * h + 2 * k;  // first of the two sub-blocks of 16
        const __m256i s = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(blk.scales[j])),
                                                  _mm_set1_epi16(blk.scales[j + 1]), 1);
        for (std::size_t t = 0; t < NT; ++t) {
          const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load32(a[t][b].qs + 128 * h + 32 * k)), s);
          sum[t] = _mm256_add_epi32(sum[t], p);
        }
      }
    }
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      int offset = 0;
      for (int j = 0; j < 16; ++j) offset += blk.scales[j] * x.bsums[j];
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x.d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
      offsets[t] += d * x.d * static_cast<float>(32 * offset);
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = hsum(acc[t]) - offsets[t];
}

// Float weights: 16 values per step, f16 through F16C, bf16 by a 16-bit shift.
TESSERA_ALWAYS_INLINE __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
TESSERA_ALWAYS_INLINE __m256 load8(const f16* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
TESSERA_ALWAYS_INLINE __m256 load8(const bf16* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <class Block, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, float>
void dot(std::size_t n, const Block* w, const float* const* a, float* out) {
  __m256 acc[2][NT];
  for (std::size_t t = 0; t < NT; ++t) acc[0][t] = acc[1][t] = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = load8(w + i), w1 = load8(w + i + 8);
    for (std::size_t t = 0; t < NT; ++t) {
      acc[0][t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(a[t] + i), acc[0][t]);
      acc[1][t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(a[t] + i + 8), acc[1][t]);
    }
  }
  for (std::size_t t = 0; t < NT; ++t) {
    float s = hsum(_mm256_add_ps(acc[0][t], acc[1][t]));
    for (std::size_t k = i; k < n; ++k) {
      float v = 0.0f;
      dequantize_block(w[k], &v);
      s += v * a[t][k];
    }
    out[t] = s;
  }
}

}  // namespace tessera::kernels::detail::quant::avx2
#endif
