// A transformer's weights as views into the model file's bytes (not copied; llm::model may
// then regroup some matrices for this build's kernels, see kernels::regroup): matrices as
// kernels::quant_matrix in their stored type, norm weights and biases as f32 vectors. Every
// tensor's type and shape is checked against the configuration, so a forward pass can index
// them without further checks.
//
// GGUF names (llama.cpp's): token_embd, output_norm, output (absent: tied to token_embd),
// blk.N.{attn_norm, attn_q, attn_k, attn_v | attn_qkv, attn_output, attn_q_norm, attn_k_norm,
// post_attention_norm, ffn_norm, ffn_gate, ffn_up, ffn_down, post_ffw_norm}.weight, biases
// blk.N.attn_{q,k,v,output}.bias, and rope_freqs / rope_factors_{short,long}.weight.
#pragma once

#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/io/gguf.hpp>
#include <tessera/kernels/quant.hpp>
#include <tessera/llm/config.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera::llm {

struct layer_weights {
  const float* attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  const float* attn_post_norm = nullptr;  // Gemma 3
  const float* ffn_post_norm = nullptr;   // Gemma 3
  const float* q_norm = nullptr;          // per head, Gemma 3
  const float* k_norm = nullptr;
  kernels::quant_matrix wq, wk, wv;       // or one wqkv (Phi-3): rows q_dim + kv_dim + v_dim
  kernels::quant_matrix wqkv;
  const float* bq = nullptr;  // biases, when the model has them (Qwen2)
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* bo = nullptr;
  kernels::quant_matrix wo;
  kernels::quant_matrix w_gate, w_up, w_down;  // fused (Phi-3): w_up has 2 * hidden rows, gate first
};

struct model_weights {
  kernels::quant_matrix token_embd;  // vocab rows of dim
  kernels::quant_matrix output;      // the same matrix when tied
  bool tied_embeddings = false;
  const float* output_norm = nullptr;
  const float* rope_factors = nullptr;  // n_rot / 2 divisors of the rotation frequencies
  std::vector<layer_weights> layers;
};

// The tessera dtype of a ggml tensor type that can be a weight, or nothing.
inline std::optional<dtype> weight_dtype(io::ggml_type t) {
  switch (t) {
    case io::ggml_type::f32: return dtype::f32;
    case io::ggml_type::f16: return dtype::f16;
    case io::ggml_type::bf16: return dtype::bf16;
    case io::ggml_type::q8_0: return dtype::q8_0;
    case io::ggml_type::q4_0: return dtype::q4_0;
    case io::ggml_type::q4_1: return dtype::q4_1;
    case io::ggml_type::q5_0: return dtype::q5_0;
    case io::ggml_type::q5_1: return dtype::q5_1;
    case io::ggml_type::q4_k: return dtype::q4_k;
    case io::ggml_type::q5_k: return dtype::q5_k;
    case io::ggml_type::q6_k: return dtype::q6_k;
    default: return std::nullopt;
  }
}

namespace detail {

class weight_reader {
 public:
  explicit weight_reader(const io::gguf_file& f) : f_(f) {}

  // A rows x cols matrix (ggml dims [cols, rows]); a missing optional one is an empty matrix.
  expected<kernels::quant_matrix> matrix(const std::string& name, std::uint64_t rows, std::uint64_t cols, bool required = true) const {
    const io::gguf_tensor* t = f_.find_tensor(name);
    if (!t) {
      if (!required) return kernels::quant_matrix{};
      return make_error(errc::parse_error, "llm: missing tensor '" + name + "'");
    }
    const std::optional<dtype> type = weight_dtype(t->type);
    if (!type) return make_error(errc::unsupported, "llm: tensor '" + name + "' has type " + t->type_name() + ", which tessera cannot multiply");
    if (t->n_dims != 2 || t->dims[0] != cols || t->dims[1] != rows)
      return make_error(errc::shape_mismatch, "llm: tensor '" + name + "' is " + shape_text(*t) + ", expected [" + std::to_string(cols) +
                                                  ", " + std::to_string(rows) + "] for this configuration");
    auto m = kernels::make_quant_matrix(*type, static_cast<std::size_t>(rows), static_cast<std::size_t>(cols), t->data);
    if (!m.ok()) return make_error(m.err().code, "llm: tensor '" + name + "': " + m.err().message);
    return *m;
  }

  // An f32 vector of n values; nullptr when optional and absent.
  expected<const float*> vector(const std::string& name, std::uint64_t n, bool required = true) const {
    const io::gguf_tensor* t = f_.find_tensor(name);
    if (!t) {
      if (!required) return static_cast<const float*>(nullptr);
      return make_error(errc::parse_error, "llm: missing tensor '" + name + "'");
    }
    if (t->type != io::ggml_type::f32)
      return make_error(errc::unsupported, "llm: tensor '" + name + "' has type " + t->type_name() + ", expected f32");
    if (t->n_dims != 1 || t->dims[0] != n)
      return make_error(errc::shape_mismatch, "llm: tensor '" + name + "' is " + shape_text(*t) + ", expected [" + std::to_string(n) + "]");
    if (reinterpret_cast<std::uintptr_t>(t->data.data()) % alignof(float) != 0)
      return make_error(errc::invalid_argument, "llm: tensor '" + name + "' is not 4-byte aligned in memory (load the file into aligned memory)");
    return reinterpret_cast<const float*>(t->data.data());
  }

  static std::string shape_text(const io::gguf_tensor& t) {
    std::string s = "[";
    for (std::uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.dims[d]);
    return s + "]";
  }

 private:
  const io::gguf_file& f_;
};

}  // namespace detail

// The weights of a GGUF model of configuration c (c.vocab_size is taken from token_embd when
// the metadata gives none).
inline expected<model_weights> weights_from_gguf(const io::gguf_file& f, model_config& c) {
  const detail::weight_reader r(f);
  model_weights w;
  const io::gguf_tensor* embd = f.find_tensor("token_embd.weight");
  if (!embd) return make_error(errc::parse_error, "llm: missing tensor 'token_embd.weight'");
  if (c.vocab_size == 0) {
    if (embd->n_dims != 2 || embd->dims[1] == 0 || embd->dims[1] > detail::max_vocab)
      return make_error(errc::parse_error, "llm: token_embd.weight is " + detail::weight_reader::shape_text(*embd) + ", which gives no vocabulary size");
    c.vocab_size = static_cast<std::uint32_t>(embd->dims[1]);
  }
  TESSERA_ASSIGN_OR_RETURN(w.token_embd, r.matrix("token_embd.weight", c.vocab_size, c.dim));
  TESSERA_ASSIGN_OR_RETURN(w.output_norm, r.vector("output_norm.weight", c.dim));
  TESSERA_ASSIGN_OR_RETURN(w.output, r.matrix("output.weight", c.vocab_size, c.dim, false));
  w.tied_embeddings = w.output.data == nullptr;
  if (w.tied_embeddings) w.output = w.token_embd;

  const std::uint32_t half_rot = c.rope.n_rot / 2;
  const char* factors = c.arch == architecture::phi3 ? "rope_factors_short.weight" : "rope_freqs.weight";
  // Phi-3 LongRoPE: the short factors serve contexts up to the trained one (tessera's sessions
  // stay within it); llama3: one set of frequency factors.
  TESSERA_ASSIGN_OR_RETURN(w.rope_factors, r.vector(factors, half_rot, false));

  const std::uint64_t dim = c.dim, q = c.q_dim(), kv = c.kv_dim(), v = c.v_dim(), hidden = c.hidden_dim;
  w.layers.resize(c.n_layers);
  for (std::uint32_t l = 0; l < c.n_layers; ++l) {
    layer_weights& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    TESSERA_ASSIGN_OR_RETURN(L.attn_norm, r.vector(p + "attn_norm.weight", dim));
    TESSERA_ASSIGN_OR_RETURN(L.ffn_norm, r.vector(p + "ffn_norm.weight", dim));
    // Q, K and V as one matrix (Phi-3 converts so) or three.
    if (f.find_tensor(p + "attn_qkv.weight")) {
      TESSERA_ASSIGN_OR_RETURN(L.wqkv, r.matrix(p + "attn_qkv.weight", q + kv + v, dim));
    } else {
      if (!f.find_tensor(p + "attn_q.weight"))
        return make_error(errc::parse_error, "llm: missing tensor '" + p + "attn_q.weight' (or '" + p + "attn_qkv.weight')");
      TESSERA_ASSIGN_OR_RETURN(L.wq, r.matrix(p + "attn_q.weight", q, dim));
      TESSERA_ASSIGN_OR_RETURN(L.wk, r.matrix(p + "attn_k.weight", kv, dim));
      TESSERA_ASSIGN_OR_RETURN(L.wv, r.matrix(p + "attn_v.weight", v, dim));
      TESSERA_ASSIGN_OR_RETURN(L.bq, r.vector(p + "attn_q.bias", q, c.qkv_bias));
      TESSERA_ASSIGN_OR_RETURN(L.bk, r.vector(p + "attn_k.bias", kv, c.qkv_bias));
      TESSERA_ASSIGN_OR_RETURN(L.bv, r.vector(p + "attn_v.bias", v, c.qkv_bias));
    }
    TESSERA_ASSIGN_OR_RETURN(L.wo, r.matrix(p + "attn_output.weight", dim, c.n_heads * std::uint64_t{c.head_dim_v}));
    TESSERA_ASSIGN_OR_RETURN(L.bo, r.vector(p + "attn_output.bias", dim, false));
    if (c.qk_norm) {
      TESSERA_ASSIGN_OR_RETURN(L.q_norm, r.vector(p + "attn_q_norm.weight", c.head_dim));
      TESSERA_ASSIGN_OR_RETURN(L.k_norm, r.vector(p + "attn_k_norm.weight", c.head_dim));
    }
    if (c.post_norms) {
      TESSERA_ASSIGN_OR_RETURN(L.attn_post_norm, r.vector(p + "post_attention_norm.weight", dim));
      TESSERA_ASSIGN_OR_RETURN(L.ffn_post_norm, r.vector(p + "post_ffw_norm.weight", dim));
    }
    if (c.fused_gate_up) {
      TESSERA_ASSIGN_OR_RETURN(L.w_up, r.matrix(p + "ffn_up.weight", 2 * hidden, dim));
    } else {
      TESSERA_ASSIGN_OR_RETURN(L.w_gate, r.matrix(p + "ffn_gate.weight", hidden, dim));
      TESSERA_ASSIGN_OR_RETURN(L.w_up, r.matrix(p + "ffn_up.weight", hidden, dim));
    }
    TESSERA_ASSIGN_OR_RETURN(L.w_down, r.matrix(p + "ffn_down.weight", dim, hidden));
  }
  return w;
}

}  // namespace tessera::llm
