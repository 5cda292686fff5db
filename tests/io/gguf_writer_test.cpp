// The GGUF writer: what it refuses (so everything it writes parses), its layout (v3,
// alignment honoured, data padded), copying a parsed file, and the fuzz seed corpus it makes.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gguf_fixtures.hpp"
#include "tessera/io/file.hpp"
#include "tessera/io/gguf.hpp"
#include "tessera/io/gguf_writer.hpp"

using namespace tessera;

TEST_SUITE("io.gguf_writer") {
  TEST_CASE("refuses entries the reader would reject") {
    io::gguf_writer w;
    CHECK(w.set("k", 1.0f).ok());
    CHECK(w.set("k", 2.0f).err().message.find("duplicate key 'k'") != std::string::npos);
    CHECK(!w.set("", 1).ok());
    CHECK(!w.set_alignment(48).ok());
    CHECK(!w.set_alignment(0).ok());
    CHECK(w.set("general.alignment", std::uint64_t{64}).err().message.find("must be a uint32") != std::string::npos);
    CHECK(w.set("general.alignment", std::uint32_t{64}).ok());
    CHECK(w.alignment() == 64);
    CHECK(!w.set_alignment(128).ok());  // the key is already set

    const std::vector<std::uint64_t> dims{32};
    const auto data = test::pattern_bytes(34, 0);
    CHECK(w.add_tensor("q", io::ggml_type::q8_0, dims, data).ok());
    CHECK(w.add_tensor("q", io::ggml_type::q8_0, dims, data).err().message.find("added twice") != std::string::npos);
    CHECK(w.add_tensor("short", io::ggml_type::q8_0, dims, std::span<const std::uint8_t>(data).first(33))
              .err().message.find("33 bytes of data, 34 expected") != std::string::npos);
    const std::vector<std::uint64_t> ragged{31};
    CHECK(!w.add_tensor("ragged", io::ggml_type::q8_0, ragged, data).ok());
    CHECK(!w.add_tensor("", io::ggml_type::f32, dims, test::pattern_bytes(128, 0)).ok());
    CHECK(!w.add_tensor("unknown", static_cast<io::ggml_type>(16), dims, data).ok());
    const std::vector<std::uint64_t> five{1, 1, 1, 1, 32};
    CHECK(!w.add_tensor("five", io::ggml_type::f32, five, test::pattern_bytes(128, 0)).ok());

    // Arrays nest up to the reader's cap.
    io::gguf_encoded_value v = io::gguf_encode_array(std::span<const std::string>());
    for (std::uint32_t level = 1; level < io::gguf_max_array_nesting; ++level) {
      const std::vector<io::gguf_encoded_value> one{v};
      v = io::gguf_encode_array(std::span<const io::gguf_encoded_value>(one)).value();
    }
    CHECK(v.depth == io::gguf_max_array_nesting);
    const std::vector<io::gguf_encoded_value> deeper{v};
    CHECK(!io::gguf_encode_array(std::span<const io::gguf_encoded_value>(deeper)).ok());
    const std::vector<io::gguf_encoded_value> mixed{io::gguf_encode(1.0f), io::gguf_encode(std::int32_t{1})};
    CHECK(!io::gguf_encode_array(std::span<const io::gguf_encoded_value>(mixed)).ok());
    CHECK(w.set_value("deep", v).ok());
    auto parsed = io::gguf_file::parse(w.serialize());
    CHECK_MESSAGE(parsed.ok(), parsed.what());
  }

  TEST_CASE("layout: v3 header, aligned tensor data, zero padding") {
    io::gguf_writer w;
    REQUIRE(w.set_alignment(128).ok());
    const std::vector<std::uint64_t> dims{3};
    REQUIRE(w.add_tensor("a", io::ggml_type::f32, dims, test::pattern_bytes(12, 1)).ok());
    REQUIRE(w.add_tensor("b", io::ggml_type::i8, dims, test::pattern_bytes(3, 2)).ok());
    const auto bytes = w.serialize();
    CHECK(bytes[4] == 3);
    CHECK(bytes.size() % 128 == 0);
    const io::gguf_file f = io::gguf_file::parse(bytes).value();
    CHECK(f.alignment() == 128);
    CHECK(f.data_offset() % 128 == 0);
    CHECK(f.tensors()[1].offset == 128);
    for (std::size_t i = f.data_offset() + 12; i < f.data_offset() + 128; ++i) CHECK(bytes[i] == 0);
  }

  TEST_CASE("a parsed file copied through the writer parses to the same entries") {
    const auto original = test::sample_gguf();
    const io::gguf_file f = io::gguf_file::parse(original).value();
    io::gguf_writer w;
    for (const io::gguf_kv& kv : f.metadata()) REQUIRE(w.set_value(kv.key, io::gguf_encode(kv.value)).ok());
    for (const io::gguf_tensor& t : f.tensors()) REQUIRE(w.add_tensor(t.name, t.type, t.shape(), t.data).ok());
    CHECK(w.serialize() == original);
  }

  TEST_CASE("the fuzz seed corpus is what the writer makes") {
    // TESSERA_WRITE_GGUF_CORPUS=1 rewrites the files after a deliberate format change.
    const bool rewrite = std::getenv("TESSERA_WRITE_GGUF_CORPUS") != nullptr;
    for (const test::gguf_seed& seed : test::gguf_seed_corpus()) {
      CAPTURE(std::string(seed.file));
      CHECK_MESSAGE(io::gguf_file::parse(seed.bytes).ok(), io::gguf_file::parse(seed.bytes).what());
      const std::string path = std::string(TESSERA_SOURCE_DIR) + "/tests/fuzz/gguf_corpus/" + seed.file;
      if (rewrite) {
        std::FILE* fp = std::fopen(path.c_str(), "wb");
        REQUIRE(fp);
        CHECK(std::fwrite(seed.bytes.data(), 1, seed.bytes.size(), fp) == seed.bytes.size());
        std::fclose(fp);
      }
      auto committed = io::read_file_bytes(path);
      CHECK_MESSAGE(committed.ok(), committed.what());
      if (committed.ok()) CHECK(*committed == seed.bytes);
    }
  }
}
