// llama.cpp's tokenizer conformance data (../shared/conformance/llama-vocab, see its README):
// every input of every vocabulary present must give exactly the expected ids (no BOS/EOS,
// special tokens not parsed). Skips when ../shared is absent; prints the pass count per vocab.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tokenizer_support.hpp"

namespace {

using namespace tessera;

const char* const kVocabs[] = {
    "llama-spm", "phi-3", "bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "mpt", "refact", "starcoder",
    // Inputs without a vocabulary here (the README says why): skipped with a note.
    "llama-bpe", "qwen2", "command-r", "chameleon", "roberta-bpe", "deepseek-r1-qwen",
};

std::vector<std::string> split_inputs(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  std::size_t start = 0;
  for (std::size_t at; (at = text.find(sep, start)) != std::string::npos; start = at + sep.size()) inputs.push_back(text.substr(start, at - start));
  return inputs;
}

}  // namespace

TEST_SUITE("llm/tokenizer_conformance") {
  TEST_CASE("llama.cpp's vocab conformance inputs give the expected ids") {
    const std::string dir = test::source_path("../shared/conformance/llama-vocab/");
    if (!test::read_text_file(dir + "README.md")) {
      MESSAGE("../shared/conformance/llama-vocab is absent: skipped");
      return;
    }
    int vocabs_run = 0;
    for (const char* name : kVocabs) {
      const std::string base = dir + "ggml-vocab-" + name + ".gguf";
      const auto inp = test::read_text_file(base + ".inp");
      const auto out = test::read_text_file(base + ".out");
      if (!inp || !out) continue;
      auto loaded = test::load_tokenizer(base);
      if (!loaded.ok()) {
        std::printf("tokenizer conformance: %-16s skipped: no vocabulary here (%s)\n", name, loaded.err().message.c_str());
        continue;
      }
      ++vocabs_run;
      const std::vector<std::string> inputs = split_inputs(*inp);
      const std::vector<std::string> expected = test::split_lines(*out);
      REQUIRE(inputs.size() == expected.size());
      int passed = 0;
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        auto ids = loaded->tok.encode(inputs[i], false, false);
        REQUIRE(ids.ok());
        const std::vector<std::int32_t> want = test::parse_ids(expected[i]);
        if (*ids == want) {
          ++passed;
        } else {
          INFO(name << " input " << i << " '" << inputs[i] << "'\n  expected " << test::ids_to_string(want) << "\n  got      "
                    << test::ids_to_string(*ids));
          CHECK(*ids == want);
        }
      }
      std::printf("tokenizer conformance: %-16s %d/%zu passed\n", name, passed, inputs.size());
    }
    CHECK(vocabs_run >= 10);
  }
}
