// libFuzzer harness for the GGUF reader (tessera/io/gguf.hpp). Every input must either fail
// with an error or give views that lie inside the input: each metadata value is decoded
// through its own type (arrays element by element, nested ones too), each tensor's data is
// touched at both ends and found again by name. What parses is then copied through the
// writer (gguf_writer.hpp), which must accept it, and the copy must parse to the same
// entries and stay within twice the input's size.
//
// Built like the other harnesses (tests/fuzz/CMakeLists.txt): always as gguf_replay over
// tests/fuzz/gguf_corpus, and as the libFuzzer target gguf_fuzz under clang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "tessera/io/gguf.hpp"
#include "tessera/io/gguf_writer.hpp"

namespace {

using namespace tessera;
using io::gguf_value;
using io::gguf_value_type;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

void require_inside(std::span<const std::uint8_t> outer, std::span<const std::uint8_t> inner, const char* what) {
  if (inner.empty()) return;
  if (inner.data() < outer.data() || inner.data() + inner.size() > outer.data() + outer.size()) fail(what);
}

template <class T>
void decode_as(const gguf_value& v) {
  if (!v.as<T>().ok()) fail("a scalar does not decode as its own type");
}

// Decodes v through its own type; returns a checksum so the reads are not optimized away.
std::uint64_t decode(const gguf_value& v, std::span<const std::uint8_t> input) {
  require_inside(input, v.raw(), "a value's bytes lie outside the input");
  switch (v.type()) {
    case gguf_value_type::uint8: decode_as<std::uint8_t>(v); break;
    case gguf_value_type::int8: decode_as<std::int8_t>(v); break;
    case gguf_value_type::uint16: decode_as<std::uint16_t>(v); break;
    case gguf_value_type::int16: decode_as<std::int16_t>(v); break;
    case gguf_value_type::uint32: decode_as<std::uint32_t>(v); break;
    case gguf_value_type::int32: decode_as<std::int32_t>(v); break;
    case gguf_value_type::float32: decode_as<float>(v); break;
    case gguf_value_type::boolean: decode_as<bool>(v); break;
    case gguf_value_type::uint64: decode_as<std::uint64_t>(v); break;
    case gguf_value_type::int64: decode_as<std::int64_t>(v); break;
    case gguf_value_type::float64: decode_as<double>(v); break;
    case gguf_value_type::string: {
      auto s = v.as<std::string_view>();
      if (!s.ok()) fail("a string does not decode");
      return s->size();
    }
    case gguf_value_type::array: {
      std::uint64_t sum = 0, n = 0;
      const status st = v.for_each_element([&](const gguf_value& e) -> status {
        if (e.type() != v.element_type()) fail("an element is not of its array's type");
        sum += decode(e, input);
        ++n;
        return {};
      });
      if (!st.ok()) fail("a parsed array does not iterate");
      if (n != v.count()) fail("an array iterates a different number of elements than its count");
      if (v.element_type() == gguf_value_type::string && !v.as_array<std::string_view>().ok()) fail("a string array does not decode");
      return sum + n;
    }
  }
  return v.raw().empty() ? 0 : v.raw()[0];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  auto parsed = io::gguf_file::parse(input);
  if (!parsed.ok()) {
    if (parsed.err().message.empty()) fail("an error without a message");
    return 0;
  }
  const io::gguf_file& f = *parsed;
  if (f.alignment() == 0 || (f.alignment() & (f.alignment() - 1)) != 0) fail("alignment is not a power of two");
  volatile std::uint64_t sink = 0;
  for (const io::gguf_kv& kv : f.metadata()) {
    if (f.find(kv.key) != &kv.value) fail("a key is not found again");
    sink = sink + decode(kv.value, input);
  }
  for (const io::gguf_tensor& t : f.tensors()) {
    require_inside(input, t.data, "a tensor's data lies outside the input");
    if ((t.data.data() - data - f.data_offset()) % f.alignment() != 0) fail("a tensor is not aligned");
    if (f.find_tensor(t.name) != &t) fail("a tensor is not found again");
    if (!t.data.empty()) sink = sink + t.data.front() + t.data.back();
  }

  // Copy through the writer: everything the reader accepts, the writer must too.
  io::gguf_writer w;
  for (const io::gguf_kv& kv : f.metadata())
    if (!w.set_value(kv.key, io::gguf_encode(kv.value)).ok()) fail("the writer refuses a parsed entry");
  for (const io::gguf_tensor& t : f.tensors())
    if (!w.add_tensor(t.name, t.type, t.shape(), t.data).ok()) fail("the writer refuses a parsed tensor");
  const auto copy_bytes = w.serialize();
  // The copy repeats the header, metadata and packed tensors, plus at most one alignment of
  // padding (never more than the input, whose data section already starts aligned).
  if (copy_bytes.size() > 2 * size) fail("the writer's copy is more than twice the input");
  auto copy = io::gguf_file::parse(copy_bytes);
  if (!copy.ok()) fail("the writer's copy does not parse");
  if (copy->metadata().size() != f.metadata().size() || copy->tensors().size() != f.tensors().size())
    fail("the writer's copy has other entries");
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = copy->tensors()[i];
    if (a.name != b.name || a.type != b.type || a.dims != b.dims || a.data.size() != b.data.size()) fail("a copied tensor differs");
  }
  for (std::size_t i = 0; i < f.metadata().size(); ++i) {
    const auto& a = f.metadata()[i].value;
    const auto& b = copy->metadata()[i].value;
    if (a.type() != b.type() || a.count() != b.count() || a.raw().size() != b.raw().size()) fail("a copied value differs");
  }
  return 0;
}
