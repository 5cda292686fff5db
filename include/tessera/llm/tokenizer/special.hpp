// Tokenizer part: special tokens found in the text before the model's own splitting.
// Control and unknown tokens are found only when parsing specials is asked for; user-defined
// tokens always (as Hugging Face and llama.cpp do: they are the added tokens of a vocabulary,
// e.g. GPT-NeoX's runs of spaces). Longer tokens are taken first over the whole text, then the
// shorter ones in what remains (llama.cpp's order, which its conformance data relies on). A
// token marked lstrip/rstrip also takes the white space to its left/right.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <algorithm>
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
  }

  void set_attributes(std::int32_t id, std::uint8_t attributes) {
    for (special_token& t : tokens_)
      if (t.id == id) t.attributes = attributes;
  }

  void split(const vocab& v, std::string_view text, bool parse_special, std::vector<fragment>& out, std::vector<fragment>& scratch) const {
    out.clear();
    if (text.empty()) return;
    out.push_back({no_token, 0, std::uint32_t(text.size())});
    // Byte pairs present in the text: a token with an absent pair cannot occur (a cheap
    // filter before searching the text for each of the hundreds of added tokens).
    std::bitset<65536> pairs;
    std::bitset<256> bytes;
    for (std::size_t i = 0; i < text.size(); ++i) {
      bytes.set(static_cast<std::uint8_t>(text[i]));
      if (i + 1 < text.size()) pairs.set(pair_of(text[i], text[i + 1]));
    }
    for (const special_token& st : tokens_) {
      const token_type t = v.type(st.id);
      if (!parse_special && t != token_type::user_defined) continue;
      const std::string_view s = v.text(st.id);
      if (s.size() > text.size() || !bytes.test(static_cast<std::uint8_t>(s[0]))) continue;
      bool possible = true;
      for (std::size_t i = 0; possible && i + 1 < s.size(); ++i) possible = pairs.test(pair_of(s[i], s[i + 1]));
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
};

}  // namespace tessera::llm::detail::tok
