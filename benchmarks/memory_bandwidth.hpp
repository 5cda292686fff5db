// The machine's memory read bandwidth, measured: SIMD sums over a buffer far larger than the
// caches (256 MiB), on `threads` threads at once, best of a few passes. LLM generation reads
// every weight once per token, so bandwidth / bytes-per-token is its speed limit; benchmarks
// report their share of that bound. Shared by benchmarks/bench_llm.cpp and tessera-llm bench.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tessera::bench {

// One pass of `threads` threads summing disjoint parts of buf (n floats); returns a checksum.
inline float read_pass(runtime::thread_pool& pool, std::size_t threads, const float* buf, std::size_t n) {
  using B = simd::batch<float>;
  float partial[64] = {};
  pool.run(threads, [&](std::size_t task, std::size_t) {
    const std::size_t per = n / threads / (4 * B::size) * (4 * B::size);
    const float* p = buf + task * per;
    B a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
    for (std::size_t i = 0; i < per; i += 4 * B::size) {
      // Requests 4 KiB ahead as the LLM kernels do, so the bound is what software can reach.
      for (std::size_t k = 0; k < 4 * B::size * sizeof(float); k += 64)
        __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p + i) + 4096 + k));
      a0 += B::load_aligned(p + i);
      a1 += B::load_aligned(p + i + B::size);
      a2 += B::load_aligned(p + i + 2 * B::size);
      a3 += B::load_aligned(p + i + 3 * B::size);
    }
    partial[task % 64] = simd::reduce_add((a0 + a1) + (a2 + a3));
  });
  float s = 0;
  for (float v : partial) s += v;
  return s;
}

// Bytes per second read by `threads` threads streaming disjoint parts of one buffer.
inline double memory_read_bandwidth(runtime::thread_pool& pool, std::size_t threads, std::size_t bytes = std::size_t{256} << 20,
                                    int passes = 5) {
  aligned_buffer<float> buf;
  if (!buf.allocate(bytes / sizeof(float)).ok()) return 0;
  std::memset(buf.data(), 1, bytes);  // touch every page: no page faults while timing
  const std::size_t n = bytes / sizeof(float);
  float sink = 0;
  double best = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    sink += read_pass(pool, threads, buf.data(), n);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(bytes) / seconds);
  }
  volatile float keep = sink;
  (void)keep;
  return best;
}

}  // namespace tessera::bench
