// The Unicode the tokenizers need: strict UTF-8 decoding that keeps invalid bytes, general
// categories and White_Space (what the pre-tokenizer regexes call \p{L}, \p{N}, \p{P}, \s),
// simple lower-casing and canonical decomposition (BERT's lower-casing and accent stripping).
// The tables are generated from the Unicode Character Database (unicode_tables.hpp, by
// scripts/make_unicode_tables.py); nothing here is typed by hand.
//
// Invalid UTF-8 never stops a tokenizer: decode_utf8 returns each byte that does not start a
// valid sequence (a stray continuation byte, a truncated or overlong sequence, a surrogate,
// a value past U+10FFFF) as a unit of its own, classified like U+FFFD (a symbol, So), and the
// tokenizers keep its byte: byte-level BPE and SentencePiece's byte fallback encode it
// exactly, so decoding gives the input back byte for byte.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "tessera/llm/unicode_tables.hpp"

namespace tessera::llm::unicode {

using category = unicode_tables::category;

inline constexpr std::uint32_t replacement_character = 0xFFFD;
inline constexpr std::uint32_t max_code_point = 0x10FFFF;

// One unit of UTF-8 text: a code point and its bytes, or (valid == false) one byte that is
// not part of a valid sequence, with code_point = U+FFFD.
struct utf8_unit {
  std::uint32_t code_point = replacement_character;
  std::uint8_t length = 1;  // bytes: 1 to 4
  bool valid = false;
};

// Decodes the unit at text[pos] (pos < text.size()). Strict: overlong forms, surrogates and
// values above U+10FFFF are invalid, as are truncated sequences; each then yields one byte.
inline utf8_unit decode_utf8(std::string_view text, std::size_t pos) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t b0 = byte(pos);
  if (b0 < 0x80) return {b0, 1, true};
  std::uint32_t cp = 0;
  std::uint8_t n = 0;
  std::uint32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) { cp = b0 & 0x1Fu; n = 2; min = 0x80; }
  else if ((b0 & 0xF0) == 0xE0) { cp = b0 & 0x0Fu; n = 3; min = 0x800; }
  else if ((b0 & 0xF8) == 0xF0) { cp = b0 & 0x07u; n = 4; min = 0x10000; }
  else return {};
  if (text.size() - pos < n) return {};
  for (std::uint8_t i = 1; i < n; ++i) {
    const std::uint8_t b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > max_code_point || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, n, true};
}

// Bytes of the UTF-8 sequence a lead byte announces (1 for ASCII and for bytes that cannot lead).
inline std::size_t utf8_sequence_length(std::uint8_t lead) noexcept {
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Appends cp (<= U+10FFFF; surrogates are written as their 3-byte form) as UTF-8.
inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// How many bytes at the end of `text` are the start of a UTF-8 sequence that is not complete
// yet (0 to 3): a stream must hold them back until the rest arrives.
inline std::size_t incomplete_utf8_tail(std::string_view text) noexcept {
  const std::size_t n = text.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = static_cast<std::uint8_t>(text[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back for the lead
    const std::size_t want = utf8_sequence_length(b);
    if (want <= back) return 0;
    // A lead byte with too few continuation bytes after it: held only if what is there can
    // still become a valid sequence (else the bytes are invalid for good and go out as they are).
    const std::uint8_t b1 = back > 1 ? static_cast<std::uint8_t>(text[n - back + 1]) : 0x80;
    if (b == 0xE0 && back > 1 && b1 < 0xA0) return 0;  // overlong
    if (b == 0xED && back > 1 && b1 > 0x9F) return 0;  // surrogate
    if (b == 0xF0 && back > 1 && b1 < 0x90) return 0;  // overlong
    if (b == 0xF4 && back > 1 && b1 > 0x8F) return 0;  // above U+10FFFF
    if (b == 0xC0 || b == 0xC1 || b > 0xF4) return 0;  // can never be valid
    return back;
  }
  return 0;
}

namespace detail {

inline category category_by_search(std::uint32_t cp) noexcept {
  const auto& runs = unicode_tables::category_runs;
  // The last run whose first code point is <= cp.
  const std::uint32_t key = (cp << 5) | 31u;
  const auto* it = std::upper_bound(std::begin(runs), std::end(runs), key);
  return static_cast<category>(*(it - 1) & 31u);
}

// The Basic Multilingual Plane's categories, one byte each, built once on first use (64 KiB):
// most text never leaves the BMP, and a lookup there is then one load.
struct bmp_categories {
  std::array<std::uint8_t, 0x10000> table{};
  bmp_categories() {
    const auto& runs = unicode_tables::category_runs;
    const std::size_t n = std::size(runs);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t first = runs[i] >> 5;
      if (first >= 0x10000) break;
      const std::uint32_t end = i + 1 < n ? std::min<std::uint32_t>(runs[i + 1] >> 5, 0x10000) : 0x10000;
      std::fill(table.begin() + first, table.begin() + end, static_cast<std::uint8_t>(runs[i] & 31u));
    }
  }
};

inline const bmp_categories& bmp() {
  static const bmp_categories tables;
  return tables;
}

}  // namespace detail

inline category general_category(std::uint32_t cp) noexcept {
  if (cp < 0x10000) return static_cast<category>(detail::bmp().table[cp]);
  if (cp > max_code_point) return category::cn;
  return detail::category_by_search(cp);
}

inline bool is_white_space(std::uint32_t cp) noexcept {
  if (cp < 0x80) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  for (const auto& r : unicode_tables::white_space_ranges)
    if (cp >= r[0] && cp <= r[1]) return true;
  return false;
}

inline bool is_letter(category c) noexcept { return c <= category::lo; }
inline bool is_mark(category c) noexcept { return c >= category::mn && c <= category::me; }
inline bool is_number(category c) noexcept { return c >= category::nd && c <= category::no; }
inline bool is_punctuation(category c) noexcept { return c >= category::pc && c <= category::po; }
inline bool is_symbol(category c) noexcept { return c >= category::sm && c <= category::so; }
inline bool is_separator(category c) noexcept { return c >= category::zs && c <= category::zp; }
inline bool is_other(category c) noexcept { return c >= category::cc; }

// The character classes the pre-tokenizers test, as bits of one byte per code point.
enum char_class : std::uint8_t {
  class_letter = 1, class_number = 2, class_punctuation = 4, class_symbol = 8,
  class_mark = 16, class_white_space = 32, class_other = 64,
};

inline std::uint8_t classify(std::uint32_t cp) noexcept {
  const category c = general_category(cp);
  std::uint8_t bits = 0;
  if (is_letter(c)) bits |= class_letter;
  else if (is_number(c)) bits |= class_number;
  else if (is_punctuation(c)) bits |= class_punctuation;
  else if (is_symbol(c)) bits |= class_symbol;
  else if (is_mark(c)) bits |= class_mark;
  else bits |= class_other;
  if (is_white_space(cp)) bits |= class_white_space;
  return bits;
}

// The simple (one code point) lower-case mapping; cp itself when it has none.
inline std::uint32_t to_lower(std::uint32_t cp) noexcept {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  const auto& runs = unicode_tables::lowercase_runs;
  const auto* it = std::upper_bound(std::begin(runs), std::end(runs), cp,
                                    [](std::uint32_t c, const unicode_tables::lowercase_run& r) { return c < r.first; });
  if (it == std::begin(runs)) return cp;
  const auto& r = *(it - 1);
  if (cp > r.last || (cp - r.first) % r.stride != 0) return cp;
  return static_cast<std::uint32_t>(static_cast<std::int64_t>(cp) + r.delta);
}

// Appends the full canonical decomposition of cp (recursively; Hangul syllables into their
// jamo) to out, cp itself when it has none. Combining marks are not reordered: callers that
// drop the marks (accent stripping) do not need the canonical order.
template <class Out>
void append_canonical_decomposition(Out& out, std::uint32_t cp) {
  constexpr std::uint32_t s_base = 0xAC00, l_base = 0x1100, v_base = 0x1161, t_base = 0x11A7;
  constexpr std::uint32_t v_count = 21, t_count = 28, s_count = 19 * v_count * t_count;
  if (cp >= s_base && cp < s_base + s_count) {
    const std::uint32_t s = cp - s_base;
    out.push_back(l_base + s / (v_count * t_count));
    out.push_back(v_base + (s % (v_count * t_count)) / t_count);
    if (s % t_count) out.push_back(t_base + s % t_count);
    return;
  }
  const auto& table = unicode_tables::canonical_decompositions;
  const auto* it = std::lower_bound(std::begin(table), std::end(table), cp,
                                    [](const unicode_tables::decomposition& d, std::uint32_t c) { return d.code_point < c; });
  if (it == std::end(table) || it->code_point != cp) {
    out.push_back(cp);
    return;
  }
  append_canonical_decomposition(out, it->first);  // depth <= 4 in every Unicode version
  if (it->second) append_canonical_decomposition(out, it->second);
}

}  // namespace tessera::llm::unicode
