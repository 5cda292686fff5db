// A loaded model: its bytes (a mapped file, an owned buffer, or memory the caller keeps alive),
// the GGUF view of them, the configuration and the weights as views. Once loaded it is never
// modified, so one model serves any number of sessions on any threads.
//
//   auto m = llm::model::load("model.gguf");            // mmap natively, one read under WASM
//   auto m = llm::model::from_bytes(std::move(buffer));   // bytes a WASM page passed in
//   auto m = llm::model::load_llama2c("stories15M.bin");  // llama2.c checkpoints (f32)
//
// Where this build's kernels read weight rows in groups (x86: Q4_0, Q4_K, Q5_K, Q6_K and
// Q8_0 matrices; WASM: every quantized format; see kernels::regroup), loading lays those
// matrices out in groups, unless load_options says not to: generation then runs 1.2-2x
// faster, for about 10 ms per 60 MB. x86 copies them (the mapped file's pages of them are
// given back, so memory holds them once); WASM regroups them in the bytes the model owns (a
// file read into memory, from_bytes' buffer) and copies only from bytes it views.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>
#include <tessera/io/gguf.hpp>
#include <tessera/io/mapped_file.hpp>
#include <tessera/kernels/quant.hpp>
#include <tessera/llm/config.hpp>
#include <tessera/llm/weights.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tessera::llm {

struct load_options {
  bool regroup = true;  // the matrices of the types kernels::regrouping_pays, copied into groups
};

class model {
 public:
  // A GGUF file, mapped (natively) or read into aligned memory (Emscripten).
  static expected<model> load(const std::string& path, const load_options& options = {}) {
    TESSERA_ASSIGN_OR_RETURN(io::mapped_file file, io::mapped_file::open(path));
    model m;
    m.file_ = std::make_unique<io::mapped_file>(std::move(file));
    m.writable_ = m.file_->copy_bytes();
    auto r = m.init_gguf(m.file_->bytes(), options);
    if (!r.ok()) return make_error(r.code(), "'" + path + "': " + r.message());
    return m;
  }
  // GGUF bytes the model keeps (moved in). A std::vector's memory is aligned enough for the
  // f32 tensors (GGUF aligns each tensor's offset).
  static expected<model> from_bytes(std::vector<std::uint8_t> bytes, const load_options& options = {}) {
    model m;
    m.owned_ = std::make_unique<std::vector<std::uint8_t>>(std::move(bytes));
    m.writable_ = *m.owned_;
    TESSERA_TRY(m.init_gguf(*m.owned_, options));
    return m;
  }
  // GGUF bytes the caller keeps alive and unchanged for the model's life.
  static expected<model> view_bytes(std::span<const std::uint8_t> bytes, const load_options& options = {}) {
    model m;
    TESSERA_TRY(m.init_gguf(bytes, options));
    return m;
  }

  // A llama2.c checkpoint (karpathy/llama2.c run.c's format): seven int32 (dim, hidden_dim,
  // n_layers, n_heads, n_kv_heads, vocab_size (negative: separate classifier), seq_len), then
  // f32 arrays: token embeddings, per-layer attention norms, wq, wk, wv, wo, FFN norms, w1, w2,
  // w3, the final norm, two unused RoPE tables, and the classifier when not shared.
  static expected<model> load_llama2c(const std::string& path) {
    TESSERA_ASSIGN_OR_RETURN(io::mapped_file file, io::mapped_file::open(path));
    model m;
    m.file_ = std::make_unique<io::mapped_file>(std::move(file));
    auto r = m.init_llama2c(m.file_->bytes());
    if (!r.ok()) return make_error(r.code(), "'" + path + "': " + r.message());
    return m;
  }
  static expected<model> llama2c_from_bytes(std::vector<std::uint8_t> bytes) {
    model m;
    m.owned_ = std::make_unique<std::vector<std::uint8_t>>(std::move(bytes));
    TESSERA_TRY(m.init_llama2c(*m.owned_));
    return m;
  }

  const model_config& config() const { return config_; }
  const model_weights& weights() const { return weights_; }
  // The GGUF metadata (tokenizer, chat template, ...); nullptr for a llama2.c checkpoint.
  const io::gguf_file* gguf() const { return gguf_ ? &*gguf_ : nullptr; }
  std::span<const std::uint8_t> bytes() const { return bytes_; }

  // Bytes of the matrices one decode step multiplies (every layer's and the output's): the
  // weights generation streams from memory per token.
  std::uint64_t matrix_bytes_per_token() const {
    const auto size = [](const kernels::quant_matrix& m) { return std::uint64_t{m.rows} * m.row_bytes; };
    std::uint64_t total = size(weights_.output);
    for (const layer_weights& L : weights_.layers)
      total += size(L.wq) + size(L.wk) + size(L.wv) + size(L.wqkv) + size(L.wo) + size(L.w_gate) + size(L.w_up) + size(L.w_down);
    return total;
  }
  // Parameters of those matrices (2 flops each per token).
  std::uint64_t matrix_params_per_token() const {
    const auto count = [](const kernels::quant_matrix& m) { return std::uint64_t{m.rows} * m.cols; };
    std::uint64_t total = count(weights_.output);
    for (const layer_weights& L : weights_.layers)
      total += count(L.wq) + count(L.wk) + count(L.wv) + count(L.wqkv) + count(L.wo) + count(L.w_gate) + count(L.w_up) + count(L.w_down);
    return total;
  }

 private:
  status init_gguf(std::span<const std::uint8_t> bytes, const load_options& options) {
    bytes_ = bytes;
    TESSERA_ASSIGN_OR_RETURN(io::gguf_file parsed, io::gguf_file::parse(bytes));
    gguf_.emplace(std::move(parsed));
    TESSERA_ASSIGN_OR_RETURN(config_, config_from_gguf(*gguf_));
    TESSERA_ASSIGN_OR_RETURN(weights_, weights_from_gguf(*gguf_, config_));
    if (options.regroup) TESSERA_TRY(regroup_matrices());
    return {};
  }

  // The multiplied matrices (not the embeddings' lookup rows: a tied output gets its own copy).
  status regroup_matrices() {
    const auto regroup = [&](kernels::quant_matrix& m) -> status {
      if (!m.data || !kernels::regrouping_pays(m.type)) return {};
      const std::size_t size = m.rows * m.row_bytes;
      const bool own = !writable_.empty() && m.data >= writable_.data() && size <= writable_.size() &&
                       static_cast<std::size_t>(m.data - writable_.data()) <= writable_.size() - size;
      if (own && kernels::regroups_in_place(m.type) && m.data != weights_.token_embd.data)
        return kernels::regroup_in_place(m, writable_.subspan(static_cast<std::size_t>(m.data - writable_.data()), size));
      TESSERA_ASSIGN_OR_RETURN(kernels::regrouped_matrix r, kernels::regroup(m));
      // The file's copy is not read again (unless it is also the embeddings' table).
      if (file_ && m.data != weights_.token_embd.data) file_->drop_pages({m.data, m.rows * m.row_bytes});
      m = r.matrix;
      regrouped_.push_back(std::move(r.storage));
      return {};
    };
    TESSERA_TRY(regroup(weights_.output));
    for (layer_weights& L : weights_.layers)
      for (kernels::quant_matrix* m : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) TESSERA_TRY(regroup(*m));
    return {};
  }

  status init_llama2c(std::span<const std::uint8_t> bytes) {
    bytes_ = bytes;
    const auto fail = [](const std::string& what) { return make_error(errc::parse_error, "llama2.c checkpoint: " + what); };
    if (bytes.size() < 28) return fail("shorter than its 28-byte header");
    std::int32_t h[7];
    std::memcpy(h, bytes.data(), sizeof h);
    const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    const bool shared = h[5] > 0;
    if (h[5] < 0 && h[5] >= -(1 << 24)) h[5] = -h[5];  // in range first: -INT_MIN overflows
    for (int i = 0; i < 7; ++i)
      if (h[i] <= 0 || h[i] > (1 << 24)) return fail(std::string(names[i]) + " is " + std::to_string(h[i]));
    model_config& c = config_;
    c.arch = architecture::llama;
    c.dim = static_cast<std::uint32_t>(h[0]);
    c.hidden_dim = static_cast<std::uint32_t>(h[1]);
    c.n_layers = static_cast<std::uint32_t>(h[2]);
    c.n_heads = static_cast<std::uint32_t>(h[3]);
    c.n_kv_heads = static_cast<std::uint32_t>(h[4]);
    c.vocab_size = static_cast<std::uint32_t>(h[5]);
    c.context_length = static_cast<std::uint32_t>(h[6]);
    if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || (c.dim / c.n_heads) % 2 != 0)
      return fail("dim " + std::to_string(c.dim) + ", " + std::to_string(c.n_heads) + " heads and " + std::to_string(c.n_kv_heads) +
                  " KV heads do not fit together");
    c.head_dim = c.head_dim_v = c.dim / c.n_heads;
    c.norm_eps = 1e-5f;
    c.attention_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    c.rope = rope_config{};
    c.rope.n_rot = c.head_dim;
    c.rope.original_context = c.context_length;

    // Every array's size, checked against the file before any view is made.
    const std::uint64_t dim = c.dim, hidden = c.hidden_dim, layers = c.n_layers, vocab = c.vocab_size, kv = c.kv_dim();
    std::uint64_t offset = 28;
    const std::uint64_t size = bytes.size();
    const auto take = [&](std::uint64_t floats, const char* what) -> expected<std::span<const std::uint8_t>> {
      if (floats > (size - offset) / 4)
        return fail(std::string(what) + ": " + std::to_string(floats) + " floats at byte " + std::to_string(offset) + " run past the " +
                    std::to_string(size) + "-byte file");
      auto s = bytes.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(floats * 4));
      offset += floats * 4;
      return s;
    };
    const auto matrices = [&](std::uint64_t rows, std::uint64_t cols, const char* what) -> expected<std::vector<kernels::quant_matrix>> {
      TESSERA_ASSIGN_OR_RETURN(auto all, take(layers * rows * cols, what));
      std::vector<kernels::quant_matrix> out;
      for (std::uint64_t l = 0; l < layers; ++l) {
        TESSERA_ASSIGN_OR_RETURN(auto m, kernels::make_quant_matrix(dtype::f32, rows, cols, all.subspan(l * rows * cols * 4, rows * cols * 4)));
        out.push_back(m);
      }
      return out;
    };
    const auto vectors = [&](std::uint64_t n, const char* what) -> expected<const float*> {
      TESSERA_ASSIGN_OR_RETURN(auto s, take(layers * n, what));
      return reinterpret_cast<const float*>(s.data());
    };
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(float) != 0) return fail("bytes are not 4-byte aligned");
    model_weights& w = weights_;
    TESSERA_ASSIGN_OR_RETURN(auto embd, take(vocab * dim, "token embeddings"));
    TESSERA_ASSIGN_OR_RETURN(w.token_embd, kernels::make_quant_matrix(dtype::f32, vocab, dim, embd));
    TESSERA_ASSIGN_OR_RETURN(const float* attn_norms, vectors(dim, "attention norms"));
    TESSERA_ASSIGN_OR_RETURN(auto wq, matrices(dim, dim, "wq"));
    TESSERA_ASSIGN_OR_RETURN(auto wk, matrices(kv, dim, "wk"));
    TESSERA_ASSIGN_OR_RETURN(auto wv, matrices(kv, dim, "wv"));
    TESSERA_ASSIGN_OR_RETURN(auto wo, matrices(dim, dim, "wo"));
    TESSERA_ASSIGN_OR_RETURN(const float* ffn_norms, vectors(dim, "FFN norms"));
    TESSERA_ASSIGN_OR_RETURN(auto w1, matrices(hidden, dim, "w1"));
    TESSERA_ASSIGN_OR_RETURN(auto w2, matrices(dim, hidden, "w2"));
    TESSERA_ASSIGN_OR_RETURN(auto w3, matrices(hidden, dim, "w3"));
    TESSERA_ASSIGN_OR_RETURN(auto final_norm, take(dim, "final norm"));
    w.output_norm = reinterpret_cast<const float*>(final_norm.data());
    TESSERA_TRY(take(std::uint64_t{c.context_length} * c.head_dim, "RoPE tables").as_status());  // cos and sin, unused
    w.tied_embeddings = shared;
    if (shared) {
      w.output = w.token_embd;
    } else {
      TESSERA_ASSIGN_OR_RETURN(auto cls, take(vocab * dim, "classifier"));
      TESSERA_ASSIGN_OR_RETURN(w.output, kernels::make_quant_matrix(dtype::f32, vocab, dim, cls));
    }
    w.layers.resize(c.n_layers);
    for (std::uint32_t l = 0; l < c.n_layers; ++l) {
      layer_weights& L = w.layers[l];
      L.attn_norm = attn_norms + std::uint64_t{l} * dim;
      L.ffn_norm = ffn_norms + std::uint64_t{l} * dim;
      L.wq = wq[l];
      L.wk = wk[l];
      L.wv = wv[l];
      L.wo = wo[l];
      L.w_gate = w1[l];
      L.w_down = w2[l];
      L.w_up = w3[l];
    }
    return {};
  }

  std::unique_ptr<io::mapped_file> file_;
  std::unique_ptr<std::vector<std::uint8_t>> owned_;
  std::span<const std::uint8_t> bytes_;
  std::optional<io::gguf_file> gguf_;
  model_config config_;
  model_weights weights_;
  std::vector<aligned_buffer<std::uint8_t>> regrouped_;  // the storage of regrouped matrices
  std::span<std::uint8_t> writable_;  // the bytes, where the model owns them (owned_ or file_'s copy)
};

}  // namespace tessera::llm
