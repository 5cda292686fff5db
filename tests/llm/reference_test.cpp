// tessera's forward pass against an independent reference: scripts/llm_reference.py (numpy,
// float64, its own GGUF parser and dequantizers) on random-weight models of every supported
// architecture that tessera's writer produces (small: dims of tens, a few layers, a vocabulary
// of 160), F32 and quantized, and on the llama2.c stories260K checkpoint in both its formats.
//
// Natively, when /usr/bin/python3 has numpy, the reference runs on the model file the test
// just wrote. Its output for each random-weight case is also committed
// (tests/llm/reference/<case>.json, regenerated with TESSERA_LLM_REGEN_REFERENCE=1), so WASM
// builds and machines without numpy compare against the same oracle (stories260K's is not:
// nothing derived from ../shared is committed); the models are generated bit-identically everywhere
// (splitmix64 weights, ggml's quantizers with no fused multiply-adds).
//
// Checks: F32 weights: every logit within 2e-5 (relative to the logits' scale) and the greedy
// continuation identical. Quantized weights (reference with ggml's activation quantization):
// logits within a tolerance per format, and greedy ids identical wherever the reference's
// top-1/top-2 margin exceeds twice that tolerance (below that a tie may break either way).
#include "support/harness.hpp"

#include <tessera/io/file.hpp>
#include <tessera/io/json.hpp>
#include <tessera/llm/generate.hpp>
#include <tessera/llm/gguf_export.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/session.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace tessera;

namespace {

struct reference_case {
  const char* name;
  llm::random_model_spec spec;
  std::vector<std::int32_t> prompt;
  bool act_quant = false;
  double tolerance = 2e-5;  // on logits, relative to the largest |logit| of the row (at least 1)
};

std::vector<reference_case> cases() {
  using llm::architecture;
  std::vector<reference_case> c;
  const std::vector<std::int32_t> prompt = {1, 17, 42, 99, 5, 150, 23, 77, 3, 64};
  llm::random_model_spec s;
  s.vocab = 160;
  s.context = 64;
  // F32: every architecture and its features.
  s.arch = architecture::llama;  // GQA 4:2
  c.push_back({"llama_f32", s, prompt});
  s.arch = architecture::qwen2;  // QKV biases, NeoX RoPE, tied embeddings
  s.tied = true;
  s.seed = 2;
  c.push_back({"qwen2_f32_tied", s, prompt});
  s.tied = false;
  s.arch = architecture::gemma3;  // head_dim 32 != dim / heads, QK-norm, post norms, GeGLU, sliding window
  s.head_dim = 32;
  s.layers = 3;
  s.sliding_window = 4;
  s.sliding_pattern = 2;
  s.final_softcap = 15.0f;
  s.seed = 3;
  c.push_back({"gemma3_f32_swa", s, prompt});
  s.head_dim = 0;
  s.layers = 2;
  s.sliding_window = 0;
  s.sliding_pattern = 0;
  s.final_softcap = 0;
  s.arch = architecture::phi3;  // fused QKV and gate|up
  s.fused_qkv = true;
  s.kv_heads = 4;
  s.seed = 4;
  c.push_back({"phi3_f32", s, prompt});
  s.fused_qkv = false;
  s.kv_heads = 2;
  // Float storage types and the 32-blocks (dim 64).
  s.arch = architecture::llama;
  s.seed = 5;
  s.weights = s.embeddings = s.output = dtype::f16;
  c.push_back({"llama_f16", s, prompt});
  s.weights = s.embeddings = s.output = dtype::bf16;
  c.push_back({"llama_bf16", s, prompt});
  s.weights = s.embeddings = s.output = dtype::q8_0;
  c.push_back({"llama_q8_0", s, prompt, true, 2e-3});
  s.weights = dtype::q4_0;
  c.push_back({"llama_q4_0", s, prompt, true, 2e-3});
  s.arch = architecture::qwen2;
  s.weights = dtype::q4_1;
  s.output = dtype::q5_0;
  c.push_back({"qwen2_q4_1", s, prompt, true, 2e-3});
  s.arch = architecture::gemma3;
  s.weights = dtype::q5_1;
  s.embeddings = dtype::q8_0;
  s.tied = true;
  c.push_back({"gemma3_q5_1_tied", s, prompt, true, 2e-3});
  s.tied = false;
  // K-quants need rows of 256 values.
  s.arch = architecture::llama;
  s.dim = 256;
  s.hidden = 512;
  s.heads = 8;
  s.kv_heads = 2;
  s.weights = dtype::q4_k;
  s.embeddings = dtype::q4_k;
  s.output = dtype::q6_k;
  s.seed = 6;
  c.push_back({"llama_q4_k", s, prompt, true, 2e-3});
  s.arch = architecture::qwen2;
  s.weights = dtype::q5_k;
  s.embeddings = dtype::q6_k;
  s.output = dtype::q5_k;
  c.push_back({"qwen2_q5_k", s, prompt, true, 2e-3});
  return c;
}

constexpr int kSteps = 6;

expected<std::string> read_text(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, io::read_file_bytes(path));
  return std::string(bytes.begin(), bytes.end());
}


#if !defined(__EMSCRIPTEN__)
bool python_numpy_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") == 0;
  return ok;
}
// Runs the reference script; returns its JSON output ("" when it failed).
std::string run_reference(const std::string& model_path, const std::vector<std::int32_t>& prompt, bool act_quant, bool compact) {
  std::string ids;
  for (std::int32_t t : prompt) ids += std::to_string(t) + " ";
  const std::string out_path = model_path + ".json";
  std::string cmd = "/usr/bin/python3 " + test::source_path("scripts/llm_reference.py") + " '" + model_path + "' --tokens '" + ids +
                    "' --steps " + std::to_string(kSteps) + (act_quant ? " --act-quant" : "") +
                    (compact ? " --rows '0 " + std::to_string(prompt.size() - 1) + "' --digits 7" : "") + " > '" + out_path + "'";
  if (std::system(cmd.c_str()) != 0) return "";
  auto text = read_text(out_path);
  return text.ok() ? *text : "";
}
#endif

// Compares tessera's run of `m` on the prompt (and greedy steps) with a reference JSON.
void compare_with_reference(const llm::model& m, const std::vector<std::int32_t>& prompt, const std::string& json, double tolerance,
                            const std::string& origin) {
  CAPTURE(origin);
  const io::json_document doc = test::must(io::parse_json(std::string_view(json)));
  const io::json_ref root = doc.root();
  const std::uint32_t vocab = m.config().vocab_size;

  llm::session_options opts;
  opts.batch = 4;  // the prompt goes through in chunks of 4, 4, 2
  llm::session s = test::must(llm::session::create(m, opts));
  std::vector<float> all(prompt.size() * vocab);
  REQUIRE(s.decode(prompt, all.data()).ok());

  const auto check_row = [&](const float* got, io::json_ref want, const std::string& what) {
    REQUIRE(want.size() == vocab);
    double scale = 1;
    for (std::uint32_t i = 0; i < vocab; ++i) scale = std::max(scale, std::fabs(want[i].number()));
    double worst = 0;
    std::uint32_t at = 0;
    for (std::uint32_t i = 0; i < vocab; ++i) {
      const double d = std::fabs(got[i] - want[i].number());
      if (d > worst) {
        worst = d;
        at = i;
      }
    }
    CAPTURE(what);
    CAPTURE(at);
    CAPTURE(worst / scale);
    CHECK(worst <= tolerance * scale);
  };
  const io::json_ref rows = root.find("rows"), logits = root.find("logits");
  REQUIRE(rows.size() == logits.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto row = static_cast<std::size_t>(rows[r].number());
    REQUIRE(row < prompt.size());
    check_row(all.data() + row * vocab, logits[r], "prompt position " + std::to_string(row));
  }
  // Greedy continuation, one token at a time (the matrix-vector path).
  const io::json_ref greedy = root.find("greedy"), margins = root.find("margins"), step_logits = root.find("greedy_logits");
  REQUIRE(greedy.size() == kSteps);
  for (int step = 0; step < kSteps; ++step) {
    CAPTURE(step);
    const std::int32_t want = static_cast<std::int32_t>(greedy[step].number());
    const std::int32_t got = llm::greedy(s.logits());
    const double margin = margins[step].number();
    if (got != want) {
      // Only a near-tie may break differently; then the sequences part and comparing stops.
      double scale = 1;
      for (float v : s.logits()) scale = std::max(scale, std::fabs(static_cast<double>(v)));
      CHECK(margin <= 2 * tolerance * scale);
      break;
    }
    REQUIRE(s.decode(std::span<const std::int32_t>(&want, 1)).ok());
    check_row(s.logits().data(), step_logits[step], "greedy step " + std::to_string(step));
  }
}

}  // namespace

TEST_SUITE("llm/reference") {

TEST_CASE("random models of every architecture and weight format match the numpy reference") {
  for (const reference_case& rc : cases()) {
    CAPTURE(std::string(rc.name));
    const std::vector<std::uint8_t> bytes = test::must(llm::random_model_gguf(rc.spec));
    const llm::model m = test::must(llm::model::view_bytes(bytes));
    const std::string committed = test::source_path("tests/llm/reference/" + std::string(rc.name) + ".json");
#if !defined(__EMSCRIPTEN__)
    if (python_numpy_available()) {
      const std::string path = "llm_reference_" + std::string(rc.name) + ".gguf";
      std::FILE* f = std::fopen(path.c_str(), "wb");
      REQUIRE(f);
      REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
      std::fclose(f);
      const std::string fresh = run_reference(path, rc.prompt, rc.act_quant, true);
      REQUIRE_MESSAGE(!fresh.empty(), "scripts/llm_reference.py failed on " << path);
      compare_with_reference(m, rc.prompt, fresh, rc.tolerance, "fresh reference");
      if (std::getenv("TESSERA_LLM_REGEN_REFERENCE")) {
        std::FILE* out = std::fopen(committed.c_str(), "wb");
        REQUIRE(out);
        std::fwrite(fresh.data(), 1, fresh.size(), out);
        std::fclose(out);
      }
    } else {
      MESSAGE("python3 with numpy not found: comparing with the committed reference only");
    }
#endif
    auto text = read_text(committed);
    REQUIRE_MESSAGE(text.ok(), "missing " << committed << " (TESSERA_LLM_REGEN_REFERENCE=1 writes it)");
    compare_with_reference(m, rc.prompt, *text, rc.tolerance, "committed reference");
  }
}

TEST_CASE("the llama2.c stories260K checkpoint matches the reference in both of its formats") {
  const std::string bin = test::source_path("../shared/models/stories260K.bin");
  const std::string gguf = test::source_path("../shared/models/stories260K-synthvocab.gguf");
  auto from_bin = llm::model::load_llama2c(bin);
  auto from_gguf = llm::model::load(gguf);
  if (!from_bin.ok() || !from_gguf.ok()) {
    MESSAGE("../shared/models/stories260K* not available: skipped");
    return;
  }
  const llm::model_config& c = from_bin->config();
  CHECK(c.dim == 64);
  CHECK(c.n_layers == 5);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.vocab_size == 512);
  const std::vector<std::int32_t> prompt = {1, 403, 407, 261, 378};
  // The two formats hold the same weights: identical logits.
  llm::session a = test::must(llm::session::create(*from_bin));
  llm::session b = test::must(llm::session::create(*from_gguf));
  REQUIRE(a.decode(prompt).ok());
  REQUIRE(b.decode(prompt).ok());
  for (std::size_t i = 0; i < a.logits().size(); ++i) CHECK(a.logits()[i] == b.logits()[i]);
  // The reference is computed here from ../shared's file, never committed (nothing derived
  // from ../shared is). Where it cannot run (WebAssembly, no numpy) the two formats' identical
  // logits above are the check, and the committed random-weight cases cover the arithmetic.
#if !defined(__EMSCRIPTEN__)
  if (python_numpy_available()) {
    const std::string fresh = run_reference(bin, prompt, false, true);
    REQUIRE(!fresh.empty());
    compare_with_reference(*from_bin, prompt, fresh, 2e-5, "fresh reference (.bin)");
    compare_with_reference(*from_gguf, prompt, fresh, 2e-5, "fresh reference (.gguf)");
    return;
  }
#endif
  MESSAGE("no python3 with numpy here: stories260K compared between its two formats only");
}

}  // TEST_SUITE
