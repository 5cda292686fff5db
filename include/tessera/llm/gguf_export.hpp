// Writing models: f32 tensors quantized into any weight format on their way into a GGUF file
// (the glue between io/gguf_writer.hpp, which stores raw bytes, and kernels/quant.hpp, whose
// quantizers write what llama.cpp's reference quantizer writes), and random-weight models of
// every supported architecture for tests, benchmarks and demos.
//
//   io::gguf_writer w;
//   TESSERA_TRY(llm::add_tensor(w, "blk.0.attn_q.weight", dtype::q4_k, rows, cols, values));
//   auto bytes = llm::random_model_gguf({.arch = llm::architecture::qwen2, .dim = 64, ...});
#pragma once

#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/io/gguf.hpp>
#include <tessera/io/gguf_writer.hpp>
#include <tessera/kernels/quant.hpp>
#include <tessera/llm/config.hpp>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::llm {

inline io::ggml_type ggml_type_of(dtype t) {
  switch (t) {
    case dtype::f16: return io::ggml_type::f16;
    case dtype::bf16: return io::ggml_type::bf16;
    case dtype::q8_0: return io::ggml_type::q8_0;
    case dtype::q4_0: return io::ggml_type::q4_0;
    case dtype::q4_1: return io::ggml_type::q4_1;
    case dtype::q5_0: return io::ggml_type::q5_0;
    case dtype::q5_1: return io::ggml_type::q5_1;
    case dtype::q4_k: return io::ggml_type::q4_k;
    case dtype::q5_k: return io::ggml_type::q5_k;
    case dtype::q6_k: return io::ggml_type::q6_k;
    default: return io::ggml_type::f32;
  }
}

// Adds `values` (rows x cols, row-major; rows == 1 for a vector) as a tensor of type t: ggml
// dims [cols] for a vector, [cols, rows] for a matrix.
inline status add_tensor(io::gguf_writer& w, std::string_view name, dtype t, std::uint64_t rows, std::uint64_t cols,
                         std::span<const float> values, bool vector = false) {
  if (values.size() != rows * cols)
    return make_error(errc::invalid_argument, "add_tensor '" + std::string(name) + "': " + std::to_string(values.size()) + " values for " +
                                                  std::to_string(rows) + " x " + std::to_string(cols));
  TESSERA_ASSIGN_OR_RETURN(const std::size_t row_bytes, kernels::quant_row_bytes(t, cols));
  std::vector<std::uint8_t> bytes(row_bytes * rows);
  for (std::uint64_t r = 0; r < rows; ++r)
    TESSERA_TRY(kernels::quantize_row(t, values.data() + r * cols, bytes.data() + r * row_bytes, cols));
  const std::uint64_t dims[2] = {cols, rows};
  return w.add_tensor(name, ggml_type_of(t), std::span<const std::uint64_t>(dims, vector ? 1 : 2), bytes);
}

struct random_model_spec {
  architecture arch = architecture::llama;
  std::uint32_t vocab = 256, dim = 64, layers = 2, heads = 4, kv_heads = 2, head_dim = 0 /* dim / heads */, hidden = 128;
  std::uint32_t context = 512;
  dtype weights = dtype::f32;     // the layers' matrices
  dtype embeddings = dtype::f32;  // token_embd
  dtype output = dtype::f32;      // output.weight (unless tied)
  bool tied = false;
  std::uint64_t seed = 1;
  float rope_base = 10000.0f;
  std::uint32_t sliding_window = 0;  // gemma3: the window of its sliding layers (0: none)
  std::uint32_t sliding_pattern = 0; // gemma3: written as attention.sliding_window_pattern when > 0
  bool fused_qkv = false;            // phi3: attn_qkv instead of attn_q/k/v
  float final_softcap = 0.0f;
  bool vocabulary = true;            // a synthetic SentencePiece-style vocabulary (so llama.cpp loads it)
  std::vector<std::string> control_tokens = {};  // more control tokens after <unk> <s> </s> ("<|im_start|>", ...)
  std::string chat_template = {};    // tokenizer.chat_template when not empty
};

namespace detail {

class splitmix {
 public:
  explicit splitmix(std::uint64_t seed) : s_(seed) {}
  double uniform(double lo, double hi) {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
  }
  std::vector<float> values(std::size_t n, double lo, double hi) {
    std::vector<float> v(n);
    for (float& x : v) x = static_cast<float>(uniform(lo, hi));
    return v;
  }

 private:
  std::uint64_t s_;
};

// A SentencePiece vocabulary of n tokens that covers text: <unk>, <s>, </s>, the extra control
// tokens, the 256 byte tokens <0x00>..<0xFF> when n leaves room for them besides the pieces
// below (else a "\n" piece), then "▁" (SentencePiece's space) and the printable ASCII
// characters, "▁" + a letter, and letter pairs; scores favour longer pieces, so words merge
// (cut to n tokens when n is smaller).
struct synthetic_vocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;  // GGUF token types: 1 normal, 2 unknown, 3 control, 6 byte
};

inline synthetic_vocabulary synthetic_vocabulary_of(std::uint32_t n, const std::vector<std::string>& control) {
  synthetic_vocabulary v;
  const auto add = [&](std::string text, float score, std::int32_t type) {
    if (v.tokens.size() >= n) return;
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, 2);
  add("<s>", 0.0f, 3);
  add("</s>", 0.0f, 3);
  for (const std::string& c : control) add(c, 0.0f, 3);
  const std::string space = "\xe2\x96\x81";
  const std::size_t pieces = 1 + 94 + 52;  // "▁", the printable characters, "▁" + a letter
  if (std::size_t{n} >= v.tokens.size() + 256 + pieces + 64) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) add(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", 0.0f, 6);
  } else {
    add("\n", -1000.0f, 1);
  }
  add(space, -1000.0f, 1);
  for (char c = '!'; c <= '~'; ++c) add(std::string(1, c), -1000.0f, 1);
  for (char c = 'a'; c <= 'z'; ++c) add(space + c, -100.0f - static_cast<float>(c - 'a'), 1);
  for (char c = 'A'; c <= 'Z'; ++c) add(space + c, -200.0f - static_cast<float>(c - 'A'), 1);
  for (char a = 'a'; a <= 'z' && v.tokens.size() < n; ++a)
    for (char b = 'a'; b <= 'z'; ++b) add(std::string{a, b}, -300.0f - static_cast<float>(v.tokens.size()) * 0.001f, 1);
  for (std::uint32_t i = static_cast<std::uint32_t>(v.tokens.size()); i < n; ++i) add(space + "t" + std::to_string(i), -2000.0f, 1);
  return v;
}

}  // namespace detail

// A GGUF file of a model with random weights: matrices uniform in +-1/sqrt(fan_in) (so
// activations keep their scale through the layers), norm weights near 1, small biases,
// embeddings uniform in +-1 (logits spread enough that greedy choices are clear).
// rows x cols float values, or out_of_memory where the count cannot even be addressed (a
// 32-bit build asked for a 1M x 16384 embedding): never a product that wraps.
namespace detail {
inline expected<std::size_t> float_count(const std::string& name, std::uint32_t rows, std::uint32_t cols) {
  const std::uint64_t n = std::uint64_t{rows} * cols;
  if (n > SIZE_MAX / sizeof(float))
    return make_error(errc::out_of_memory, "add_tensor '" + name + "': " + std::to_string(rows) + " x " + std::to_string(cols) +
                                               " floats are past this build's address space (out of memory)");
  return static_cast<std::size_t>(n);
}
}  // namespace detail

inline expected<std::vector<std::uint8_t>> random_model_gguf(const random_model_spec& s) {
  io::gguf_writer w;
  const std::string a = architecture_name(s.arch);
  const std::uint32_t head_dim = s.head_dim ? s.head_dim : s.dim / s.heads;
  TESSERA_TRY(w.set("general.architecture", a));
  TESSERA_TRY(w.set("general.name", "tessera random " + a));
  TESSERA_TRY(w.set(a + ".context_length", s.context));
  TESSERA_TRY(w.set(a + ".embedding_length", s.dim));
  TESSERA_TRY(w.set(a + ".block_count", s.layers));
  TESSERA_TRY(w.set(a + ".feed_forward_length", s.hidden));
  TESSERA_TRY(w.set(a + ".attention.head_count", s.heads));
  TESSERA_TRY(w.set(a + ".attention.head_count_kv", s.kv_heads));
  if (s.head_dim) {
    TESSERA_TRY(w.set(a + ".attention.key_length", s.head_dim));
    TESSERA_TRY(w.set(a + ".attention.value_length", s.head_dim));
  }
  TESSERA_TRY(w.set(a + ".attention.layer_norm_rms_epsilon", 1e-6f));
  TESSERA_TRY(w.set(a + ".rope.freq_base", s.rope_base));
  TESSERA_TRY(w.set(a + ".rope.dimension_count", head_dim));
  if (s.sliding_window) TESSERA_TRY(w.set(a + ".attention.sliding_window", s.sliding_window));
  if (s.sliding_pattern) TESSERA_TRY(w.set(a + ".attention.sliding_window_pattern", s.sliding_pattern));
  if (s.final_softcap > 0) TESSERA_TRY(w.set(a + ".final_logit_softcapping", s.final_softcap));
  if (s.vocabulary) {
    const detail::synthetic_vocabulary v = detail::synthetic_vocabulary_of(s.vocab, s.control_tokens);
    TESSERA_TRY(w.set("tokenizer.ggml.model", "llama"));
    TESSERA_TRY(w.set_array("tokenizer.ggml.tokens", std::span<const std::string>(v.tokens)));
    TESSERA_TRY(w.set_array("tokenizer.ggml.scores", std::span<const float>(v.scores)));
    TESSERA_TRY(w.set_array("tokenizer.ggml.token_type", std::span<const std::int32_t>(v.types)));
    TESSERA_TRY(w.set("tokenizer.ggml.bos_token_id", std::uint32_t{1}));
    TESSERA_TRY(w.set("tokenizer.ggml.eos_token_id", std::uint32_t{2}));
    TESSERA_TRY(w.set("tokenizer.ggml.unknown_token_id", std::uint32_t{0}));
    if (!s.chat_template.empty()) TESSERA_TRY(w.set("tokenizer.chat_template", s.chat_template));
  }

  detail::splitmix g(s.seed);
  const auto matrix = [&](const std::string& name, std::uint32_t rows, std::uint32_t cols, dtype t) -> status {
    const double bound = 1.0 / std::sqrt(static_cast<double>(cols));
    TESSERA_ASSIGN_OR_RETURN(const std::size_t n, detail::float_count(name, rows, cols));
    return add_tensor(w, name, t, rows, cols, g.values(n, -bound, bound));
  };
  const auto vector = [&](const std::string& name, std::uint32_t n, double lo, double hi) {
    return add_tensor(w, name, dtype::f32, 1, n, g.values(n, lo, hi), true);
  };
  TESSERA_ASSIGN_OR_RETURN(const std::size_t embedding_count, detail::float_count("token_embd.weight", s.vocab, s.dim));
  TESSERA_TRY(add_tensor(w, "token_embd.weight", s.embeddings, s.vocab, s.dim, g.values(embedding_count, -1, 1)));
  const std::uint32_t q = s.heads * head_dim, kv = s.kv_heads * head_dim;
  for (std::uint32_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    TESSERA_TRY(vector(p + "attn_norm.weight", s.dim, 0.8, 1.2));
    if (s.fused_qkv) {
      TESSERA_TRY(matrix(p + "attn_qkv.weight", q + 2 * kv, s.dim, s.weights));
    } else {
      TESSERA_TRY(matrix(p + "attn_q.weight", q, s.dim, s.weights));
      TESSERA_TRY(matrix(p + "attn_k.weight", kv, s.dim, s.weights));
      TESSERA_TRY(matrix(p + "attn_v.weight", kv, s.dim, s.weights));
    }
    if (s.arch == architecture::qwen2) {
      TESSERA_TRY(vector(p + "attn_q.bias", q, -0.2, 0.2));
      TESSERA_TRY(vector(p + "attn_k.bias", kv, -0.2, 0.2));
      TESSERA_TRY(vector(p + "attn_v.bias", kv, -0.2, 0.2));
    }
    if (s.arch == architecture::gemma3) {
      TESSERA_TRY(vector(p + "attn_q_norm.weight", head_dim, 0.8, 1.2));
      TESSERA_TRY(vector(p + "attn_k_norm.weight", head_dim, 0.8, 1.2));
    }
    TESSERA_TRY(matrix(p + "attn_output.weight", s.dim, q, s.weights));
    if (s.arch == architecture::gemma3) TESSERA_TRY(vector(p + "post_attention_norm.weight", s.dim, 0.8, 1.2));
    TESSERA_TRY(vector(p + "ffn_norm.weight", s.dim, 0.8, 1.2));
    if (s.arch == architecture::phi3) {
      TESSERA_TRY(matrix(p + "ffn_up.weight", 2 * s.hidden, s.dim, s.weights));
    } else {
      TESSERA_TRY(matrix(p + "ffn_gate.weight", s.hidden, s.dim, s.weights));
      TESSERA_TRY(matrix(p + "ffn_up.weight", s.hidden, s.dim, s.weights));
    }
    TESSERA_TRY(matrix(p + "ffn_down.weight", s.dim, s.hidden, s.weights));
    if (s.arch == architecture::gemma3) TESSERA_TRY(vector(p + "post_ffw_norm.weight", s.dim, 0.8, 1.2));
  }
  TESSERA_TRY(vector("output_norm.weight", s.dim, 0.8, 1.2));
  if (!s.tied) TESSERA_TRY(add_tensor(w, "output.weight", s.output, s.vocab, s.dim, g.values(embedding_count, -1, 1)));
  return w.serialize();
}

}  // namespace tessera::llm
