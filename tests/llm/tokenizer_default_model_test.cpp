// The embedded demo model examples/models/tiny_llm.gguf (scripts/train_tiny_llm.py: a tiny
// llama trained on Debian's fortunes, written by examples/tessera-llm-convert with tessera's
// GGUF writer): its vocabulary, read back by tokenizer::from_gguf, must tokenize the held-out
// fortunes exactly as the SentencePiece model it was trained with
// (examples/models/tiny_llm_tokenizer.cases, written by SentencePiece in the same script).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "tokenizer_support.hpp"

namespace {

const std::string model_path = tessera::test::source_path("examples/models/tiny_llm.gguf");

}  // namespace

TEST_SUITE("llm/tokenizer_default_model") {
  TEST_CASE("held-out fortunes tokenize as SentencePiece tokenizes them") {
    tessera::test::check_sentencepiece_cases(model_path, tessera::test::source_path("examples/models/tiny_llm_tokenizer.cases"), "tiny_llm");
  }

  TEST_CASE("special tokens and flags as SentencePiece's trainer set them") {
    using namespace tessera;
    auto loaded = test::load_tokenizer(model_path);
    REQUIRE_MESSAGE(loaded.ok(), loaded.what());
    const llm::tokenizer& tok = loaded->tok;
    CHECK(tok.model() == llm::tokenizer_model::spm);
    CHECK(tok.token_text(tok.unk()) == "<unk>");
    CHECK(tok.token_text(tok.bos()) == "<s>");
    CHECK(tok.token_text(tok.eos()) == "</s>");
    CHECK(tok.is_eog(tok.eos()));
    CHECK(tok.add_bos());
    CHECK_FALSE(tok.add_eos());
    CHECK(tok.add_space_prefix());
    // Byte fallback: every byte has its <0xXX> token, so no text needs the unknown token.
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const std::int32_t id = tok.find(name);
      CHECK(id != llm::no_token);
      CHECK(tok.type(id) == llm::token_type::byte);
    }
    auto ids = tok.encode("Tab\there, \xF0\x9F\xA6\x99 llama.", true, false);
    REQUIRE(ids.ok());
    CHECK(ids->front() == tok.bos());
    CHECK(std::find(ids->begin(), ids->end(), tok.unk()) == ids->end());
    CHECK(tok.decode(*ids) == "Tab\there, \xF0\x9F\xA6\x99 llama.");
  }
}
