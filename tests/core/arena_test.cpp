#include <tessera/core/arena.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>

using namespace tessera;

TEST_SUITE("core/arena") {
  TEST_CASE("allocations are aligned and do not overlap") {
    arena a(1024);
    auto p = a.allocate<float>(10);
    auto q = a.allocate<std::int8_t>(3, 1);
    auto r = a.allocate<double>(5);
    REQUIRE((p.ok() && q.ok() && r.ok()));
    CHECK(reinterpret_cast<std::uintptr_t>(*p) % TESSERA_ALIGNMENT == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(*r) % TESSERA_ALIGNMENT == 0);
    const auto* pe = reinterpret_cast<const unsigned char*>(*p + 10);
    CHECK(reinterpret_cast<const unsigned char*>(*q) >= pe);
    CHECK(reinterpret_cast<const unsigned char*>(*r) >= reinterpret_cast<const unsigned char*>(*q + 3));
    std::memset(*p, 0, 40);
  }

  TEST_CASE("steady state makes no heap allocations after reset") {
    arena a;
    auto run = [&] {
      for (int i = 1; i <= 20; ++i) REQUIRE(a.allocate<float>(static_cast<std::size_t>(i) * 1000).ok());
    };
    run();
    const std::size_t first = a.heap_allocations();
    CHECK(first > 1);  // it had to grow
    a.reset();
    const std::size_t after_merge = a.heap_allocations();
    run();
    a.reset();
    run();
    CHECK(a.heap_allocations() == after_merge);  // no growth once merged to the high-water size
    CHECK(a.capacity() >= a.high_water());
  }

  TEST_CASE("mark/rewind and scopes release in LIFO order") {
    arena a(4096);
    REQUIRE(a.allocate<char>(100).ok());
    const std::size_t used = a.bytes_in_use();
    {
      arena_scope scope(a);
      REQUIRE(a.allocate<char>(2000).ok());
      CHECK(a.bytes_in_use() > used);
    }
    CHECK(a.bytes_in_use() == used);
  }

  TEST_CASE("a frozen arena refuses to grow; absurd requests fail cleanly") {
    arena a(4096);
    a.freeze();
    CHECK(a.allocate<char>(4000).ok());
    auto big = a.allocate<char>(10000);
    CHECK_FALSE(big.ok());
    CHECK(big.err().code == errc::out_of_memory);
    arena b;
    CHECK(b.allocate<double>(static_cast<std::size_t>(-1) / 2).err().code == errc::out_of_memory);
    CHECK(b.allocate_bytes(16, 3).err().code == errc::invalid_argument);
  }
}
