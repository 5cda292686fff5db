// io/safetensors.hpp: files built by hand from the format's description, then hostile
// variants (truncations, lying lengths, overlapping or gapped offsets, absurd shapes).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tessera/io/safetensors.hpp"

using namespace tessera;
using io::safetensors_file;

namespace {

// 8-byte little-endian length, header text, data bytes: written by hand, not by the writer.
std::vector<std::uint8_t> file_of(const std::string& header, const std::vector<std::uint8_t>& data, std::uint64_t declared = ~0ull) {
  const std::uint64_t n = declared == ~0ull ? header.size() : declared;
  std::vector<std::uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::uint8_t> floats_bytes(std::initializer_list<float> v) {
  std::vector<std::uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.begin(), b.size());
  return b;
}

std::string message_of(const std::vector<std::uint8_t>& bytes) {
  auto f = safetensors_file::parse(bytes);
  REQUIRE_FALSE(f.ok());
  return f.err().message;
}

const std::string kHeader =
    R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
    R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})";

std::vector<std::uint8_t> good_file() {
  std::vector<std::uint8_t> data = floats_bytes({1, 2, 3, 4, 5, 6});
  for (std::uint8_t b : {0x00, 0x3C, 0x00, 0xC0}) data.push_back(b);  // f16 1.0, -2.0
  return file_of(kHeader + "    ", data);
}

}  // namespace

TEST_CASE("safetensors: a hand-built file parses into views of its bytes") {
  const auto bytes = good_file();
  auto f = safetensors_file::parse(bytes);
  REQUIRE(f.ok());
  REQUIRE(f->tensors().size() == 2);
  CHECK(f->tensors()[0].name == "a");  // data order
  const io::safetensors_tensor* a = f->find("a");
  REQUIRE(a);
  CHECK(a->dtype == io::safetensors_dtype::f32);
  CHECK(a->shape == std::vector<std::int64_t>{2, 3});
  CHECK(a->numel == 6);
  CHECK(a->data.data() == bytes.data() + 8 + kHeader.size() + 4);  // a view, not a copy
  float v[6];
  std::memcpy(v, a->data.data(), sizeof v);
  CHECK(v[5] == 6.0f);
  const io::safetensors_tensor* b = f->find("b");
  REQUIRE(b);
  CHECK(b->dtype == io::safetensors_dtype::f16);
  CHECK(b->data.size() == 4);
  CHECK(b->data[1] == 0x3C);
  CHECK(f->find("c") == nullptr);
  REQUIRE(f->metadata().size() == 1);
  CHECK(f->metadata()[0].first == "format");
  CHECK(f->metadata()[0].second == "pt");
}

TEST_CASE("safetensors: scalars, empty tensors and an empty file") {
  auto f = safetensors_file::parse(file_of(R"({"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"e":{"dtype":"BF16","shape":[0,5],"data_offsets":[8,8]}})",
                                           std::vector<std::uint8_t>(8, 1)));
  REQUIRE(f.ok());
  CHECK(f->find("s")->numel == 1);
  CHECK(f->find("e")->numel == 0);
  CHECK(safetensors_file::parse(file_of("{}", {})).ok());
}

TEST_CASE("safetensors: the writer's files parse back to the same tensors") {
  const auto w = floats_bytes({1, 2, 3, 4});
  const std::vector<std::uint8_t> i8 = {1, 2, 3};
  const io::safetensors_entry entries[] = {{"w\"eight\\", io::safetensors_dtype::f32, {2, 2}, w}, {"q", io::safetensors_dtype::i8, {3}, i8}};
  const std::pair<std::string, std::string> meta[] = {{"k", "v\n"}};
  auto bytes = io::write_safetensors(entries, meta);
  REQUIRE(bytes.ok());
  CHECK((bytes->size() - w.size() - i8.size()) % 8 == 0);
  auto f = safetensors_file::parse(*bytes);
  REQUIRE(f.ok());
  REQUIRE(f->find("w\"eight\\"));
  CHECK(std::memcmp(f->find("w\"eight\\")->data.data(), w.data(), w.size()) == 0);
  CHECK(f->find("q")->data[2] == 3);
  CHECK(f->metadata()[0].second == "v\n");
  const io::safetensors_entry wrong[] = {{"x", io::safetensors_dtype::f32, {3}, w}};
  CHECK_FALSE(io::write_safetensors(wrong).ok());
}

TEST_CASE("safetensors: every truncation is an error") {
  const auto bytes = good_file();
  for (int k = 0; k < 16; ++k) {
    const std::size_t n = bytes.size() * static_cast<std::size_t>(k) / 16;
    CAPTURE(n);
    CHECK_FALSE(safetensors_file::parse(std::span<const std::uint8_t>(bytes.data(), n)).ok());
  }
  CHECK_FALSE(safetensors_file::parse(std::span<const std::uint8_t>(bytes.data(), bytes.size() - 1)).ok());
}

TEST_CASE("safetensors: lying lengths and malformed headers name what is wrong") {
  const auto data = floats_bytes({1, 2});
  const std::string h = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(safetensors_file::parse(file_of(h, data)).ok());
  CHECK(message_of(file_of(h, data, 1ull << 40)).find("exceeds") != std::string::npos);
  CHECK(message_of(file_of(h, data, ~1ull)).find("exceeds") != std::string::npos);
  CHECK_FALSE(safetensors_file::parse(file_of(h, data, h.size() - 3)).ok());  // JSON cut short
  CHECK_FALSE(safetensors_file::parse(file_of("[1,2]", {})).ok());
  CHECK_FALSE(safetensors_file::parse(file_of("{\"t\":", {})).ok());
  CHECK(message_of(file_of(R"({"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", data)).find("'t' dtype") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", data)).find("dtype") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", data)).find("shape") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[2]}})", data)).find("data_offsets") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data)).find("'t' shape") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}})", data)).find("past the data buffer") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data)).find("after end") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data)).find("dim 0") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}})", data)).find("dim 0") != std::string::npos);
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", data)).find("'t' shape") != std::string::npos);
  CHECK(message_of(file_of(R"({"__metadata__":{"a":1}})", {})).find("__metadata__") != std::string::npos);
}

TEST_CASE("safetensors: absurd shapes, overlaps, holes and duplicates are refused") {
  const auto data = floats_bytes({1, 2, 3, 4});
  // Products that overflow 64 bits, or that are huge with a zero-sized buffer.
  CHECK(message_of(file_of(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})", data))
            .find("overflows") != std::string::npos);
  CHECK_FALSE(safetensors_file::parse(file_of(R"({"t":{"dtype":"F32","shape":[9007199254740991,9007199254740991,0],"data_offsets":[0,0]}})", {})).ok());
  CHECK_FALSE(safetensors_file::parse(file_of(R"({"t":{"dtype":"F32","shape":[1e300],"data_offsets":[0,16]}})", data)).ok());
  CHECK_FALSE(safetensors_file::parse(file_of(R"({"t":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,4],"data_offsets":[0,16]}})", data)).ok());
  CHECK(message_of(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}})", data))
            .find("overlaps") != std::string::npos);
  CHECK(message_of(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                           floats_bytes({1, 2})))
            .find("overlaps") != std::string::npos);
  CHECK(message_of(file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data))
            .find("hole") != std::string::npos);
  CHECK(message_of(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data)).find("cover") != std::string::npos);
  CHECK(message_of(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data))
            .find("twice") != std::string::npos);
}
