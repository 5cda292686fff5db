// The machine's SIMD peak, measured: a loop of 12 independent accumulator chains, enough to
// cover latency x ports of current cores (FMA: 4-5 cycles x 2 pipes; WASM mul then add:
// 3 + 3 cycles x 2). Natively FMA on the widest xsimd batch; under WASM f32x4 mul + add with
// raw SIMD128 (baseline wasm SIMD has no FMA).
//
// Run on several threads at once it also tells what speed-up this machine gives a kernel
// right now: on a shared VM the cores run at different and drifting speeds, so a benchmark
// that reports a thread scaling puts this figure beside it, timed in the same repetitions.
#pragma once

#include "harness.hpp"

#include <tessera/config.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <cstddef>
#include <utility>

#if defined(__EMSCRIPTEN__)
#include <wasm_simd128.h>
#endif

namespace tessera::bench {

#if defined(__EMSCRIPTEN__)
constexpr double kPeakLanes = 4;
#else
constexpr double kPeakLanes = double(simd::f32::size);
#endif

#if defined(__EMSCRIPTEN__)
alignas(16) inline float peak_sink[4];
#endif

inline double peak_loop_flops(long iters) { return 2.0 * kPeakLanes * 12 * double(iters); }

#if !defined(__EMSCRIPTEN__)
// The chains as a pack expansion: unrolled in the source, so they live in registers. A loop
// over an array of 12 batches let GCC keep them in memory, and the store-to-load round trip
// measured a third of the real peak (66 GFLOP/s where the GEMM reaches 190).
template <class B, std::size_t... I>
void peak_chains(long iters, std::index_sequence<I...>) {
  B c[] = {B(1.0f + 1e-3f * float(I))...};
  const B m(0.999999f), a(1e-7f);
  for (long it = 0; it < iters; ++it) ((c[I] = simd::fma(c[I], m, a)), ...);
  (do_not_optimize(c[I]), ...);
}
#endif

inline void peak_loop(long iters) {
#if defined(__EMSCRIPTEN__)
  v128_t c[12];
  for (int i = 0; i < 12; ++i) c[i] = wasm_f32x4_splat(1.0f + 1e-3f * float(i));
  const v128_t m = wasm_f32x4_splat(0.999999f), a = wasm_f32x4_splat(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) c[i] = wasm_f32x4_add(wasm_f32x4_mul(c[i], m), a);
  // Kept alive by a store to a global: clang 14's wasm backend cannot select the asm memory
  // operand of do_not_optimize when a value is a constant (the iters == 0 path).
  v128_t sum = c[0];
  for (int i = 1; i < 12; ++i) sum = wasm_f32x4_add(sum, c[i]);
  wasm_v128_store(peak_sink, sum);
#else
  peak_chains<simd::f32>(iters, std::make_index_sequence<12>{});
#endif
}

// The peak loop on each of `threads` threads of `pool` at once. Returns the flops.
inline double peak_on_threads(runtime::thread_pool& pool, std::size_t threads, long iters) {
  pool.run(threads, [&](std::size_t, std::size_t) { peak_loop(iters); });
  return double(threads) * peak_loop_flops(iters);
}

}  // namespace tessera::bench
