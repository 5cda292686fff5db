// Helpers shared by the tokenizer tests: files, vocabularies from GGUF, id lists.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/io/gguf.hpp"
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

}  // namespace tessera::test
