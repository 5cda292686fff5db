// GEMM part: packing op(A) into MR-tall panels and op(B) into NR-wide panels, the layouts the
// micro-kernel reads front to back. Transposed operands are handled here and only here.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/gemm/config.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cstddef>

namespace tessera::kernels::detail::gemm {

// op(A)[i0 : i0+mc, k0 : k0+kc] into MR-tall panels [k][MR], rows past mc zero.
template <std::size_t MR>
inline void pack_a(const float* A, std::ptrdiff_t lda, transpose ta, std::size_t i0, std::size_t mc, std::size_t k0,
                   std::size_t kc, float* TESSERA_RESTRICT dst) {
  for (std::size_t p = 0; p < mc; p += MR) {
    const std::size_t mr = std::min(MR, mc - p);
    if (ta == transpose::no) {
      if (mr == MR) {
        const float* src[MR];
        for (std::size_t r = 0; r < MR; ++r) src[r] = A + sp(i0 + p + r) * lda + sp(k0);
        for (std::size_t k = 0; k < kc; ++k) {
          TESSERA_GEMM_UNROLL
          for (std::size_t r = 0; r < MR; ++r) dst[k * MR + r] = src[r][k];
        }
      } else {
        for (std::size_t r = 0; r < MR; ++r) {
          if (r < mr) {
            const float* s = A + sp(i0 + p + r) * lda + sp(k0);
            for (std::size_t k = 0; k < kc; ++k) dst[k * MR + r] = s[k];
          } else {
            for (std::size_t k = 0; k < kc; ++k) dst[k * MR + r] = 0.0f;
          }
        }
      }
    } else {
      for (std::size_t k = 0; k < kc; ++k) {
        const float* s = A + sp(k0 + k) * lda + sp(i0 + p);
        std::size_t r = 0;
        for (; r < mr; ++r) dst[k * MR + r] = s[r];
        for (; r < MR; ++r) dst[k * MR + r] = 0.0f;
      }
    }
    dst += MR * kc;
  }
}

// op(B)[k0 : k0+kc, j0 : j0+nc] into NR-wide panels [k][NR], columns past nc zero. Panels
// [q0, q1) only (for threads); dst points at the block's start.
template <std::size_t NR>
inline void pack_b(const float* B, std::ptrdiff_t ldb, transpose tb, std::size_t k0, std::size_t kc, std::size_t j0,
                   std::size_t nc, std::size_t q0, std::size_t q1, float* TESSERA_RESTRICT dst) {
  if (q0 >= q1) return;
  if (tb == transpose::no) {
    // Row by row: each source row is read once, front to back (prefetch-friendly), and
    // scattered into the panels NR floats at a time.
    const std::size_t q_full = std::min(q1, nc / NR);
    for (std::size_t k = 0; k < kc; ++k) {
      const float* s = B + sp(k0 + k) * ldb + sp(j0);
      float* d = dst + k * NR;
      std::size_t q = q0;
      for (; q < q_full; ++q) {
        TESSERA_GEMM_UNROLL
        for (std::size_t v = 0; v < NR; v += W) vec::load_unaligned(s + q * NR + v).store_aligned(d + q * NR * kc + v);
      }
      for (; q < q1; ++q) {
        const std::size_t nr = nc - q * NR;
        std::size_t c = 0;
        for (; c < nr; ++c) d[q * NR * kc + c] = s[q * NR + c];
        for (; c < NR; ++c) d[q * NR * kc + c] = 0.0f;
      }
    }
    return;
  }
  for (std::size_t q = q0; q < q1; ++q) {
    const std::size_t jq = q * NR;
    const std::size_t nr = std::min(NR, nc - jq);
    float* d = dst + q * NR * kc;
    for (std::size_t c = 0; c < NR; ++c) {
      if (c < nr) {
        const float* s = B + sp(j0 + jq + c) * ldb + sp(k0);
        for (std::size_t k = 0; k < kc; ++k) d[k * NR + c] = s[k];
      } else {
        for (std::size_t k = 0; k < kc; ++k) d[k * NR + c] = 0.0f;
      }
    }
  }
}

}  // namespace tessera::kernels::detail::gemm
