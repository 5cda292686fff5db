// GGUF files for the io tests and the fuzz seed corpus: a raw little-endian byte builder
// (to write files the writer refuses to make) and a small writer-made file with every
// metadata type and several tensor types.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/io/gguf_writer.hpp"

namespace tessera::test {

struct gguf_bytes {
  std::vector<std::uint8_t> b;
  gguf_bytes& u8(std::uint8_t v) { b.push_back(v); return *this; }
  gguf_bytes& u32(std::uint32_t v) { return le(v, 4); }
  gguf_bytes& u64(std::uint64_t v) { return le(v, 8); }
  gguf_bytes& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  gguf_bytes& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  gguf_bytes& header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(tensors).u64(kvs);
  }
  // A tensor info (name, dims, type, offset).
  gguf_bytes& tensor(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
    str(name).u32(static_cast<std::uint32_t>(dims.size()));
    for (std::uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  gguf_bytes& pad_to(std::size_t alignment) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  gguf_bytes& zeros(std::size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

inline std::vector<std::uint8_t> pattern_bytes(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 37);
  return v;
}

// One entry of every metadata type, arrays of each, an array of arrays of strings, and
// tensors of f32, f16, q8_0, q4_k and i32 in 1 to 4 dims.
inline std::vector<std::uint8_t> sample_gguf(std::uint32_t alignment = 32) {
  io::gguf_writer w;
  auto ok = [](const status& s) {
    if (!s.ok()) { std::fprintf(stderr, "sample_gguf: %s\n", s.what().c_str()); std::abort(); }
  };
  if (alignment != io::gguf_default_alignment) ok(w.set_alignment(alignment));
  ok(w.set("general.architecture", "llama"));
  ok(w.set("t.u8", std::uint8_t{200}));
  ok(w.set("t.i8", std::int8_t{-100}));
  ok(w.set("t.u16", std::uint16_t{60000}));
  ok(w.set("t.i16", std::int16_t{-30000}));
  ok(w.set("t.u32", std::uint32_t{4000000000u}));
  ok(w.set("t.i32", std::int32_t{-2000000000}));
  ok(w.set("t.f32", 1.5f));
  ok(w.set("t.bool", true));
  ok(w.set("t.u64", std::uint64_t{1} << 60));
  ok(w.set("t.i64", -(std::int64_t{1} << 60)));
  ok(w.set("t.f64", -0.125));
  const std::vector<float> floats{0.5f, -1.0f, 3.25f};
  ok(w.set_array("t.floats", std::span<const float>(floats)));
  const std::vector<std::string> words{"<unk>", "", "hello"};
  ok(w.set_array("t.words", std::span<const std::string>(words)));
  const std::vector<io::gguf_encoded_value> rows{io::gguf_encode_array(std::span<const std::string>(words)),
                                                 io::gguf_encode_array(std::span<const std::string>(words.data(), 1))};
  auto nested = io::gguf_encode_array(std::span<const io::gguf_encoded_value>(rows));
  ok(nested.as_status());
  ok(w.set_value("t.nested", std::move(nested).value()));
  const std::vector<std::uint64_t> d1{8}, d2{32, 2}, d3{256, 1, 2}, d4{2, 1, 1, 3};
  ok(w.add_tensor("f32.weight", io::ggml_type::f32, d1, pattern_bytes(32, 1)));
  ok(w.add_tensor("q8_0.weight", io::ggml_type::q8_0, d2, pattern_bytes(2 * 34, 2)));
  ok(w.add_tensor("q4_k.weight", io::ggml_type::q4_k, d3, pattern_bytes(2 * 144, 3)));
  ok(w.add_tensor("i32.weight", io::ggml_type::i32, d4, pattern_bytes(6 * 4, 4)));
  ok(w.add_tensor("f16.weight", io::ggml_type::f16, d1, pattern_bytes(16, 5)));
  return w.serialize();
}

// The fuzz seed corpus (tests/fuzz/gguf_corpus/): small files of each shape the reader
// handles, as the writer makes them (tests/io/gguf_writer_test.cpp keeps the two in sync).
struct gguf_seed {
  const char* file;
  std::vector<std::uint8_t> bytes;
};
inline std::vector<gguf_seed> gguf_seed_corpus() {
  std::vector<gguf_seed> seeds;
  seeds.push_back({"empty.gguf", io::gguf_writer{}.serialize()});
  seeds.push_back({"sample.gguf", sample_gguf()});
  {
    io::gguf_writer w;
    (void)w.set_alignment(64);
    (void)w.set("general.architecture", "llama");
    (void)w.set("llama.block_count", std::uint32_t{1});
    const std::vector<std::uint64_t> dims{256, 1};
    (void)w.add_tensor("blk.0.ffn_down.weight", io::ggml_type::q6_k, dims, pattern_bytes(210, 9));
    const std::vector<std::uint64_t> row{32};
    (void)w.add_tensor("blk.0.attn_norm.weight", io::ggml_type::bf16, row, pattern_bytes(64, 10));
    (void)w.add_tensor("blk.0.attn_q.weight", io::ggml_type::q5_1, row, pattern_bytes(24, 11));
    seeds.push_back({"aligned64.gguf", w.serialize()});
  }
  {
    io::gguf_writer w;
    const std::vector<std::string> tokens{"<unk>", "<s>", "</s>", "a", "b"};
    const std::vector<float> scores{0, 0, 0, -1, -2};
    const std::vector<std::int32_t> types{2, 3, 3, 1, 1};
    (void)w.set("tokenizer.ggml.model", "llama");
    (void)w.set_array("tokenizer.ggml.tokens", std::span<const std::string>(tokens));
    (void)w.set_array("tokenizer.ggml.scores", std::span<const float>(scores));
    (void)w.set_array("tokenizer.ggml.token_type", std::span<const std::int32_t>(types));
    auto v2 = w.serialize();
    v2[4] = 2;
    seeds.push_back({"tokenizer_v2.gguf", std::move(v2)});
  }
  return seeds;
}

}  // namespace tessera::test
