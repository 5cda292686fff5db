// A small random-weight llama that reads and writes text: the weights of
// llm::random_model_gguf with the vocabulary of tests/llm/tokenizer_data/spm_bytes.gguf (a
// SentencePiece BPE trained by scripts/make_tokenizer_fixtures.py: 700 tokens, byte fallback,
// <|im_start|> and <|im_end|> control tokens) and a ChatML chat template. It lets the layers
// above the model (the WebAssembly ABI, the JS package, the browser demo) be tested with text,
// chats and stop strings without third-party files.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <tessera/core/error.hpp>
#include <tessera/io/gguf.hpp>
#include <tessera/io/gguf_writer.hpp>
#include <tessera/llm/gguf_export.hpp>

namespace tessera_test {

struct llm_test_model_options {
  std::uint32_t dim = 64, layers = 2, heads = 4, kv_heads = 2, hidden = 128, context = 256;
  tessera::dtype weights = tessera::dtype::q8_0;
  std::uint64_t seed = 7;
};

inline constexpr std::string_view chatml_jinja =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// The model's GGUF bytes; `vocabulary` is a GGUF file whose tokenizer.* metadata it takes.
inline tessera::expected<std::vector<std::uint8_t>> llm_test_model(std::span<const std::uint8_t> vocabulary,
                                                                   const llm_test_model_options& o = {}) {
  using namespace tessera;
  TESSERA_ASSIGN_OR_RETURN(const io::gguf_file vocab, io::gguf_file::parse(vocabulary));
  const io::gguf_value* tokens = vocab.find("tokenizer.ggml.tokens");
  if (!tokens) return make_error(errc::parse_error, "vocabulary: no tokenizer.ggml.tokens");
  llm::random_model_spec s;
  s.vocab = static_cast<std::uint32_t>(tokens->count());
  s.dim = o.dim;
  s.layers = o.layers;
  s.heads = o.heads;
  s.kv_heads = o.kv_heads;
  s.hidden = o.hidden;
  s.context = o.context;
  s.weights = s.embeddings = s.output = o.weights;
  s.seed = o.seed;
  s.vocabulary = false;
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> weights, llm::random_model_gguf(s));
  TESSERA_ASSIGN_OR_RETURN(const io::gguf_file model, io::gguf_file::parse(weights));
  io::gguf_writer w;
  for (const io::gguf_kv& kv : model.metadata()) TESSERA_TRY(w.set_value(kv.key, io::gguf_encode(kv.value)));
  for (const io::gguf_kv& kv : vocab.metadata())
    if (kv.key.starts_with("tokenizer.") && kv.key != "tokenizer.chat_template") TESSERA_TRY(w.set_value(kv.key, io::gguf_encode(kv.value)));
  TESSERA_TRY(w.set("tokenizer.chat_template", chatml_jinja));
  for (const io::gguf_tensor& t : model.tensors()) TESSERA_TRY(w.add_tensor(t.name, t.type, t.shape(), t.data));
  return w.serialize();
}

}  // namespace tessera_test
