// Tokenizer and sampler throughput.
//
//   bench_tokenizer [--quick] [--json] [--peers peers.jsonl]
//
// Text: the license texts Debian ships (/usr/share/common-licenses, a fixed list in a fixed
// order) repeated to 4 MiB, with a line of non-Latin text every 50 lines (a short generated
// text when the folder is absent). Cases: the committed SentencePiece fixture
// (tests/llm/tokenizer_data/spm_bytes.gguf), and the conformance vocabularies of
// ../shared when present (Llama 2's SentencePiece, GPT-2's and DeepSeek's byte-level BPE,
// BERT's WordPiece), in MB/s and tokens/s, the text as one input and line by line; the
// sampler at 150k logits in samples/s.
// The peer for the SentencePiece fixture is python3-sentencepiece on the same model and
// text: `/usr/bin/python3 benchmarks/tokenizer/peer_sentencepiece.py > peers.jsonl` first
// (it trains the fixture's model again, which gives the same pieces), then --peers.
#include <harness.hpp>

#include <tessera/io/file.hpp>
#include <tessera/io/gguf.hpp>
#include <tessera/llm/sampling.hpp>
#include <tessera/llm/tokenizer.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace tessera;

// The same text as benchmarks/tokenizer/peer_sentencepiece.py builds.
std::string benchmark_text(std::size_t bytes) {
  std::string base;
  int line = 0;
  for (const char* name : {"GPL-3", "Apache-2.0", "MPL-2.0", "LGPL-2.1", "Artistic"}) {
    std::ifstream in(std::string("/usr/share/common-licenses/") + name);
    for (std::string s; std::getline(in, s);) {
      base += s + "\n";
      if (++line % 50 == 0) base += "Привет, мир! 你好，世界。 Ünïcödé tëxt 🦙 naïve café\n";
    }
  }
  if (base.empty()) base = "The quick brown fox jumps over the lazy dog. Привет, мир! 你好，世界。 🦙\n";
  std::string text;
  while (text.size() < bytes) text += base;
  text.resize(bytes);
  text.resize(bytes - llm::unicode::incomplete_utf8_tail(text));  // whole characters
  return text;
}

std::map<std::string, double> read_peers(const std::string& path) {
  std::map<std::string, double> peers;  // case -> MB/s
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto kv = bench::parse_flat_json(line);
    if (kv["unit"] == "MB/s") peers[kv["case"]] = std::atof(kv["value"].c_str());
  }
  return peers;
}

bench::record make_record(const std::string& bench_name, const std::string& case_name, const char* unit, double value) {
  bench::record r;
  r.bench = bench_name;
  r.case_name = case_name;
  r.unit = unit;
  r.tessera = value;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv);
  std::map<std::string, double> peers;
  for (std::size_t i = 0; i + 1 < opts.rest.size(); ++i)
    if (opts.rest[i] == "--peers") peers = read_peers(opts.rest[i + 1]);
  const std::string text = benchmark_text(opts.quick ? (64u << 10) : (4u << 20));
  const std::string src = TESSERA_SOURCE_DIR;
  const std::pair<const char*, std::string> vocabs[] = {
      {"spm_bytes", src + "/tests/llm/tokenizer_data/spm_bytes.gguf"},
      {"llama-spm", src + "/../shared/conformance/llama-vocab/ggml-vocab-llama-spm.gguf"},
      {"gpt-2", src + "/../shared/conformance/llama-vocab/ggml-vocab-gpt-2.gguf"},
      {"deepseek-llm", src + "/../shared/conformance/llama-vocab/ggml-vocab-deepseek-llm.gguf"},
      {"bert-bge", src + "/../shared/conformance/llama-vocab/ggml-vocab-bert-bge.gguf"},
  };
  for (const auto& [name, path] : vocabs) {
    auto file = io::open_gguf(path);
    if (!file) continue;
    auto tok = llm::tokenizer::from_gguf(file->gguf);
    if (!tok) {
      std::fprintf(stderr, "%s: %s\n", name, tok.what().c_str());
      return 1;
    }
    std::size_t n_tokens = 0;
    const double seconds = bench::time_median(opts, [&] {
      auto ids = tok->encode(text, false, false);
      n_tokens = ids->size();
      bench::do_not_optimize(ids->data());
    });
    const double mb_per_s = double(text.size()) / seconds / 1e6;
    bench::record r = make_record("tokenizer", std::string(name) + " encode", "MB/s", mb_per_s);
    if (auto p = peers.find(r.case_name); p != peers.end()) {
      r.peer = "sentencepiece";
      r.peer_value = p->second;
    }
    r.note = std::to_string(n_tokens) + " tokens, " + std::to_string(std::llround(double(n_tokens) / seconds)) + " tokens/s";
    bench::emit(opts, r);
    // Line by line, as a chat or a data set feeds it (the scratch is per call).
    std::vector<std::string_view> lines;
    for (std::size_t b = 0; b <= text.size();) {
      const std::size_t e = std::min(text.find('\n', b), text.size());
      lines.push_back(std::string_view(text).substr(b, e - b));
      b = e + 1;
    }
    const double line_seconds = bench::time_median(opts, [&] {
      std::vector<std::int32_t> ids;
      for (std::string_view line : lines) (void)tok->encode(line, ids, false, false);
      bench::do_not_optimize(ids.data());
    });
    bench::record lr = make_record("tokenizer", std::string(name) + " encode lines", "MB/s", double(text.size()) / line_seconds / 1e6);
    if (auto p = peers.find(lr.case_name); p != peers.end()) {
      lr.peer = "sentencepiece";
      lr.peer_value = p->second;
    }
    bench::emit(opts, lr);
    auto ids = tok->encode(text, false, false);
    const double decode_seconds = bench::time_median(opts, [&] {
      const std::string back = tok->decode(*ids);
      bench::do_not_optimize(back.data());
    });
    bench::emit(opts, make_record("tokenizer", std::string(name) + " decode", "MB/s", double(text.size()) / decode_seconds / 1e6));
  }
  // The sampler on a 150k vocabulary. "peaked": logits fall with the log of a token's rank
  // (ranks scattered over the ids), as an LLM's do; "flat": a wide, flat spread, where top-p
  // needs most of the vocabulary sorted (the worst case).
  const std::size_t vocab = 150000;
  std::vector<float> peaked(vocab), flat(vocab);
  for (std::size_t i = 0; i < vocab; ++i) {
    const std::size_t rank = (i * 7919) % vocab;
    peaked[i] = float(14.0 - 1.6 * std::log1p(double(rank)) + 0.3 * std::sin(double(i)));
    flat[i] = float(std::sin(double(i) * 12.9898) * 4.0 - double(i % 1000) * 0.004);
  }
  const struct {
    const char* label;
    const std::vector<float>* logits;
    llm::sampler_params params;
  } cases[] = {
      {"150k peaked top-k 40", &peaked, {}},
      {"150k peaked top-p 0.95", &peaked, {.top_k = 0, .top_p = 0.95f, .min_p = 0.0f}},
      {"150k peaked min-p 0.05", &peaked, {.top_k = 0, .top_p = 1.0f, .min_p = 0.05f}},
      {"150k flat top-p 0.95", &flat, {.top_k = 0, .top_p = 0.95f, .min_p = 0.0f}},
      {"150k greedy", &peaked, {.temperature = 0.0f}},
  };
  for (const auto& c : cases) {
    auto s = llm::sampler::create(c.params);
    std::vector<float> work = *c.logits;
    const double seconds = bench::time_median(opts, [&] {
      auto id = s->sample(work);
      bench::do_not_optimize(*id);
    });
    bench::emit(opts, make_record("sampler", c.label, "samples/s", 1.0 / seconds));
  }
  return 0;
}
