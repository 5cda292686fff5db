// GEMM part: the generic micro-kernel, one xsimd body for every native ISA at the tile that
// config.hpp picks.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/gemm/config.hpp>
#include <tessera/simd/simd.hpp>

#include <cstddef>

namespace tessera::kernels::detail::gemm {

// acc[MR][NR] = sum over k < kc of a[k][MR] (outer) b[k][NR]. `a` and `b` are packed panels;
// `b` is aligned to the vector size, `acc` to TESSERA_ALIGNMENT.
// Reads A either packed (a[k * MR + i]) or, with RowsA, straight from row-major op(A) rows
// (a[i * lda + k]): see gemm_rectangle (driver.hpp) for when packing A does not pay.
template <std::size_t MR, std::size_t NV, bool RowsA = false>
inline void ukernel_generic(std::size_t kc, const float* TESSERA_RESTRICT a, const float* TESSERA_RESTRICT b,
                            float* TESSERA_RESTRICT acc, std::ptrdiff_t lda = 0) {
  vec c[MR][NV];
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MR; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NV; ++v) c[i][v] = vec(0.0f);
  }
  TESSERA_GEMM_UNROLL_K
  for (std::size_t k = 0; k < kc; ++k) {
    vec bv[NV];
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NV; ++v) bv[v] = vec::load_aligned(b + v * W);
    TESSERA_GEMM_UNROLL
    for (std::size_t i = 0; i < MR; ++i) {
      const vec av(RowsA ? a[sp(i) * lda] : a[i]);
      TESSERA_GEMM_UNROLL
      for (std::size_t v = 0; v < NV; ++v) c[i][v] = simd::fma(av, bv[v], c[i][v]);
    }
    a += RowsA ? 1 : MR;
    b += NV * W;
  }
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MR; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NV; ++v) c[i][v].store_aligned(acc + i * NV * W + v * W);
  }
}

}  // namespace tessera::kernels::detail::gemm
