// Helpers shared by the tokenizer tests: files, vocabularies from GGUF, id lists.
#pragma once

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

inline std::string source_path(std::string_view rel) { return std::string(TESSERA_SOURCE_DIR) + "/" + std::string(rel); }

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

}  // namespace tessera::test
