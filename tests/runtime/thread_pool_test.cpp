#include <tessera/runtime/thread_pool.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <vector>

using namespace tessera;

TEST_SUITE("runtime/thread_pool") {
  TEST_CASE("every task runs exactly once, for many sizes and pool sizes") {
    for (std::size_t threads : {1, 2, 3, 4}) {
      runtime::thread_pool pool(threads);
#if TESSERA_THREADS
      CHECK(pool.num_threads() == threads);
#else
      CHECK(pool.num_threads() == 1);
#endif
      for (std::size_t n : {0, 1, 2, 7, 64, 1001}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<std::size_t> bad_thread{0};
        pool.run(n, [&](std::size_t task, std::size_t thread) {
          hits[task].fetch_add(1);
          if (thread >= pool.num_threads()) bad_thread.fetch_add(1);
        });
        for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
        CHECK(bad_thread.load() == 0);
      }
    }
  }

  TEST_CASE("parallel_for covers a range exactly once, with nested calls inline") {
    runtime::thread_pool pool(3);
    for (std::size_t n : {1, 5, 100, 12345}) {
      std::vector<int> seen(n, 0);
      runtime::parallel_for(pool, 0, n, 7, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) seen[i] += 1;
        // A nested parallel_for must not deadlock: it runs inline on this thread.
        std::atomic<int> inner{0};
        runtime::parallel_for(pool, 0, 10, 1, [&](std::size_t ib, std::size_t ie) { inner += static_cast<int>(ie - ib); });
        CHECK(inner.load() == 10);
      });
      for (std::size_t i = 0; i < n; ++i) REQUIRE(seen[i] == 1);
    }
  }

  TEST_CASE("many back-to-back jobs and a resize do not lose work") {
    runtime::thread_pool pool(2);
    std::atomic<long> total{0};
    for (int rep = 0; rep < 2000; ++rep) pool.run(3, [&](std::size_t t, std::size_t) { total += static_cast<long>(t) + 1; });
    CHECK(total.load() == 2000L * 6);
    pool.set_num_threads(3);
    total = 0;
    pool.run(100, [&](std::size_t, std::size_t) { total += 1; });
    CHECK(total.load() == 100);
  }
}
