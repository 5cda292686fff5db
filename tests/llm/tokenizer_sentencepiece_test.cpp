// SentencePiece itself as the oracle: two small BPE models trained by Debian's
// python3-sentencepiece (one with byte fallback, one with an unknown token), written as GGUF
// vocabularies, and 400 random Unicode texts each with the ids and decoded text SentencePiece
// gives (scripts/make_tokenizer_fixtures.py; committed, so the test runs in WASM too).
#include <doctest/doctest.h>

#include <string>

#include "tokenizer_support.hpp"

TEST_SUITE("llm/tokenizer_sentencepiece") {
  TEST_CASE("ids and decoded text match SentencePiece on random Unicode text") {
    using namespace tessera;
    for (const char* name : {"spm_bytes", "spm_unk"}) {
      CAPTURE(name);
      const std::string base = test::source_path("tests/llm/tokenizer_data/") + name;
      test::check_sentencepiece_cases(base + ".gguf", base + ".cases", name);
    }
  }
}
