// tessera-llm: LLM inference from one GGUF file (or a llama2.c checkpoint), natively or under
// Node.
//
//   tessera-llm generate --model M.gguf --prompt-ids "1 2 3" [-n N] [--seed S] [--threads N]
//                        [--context C] [--kv f32|f16] --print-token-ids
//   tessera-llm info --model M.gguf
//   tessera-llm bench --model M.gguf [-p 128] [-n 128] [--threads N] [--reps R]
//   tessera-llm make-bench-models [--out DIR] [--types f16,q8_0,q4_0,q4_k]
//
// generate picks greedily (the sampler and the text prompt come with the tokenizer); --seed is
// accepted for the sampler. A .bin model is read as a llama2.c checkpoint. make-bench-models
// writes the benchmark's random-weight llama (dim 768, 12 layers, 12 heads, FFN 2048,
// vocabulary 32000: 110M parameters in its layers and output) once per weight type.
#include <tessera/llm.hpp>
#include <tessera/llm/gguf_export.hpp>

#include "memory_bandwidth.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace tessera;

int fail(const std::string& msg) {
  std::fprintf(stderr, "tessera-llm: %s\n", msg.c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  tessera-llm generate --model M.gguf --prompt-ids \"1 2 3\" [-n N] [--seed S] [--threads N]\n"
               "                       [--context C] [--kv f32|f16] --print-token-ids\n"
               "  tessera-llm info --model M.gguf\n"
               "  tessera-llm bench --model M.gguf [-p 128] [-n 128] [--threads N] [--reps R]\n"
               "  tessera-llm make-bench-models [--out DIR] [--types f16,q8_0,q4_0,q4_k]\n");
  return 2;
}

struct args {
  std::map<std::string, std::string> kv;
  bool print_ids = false;
  bool has(const std::string& k) const { return kv.count(k) != 0; }
  std::string get(const std::string& k, const std::string& d = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? d : it->second;
  }
};

bool parse_args(int argc, char** argv, args& a, std::string& err) {
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--print-token-ids") { a.print_ids = true; continue; }
    if (s == "-n") s = "--n";
    if (s == "-p") s = "--p";
    if (s.rfind("--", 0) != 0 || i + 1 >= argc) { err = "unexpected argument '" + s + "'"; return false; }
    a.kv[s.substr(2)] = argv[++i];
  }
  return true;
}

// A non-negative integer option, or an error naming it.
expected<std::uint64_t> number(const args& a, const std::string& key, std::uint64_t fallback, std::uint64_t max) {
  if (!a.has(key)) return fallback;
  const std::string v = a.get(key);
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || v[0] == '-' || x > max)
    return make_error(errc::invalid_argument, "--" + key + " '" + v + "' is not an integer in 0.." + std::to_string(max));
  return static_cast<std::uint64_t>(x);
}

expected<llm::model> load(const std::string& path) {
  if (path.ends_with(".bin")) return llm::model::load_llama2c(path);
  return llm::model::load(path);
}

expected<std::vector<std::int32_t>> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',' || text[i] == '\t')) ++i;
    if (i == text.size()) break;
    std::size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == i || j - i > 9) return make_error(errc::invalid_argument, "--prompt-ids: '" + text.substr(i, 12) + "' is not a token id");
    ids.push_back(std::atoi(text.substr(i, j - i).c_str()));
    i = j;
  }
  if (ids.empty()) return make_error(errc::invalid_argument, "--prompt-ids holds no ids");
  return ids;
}

int cmd_generate(const args& a) {
  if (!a.has("model") || !a.has("prompt-ids")) return usage();
  auto n = number(a, "n", 32, 1u << 20);
  auto threads = number(a, "threads", 1, 1024);
  auto context = number(a, "context", 0, 1u << 24);
  auto seed = number(a, "seed", 0, ~0ull);  // for the sampler that replaces greedy picking
  if (!n || !threads || !context || !seed) return fail((!n ? n : !threads ? threads : !context ? context : seed).what());
  auto ids = parse_ids(a.get("prompt-ids"));
  if (!ids) return fail(ids.what());
  auto m = load(a.get("model"));
  if (!m) return fail(m.what());
  runtime::thread_pool pool(*threads);
  llm::session_options opts;
  opts.pool = &pool;
  opts.context = static_cast<std::uint32_t>(*context);
  if (a.get("kv", "f32") == "f16") opts.kv_type = llm::kv_cache_type::f16;
  else if (a.get("kv", "f32") != "f32") return fail("--kv must be f32 or f16");
  auto s = llm::session::create(*m, opts);
  if (!s) return fail(s.what());
  llm::generate_options g;
  g.max_tokens = static_cast<std::uint32_t>(*n);
  bool first = true;
  auto r = llm::generate(*s, *ids, g, llm::greedy, [&](std::int32_t id) {
    if (a.print_ids) {
      std::printf("%s%d", first ? "" : " ", id);
      first = false;
      std::fflush(stdout);
    }
    return true;
  });
  if (a.print_ids) std::printf("\n");
  if (!r) return fail(r.what());
  if (r->context_full) std::fprintf(stderr, "tessera-llm: stopped: the context of %u positions is full\n", s->context());
  return 0;
}

int cmd_info(const args& a) {
  if (!a.has("model")) return usage();
  auto m = load(a.get("model"));
  if (!m) return fail(m.what());
  const llm::model_config& c = m->config();
  std::printf("architecture      %s\n", llm::architecture_name(c.arch));
  std::printf("layers            %u\n", c.n_layers);
  std::printf("embedding         %u\n", c.dim);
  std::printf("heads             %u (KV heads %u, head dim %u)\n", c.n_heads, c.n_kv_heads, c.head_dim);
  std::printf("feed-forward      %u (%s)\n", c.hidden_dim, c.activation == llm::ffn_activation::silu ? "SwiGLU" : "GeGLU");
  std::printf("vocabulary        %u\n", c.vocab_size);
  std::printf("context           %u\n", c.context_length);
  std::printf("rope              %s, %u dims, base %g%s\n", c.rope.style == llm::rope_style::normal ? "normal" : "neox", c.rope.n_rot,
              c.rope.freq_base, c.rope.scaling == llm::rope_scaling::none ? "" : c.rope.scaling == llm::rope_scaling::linear ? ", linear scaling" : ", yarn");
  if (c.sliding_window) std::printf("sliding window    %u (every %u-th layer global)\n", c.sliding_window, c.sliding_pattern);
  std::printf("tied embeddings   %s\n", m->weights().tied_embeddings ? "yes" : "no");
  std::printf("weights per token %.1f MB in %.1f M parameters\n", m->matrix_bytes_per_token() / 1e6, m->matrix_params_per_token() / 1e6);
  if (const io::gguf_file* f = m->gguf()) {
    std::map<std::string, std::pair<int, std::uint64_t>> types;
    for (const io::gguf_tensor& t : f->tensors()) {
      auto& e = types[t.type_name()];
      ++e.first;
      e.second += t.data.size();
    }
    std::printf("tensor types     ");
    for (const auto& [name, e] : types) std::printf(" %s: %d (%.1f MB)", name.c_str(), e.first, e.second / 1e6);
    std::printf("\n");
    if (auto tok = f->get<std::string_view>("tokenizer.ggml.model"); tok.ok()) std::printf("tokenizer         %s\n", io::excerpt(*tok).c_str());
    if (auto tmpl = f->get<std::string_view>("tokenizer.chat_template"); tmpl.ok())
      std::printf("chat template     %s\n", io::excerpt(*tmpl).c_str());
    else
      std::printf("chat template     (none)\n");
  } else {
    std::printf("format            llama2.c checkpoint (f32)\n");
  }
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int cmd_bench(const args& a) {
  if (!a.has("model")) return usage();
  auto p = number(a, "p", 128, 1u << 16);
  auto n = number(a, "n", 128, 1u << 16);
  auto threads = number(a, "threads", 1, 1024);
  auto reps = number(a, "reps", 3, 1000);
  if (!p || !n || !threads || !reps) return fail((!p ? p : !n ? n : !threads ? threads : reps).what());
  if (*p == 0 || *reps == 0) return fail("-p and --reps must be positive");
  auto m = load(a.get("model"));
  if (!m) return fail(m.what());
  runtime::thread_pool pool(*threads);
  llm::session_options opts;
  opts.pool = &pool;
  opts.context = static_cast<std::uint32_t>(*p + *n + 1);
  opts.batch = 64;
  auto s = llm::session::create(*m, opts);
  if (!s) return fail(s.what());
  const llm::model_config& c = m->config();
  std::vector<std::int32_t> prompt(*p);
  for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<std::int32_t>((i * 7919 + 13) % c.vocab_size);
  std::vector<double> pp, tg;
  for (std::uint64_t r = 0; r <= *reps; ++r) {  // the first run warms up
    s->reset();
    auto t0 = std::chrono::steady_clock::now();
    if (auto st = s->decode(prompt); !st.ok()) return fail(st.what());
    const double prompt_s = seconds_since(t0);
    std::int32_t id = llm::greedy(s->logits());
    t0 = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < *n; ++i) {
      if (auto st = s->decode(std::span<const std::int32_t>(&id, 1)); !st.ok()) return fail(st.what());
      id = llm::greedy(s->logits());
    }
    const double gen_s = seconds_since(t0);
    if (r > 0) {
      pp.push_back(static_cast<double>(*p) / prompt_s);
      tg.push_back(static_cast<double>(*n) / gen_s);
    }
  }
  const double bandwidth = bench::memory_read_bandwidth(pool, *threads);
  // Bytes a generation step reads: the matrices, one embedding row, and the KV cache at the
  // run's average position.
  const double kv_bytes = 2.0 * c.n_layers * (*p + *n / 2.0) * c.kv_dim() * 4;
  const double step_bytes = static_cast<double>(m->matrix_bytes_per_token()) + m->weights().token_embd.row_bytes + kv_bytes;
  const double bound = bandwidth / step_bytes;
  const double gen = *n ? median(tg) : 0;
  std::printf("model: %s, %s, %.1f MB of matrices per token, %zu thread(s)\n", a.get("model").c_str(), llm::architecture_name(c.arch),
              m->matrix_bytes_per_token() / 1e6, static_cast<std::size_t>(*threads));
  std::printf("prompt processing: %8.1f tokens/s (%llu tokens, %.1f GFLOP/s in the matrices)\n", median(pp),
              static_cast<unsigned long long>(*p), median(pp) * 2.0 * m->matrix_params_per_token() / 1e9);
  if (*n)
    std::printf("generation:        %8.1f tokens/s (%llu tokens), %.0f%% of the memory-bandwidth bound %.1f tokens/s (%.1f GB/s read)\n", gen,
                static_cast<unsigned long long>(*n), 100.0 * gen / bound, bound, bandwidth / 1e9);
  return 0;
}

expected<dtype> dtype_named(const std::string& name) {
  for (int i = 0; i < dtype_count; ++i)
    if (name == dtype_name(static_cast<dtype>(i)) && kernels::is_weight_type(static_cast<dtype>(i))) return static_cast<dtype>(i);
  return make_error(errc::invalid_argument, "unknown weight type '" + name + "'");
}

int cmd_make_bench_models(const args& a) {
  const std::string dir = a.get("out", "bench-models");
  std::string types = a.get("types", "f16,q8_0,q4_0,q4_k");
  std::vector<std::string> names;
  for (std::size_t i = 0; i <= types.size();) {
    const std::size_t j = std::min(types.find(',', i), types.size());
    if (j > i) names.push_back(types.substr(i, j - i));
    i = j + 1;
  }
  for (const std::string& name : names) {
    auto t = dtype_named(name);
    if (!t) return fail(t.what());
    llm::random_model_spec s;
    s.arch = llm::architecture::llama;
    s.vocab = 32000;
    s.dim = 768;
    s.layers = 12;
    s.heads = s.kv_heads = 12;
    s.hidden = 2048;
    s.context = 2048;
    s.weights = s.embeddings = s.output = *t;
    if (traits_of(*t).block_elements == 256) s.output = dtype::q6_k;  // as llama.cpp's K-quant mixes keep the output
    s.seed = 42;
    const auto t0 = std::chrono::steady_clock::now();
    auto bytes = llm::random_model_gguf(s);
    if (!bytes) return fail(bytes.what());
    const std::string path = dir + "/llama-110m-" + name + ".gguf";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return fail("cannot create '" + path + "' (does the folder exist?)");
    const bool ok = std::fwrite(bytes->data(), 1, bytes->size(), f) == bytes->size();
    if (std::fclose(f) != 0 || !ok) return fail("error writing '" + path + "'");
    std::printf("%s: %.1f MB in %.1f s\n", path.c_str(), bytes->size() / 1e6, seconds_since(t0));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  args a;
  std::string err;
  if (!parse_args(argc, argv, a, err)) {
    std::fprintf(stderr, "tessera-llm: %s\n", err.c_str());
    return usage();
  }
  if (cmd == "generate") return cmd_generate(a);
  if (cmd == "info") return cmd_info(a);
  if (cmd == "bench") return cmd_bench(a);
  if (cmd == "make-bench-models") return cmd_make_bench_models(a);
  return usage();
}
