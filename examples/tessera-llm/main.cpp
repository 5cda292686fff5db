// tessera-llm: LLM inference from one GGUF file (or a llama2.c checkpoint), natively or under
// Node. The commands are thin: text in and text out is llm::text_generator
// (tessera/llm/text_generation.hpp), which the WebAssembly ABI and C++ users share.
//
//   tessera-llm generate --model M.gguf (--prompt TEXT | --prompt-ids "1 2 3") [-n N]
//                        [--temperature T] [--top-k K] [--top-p P] [--min-p P]
//                        [--repeat-penalty R] [--repeat-last-n N] [--seed S] [--threads N]
//                        [--stop STR]... [--ignore-eos] [--context C] [--kv f32|f16]
//                        [--print-token-ids] [--verbose]
//   tessera-llm chat --model M.gguf [--system TEXT] [--template NAME] [sampling options]
//   tessera-llm tokenize --model M.gguf (--text TEXT | --file F)... [--no-special]
//   tessera-llm info --model M.gguf
//   tessera-llm bench --model M.gguf [-p 128] [-n 128] [--threads N] [--reps R]
//   tessera-llm make-bench-models [--out DIR] [--types f16,q8_0,q4_0,q4_k]
//   tessera-llm make-model --out M.gguf [--arch A] [--type T] [--vocab N] [--dim D] [--layers L] [--heads H]
//                          [--kv-heads K] [--hidden F] [--context C] [--seed S] [--chat-template chatml|llama3|gemma]
//
// generate streams the continuation of the prompt (flushed per token); with --print-token-ids
// it prints the generated ids on one line instead. --temperature 0 is greedy. chat reads one
// user message per line from stdin (a pipe works too; "/reset" starts over, "/exit" or the end
// of input quits) and streams each reply; the KV cache is kept across turns. tokenize prints
// the ids of each text on its own line (--no-special: no BOS/EOS added, control-token text
// not parsed); it needs only the vocabulary, so vocabulary-only GGUF files work. A .bin model
// is read as a llama2.c checkpoint (no tokenizer: ids only). make-bench-models writes the
// benchmark's random-weight llama (dim 768, 12 layers, 12 heads, FFN 2048, vocabulary 32000:
// 110M parameters in its layers and output) once per weight type; make-model writes a small
// random-weight model with a vocabulary (and a chat template) for tests and demos.
#include <tessera/llm.hpp>
#include <tessera/llm/gguf_export.hpp>
#include <tessera/io/file.hpp>

#include "../common/cli_args.hpp"
#include "../common/cli_main.hpp"
#include "memory_bandwidth.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#define TESSERA_ISATTY _isatty
#else
#include <unistd.h>
#define TESSERA_ISATTY isatty
#endif

namespace {

using namespace tessera;

int fail(const std::string& msg) {
  std::fprintf(stderr, "tessera-llm: %s\n", msg.c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  tessera-llm generate --model M.gguf (--prompt TEXT | --prompt-ids \"1 2 3\") [-n N] [--temperature T]\n"
               "                       [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--repeat-last-n N]\n"
               "                       [--seed S] [--threads N] [--stop STR]... [--ignore-eos] [--context C]\n"
               "                       [--kv f32|f16] [--print-token-ids] [--verbose]\n"
               "  tessera-llm chat --model M.gguf [--system TEXT] [--template NAME] [-n N] [sampling options as generate]\n"
               "  tessera-llm tokenize --model M.gguf (--text TEXT | --file F)... [--no-special]\n"
               "  tessera-llm info --model M.gguf\n"
               "  tessera-llm bench --model M.gguf [-p 128] [-n 128] [--threads N] [--reps R]\n"
               "  tessera-llm make-bench-models [--out DIR] [--types f16,q8_0,q4_0,q4_k]\n"
               "  tessera-llm make-model --out M.gguf [--arch llama|qwen2|gemma3|phi3] [--type f32] [--vocab 512] [--dim 64]\n"
               "                         [--layers 2] [--heads 4] [--kv-heads 2] [--hidden 128] [--context 512] [--seed 1]\n"
               "                         [--chat-template chatml|llama3|gemma]\n");
  return 2;
}

// Options in the order given (tokenize prints its texts in that order; --stop repeats).
using tessera_cli::args;

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

// A finite real option.
expected<float> real(const args& a, const std::string& key, float fallback) {
  if (!a.has(key)) return fallback;
  const std::string v = a.get(key);
  char* end = nullptr;
  const float x = std::strtof(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x)) return make_error(errc::invalid_argument, "--" + key + " '" + v + "' is not a number");
  return x;
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

// What generate and chat share: the sampler, the limits, the session.
struct run_setup {
  llm::generation_options gen;
  llm::session_options session;
  std::size_t threads = 1;
};

expected<run_setup> setup_of(const args& a, std::uint64_t default_tokens) {
  run_setup r;
  llm::sampler_params& p = r.gen.sampling;
  TESSERA_ASSIGN_OR_RETURN(p.temperature, real(a, "temperature", p.temperature));
  TESSERA_ASSIGN_OR_RETURN(const std::uint64_t top_k, number(a, "top-k", static_cast<std::uint64_t>(p.top_k), 1u << 30));
  p.top_k = static_cast<std::int32_t>(top_k);
  TESSERA_ASSIGN_OR_RETURN(p.top_p, real(a, "top-p", p.top_p));
  TESSERA_ASSIGN_OR_RETURN(p.min_p, real(a, "min-p", p.min_p));
  TESSERA_ASSIGN_OR_RETURN(p.repeat_penalty, real(a, "repeat-penalty", p.repeat_penalty));
  TESSERA_ASSIGN_OR_RETURN(const std::uint64_t last_n, number(a, "repeat-last-n", static_cast<std::uint64_t>(p.penalty_last_n), llm::sampler_max_penalty_window));
  p.penalty_last_n = static_cast<std::int32_t>(last_n);
  if (a.has("seed")) {
    TESSERA_ASSIGN_OR_RETURN(p.seed, number(a, "seed", 0, ~0ull));
  } else {
    std::random_device rd;  // like llama.cpp: a fresh seed unless one is given
    p.seed = (std::uint64_t{rd()} << 32) ^ rd();
  }
  TESSERA_TRY(llm::sampler::create(p).as_status());  // the parameters' range checks, before loading
  TESSERA_ASSIGN_OR_RETURN(const std::uint64_t n, number(a, "n", default_tokens, 1u << 30));
  r.gen.max_tokens = static_cast<std::int32_t>(n);
  r.gen.stop_strings = a.all("stop");
  r.gen.stop_at_eog = !a.flag("ignore-eos");
  TESSERA_ASSIGN_OR_RETURN(r.threads, number(a, "threads", 1, 1024));
  TESSERA_ASSIGN_OR_RETURN(const std::uint64_t context, number(a, "context", 0, 1u << 24));
  r.session.context = static_cast<std::uint32_t>(context);
  const std::string kv = a.get("kv", "f32");
  if (kv == "f16") r.session.kv_type = llm::kv_cache_type::f16;
  else if (kv != "f32") return make_error(errc::invalid_argument, "--kv must be f32 or f16");
  return r;
}

void print_stats(const llm::generation_result& r) {
  const double tps = r.generation_seconds > 0 ? static_cast<double>(r.tokens.size()) / r.generation_seconds : 0.0;
  std::fprintf(stderr, "[prompt: %u tokens (%u reused) in %.3f s; generated %zu tokens in %.3f s (%.1f tokens/s); stopped: %s]\n",
               r.prompt_tokens, r.reused_tokens, r.prompt_seconds, r.tokens.size(), r.generation_seconds, tps,
               r.context_full ? "the context is full" : llm::stop_reason_name(r.reason));
}

// Writes the text of each token as it comes (flushed: the output streams).
llm::stream_callback print_text() {
  return [](std::string_view text, std::int32_t) {
    if (!text.empty()) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  };
}

int cmd_generate(const args& a) {
  if (!a.has("model") || a.has("prompt") == a.has("prompt-ids")) return usage();
  auto setup = setup_of(a, 128);
  if (!setup) return fail(setup.what());
  std::vector<std::int32_t> ids;
  if (a.has("prompt-ids")) {
    auto parsed = parse_ids(a.get("prompt-ids"));
    if (!parsed) return fail(parsed.what());
    ids = std::move(parsed).value();
  }
  auto m = load(a.get("model"));
  if (!m) return fail(m.what());
  runtime::thread_pool pool(setup->threads);
  setup->session.pool = &pool;
  auto gen = llm::text_generator::create(*m, setup->session);
  if (!gen) return fail(gen.what());
  // Without a tokenizer (a llama2.c checkpoint) there is no text: ids are the output.
  const bool print_ids = a.flag("print-token-ids") || !gen->has_tokenizer();
  bool first = true;
  const llm::stream_callback on_token = [&](std::string_view, std::int32_t id) {
    if (id == llm::no_token) return true;
    std::printf("%s%d", first ? "" : " ", id);
    first = false;
    std::fflush(stdout);
    return true;
  };
  const llm::stream_callback callback = print_ids ? on_token : print_text();
  auto r = a.has("prompt") ? gen->generate(a.get("prompt"), setup->gen, callback) : gen->generate_ids(ids, setup->gen, callback);
  std::printf("\n");
  if (!r) return fail(r.what());
  if (a.flag("verbose")) print_stats(*r);
  if (r->context_full) std::fprintf(stderr, "tessera-llm: stopped: the context of %u positions is full\n", gen->kv_session().context());
  return 0;
}

int cmd_chat(const args& a) {
  if (!a.has("model")) return usage();
  auto setup = setup_of(a, 512);
  if (!setup) return fail(setup.what());
  auto m = load(a.get("model"));
  if (!m) return fail(m.what());
  runtime::thread_pool pool(setup->threads);
  setup->session.pool = &pool;
  auto gen = llm::text_generator::create(*m, setup->session);
  if (!gen) return fail(gen.what());
  if (!gen->has_tokenizer()) return fail("chat needs a model with a tokenizer ('" + a.get("model") + "' has none)");
  if (a.has("template")) {
    auto t = llm::chat_template::from_name(a.get("template"));
    if (!t) return fail(t.what());
    gen->set_chat_format(*t);
  } else if (!gen->chat_format().recognized()) {
    std::fprintf(stderr, "tessera-llm: %s\n", gen->chat_format().warning().c_str());
  }
  gen->set_system_prompt(a.get("system"));
#if defined(__EMSCRIPTEN__)
  const bool tty = false;  // Node's stdin reports a terminal even when it is a pipe: no prompts
#else
  const bool tty = TESSERA_ISATTY(0);
#endif
  std::string line;
  while (true) {
    if (tty) {
      std::printf("> ");
      std::fflush(stdout);
    }
    // One message per line.
    line.clear();
    int c = 0;
    while ((c = std::fgetc(stdin)) != EOF && c != '\n') line += static_cast<char>(c);
    if (c == EOF && line.empty()) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line == "/exit") break;
    if (line == "/reset") {
      gen->reset_chat();
      continue;
    }
    auto r = gen->chat(line, setup->gen, print_text());
    std::printf("\n");
    std::fflush(stdout);
    if (!r) return fail(r.what());
    if (a.flag("verbose")) print_stats(*r);
    if (r->context_full) return fail("the context of " + std::to_string(gen->kv_session().context()) + " positions is full");
  }
  return 0;
}

int cmd_tokenize(const args& a) {
  if (!a.has("model") || (!a.has("text") && !a.has("file"))) return usage();
  auto gguf = io::open_gguf(a.get("model"));
  if (!gguf) return fail(gguf.what());
  auto tok = llm::tokenizer::from_gguf(gguf->gguf);
  if (!tok) return fail("'" + a.get("model") + "': " + tok.what());
  const bool special = !a.flag("no-special");
  std::vector<std::int32_t> ids;
  std::string line;
  for (const auto& [key, value] : a.values) {
    if (key != "text" && key != "file") continue;
    std::string text = value;
    if (key == "file") {
      auto bytes = io::read_file_bytes(value);
      if (!bytes) return fail(bytes.what());
      text.assign(bytes->begin(), bytes->end());
    }
    ids.clear();
    if (auto st = tok->encode(text, ids, special, special); !st.ok()) return fail(st.what());
    line.clear();
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i) line += ' ';
      line += std::to_string(ids[i]);
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

const char* tokenizer_model_name(llm::tokenizer_model m) {
  switch (m) {
    case llm::tokenizer_model::spm: return "llama (SentencePiece BPE)";
    case llm::tokenizer_model::bpe: return "gpt2 (byte-level BPE)";
    case llm::tokenizer_model::wpm: return "bert (WordPiece)";
  }
  return "?";
}

void print_tokenizer_info(const io::gguf_file& f) {
  if (!f.contains("tokenizer.ggml.model")) {
    std::printf("tokenizer         (none)\n");
    return;
  }
  auto tok = llm::tokenizer::from_gguf(f);
  if (!tok) {
    std::printf("tokenizer         (does not load: %s)\n", tok.what().c_str());
    return;
  }
  std::printf("tokenizer         %s, %d tokens\n", tokenizer_model_name(tok->model()), tok->n_tokens());
  std::string pre = "none";
  if (auto p = f.get<std::string_view>("tokenizer.ggml.pre"); p.ok()) pre = io::excerpt(*p);
  else if (tok->model() == llm::tokenizer_model::bpe) pre = "default";
  std::printf("pre-tokenizer     %s\n", pre.c_str());
  const auto id = [&](std::int32_t t) {
    return t == llm::no_token ? std::string("-") : std::to_string(t) + " '" + io::excerpt(tok->token_text(t), 24) + "'";
  };
  std::printf("special tokens    BOS %s, EOS %s, EOT %s, UNK %s, PAD %s\n", id(tok->bos()).c_str(), id(tok->eos()).c_str(), id(tok->eot()).c_str(),
              id(tok->unk()).c_str(), id(tok->pad()).c_str());
  std::string eog;
  for (std::int32_t t : tok->eog_tokens()) eog += (eog.empty() ? "" : ", ") + id(t);
  std::printf("end of generation %s\n", eog.empty() ? "-" : eog.c_str());
  std::printf("adds              %s%s%s\n", tok->add_bos() ? "BOS " : "", tok->add_eos() ? "EOS " : "",
              tok->add_bos() || tok->add_eos() ? "" : "nothing");
  const llm::chat_template t = llm::chat_template::from_gguf(f);
  if (auto text = f.get<std::string_view>("tokenizer.chat_template"); text.ok())
    std::printf("chat template     %s%s: %s\n", t.name(), t.recognized() ? "" : " (not recognized, ChatML used)", io::excerpt(*text, 60).c_str());
  else
    std::printf("chat template     (none: ChatML used)\n");
}

int cmd_info(const args& a) {
  if (!a.has("model")) return usage();
  auto m = load(a.get("model"));
  if (!m) {
    // A vocabulary-only GGUF (no tensors) still has a tokenizer to describe.
    auto g = a.get("model").ends_with(".bin") ? expected<io::mapped_gguf>(m.err()) : io::open_gguf(a.get("model"));
    if (!g || !g->gguf.tensors().empty() || !g->gguf.contains("tokenizer.ggml.model")) return fail(m.what());
    std::printf("vocabulary only   (no tensors)\n");
    print_tokenizer_info(g->gguf);
    return 0;
  }
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
    print_tokenizer_info(*f);
  } else {
    std::printf("format            llama2.c checkpoint (f32, no tokenizer)\n");
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

status write_model(const std::string& path, const llm::random_model_spec& s) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, llm::random_model_gguf(s));
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(errc::io_error, "cannot create '" + path + "' (does the folder exist?)");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) return make_error(errc::io_error, "error writing '" + path + "'");
  return {};
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
    const std::string path = dir + "/llama-110m-" + name + ".gguf";
    if (auto st = write_model(path, s); !st.ok()) return fail(st.what());
    std::printf("%s: in %.1f s\n", path.c_str(), seconds_since(t0));
  }
  return 0;
}

// The chat formats make-model can give a model: the template text (recognized by its
// markers) and the control tokens it needs in the vocabulary.
struct chat_format_spec {
  const char* name;
  const char* jinja;
  std::vector<std::string> controls;
};

expected<chat_format_spec> chat_format_named(const std::string& name) {
  const chat_format_spec formats[] = {
      {"chatml",
       "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}"
       "{% if add_generation_prompt %}{{'<|im_start|>assistant\\n'}}{% endif %}",
       {"<|im_start|>", "<|im_end|>"}},
      {"llama3",
       "{% for m in messages %}{{'<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>'}}{% endfor %}"
       "{% if add_generation_prompt %}{{'<|start_header_id|>assistant<|end_header_id|>\\n\\n'}}{% endif %}",
       {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}},
      {"gemma",
       "{% for m in messages %}{{'<start_of_turn>' + m['role'] + '\\n' + m['content'] | trim + '<end_of_turn>\\n'}}{% endfor %}"
       "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
       {"<start_of_turn>", "<end_of_turn>"}},
  };
  for (const chat_format_spec& f : formats)
    if (name == f.name) return f;
  return make_error(errc::invalid_argument, "--chat-template '" + name + "': make-model writes chatml, llama3 or gemma");
}

// A random-weight model of any architecture and size, with a vocabulary (and a chat
// template): what tests and demos need when no real model is at hand.
int cmd_make_model(const args& a) {
  if (!a.has("out")) return usage();
  llm::random_model_spec s;
  const std::string arch = a.get("arch", "llama");
  bool known = false;
  for (auto candidate : {llm::architecture::llama, llm::architecture::qwen2, llm::architecture::gemma3, llm::architecture::phi3})
    if (arch == llm::architecture_name(candidate)) {
      s.arch = candidate;
      known = true;
    }
  if (!known) return fail("--arch '" + arch + "': llama, qwen2, gemma3 or phi3");
  auto t = dtype_named(a.get("type", "f32"));
  if (!t) return fail(t.what());
  s.weights = s.embeddings = s.output = *t;
  const auto size = [&](const char* key, std::uint32_t& field, std::uint64_t lo, std::uint64_t hi) -> status {
    TESSERA_ASSIGN_OR_RETURN(const std::uint64_t v, number(a, key, field, hi));
    if (v < lo) return make_error(errc::invalid_argument, std::string("--") + key + " must be at least " + std::to_string(lo));
    field = static_cast<std::uint32_t>(v);
    return {};
  };
  s.vocab = 512;
  for (const status& st : {size("vocab", s.vocab, 3, 1u << 20), size("dim", s.dim, 2, 1u << 14), size("layers", s.layers, 1, 256),
                           size("heads", s.heads, 1, 256), size("kv-heads", s.kv_heads, 1, 256), size("hidden", s.hidden, 1, 1u << 16),
                           size("context", s.context, 1, 1u << 20)})
    if (!st.ok()) return fail(st.what());
  auto seed = number(a, "seed", 1, ~0ull);
  if (!seed) return fail(seed.what());
  s.seed = *seed;
  if (s.arch == llm::architecture::phi3) s.fused_qkv = true;
  if (a.has("chat-template")) {
    auto f = chat_format_named(a.get("chat-template"));
    if (!f) return fail(f.what());
    s.chat_template = f->jinja;
    s.control_tokens = f->controls;
  }
  if (auto st = write_model(a.get("out"), s); !st.ok()) return fail(st.what());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  args a;
  std::string err;
  if (!tessera_cli::parse(argc, argv, 2, {"print-token-ids", "no-special", "ignore-eos", "verbose"},
                          {{"-n", "n"}, {"-p", "p"}}, a, err)) {
    std::fprintf(stderr, "tessera-llm: %s\n", err.c_str());
    return usage();
  }
  return tessera_cli::guarded_main("tessera-llm", [&] {
    if (cmd == "generate") return cmd_generate(a);
    if (cmd == "chat") return cmd_chat(a);
    if (cmd == "tokenize") return cmd_tokenize(a);
    if (cmd == "info") return cmd_info(a);
    if (cmd == "bench") return cmd_bench(a);
    if (cmd == "make-bench-models") return cmd_make_bench_models(a);
    if (cmd == "make-model") return cmd_make_model(a);
    return usage();
  });
}
