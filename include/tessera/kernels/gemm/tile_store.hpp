// GEMM part: merging a tile of accumulators into C (alpha, beta, and on the last K block the
// fused bias/residual/activation epilogue) while the tile is hot in L1, and the C-only update.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/gemm/config.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cstddef>

namespace tessera::kernels::detail::gemm {

// How a tile's accumulators merge into C. `first`: the first K block (C = alpha*acc + beta*C;
// beta == 0 never reads C). Later K blocks add: C += alpha*acc. `last`: apply the epilogue.
struct merge {
  float alpha = 1, beta = 0;
  bool first = true, last = true;
};

// Merges an m x n tile (m, n at most the tile size) of accumulators `acc` (row stride NRS) into
// C at (i0, j0). The epilogue pointers are global; they are offset here.
template <std::size_t NRS, class Act>
TESSERA_ALWAYS_INLINE void store_tile_impl(const float* acc, std::size_t m, std::size_t n, float* C, std::ptrdiff_t ldc,
                                           std::size_t i0, std::size_t j0, const merge& mg, const epilogue& ep,
                                           const Act act) {  // by value: C stores cannot alias clip's bounds
  const vec valpha(mg.alpha), vbeta(mg.beta);
  const bool use_beta = mg.first && mg.beta != 0.0f;
  const bool add_c = !mg.first;
  const float* bias = (mg.last && ep.bias) ? ep.bias + j0 : nullptr;
  const float* res = (mg.last && ep.residual) ? ep.residual + sp(i0) * ep.ld_residual + sp(j0) : nullptr;
  for (std::size_t i = 0; i < m; ++i) {
    float* c = C + sp(i) * ldc;
    const float* a = acc + i * NRS;
    const float* r = res ? res + sp(i) * ep.ld_residual : nullptr;
    std::size_t j = 0;
    // Whole vectors: none in a tile narrower than one (skinny_dot's on wide ISAs), where the
    // loop is left out at compile time rather than left for GCC to prove dead (it warns).
    if constexpr (NRS >= W) {
      for (; j + W <= n; j += W) {
        vec x = valpha * vec::load_unaligned(a + j);
        if (use_beta) x = simd::fma(vbeta, vec::load_unaligned(c + j), x);
        else if (add_c) x += vec::load_unaligned(c + j);
        if (mg.last) {
          if (bias) x += vec::load_unaligned(bias + j);
          if (r) x += vec::load_unaligned(r + j);
          x = act(x);
        }
        x.store_unaligned(c + j);
      }
    }
    if (j < n) {
      const std::size_t t = n - j;
      vec x = valpha * simd::load_partial<vec>(a + j, t);
      if (use_beta) x = simd::fma(vbeta, simd::load_partial<vec>(c + j, t), x);
      else if (add_c) x += simd::load_partial<vec>(c + j, t);
      if (mg.last) {
        if (bias) x += simd::load_partial<vec>(bias + j, t);
        if (r) x += simd::load_partial<vec>(r + j, t);
        x = act(x);
      }
      simd::store_partial(c + j, x, t);
    }
  }
}

template <std::size_t NRS>
inline void store_tile(const float* acc, std::size_t m, std::size_t n, float* C, std::ptrdiff_t ldc, std::size_t i0,
                       std::size_t j0, const merge& mg, const epilogue& ep) {
  if (!mg.last || ep.act == activation::none) {
    store_tile_impl<NRS>(acc, m, n, C, ldc, i0, j0, mg, ep, identity_fn{});
    return;
  }
  // activation.hpp's functors, on full and partial batches alike: the fused result equals
  // the unary kernel applied to the unfused one, in every column.
  kernels::with_activation(ep, [&](const auto& act) { store_tile_impl<NRS>(acc, m, n, C, ldc, i0, j0, mg, ep, act); });
}

// C tile (MR x NR, full) = acc, or += acc.
template <std::size_t MR, std::size_t NR>
TESSERA_ALWAYS_INLINE void copy_or_add_tile(const float* acc, float* C, std::ptrdiff_t ldc, bool add) {
  if (add) {
    TESSERA_GEMM_UNROLL
    for (std::size_t i = 0; i < MR; ++i) {
      TESSERA_GEMM_UNROLL
      for (std::size_t j = 0; j < NR; j += W)
        (vec::load_aligned(acc + i * NR + j) + vec::load_unaligned(C + sp(i) * ldc + sp(j))).store_unaligned(C + sp(i) * ldc + sp(j));
    }
  } else {
    TESSERA_GEMM_UNROLL
    for (std::size_t i = 0; i < MR; ++i) {
      TESSERA_GEMM_UNROLL
      for (std::size_t j = 0; j < NR; j += W) vec::load_aligned(acc + i * NR + j).store_unaligned(C + sp(i) * ldc + sp(j));
    }
  }
}

// Prefetches the rows of an m x NR tile of C (first and last element of each row: a row of
// the tile spans at most two cache lines when NR floats fit in 64 bytes).
template <std::size_t MR, std::size_t NR>
TESSERA_ALWAYS_INLINE void prefetch_tile(const float* c, std::ptrdiff_t ldc, std::size_t m) {
#if defined(__GNUC__) || defined(__clang__)
  for (std::size_t i = 0; i < m; ++i) {
    __builtin_prefetch(c + sp(i) * ldc, 1, 3);
    __builtin_prefetch(c + sp(i) * ldc + sp(NR - 1), 1, 3);
  }
#else
  (void)c; (void)ldc; (void)m;
#endif
}

// The C-only update (K == 0 or alpha == 0): C = epilogue(beta * C).
inline void scale_c(std::size_t M, std::size_t N, float beta, float* C, std::ptrdiff_t ldc, const epilogue& ep) {
  constexpr std::size_t TN = 4 * W;
  alignas(TESSERA_ALIGNMENT) float zero[TN] = {};
  merge mg;
  mg.alpha = 0.0f;
  mg.beta = beta;
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t j = 0; j < N; j += TN)
      store_tile<TN>(zero, 1, std::min(TN, N - j), C + sp(i) * ldc + sp(j), ldc, i, j, mg, ep);
}

}  // namespace tessera::kernels::detail::gemm
