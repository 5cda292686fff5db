// Quantization part: AVX2 dot kernels (also what AVX-512 builds run: 32 codes per register
// is one ggml block). Integer products go through maddubs (unsigned x signed bytes to int16
// pairs) and madd (int16 pairs to int32): no VNNI needed. Signed x signed codes use the sign
// trick: |w| * (a with w's sign). No pair sum can saturate int16: codes are within
// [-127, 127] x [-127, 127] (Q8_0), [0, 63] x [-127, 127] (K-quants).
//
// Same contract as dot_generic.hpp: out[r * NT + t] = dot(w[r], a[t]) for an R x NT tile.
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
// Loops over the NT activation rows are unrolled so that per-row accumulators live in
// registers (an array indexed at run time would go through the stack each block).
#define TESSERA_QUANT_UNROLL _Pragma("GCC unroll 8")

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

// Tiles: R weight rows x NT activation rows, out[r * NT + t] = dot(w[r], a[t]). Each weight
// block is decoded once for the NT activation rows, each activation block loaded once for
// the R weight rows, and the R * NT accumulators are independent FMA chains.
// Q4_0 as unsigned nibbles: maddubs(nibble, x) - maddubs(8, x), the second term computed once
// per activation block for all R rows (cheaper than re-signing every product).
template <std::size_t R, std::size_t NT>
void dot_q4_0(std::size_t nb, const block_q4_0* const* w, const block_q8_0* const* a, float* out) {
  __m256 acc[R][NT] = {};
  const __m256i eight = _mm256_set1_epi8(8);
  for (std::size_t b = 0; b < nb; ++b) {
    __m256i q[R];
    __m256 dw[R];
    TESSERA_QUANT_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      q[r] = nibbles_32(w[r][b].qs);
      dw[r] = _mm256_set1_ps(half_to_float(w[r][b].d));
    }
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_0& x = a[t][b];
      const __m256i xq = load32(x.qs);
      const __m256i offset = dot_u8s8(eight, xq);
      const __m256 dx = _mm256_set1_ps(half_to_float(x.d));
      TESSERA_QUANT_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const __m256 p = _mm256_cvtepi32_ps(_mm256_sub_epi32(dot_u8s8(q[r], xq), offset));
        acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw[r], dx), p, acc[r][t]);
      }
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = hsum(acc[r][t]);
}

template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, block_q8_0>
void dot(std::size_t nb, const Block* const* w, const block_q8_0* const* a, float* out) {
  if constexpr (std::is_same_v<Block, block_q4_0>) {
    dot_q4_0<R, NT>(nb, w, a, out);
    return;
  }
  __m256 acc[R][NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    __m256i q[R], abs_q[R];
    __m256 dw[R];
    TESSERA_QUANT_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      q[r] = codes(w[r][b]);
      abs_q[r] = _mm256_sign_epi8(q[r], q[r]);
      dw[r] = _mm256_set1_ps(half_to_float(w[r][b].d));
    }
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_0& x = a[t][b];
      const __m256i xq = load32(x.qs);
      const __m256 dx = _mm256_set1_ps(half_to_float(x.d));
      TESSERA_QUANT_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const __m256 p = _mm256_cvtepi32_ps(dot_s8s8(abs_q[r], q[r], xq));
        acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw[r], dx), p, acc[r][t]);
      }
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = hsum(acc[r][t]);
}

template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, block_q8_1>
void dot(std::size_t nb, const Block* const* w, const block_q8_1* const* a, float* out) {
  __m256 acc[R][NT] = {};
  float mins[R][NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    __m256i q[R];
    float dw[R], mw[R];
    TESSERA_QUANT_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      q[r] = codes(w[r][b]);
      dw[r] = half_to_float(w[r][b].d);
      mw[r] = half_to_float(w[r][b].m);
    }
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_1& x = a[t][b];
      const __m256i xq = load32(x.qs);
      const float dx = half_to_float(x.d), sx = half_to_float(x.s);
      TESSERA_QUANT_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const __m256 p = _mm256_cvtepi32_ps(dot_u8s8(q[r], xq));
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * dx), p, acc[r][t]);
        mins[r][t] += mw[r] * sx;
      }
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = hsum(acc[r][t]) + mins[r][t];
}

// Q4_K/Q5_K scale bytes to 8 scales (bytes 0-7) and 8 mins (bytes 8-15), as four words:
// sub-blocks 0-3 keep 6 bits in bytes 0-3 (scales) and 4-7 (mins); 4-7 take the nibbles of
// bytes 8-11 and, as their top two bits, the top bits of bytes 0-3 (scales) and 4-7 (mins).
TESSERA_ALWAYS_INLINE __m128i scales_mins_k4(const std::uint8_t* s) {
  std::uint32_t u[3];
  std::memcpy(u, s, 12);
  const std::uint32_t six = 0x3f3f3f3fu, four = 0x0f0f0f0fu, two = 0x03030303u;
  const std::uint32_t scales_lo = u[0] & six, mins_lo = u[1] & six;
  const std::uint32_t scales_hi = (u[2] & four) | (((u[0] >> 6) & two) << 4);
  const std::uint32_t mins_hi = ((u[2] >> 4) & four) | (((u[1] >> 6) & two) << 4);
  return _mm_setr_epi32(static_cast<int>(scales_lo), static_cast<int>(scales_hi), static_cast<int>(mins_lo), static_cast<int>(mins_hi));
}

// Q4_K / Q5_K: per 64 values, the low nibbles (sub-block 2c) and high nibbles (2c + 1) of 32
// bytes, each multiplied with its 32 activations and weighted by its 6-bit scale in madd;
// the mins come in once per super-block through the activations' 16-sums.
template <class Block, std::size_t R, std::size_t NT>
  requires(std::is_same_v<Block, block_q4_k> || std::is_same_v<Block, block_q5_k>)
void dot(std::size_t nb, const Block* const* w, const block_q8_k* const* a, float* out) {
  constexpr bool five = std::is_same_v<Block, block_q5_k>;
  __m256 acc[R][NT];
  __m128 mins[R][NT];
  TESSERA_QUANT_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      acc[r][t] = _mm256_setzero_ps();
      mins[r][t] = _mm_setzero_ps();
    }
  const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  for (std::size_t b = 0; b < nb; ++b) {
    __m256i scales[R], hbits[R];  // int16 scales 0-7 in both lanes
    __m128i mins16[R];
    TESSERA_QUANT_UNROLL
    for (std::size_t r = 0; r < R; ++r) {
      const __m128i sm = scales_mins_k4(w[r][b].scales);
      scales[r] = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
      mins16[r] = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
      if constexpr (five) hbits[r] = load32(w[r][b].qh);
      else hbits[r] = _mm256_setzero_si256();
    }
    __m256i sum[R][NT];
    TESSERA_QUANT_UNROLL
    for (std::size_t r = 0; r < R; ++r)
      TESSERA_QUANT_UNROLL
      for (std::size_t t = 0; t < NT; ++t) sum[r][t] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      // int16 lanes 2c and 2c + 1 broadcast: the two sub-blocks' scales
      const __m256i pick_lo = _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * c)));
      const __m256i pick_hi = _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * c + 1)));
      __m256i lo[R], hi[R], s_lo[R], s_hi[R];
      TESSERA_QUANT_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const __m256i packed = load32(w[r][b].qs + 32 * c);
        lo[r] = _mm256_and_si256(packed, low4);
        hi[r] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
        if constexpr (five) {
          lo[r] = _mm256_or_si256(lo[r], _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hbits[r], _mm_cvtsi32_si128(2 * c)), one), 4));
          hi[r] = _mm256_or_si256(hi[r], _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hbits[r], _mm_cvtsi32_si128(2 * c + 1)), one), 4));
        }
        s_lo[r] = _mm256_shuffle_epi8(scales[r], pick_lo);
        s_hi[r] = _mm256_shuffle_epi8(scales[r], pick_hi);
      }
      TESSERA_QUANT_UNROLL
      for (std::size_t t = 0; t < NT; ++t) {
        const std::int8_t* x = a[t][b].qs + 64 * c;
        const __m256i x_lo = load32(x), x_hi = load32(x + 32);
        TESSERA_QUANT_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[r], x_lo), s_lo[r]);
          const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi[r], x_hi), s_hi[r]);
          sum[r][t] = _mm256_add_epi32(sum[r][t], _mm256_add_epi32(p_lo, p_hi));
        }
      }
    }
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      // Sums of each 32 activations (pairs of 16-sums), against the 8 mins.
      const __m128i bs0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.bsums));
      const __m128i bs1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.bsums + 8));
      const __m128i pair_sums = _mm_hadd_epi16(bs0, bs1);
      const __m256 dx = _mm256_set1_ps(x.d);
      TESSERA_QUANT_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        const __m128 m = _mm_cvtepi32_ps(_mm_madd_epi16(mins16[r], pair_sums));
        acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(half_to_float(w[r][b].d)), dx), _mm256_cvtepi32_ps(sum[r][t]), acc[r][t]);
        mins[r][t] = _mm_fmadd_ps(_mm_set1_ps(half_to_float(w[r][b].dmin) * x.d), m, mins[r][t]);
      }
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      __m128 m = mins[r][t];
      m = _mm_add_ps(m, _mm_movehl_ps(m, m));
      m = _mm_add_ss(m, _mm_movehdup_ps(m));
      out[r * NT + t] = hsum(acc[r][t]) - _mm_cvtss_f32(m);
    }
}

// Q6_K: codes as unsigned 0..63, the -32 offset folded in through the activations' 16-sums.
// Each 32 values span two sub-blocks of 16: one madd with both scales (one per 128-bit lane).
template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<Block, block_q6_k>
void dot(std::size_t nb, const Block* const* w, const block_q8_k* const* a, float* out) {
  __m256 acc[R][NT] = {};
  float offsets[R][NT] = {};
  const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(3);
  for (std::size_t b = 0; b < nb; ++b) {
    __m256i sum[R][NT];
    TESSERA_QUANT_UNROLL
    for (std::size_t r = 0; r < R; ++r)
      TESSERA_QUANT_UNROLL
      for (std::size_t t = 0; t < NT; ++t) sum[r][t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        __m256i q[R], s[R];
        TESSERA_QUANT_UNROLL
        for (std::size_t r = 0; r < R; ++r) {
          const Block& blk = w[r][b];
          const __m256i ql = load32(blk.ql + 64 * h + 32 * (k & 1)), qh = load32(blk.qh + 32 * h);
          const __m256i low = k < 2 ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
          const __m256i top = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), two);
          q[r] = _mm256_or_si256(low, _mm256_slli_epi16(top, 4));
          const int j = 8 * h + 2 * k;  // the first of the two sub-blocks of 16
          s[r] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(blk.scales[j])), _mm_set1_epi16(blk.scales[j + 1]), 1);
        }
        TESSERA_QUANT_UNROLL
        for (std::size_t t = 0; t < NT; ++t) {
          const __m256i x = load32(a[t][b].qs + 128 * h + 32 * k);
          TESSERA_QUANT_UNROLL
          for (std::size_t r = 0; r < R; ++r) sum[r][t] = _mm256_add_epi32(sum[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], x), s[r]));
        }
      }
    }
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      TESSERA_QUANT_UNROLL
      for (std::size_t r = 0; r < R; ++r) {
        int offset = 0;
        for (int j = 0; j < 16; ++j) offset += w[r][b].scales[j] * x.bsums[j];
        const float d = half_to_float(w[r][b].d) * x.d;
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum[r][t]), acc[r][t]);
        offsets[r][t] += d * static_cast<float>(32 * offset);
      }
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) out[r * NT + t] = hsum(acc[r][t]) - offsets[r][t];
}

// Float weights: 16 values per step (2 registers of 8, or with AVX-512 one of 16), f16
// through F16C, bf16 by a 16-bit shift. AVX-512 halves the conversions and FMAs per value,
// which F16 generation (2 bytes a weight, compute-bound near the bandwidth bound) needs.
#if defined(__AVX512F__)
using fvec = __m512;
TESSERA_ALWAYS_INLINE fvec load16(const float* p) { return _mm512_loadu_ps(p); }
TESSERA_ALWAYS_INLINE fvec load16(const f16* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
TESSERA_ALWAYS_INLINE fvec load16(const bf16* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}
TESSERA_ALWAYS_INLINE fvec fzero() { return _mm512_setzero_ps(); }
TESSERA_ALWAYS_INLINE fvec fmadd(fvec a, fvec b, fvec c) { return _mm512_fmadd_ps(a, b, c); }
TESSERA_ALWAYS_INLINE float hsum(fvec a, fvec b) {
  const __m512 v = _mm512_add_ps(a, b);
  return hsum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}
#else
struct fvec {
  __m256 lo, hi;
};
TESSERA_ALWAYS_INLINE __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
TESSERA_ALWAYS_INLINE __m256 load8(const f16* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
TESSERA_ALWAYS_INLINE __m256 load8(const bf16* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}
template <class T>
TESSERA_ALWAYS_INLINE fvec load16(const T* p) { return {load8(p), load8(p + 8)}; }
TESSERA_ALWAYS_INLINE fvec fzero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
TESSERA_ALWAYS_INLINE fvec fmadd(fvec a, fvec b, fvec c) { return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)}; }
TESSERA_ALWAYS_INLINE float hsum(fvec a, fvec b) { return hsum(_mm256_add_ps(_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi))); }
#endif

template <class Block, std::size_t R, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, float>
void dot(std::size_t n, const Block* const* w, const float* const* a, float* out) {
  // Two accumulators per (row, token): 32 values per step, two FMA chains in flight.
  fvec acc0[R][NT], acc1[R][NT];
  TESSERA_QUANT_UNROLL
  for (std::size_t r = 0; r < R; ++r)
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) acc0[r][t] = acc1[r][t] = fzero();
  std::size_t i = 0;
  const auto step = [&](std::size_t at, fvec(&acc)[R][NT]) {
    fvec wv[R];
    TESSERA_QUANT_UNROLL
    for (std::size_t r = 0; r < R; ++r) wv[r] = load16(w[r] + at);
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const fvec x = load16(a[t] + at);
      TESSERA_QUANT_UNROLL
      for (std::size_t r = 0; r < R; ++r) acc[r][t] = fmadd(wv[r], x, acc[r][t]);
    }
  };
  for (; i + 32 <= n; i += 32) {
    step(i, acc0);
    step(i + 16, acc1);
  }
  if (i + 16 <= n) {
    step(i, acc0);
    i += 16;
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t t = 0; t < NT; ++t) {
      float s = hsum(acc0[r][t], acc1[r][t]);
      for (std::size_t k = i; k < n; ++k) {
        float v = 0.0f;
        dequantize_block(w[r][k], &v);
        s += v * a[t][k];
      }
      out[r * NT + t] = s;
    }
}

}  // namespace tessera::kernels::detail::quant::avx2
#endif
