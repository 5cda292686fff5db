// tessera-llm-convert: writes a llama-architecture GGUF (v3, F32 tensors) with tessera's GGUF
// writer from a model exported by scripts/train_tiny_llm.py:
//
//   tessera-llm-convert EXPORT_DIR OUT.gguf
//
// EXPORT_DIR/hparams.json holds the hyper-parameters, the list of tensors and the SentencePiece
// vocabulary (pieces, scores, llama.cpp token types, special ids and flags); EXPORT_DIR/<name>.npy
// holds each tensor under its GGUF name (token_embd.weight, blk.N.attn_q.weight, ...) as float32
// in PyTorch's layout. A PyTorch Linear weight [out, in] is row-major with `in` varying fastest,
// which is ggml's {in, out} (ne[0] fastest): the bytes are copied as they are and only the
// dimension order is reversed. Every shape is checked against what llama.cpp's `llama`
// architecture expects of these hyper-parameters, so a transposed or misnamed tensor is an error
// here rather than a model that loads and computes nonsense. output.weight is optional (tied
// embeddings: llama.cpp and tessera then use token_embd.weight).
#include <tessera/io/file.hpp>
#include <tessera/io/gguf_writer.hpp>
#include <tessera/io/json.hpp>

#include "../common/cli_main.hpp"
#include "npy.hpp"  // tessera-detect's float32 .npy reader

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tessera;

struct llama_hparams {
  std::uint32_t vocab = 0, dim = 0, layers = 0, heads = 0, kv_heads = 0, hidden = 0, context = 0;
  float norm_eps = 0, rope_base = 0;
  std::uint32_t head_dim() const { return dim / heads; }
};

// A tensor the architecture needs, with its numpy (PyTorch) shape: [rows, cols] or [n].
struct tensor_spec {
  std::string name;
  std::vector<std::uint64_t> shape;
};

constexpr std::uint32_t max_width = 1u << 20;  // far above any model this tool is meant for

expected<std::uint32_t> count_field(io::json_ref obj, std::string_view key, std::uint32_t lo, std::uint32_t hi, std::string_view where) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref v, io::require_member(obj, key, where));
  if (!v.is_number()) return io::schema_error(where, "'" + std::string(key) + "' is not a number");
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t n, io::to_integer(v.number(), lo, hi, std::string(where) + " '" + std::string(key) + "'"));
  return static_cast<std::uint32_t>(n);
}

expected<float> positive_float_field(io::json_ref obj, std::string_view key, std::string_view where) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref v, io::require_member(obj, key, where));
  const float x = v.number_f32();
  if (!v.is_number() || !std::isfinite(x) || !(x > 0))
    return io::schema_error(where, "'" + std::string(key) + "' must be a positive finite number");
  return x;
}

expected<bool> bool_field(io::json_ref obj, std::string_view key, std::string_view where) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref v, io::require_member(obj, key, where));
  if (!v.is_boolean()) return io::schema_error(where, "'" + std::string(key) + "' is not true or false");
  return v.boolean();
}

expected<llama_hparams> read_hparams(io::json_ref root) {
  const std::string_view where = "hparams.json hparams";
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref j, io::require_member(root, "hparams", "hparams.json"));
  llama_hparams h;
  TESSERA_ASSIGN_OR_RETURN(h.vocab, count_field(j, "vocab_size", 1, 1u << 24, where));
  TESSERA_ASSIGN_OR_RETURN(h.dim, count_field(j, "dim", 1, max_width, where));
  TESSERA_ASSIGN_OR_RETURN(h.layers, count_field(j, "n_layers", 1, 4096, where));
  TESSERA_ASSIGN_OR_RETURN(h.heads, count_field(j, "n_heads", 1, 4096, where));
  TESSERA_ASSIGN_OR_RETURN(h.kv_heads, count_field(j, "n_kv_heads", 1, 4096, where));
  TESSERA_ASSIGN_OR_RETURN(h.hidden, count_field(j, "hidden_dim", 1, max_width, where));
  TESSERA_ASSIGN_OR_RETURN(h.context, count_field(j, "context_length", 1, 1u << 30, where));
  TESSERA_ASSIGN_OR_RETURN(h.norm_eps, positive_float_field(j, "norm_eps", where));
  TESSERA_ASSIGN_OR_RETURN(h.rope_base, positive_float_field(j, "rope_base", where));
  if (h.dim % h.heads != 0 || h.head_dim() % 2 != 0)
    return io::schema_error(where, "dim " + std::to_string(h.dim) + " is not an even head width times " + std::to_string(h.heads) + " heads");
  if (h.heads % h.kv_heads != 0)
    return io::schema_error(where, std::to_string(h.heads) + " heads are not a multiple of " + std::to_string(h.kv_heads) + " KV heads");
  return h;
}

// llama.cpp's tensors of the llama architecture, in the order llama.cpp's converter writes them.
std::vector<tensor_spec> llama_tensors(const llama_hparams& h, bool with_output) {
  const std::uint64_t d = h.dim, kv = std::uint64_t{h.kv_heads} * h.head_dim(), f = h.hidden;
  std::vector<tensor_spec> t{{"token_embd.weight", {h.vocab, d}}};
  for (std::uint32_t l = 0; l < h.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t.push_back({p + "attn_norm.weight", {d}});
    t.push_back({p + "attn_q.weight", {d, d}});
    t.push_back({p + "attn_k.weight", {kv, d}});
    t.push_back({p + "attn_v.weight", {kv, d}});
    t.push_back({p + "attn_output.weight", {d, d}});
    t.push_back({p + "ffn_norm.weight", {d}});
    t.push_back({p + "ffn_gate.weight", {f, d}});
    t.push_back({p + "ffn_up.weight", {f, d}});
    t.push_back({p + "ffn_down.weight", {d, f}});
  }
  t.push_back({"output_norm.weight", {d}});
  if (with_output) t.push_back({"output.weight", {h.vocab, d}});
  return t;
}

status write_model_metadata(io::gguf_writer& w, const llama_hparams& h, std::string_view name) {
  TESSERA_TRY(w.set("general.architecture", "llama"));
  TESSERA_TRY(w.set("general.name", name));
  TESSERA_TRY(w.set("general.file_type", std::uint32_t{0}));  // llama_ftype ALL_F32
  TESSERA_TRY(w.set("llama.vocab_size", h.vocab));
  TESSERA_TRY(w.set("llama.context_length", h.context));
  TESSERA_TRY(w.set("llama.embedding_length", h.dim));
  TESSERA_TRY(w.set("llama.block_count", h.layers));
  TESSERA_TRY(w.set("llama.feed_forward_length", h.hidden));
  TESSERA_TRY(w.set("llama.attention.head_count", h.heads));
  TESSERA_TRY(w.set("llama.attention.head_count_kv", h.kv_heads));
  TESSERA_TRY(w.set("llama.attention.layer_norm_rms_epsilon", h.norm_eps));
  TESSERA_TRY(w.set("llama.rope.freq_base", h.rope_base));
  TESSERA_TRY(w.set("llama.rope.dimension_count", h.head_dim()));
  return {};
}

// The SentencePiece vocabulary as llama.cpp's converter writes it (tokenizer.ggml.*).
status write_vocabulary(io::gguf_writer& w, io::json_ref root, std::uint32_t vocab) {
  const std::string_view where = "hparams.json tokenizer";
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref tok, io::require_member(root, "tokenizer", "hparams.json"));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref pieces, io::require_member(tok, "pieces", where));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref scores, io::require_member(tok, "scores", where));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref types, io::require_member(tok, "types", where));
  for (const auto& [key, array] : {std::pair{"pieces", pieces}, std::pair{"scores", scores}, std::pair{"types", types}}) {
    TESSERA_ASSIGN_OR_RETURN(const std::size_t n, io::array_size(array, std::string(where) + " " + key));
    if (n != vocab)
      return io::schema_error(where, std::string(key) + " has " + std::to_string(n) + " entries for a vocabulary of " + std::to_string(vocab));
  }
  std::vector<std::string> texts;
  texts.reserve(vocab);
  for (io::json_ref p : pieces.elements()) {
    if (!p.is_string() || p.str().empty())
      return io::schema_error(where, "piece " + std::to_string(texts.size()) + " is not a non-empty string");
    texts.emplace_back(p.str());
  }
  std::vector<float> score(vocab);
  std::vector<std::int32_t> type(vocab);
  for (std::uint32_t i = 0; i < vocab; ++i) {
    TESSERA_ASSIGN_OR_RETURN(score[i], io::array_number_f32(scores, i, std::string(where) + " scores"));
    if (!std::isfinite(score[i])) return io::schema_error(where, "score " + std::to_string(i) + " is not finite");
    // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t t, io::array_integer(types, i, 1, 6, std::string(where) + " types"));
    type[i] = static_cast<std::int32_t>(t);
  }
  TESSERA_TRY(w.set("tokenizer.ggml.model", "llama"));
  TESSERA_TRY(w.set_array("tokenizer.ggml.tokens", std::span<const std::string>(texts)));
  TESSERA_TRY(w.set_array("tokenizer.ggml.scores", std::span<const float>(score)));
  TESSERA_TRY(w.set_array("tokenizer.ggml.token_type", std::span<const std::int32_t>(type)));
  for (const auto& [key, gguf_key] : {std::pair{"bos_id", "tokenizer.ggml.bos_token_id"}, std::pair{"eos_id", "tokenizer.ggml.eos_token_id"},
                                      std::pair{"unk_id", "tokenizer.ggml.unknown_token_id"}}) {
    TESSERA_ASSIGN_OR_RETURN(const std::uint32_t id, count_field(tok, key, 0, vocab - 1, where));
    TESSERA_TRY(w.set(gguf_key, id));
  }
  for (const auto& [key, gguf_key] : {std::pair{"add_bos_token", "tokenizer.ggml.add_bos_token"},
                                      std::pair{"add_eos_token", "tokenizer.ggml.add_eos_token"},
                                      std::pair{"add_space_prefix", "tokenizer.ggml.add_space_prefix"}}) {
    TESSERA_ASSIGN_OR_RETURN(const bool flag, bool_field(tok, key, where));
    TESSERA_TRY(w.set(gguf_key, flag));
  }
  return {};
}

// The tensor list of hparams.json: exactly the architecture's, output.weight optional.
expected<std::vector<tensor_spec>> expected_tensors(io::json_ref root, const llama_hparams& h) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref list, io::require_member(root, "tensors", "hparams.json"));
  TESSERA_ASSIGN_OR_RETURN(const std::size_t n, io::array_size(list, "hparams.json tensors"));
  std::vector<std::string> names;
  names.reserve(n);
  for (io::json_ref e : list.elements()) {
    if (!e.is_string()) return io::schema_error("hparams.json tensors", "element " + std::to_string(names.size()) + " is not a string");
    names.emplace_back(e.str());
  }
  const bool with_output = std::find(names.begin(), names.end(), "output.weight") != names.end();
  std::vector<tensor_spec> specs = llama_tensors(h, with_output);
  for (const std::string& name : names)
    if (std::none_of(specs.begin(), specs.end(), [&](const tensor_spec& s) { return s.name == name; }))
      return io::schema_error("hparams.json tensors", "'" + io::excerpt(name) + "' is not a tensor of this llama model");
  for (const tensor_spec& s : specs)
    if (std::find(names.begin(), names.end(), s.name) == names.end())
      return io::schema_error("hparams.json tensors", "'" + s.name + "' is missing");
  return specs;
}

std::string shape_text(const std::vector<std::uint64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

status add_tensor_from_npy(io::gguf_writer& w, const std::string& dir, const tensor_spec& spec) {
  const std::string path = dir + "/" + spec.name + ".npy";
  TESSERA_ASSIGN_OR_RETURN(const Tensor<float> t, tessera_detect::read_npy_f32(path));
  std::vector<std::uint64_t> shape;
  for (int i = 0; i < t.rank(); ++i) shape.push_back(static_cast<std::uint64_t>(t.dim(i)));
  if (shape != spec.shape)
    return make_error(errc::shape_mismatch, "'" + path + "' is " + shape_text(shape) + ", the model needs " + shape_text(spec.shape) +
                                                " ([out, in] for a matrix, as PyTorch stores a Linear weight)");
  for (std::int64_t i = 0; i < t.size(); ++i)
    if (!std::isfinite(t.data()[i])) return make_error(errc::invalid_argument, "'" + path + "': element " + std::to_string(i) + " is not finite");
  const std::vector<std::uint64_t> dims(shape.rbegin(), shape.rend());  // ggml: ne[0] varies fastest
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(t.data());
  return w.add_tensor(spec.name, io::ggml_type::f32, dims, std::span<const std::uint8_t>(bytes, static_cast<std::size_t>(t.size()) * 4));
}

status convert(const std::string& dir, const std::string& out) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, io::read_file_bytes(dir + "/hparams.json", std::uint64_t{1} << 28));
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto doc = io::parse_json(text);
  if (!doc) return make_error(doc.err().code, "'" + dir + "/hparams.json': " + doc.err().message);
  const io::json_ref root = doc->root();
  TESSERA_ASSIGN_OR_RETURN(const llama_hparams h, read_hparams(root));
  std::string name = "tessera llama";
  if (const io::json_ref n = root.find("name"); n.is_string() && !n.str().empty()) name = std::string(n.str());
  io::gguf_writer w;
  TESSERA_TRY(write_model_metadata(w, h, name));
  TESSERA_TRY(write_vocabulary(w, root, h.vocab));
  TESSERA_ASSIGN_OR_RETURN(const std::vector<tensor_spec> specs, expected_tensors(root, h));
  for (const tensor_spec& spec : specs) TESSERA_TRY(add_tensor_from_npy(w, dir, spec));
  TESSERA_TRY(w.write_file(out));
  std::printf("%s: llama, %u layers, dim %u, %u/%u heads, ffn %u, vocabulary %u, context %u, %zu tensors (F32)\n", out.c_str(), h.layers,
              h.dim, h.heads, h.kv_heads, h.hidden, h.vocab, h.context, specs.size());
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: tessera-llm-convert EXPORT_DIR OUT.gguf\n"
                         "  EXPORT_DIR: hparams.json and one <tensor name>.npy per tensor (scripts/train_tiny_llm.py export)\n");
    return 2;
  }
  return tessera_cli::guarded_main("tessera-llm-convert", [&] {
    if (const status st = convert(argv[1], argv[2]); !st) {
      std::fprintf(stderr, "tessera-llm-convert: %s\n", st.what().c_str());
      return 1;
    }
    return 0;
  });
}
