// Helpers shared by the tokenizer tests: files, vocabularies from GGUF, id lists.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <span>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "support/harness.hpp"
#include "tessera/io/gguf.hpp"
#include "tessera/io/gguf_writer.hpp"
#include "tessera/llm/tokenizer.hpp"

namespace tessera::test {

inline std::optional<std::string> read_text_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  std::string s;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

// A committed fixture: its absence is a broken checkout, reported before anything uses it
// (REQUIRE does not stop a test in this build without exceptions).
inline std::string must_read(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) {
    std::fprintf(stderr, "cannot read the fixture %s\n", path.c_str());
    std::abort();
  }
  return *text;
}

// A tokenizer and the mapped file it was read from.
struct loaded_tokenizer {
  io::mapped_gguf file;
  llm::tokenizer tok;
};

inline expected<loaded_tokenizer> load_tokenizer(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(io::mapped_gguf file, io::open_gguf(path));
  TESSERA_ASSIGN_OR_RETURN(llm::tokenizer tok, llm::tokenizer::from_gguf(file.gguf));
  return loaded_tokenizer{std::move(file), std::move(tok)};
}

// "1 2 3" -> {1, 2, 3}
inline std::vector<std::int32_t> parse_ids(std::string_view line) {
  std::vector<std::int32_t> ids;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) ++pos;
    if (pos >= line.size()) break;
    std::int64_t v = 0;
    bool neg = false;
    if (line[pos] == '-') { neg = true; ++pos; }
    while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9') v = v * 10 + (line[pos++] - '0');
    ids.push_back(std::int32_t(neg ? -v : v));
  }
  return ids;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// "48690a" -> "Hi\n" (lower-case hex, as the fixture scripts write text)
inline std::string from_hex(const std::string& hex) {
  std::string out;
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  return out;
}

inline std::string ids_to_string(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (std::int32_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

// A vocabulary written as GGUF metadata with tessera's writer (the fields that are empty are
// left out), for tests that build small or broken vocabularies.
struct vocab_spec {
  std::string model = "gpt2";
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  std::vector<std::string> merges;
  std::string pre;
  std::vector<std::pair<std::string, std::uint32_t>> ids;  // "bos" -> tokenizer.ggml.bos_token_id
  std::vector<std::pair<std::string, bool>> flags;         // "add_bos_token" -> tokenizer.ggml.add_bos_token
};

inline std::vector<std::uint8_t> write_vocab(const vocab_spec& v) {
  io::gguf_writer w;
  const auto ok = [](const status& s) {
    if (!s.ok()) std::fprintf(stderr, "write_vocab: %s\n", s.what().c_str());
  };
  ok(w.set("tokenizer.ggml.model", std::string_view(v.model)));
  if (!v.tokens.empty()) ok(w.set_array("tokenizer.ggml.tokens", std::span<const std::string>(v.tokens)));
  if (!v.scores.empty()) ok(w.set_array("tokenizer.ggml.scores", std::span<const float>(v.scores)));
  if (!v.types.empty()) ok(w.set_array("tokenizer.ggml.token_type", std::span<const std::int32_t>(v.types)));
  if (!v.merges.empty()) ok(w.set_array("tokenizer.ggml.merges", std::span<const std::string>(v.merges)));
  if (!v.pre.empty()) ok(w.set("tokenizer.ggml.pre", std::string_view(v.pre)));
  for (const auto& [name, id] : v.ids) ok(w.set("tokenizer.ggml." + name + "_token_id", id));
  for (const auto& [name, flag] : v.flags) ok(w.set("tokenizer.ggml." + name, flag));
  return w.serialize();
}

inline expected<llm::tokenizer> make_tokenizer(const vocab_spec& v) {
  const std::vector<std::uint8_t> bytes = write_vocab(v);
  TESSERA_ASSIGN_OR_RETURN(io::gguf_file f, io::gguf_file::parse(bytes));
  return llm::tokenizer::from_gguf(f);
}

// The 256 byte-level tokens (GPT-2's spelling of each byte, in byte order), then `extra`.
inline std::vector<std::string> byte_level_tokens(std::initializer_list<const char*> extra = {}) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    const char c = static_cast<char>(b);
    llm::detail::tok::append_byte_level(s, std::string_view(&c, 1));
    tokens.push_back(s);
  }
  for (const char* e : extra) tokens.emplace_back(e);
  return tokens;
}

// The cases SentencePiece itself wrote for a vocabulary (three lines each: the text as hex,
// SentencePiece's ids without BOS, its decoding of them as hex): tessera's encoding of each
// text and its decoding of SentencePiece's ids must be the same.
inline void check_sentencepiece_cases(const std::string& gguf_path, const std::string& cases_path, const char* name) {
  auto loaded = load_tokenizer(gguf_path);
  REQUIRE_MESSAGE(loaded.ok(), loaded.what());
  const std::vector<std::string> lines = split_lines(must_read(cases_path));
  REQUIRE(lines.size() % 3 == 0);
  int encoded = 0, decoded = 0;
  const int n = int(lines.size() / 3);
  for (int i = 0; i < n; ++i) {
    const std::string text = from_hex(lines[std::size_t(3 * i)]);
    const std::vector<std::int32_t> want = parse_ids(lines[std::size_t(3 * i + 1)]);
    const std::string want_text = from_hex(lines[std::size_t(3 * i + 2)]);
    auto ids = loaded->tok.encode(text, false, false);
    REQUIRE(ids.ok());
    INFO("case " << i << " '" << text << "'\n  expected " << ids_to_string(want) << "\n  got      " << ids_to_string(*ids));
    CHECK(*ids == want);
    encoded += *ids == want;
    const std::string back = loaded->tok.decode(want);
    CHECK(back == want_text);
    decoded += back == want_text;
  }
  std::printf("tokenizer vs SentencePiece: %-9s encode %d/%d, decode %d/%d\n", name, encoded, n, decoded, n);
}

}  // namespace tessera::test
