// Out of memory is an errc::out_of_memory value and the module stays usable afterwards:
// natively and in 32-bit WebAssembly, where the 4 GB address space (MAXIMUM_MEMORY) really
// runs out. Every failing request here must fail whatever the OS overcommits: a size the
// address space cannot hold, or a frozen arena.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tessera/core/aligned.hpp"
#include "tessera/core/arena.hpp"
#include "tessera/kernels/gemm.hpp"
#include "tessera/trees.hpp"

namespace {

// 3.5 GB in 32-bit WASM (more than MAXIMUM_MEMORY leaves, and past aligned_buffer's 2 GB size
// check there); natively 2^62 bytes, beyond any 48- or 57-bit address space yet below that
// check, so the request reaches the allocator and really fails.
constexpr std::size_t unobtainable_bytes =
    sizeof(void*) == 4 ? std::size_t(3584) << 20 : static_cast<std::size_t>(-1) / 4;

bool mentions(const std::string& message, const char* part) { return message.find(part) != std::string::npos; }

tessera::trees::predictor load_fixture_predictor() {
  auto f = tessera::trees::load_forest(std::string(TESSERA_SOURCE_DIR) + "/tests/models/trees/breast_cancer.json");
  REQUIRE_MESSAGE(f.ok(), f.err().what());
  auto p = tessera::trees::compile(*f);
  REQUIRE_MESSAGE(p.ok(), p.err().what());
  return std::move(*p);
}

std::vector<float> rows_for(const tessera::trees::predictor& p, std::size_t n_rows) {
  std::vector<float> rows(n_rows * static_cast<std::size_t>(p.num_features()));
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>((i * 37) % 101) * 0.25f;
  return rows;
}

}  // namespace

TEST_CASE("gemm_f32 reports out_of_memory when its packing scratch cannot be had, then works") {
  constexpr std::size_t n = 256;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n, 0.0f);
  // One thread: with more, pool workers pack into their own (unfrozen) arenas and the call
  // succeeds or fails by which thread happens to take which rectangle.
  tessera::runtime::thread_pool one_thread(1);
  auto run = [&] {
    return tessera::kernels::gemm_f32(n, n, n, 1.0f, a.data(), n, tessera::kernels::transpose::no, b.data(), n,
                                      tessera::kernels::transpose::no, 0.0f, c.data(), n, {}, &one_thread);
  };
  // The freeze bites only on an empty arena: drop whatever earlier tests left in this thread's.
  tessera::arena& scratch = tessera::thread_arena();
  scratch = tessera::arena();
  REQUIRE(scratch.capacity() == 0);
  scratch.freeze();
  const tessera::status failed = run();
  scratch.freeze(false);
  REQUIRE(!failed.ok());
  CHECK(failed.code() == tessera::errc::out_of_memory);
  CHECK_MESSAGE(mentions(failed.message(), "gemm_f32: cannot allocate"), failed.message());

  const tessera::status again = run();
  REQUIRE_MESSAGE(again.ok(), again.what());
  CHECK(c[0] == doctest::Approx(0.125 * n));
  CHECK(c[n * n - 1] == doctest::Approx(0.125 * n));
}

TEST_CASE("an unobtainable aligned_buffer or arena request is out_of_memory, and normal ones still work") {
  tessera::aligned_buffer<unsigned char> huge;
  const tessera::status buffer_failed = huge.allocate(unobtainable_bytes);
  REQUIRE(!buffer_failed.ok());
  CHECK(buffer_failed.code() == tessera::errc::out_of_memory);
  CHECK_MESSAGE(mentions(buffer_failed.message(), std::to_string(unobtainable_bytes).c_str()), buffer_failed.message());
  CHECK(huge.empty());

  tessera::arena a;
  auto arena_failed = a.allocate_bytes(unobtainable_bytes);
  REQUIRE(!arena_failed.ok());
  CHECK(arena_failed.err().code == tessera::errc::out_of_memory);
  CHECK_MESSAGE(mentions(arena_failed.err().message, "allocat"), arena_failed.err().message);

  // A normal size afterwards: the failure left the allocator and the arena intact.
  constexpr std::size_t normal_bytes = std::size_t(16) << 20;
  tessera::aligned_buffer<unsigned char> normal;
  REQUIRE(normal.allocate_zeroed(normal_bytes).ok());
  CHECK(normal[normal_bytes - 1] == 0);
  auto from_arena = a.allocate<float>(1024);
  REQUIRE(from_arena.ok());
  (*from_arena)[1023] = 1.0f;
  CHECK(a.bytes_in_use() >= 1024 * sizeof(float));
}

// In 32-bit WASM the heap itself runs out: 512 MB blocks are taken until malloc, unable to
// grow memory past MAXIMUM_MEMORY (4 GB), returns null; that must be an error, not an abort.
TEST_CASE("exhausting the WebAssembly heap is out_of_memory, and the heap works once freed" *
          doctest::skip(sizeof(void*) != 4)) {
  constexpr std::size_t block_bytes = std::size_t(512) << 20;
  std::vector<tessera::aligned_buffer<unsigned char>> held;
  held.reserve(8);
  tessera::status failed;
  for (int i = 0; i < 8 && failed.ok(); ++i) {
    tessera::aligned_buffer<unsigned char> block;
    failed = block.allocate(block_bytes);
    if (failed.ok()) held.push_back(std::move(block));
  }
  REQUIRE(!failed.ok());
  CHECK(failed.code() == tessera::errc::out_of_memory);
  CHECK_MESSAGE(mentions(failed.message(), "cannot allocate 536870912 bytes"), failed.message());
  CHECK(held.size() >= 4);  // a 4 GB module holds at least 2 GB of them

  held.clear();
  tessera::aligned_buffer<unsigned char> again;
  REQUIRE(again.allocate_zeroed(block_bytes).ok());
  CHECK(again[block_bytes - 1] == 0);
}

TEST_CASE("a loaded model's prediction survives out_of_memory in its scratch, bit for bit") {
  const tessera::trees::predictor p = load_fixture_predictor();
  constexpr std::size_t n_rows = 64;
  const std::vector<float> rows = rows_for(p, n_rows);
  const std::size_t n_out = n_rows * static_cast<std::size_t>(p.num_transformed_outputs());
  std::vector<float> before(n_out), after(n_out, -1.0f);
  tessera::arena scratch;
  REQUIRE(p.predict(std::span<float>(before), std::span<const float>(rows), static_cast<std::size_t>(p.num_features()), nullptr, &scratch).ok());

  // A frozen, empty arena cannot grow: the predictor's scratch request must fail cleanly.
  tessera::arena frozen;
  frozen.freeze();
  const tessera::status failed =
      p.predict(std::span<float>(after), std::span<const float>(rows), static_cast<std::size_t>(p.num_features()), nullptr, &frozen);
  REQUIRE(!failed.ok());
  CHECK(failed.code() == tessera::errc::out_of_memory);
  CHECK_MESSAGE(mentions(failed.message(), "arena is frozen"), failed.message());

  // The whole address space asked for and refused, then the same prediction again.
  tessera::aligned_buffer<unsigned char> huge;
  REQUIRE(huge.allocate(unobtainable_bytes).code() == tessera::errc::out_of_memory);
  frozen.freeze(false);
  REQUIRE(p.predict(std::span<float>(after), std::span<const float>(rows), static_cast<std::size_t>(p.num_features()), nullptr, &frozen).ok());
  CHECK(std::memcmp(before.data(), after.data(), n_out * sizeof(float)) == 0);
}
