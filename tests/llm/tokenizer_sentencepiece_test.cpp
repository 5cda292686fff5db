// SentencePiece itself as the oracle: two small BPE models trained by Debian's
// python3-sentencepiece (one with byte fallback, one with an unknown token), written as GGUF
// vocabularies, and 400 random Unicode texts each with the ids and decoded text SentencePiece
// gives (scripts/make_tokenizer_fixtures.py; committed, so the test runs in WASM too).
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tokenizer_support.hpp"

namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  return out;
}

}  // namespace

TEST_SUITE("llm/tokenizer_sentencepiece") {
  TEST_CASE("ids and decoded text match SentencePiece on random Unicode text") {
    using namespace tessera;
    for (const char* name : {"spm_bytes", "spm_unk"}) {
      CAPTURE(name);
      const std::string base = test::source_path("tests/llm/tokenizer_data/") + name;
      auto loaded = test::load_tokenizer(base + ".gguf");
      REQUIRE_MESSAGE(loaded.ok(), loaded.what());
      const std::vector<std::string> lines = test::split_lines(test::must_read(base + ".cases"));
      REQUIRE(lines.size() % 3 == 0);
      int encoded = 0, decoded = 0;
      const int n = int(lines.size() / 3);
      for (int i = 0; i < n; ++i) {
        const std::string text = from_hex(lines[std::size_t(3 * i)]);
        const std::vector<std::int32_t> want = test::parse_ids(lines[std::size_t(3 * i + 1)]);
        const std::string want_text = from_hex(lines[std::size_t(3 * i + 2)]);
        auto ids = loaded->tok.encode(text, false, false);
        REQUIRE(ids.ok());
        INFO("case " << i << " '" << text << "'\n  expected " << test::ids_to_string(want) << "\n  got      " << test::ids_to_string(*ids));
        CHECK(*ids == want);
        encoded += *ids == want;
        const std::string back = loaded->tok.decode(want);
        CHECK(back == want_text);
        decoded += back == want_text;
      }
      std::printf("tokenizer vs SentencePiece: %-9s encode %d/%d, decode %d/%d\n", name, encoded, n, decoded, n);
    }
  }
}
