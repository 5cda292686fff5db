// Tokenizer part: special tokens found in the text before the model's own splitting.
// Control and unknown tokens are found only when parsing specials is asked for; user-defined
// tokens always (as Hugging Face and llama.cpp do: they are the added tokens of a vocabulary,
// e.g. GPT-NeoX's runs of spaces). Longer tokens are taken first over the whole text, then the
// shorter ones in what remains (llama.cpp's order, which its conformance data relies on). A
// token marked lstrip/rstrip also takes the white space to its left/right.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <bitset>
#include <cstdint>
#include <string_view>
#include <vector>

#include <tessera/llm/tokenizer/vocab.hpp>

namespace tessera::llm::detail::tok {

enum special_attribute : std::uint8_t { special_lstrip = 1, special_rstrip = 2 };

// A piece of the input: raw text [begin, end) or one token.
struct fragment {
  std::int32_t token;  // no_token for raw text
  std::uint32_t begin, end;
};

struct special_token {
  std::int32_t id;
  std::uint8_t attributes;
};

inline bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

class special_splitter {
 public:
  // The vocabulary's control, unknown and user-defined tokens, longest first.
  void build(const vocab& v) {
    tokens_.clear();
    for (std::int32_t id = 0; id < v.size(); ++id) {
      const token_type t = v.type(id);
      if (t == token_type::control || t == token_type::unknown || t == token_type::user_defined) tokens_.push_back({id, 0});
    }
    std::stable_sort(tokens_.begin(), tokens_.end(),
                     [&](const special_token& a, const special_token& b) { return v.text(a.id).size() > v.text(b.id).size(); });
    for (auto& list : by_first_byte_) list.clear();
    for (std::uint32_t i = 0; i < tokens_.size(); ++i) by_first_byte_[static_cast<std::uint8_t>(v.text(tokens_[i].id)[0])].push_back(i);
  }

  void set_attributes(std::int32_t id, std::uint8_t attributes) {
    for (special_token& t : tokens_)
      if (t.id == id) t.attributes = attributes;
  }

  void split(const vocab& v, std::string_view text, bool parse_special, std::vector<fragment>& out, std::vector<fragment>& scratch) const {
    out.clear();
    if (text.empty()) return;
    out.push_back({no_token, 0, std::uint32_t(text.size())});
    // Only tokens whose first byte occurs can occur (vocabularies add hundreds of tokens, a
    // chat line is short); in a long text, also every byte pair of the token must occur.
    std::bitset<256> bytes;
    for (char c : text) bytes.set(static_cast<std::uint8_t>(c));
    std::vector<std::uint32_t> candidates;
    for (std::size_t b = 0; b < 256; ++b)
      if (bytes.test(b)) candidates.insert(candidates.end(), by_first_byte_[b].begin(), by_first_byte_[b].end());
    if (candidates.empty()) return;
    std::sort(candidates.begin(), candidates.end());  // back to longest first
    std::unique_ptr<std::bitset<65536>> pairs;
    if (text.size() > 4096) {
      pairs = std::make_unique<std::bitset<65536>>();
      for (std::size_t i = 0; i + 1 < text.size(); ++i) pairs->set(pair_of(text[i], text[i + 1]));
    }
    for (std::uint32_t index : candidates) {
      const special_token& st = tokens_[index];
      const token_type t = v.type(st.id);
      if (!parse_special && t != token_type::user_defined) continue;
      const std::string_view s = v.text(st.id);
      if (s.size() > text.size()) continue;
      bool possible = true;
      for (std::size_t i = 0; pairs && possible && i + 1 < s.size(); ++i) possible = pairs->test(pair_of(s[i], s[i + 1]));
      if (!possible) continue;
      scratch.clear();
      for (const fragment& f : out) {
        if (f.token != no_token) {
          scratch.push_back(f);
          continue;
        }
        std::uint32_t begin = f.begin;
        while (begin < f.end) {
          const std::size_t at = text.substr(0, f.end).find(s, begin);
          if (at == std::string_view::npos) break;
          std::uint32_t left_end = std::uint32_t(at);
          std::uint32_t right_begin = std::uint32_t(at + s.size());
          if (st.attributes & special_lstrip)
            while (left_end > begin && is_ascii_space(text[left_end - 1])) --left_end;
          if (st.attributes & special_rstrip)
            while (right_begin < f.end && is_ascii_space(text[right_begin])) ++right_begin;
          if (left_end > begin) scratch.push_back({no_token, begin, left_end});
          scratch.push_back({st.id, std::uint32_t(at), std::uint32_t(at + s.size())});
          begin = right_begin;
        }
        if (begin < f.end) scratch.push_back({no_token, begin, f.end});
      }
      out.swap(scratch);
    }
  }

 private:
  static std::size_t pair_of(char a, char b) { return (std::size_t(static_cast<std::uint8_t>(a)) << 8) | static_cast<std::uint8_t>(b); }

  std::vector<special_token> tokens_;
  std::array<std::vector<std::uint32_t>, 256> by_first_byte_;  // indexes into tokens_
};

}  // namespace tessera::llm::detail::tok
