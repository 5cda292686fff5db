// The GGUF reader: every metadata type and several tensor types read back from the writer,
// the type-size table against core's block structs, and clean errors (never a crash or an
// allocation sized by the file) on hostile, truncated and mutated files, including the
// shared stories260K model when ../shared is present.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gguf_fixtures.hpp"
#include "support/harness.hpp"
#include "tessera/core/dtype.hpp"
#include "tessera/io/gguf.hpp"
#include "tessera/io/gguf_writer.hpp"
#include "tessera/io/mapped_file.hpp"

using namespace tessera;
using io::gguf_file;
using io::gguf_value_type;
using test::gguf_bytes;

namespace {

expected<gguf_file> parse(const std::vector<std::uint8_t>& b) { return gguf_file::parse(b); }

bool message_has(const expected<gguf_file>& r, const std::string& part) {
  return !r.ok() && r.err().message.find(part) != std::string::npos;
}

// Every view a parsed file hands out lies inside its bytes, and every value decodes.
void check_views_inside(const gguf_file& f) {
  const std::uint8_t* lo = f.bytes().data();
  const std::uint8_t* hi = lo + f.bytes().size();
  for (const io::gguf_tensor& t : f.tensors()) {
    CHECK(t.data.data() >= lo);
    CHECK(t.data.data() + t.data.size() <= hi);
    CHECK((t.data.data() - lo - f.data_offset()) % f.alignment() == 0);
    CHECK(f.find_tensor(t.name) == &t);
  }
  for (const io::gguf_kv& kv : f.metadata()) {
    CHECK(kv.value.raw().data() >= lo);
    CHECK(kv.value.raw().data() + kv.value.raw().size() <= hi);
    CHECK(kv.value.file_offset() == static_cast<std::uint64_t>(kv.value.raw().data() - lo));
    CHECK(f.find(kv.key) == &kv.value);
  }
}

}  // namespace

TEST_SUITE("io.gguf") {
  TEST_CASE("every metadata type reads back as written") {
    const auto bytes = test::sample_gguf();
    auto parsed = parse(bytes);
    REQUIRE_MESSAGE(parsed.ok(), parsed.what());
    const gguf_file& f = *parsed;
    CHECK(f.version() == 3);
    CHECK(f.alignment() == 32);
    CHECK(f.get<std::string_view>("general.architecture").value() == "llama");
    CHECK(f.get<std::uint8_t>("t.u8").value() == 200);
    CHECK(f.get<std::int8_t>("t.i8").value() == -100);
    CHECK(f.get<std::uint16_t>("t.u16").value() == 60000);
    CHECK(f.get<std::int16_t>("t.i16").value() == -30000);
    CHECK(f.get<std::uint32_t>("t.u32").value() == 4000000000u);
    CHECK(f.get<std::int32_t>("t.i32").value() == -2000000000);
    CHECK(f.get<float>("t.f32").value() == 1.5f);
    CHECK(f.get<bool>("t.bool").value() == true);
    CHECK(f.get<std::uint64_t>("t.u64").value() == std::uint64_t{1} << 60);
    CHECK(f.get<std::int64_t>("t.i64").value() == -(std::int64_t{1} << 60));
    CHECK(f.get<double>("t.f64").value() == -0.125);
    CHECK(f.get_array<float>("t.floats").value() == std::vector<float>{0.5f, -1.0f, 3.25f});
    CHECK(f.get_array<std::string_view>("t.words").value() == std::vector<std::string_view>{"<unk>", "", "hello"});

    const io::gguf_value* nested = f.find("t.nested");
    REQUIRE(nested);
    CHECK(nested->type_name() == "array of array");
    CHECK(nested->count() == 2);
    std::vector<std::vector<std::string_view>> rows;
    CHECK(nested->for_each_element([&](const io::gguf_value& row) -> status {
      CHECK(row.file_offset() == static_cast<std::uint64_t>(row.raw().data() - bytes.data()));
      TESSERA_ASSIGN_OR_RETURN(auto words, row.as_array<std::string_view>());
      rows.push_back(words);
      return {};
    }).ok());
    CHECK(rows == std::vector<std::vector<std::string_view>>{{"<unk>", "", "hello"}, {"<unk>"}});

    // File order is kept for iteration.
    std::vector<std::string_view> keys;
    for (const io::gguf_kv& kv : f.metadata()) keys.push_back(kv.key);
    REQUIRE(keys.size() == 15);
    CHECK(keys.front() == "general.architecture");
    CHECK(keys.back() == "t.nested");
    check_views_inside(f);
  }

  TEST_CASE("arrays of every element type, empty arrays and v2 files") {
    io::gguf_writer w;
    const std::vector<std::uint8_t> u8{1, 255};
    const std::vector<std::int8_t> i8{-1, 127};
    const std::vector<std::uint16_t> u16{65535};
    const std::vector<std::int16_t> i16{-32768, 5};
    const std::vector<std::uint32_t> u32{7, 8, 9};
    const std::vector<std::int32_t> i32{-7};
    const std::vector<bool> flags{true, false, true};
    const bool flag_values[] = {true, false, true};
    const std::vector<std::uint64_t> u64{~std::uint64_t{0}};
    const std::vector<std::int64_t> i64{-1, 0, 1};
    const std::vector<double> f64{1e300, -0.0};
    const std::vector<float> empty;
    CHECK(w.set_array("a.u8", std::span<const std::uint8_t>(u8)).ok());
    CHECK(w.set_array("a.i8", std::span<const std::int8_t>(i8)).ok());
    CHECK(w.set_array("a.u16", std::span<const std::uint16_t>(u16)).ok());
    CHECK(w.set_array("a.i16", std::span<const std::int16_t>(i16)).ok());
    CHECK(w.set_array("a.u32", std::span<const std::uint32_t>(u32)).ok());
    CHECK(w.set_array("a.i32", std::span<const std::int32_t>(i32)).ok());
    CHECK(w.set_array("a.bool", std::span<const bool>(flag_values)).ok());
    CHECK(w.set_array("a.u64", std::span<const std::uint64_t>(u64)).ok());
    CHECK(w.set_array("a.i64", std::span<const std::int64_t>(i64)).ok());
    CHECK(w.set_array("a.f64", std::span<const double>(f64)).ok());
    CHECK(w.set_array("a.empty", std::span<const float>(empty)).ok());
    auto bytes = w.serialize();
    bytes[4] = 2;  // v2 has v3's layout (v3 only added big-endian files)
    auto parsed = parse(bytes);
    REQUIRE_MESSAGE(parsed.ok(), parsed.what());
    const gguf_file& f = *parsed;
    CHECK(f.version() == 2);
    CHECK(f.tensors().empty());
    CHECK(f.get_array<std::uint8_t>("a.u8").value() == u8);
    CHECK(f.get_array<std::int8_t>("a.i8").value() == i8);
    CHECK(f.get_array<std::uint16_t>("a.u16").value() == u16);
    CHECK(f.get_array<std::int16_t>("a.i16").value() == i16);
    CHECK(f.get_array<std::uint32_t>("a.u32").value() == u32);
    CHECK(f.get_array<std::int32_t>("a.i32").value() == i32);
    CHECK(f.get_array<bool>("a.bool").value() == flags);
    CHECK(f.get_array<std::uint64_t>("a.u64").value() == u64);
    CHECK(f.get_array<std::int64_t>("a.i64").value() == i64);
    const auto doubles = f.get_array<double>("a.f64").value();
    CHECK(doubles[0] == 1e300);
    CHECK(std::signbit(doubles[1]));
    CHECK(f.get_array<float>("a.empty").value().empty());
  }

  TEST_CASE("typed getters name the key and both types") {
    const auto bytes = test::sample_gguf();
    const gguf_file f = parse(bytes).value();
    auto wrong = f.get<std::uint64_t>("t.u32");
    REQUIRE(!wrong.ok());
    CHECK(wrong.err().code == errc::parse_error);
    CHECK(wrong.err().message == "gguf: key 't.u32' is uint32, not uint64");
    auto not_array = f.get_array<float>("t.f32");
    CHECK(not_array.err().message == "gguf: key 't.f32' is float32, not array of float32");
    auto wrong_elements = f.get_array<std::int32_t>("t.floats");
    CHECK(wrong_elements.err().message == "gguf: key 't.floats' is array of float32, not array of int32");
    CHECK(f.get<std::string_view>("t.words").err().message == "gguf: key 't.words' is array of string, not string");
    auto missing = f.get<float>("no.such.key");
    CHECK(missing.err().code == errc::out_of_range);
    CHECK(missing.err().message.find("no.such.key") != std::string::npos);
    CHECK(!f.contains("no.such.key"));
    CHECK(f.tensor("nope").err().code == errc::out_of_range);
  }

  TEST_CASE("tensors: type, dims, byte size and aligned data views") {
    for (std::uint32_t alignment : {32u, 64u, 256u}) {
      CAPTURE(alignment);
      const auto bytes = test::sample_gguf(alignment);
      auto parsed = parse(bytes);
      REQUIRE_MESSAGE(parsed.ok(), parsed.what());
      const gguf_file& f = *parsed;
      CHECK(f.alignment() == alignment);
      CHECK(f.data_offset() % alignment == 0);
      REQUIRE(f.tensors().size() == 5);
      const io::gguf_tensor q4k = f.tensor("q4_k.weight").value();
      CHECK(q4k.type == io::ggml_type::q4_k);
      CHECK(std::string(q4k.type_name()) == "q4_k");
      CHECK(q4k.n_dims == 3);
      CHECK(q4k.shape()[0] == 256);
      CHECK(q4k.shape()[2] == 2);
      CHECK(q4k.dims[3] == 1);
      CHECK(q4k.elements == 512);
      CHECK(q4k.data.size() == 2 * 144);
      CHECK(std::vector<std::uint8_t>(q4k.data.begin(), q4k.data.end()) == test::pattern_bytes(2 * 144, 3));
      const io::gguf_tensor i32 = f.tensor("i32.weight").value();
      CHECK(i32.n_dims == 4);
      CHECK(i32.elements == 6);
      CHECK(std::vector<std::uint8_t>(i32.data.begin(), i32.data.end()) == test::pattern_bytes(24, 4));
      CHECK(f.tensors()[0].name == "f32.weight");
      CHECK(f.tensors()[4].name == "f16.weight");
      check_views_inside(f);
    }
  }

  TEST_CASE("type sizes match ggml's and core's block layouts") {
    using io::ggml_layout;
    using io::ggml_type;
    auto bytes_of = [](ggml_type t) { return ggml_layout(static_cast<std::uint32_t>(t)).block_bytes; };
    auto elems_of = [](ggml_type t) { return ggml_layout(static_cast<std::uint32_t>(t)).block_elements; };
    CHECK(bytes_of(ggml_type::q8_0) == sizeof(block_q8_0));
    CHECK(bytes_of(ggml_type::q4_0) == sizeof(block_q4_0));
    CHECK(bytes_of(ggml_type::q4_k) == sizeof(block_q4_k));
    CHECK(elems_of(ggml_type::q8_0) == 32);
    CHECK(elems_of(ggml_type::q4_k) == 256);
    // Bits per weight of the k-quants: 2.625, 3.4375, 4.5, 5.5, 6.5625, 9.125.
    CHECK(bytes_of(ggml_type::q2_k) * 8 * 10000 / 256 == 26250);
    CHECK(bytes_of(ggml_type::q3_k) * 8 * 10000 / 256 == 34375);
    CHECK(bytes_of(ggml_type::q4_k) * 8 * 10 / 256 == 45);
    CHECK(bytes_of(ggml_type::q5_k) * 8 * 10 / 256 == 55);
    CHECK(bytes_of(ggml_type::q6_k) * 8 * 10000 / 256 == 65625);
    CHECK(bytes_of(ggml_type::q8_k) * 8 * 1000 / 256 == 9125);
    CHECK(bytes_of(ggml_type::q4_1) == 20);
    CHECK(bytes_of(ggml_type::q5_0) == 22);
    CHECK(bytes_of(ggml_type::q5_1) == 24);
    CHECK(bytes_of(ggml_type::bf16) == 2);
    CHECK(bytes_of(ggml_type::f64) == 8);
    CHECK(bytes_of(ggml_type::i16) == 2);
    CHECK(static_cast<std::uint32_t>(ggml_type::bf16) == 30);
    CHECK(static_cast<std::uint32_t>(ggml_type::i8) == 24);
    CHECK(ggml_layout(4).name == nullptr);   // retired Q4_2
    CHECK(ggml_layout(16).name == nullptr);  // IQ2_XXS: not sized by tessera
  }

  TEST_CASE("tensor extents: block multiples and overflow") {
    const std::vector<std::uint64_t> ok_dims{64, 3};
    CHECK(io::ggml_tensor_extent(8, ok_dims).value().bytes == 2 * 3 * 34);
    const std::vector<std::uint64_t> zero{0, 5};
    CHECK(io::ggml_tensor_extent(0, zero).value().bytes == 0);
    const std::vector<std::uint64_t> ragged{33};
    CHECK(io::ggml_tensor_extent(2, ragged).err().message.find("multiple of q4_0's block of 32") != std::string::npos);
    const std::vector<std::uint64_t> huge{std::uint64_t{1} << 32, std::uint64_t{1} << 32};
    CHECK(!io::ggml_tensor_extent(0, huge).ok());
    const std::vector<std::uint64_t> big_bytes{std::uint64_t{1} << 62};  // elements fit, bytes do not
    CHECK(io::ggml_tensor_extent(0, big_bytes).err().message.find("byte size overflows") != std::string::npos);
    const std::vector<std::uint64_t> negative{~std::uint64_t{0}};
    CHECK(!io::ggml_tensor_extent(0, negative).ok());
    const std::vector<std::uint64_t> five{1, 1, 1, 1, 1};
    CHECK(!io::ggml_tensor_extent(0, five).ok());
  }

  TEST_CASE("header errors: magic, versions, counts") {
    auto base = test::sample_gguf();
    auto bad_magic = base;
    bad_magic[0] = 'X';
    CHECK(message_has(parse(bad_magic), "no 'GGUF' magic"));
    auto v1 = base;
    v1[4] = 1;
    auto r1 = parse(v1);
    CHECK(r1.err().code == errc::unsupported);
    CHECK(message_has(r1, "version 1"));
    auto v4 = base;
    v4[4] = 4;
    CHECK(message_has(parse(v4), "version 4 (expected 2 or 3)"));
    auto big_endian = base;
    big_endian[4] = 0;
    big_endian[7] = 3;
    CHECK(message_has(parse(big_endian), "big-endian"));
    CHECK(message_has(parse(gguf_bytes{}.header(1u << 30, 0).b), "need more than the 0 bytes left"));
    CHECK(message_has(parse(gguf_bytes{}.header(0, ~std::uint64_t{0}).zeros(64).b), "metadata entries"));
    CHECK(!parse(std::vector<std::uint8_t>{'G', 'G', 'U'}).ok());
    CHECK(!parse({}).ok());
  }

  TEST_CASE("metadata errors: lengths, counts, types, nesting, duplicates, alignment") {
    auto one_kv = [](auto&& value) {
      gguf_bytes g;
      g.header(0, 1).str("k");
      value(g);
      return parse(g.b);
    };
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(8).u64(1000).zeros(10); }), "string length 1000 exceeds the 10 bytes left"));
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(13).zeros(8); }), "value type 13"));
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(7).u8(2); }), "bool value 2"));
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(9).u32(7).u64(2).u8(1).u8(5); }), "bool value 5"));
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(9).u32(6).u64(1u << 20).zeros(64); }), "array count 1048576 of float32"));
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(9).u32(8).u64(100).zeros(64); }), "array count 100 of string"));
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(9).u32(99).u64(0); }), "value type 99"));
    CHECK(message_has(one_kv([](gguf_bytes& g) { g.u32(4).u8(1); }), "truncated uint32"));
    {
      gguf_bytes g;  // an empty key
      CHECK(message_has(parse(g.header(0, 1).str("").u32(0).u8(0).b), "key of 0 bytes"));
    }
    // Arrays nest to gguf_max_array_nesting levels, not one more.
    auto nested = [](std::uint32_t levels) {
      gguf_bytes g;
      g.header(0, 1).str("k").u32(9);
      for (std::uint32_t i = 1; i < levels; ++i) g.u32(9).u64(1);
      g.u32(0).u64(1).u8(42);
      return parse(g.b);
    };
    CHECK(nested(io::gguf_max_array_nesting).ok());
    CHECK(message_has(nested(io::gguf_max_array_nesting + 1), "nested deeper than 8"));
    {
      gguf_bytes g;
      g.header(0, 2).str("k").u32(0).u8(1).str("k").u32(0).u8(2);
      CHECK(message_has(parse(g.b), "duplicate metadata key 'k'"));
    }
    {
      gguf_bytes g;
      CHECK(message_has(parse(g.header(0, 1).str("general.alignment").u32(4).u32(48).b), "48 is not a power of two"));
    }
    {
      gguf_bytes g;
      CHECK(message_has(parse(g.header(0, 1).str("general.alignment").u32(10).u64(32).b), "is uint64, not uint32"));
    }
  }

  TEST_CASE("tensor info errors: dims, types, offsets, duplicates") {
    auto one_tensor = [](std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset, std::size_t data_bytes) {
      gguf_bytes g;
      g.header(1, 0).tensor("w", dims, type, offset).pad_to(32).zeros(data_bytes);
      return parse(g.b);
    };
    CHECK(one_tensor({4}, 0, 0, 16).ok());
    CHECK(message_has(one_tensor({1, 1, 1, 1, 1}, 0, 0, 4), "n_dims 5 (expected 1 to 4)"));
    CHECK(message_has(one_tensor({}, 0, 0, 4), "n_dims 0"));
    CHECK(message_has(one_tensor({std::uint64_t{1} << 40, std::uint64_t{1} << 40}, 0, 0, 4), "overflows"));
    CHECK(one_tensor({4}, 16, 0, 16).err().code == errc::unsupported);
    CHECK(message_has(one_tensor({33}, 2, 0, 64), "not a multiple of q4_0's block of 32"));
    CHECK(message_has(one_tensor({4}, 0, 16, 64), "offset 16 is not a multiple of the alignment 32"));
    auto past = one_tensor({4}, 0, 0, 15);
    CHECK(past.err().code == errc::out_of_range);
    CHECK(message_has(past, "run past the end"));
    CHECK(message_has(one_tensor({4}, 0, 32, 64), "offset 32, expected 0"));
    CHECK(!one_tensor({4}, 0, ~std::uint64_t{0} - 31, 16).ok());
    {
      gguf_bytes g;
      g.header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad_to(32).zeros(64);
      CHECK(message_has(parse(g.b), "duplicate tensor name 'w'"));
    }
    // Tensors follow each other in order, each padded to the alignment: no overlap, no gap.
    auto two = [](std::uint64_t second_offset) {
      gguf_bytes g;
      g.header(2, 0).tensor("a", {4}, 0, 0).tensor("b", {4}, 0, second_offset).pad_to(32).zeros(128);
      return parse(g.b);
    };
    CHECK(two(32).ok());
    CHECK(message_has(two(0), "tensor 'b': offset 0, expected 32"));
    CHECK(message_has(two(64), "tensor 'b': offset 64, expected 32"));
    {
      gguf_bytes g;
      g.header(1, 0).tensor(std::string(64, 'n'), {4}, 0, 0).pad_to(32).zeros(16);
      CHECK(message_has(parse(g.b), "name of 64 bytes"));
    }
  }

  TEST_CASE("every truncation of a file fails cleanly") {
    const auto bytes = test::sample_gguf();
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      auto r = parse(prefix);
      // The last tensor's padding is not data: a prefix may keep all tensors whole.
      if (r.ok()) check_views_inside(*r);
      else CHECK(r.err().message.find("gguf: ") == 0);
    }
  }

  TEST_CASE("random byte mutations never crash, and what parses stays inside the bytes") {
    const auto bytes = test::sample_gguf();
    test::rng g(11);
    int parsed = 0;
    for (int round = 0; round < 3000; ++round) {
      auto m = bytes;
      const int flips = 1 + static_cast<int>(g.next() % 4);
      for (int i = 0; i < flips; ++i) m[g.next() % m.size()] ^= static_cast<std::uint8_t>(1u << (g.next() % 8));
      auto r = parse(m);
      if (!r.ok()) continue;
      ++parsed;
      check_views_inside(*r);
    }
    CHECK(parsed > 0);  // flips in tensor data leave the container valid
  }

  TEST_CASE("the shared stories260K model, when ../shared is present") {
    const std::string path = std::string(TESSERA_SOURCE_DIR) + "/../shared/models/stories260K-synthvocab.gguf";
    if (std::FILE* probe = std::fopen(path.c_str(), "rb")) std::fclose(probe);
    else return;  // optional data: absent on a fresh clone
    auto opened = io::open_gguf(path);
    REQUIRE_MESSAGE(opened.ok(), opened.what());
    const gguf_file& f = opened->gguf;
    CHECK(opened->file.is_mapped() == !TESSERA_WASM);
    CHECK(f.version() == 3);
    CHECK(f.get<std::string_view>("general.architecture").value() == "llama");
    CHECK(f.get<std::string_view>("tokenizer.ggml.model").value() == "llama");
    CHECK(f.get<std::uint32_t>("llama.embedding_length").value() == 64);
    CHECK(f.get<std::uint32_t>("llama.block_count").value() == 5);
    CHECK(f.get<std::uint32_t>("llama.attention.head_count").value() == 8);
    CHECK(f.get<std::uint32_t>("llama.attention.head_count_kv").value() == 4);
    CHECK(f.get<float>("llama.attention.layer_norm_rms_epsilon").value() == doctest::Approx(1e-5));
    const auto tokens = f.get_array<std::string_view>("tokenizer.ggml.tokens").value();
    REQUIRE(tokens.size() == 512);
    CHECK(tokens[0] == "<unk>");
    CHECK(tokens[1] == "<s>");
    CHECK(f.get_array<float>("tokenizer.ggml.scores").value().size() == 512);
    CHECK(f.get_array<std::int32_t>("tokenizer.ggml.token_type").value().size() == 512);
    REQUIRE(f.tensors().size() == 48);
    const io::gguf_tensor embd = f.tensor("token_embd.weight").value();
    CHECK(embd.type == io::ggml_type::f32);
    CHECK(embd.n_dims == 2);
    CHECK(embd.dims[0] == 64);
    CHECK(embd.dims[1] == 512);
    CHECK(embd.data.size() == 64 * 512 * 4);
    CHECK(reinterpret_cast<std::uintptr_t>(embd.data.data()) % 32 == 0);  // mapped page + aligned offset
    CHECK(f.tensor("blk.4.ffn_norm.weight").value().data.size() == 64 * 4);
    check_views_inside(f);
    const std::uint64_t last_end = f.tensors().back().data.data() + f.tensors().back().data.size() - f.bytes().data();
    CHECK(last_end == f.bytes().size());

    const std::span<const std::uint8_t> whole = f.bytes();
    // Copied through the writer, the model comes back byte for byte: the writer lays files
    // out (order, offsets, padding) as the converter that made this one did.
    io::gguf_writer w;
    for (const io::gguf_kv& kv : f.metadata()) CHECK(w.set_value(kv.key, io::gguf_encode(kv.value)).ok());
    for (const io::gguf_tensor& t : f.tensors()) CHECK(w.add_tensor(t.name, t.type, t.shape(), t.data).ok());
    const std::vector<std::uint8_t> copy = w.serialize();
    CHECK((copy.size() == whole.size() && std::equal(copy.begin(), copy.end(), whole.begin())));

    for (int k = 0; k < 16; ++k) {
      CAPTURE(k);
      auto cut = gguf_file::parse(whole.first(whole.size() * static_cast<std::size_t>(k) / 16));
      CHECK(!cut.ok());
    }
    // Mutations of the header and metadata (the first 14 KB): an error or a valid view.
    std::vector<std::uint8_t> head(whole.begin(), whole.end());
    test::rng g(5);
    const std::size_t infos_end = static_cast<std::size_t>(f.data_offset());
    for (int round = 0; round < 200; ++round) {
      auto m = head;
      for (int i = 0; i < 3; ++i) m[g.next() % infos_end] ^= static_cast<std::uint8_t>(1u << (g.next() % 8));
      auto r = gguf_file::parse(m);
      if (r.ok()) check_views_inside(*r);
    }
  }
}
