// GEMM part: the blocked driver (the Goto/BLIS loop nest of gemm.hpp's top comment), the
// thread grid, and run_gemm, which picks the C-only update, a skinny path or the blocked one.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/gemm/config.hpp>
#include <tessera/kernels/gemm/direct_tile.hpp>
#include <tessera/kernels/gemm/microkernel.hpp>
#include <tessera/kernels/gemm/pack.hpp>
#include <tessera/kernels/gemm/packed_b.hpp>
#include <tessera/kernels/gemm/scratch.hpp>
#include <tessera/kernels/gemm/skinny.hpp>
#include <tessera/kernels/gemm/tile_store.hpp>
#include <tessera/runtime/first_failure.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <utility>

namespace tessera::kernels::detail::gemm {

struct operands {
  std::size_t M, N, K;
  float alpha;
  const float* A;
  std::ptrdiff_t lda;
  transpose ta;
  const float* B;
  std::ptrdiff_t ldb;
  transpose tb;
  const packed_b_f32* packed;  // non-null: B comes prepacked
  float beta;
  float* C;
  std::ptrdiff_t ldc;
  const epilogue* ep;
};

// Threads split C into an mt x nt grid of rectangles, one per thread, chosen to minimize the
// busiest thread's work (its multiply-adds plus the packing it repeats: splitting M makes every
// thread pack the B columns it needs, splitting N the A rows). Each thread then runs the whole
// loop nest on its rectangle with its own packing buffers: one wake-up per call, no barrier,
// and a thread's B block is half the size, so it sits in its own core's L2.
struct thread_grid {
  std::size_t mt = 1, nt = 1;
};
inline thread_grid choose_grid(std::size_t T, std::size_t m_units, std::size_t n_panels, std::size_t MR,
                               std::size_t NR, std::size_t K, bool b_prepacked) {
  thread_grid best;
  double best_cost = -1;
  for (std::size_t mt = 1; mt <= T; ++mt) {
    if (T % mt != 0) continue;
    const std::size_t nt = T / mt;
    if (mt > m_units || nt > n_panels) continue;
    const double rows = double((m_units + mt - 1) / mt * MR), cols = double((n_panels + nt - 1) / nt * NR);
    // Packing one float costs about as much as four multiply-adds (a strided load and a store).
    const double cost = rows * cols * double(K) + 4.0 * double(K) * (rows + (b_prepacked ? 0.0 : cols));
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {mt, nt};
    }
  }
  return best;
}

// f(integral_constant<NVQ>) with NVQ = the vectors that hold n (1..NR) columns.
template <class F>
TESSERA_ALWAYS_INLINE void dispatch_vectors(std::size_t n, F&& f) {
  [&]<std::size_t... V>(std::index_sequence<V...>) {
    ((n > V * W && n <= (V + 1) * W ? (f(std::integral_constant<std::size_t, V + 1>{}), 0) : 0), ...);
  }(std::make_index_sequence<config::NV>{});
}

// C[r0:r1, c0:c1] on the calling thread, with its own packing buffers.
inline status gemm_rectangle(const operands& o, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
  using cfg = config;
  constexpr std::size_t MR = cfg::MR, NR = cfg::NR, KC = cfg::KC, MC = cfg::MC, NC = cfg::NC;
  const std::size_t K = o.K;
  const std::size_t a_floats = MC * KC;
  const std::size_t b_floats = o.packed ? 0 : KC * std::min(NC, round_up(c1 - c0, NR));
  arena_scope scope(thread_arena());
  TESSERA_ASSIGN_OR_RETURN(float* ap, scratch_floats(a_floats + b_floats, "packing buffers"));
  float* bbuf = ap + a_floats;
  alignas(TESSERA_ALIGNMENT) float acc[MR * NR];
  const bool plain_epilogue = !o.ep->bias && !o.ep->residual && o.ep->act == activation::none;
  // K blocks of equal size (K = 576 with KC = 512 runs as 2 x 288, not 512 + 64: a short
  // block pays the per-tile costs for few multiply-adds). Prepacked B fixes them at KC.
  const std::size_t k_blocks = (K + KC - 1) / KC;
  const std::size_t k_step = o.packed ? KC : (K + k_blocks - 1) / k_blocks;
  for (std::size_t jc = c0; jc < c1; jc += NC) {
    const std::size_t nc = std::min(NC, c1 - jc);
    const std::size_t n_panels = (nc + NR - 1) / NR;
    for (std::size_t pc = 0; pc < K; pc += k_step) {
      const std::size_t kc = std::min(k_step, K - pc);
      merge mg;
      mg.alpha = o.alpha;
      mg.beta = o.beta;
      mg.first = pc == 0;
      mg.last = pc + kc == K;
      // When the merge is a plain copy (first K block) or add (later ones), full tiles take
      // the short path instead of store_tile's general one.
      const bool plain = mg.alpha == 1.0f && (!mg.first || mg.beta == 0.0f) && (!mg.last || plain_epilogue);
      const float* bp;
      if (o.packed) {
        bp = o.packed->data() + pc * o.packed->padded_cols() + jc * kc;  // jc is a multiple of NR
      } else {
        pack_b<NR>(o.B, o.ldb, o.tb, pc, kc, jc, nc, 0, n_panels, bbuf);
        bp = bbuf;
      }
      // Packing A pays when each packed panel feeds many B panels. For a narrow C (a conv
      // layer's GEMM: N = 64 output channels is 4 panels on AVX2) it costs as much as the
      // multiply-adds it serves, so the kernel reads op(A)'s rows in place instead (MR streams
      // the prefetchers follow), up to kRowsAMaxPanels panels (config.hpp).
      const bool rows_a = o.ta == transpose::no && n_panels <= kRowsAMaxPanels;
      // One K block, alpha 1, beta 0 (a 1x1 conv with few input channels): full row tiles go
      // straight from the registers into C (direct_tile.hpp).
      const bool direct = rows_a && mg.first && mg.last && o.alpha == 1.0f && o.beta == 0.0f;
      for (std::size_t ic = r0; ic < r1; ic += MC) {
        const std::size_t mc = std::min(MC, r1 - ic);
        const std::size_t full_mc = mc / MR * MR;
        if (!rows_a) pack_a<MR>(o.A, o.lda, o.ta, ic, mc, pc, kc, ap);
        else if (full_mc < mc) pack_a<MR>(o.A, o.lda, o.ta, ic + full_mc, mc - full_mc, pc, kc, ap + full_mc * kc);
        for (std::size_t q = 0; q < n_panels; ++q) {
          const std::size_t j = q * NR;
          const std::size_t nr = std::min(NR, nc - j);
          const float* bq = bp + q * NR * kc;
          for (std::size_t ir = 0; ir < mc; ir += MR) {
            const std::size_t i = ic + ir, mr = std::min(MR, mc - ir);
            float* c = o.C + sp(i) * o.ldc + sp(jc + j);
            // Start pulling the C tile in now; the kernel's kc iterations hide the miss.
            prefetch_tile<MR, NR>(c, o.ldc, mr);
            if (direct && mr == MR) {
              const float* bias = o.ep->bias ? o.ep->bias + jc + j : nullptr;
              const float* res = o.ep->residual ? o.ep->residual + sp(i) * o.ep->ld_residual + sp(jc + j) : nullptr;
              with_activation(*o.ep, [&](const auto& act) {
                dispatch_vectors(nr, [&](auto nvq) {
                  direct_tile<MR, decltype(nvq)::value>(kc, o.A + sp(i) * o.lda + sp(pc), o.lda, bq, c, o.ldc, nr, bias,
                                                        res, o.ep->ld_residual, act);
                });
              });
              continue;
            }
            if (rows_a && mr == MR) ukernel_generic<MR, cfg::NV, true>(kc, o.A + sp(i) * o.lda + sp(pc), bq, acc, o.lda);
            else ukernel(kc, ap + ir * kc, bq, acc);
            if (plain && mr == MR && nr == NR) copy_or_add_tile<MR, NR>(acc, c, o.ldc, !mg.first);
            else store_tile<NR>(acc, mr, nr, c, o.ldc, i, jc + j, mg, *o.ep);
          }
        }
      }
    }
  }
  return {};
}

inline status gemm_blocked(const operands& o, runtime::thread_pool& pool) {
  constexpr std::size_t MR = config::MR, NR = config::NR;
  const std::size_t M = o.M, N = o.N;
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(o.K);
  // Inside a task of the pool (a conv that gave each thread its own rows) the GEMM is serial.
  const std::size_t T = flops < double(1 << 22) || runtime::in_parallel_region() ? 1 : pool.num_threads();
  const std::size_t m_units = (M + MR - 1) / MR, n_panels = (N + NR - 1) / NR;
  if (T <= 1) return gemm_rectangle(o, 0, M, 0, N);
  const thread_grid g = choose_grid(T, m_units, n_panels, MR, NR, o.K, o.packed != nullptr);
  runtime::first_failure failure;
  pool.run(g.mt * g.nt, [&](std::size_t task, std::size_t) {
    const std::size_t mi = task % g.mt, ni = task / g.mt;
    const std::size_t r0 = m_units * mi / g.mt * MR, r1 = std::min(M, m_units * (mi + 1) / g.mt * MR);
    const std::size_t c0 = n_panels * ni / g.nt * NR, c1 = std::min(N, n_panels * (ni + 1) / g.nt * NR);
    if (r0 >= r1 || c0 >= c1 || failure.failed()) return;
    failure.record(gemm_rectangle(o, r0, r1, c0, c1));
  });
  return failure.take();
}

inline status run_gemm(const operands& o, runtime::thread_pool* pool_ptr) {
  runtime::thread_pool& pool = runtime::pool_or_default(pool_ptr);
  if (o.M == 0 || o.N == 0) return {};
  if (o.K == 0 || o.alpha == 0.0f) {
    scale_c(o.M, o.N, o.beta, o.C, o.ldc, *o.ep);
    return {};
  }
  if (o.M <= 8) {
    status st;
    if (o.packed && o.M <= config::MR) {
      dispatch_rows(o.M, std::make_index_sequence<config::MR>{}, [&](auto ms) {
        st = skinny_axpy<decltype(ms)::value>(o.N, o.K, o.alpha, o.A, o.lda, o.ta, nullptr, 0, o.packed, o.beta, o.C,
                                              o.ldc, *o.ep, pool);
      });
      return st;
    }
    if (!o.packed && o.tb == transpose::no) {
      dispatch_rows(o.M, std::make_index_sequence<8>{}, [&](auto ms) {
        st = skinny_axpy<decltype(ms)::value>(o.N, o.K, o.alpha, o.A, o.lda, o.ta, o.B, o.ldb, nullptr, o.beta, o.C,
                                              o.ldc, *o.ep, pool);
      });
      return st;
    }
    if (!o.packed && o.tb == transpose::yes) {
      // Rows of op(A) must be contiguous in k: transposed A is copied (M x K, small).
      const float* a = o.A;
      std::ptrdiff_t lda = o.lda;
      arena_scope scope(thread_arena());
      if (o.ta == transpose::yes) {
        TESSERA_ASSIGN_OR_RETURN(float* t, scratch_floats(o.M * o.K, "the transposed A rows"));
        for (std::size_t i = 0; i < o.M; ++i)
          for (std::size_t k = 0; k < o.K; ++k) t[i * o.K + k] = o.A[sp(k) * o.lda + sp(i)];
        a = t;
        lda = sp(o.K);
      }
      for (std::size_t i = 0; i < o.M; i += 4) {
        const std::size_t ms = std::min<std::size_t>(4, o.M - i);
        dispatch_rows(ms, std::make_index_sequence<4>{}, [&](auto m) {
          skinny_dot<decltype(m)::value>(o.N, o.K, o.alpha, a + sp(i) * lda, lda, o.B, o.ldb, o.beta,
                                         o.C + sp(i) * o.ldc, o.ldc, i, *o.ep, pool);
        });
      }
      return {};
    }
  }
  return gemm_blocked(o, pool);
}

}  // namespace tessera::kernels::detail::gemm
