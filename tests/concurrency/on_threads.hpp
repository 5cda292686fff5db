// The concurrency tests' driver: fn(t) for t = 0..kThreads-1, on that many threads at once
// (one after another in builds without threads).
#pragma once

#include <tessera/config.hpp>

#include <vector>

#if TESSERA_THREADS
#include <thread>
#endif

namespace tessera::test {

inline constexpr int kThreads = 8;

template <class F>
void on_threads(F&& fn) {
#if TESSERA_THREADS
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&fn, t] { fn(t); });
  for (std::thread& th : threads) th.join();
#else
  for (int t = 0; t < kThreads; ++t) fn(t);
#endif
}

}  // namespace tessera::test
