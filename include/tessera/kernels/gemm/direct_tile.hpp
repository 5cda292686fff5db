// GEMM part: the register tile that reads op(A)'s rows in place and merges into C straight
// from the registers (bias, residual, activation applied there, partial vectors through the
// ISA's masked moves), for a product done in one K block with alpha = 1 and beta = 0: the
// 1x1 convolutions with few input channels, where the round trip of the accumulators through
// an aligned buffer and store_tile costs as much as the multiply-adds. Its width follows the
// panel's valid columns, so a narrow last panel (N = 16 on 32-wide AVX-512 panels) does not
// multiply zero columns.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/gemm/config.hpp>
#include <tessera/simd/simd.hpp>

#include <cstddef>

namespace tessera::kernels::detail::gemm {

// The first n (1..W) lanes of p; the other lanes are zero. Never touches memory past p + n.
TESSERA_ALWAYS_INLINE vec load_lanes(const float* p, std::size_t n) {
#if XSIMD_WITH_AVX512F
  return vec(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p));
#elif XSIMD_WITH_AVX2
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return vec(_mm256_maskload_ps(p, m));
#else
  return n == W ? vec::load_unaligned(p) : simd::load_partial<vec>(p, n);
#endif
}

// Stores the first n (1..W) lanes of v; never writes past p + n.
TESSERA_ALWAYS_INLINE void store_lanes(float* p, const vec& v, std::size_t n) {
#if XSIMD_WITH_AVX512F
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
#elif XSIMD_WITH_AVX2
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  _mm256_maskstore_ps(p, m, v);
#else
  if (n == W) v.store_unaligned(p);
  else simd::store_partial(p, v, n);
#endif
}

// C[MR rows][nr columns] = act(A rows (in place, row stride lda) x B panel (kc x NR, packed)
// + bias + residual), nr in ((NVQ-1)*W, NVQ*W]. The order of the additions is store_tile's,
// so both give the same bits.
template <std::size_t MR, std::size_t NVQ, class Act>
TESSERA_ALWAYS_INLINE void direct_tile(std::size_t kc, const float* TESSERA_RESTRICT a, std::ptrdiff_t lda,
                                       const float* TESSERA_RESTRICT b, float* c, std::ptrdiff_t ldc, std::size_t nr,
                                       const float* bias, const float* res, std::ptrdiff_t ldr, const Act act) {
  constexpr std::size_t NR = config::NR;
  vec acc[MR][NVQ];
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MR; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NVQ; ++v) acc[i][v] = vec(0.0f);
  }
  TESSERA_GEMM_UNROLL_K
  for (std::size_t k = 0; k < kc; ++k) {
    vec bv[NVQ];
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NVQ; ++v) bv[v] = vec::load_aligned(b + v * W);
    TESSERA_GEMM_UNROLL
    for (std::size_t i = 0; i < MR; ++i) {
      const vec av(a[sp(i) * lda]);
      TESSERA_GEMM_UNROLL
      for (std::size_t v = 0; v < NVQ; ++v) acc[i][v] = simd::fma(av, bv[v], acc[i][v]);
    }
    a += 1;
    b += NR;
  }
  const std::size_t last = nr - (NVQ - 1) * W;  // valid lanes of the last vector, 1..W
  vec bias_v[NVQ];
  TESSERA_GEMM_UNROLL
  for (std::size_t v = 0; v < NVQ; ++v)
    bias_v[v] = !bias ? vec(0.0f) : v + 1 < NVQ ? vec::load_unaligned(bias + v * W) : load_lanes(bias + v * W, last);
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MR; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NVQ; ++v) {
      vec x = acc[i][v];
      if (bias) x += bias_v[v];
      const bool full = v + 1 < NVQ || last == W;
      if (res) {
        const float* r = res + sp(i) * ldr + sp(v * W);
        x += full ? vec::load_unaligned(r) : load_lanes(r, last);
      }
      x = act(x);
      float* o = c + sp(i) * ldc + sp(v * W);
      if (full) x.store_unaligned(o);
      else store_lanes(o, x, last);
    }
  }
}

}  // namespace tessera::kernels::detail::gemm
