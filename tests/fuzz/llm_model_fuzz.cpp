// libFuzzer harness for the LLM model loaders (tessera/llm/model.hpp: GGUF through
// config_from_gguf and weights_from_gguf, and llama2.c checkpoints). Every input must either
// fail with an error or give a model whose weight views lie inside the input (or, regrouped,
// in the model's own storage) and agree with its configuration; such a model then runs two
// tokens through a small session (KV cache, attention, every matrix product), which must not
// fail for a valid model.
//
// Built like the other harnesses (tests/fuzz/CMakeLists.txt): always as llm_model_replay over
// tests/fuzz/llm_model_corpus, and as the libFuzzer target llm_model_fuzz under clang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tessera/llm/model.hpp"
#include "tessera/llm/session.hpp"

namespace {

using namespace tessera;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "llm_model_fuzz: %s\n", what);
  std::abort();
}

void require_matrix(const kernels::quant_matrix& m, std::span<const std::uint8_t> input, std::size_t rows, std::size_t cols, const char* what) {
  if (!m.data) return;  // absent optional matrix
  if (m.rows != rows || m.cols != cols) fail(what);
  if (m.row_group != 0) {  // a copy the model regrouped (kernels::regroup) lives in the model's storage
    if (!kernels::regrouping_pays(m.type)) fail("a matrix regrouped that this build does not regroup");
    return;
  }
  const std::uint8_t* end = m.data + m.rows * m.row_bytes;
  if (m.data < input.data() || end > input.data() + input.size()) fail("a matrix lies outside the input");
}

void require_vector(const float* v, std::size_t n, std::span<const std::uint8_t> input) {
  if (!v) return;
  const auto* p = reinterpret_cast<const std::uint8_t*>(v);
  if (p < input.data() || p + n * sizeof(float) > input.data() + input.size()) fail("a vector lies outside the input");
}

void check(const llm::model& m, std::span<const std::uint8_t> input) {
  const llm::model_config& c = m.config();
  const llm::model_weights& w = m.weights();
  if (c.n_heads % c.n_kv_heads != 0 || c.rope.n_rot > c.head_dim || c.rope.n_rot % 2 != 0) fail("inconsistent configuration");
  if (w.layers.size() != c.n_layers) fail("layer count");
  require_matrix(w.token_embd, input, c.vocab_size, c.dim, "token_embd shape");
  require_matrix(w.output, input, c.vocab_size, c.dim, "output shape");
  require_vector(w.output_norm, c.dim, input);
  for (const llm::layer_weights& L : w.layers) {
    require_vector(L.attn_norm, c.dim, input);
    require_vector(L.ffn_norm, c.dim, input);
    require_matrix(L.wq, input, c.q_dim(), c.dim, "wq shape");
    require_matrix(L.wk, input, c.kv_dim(), c.dim, "wk shape");
    require_matrix(L.wv, input, c.v_dim(), c.dim, "wv shape");
    require_matrix(L.wqkv, input, c.q_dim() + c.kv_dim() + c.v_dim(), c.dim, "wqkv shape");
    require_matrix(L.wo, input, c.dim, std::size_t{c.n_heads} * c.head_dim_v, "wo shape");
    require_matrix(L.w_down, input, c.dim, c.hidden_dim, "w_down shape");
    if (!L.wqkv.data && !L.wq.data) fail("no query weights");
  }
  runtime::thread_pool pool(1);
  llm::session_options opts;
  opts.context = 4;
  opts.batch = 2;
  opts.pool = &pool;
  auto s = llm::session::create(m, opts);
  if (!s.ok()) {
    if (s.err().code != errc::out_of_memory) fail("a session of a valid model could not be created");
    return;
  }
  const std::int32_t tokens[2] = {0, static_cast<std::int32_t>(c.vocab_size - 1)};
  if (!s->decode(tokens).ok()) fail("a valid model failed to decode");
  const std::int32_t next = 0;
  if (!s->decode(std::span<const std::int32_t>(&next, 1)).ok()) fail("a valid model failed to decode a second time");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An owned, aligned copy: the loader requires 4-byte aligned f32 tensors.
  std::vector<std::uint8_t> bytes(data, data + size);
  const std::span<const std::uint8_t> input(bytes);
  const bool gguf = size >= 4 && std::memcmp(data, "GGUF", 4) == 0;
  auto m = gguf ? llm::model::view_bytes(input) : llm::model::llama2c_from_bytes(bytes);
  if (!m.ok()) {
    if (m.err().message.empty()) fail("an error without a message");
    return 0;
  }
  check(*m, gguf ? input : m->bytes());
  return 0;
}
