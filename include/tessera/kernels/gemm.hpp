// f32 GEMM: C[M,N] = epilogue(alpha * op(A)[M,K] op(B)[K,N] + beta * C), row-major.
//
// Design (the Goto/BLIS scheme):
//   for jc in N step NC                    B block (KC x NC) lives in L3
//     for pc in K step KC                  pack B block into NR-wide panels [k][NR]
//       for ic in M step MC  (threads)     pack A block into MR-tall panels [k][MR], in L2
//         for jr in NC step NR             one B micro-panel (KC x NR) stays in L1
//           for ir in MC step MR           micro-kernel: MR x NR accumulators in registers
// The micro-kernel only accumulates a full MR x NR tile into a small aligned buffer; one
// store routine then merges it into C (alpha, beta, and on the last K block the fused
// bias/residual/activation) while the tile is hot in L1. Edge tiles (M, N tails) use the same
// kernel on zero-padded panels and the store routine writes only the valid part, so there is
// one code path for every shape. Transposed operands are handled entirely by the packing.
//
// Tiles per architecture (accumulators + B loads + A broadcast must fit the register file):
//   AVX-512: 12x32 (24 zmm accumulators) AVX2+FMA: 6x16 (12 ymm)   SSE: 6x8 (12 xmm)
//   NEON64:  8x12  (24 q accumulators)   WASM SIMD128: 5x8, raw wasm_simd128.h intrinsics
//   (xsimd 8.1 reaches wasm only through Emscripten's SSE emulation; the raw kernel avoids it).
// Skinny products (M <= 8, the LLM decoding case) skip the packing of B, which would cost as
// much as the product itself: see "skinny paths" below and gemv.hpp.
//
// Threads: C is split into one rectangle per thread (see choose_grid); each thread packs what
// its rectangle needs and runs the loop nest above on it. One wake-up per call and no barrier,
// so a pool that runs tasks inline (WASM without pthreads, nested calls) needs no special case.
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>

#if defined(__clang__)
#define TESSERA_GEMM_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define TESSERA_GEMM_UNROLL _Pragma("GCC unroll 32")
#else
#define TESSERA_GEMM_UNROLL
#endif
// The k loop: unrolling amortizes pointer bumps and the loop branch next to 12 FMAs. Not in
// WASM: clang then hoists the loads of several k steps, V8 follows that order and spills.
#if defined(__GNUC__) && !defined(__clang__)
#define TESSERA_GEMM_UNROLL_K _Pragma("GCC unroll 4")
#else
#define TESSERA_GEMM_UNROLL_K
#endif

namespace tessera::kernels {

namespace detail::gemm {

using vec = simd::f32;
inline constexpr std::size_t W = vec::size;

// ---- per-architecture blocking -------------------------------------------------------
// MR x (NV * W) register tile; KC so that an A micro-panel plus a B micro-panel fit L1 with
// room to spare; MC so that the packed A block (MC x KC) sits in L2; NC so that the packed
// B block (KC x NC) sits in L3.
struct config {
#if defined(__wasm_simd128__)
  static constexpr std::size_t MR = 5, NV = 2, KC = 512, MC = 120, NC = 4096;
  static constexpr const char* name = "wasm128_5x8";
#elif XSIMD_WITH_AVX512F
  static constexpr std::size_t MR = 12, NV = 2, KC = 256, MC = 144, NC = 4096;
  static constexpr const char* name = "avx512f_12x32";
#elif XSIMD_WITH_AVX
  static constexpr std::size_t MR = 6, NV = 2, KC = 256, MC = 144, NC = 4096;
  static constexpr const char* name = XSIMD_WITH_FMA3_AVX2 ? "avx2_fma_6x16" : "avx_6x16";
#elif XSIMD_WITH_NEON64
  static constexpr std::size_t MR = 8, NV = 3, KC = 256, MC = 128, NC = 4092;
  static constexpr const char* name = "neon64_8x12";
#else
  static constexpr std::size_t MR = 6, NV = 2, KC = 256, MC = 120, NC = 4096;
  static constexpr const char* name = "sse_6x8";
#endif
  static constexpr std::size_t NR = NV * W;
  static_assert(MC % MR == 0 && NC % NR == 0, "blocking must be a multiple of the tile");
};

// ---- aligned scratch ------------------------------------------------------------------
// A buffer per calling thread that only grows (bounded by the blocking sizes, or by the input
// size for the skinny paths). Returns null when the allocation fails.
struct scratch {
  aligned_buffer<float> buf;
  float* get(std::size_t n) {
    if (n > buf.size() && !buf.allocate(n)) return nullptr;
    return buf.data();
  }
};
inline scratch& thread_scratch(int which) {
  thread_local scratch s[2];
  return s[which];
}

inline std::size_t round_up(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }
inline std::ptrdiff_t sp(std::size_t x) { return static_cast<std::ptrdiff_t>(x); }

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

// ---- micro-kernels ------------------------------------------------------------------------
// acc[MR][NR] = sum over k < kc of a[k][MR] (outer) b[k][NR]. `a` and `b` are packed panels;
// `b` is aligned to the vector size, `acc` to TESSERA_ALIGNMENT.
// Reads A either packed (a[k * MR + i]) or, with RowsA, straight from row-major op(A) rows
// (a[i * lda + k]): see gemm_rectangle for when packing A does not pay.
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

#if defined(__wasm_simd128__)
// Raw SIMD128 body: baseline wasm SIMD has no FMA (relaxed SIMD is not in this toolchain), so a
// mul then an add. The tile is sized for V8, not for the wasm spec: TurboFan allocates 15 xmm
// registers on x64 and needs one more for each product, so accumulators + B vectors + splat +
// product must stay <= 15. Measured under node 20 --no-liftoff (GFLOP/s, kernel alone on L1
// data): 5x8 41, 3x12 40, 4x8 37, 4x12 25 (spills), 6x8 22 (spills).
template <std::size_t MR, std::size_t NV>
inline void ukernel_wasm(std::size_t kc, const float* TESSERA_RESTRICT a, const float* TESSERA_RESTRICT b,
                         float* TESSERA_RESTRICT acc) {
  v128_t c[MR][NV];
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MR; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NV; ++v) c[i][v] = wasm_f32x4_splat(0.0f);
  }
  for (std::size_t k = 0; k < kc; ++k) {
    v128_t bv[NV];
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NV; ++v) bv[v] = wasm_v128_load(b + 4 * v);
    TESSERA_GEMM_UNROLL
    for (std::size_t i = 0; i < MR; ++i) {
      const v128_t av = wasm_v128_load32_splat(a + i);
      TESSERA_GEMM_UNROLL
      for (std::size_t v = 0; v < NV; ++v) c[i][v] = wasm_f32x4_add(c[i][v], wasm_f32x4_mul(av, bv[v]));
    }
    a += MR;
    b += 4 * NV;
  }
  TESSERA_GEMM_UNROLL
  for (std::size_t i = 0; i < MR; ++i) {
    TESSERA_GEMM_UNROLL
    for (std::size_t v = 0; v < NV; ++v) wasm_v128_store(acc + (i * NV + v) * 4, c[i][v]);
  }
}

// Called through a pointer V8 cannot see through: if wasm-opt inlines the kernel into the
// (large) driver, TurboFan's register allocator spills accumulators inside the k loop and the
// kernel runs at a third of its speed. One indirect call per kc iterations costs nothing.
using ukernel_fn = void (*)(std::size_t, const float*, const float*, float*);
inline ukernel_fn volatile wasm_ukernel = &ukernel_wasm<config::MR, config::NV>;
#endif

// The micro-kernel of this build: an architecture-specific body where one pays, the generic
// xsimd body otherwise.
inline void ukernel(std::size_t kc, const float* a, const float* b, float* acc) {
#if defined(__wasm_simd128__)
  wasm_ukernel(kc, a, b, acc);
#else
  ukernel_generic<config::MR, config::NV>(kc, a, b, acc);
#endif
}

// Widest C block (in B panels) for which the kernel reads A's rows in place, unpacked; 0 in
// WASM, where that costs more than packing (see gemm_rectangle).
#if defined(__wasm_simd128__)
inline constexpr std::size_t kRowsAMaxPanels = 0;
#else
inline constexpr std::size_t kRowsAMaxPanels = 8;
#endif

// ---- packing ------------------------------------------------------------------------------
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

// ---- validation ---------------------------------------------------------------------------
inline bool mul_overflows(std::size_t a, std::size_t b) {
  constexpr std::size_t lim = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());
  return a != 0 && b > lim / a;
}

// A rows x cols matrix at p with leading dimension ld (elements).
inline status check_matrix(const char* who, const char* what, std::size_t rows, std::size_t cols, const void* p,
                           std::ptrdiff_t ld) {
  if (rows == 0 || cols == 0) return {};
  auto fail = [&](const std::string& m) {
    return make_error(errc::invalid_argument, std::string(who) + ": " + what + ": " + m);
  };
  if (p == nullptr) return fail("null pointer for a " + std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
  if (ld < 0 || static_cast<std::size_t>(ld) < cols)
    return fail("leading dimension " + std::to_string(ld) + " < " + std::to_string(cols) + " columns");
  if (mul_overflows(rows - 1, static_cast<std::size_t>(ld)) ||
      (rows - 1) * static_cast<std::size_t>(ld) >
          static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) - cols)
    return fail("extent overflows");
  return {};
}

inline status check_sizes(const char* who, std::size_t M, std::size_t N, std::size_t K) {
  if (mul_overflows(M, N) || mul_overflows(M, K) || mul_overflows(K, N))
    return make_error(errc::invalid_argument, std::string(who) + ": " + std::to_string(M) + "x" + std::to_string(N) +
                                                  "x" + std::to_string(K) + " overflows");
  return {};
}

inline status check_epilogue(const char* who, std::size_t M, std::size_t N, const epilogue& ep) {
  TESSERA_TRY(validate_epilogue(ep, who));
  if (M == 0 || N == 0) return {};
  if (ep.residual) TESSERA_TRY(check_matrix(who, "residual", M, N, ep.residual, M == 1 ? std::max<std::ptrdiff_t>(ep.ld_residual, sp(N)) : ep.ld_residual));
  return {};
}

// ---- C-only update (K == 0 or alpha == 0): C = epilogue(beta * C) ---------------------------
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

}  // namespace detail::gemm

// ---- prepacked weights --------------------------------------------------------------------
// B (K x N, or its transpose) packed once into the micro-kernel's panel layout: for each KC
// block of rows, ceil(N / NR) panels of kc x NR floats (zero-padded). The layout belongs to
// the build's architecture: pack in the same program that multiplies.
class packed_b_f32 {
 public:
  packed_b_f32() = default;
  // Not defaulted: a moved-from object must become empty (0 x 0), not keep its sizes with
  // no data (gemm_f32 would then read through a null panel pointer).
  packed_b_f32(packed_b_f32&& o) noexcept
      : k_(std::exchange(o.k_, 0)), n_(std::exchange(o.n_, 0)), n_pad_(std::exchange(o.n_pad_, 0)),
        data_(std::move(o.data_)) {}
  packed_b_f32& operator=(packed_b_f32&& o) noexcept {
    if (this != &o) {
      k_ = std::exchange(o.k_, 0);
      n_ = std::exchange(o.n_, 0);
      n_pad_ = std::exchange(o.n_pad_, 0);
      data_ = std::move(o.data_);
    }
    return *this;
  }

  static expected<packed_b_f32> pack(std::size_t K, std::size_t N, const float* B, std::ptrdiff_t ldb,
                                     transpose trans_b) {
    using cfg = detail::gemm::config;
    constexpr const char* who = "packed_b_f32::pack";
    TESSERA_TRY(detail::gemm::check_sizes(who, 1, N, K));
    TESSERA_TRY(trans_b == transpose::no ? detail::gemm::check_matrix(who, "B", K, N, B, ldb)
                                         : detail::gemm::check_matrix(who, "B", N, K, B, ldb));
    packed_b_f32 p;
    p.k_ = K;
    p.n_ = N;
    p.n_pad_ = detail::gemm::round_up(N, cfg::NR);
    if (detail::gemm::mul_overflows(p.n_pad_, K))
      return make_error(errc::invalid_argument, std::string(who) + ": packed size overflows");
    const std::size_t total = p.n_pad_ * K;
    if (total == 0) return p;
    if (!p.data_.allocate(total))
      return make_error(errc::out_of_memory, std::string(who) + ": cannot allocate " + std::to_string(total) + " floats");
    for (std::size_t pc = 0; pc < K; pc += cfg::KC) {
      const std::size_t kc = std::min(cfg::KC, K - pc);
      detail::gemm::pack_b<cfg::NR>(B, ldb, trans_b, pc, kc, 0, N, 0, p.n_pad_ / cfg::NR, p.data_.data() + pc * p.n_pad_);
    }
    return p;
  }

  std::size_t rows() const { return k_; }
  std::size_t cols() const { return n_; }
  bool empty() const { return data_.empty(); }
  // Panel layout (for kernels): the kc-block starting at row pc begins at data() + pc * padded_cols(),
  // and holds padded_cols() / panel_width() panels of kc x panel_width() floats each.
  const float* data() const { return data_.data(); }
  std::size_t padded_cols() const { return n_pad_; }
  static constexpr std::size_t panel_width() { return detail::gemm::config::NR; }
  static constexpr std::size_t block_rows() { return detail::gemm::config::KC; }

 private:
  std::size_t k_ = 0, n_ = 0, n_pad_ = 0;
  aligned_buffer<float> data_;
};

namespace detail::gemm {

// ---- skinny paths (M <= 8) ------------------------------------------------------------------
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
  float* ap = thread_scratch(1).get(MS * K + 1);
  if (!ap) return make_error(errc::out_of_memory, "gemm_f32: cannot allocate the packed A rows");
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
    edge = thread_scratch(0).get(K * NR + 1);
    if (!edge) return make_error(errc::out_of_memory, "gemm_f32: cannot allocate the edge panel");
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

// ---- blocked driver -------------------------------------------------------------------------
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

// C[r0:r1, c0:c1] on the calling thread, with its own packing buffers.
inline status gemm_rectangle(const operands& o, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
  using cfg = config;
  constexpr std::size_t MR = cfg::MR, NR = cfg::NR, KC = cfg::KC, MC = cfg::MC, NC = cfg::NC;
  const std::size_t K = o.K;
  const std::size_t a_floats = MC * KC;
  const std::size_t b_floats = o.packed ? 0 : KC * std::min(NC, round_up(c1 - c0, NR));
  float* ap = thread_scratch(0).get(a_floats + b_floats);
  if (!ap) return make_error(errc::out_of_memory, "gemm_f32: cannot allocate packing buffers");
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
      // the short path instead of store_tile's general one (about 6% of a WASM GEMM).
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
      // multiply-adds it serves, so the kernel reads op(A)'s rows in place instead (6 streams
      // the prefetchers follow): 3136x64x576 +10%, 12544x32x27 +25% on AVX2. Not in WASM:
      // with a pointer per row live in the loop V8's kernel ran at 22 GFLOP/s instead of 38.
      const bool rows_a = o.ta == transpose::no && n_panels <= kRowsAMaxPanels;
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
  const std::size_t T = flops < double(1 << 22) ? 1 : pool.num_threads();
  const std::size_t m_units = (M + MR - 1) / MR, n_panels = (N + NR - 1) / NR;
  if (T <= 1) return gemm_rectangle(o, 0, M, 0, N);
  const thread_grid g = choose_grid(T, m_units, n_panels, MR, NR, o.K, o.packed != nullptr);
  std::atomic<bool> failed{false};
  status first_error;
  std::atomic_flag error_taken = ATOMIC_FLAG_INIT;
  pool.run(g.mt * g.nt, [&](std::size_t task, std::size_t) {
    const std::size_t mi = task % g.mt, ni = task / g.mt;
    const std::size_t r0 = m_units * mi / g.mt * MR, r1 = std::min(M, m_units * (mi + 1) / g.mt * MR);
    const std::size_t c0 = n_panels * ni / g.nt * NR, c1 = std::min(N, n_panels * (ni + 1) / g.nt * NR);
    if (r0 >= r1 || c0 >= c1 || failed.load(std::memory_order_relaxed)) return;
    status st = gemm_rectangle(o, r0, r1, c0, c1);
    if (!st && !error_taken.test_and_set()) {
      first_error = std::move(st);
      failed.store(true);
    }
  });
  if (failed.load()) return first_error;
  return {};
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
      if (o.ta == transpose::yes) {
        float* t = thread_scratch(1).get(o.M * o.K);
        if (!t) return make_error(errc::out_of_memory, "gemm_f32: cannot allocate the transposed A rows");
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

}  // namespace detail::gemm

// Name of the micro-kernel this build uses (XNNPACK-style: dtype_op__arch_tile).
inline std::string gemm_f32_kernel_name() { return std::string("f32_gemm__") + detail::gemm::config::name; }

// C[M,N] = epilogue(alpha * op(A)[M,K] * op(B)[K,N] + beta * C). Row-major, leading
// dimensions in elements. beta == 0 never reads C; alpha == 0 never reads A or B (BLAS rules).
inline status gemm_f32(std::size_t M, std::size_t N, std::size_t K, float alpha, const float* A, std::ptrdiff_t lda,
                       transpose trans_a, const float* B, std::ptrdiff_t ldb, transpose trans_b, float beta, float* C,
                       std::ptrdiff_t ldc, const epilogue& ep = {}, runtime::thread_pool* pool = nullptr) {
  namespace d = detail::gemm;
  constexpr const char* who = "gemm_f32";
  TESSERA_TRY(d::check_sizes(who, M, N, K));
  const bool reads_ab = M != 0 && N != 0 && K != 0 && alpha != 0.0f;
  if (reads_ab) {
    TESSERA_TRY(trans_a == transpose::no ? d::check_matrix(who, "A", M, K, A, lda) : d::check_matrix(who, "A", K, M, A, lda));
    TESSERA_TRY(trans_b == transpose::no ? d::check_matrix(who, "B", K, N, B, ldb) : d::check_matrix(who, "B", N, K, B, ldb));
  }
  TESSERA_TRY(d::check_matrix(who, "C", M, N, C, ldc));
  TESSERA_TRY(d::check_epilogue(who, M, N, ep));
  const d::operands o{M, N, K, alpha, A, lda, trans_a, B, ldb, trans_b, nullptr, beta, C, ldc, &ep};
  return d::run_gemm(o, pool);
}

// C[M,N] = epilogue(A[M,K] * B) with B prepacked (K = B.rows(), N = B.cols()).
inline status gemm_f32(std::size_t M, const float* A, std::ptrdiff_t lda, const packed_b_f32& B, float* C,
                       std::ptrdiff_t ldc, const epilogue& ep = {}, runtime::thread_pool* pool = nullptr) {
  namespace d = detail::gemm;
  constexpr const char* who = "gemm_f32(packed)";
  const std::size_t N = B.cols(), K = B.rows();
  TESSERA_TRY(d::check_sizes(who, M, N, K));
  if (M != 0 && N != 0 && K != 0) TESSERA_TRY(d::check_matrix(who, "A", M, K, A, lda));
  TESSERA_TRY(d::check_matrix(who, "C", M, N, C, ldc));
  TESSERA_TRY(d::check_epilogue(who, M, N, ep));
  const d::operands o{M, N, K, 1.0f, A, lda, transpose::no, nullptr, 0, transpose::no, &B, 0.0f, C, ldc, &ep};
  return d::run_gemm(o, pool);
}

}  // namespace tessera::kernels
