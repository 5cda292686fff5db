// llm_fixture: the LLM test model and a sampling oracle for the JS package's tests
// (js/test/llm.test.js) and the browser test (tests/web/browser_test.mjs), natively or under
// Node.
//
//   llm_fixture model --out M.gguf [--vocab tests/llm/tokenizer_data/spm_bytes.gguf]
//                     [--dim 64] [--layers 2] [--heads 4] [--kv-heads 2] [--hidden 128]
//                     [--context 256] [--type q8_0] [--seed 7]
//       writes tests/support/llm_test_model.hpp's model: random weights, a trained
//       SentencePiece vocabulary, a ChatML template.
//   llm_fixture sample --model M.gguf --prompt-ids "1 2 3" -n N --seed S [--temperature 0.8]
//                      [--top-k 40] [--top-p 0.95] [--min-p 0.05] [--repeat-penalty 1]
//                      [--penalty-last-n 64] [--context C]
//       prints the ids llm::generate picks with an llm::sampler (its penalty window seeded
//       with the prompt), the oracle of seeded sampled runs in the browser.
#include <tessera/core/dtype.hpp>
#include <tessera/kernels/quant.hpp>
#include <tessera/llm/generate.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/sampling.hpp>

#include "support/llm_test_model.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace tessera;

int fail(const std::string& msg) {
  std::fprintf(stderr, "llm_fixture: %s\n", msg.c_str());
  return 1;
}

struct options {
  std::map<std::string, std::string> kv;
  std::string get(const std::string& k, const std::string& d) const {
    auto it = kv.find(k);
    return it == kv.end() ? d : it->second;
  }
};

expected<double> number(const options& o, const std::string& key, double fallback) {
  const std::string v = o.get(key, "");
  if (v.empty()) return fallback;
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (*end != '\0') return make_error(errc::invalid_argument, "--" + key + " '" + v + "' is not a number");
  return x;
}

expected<std::vector<std::uint8_t>> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return make_error(errc::io_error, "cannot open '" + path + "'");
  std::vector<std::uint8_t> out;
  std::uint8_t buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}

expected<dtype> weight_type(const std::string& name) {
  for (int i = 0; i < dtype_count; ++i)
    if (name == dtype_name(static_cast<dtype>(i)) && kernels::is_weight_type(static_cast<dtype>(i))) return static_cast<dtype>(i);
  return make_error(errc::invalid_argument, "unknown weight type '" + name + "'");
}

status write_model(const options& o) {
  const std::string out = o.get("out", "");
  if (out.empty()) return make_error(errc::invalid_argument, "model: --out is required");
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> vocab,
                           read_file(o.get("vocab", std::string(TESSERA_SOURCE_DIR) + "/tests/llm/tokenizer_data/spm_bytes.gguf")));
  tessera_test::llm_test_model_options m;
  const std::pair<const char*, std::uint32_t*> sizes[] = {{"dim", &m.dim},     {"layers", &m.layers}, {"heads", &m.heads},
                                                          {"kv-heads", &m.kv_heads}, {"hidden", &m.hidden}, {"context", &m.context}};
  for (const auto& [key, field] : sizes) {
    TESSERA_ASSIGN_OR_RETURN(const double v, number(o, key, *field));
    if (v < 1 || v > (1 << 20) || v != static_cast<std::uint32_t>(v)) return make_error(errc::invalid_argument, std::string("--") + key + " out of range");
    *field = static_cast<std::uint32_t>(v);
  }
  TESSERA_ASSIGN_OR_RETURN(m.weights, weight_type(o.get("type", "q8_0")));
  TESSERA_ASSIGN_OR_RETURN(const double seed, number(o, "seed", 7));
  m.seed = static_cast<std::uint64_t>(seed);
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, tessera_test::llm_test_model(vocab, m));
  std::FILE* f = std::fopen(out.c_str(), "wb");
  if (!f) return make_error(errc::io_error, "cannot create '" + out + "'");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) return make_error(errc::io_error, "error writing '" + out + "'");
  return {};
}

status sample(const options& o) {
  TESSERA_ASSIGN_OR_RETURN(llm::model m, llm::model::load(o.get("model", "")));
  std::vector<std::int32_t> prompt;
  const std::string ids = o.get("prompt-ids", "");
  for (std::size_t i = 0; i < ids.size();) {
    char* end = nullptr;
    const long v = std::strtol(ids.c_str() + i, &end, 10);
    if (end == ids.c_str() + i) return make_error(errc::invalid_argument, "--prompt-ids: '" + ids.substr(i, 12) + "' is not a token id");
    prompt.push_back(static_cast<std::int32_t>(v));
    i = static_cast<std::size_t>(end - ids.c_str());
    while (i < ids.size() && (ids[i] == ' ' || ids[i] == ',')) ++i;
  }
  llm::sampler_params p;
  TESSERA_ASSIGN_OR_RETURN(const double temperature, number(o, "temperature", p.temperature));
  TESSERA_ASSIGN_OR_RETURN(const double top_k, number(o, "top-k", p.top_k));
  TESSERA_ASSIGN_OR_RETURN(const double top_p, number(o, "top-p", p.top_p));
  TESSERA_ASSIGN_OR_RETURN(const double min_p, number(o, "min-p", p.min_p));
  TESSERA_ASSIGN_OR_RETURN(const double repeat, number(o, "repeat-penalty", p.repeat_penalty));
  TESSERA_ASSIGN_OR_RETURN(const double last_n, number(o, "penalty-last-n", p.penalty_last_n));
  TESSERA_ASSIGN_OR_RETURN(const double seed, number(o, "seed", 0));
  TESSERA_ASSIGN_OR_RETURN(const double n, number(o, "n", 32));
  TESSERA_ASSIGN_OR_RETURN(const double context, number(o, "context", 0));
  p.temperature = static_cast<float>(temperature);
  p.top_k = static_cast<std::int32_t>(top_k);
  p.top_p = static_cast<float>(top_p);
  p.min_p = static_cast<float>(min_p);
  p.repeat_penalty = static_cast<float>(repeat);
  p.penalty_last_n = static_cast<std::int32_t>(last_n);
  p.seed = static_cast<std::uint64_t>(seed);
  TESSERA_ASSIGN_OR_RETURN(llm::sampler sampler, llm::sampler::create(p));
  sampler.accept(prompt);
  TESSERA_ASSIGN_OR_RETURN(llm::session s, llm::session::create(m, {.context = static_cast<std::uint32_t>(context)}));
  std::vector<float> logits;
  std::string out;
  status picked;
  const auto generated = llm::generate(s, prompt, {.max_tokens = static_cast<std::uint32_t>(n)},
                            [&](std::span<const float> l) {
                              logits.assign(l.begin(), l.end());
                              auto id = sampler.sample(logits);
                              if (!id.ok()) {
                                picked = id.err();
                                return std::int32_t{-1};
                              }
                              return *id;
                            },
                            [&](std::int32_t id) {
                              out += (out.empty() ? "" : " ") + std::to_string(id);
                              return true;
                            });
  TESSERA_TRY(picked);
  TESSERA_TRY(generated.as_status());
  std::printf("%s\n", out.c_str());
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("usage: llm_fixture model --out M.gguf [...] | sample --model M.gguf --prompt-ids \"...\" [...]");
  options o;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key == "-n") key = "--n";
    if (key.rfind("--", 0) != 0) return fail("unexpected argument '" + key + "'");
    o.kv[key.substr(2)] = argv[i + 1];
  }
  if (argc % 2 != 0) return fail(std::string("no value after '") + argv[argc - 1] + "'");
  const std::string cmd = argv[1];
  const status s = cmd == "model" ? write_model(o) : cmd == "sample" ? sample(o) : status(make_error(errc::invalid_argument, "unknown command '" + cmd + "'"));
  return s.ok() ? 0 : fail(s.what());
}
