// libFuzzer harness for the safetensors reader (tessera/io/safetensors.hpp). Every input must
// either fail with a message or give tensors whose data views lie inside the input, tile the
// data buffer in order, hold numel * itemsize bytes, and are found again by name. What parses
// is copied through the writer, which must accept it, and the copy must parse to the same
// tensors.
//
// Built like the other harnesses (tests/fuzz/CMakeLists.txt): always as safetensors_replay
// over tests/fuzz/safetensors_corpus, and as the libFuzzer target safetensors_fuzz under clang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tessera/io/safetensors.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "safetensors_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tessera;
  const std::span<const std::uint8_t> input(data, size);
  auto parsed = io::safetensors_file::parse(input);
  if (!parsed.ok()) {
    if (parsed.err().message.empty()) fail("an error without a message");
    return 0;
  }
  const io::safetensors_file& f = *parsed;
  const std::uint8_t* next = data + f.data_offset();
  volatile std::uint64_t sink = 0;
  std::vector<io::safetensors_entry> entries;
  for (const io::safetensors_tensor& t : f.tensors()) {
    if (t.data.size() != t.numel * io::safetensors_info(t.dtype).itemsize) fail("a tensor's bytes are not numel * itemsize");
    std::uint64_t numel = 1;
    for (const std::int64_t d : t.shape) numel *= static_cast<std::uint64_t>(d);
    if (numel != t.numel) fail("numel is not the product of the shape");
    if (t.data.data() != next && !t.data.empty()) fail("tensors do not tile the data buffer");
    if (t.data.data() + t.data.size() > data + size) fail("a tensor's data lies outside the input");
    next += t.data.size();
    if (f.find(t.name) != &t) fail("a tensor is not found again");
    if (!t.data.empty()) sink = sink + t.data.front() + t.data.back();
    entries.push_back({t.name, t.dtype, t.shape, t.data});
  }
  if (next != data + size) fail("the tensors do not cover the data buffer");
  auto copy_bytes = io::write_safetensors(entries, f.metadata());
  if (!copy_bytes.ok()) fail("the writer refuses what parsed");
  auto copy = io::safetensors_file::parse(*copy_bytes);
  if (!copy.ok()) fail("the writer's copy does not parse");
  if (copy->tensors().size() != f.tensors().size() || copy->metadata() != f.metadata()) fail("the copy has other entries");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const io::safetensors_tensor* c = copy->find(entries[i].name);
    if (!c || c->dtype != entries[i].dtype || c->shape != entries[i].shape || c->data.size() != entries[i].data.size() ||
        (!c->data.empty() && std::memcmp(c->data.data(), entries[i].data.data(), c->data.size()) != 0))
      fail("a copied tensor differs");
  }
  return 0;
}
