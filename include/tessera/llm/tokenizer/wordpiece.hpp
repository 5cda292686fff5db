// Tokenizer part: WordPiece ("bert" vocabularies). BERT's basic tokenization first: control
// characters, U+0000 and U+FFFD are dropped, white space separates words, each punctuation
// character (Unicode P, and the ASCII symbols BERT counts as punctuation) and each CJK
// ideograph is a word of its own; an uncased vocabulary also lower-cases and strips accents
// (canonical decomposition, then combining marks Mn dropped). Then each word is matched
// greedily, longest token first, from its start; a word with a character no token covers,
// or longer than 100 characters (BERT's max_input_chars_per_word), is one unknown token.
//
// Word pieces are spelled two ways in GGUF files: llama.cpp's converter writes word starts as
// "▁word" and continuations bare; BERT's own vocab.txt writes starts bare and continuations
// "##piece". The loader detects which (wordpiece_spelling) from the vocabulary.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/llm/tokenizer/vocab.hpp>
#include <tessera/llm/unicode.hpp>

namespace tessera::llm::detail::tok {

enum class wordpiece_spelling : std::uint8_t {
  phantom_space,    // "▁word" starts a word, continuations are bare
  hash_continuation,  // "word" starts a word, "##piece" continues it
};

inline constexpr std::size_t wordpiece_max_word_chars = 100;

// BERT's CJK ideograph blocks (its tokenizer's _is_chinese_char ranges).
inline bool bert_cjk(std::uint32_t cp) noexcept {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

class wordpiece_encoder {
 public:
  wordpiece_encoder(wordpiece_spelling spelling, bool uncased, std::int32_t unk) : spelling_(spelling), uncased_(uncased), unk_(unk) {}

  void encode(const vocab& v, std::string_view text, std::vector<std::int32_t>& out) {
    word_.clear();
    word_chars_ = 0;
    for (std::size_t pos = 0; pos < text.size();) {
      const unicode::utf8_unit u = unicode::decode_utf8(text, pos);
      pos += u.length;
      if (!u.valid) continue;  // invalid bytes are dropped like U+FFFD
      if (uncased_) {
        decomposed_.clear();
        unicode::append_canonical_decomposition(decomposed_, unicode::to_lower(u.code_point));
        for (std::uint32_t cp : decomposed_)
          if (unicode::general_category(cp) != unicode::category::mn) add_char(v, cp, out);
      } else {
        add_char(v, u.code_point, out);
      }
    }
    end_word(v, out);
  }

 private:
  void add_char(const vocab& v, std::uint32_t cp, std::vector<std::int32_t>& out) {
    if (cp == 0 || cp == unicode::replacement_character) return;
    if (unicode::is_white_space(cp) || unicode::general_category(cp) == unicode::category::zs) {
      end_word(v, out);
      return;
    }
    const unicode::category c = unicode::general_category(cp);
    if (unicode::is_other(c)) return;  // control, format, private use, unassigned
    const bool ascii_symbol = cp < 0x7F && unicode::is_symbol(c);
    if (unicode::is_punctuation(c) || ascii_symbol || bert_cjk(cp)) {
      end_word(v, out);
      unicode::append_utf8(word_, cp);
      word_chars_ = 1;
      end_word(v, out);
      return;
    }
    unicode::append_utf8(word_, cp);
    ++word_chars_;
  }

  void end_word(const vocab& v, std::vector<std::int32_t>& out) {
    if (word_.empty()) return;
    match_word(v, out);
    word_.clear();
    word_chars_ = 0;
  }

  void match_word(const vocab& v, std::vector<std::int32_t>& out) {
    const std::size_t first = out.size();
    if (word_chars_ > wordpiece_max_word_chars) {
      out.push_back(unk_);
      return;
    }
    std::size_t pos = 0;
    while (pos < word_.size()) {
      const bool start = pos == 0;
      std::size_t len = std::min(word_.size() - pos, v.max_token_bytes());
      std::int32_t found = no_token;
      for (; len > 0; --len) {
        // Only whole characters: a cut inside a UTF-8 sequence cannot be a token's end.
        if (pos + len < word_.size() && (static_cast<std::uint8_t>(word_[pos + len]) & 0xC0) == 0x80) continue;
        found = v.find(spell(std::string_view(word_).substr(pos, len), start));
        if (found != no_token) break;
      }
      if (found == no_token) {
        out.resize(first);
        out.push_back(unk_);
        return;
      }
      out.push_back(found);
      pos += len;
    }
  }

  std::string_view spell(std::string_view piece, bool start) {
    const bool prefixed = spelling_ == wordpiece_spelling::phantom_space ? start : !start;
    if (!prefixed) return piece;
    spelled_.assign(spelling_ == wordpiece_spelling::phantom_space ? "\xE2\x96\x81" : "##");
    spelled_.append(piece);
    return spelled_;
  }

  wordpiece_spelling spelling_;
  bool uncased_;
  std::int32_t unk_;
  std::string word_;
  std::size_t word_chars_ = 0;
  std::string spelled_;
  std::vector<std::uint32_t> decomposed_;
};

}  // namespace tessera::llm::detail::tok
