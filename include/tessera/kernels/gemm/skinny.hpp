// GEMM part: the skinny paths (M <= 8 rows, the LLM decoding case), which skip the packing of
// B: it would cost as much as the product itself. B not transposed or prepacked: axpy-style
// rows of B against broadcast A values; B transposed: dot products of A rows with B rows.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/gemm/config.hpp>
#include <tessera/kernels/gemm/packed_b.hpp>
#include <tessera/kernels/gemm/scratch.hpp>
#include <tessera/kernels/gemm/tile_store.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace tessera::kernels::detail::gemm {

// acc[MS][NVS*W] += sum over k in [0, kn) of a[k][MS] (outer) b[k * bstride ...]. `a` is A packed
// k-major (MS values per k); `b` rows are read in place (unpacked B or packed panels).
template <std::size_t MS, std::size_t NVS>
inline void skinny_kernel(std::size_t kn, const float* TESSERA_RESTRICT a, const float* TESSERA_RESTRICT b,
                          std::ptrdiff_t bstride, float* TESSERA_RESTRICT acc) {
  vec c[MS][NVS];
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MS; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NVS; ++v) c[i][v] = vec::load_aligned(acc + i * NVS * W + v * W);
  }
  for (std::size_t k = 0; k < kn; ++k) {
    vec bv[NVS];
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NVS; ++v) bv[v] = vec::load_unaligned(b + v * W);
    TESSERA_GEMM_UNROLL
    for (std::size_t i = 0; i < MS; ++i) {
      const vec av(a[i]);
      TESSERA_GEMM_UNROLL
      for (std::size_t v = 0; v < NVS; ++v) c[i][v] = simd::fma(av, bv[v], c[i][v]);
    }
    a += MS;
    b += bstride;
  }
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MS; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NVS; ++v) c[i][v].store_aligned(acc + i * NVS * W + v * W);
  }
}

// Packs op(A) (M x K) k-major: dst[k * M + i].
inline void pack_a_kmajor(const float* A, std::ptrdiff_t lda, transpose ta, std::size_t M, std::size_t K, float* dst) {
  if (ta == transpose::no) {
    for (std::size_t i = 0; i < M; ++i)
      for (std::size_t k = 0; k < K; ++k) dst[k * M + i] = A[sp(i) * lda + sp(k)];
  } else {
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t i = 0; i < M; ++i) dst[k * M + i] = A[sp(k) * lda + sp(i)];
  }
}

// Column panels per task so that a task is worth a wake-up (~64K multiply-adds at least).
inline std::size_t chunks_for(runtime::thread_pool& pool, std::size_t units, double flops_per_unit) {
  const std::size_t t = pool.num_threads();
  if (t <= 1 || units <= 1) return 1;
  const double min_flops = 1 << 18;
  const std::size_t by_work = static_cast<std::size_t>(std::max(1.0, flops_per_unit * static_cast<double>(units) / min_flops));
  return std::min({t, units, by_work});
}

// C (M <= 8 rows) = epilogue(alpha * op(A) * B + beta * C) with B (K x N, not transposed) read
// in place, NVS vectors of columns at a time, or from prepacked panels.
template <std::size_t MS>
inline status skinny_axpy(std::size_t N, std::size_t K, float alpha, const float* A, std::ptrdiff_t lda, transpose ta,
                          const float* B, std::ptrdiff_t ldb, const packed_b_f32* packed, float beta, float* C,
                          std::ptrdiff_t ldc, const epilogue& ep, runtime::thread_pool& pool) {
  // Accumulator budget: about 12 vectors on 16-register machines, twice that on 32.
  constexpr std::size_t budget = (config::MR * config::NV >= 20) ? 24 : 12;
  constexpr std::size_t NVU = std::max<std::size_t>(1, std::min<std::size_t>(8, budget / MS));  // unpacked
  arena_scope scope(thread_arena());  // ap and edge live until every task of pool.run is done
  TESSERA_ASSIGN_OR_RETURN(float* ap, scratch_floats(MS * K, "the packed A rows"));
  pack_a_kmajor(A, lda, ta, MS, K, ap);
  merge mg;
  mg.alpha = alpha;
  mg.beta = beta;
  if (packed) {
    constexpr std::size_t NR = config::NR;
    const std::size_t panels = packed->padded_cols() / NR;
    const std::size_t n_chunks = chunks_for(pool, panels, 2.0 * MS * K * NR);
    pool.run(n_chunks, [&](std::size_t t, std::size_t) {
      alignas(TESSERA_ALIGNMENT) float acc[MS * NR];
      for (std::size_t q = panels * t / n_chunks; q < panels * (t + 1) / n_chunks; ++q) {
        std::fill(acc, acc + MS * NR, 0.0f);
        for (std::size_t pc = 0; pc < K; pc += config::KC) {
          const std::size_t kc = std::min(config::KC, K - pc);
          skinny_kernel<MS, config::NV>(kc, ap + pc * MS, packed->data() + pc * packed->padded_cols() + q * NR * kc,
                                        sp(NR), acc);
        }
        store_tile<NR>(acc, MS, std::min(NR, N - q * NR), C + sp(q * NR), ldc, 0, q * NR, mg, ep);
      }
    });
    return {};
  }
  constexpr std::size_t NR = NVU * W;
  const std::size_t full = N / NR, panels = (N + NR - 1) / NR;
  // The last, partial panel is copied into a zero-padded K x NR buffer so the kernel never
  // reads past the end of B's rows.
  float* edge = nullptr;
  if (full != panels) {
    TESSERA_ASSIGN_OR_RETURN(edge, scratch_floats(K * NR, "the edge panel"));
    const std::size_t nr = N - full * NR;
    for (std::size_t k = 0; k < K; ++k) {
      const float* s = B + sp(k) * ldb + sp(full * NR);
      for (std::size_t c = 0; c < NR; ++c) edge[k * NR + c] = c < nr ? s[c] : 0.0f;
    }
  }
  const std::size_t n_chunks = chunks_for(pool, panels, 2.0 * MS * K * NR);
  pool.run(n_chunks, [&](std::size_t t, std::size_t) {
    alignas(TESSERA_ALIGNMENT) float acc[MS * NR];
    for (std::size_t q = panels * t / n_chunks; q < panels * (t + 1) / n_chunks; ++q) {
      std::fill(acc, acc + MS * NR, 0.0f);
      if (q < full) skinny_kernel<MS, NVU>(K, ap, B + sp(q * NR), ldb, acc);
      else skinny_kernel<MS, NVU>(K, ap, edge, sp(NR), acc);
      store_tile<NR>(acc, MS, std::min(NR, N - q * NR), C + sp(q * NR), ldc, 0, q * NR, mg, ep);
    }
  });
  return {};
}

// Dot products: out[i][r] = dot(a row i, w row r) over K, for MS rows of A (contiguous in k,
// row stride lda) and RW rows of W (row stride ldw).
template <std::size_t MS, std::size_t RW>
inline void dot_kernel(std::size_t K, const float* a, std::ptrdiff_t lda, const float* w, std::ptrdiff_t ldw,
                       float* out) {
  vec c[MS][RW];
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MS; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t r = 0; r < RW; ++r) c[i][r] = vec(0.0f);
  }
  std::size_t k = 0;
  for (; k + W <= K; k += W) {
    vec wv[RW];
    TESSERA_GEMM_UNROLL
    for (std::size_t r = 0; r < RW; ++r) wv[r] = vec::load_unaligned(w + sp(r) * ldw + sp(k));
    TESSERA_GEMM_UNROLL
    for (std::size_t i = 0; i < MS; ++i) {
      const vec av = vec::load_unaligned(a + sp(i) * lda + sp(k));
      TESSERA_GEMM_UNROLL
      for (std::size_t r = 0; r < RW; ++r) c[i][r] = simd::fma(av, wv[r], c[i][r]);
    }
  }
  if (k < K) {
    const std::size_t t = K - k;
    vec wv[RW];
    for (std::size_t r = 0; r < RW; ++r) wv[r] = simd::load_partial<vec>(w + sp(r) * ldw + sp(k), t);
    for (std::size_t i = 0; i < MS; ++i) {
      const vec av = simd::load_partial<vec>(a + sp(i) * lda + sp(k), t);
      for (std::size_t r = 0; r < RW; ++r) c[i][r] = simd::fma(av, wv[r], c[i][r]);
    }
  }
  for (std::size_t i = 0; i < MS; ++i)
    for (std::size_t r = 0; r < RW; ++r) out[i * RW + r] = simd::reduce_add(c[i][r]);
}

// C (MS rows) = epilogue(alpha * a * W^T + beta * C): W is N x K row-major (B transposed).
template <std::size_t MS>
inline void skinny_dot(std::size_t N, std::size_t K, float alpha, const float* a, std::ptrdiff_t lda, const float* Wm,
                       std::ptrdiff_t ldw, float beta, float* C, std::ptrdiff_t ldc, std::size_t i0, const epilogue& ep,
                       runtime::thread_pool& pool) {
  constexpr std::size_t RW = MS == 1 ? 8 : MS == 2 ? 4 : MS == 3 ? 3 : 2;
  const std::size_t groups = (N + RW - 1) / RW;
  const std::size_t n_chunks = chunks_for(pool, groups, 2.0 * MS * K * RW);
  merge mg;
  mg.alpha = alpha;
  mg.beta = beta;
  pool.run(n_chunks, [&](std::size_t t, std::size_t) {
    const std::size_t r0 = groups * t / n_chunks * RW, r1 = std::min(N, groups * (t + 1) / n_chunks * RW);
    alignas(TESSERA_ALIGNMENT) float out[MS * RW];
    for (std::size_t r = r0; r < r1; r += RW) {
      const std::size_t nr = std::min(RW, r1 - r);
      if (nr == RW) {
        dot_kernel<MS, RW>(K, a, lda, Wm + sp(r) * ldw, ldw, out);
      } else {
        for (std::size_t q = 0; q < nr; ++q) {
          float o1[MS];
          dot_kernel<MS, 1>(K, a, lda, Wm + sp(r + q) * ldw, ldw, o1);
          for (std::size_t i = 0; i < MS; ++i) out[i * RW + q] = o1[i];
        }
      }
      store_tile<RW>(out, MS, nr, C + sp(r), ldc, i0, r, mg, ep);
    }
  });
}

template <std::size_t... I, class F>
TESSERA_ALWAYS_INLINE void dispatch_rows(std::size_t m, std::index_sequence<I...>, F&& f) {
  ((m == I + 1 ? (f(std::integral_constant<std::size_t, I + 1>{}), 0) : 0), ...);
}

}  // namespace tessera::kernels::detail::gemm
