// GEMM part: the WebAssembly SIMD128 micro-kernel, raw wasm_simd128.h intrinsics (xsimd 8.1
// reaches wasm only through Emscripten's SSE emulation; the raw kernel avoids it). Empty in
// every other build.
#include <tessera/detail/internal_check.hpp>
#pragma once

#if defined(__wasm_simd128__)
#include <tessera/config.hpp>
#include <tessera/kernels/gemm/config.hpp>

#include <wasm_simd128.h>

#include <cstddef>

namespace tessera::kernels::detail::gemm {

// Raw SIMD128 body: baseline wasm SIMD has no FMA (relaxed SIMD is not in this toolchain), so a
// mul then an add. The tile is sized for V8, not for the wasm spec: TurboFan allocates 15 xmm
// registers on x64 and needs one more for each product, so accumulators + B vectors + splat +
// product must stay <= 15 (the tiles measured: docs/performance.md, "GEMM design notes").
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
// (large) driver, TurboFan's register allocator spills accumulators inside the k loop. One
// indirect call per kc iterations costs nothing.
using ukernel_fn = void (*)(std::size_t, const float*, const float*, float*);
inline ukernel_fn volatile wasm_ukernel = &ukernel_wasm<config::MR, config::NV>;
}  // namespace tessera::kernels::detail::gemm
#endif
