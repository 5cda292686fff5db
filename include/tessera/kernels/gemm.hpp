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
// much as the product itself: see gemm/skinny.hpp and gemv.hpp.
//
// Threads: C is split into one rectangle per thread (see choose_grid); each thread packs what
// its rectangle needs and runs the loop nest above on it. One wake-up per call and no barrier,
// so a pool that runs tasks inline (WASM without pthreads, nested calls) needs no special case.
//
// The parts, one job per file, in kernels/gemm/ (private: reach them through this header):
//   config.hpp              per-architecture blocking (MR, NR, MC, KC, NC) and the tile's target
//   validation.hpp          argument checks, as error values
//   scratch.hpp             packing buffers from the packing thread's thread_arena()
//   tile_store.hpp          merging an accumulator tile into C with the fused epilogue
//   microkernel_xsimd.hpp   the generic xsimd micro-kernel (every native ISA)
//   microkernel_wasm128.hpp the raw SIMD128 micro-kernel (WebAssembly only)
//   microkernel.hpp         this build's micro-kernel
//   pack.hpp                packing op(A) and op(B) into panels
//   packed_b.hpp            packed_b_f32 (public): weights packed once
//   skinny.hpp              M <= 8 paths without packing B
//   driver.hpp              the blocked loop nest, the thread grid, run_gemm
#pragma once

#ifndef TESSERA_PUBLIC_FRONT
#define TESSERA_PUBLIC_FRONT
#endif

#include <tessera/core/error.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/registry.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <tessera/kernels/gemm/config.hpp>
#include <tessera/kernels/gemm/validation.hpp>
#include <tessera/kernels/gemm/packed_b.hpp>
#include <tessera/kernels/gemm/driver.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace tessera::kernels {

// The registered name (kernels/op_list.def, XNNPACK-style dtype_op__arch_tile) of the
// micro-kernel this build runs in `role`, and of the blocked path's register tile.
constexpr std::string_view gemm_f32_kernel_name(registry::gemm_role role) {
  return registry::gemm_kernel_name(role, detail::gemm::config::isa);
}
static_assert(!gemm_f32_kernel_name(registry::gemm_role::tile).empty(),
              "kernels/op_list.def lists no GEMM tile for this build's target");
inline std::string gemm_f32_kernel_name() { return std::string(gemm_f32_kernel_name(registry::gemm_role::tile)); }
// Whether this build compiles a registered GEMM kernel (one tile per target: config.hpp).
constexpr bool gemm_kernel_compiled(const registry::gemm_kernel& k) {
  return registry::compiled_for(k, detail::gemm::config::isa);
}

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
