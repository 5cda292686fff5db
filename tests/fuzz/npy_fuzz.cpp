// libFuzzer harness for the .npy reader (tessera/io/npy.hpp). Every input must either fail with
// a message or give an array whose data view lies inside the input and holds exactly
// numel * itemsize bytes; what parses is written back by write_npy, which must parse again to
// the same type, shape and bytes.
//
// Built like the other harnesses (tests/fuzz/CMakeLists.txt): always as npy_replay over
// tests/fuzz/npy_corpus, and as the libFuzzer target npy_fuzz under clang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tessera/io/npy.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "npy_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tessera;
  auto a = io::parse_npy(std::span<const std::uint8_t>(data, size));
  if (!a.ok()) {
    if (a.err().message.empty()) fail("an error without a message");
    return 0;
  }
  if (a->itemsize == 0) fail("an item size of 0");
  if (a->data.size() != a->numel() * a->itemsize) fail("the data is not numel * itemsize bytes");
  if (!a->data.empty() && (a->data.data() < data || a->data.data() + a->data.size() > data + size)) fail("the data lies outside the input");
  const std::vector<std::uint8_t> again = io::write_npy(*a);
  auto b = io::parse_npy(again);
  if (!b.ok()) fail("write_npy wrote what parse_npy refuses");
  if (b->kind != a->kind || b->itemsize != a->itemsize || b->shape != a->shape) fail("the round trip changed the type or shape");
  if (b->data.size() != a->data.size() || (!a->data.empty() && std::memcmp(b->data.data(), a->data.data(), a->data.size()) != 0))
    fail("the round trip changed the data");
  return 0;
}
