// Hostile and broken model files: tessera's loaders (llm/config.hpp, weights.hpp, model.hpp)
// answer each with an error value naming what is wrong, never a crash or an allocation sized
// by an unchecked number. Models are written by tessera's writer and then altered: metadata
// replaced or dropped, tensors dropped, retyped or reshaped, files truncated at every length.
#include "support/harness.hpp"

#include <tessera/io/gguf.hpp>
#include <tessera/io/gguf_writer.hpp>
#include <tessera/llm/gguf_export.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/session.hpp>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace tessera;

namespace {

llm::random_model_spec spec_of(llm::architecture arch) {
  llm::random_model_spec s;
  s.arch = arch;
  s.vocab = 64;
  s.dim = 32;
  s.heads = 4;
  s.kv_heads = 2;
  s.hidden = 64;
  s.layers = 2;
  s.context = 32;
  s.vocabulary = false;
  if (arch == llm::architecture::phi3) s.fused_qkv = true;
  return s;
}

struct edits {
  std::function<std::optional<io::gguf_encoded_value>(std::string_view key, const io::gguf_value& v)> metadata;  // nullopt drops
  std::function<bool(const io::gguf_tensor& t, io::ggml_type& type, std::vector<std::uint64_t>& dims)> tensor;  // false drops
  std::vector<std::pair<std::string, io::gguf_encoded_value>> extra;
};

// A copy of a GGUF file with edits applied to its metadata and tensor infos.
std::vector<std::uint8_t> rewrite(const std::vector<std::uint8_t>& bytes, const edits& e) {
  const io::gguf_file f = test::must(io::gguf_file::parse(bytes));
  io::gguf_writer w;
  for (const io::gguf_kv& kv : f.metadata()) {
    std::optional<io::gguf_encoded_value> v = io::gguf_encode(kv.value);
    if (e.metadata) v = e.metadata(kv.key, kv.value);
    if (v) REQUIRE(w.set_value(kv.key, *v).ok());
  }
  for (const auto& [k, v] : e.extra) REQUIRE(w.set_value(k, v).ok());
  for (const io::gguf_tensor& t : f.tensors()) {
    io::ggml_type type = t.type;
    std::vector<std::uint64_t> dims(t.shape().begin(), t.shape().end());
    if (e.tensor && !e.tensor(t, type, dims)) continue;
    REQUIRE(w.add_tensor(t.name, type, dims, t.data).ok());
  }
  return w.serialize();
}

error load_error(const std::vector<std::uint8_t>& bytes) {
  auto m = llm::model::view_bytes(bytes);
  REQUIRE_MESSAGE(!m.ok(), "the model loaded");
  return m.err();
}

std::function<std::optional<io::gguf_encoded_value>(std::string_view, const io::gguf_value&)> set_key(std::string key, io::gguf_encoded_value value) {
  return [key, value](std::string_view k, const io::gguf_value& v) -> std::optional<io::gguf_encoded_value> {
    if (k == key) return value;
    return io::gguf_encode(v);
  };
}

}  // namespace

TEST_SUITE("llm/loader") {

TEST_CASE("every architecture's random model loads, and other architectures are refused by name") {
  for (auto arch : {llm::architecture::llama, llm::architecture::qwen2, llm::architecture::gemma3, llm::architecture::phi3}) {
    const auto bytes = test::must(llm::random_model_gguf(spec_of(arch)));
    REQUIRE(llm::model::view_bytes(bytes).ok());
  }
  const auto bytes = test::must(llm::random_model_gguf(spec_of(llm::architecture::llama)));
  edits e;
  e.metadata = set_key("general.architecture", io::gguf_encode(std::string_view("gpt2")));
  const error err = load_error(rewrite(bytes, e));
  CHECK(err.code == errc::unsupported);
  CHECK(err.message.find("'gpt2'") != std::string::npos);
}

TEST_CASE("absurd or inconsistent hyper-parameters are errors") {
  const auto bytes = test::must(llm::random_model_gguf(spec_of(llm::architecture::llama)));
  const std::pair<const char*, io::gguf_encoded_value> bad[] = {
      {"llama.attention.head_count", io::gguf_encode(std::uint32_t{1000000000})},
      {"llama.attention.head_count", io::gguf_encode(std::uint32_t{0})},
      {"llama.attention.head_count_kv", io::gguf_encode(std::uint32_t{0})},
      {"llama.attention.head_count_kv", io::gguf_encode(std::uint32_t{3})},  // 4 heads are not a multiple of 3
      {"llama.attention.head_count", io::gguf_encode(std::uint32_t{64})},  // tensors no longer fit
      {"llama.embedding_length", io::gguf_encode(std::uint32_t{0})},
      {"llama.embedding_length", io::gguf_encode(std::int32_t{-32})},
      {"llama.embedding_length", io::gguf_encode(std::string_view("32"))},
      {"llama.block_count", io::gguf_encode(std::uint64_t{1} << 40)},
      {"llama.block_count", io::gguf_encode(std::uint32_t{3})},  // blk.2 is missing
      {"llama.feed_forward_length", io::gguf_encode(std::uint32_t{65})},
      {"llama.rope.dimension_count", io::gguf_encode(std::uint32_t{7})},
      {"llama.rope.dimension_count", io::gguf_encode(std::uint32_t{64})},
      {"llama.attention.layer_norm_rms_epsilon", io::gguf_encode(-1.0f)},
      {"llama.rope.freq_base", io::gguf_encode(std::numeric_limits<float>::quiet_NaN())},
      {"llama.rope.scaling.type", io::gguf_encode(std::string_view("dynamic"))},
      {"llama.expert_count", io::gguf_encode(std::uint32_t{8})},
  };
  for (const auto& entry : bad) {
    const std::string key = entry.first;
    const io::gguf_encoded_value& value = entry.second;
    CAPTURE(key);
    edits e;
    const bool present = test::must(io::gguf_file::parse(bytes)).contains(key);
    if (present) e.metadata = set_key(key, value);
    else e.extra.push_back({key, value});
    const error err = load_error(rewrite(bytes, e));
    CAPTURE(err.message);
    CHECK(!err.message.empty());
  }
  // A missing required key names it.
  edits drop;
  drop.metadata = [](std::string_view k, const io::gguf_value& v) -> std::optional<io::gguf_encoded_value> {
    if (k == "llama.embedding_length") return std::nullopt;
    return io::gguf_encode(v);
  };
  CHECK(load_error(rewrite(bytes, drop)).message.find("llama.embedding_length") != std::string::npos);
}

TEST_CASE("missing, mistyped and misshapen tensors are errors naming the tensor") {
  for (auto arch : {llm::architecture::llama, llm::architecture::qwen2, llm::architecture::gemma3, llm::architecture::phi3}) {
    const auto bytes = test::must(llm::random_model_gguf(spec_of(arch)));
    const io::gguf_file f = test::must(io::gguf_file::parse(bytes));
    for (const io::gguf_tensor& victim : f.tensors()) {
      const std::string name(victim.name);
      CAPTURE(name);
      CAPTURE(static_cast<int>(arch));
      // Dropped: every tensor of these models is required except output.weight (then tied).
      edits drop;
      drop.tensor = [&](const io::gguf_tensor& t, io::ggml_type&, std::vector<std::uint64_t>&) { return t.name != name; };
      if (name == "output.weight") {
        CHECK(llm::model::view_bytes(rewrite(bytes, drop)).ok());
      } else {
        const error err = load_error(rewrite(bytes, drop));
        CHECK(err.message.find(name) != std::string::npos);
      }
      // Reshaped with the same byte size: dims reversed (matrices) or split (vectors).
      edits reshape;
      reshape.tensor = [&](const io::gguf_tensor& t, io::ggml_type&, std::vector<std::uint64_t>& dims) {
        if (t.name == name) {
          if (dims.size() == 2 && dims[0] != dims[1]) std::swap(dims[0], dims[1]);
          else if (dims.size() == 2) dims = {dims[0] * dims[1]};
          else dims = {dims[0] / 2, 2};
        }
        return true;
      };
      const error shape_err = load_error(rewrite(bytes, reshape));
      CHECK(shape_err.message.find(name) != std::string::npos);
      // Retyped: f32 bytes read as i32 (same size), a type no weight can have.
      edits retype;
      retype.tensor = [&](const io::gguf_tensor& t, io::ggml_type& type, std::vector<std::uint64_t>&) {
        if (t.name == name) type = io::ggml_type::i32;
        return true;
      };
      const error type_err = load_error(rewrite(bytes, retype));
      CHECK(type_err.code == errc::unsupported);
      CHECK(type_err.message.find(name) != std::string::npos);
    }
  }
}

TEST_CASE("a weight in a format tessera cannot multiply is refused by name") {
  // Q2_K bytes are well-formed GGUF data, but no kernel multiplies them.
  auto spec = spec_of(llm::architecture::llama);
  spec.dim = 256;
  spec.hidden = 256;
  const auto bytes = test::must(llm::random_model_gguf(spec));
  edits e;
  e.tensor = [](const io::gguf_tensor& t, io::ggml_type&, std::vector<std::uint64_t>&) { return t.name != "blk.1.ffn_down.weight"; };
  const auto dropped = rewrite(bytes, e);
  io::gguf_writer w;
  const io::gguf_file f = test::must(io::gguf_file::parse(dropped));
  for (const io::gguf_kv& kv : f.metadata()) REQUIRE(w.set_value(kv.key, io::gguf_encode(kv.value)).ok());
  for (const io::gguf_tensor& t : f.tensors()) REQUIRE(w.add_tensor(t.name, t.type, t.shape(), t.data).ok());
  const std::vector<std::uint8_t> q2k(84 * 256, 0);
  const std::uint64_t dims[2] = {256, 256};
  REQUIRE(w.add_tensor("blk.1.ffn_down.weight", io::ggml_type::q2_k, dims, q2k).ok());
  const error err = load_error(w.serialize());
  CHECK(err.code == errc::unsupported);
  CHECK(err.message.find("q2_k") != std::string::npos);
}

TEST_CASE("a GGUF file truncated at any length is an error") {
  const auto bytes = test::must(llm::random_model_gguf(spec_of(llm::architecture::gemma3)));
  std::size_t step = std::max<std::size_t>(1, bytes.size() / 997);
  for (std::size_t n = 0; n < bytes.size(); n += step) {
    const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    CAPTURE(n);
    CHECK(!llm::model::view_bytes(cut).ok());
  }
}

TEST_CASE("llama2.c checkpoints: truncated files and hostile headers are errors") {
  // A tiny valid checkpoint: dim 8, hidden 16, 1 layer, 2 heads, 2 KV heads, vocab 10, seq 4.
  const std::int32_t header[7] = {8, 16, 1, 2, 2, 10, 4};
  const std::size_t floats = 10 * 8 + 8 + 3 * 64 + 64 + 8 + 3 * 128 + 8 + 4 * 4;
  std::vector<std::uint8_t> bytes(28 + floats * 4, 0);
  std::memcpy(bytes.data(), header, 28);
  test::rng g(3);
  for (std::size_t i = 0; i < floats; ++i) {
    const float v = static_cast<float>(g.uniform(-0.5, 0.5));
    std::memcpy(bytes.data() + 28 + 4 * i, &v, 4);
  }
  const llm::model m = test::must(llm::model::llama2c_from_bytes(bytes));
  llm::session s = test::must(llm::session::create(m));
  const std::int32_t prompt[] = {1, 3, 7};
  REQUIRE(s.decode(prompt).ok());
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    CAPTURE(n);
    CHECK(!llm::model::llama2c_from_bytes(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n))).ok());
  }
  for (const std::int32_t h : {0, -5, 1 << 30}) {
    for (int field = 0; field < 7; ++field) {
      std::vector<std::uint8_t> hostile = bytes;
      std::memcpy(hostile.data() + 4 * field, &h, 4);
      CAPTURE(field);
      CAPTURE(h);
      auto r = llm::model::llama2c_from_bytes(hostile);
      if (field == 5 && h == -5) continue;  // a negative vocabulary size is the format's "unshared classifier"
      CHECK(!r.ok());
    }
  }
}

}  // TEST_SUITE
