// Streaming detokenization and generation_stream: characters split across tokens are held
// until complete, the stream equals decode() for valid text, invalid bytes become U+FFFD,
// stop strings are matched across token boundaries and never emitted.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/llm/detokenizer.hpp"
#include "tokenizer_support.hpp"

namespace {

using namespace tessera;
using ids = std::vector<std::int32_t>;

llm::tokenizer spm_bytes() {
  auto t = test::load_tokenizer(test::source_path("tests/llm/tokenizer_data/spm_bytes.gguf"));
  REQUIRE_MESSAGE(t.ok(), t.what());
  return std::move(t->tok);
}

// A byte-level BPE with no merges: every byte is its own token (ids = byte values), plus an
// end-of-text control token 256.
llm::tokenizer bytes_bpe() {
  test::vocab_spec v;
  v.tokens = test::byte_level_tokens({"<|endoftext|>"});
  v.types.assign(v.tokens.size(), 1);
  v.types[256] = 3;
  v.merges = {std::string(v.tokens['a']) + " " + v.tokens['b']};
  v.tokens.push_back("ab");
  v.types.push_back(1);
  v.pre = "gpt-2";
  v.ids = {{"eos", 256}};
  auto t = test::make_tokenizer(v);
  REQUIRE_MESSAGE(t.ok(), t.what());
  return std::move(t).value();
}

std::vector<std::string> stream_pieces(const llm::tokenizer& t, const ids& tokens) {
  llm::streaming_detokenizer d(t);
  std::vector<std::string> pieces;
  for (std::int32_t id : tokens) pieces.push_back(d.push(id));
  std::string tail;
  d.finish(tail);
  pieces.push_back(tail);
  return pieces;
}

std::string joined(const std::vector<std::string>& pieces) {
  std::string s;
  for (const std::string& p : pieces) s += p;
  return s;
}

}  // namespace

TEST_SUITE("llm/tokenizer_stream") {
  TEST_CASE("byte-fallback pieces of one character are held until it is complete") {
    const llm::tokenizer t = spm_bytes();
    const std::int32_t e2 = t.find("<0xE2>"), x82 = t.find("<0x82>"), xac = t.find("<0xAC>");
    REQUIRE((e2 >= 0 && x82 >= 0 && xac >= 0));
    const ids euro = {e2, x82, xac};
    const auto pieces = stream_pieces(t, euro);
    CHECK(pieces == std::vector<std::string>{"", "", "\xE2\x82\xAC", ""});
    // The leading space SentencePiece added is dropped once, at the start.
    const ids hello = *t.encode("hello hello", false, false);
    CHECK(joined(stream_pieces(t, hello)) == "hello hello");
    CHECK(stream_pieces(t, hello)[0].front() != ' ');
  }

  TEST_CASE("the stream equals decode() for valid text (SentencePiece's random cases)") {
    const llm::tokenizer t = spm_bytes();
    const auto lines = test::split_lines(test::must_read(test::source_path("tests/llm/tokenizer_data/spm_bytes.cases")));
    for (std::size_t i = 1; i < lines.size(); i += 3) {
      const ids tokens = test::parse_ids(lines[i]);
      CHECK(joined(stream_pieces(t, tokens)) == t.decode(tokens));
    }
  }

  TEST_CASE("byte-level BPE: characters cut between tokens, invalid bytes as U+FFFD") {
    const llm::tokenizer t = bytes_bpe();
    const std::string text = "a\xE2\x82\xAC\xF0\x9F\xA6\x99 ab";
    const ids tokens = *t.encode(text, false, false);
    CHECK(t.decode(tokens) == text);
    const auto pieces = stream_pieces(t, tokens);
    CHECK(joined(pieces) == text);
    CHECK(pieces[1].empty());  // 0xE2 alone
    CHECK(pieces[3] == "\xE2\x82\xAC");
    // Bytes that can never be valid go out at once as U+FFFD; an unfinished character at the
    // end does at finish().
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(stream_pieces(t, ids{0xFF, 'a'}) == std::vector<std::string>{fffd, "a", ""});
    CHECK(stream_pieces(t, ids{0xE2, 0x82}) == std::vector<std::string>{"", "", fffd + fffd});
    CHECK(stream_pieces(t, ids{0xE2, 'a'}) == std::vector<std::string>{"", fffd + "a", ""});
    CHECK(stream_pieces(t, ids{0xED, 0xA0}) == std::vector<std::string>{"", fffd + fffd, ""});  // a surrogate's start
    CHECK(t.decode(ids{0xFF, 'a'}) == "\xFF" "a");  // decode itself keeps the bytes
  }

  TEST_CASE("generation_stream: stop strings across tokens are not emitted") {
    const llm::tokenizer t = bytes_bpe();
    const auto run = [&](const std::string& generated, llm::stream_options options, std::vector<std::string>* seen = nullptr) {
      llm::generation_stream s(t, std::move(options), [&](std::string_view text, std::int32_t) {
        if (seen) seen->emplace_back(text);
        return true;
      });
      llm::stop_reason r = llm::stop_reason::none;
      for (unsigned char c : generated) {
        r = s.push(c);  // one token per byte
        if (r != llm::stop_reason::none) break;
      }
      if (r == llm::stop_reason::none) r = s.finish();
      return std::make_pair(s.text(), r);
    };
    std::vector<std::string> seen;
    auto [text, reason] = run("Hello <END> world", {.stop_strings = {"<END>", "xyz"}}, &seen);
    CHECK(text == "Hello ");
    CHECK(reason == llm::stop_reason::stop_string);
    for (const std::string& piece : seen) CHECK(piece.find('<') == std::string::npos);
    // A prefix of a stop string that does not complete is released.
    std::tie(text, reason) = run("a <EN b <END", {.stop_strings = {"<END>"}});
    CHECK(text == "a <EN b <END");
    CHECK(reason == llm::stop_reason::none);
    // A stop string inside a multi-byte character's bytes still matches on whole text.
    std::tie(text, reason) = run("price: 5\xE2\x82\xAC.", {.stop_strings = {"\xE2\x82\xAC"}});
    CHECK(text == "price: 5");
    // The token limit, and the earliest of several stop strings.
    std::tie(text, reason) = run("abcdefgh", {.max_tokens = 3});
    CHECK(text == "abc");
    CHECK(reason == llm::stop_reason::max_tokens);
    std::tie(text, reason) = run("one two three", {.stop_strings = {"three", "two"}});
    CHECK(text == "one ");
  }

  TEST_CASE("generation_stream: end of generation and cancellation") {
    const llm::tokenizer t = bytes_bpe();
    llm::generation_stream s(t, {});
    CHECK(s.push('h') == llm::stop_reason::none);
    CHECK(s.push(0xE2) == llm::stop_reason::none);
    CHECK(s.push(256) == llm::stop_reason::end_of_generation);
    CHECK(s.text() == "h\xEF\xBF\xBD");  // the unfinished character is flushed as U+FFFD
    CHECK(s.push('x') == llm::stop_reason::end_of_generation);
    int calls = 0;
    llm::generation_stream c(t, {}, [&](std::string_view, std::int32_t) { return ++calls < 2; });
    CHECK(c.push('a') == llm::stop_reason::none);
    CHECK(c.push('b') == llm::stop_reason::cancelled);
    CHECK(c.text() == "ab");
  }
}
