// GEMM part: the blocking of each architecture (register tile MR x NR, cache blocks MC, KC,
// NC), the target its tile is registered under (kernels/op_list.def), and the small helpers
// every other part uses.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/registry.hpp>
#include <tessera/simd/simd.hpp>

#include <cstddef>

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

namespace tessera::kernels::detail::gemm {

using vec = simd::f32;
inline constexpr std::size_t W = vec::size;

// MR x (NV * W) register tile (accumulators + B loads + A broadcast must fit the register
// file); KC so that an A micro-panel plus a B micro-panel fit L1 with room to spare; MC so
// that the packed A block (MC x KC) sits in L2; NC so that the packed B block (KC x NC) sits
// in L3.
struct config {
#if defined(__wasm_simd128__)
  static constexpr std::size_t MR = 5, NV = 2, KC = 512, MC = 120, NC = 4096;
  static constexpr registry::gemm_isa isa = registry::gemm_isa::wasm128;
#elif XSIMD_WITH_AVX512F
  static constexpr std::size_t MR = 12, NV = 2, KC = 256, MC = 144, NC = 4096;
  static constexpr registry::gemm_isa isa = registry::gemm_isa::avx512f;
#elif XSIMD_WITH_AVX
  static constexpr std::size_t MR = 6, NV = 2, KC = 256, MC = 144, NC = 4096;
  static constexpr registry::gemm_isa isa = XSIMD_WITH_FMA3_AVX2 ? registry::gemm_isa::avx2_fma : registry::gemm_isa::avx;
#elif XSIMD_WITH_NEON64
  static constexpr std::size_t MR = 8, NV = 3, KC = 256, MC = 128, NC = 4092;
  static constexpr registry::gemm_isa isa = registry::gemm_isa::neon64;
#else
  static constexpr std::size_t MR = 6, NV = 2, KC = 256, MC = 120, NC = 4096;
  static constexpr registry::gemm_isa isa = registry::gemm_isa::sse;
#endif
  static constexpr std::size_t NR = NV * W;
  static_assert(MC % MR == 0 && NC % NR == 0, "blocking must be a multiple of the tile");
};

// Widest C block (in B panels) for which the kernel reads A's rows in place, unpacked (wider
// C blocks amortize packing A); 0 in WASM, where keeping a pointer per row live in the kernel
// costs more than packing. Measurements: docs/performance.md, "GEMM design notes".
#if defined(__wasm_simd128__)
inline constexpr std::size_t kRowsAMaxPanels = 0;
#else
inline constexpr std::size_t kRowsAMaxPanels = 8;
#endif

inline std::size_t round_up(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }
inline std::ptrdiff_t sp(std::size_t x) { return static_cast<std::ptrdiff_t>(x); }

}  // namespace tessera::kernels::detail::gemm
