// GEMM part: the micro-kernel of this build, an architecture-specific body where one pays,
// the generic xsimd body otherwise.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/kernels/gemm/config.hpp>
#include <tessera/kernels/gemm/microkernel_wasm128.hpp>
#include <tessera/kernels/gemm/microkernel_xsimd.hpp>

#include <cstddef>

namespace tessera::kernels::detail::gemm {

// acc[MR][NR] = a (packed MR-tall panel) times b (packed NR-wide panel) over kc steps.
inline void ukernel(std::size_t kc, const float* a, const float* b, float* acc) {
#if defined(__wasm_simd128__)
  wasm_ukernel(kc, a, b, acc);
#else
  ukernel_generic<config::MR, config::NV>(kc, a, b, acc);
#endif
}

}  // namespace tessera::kernels::detail::gemm
