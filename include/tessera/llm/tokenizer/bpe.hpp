// Tokenizer part: byte-level BPE (GPT-2's scheme). Text bytes are spelled as printable code
// points (GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, the
// others map to U+0100 and up in byte order), so every byte has a token and decoding gives
// the exact bytes back. A pre-token starts as one symbol per byte and merges by rank, lowest
// first (the leftmost of equal ranks first), until no adjacent pair has a merge.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/llm/tokenizer/vocab.hpp>
#include <tessera/llm/unicode.hpp>

namespace tessera::llm::detail::tok {

struct byte_level_table {
  std::array<std::uint16_t, 256> code_point{};  // byte -> code point
  std::array<std::int16_t, 324> byte{};         // code point (< 324) -> byte, -1 if none

  byte_level_table() {
    byte.fill(-1);
    std::uint16_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      code_point[std::size_t(b)] = printable ? std::uint16_t(b) : next++;
      byte[code_point[std::size_t(b)]] = std::int16_t(b);
    }
  }
};

inline const byte_level_table& byte_level() {
  static const byte_level_table table;
  return table;
}

// Appends the byte-level spelling of bytes.
inline void append_byte_level(std::string& out, std::string_view bytes) {
  const byte_level_table& t = byte_level();
  for (char c : bytes) unicode::append_utf8(out, t.code_point[static_cast<std::uint8_t>(c)]);
}

// Appends the bytes a byte-level spelling stands for; code points outside the table are
// copied as UTF-8 (a vocabulary's token that is not byte-level, kept rather than lost).
inline void append_byte_level_decoded(std::string& out, std::string_view text) {
  const byte_level_table& t = byte_level();
  for (std::size_t pos = 0; pos < text.size();) {
    const unicode::utf8_unit u = unicode::decode_utf8(text, pos);
    if (u.valid && u.code_point < t.byte.size() && t.byte[u.code_point] >= 0) out += static_cast<char>(t.byte[u.code_point]);
    else out.append(text.substr(pos, u.length));
    pos += u.length;
  }
}

class bpe_encoder {
 public:
  // byte_tokens[b]: the token of byte b's byte-level spelling, or no_token.
  explicit bpe_encoder(const std::array<std::int32_t, 256>& byte_tokens) : byte_tokens_(byte_tokens) {}

  // Appends the tokens of one pre-token (raw bytes). A byte without a token is dropped, as
  // llama.cpp does; byte-level vocabularies have all 256.
  void encode_word(const vocab& v, std::string_view word, bool ignore_merges, std::vector<std::int32_t>& out) {
    if (word.empty()) return;
    if (ignore_merges) {
      spelled_.clear();
      append_byte_level(spelled_, word);
      const std::int32_t whole = v.find(spelled_);
      if (whole != no_token) {
        out.push_back(whole);
        return;
      }
    }
    const std::int32_t n = std::int32_t(word.size());
    symbols_.resize(std::size_t(n));
    for (std::int32_t i = 0; i < n; ++i)
      symbols_[std::size_t(i)] = {byte_tokens_[static_cast<std::uint8_t>(word[std::size_t(i)])], i - 1, i + 1 < n ? i + 1 : -1};
    heap_.clear();
    for (std::int32_t i = 0; i + 1 < n; ++i) push_pair(v, i, i + 1);
    while (!heap_.empty()) {
      const candidate c = pop_top(heap_, later);
      symbol& l = symbols_[std::size_t(c.left)];
      symbol& r = symbols_[std::size_t(c.right)];
      // Stale: a side merged since (ids change on every merge; a merged-away symbol is -2).
      if (l.id != c.left_id || r.id != c.right_id || l.next != c.right) continue;
      l.id = c.result;
      l.next = r.next;
      if (r.next >= 0) symbols_[std::size_t(r.next)].prev = c.left;
      r.id = -2;
      if (l.prev >= 0) push_pair(v, l.prev, c.left);
      if (l.next >= 0) push_pair(v, c.left, l.next);
    }
    for (std::int32_t i = 0; i >= 0; i = symbols_[std::size_t(i)].next)
      if (symbols_[std::size_t(i)].id >= 0) out.push_back(symbols_[std::size_t(i)].id);
  }

 private:
  struct symbol {
    std::int32_t id;  // token, no_token for a byte without one
    std::int32_t prev, next;
  };
  struct candidate {
    std::uint32_t rank;
    std::int32_t left, right;
    std::int32_t left_id, right_id, result;
  };
  // Heap order: the top is the lowest rank, then the leftmost.
  static bool later(const candidate& a, const candidate& b) { return a.rank != b.rank ? a.rank > b.rank : a.left > b.left; }

  void push_pair(const vocab& v, std::int32_t left, std::int32_t right) {
    const std::int32_t a = symbols_[std::size_t(left)].id, b = symbols_[std::size_t(right)].id;
    if (a < 0 || b < 0) return;
    const merge_entry* m = v.find_merge(a, b);
    if (!m) return;
    heap_.push_back({m->rank, left, right, a, b, m->result});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  const std::array<std::int32_t, 256>& byte_tokens_;
  std::vector<symbol> symbols_;
  std::vector<candidate> heap_;
  std::string spelled_;
};

}  // namespace tessera::llm::detail::tok
