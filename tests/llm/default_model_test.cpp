// The embedded demo model examples/models/tiny_llm.gguf (scripts/train_tiny_llm.py): tessera
// reads the GGUF tessera's converter wrote, tokenizes the reference prompts as SentencePiece
// did, and its forward pass gives PyTorch's logits and greedy continuations
// (examples/models/tiny_llm_reference.json, written by the script from the trained PyTorch
// model). F32 weights: greedy ids must be identical unless PyTorch's own top-2 margin is
// within the float tolerance.
#include <doctest/doctest.h>

#include <tessera/io/json.hpp>
#include <tessera/llm/generate.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/session.hpp>

#include "support/harness.hpp"
#include "tokenizer_support.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace tessera;

namespace {

constexpr double kTolerance = 1e-4;  // on logits, relative to the row's largest |logit| (at least 1)

// |got - want| <= kTolerance * scale over a row, scale = max(1, max |want|).
void check_row(std::span<const float> got, io::json_ref want, const std::string& what) {
  REQUIRE(want.size() == got.size());
  double scale = 1, worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) scale = std::max(scale, std::fabs(want[i].number()));
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i].number()));
  CAPTURE(what);
  CAPTURE(worst / scale);
  CHECK(worst <= kTolerance * scale);
}

}  // namespace

TEST_SUITE("llm/default_model") {

TEST_CASE("tiny_llm.gguf gives PyTorch's tokens, logits and greedy continuations") {
  const std::string path = test::source_path("examples/models/tiny_llm.gguf");
  const llm::model m = test::must(llm::model::load(path));
  auto loaded = test::load_tokenizer(path);
  REQUIRE_MESSAGE(loaded.ok(), loaded.what());
  const llm::tokenizer& tok = loaded->tok;
  const std::string json = test::must_read(test::source_path("examples/models/tiny_llm_reference.json"));
  const io::json_document doc = test::must(io::parse_json(std::string_view(json)));
  const io::json_ref cases = doc.root().find("cases");
  REQUIRE(cases.size() >= 3);
  const std::size_t vocab = m.config().vocab_size;

  for (std::size_t c = 0; c < cases.size(); ++c) {
    const io::json_ref rc = cases[c];
    const std::string prompt(rc.find("prompt").str());
    CAPTURE(prompt);
    std::vector<std::int32_t> tokens;
    for (std::size_t i = 0; i < rc.find("tokens").size(); ++i) tokens.push_back(static_cast<std::int32_t>(rc.find("tokens")[i].number()));
    CHECK(test::must(tok.encode(prompt)) == tokens);

    // Logits at every position of tokens + greedy, the prompt in one batch, then one by one.
    llm::session s = test::must(llm::session::create(m));
    std::vector<float> all(tokens.size() * vocab);
    REQUIRE(s.decode(tokens, all.data()).ok());
    std::vector<std::vector<float>> at(tokens.size());
    for (std::size_t p = 0; p < tokens.size(); ++p) at[p].assign(all.begin() + static_cast<std::ptrdiff_t>(p * vocab), all.begin() + static_cast<std::ptrdiff_t>((p + 1) * vocab));
    const io::json_ref greedy = rc.find("greedy"), margins = rc.find("margins");
    std::vector<std::int32_t> generated;
    bool parted = false;
    for (std::size_t step = 0; step < greedy.size(); ++step) {
      CAPTURE(step);
      const auto want = static_cast<std::int32_t>(greedy[step].number());
      const std::int32_t got = llm::greedy(s.logits());
      if (got != want) {
        // Only a near-tie may break differently; the sequences then part.
        double scale = 1;
        for (float v : s.logits()) scale = std::max(scale, std::fabs(static_cast<double>(v)));
        CHECK(margins[step].number() <= 2 * kTolerance * scale);
        parted = true;
        break;
      }
      generated.push_back(got);
      if (tok.is_eog(got)) break;
      REQUIRE(s.decode(std::span<const std::int32_t>(&got, 1)).ok());
      at.emplace_back(s.logits().begin(), s.logits().end());
    }
    const io::json_ref rows = rc.find("rows"), logits = rc.find("logits");
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const auto row = static_cast<std::size_t>(rows[r].number());
      if (row < at.size()) check_row(at[row], logits[r], "position " + std::to_string(row));
    }
    if (!parted) {
      std::vector<std::int32_t> shown(tokens.begin() + 1, tokens.end());  // without BOS
      for (std::int32_t id : generated)
        if (!tok.is_eog(id)) shown.push_back(id);
      CHECK(tok.decode(shown) == std::string(rc.find("text").str()));
    }
  }
}

}  // TEST_SUITE
