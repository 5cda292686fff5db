// Quantization part: which dot kernel this build runs for each weight format, and its name.
// An ISA's kernels are selected when the build targets it (AVX2 also serves AVX-512 builds;
// WebAssembly SIMD128 has kernels for every quantized format, F16 and BF16, aarch64 NEON for
// every quantized format; the other float types run the generic bodies there); everything
// else runs the generic bodies.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/kernels/quant/dot_avx2.hpp>
#include <tessera/kernels/quant/dot_generic.hpp>
#include <tessera/kernels/quant/dot_neon.hpp>
#include <tessera/kernels/quant/dot_wasm.hpp>
#include <tessera/kernels/quant/formats.hpp>

#include <cstddef>
#include <type_traits>

namespace tessera::kernels::detail::quant {

#if TESSERA_QUANT_AVX2
inline constexpr const char* dot_isa = "avx2";
#elif TESSERA_QUANT_WASM
inline constexpr const char* dot_isa = "wasm_simd128";
#elif TESSERA_QUANT_NEON
inline constexpr const char* dot_isa = "neon";
#else
inline constexpr const char* dot_isa = "generic";
#endif

// Whether dot_kernel runs this build's ISA kernel for Block rather than the generic body.
template <class Block>
inline constexpr bool has_isa_kernel =
#if TESSERA_QUANT_AVX2
    true;
#elif TESSERA_QUANT_WASM
    wasm128::has_kernel<Block>;
#elif TESSERA_QUANT_NEON
    neon::has_kernel<Block>;
#else
    false;
#endif

// out[r * NT + t] = dot(w[r], a[t]) for an R x NT tile; nb counts the weight rows' blocks
// (their elements for float types).
template <class Block, std::size_t R, std::size_t NT>
TESSERA_ALWAYS_INLINE void dot_kernel(std::size_t nb, const Block* const* w, const typename format<Block>::act* const* a, float* out) {
#if TESSERA_QUANT_AVX2
  avx2::dot<Block, R, NT>(nb, w, a, out);
#elif TESSERA_QUANT_WASM
  if constexpr (has_isa_kernel<Block>) wasm128::dot<Block, R, NT>(nb, w, a, out);
  else generic::dot_tile<Block, R, NT>(nb, w, a, out);
#elif TESSERA_QUANT_NEON
  if constexpr (has_isa_kernel<Block>) neon::dot<Block, R, NT>(nb, w, a, out);
  else generic::dot_tile<Block, R, NT>(nb, w, a, out);
#else
  generic::dot_tile<Block, R, NT>(nb, w, a, out);
#endif
}

}  // namespace tessera::kernels::detail::quant
