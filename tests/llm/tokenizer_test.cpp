// The tokenizers on small vocabularies written here (expected ids worked out by hand from
// each algorithm's rules), hostile vocabularies, invalid UTF-8, special tokens, and round
// trips on the conformance vocabularies when ../shared is present.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tokenizer_support.hpp"

namespace {

using namespace tessera;
using test::vocab_spec;
using ids = std::vector<std::int32_t>;

// 256 byte tokens, then ll=256 he=257 hell=258 lo=259 hello=260 <|endoftext|>=261 <tool>=262.
vocab_spec hello_bpe(std::vector<std::string> merges) {
  vocab_spec v;
  v.tokens = test::byte_level_tokens({"ll", "he", "hell", "lo", "hello", "<|endoftext|>", "<tool>"});
  v.types.assign(v.tokens.size(), 1);
  v.types[261] = 3;
  v.types[262] = 4;
  v.merges = std::move(merges);
  v.pre = "gpt-2";
  v.ids = {{"bos", 261}, {"eos", 261}};
  return v;
}

ids encode(const llm::tokenizer& t, std::string_view text, bool add_special = false, bool parse_special = false) {
  auto r = t.encode(text, add_special, parse_special);
  REQUIRE_MESSAGE(r.ok(), r.what());
  return *r;
}

}  // namespace

TEST_SUITE("llm/tokenizer") {
  TEST_CASE("byte-level BPE merges the lowest rank first") {
    auto t = test::make_tokenizer(hello_bpe({"l l", "h e", "he ll", "l o", "hell o"}));
    REQUIRE_MESSAGE(t.ok(), t.what());
    CHECK(encode(*t, "hello") == ids{260});
    CHECK(encode(*t, "hello hello") == ids{260, 32, 260});  // " hello" is one pre-token: 'Ġ' has no merge
    // "l o" ranked before "l l": h e l lo -> he l lo, and nothing more merges.
    auto u = test::make_tokenizer(hello_bpe({"l o", "l l", "h e", "he ll", "hell o"}));
    REQUIRE(u.ok());
    CHECK(encode(*u, "hello") == ids{257, 'l', 259});
    CHECK(t->decode(encode(*t, "hello hello")) == "hello hello");
  }

  TEST_CASE("byte-level BPE keeps invalid UTF-8 byte for byte") {
    auto t = test::make_tokenizer(hello_bpe({"l l", "h e"}));
    REQUIRE(t.ok());
    const std::string raw = "\xFF\xFE" "a\xE2\x82 \xC0\x80\xED\xA0\x80 he\xF4\x90\x80\x80";
    const ids got = encode(*t, raw);
    CHECK(t->decode(got) == raw);
    for (std::int32_t id : got) CHECK(id < 256 + 2);  // byte tokens and "he"
  }

  TEST_CASE("special tokens: control ones only when parsed, user-defined ones always; BOS/EOS per metadata") {
    vocab_spec v = hello_bpe({"l l", "h e", "he ll", "hell o"});
    v.flags = {{"add_bos_token", true}, {"add_eos_token", true}};
    auto t = test::make_tokenizer(v);
    REQUIRE(t.ok());
    CHECK(encode(*t, "hello<|endoftext|>", false, true) == ids{260, 261});
    const ids plain = encode(*t, "hello<|endoftext|>", false, false);
    CHECK(plain.size() > 2);
    CHECK(std::find(plain.begin(), plain.end(), 261) == plain.end());
    CHECK(encode(*t, "hello<tool>hello", false, false) == ids{260, 262, 260});
    CHECK(encode(*t, "hello", true, false) == ids{261, 260, 261});
    CHECK(t->is_eog(261));
    CHECK_FALSE(t->is_eog(260));
    CHECK(t->decode(ids{260, 261}) == "hello");
    CHECK(t->decode(ids{260, 261}, true) == "hello<|endoftext|>");
    CHECK(t->token_to_piece(262) == "<tool>");
  }

  TEST_CASE("SentencePiece: highest score first, unused pieces split back, byte fallback or one unknown per run") {
    vocab_spec v;
    v.model = "llama";
    v.tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "ab", "\xE2\x96\x81" "ab", "abab", "<0x63>"};
    v.scores = {0, 0, 0, -5, -5, -5, -1, -2, -0.5f, 0};
    v.types = {2, 3, 3, 1, 1, 1, 1, 1, 5, 6};
    v.ids = {{"bos", 1}, {"eos", 2}, {"unknown", 0}};
    auto t = test::make_tokenizer(v);
    REQUIRE_MESSAGE(t.ok(), t.what());
    // ▁ a b a b: ab (leftmost of the two) -> ab again -> abab (unused, -0.5 beats ▁ab's -2) -> split back.
    CHECK(encode(*t, "abab") == ids{3, 6, 6});
    CHECK(encode(*t, "ab") == ids{7});
    CHECK(encode(*t, "abab", true) == ids{1, 3, 6, 6});  // add_bos_token defaults to true for SentencePiece
    // 'c' has a byte token; 'x' and 'y' have neither: one unknown for the run.
    CHECK(encode(*t, "abcxyb") == ids{7, 9, 0, 5});
    CHECK(t->decode(ids{7, 9, 0, 5}) == "abc \xE2\x81\x87 b");
    CHECK(t->decode(encode(*t, " ab a")) == " ab a");
  }

  TEST_CASE("WordPiece: BERT's splitting, greedy longest match, cased and uncased vocabularies") {
    vocab_spec cased;
    cased.model = "bert";
    cased.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "Hello", "##lo", "Hel", "world", "!", ",", "un", "##aff", "##able", "##a"};
    cased.types = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    cased.ids = {{"unknown", 1}, {"cls", 2}, {"seperator", 3}};
    auto t = test::make_tokenizer(cased);
    REQUIRE_MESSAGE(t.ok(), t.what());
    CHECK(encode(*t, "Hello, unaffable world!", true) == ids{2, 4, 9, 10, 11, 12, 7, 8, 3});
    CHECK(encode(*t, "hello") == ids{1});       // cased: no lower-casing
    CHECK(encode(*t, "unaffablex") == ids{1});  // one piece missing: the whole word is unknown
    CHECK(t->decode(ids{4, 9, 10, 11, 12, 7}) == "Hello , unaffable world");
    CHECK(encode(*t, std::string(101, 'a')) == ids{1});  // longer than 100 characters

    vocab_spec uncased;
    uncased.model = "bert";
    uncased.tokens = {"[UNK]", "[CLS]", "[SEP]", "\xE2\x96\x81" "cafe", "\xE2\x96\x81" "naive", "\xE2\x96\x81" "\xE4\xB8\xAD", "s",
                      "\xE2\x96\x81" "\xE1\x84\x80", "\xE1\x85\xA1"};
    uncased.types = {3, 3, 3, 1, 1, 1, 1, 1, 1};
    uncased.ids = {{"unknown", 0}, {"cls", 1}, {"seperator", 2}};
    auto u = test::make_tokenizer(uncased);
    REQUIRE_MESSAGE(u.ok(), u.what());
    // "Café" and "NAÏVE" lower-cased and stripped of accents (also a decomposed é), 中 alone,
    // 가 decomposed into its jamo.
    CHECK(encode(*u, "Caf\xC3\xA9s NA\xC3\x8FVE cafe\xCC\x81 \xE4\xB8\xAD\xE4\xB8\xAD \xEA\xB0\x80") == ids{3, 6, 4, 3, 5, 5, 7, 8});
    CHECK(u->decode(ids{3, 6, 4}) == "cafes naive");
  }

  TEST_CASE("hostile vocabularies are errors that name the problem") {
    const auto base = [] { return hello_bpe({"l l", "h e"}); };
    struct bad_case {
      const char* what;
      vocab_spec spec;
      const char* message;
    };
    std::vector<bad_case> cases;
    { auto v = base(); v.tokens.clear(); v.types.clear(); cases.push_back({"no tokens", v, "no tokenizer.ggml.tokens"}); }
    { auto v = base(); v.tokens[5] = ""; cases.push_back({"an empty token", v, "tokens[5] is empty"}); }
    { auto v = base(); v.types[7] = 9; cases.push_back({"a bad type", v, "token_type[7] is 9"}); }
    { auto v = base(); v.scores.assign(3, 0.0f); cases.push_back({"too few scores", v, "3 entries for 263 tokens"}); }
    { auto v = base(); v.scores.assign(263, 0.0f); v.scores[4] = std::nanf(""); cases.push_back({"a NaN score", v, "scores[4] is NaN"}); }
    { auto v = base(); v.merges.clear(); cases.push_back({"no merges", v, "needs tokenizer.ggml.merges"}); }
    { auto v = base(); v.merges.push_back("hl"); cases.push_back({"a merge without a space", v, "'hl' is not two tokens"}); }
    { auto v = base(); v.merges.push_back("h zz"); cases.push_back({"a merge of an unknown token", v, "'zz' is not a token"}); }
    { auto v = base(); v.merges.push_back("e o"); cases.push_back({"a merge whose result is no token", v, "'eo' is not a token"}); }
    { auto v = base(); v.ids = {{"bos", 99999}}; cases.push_back({"an id out of range", v, "bos_token_id is 99999, outside the 263-token"}); }
    { auto v = base(); v.model = "t5"; cases.push_back({"an unknown model", v, "'t5' (supported"}); }
    { auto v = base(); v.pre = "nonsense"; cases.push_back({"an unknown pre-tokenizer", v, "'nonsense' (tokenizer.ggml.pre) is unknown"}); }
    { auto v = base(); v.ids.clear(); v.flags = {{"add_bos_token", true}}; cases.push_back({"BOS asked for but absent", v, "no bos_token_id"}); }
    for (const bad_case& c : cases) {
      CAPTURE(c.what);
      auto t = test::make_tokenizer(c.spec);
      REQUIRE_FALSE(t.ok());
      CHECK_MESSAGE(t.err().message.find(c.message) != std::string::npos, t.err().message);
    }
  }

  TEST_CASE("a huge declared token count is refused before anything is allocated") {
    std::vector<std::uint8_t> bytes = test::write_vocab(hello_bpe({"l l"}));
    const std::string key = "tokenizer.ggml.tokens";
    auto at = std::search(bytes.begin(), bytes.end(), key.begin(), key.end());
    REQUIRE(at != bytes.end());
    if (at == bytes.end()) return;
    const std::size_t count_at = std::size_t(at - bytes.begin()) + key.size() + 4 + 4;  // value type, element type
    const std::uint64_t huge = std::uint64_t{1} << 40;
    std::memcpy(bytes.data() + count_at, &huge, 8);
    auto f = io::gguf_file::parse(bytes);
    CHECK_FALSE(f.ok());
  }

  TEST_CASE("conformance vocabularies: round trips, BOS, parsed specials (when ../shared is present)") {
    const std::string dir = test::source_path("../shared/conformance/llama-vocab/");
    const auto inputs = test::read_text_file(dir + "ggml-vocab-gpt-2.gguf.inp");
    if (!inputs) {
      MESSAGE("../shared/conformance/llama-vocab is absent: skipped");
      return;
    }
    // Valid text comes back from every vocabulary; invalid bytes from those that have a token
    // (or byte fallback) for every byte: falcon's and mpt's lack 0xFF, which is dropped.
    const std::string invalid = "\xFF\xC3 stray \x80 bytes \xF0\x9F\xA6";
    for (const char* name : {"gpt-2", "llama-spm", "phi-3", "falcon", "deepseek-llm", "deepseek-coder", "mpt", "starcoder", "refact", "bert-bge"}) {
      CAPTURE(name);
      auto t = test::load_tokenizer(dir + "ggml-vocab-" + name + ".gguf");
      REQUIRE(t.ok());
      if (std::string_view(name) == "bert-bge") {  // WordPiece is lossy; its decode must not fail
        CHECK_FALSE(t->tok.decode(encode(t->tok, *inputs + invalid)).empty());
        continue;
      }
      CHECK(t->tok.decode(encode(t->tok, *inputs)) == *inputs);
      const bool all_bytes = std::string_view(name) == "gpt-2" || std::string_view(name).substr(0, 5) == "llama" || std::string_view(name) == "phi-3";
      if (all_bytes) CHECK(t->tok.decode(encode(t->tok, *inputs + invalid)) == *inputs + invalid);
    }
    auto spm = test::load_tokenizer(dir + "ggml-vocab-llama-spm.gguf");
    REQUIRE(spm.ok());
    CHECK(encode(spm->tok, "Hello", true) == ids{1, 15043});
    CHECK(encode(spm->tok, "<s>Hello</s>", false, true) == ids{1, 15043, 2});
    CHECK(spm->tok.is_eog(2));
    CHECK(spm->tok.token_to_piece(13) == "\n");  // <0x0A>
    auto gpt2 = test::load_tokenizer(dir + "ggml-vocab-gpt-2.gguf");
    REQUIRE(gpt2.ok());
    CHECK(encode(gpt2->tok, "Hello<|endoftext|>", false, true) == ids{15496, 50256});
    CHECK(gpt2->tok.eos() == 50256);
    CHECK(gpt2->tok.is_eog(50256));
  }
}
