// A decoder-only transformer's hyper-parameters, read from GGUF metadata ("{arch}.*" keys,
// as llama.cpp writes and reads them) for the architectures tessera runs:
//   llama   (also Mistral-style grouped-query attention): RMSNorm, RoPE on adjacent pairs,
//           SwiGLU; optional rope_freqs.weight (llama3-style frequency factors);
//   qwen2   llama with Q/K/V biases and NeoX RoPE (rotating halves);
//   gemma3  embeddings scaled by sqrt(dim), QK-norm, post-attention and post-FFN norms,
//           GeGLU (tanh GELU), NeoX RoPE, sliding-window layers (5 of every 6 unless
//           "gemma3.attention.sliding_window_pattern" says otherwise) with RoPE base 10000
//           there, queries scaled by 1/sqrt(head_dim) (by 1/sqrt(dim/heads) for the 62-layer
//           27B, as llama.cpp does), optional final logit soft-capping;
//   phi3    fused QKV and gate|up matrices, NeoX RoPE, optional LongRoPE factor tensors.
// Any other architecture is refused by name. Norm weights are used as stored (Gemma's GGUFs
// already hold 1 + w).
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/io/gguf.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::llm {

enum class architecture { llama, qwen2, gemma3, phi3 };

inline const char* architecture_name(architecture a) {
  switch (a) {
    case architecture::llama: return "llama";
    case architecture::qwen2: return "qwen2";
    case architecture::gemma3: return "gemma3";
    case architecture::phi3: return "phi3";
  }
  return "?";
}

// normal: rotate adjacent pairs (x[2i], x[2i+1]) (llama, GPT-J); neox: rotate x[i] with
// x[i + n_rot/2] (GPT-NeoX, Qwen2, Gemma, Phi-3).
enum class rope_style { normal, neox };
enum class rope_scaling { none, linear, yarn };
enum class ffn_activation { silu, gelu_tanh };

struct rope_config {
  rope_style style = rope_style::normal;
  std::uint32_t n_rot = 0;            // rotated dimensions of each head (even, <= head_dim)
  float freq_base = 10000.0f;         // theta_i = pos * freq_base^(-2i / n_rot)
  float freq_base_sliding = 10000.0f; // on sliding-window layers (Gemma 3), which are never scaled
  rope_scaling scaling = rope_scaling::none;
  float freq_scale = 1.0f;            // 1 / scaling factor (linear and YaRN interpolation)
  std::uint32_t original_context = 0; // YaRN: the context the model was trained with
  float attn_factor = 1.0f;           // multiplies cos and sin (YaRN / LongRoPE magnitude)
  float beta_fast = 32.0f, beta_slow = 1.0f;  // YaRN's ramp between interpolation and extrapolation
};

struct model_config {
  architecture arch = architecture::llama;
  std::uint32_t vocab_size = 0;
  std::uint32_t dim = 0;            // embedding width
  std::uint32_t n_layers = 0;
  std::uint32_t n_heads = 0;
  std::uint32_t n_kv_heads = 0;     // < n_heads: grouped-query attention
  std::uint32_t head_dim = 0;       // of queries and keys
  std::uint32_t head_dim_v = 0;     // of values
  std::uint32_t hidden_dim = 0;     // feed-forward width
  std::uint32_t context_length = 0; // trained context
  float norm_eps = 1e-5f;
  ffn_activation activation = ffn_activation::silu;
  float embedding_scale = 1.0f;     // token embeddings are multiplied by it (Gemma: sqrt(dim))
  float attention_scale = 0.0f;     // queries times this before q.k (1/sqrt(head_dim) by default)
  float attn_softcap = 0.0f;        // scores become cap * tanh(s / cap) when > 0
  float final_softcap = 0.0f;       // same for the logits
  std::uint32_t sliding_window = 0; // 0: every layer attends to the whole past
  std::uint32_t sliding_pattern = 0;  // with a window: layer l is global iff l % pattern == pattern - 1
  bool qkv_bias = false, qk_norm = false, post_norms = false, fused_gate_up = false;
  rope_config rope;

  std::uint32_t q_dim() const { return n_heads * head_dim; }
  std::uint32_t kv_dim() const { return n_kv_heads * head_dim; }
  std::uint32_t v_dim() const { return n_kv_heads * head_dim_v; }
  bool is_sliding(std::uint32_t layer) const {
    return sliding_window != 0 && (sliding_pattern == 0 || layer % sliding_pattern < sliding_pattern - 1);
  }
};

namespace detail {

// Upper bounds that keep derived sizes far from overflow; real models are well inside them.
inline constexpr std::uint32_t max_dim = 1u << 20, max_layers = 4096, max_heads = 4096, max_vocab = 1u << 24;

inline expected<std::uint64_t> integer_value(const io::gguf_file& f, const std::string& key) {
  const io::gguf_value* v = f.find(key);
  if (!v) return make_error(errc::out_of_range, "gguf: no metadata key '" + key + "'");
  switch (v->type()) {
    case io::gguf_value_type::uint32: return std::uint64_t{*v->as<std::uint32_t>()};
    case io::gguf_value_type::uint64: return *v->as<std::uint64_t>();
    case io::gguf_value_type::uint16: return std::uint64_t{*v->as<std::uint16_t>()};
    case io::gguf_value_type::int32: {
      const std::int32_t x = *v->as<std::int32_t>();
      if (x < 0) break;
      return static_cast<std::uint64_t>(x);
    }
    case io::gguf_value_type::int64: {
      const std::int64_t x = *v->as<std::int64_t>();
      if (x < 0) break;
      return static_cast<std::uint64_t>(x);
    }
    default:
      return make_error(errc::parse_error, "gguf: key '" + key + "' is " + v->type_name() + ", not an unsigned integer");
  }
  return make_error(errc::parse_error, "gguf: key '" + key + "' is negative");
}

// A count in [lo, hi]; a missing key takes `fallback` when one is given (>= 0).
inline expected<std::uint32_t> count_key(const io::gguf_file& f, const std::string& key, std::uint32_t lo, std::uint32_t hi,
                                         std::int64_t fallback = -1) {
  if (!f.contains(key) && fallback >= 0) return static_cast<std::uint32_t>(fallback);
  TESSERA_ASSIGN_OR_RETURN(const std::uint64_t v, integer_value(f, key));
  if (v < lo || v > hi)
    return make_error(errc::parse_error, "gguf: key '" + key + "' is " + std::to_string(v) + " (expected " + std::to_string(lo) + " to " +
                                             std::to_string(hi) + ")");
  return static_cast<std::uint32_t>(v);
}

inline expected<float> float_key(const io::gguf_file& f, const std::string& key, float fallback, bool required = false) {
  const io::gguf_value* v = f.find(key);
  if (!v) {
    if (required) return make_error(errc::out_of_range, "gguf: no metadata key '" + key + "'");
    return fallback;
  }
  float x = 0;
  if (v->type() == io::gguf_value_type::float32) x = *v->as<float>();
  else if (v->type() == io::gguf_value_type::float64) x = static_cast<float>(*v->as<double>());
  else return make_error(errc::parse_error, "gguf: key '" + key + "' is " + v->type_name() + ", not a float");
  if (!std::isfinite(x)) return make_error(errc::parse_error, "gguf: key '" + key + "' is not finite");
  return x;
}

}  // namespace detail

inline expected<architecture> architecture_of(const io::gguf_file& f) {
  TESSERA_ASSIGN_OR_RETURN(const std::string_view name, f.get<std::string_view>("general.architecture"));
  for (architecture a : {architecture::llama, architecture::qwen2, architecture::gemma3, architecture::phi3})
    if (name == architecture_name(a)) return a;
  return make_error(errc::unsupported, "llm: architecture '" + io::excerpt(name) + "' is not supported (tessera runs llama, qwen2, gemma3, phi3)");
}

// The configuration of a GGUF model; every value checked for range and consistency.
inline expected<model_config> config_from_gguf(const io::gguf_file& f) {
  using detail::count_key;
  using detail::float_key;
  model_config c;
  TESSERA_ASSIGN_OR_RETURN(c.arch, architecture_of(f));
  const std::string a = architecture_name(c.arch);
  const auto key = [&](const char* k) { return a + "." + k; };
  if (f.contains(key("expert_count"))) {
    TESSERA_ASSIGN_OR_RETURN(const std::uint64_t experts, detail::integer_value(f, key("expert_count")));
    if (experts > 0) return make_error(errc::unsupported, "llm: mixture-of-experts models (" + a + ".expert_count " + std::to_string(experts) + ") are not supported");
  }
  TESSERA_ASSIGN_OR_RETURN(c.dim, count_key(f, key("embedding_length"), 1, detail::max_dim));
  TESSERA_ASSIGN_OR_RETURN(c.n_layers, count_key(f, key("block_count"), 1, detail::max_layers));
  TESSERA_ASSIGN_OR_RETURN(c.hidden_dim, count_key(f, key("feed_forward_length"), 1, detail::max_dim));
  if (const io::gguf_value* h = f.find(key("attention.head_count_kv")); h && h->type() == io::gguf_value_type::array)
    return make_error(errc::unsupported, "llm: per-layer KV head counts (" + key("attention.head_count_kv") + " is an array) are not supported");
  TESSERA_ASSIGN_OR_RETURN(c.n_heads, count_key(f, key("attention.head_count"), 1, detail::max_heads));
  TESSERA_ASSIGN_OR_RETURN(c.n_kv_heads, count_key(f, key("attention.head_count_kv"), 1, detail::max_heads, c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    return make_error(errc::parse_error, "llm: " + std::to_string(c.n_heads) + " query heads are not a multiple of " +
                                             std::to_string(c.n_kv_heads) + " KV heads");
  if (c.dim % c.n_heads != 0 && !f.contains(key("attention.key_length")))
    return make_error(errc::parse_error, "llm: embedding_length " + std::to_string(c.dim) + " is not a multiple of " + std::to_string(c.n_heads) +
                                             " heads and no attention.key_length is given");
  TESSERA_ASSIGN_OR_RETURN(c.head_dim, count_key(f, key("attention.key_length"), 2, 1u << 16, c.dim / c.n_heads));
  TESSERA_ASSIGN_OR_RETURN(c.head_dim_v, count_key(f, key("attention.value_length"), 1, 1u << 16, c.head_dim));
  if (c.head_dim < 2 || c.head_dim % 2 != 0) return make_error(errc::parse_error, "llm: head dimension " + std::to_string(c.head_dim) + " is not even");
  if (std::uint64_t{c.n_heads} * c.head_dim > detail::max_dim)
    return make_error(errc::parse_error, "llm: " + std::to_string(c.n_heads) + " heads of " + std::to_string(c.head_dim) + " are too wide");
  TESSERA_ASSIGN_OR_RETURN(c.context_length, count_key(f, key("context_length"), 1, 1u << 30, 2048));
  TESSERA_ASSIGN_OR_RETURN(c.norm_eps, float_key(f, key("attention.layer_norm_rms_epsilon"), 1e-5f, true));
  if (c.norm_eps < 0) return make_error(errc::parse_error, "llm: negative norm epsilon");

  // Vocabulary: the key when present, else the tokenizer's token list (checked against the
  // embedding matrix when the weights are loaded).
  if (f.contains(key("vocab_size"))) {
    TESSERA_ASSIGN_OR_RETURN(c.vocab_size, count_key(f, key("vocab_size"), 1, detail::max_vocab));
  } else if (const io::gguf_value* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->type() == io::gguf_value_type::array) {
    if (tokens->count() == 0 || tokens->count() > detail::max_vocab) return make_error(errc::parse_error, "llm: tokenizer.ggml.tokens has " + std::to_string(tokens->count()) + " entries");
    c.vocab_size = static_cast<std::uint32_t>(tokens->count());
  }  // else: taken from token_embd.weight

  rope_config& r = c.rope;
  r.style = c.arch == architecture::llama ? rope_style::normal : rope_style::neox;
  TESSERA_ASSIGN_OR_RETURN(r.n_rot, count_key(f, key("rope.dimension_count"), 2, c.head_dim, c.head_dim));
  if (r.n_rot % 2 != 0) return make_error(errc::parse_error, "llm: rope.dimension_count " + std::to_string(r.n_rot) + " is odd");
  TESSERA_ASSIGN_OR_RETURN(r.freq_base, float_key(f, key("rope.freq_base"), 10000.0f));
  TESSERA_ASSIGN_OR_RETURN(r.freq_base_sliding, float_key(f, key("rope.freq_base_swa"), 10000.0f));
  if (!(r.freq_base > 1.0f) || !(r.freq_base_sliding > 1.0f)) return make_error(errc::parse_error, "llm: rope.freq_base must be > 1");
  std::string_view scaling = "none";
  if (f.contains(key("rope.scaling.type"))) {
    TESSERA_ASSIGN_OR_RETURN(scaling, f.get<std::string_view>(key("rope.scaling.type")));
  }
  TESSERA_ASSIGN_OR_RETURN(const float factor, float_key(f, key("rope.scaling.factor"), 0.0f));
  if (scaling == "linear") r.scaling = rope_scaling::linear;
  else if (scaling == "yarn") r.scaling = rope_scaling::yarn;
  else if (scaling != "none" && scaling != "longrope")  // LongRoPE works through its factor tensors
    return make_error(errc::unsupported, "llm: rope scaling '" + io::excerpt(scaling) + "' is not supported (none, linear, yarn)");
  if (r.scaling != rope_scaling::none && factor != 0.0f) {
    if (!(factor >= 1.0f)) return make_error(errc::parse_error, "llm: rope.scaling.factor " + std::to_string(factor) + " (expected >= 1)");
    r.freq_scale = 1.0f / factor;
  }
  TESSERA_ASSIGN_OR_RETURN(r.original_context, count_key(f, key("rope.scaling.original_context_length"), 1, 1u << 30, c.context_length));
  TESSERA_ASSIGN_OR_RETURN(r.attn_factor, float_key(f, key("rope.scaling.attn_factor"), 1.0f));
  TESSERA_ASSIGN_OR_RETURN(r.beta_fast, float_key(f, key("rope.scaling.yarn_beta_fast"), 32.0f));
  TESSERA_ASSIGN_OR_RETURN(r.beta_slow, float_key(f, key("rope.scaling.yarn_beta_slow"), 1.0f));

  TESSERA_ASSIGN_OR_RETURN(c.final_softcap, float_key(f, key("final_logit_softcapping"), 0.0f));
  TESSERA_ASSIGN_OR_RETURN(c.attn_softcap, float_key(f, key("attn_logit_softcapping"), 0.0f));
  if (c.final_softcap < 0 || c.attn_softcap < 0) return make_error(errc::parse_error, "llm: negative logit soft-capping");
  c.attention_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

  switch (c.arch) {
    case architecture::llama: break;
    case architecture::qwen2: c.qkv_bias = true; break;
    case architecture::phi3: c.fused_gate_up = true; break;  // fused QKV is optional: seen per layer in the tensors
    case architecture::gemma3:
      c.activation = ffn_activation::gelu_tanh;
      c.embedding_scale = std::sqrt(static_cast<float>(c.dim));
      c.qk_norm = c.post_norms = true;
      if (c.n_layers == 62) c.attention_scale = 1.0f / std::sqrt(static_cast<float>(c.dim / c.n_heads));
      TESSERA_ASSIGN_OR_RETURN(c.sliding_window, count_key(f, key("attention.sliding_window"), 0, 1u << 30, 0));
      if (c.sliding_window != 0) {
        TESSERA_ASSIGN_OR_RETURN(c.sliding_pattern, count_key(f, key("attention.sliding_window_pattern"), 0, detail::max_layers, 6));
      }
      break;
  }
  return c;
}

}  // namespace tessera::llm
