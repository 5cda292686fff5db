// Tokenizer part: the pre-tokenizers of byte-level BPE vocabularies, selected by
// tokenizer.ggml.pre. Each model splits text with a list of regexes applied in turn (as
// llama.cpp does): the first splits the text into its matches and the gaps between them, each
// next one splits every piece again the same way, so no byte is ever dropped. The regexes are
// written here by hand as small matchers over Unicode classes (no regex engine): each
// `match_*` returns the length of the match starting at a position, trying the regex's
// alternatives in order, with the backtracking the regex would do where it matters (the
// lookahead of \s+(?!\S), the optional leading character). A piece is what the regex sees, so
// `$` and the lookahead stop at its end.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <tessera/llm/unicode.hpp>

namespace tessera::llm {

// The pre-tokenizer families; each line of pre_tokenizer_names maps tokenizer.ggml.pre to one.
enum class pre_tokenizer : std::uint8_t {
  none,            // SentencePiece and WordPiece vocabularies do their own splitting
  bpe_default,     // a BPE vocabulary without (or with "default") tokenizer.ggml.pre
  gpt2,            // GPT-2's regex alone
  llama3,          // Llama 3's regex (numbers in groups of up to 3)
  qwen2,           // Llama 3's regex with single digits
  deepseek_llm,
  deepseek_coder,
  deepseek3,
  falcon,
  starcoder,       // single digits, then GPT-2's regex
  chameleon,
  bloom,
  viking,
  tekken,          // Mistral Nemo's: words split at case changes
};

namespace detail::tok {

struct pre_tokenizer_name {
  std::string_view name;
  pre_tokenizer kind;
  bool ignore_merges;  // a pre-token that is itself a token is emitted without merging (Llama 3)
};

inline constexpr pre_tokenizer_name pre_tokenizer_names[] = {
    {"default", pre_tokenizer::bpe_default, false},
    {"llama3", pre_tokenizer::llama3, true}, {"llama-v3", pre_tokenizer::llama3, true},
    {"llama-bpe", pre_tokenizer::llama3, true}, {"falcon3", pre_tokenizer::llama3, true},
    {"dbrx", pre_tokenizer::llama3, false}, {"smaug-bpe", pre_tokenizer::llama3, false},
    {"chatglm-bpe", pre_tokenizer::llama3, false},
    {"qwen2", pre_tokenizer::qwen2, false}, {"deepseek-r1-qwen", pre_tokenizer::qwen2, false},
    {"stablelm2", pre_tokenizer::qwen2, false}, {"megrez", pre_tokenizer::qwen2, false},
    {"deepseek-llm", pre_tokenizer::deepseek_llm, false},
    {"deepseek-coder", pre_tokenizer::deepseek_coder, false},
    {"deepseek-v3", pre_tokenizer::deepseek3, false},
    {"falcon", pre_tokenizer::falcon, false},
    {"gpt-2", pre_tokenizer::gpt2, false}, {"mpt", pre_tokenizer::gpt2, false},
    {"olmo", pre_tokenizer::gpt2, false}, {"jais", pre_tokenizer::gpt2, false},
    {"phi-2", pre_tokenizer::gpt2, false}, {"roberta-bpe", pre_tokenizer::gpt2, false},
    {"gigachat", pre_tokenizer::gpt2, false}, {"jina-es", pre_tokenizer::gpt2, false},
    {"jina-de", pre_tokenizer::gpt2, false}, {"jina-v1-en", pre_tokenizer::gpt2, false},
    {"jina-v2-es", pre_tokenizer::gpt2, false}, {"jina-v2-de", pre_tokenizer::gpt2, false},
    {"jina-v2-code", pre_tokenizer::gpt2, false},
    {"starcoder", pre_tokenizer::starcoder, false}, {"refact", pre_tokenizer::starcoder, false},
    {"command-r", pre_tokenizer::starcoder, false}, {"smollm", pre_tokenizer::starcoder, false},
    {"codeshell", pre_tokenizer::starcoder, false}, {"exaone", pre_tokenizer::starcoder, false},
    {"minerva-7b", pre_tokenizer::starcoder, false},
    {"chameleon", pre_tokenizer::chameleon, false},
    {"bloom", pre_tokenizer::bloom, false}, {"poro-chat", pre_tokenizer::bloom, false},
    {"gpt3-finnish", pre_tokenizer::bloom, false},
    {"viking", pre_tokenizer::viking, false},
    {"tekken", pre_tokenizer::tekken, true},
};

// One unit of the text being split: a code point (or an invalid byte, as U+FFFD) with its
// classes and the offset of its first byte.
struct text_unit {
  std::uint32_t cp;
  std::uint32_t offset;
  std::uint8_t cls;
};

struct unit_range {
  std::uint32_t begin, end;  // indexes into the units
};

// The units of text, plus a sentinel unit at text.size().
inline void decode_units(std::string_view text, std::vector<text_unit>& units) {
  units.clear();
  units.reserve(text.size() + 1);  // one growth instead of a doubling series (page faults, copies)
  for (std::size_t pos = 0; pos < text.size();) {
    const unicode::utf8_unit u = unicode::decode_utf8(text, pos);
    units.push_back({u.code_point, std::uint32_t(pos), unicode::classify(u.code_point)});
    pos += u.length;
  }
  units.push_back({0, std::uint32_t(text.size()), 0});
}

// Splits [begin, end) into matches of match(pos, end) -> length (0: none here) and the gaps
// between them, as a regex search loop does.
template <class Match>
void regex_split(std::uint32_t begin, std::uint32_t end, Match&& match, std::vector<unit_range>& out) {
  std::uint32_t gap = begin, pos = begin;
  while (pos < end) {
    const std::uint32_t n = match(pos, end);
    if (n == 0) {
      ++pos;
      continue;
    }
    if (gap < pos) out.push_back({gap, pos});
    out.push_back({pos, pos + n});
    pos += n;
    gap = pos;
  }
  if (gap < end) out.push_back({gap, end});
}

// The matchers of one piece of text.
struct matchers {
  const text_unit* u;

  bool letter(std::uint32_t i) const { return u[i].cls & unicode::class_letter; }
  bool number(std::uint32_t i) const { return u[i].cls & unicode::class_number; }
  bool space(std::uint32_t i) const { return u[i].cls & unicode::class_white_space; }
  bool punct(std::uint32_t i) const { return u[i].cls & unicode::class_punctuation; }
  // [^\s\p{L}\p{N}]
  bool other(std::uint32_t i) const { return !(u[i].cls & (unicode::class_white_space | unicode::class_letter | unicode::class_number)); }
  bool cr_lf(std::uint32_t i) const { return u[i].cp == '\r' || u[i].cp == '\n'; }
  bool ascii_digit(std::uint32_t i) const { return u[i].cp >= '0' && u[i].cp <= '9'; }

  template <class Pred>
  std::uint32_t run(std::uint32_t pos, std::uint32_t end, Pred pred) const {
    std::uint32_t i = pos;
    while (i < end && pred(i)) ++i;
    return i - pos;
  }

  static bool is_lower_ascii(std::uint32_t c, char lower) { return c == std::uint32_t(lower) || c == std::uint32_t(lower - 32); }

  // 's|'t|'re|'ve|'m|'ll|'d, case-sensitive (GPT-2) or not (Llama 3's (?i:...)).
  std::uint32_t contraction(std::uint32_t pos, std::uint32_t end, bool any_case) const {
    if (u[pos].cp != '\'' || pos + 1 >= end) return 0;
    const auto is = [&](std::uint32_t i, char c) {
      return any_case ? is_lower_ascii(u[i].cp, c) : u[i].cp == std::uint32_t(c);
    };
    if (is(pos + 1, 's') || is(pos + 1, 't') || is(pos + 1, 'm') || is(pos + 1, 'd')) return 2;
    if (pos + 2 < end && ((is(pos + 1, 'r') && is(pos + 2, 'e')) || (is(pos + 1, 'v') && is(pos + 2, 'e')) ||
                          (is(pos + 1, 'l') && is(pos + 2, 'l'))))
      return 3;
    return 0;
  }

  // ` ?X+`: an optional U+0020, then one or more units of class X.
  template <class Pred>
  std::uint32_t space_then_run(std::uint32_t pos, std::uint32_t end, Pred pred) const {
    const std::uint32_t s = pos + (u[pos].cp == ' ' && pos + 1 < end ? 1 : 0);
    const std::uint32_t n = run(s, end, pred);
    return n ? s - pos + n : 0;
  }

  // \s+(?!\S): a run of white space, less its last unit when a non-space follows.
  std::uint32_t spaces_not_before_text(std::uint32_t pos, std::uint32_t end) const {
    const std::uint32_t n = run(pos, end, [&](std::uint32_t i) { return space(i); });
    if (n == 0) return 0;
    if (pos + n == end) return n;
    return n - 1;  // 0 when a single space precedes text: no match here
  }

  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  std::uint32_t gpt2(std::uint32_t pos, std::uint32_t end) const {
    if (std::uint32_t n = contraction(pos, end, false)) return n;
    if (std::uint32_t n = space_then_run(pos, end, [&](std::uint32_t i) { return letter(i); })) return n;
    if (std::uint32_t n = space_then_run(pos, end, [&](std::uint32_t i) { return number(i); })) return n;
    if (std::uint32_t n = space_then_run(pos, end, [&](std::uint32_t i) { return other(i); })) return n;
    return spaces_not_before_text(pos, end);
  }

  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
  //   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  std::uint32_t llama3(std::uint32_t pos, std::uint32_t end, std::uint32_t max_digits) const {
    if (std::uint32_t n = contraction(pos, end, true)) return n;
    const bool lead = !cr_lf(pos) && !letter(pos) && !number(pos);
    if (lead && pos + 1 < end && letter(pos + 1)) return 1 + run(pos + 1, end, [&](std::uint32_t i) { return letter(i); });
    if (letter(pos)) return run(pos, end, [&](std::uint32_t i) { return letter(i); });
    if (number(pos)) {
      std::uint32_t n = 1;
      while (n < max_digits && pos + n < end && number(pos + n)) ++n;
      return n;
    }
    if (std::uint32_t n = space_then_run(pos, end, [&](std::uint32_t i) { return other(i); }))
      return n + run(pos + n, end, [&](std::uint32_t i) { return cr_lf(i); });
    return white_space_alternatives(pos, end);
  }

  // \s*[\r\n]+|\s+(?!\S)|\s+, the common tail of Llama 3's and DeepSeek V3's regexes.
  std::uint32_t white_space_alternatives(std::uint32_t pos, std::uint32_t end) const {
    const std::uint32_t spaces = run(pos, end, [&](std::uint32_t i) { return space(i); });
    if (spaces == 0) return 0;
    // \s*[\r\n]+: up to and including the last CR or LF of the white-space run.
    for (std::uint32_t k = spaces; k > 0; --k)
      if (cr_lf(pos + k - 1)) return k;
    if (pos + spaces == end) return spaces;  // \s+(?!\S)
    return spaces > 1 ? spaces - 1 : spaces;  // \s+(?!\S) short of the text, else \s+
  }

  // [^\r\n\p{L}\p{N}]?[Lu Lt Lm Lo M]*[Ll Lm Lo M]+|[^\r\n\p{L}\p{N}]?[Lu Lt Lm Lo M]+[Ll Lm Lo M]*
  //   |\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+     (Tekken's regex)
  std::uint32_t tekken(std::uint32_t pos, std::uint32_t end) const {
    const auto upper = [&](std::uint32_t i) {
      const unicode::category c = unicode::general_category(u[i].cp);
      return c == unicode::category::lu || c == unicode::category::lt || c == unicode::category::lm || c == unicode::category::lo || unicode::is_mark(c);
    };
    const auto lower = [&](std::uint32_t i) {
      const unicode::category c = unicode::general_category(u[i].cp);
      return c == unicode::category::ll || c == unicode::category::lm || c == unicode::category::lo || unicode::is_mark(c);
    };
    constexpr std::uint32_t none = ~0u;
    // U*L+ from s: the longest U run, given back from its end until an L can follow.
    const auto upper_then_lower = [&](std::uint32_t s) -> std::uint32_t {
      const std::uint32_t j = s + run(s, end, upper);
      if (j < end && lower(j)) return j + run(j, end, lower);
      for (std::uint32_t k = j; k > s; --k)
        if (lower(k - 1)) return k;
      return none;
    };
    const auto upper_run_lower = [&](std::uint32_t s) -> std::uint32_t {  // U+L*
      const std::uint32_t j = s + run(s, end, upper);
      return j == s ? none : j + run(j, end, lower);
    };
    const bool lead = !cr_lf(pos) && !letter(pos) && !number(pos) && pos + 1 < end;
    for (int alternative = 0; alternative < 2; ++alternative) {
      const auto body = [&](std::uint32_t s) { return alternative == 0 ? upper_then_lower(s) : upper_run_lower(s); };
      if (lead)
        if (const std::uint32_t e = body(pos + 1); e != none) return e - pos;
      if (const std::uint32_t e = body(pos); e != none) return e - pos;
    }
    if (number(pos)) return 1;
    if (std::uint32_t n = space_then_run(pos, end, [&](std::uint32_t i) { return other(i); }))
      return n + run(pos + n, end, [&](std::uint32_t i) { return cr_lf(i) || u[i].cp == '/'; });
    return white_space_alternatives(pos, end);
  }

  // Whether the units at pos spell `literal` (ASCII).
  bool spells(std::uint32_t pos, std::uint32_t end, std::string_view literal) const {
    if (end - pos < literal.size()) return false;
    for (std::uint32_t i = 0; i < literal.size(); ++i)
      if (u[pos + i].cp != std::uint32_t(literal[i])) return false;
    return true;
  }
};

inline bool in_ranges(std::uint32_t cp, const std::uint32_t (*ranges)[2], std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (cp >= ranges[i][0] && cp <= ranges[i][1]) return true;
  return false;
}

// DeepSeek LLM's letters: the cased-letter ranges of its tokenizer.json regex (model data).
inline constexpr std::uint32_t deepseek_letters[][2] = {
    {0x41, 0x5a}, {0x61, 0x7a}, {0xb5, 0xb5}, {0xc0, 0xd6}, {0xd8, 0xf6}, {0xf8, 0x1ba}, {0x1bc, 0x1bf},
    {0x1c4, 0x293}, {0x295, 0x2af}, {0x370, 0x373}, {0x376, 0x377}, {0x37b, 0x37d}, {0x37f, 0x37f},
    {0x386, 0x386}, {0x388, 0x38a}, {0x38c, 0x38c}, {0x38e, 0x3a1}, {0x3a3, 0x3f5}, {0x3f7, 0x481},
    {0x48a, 0x52f}, {0x531, 0x556}, {0x10a0, 0x10c5}, {0x13a0, 0x13f5}, {0x13f8, 0x13fd}, {0x1c90, 0x1cba},
    {0x1cbd, 0x1cbf}, {0x1d00, 0x1d2b}, {0x1d6b, 0x1d77}, {0x1d79, 0x1d9a}, {0x1e00, 0x1f15}, {0x1f18, 0x1f1d},
    {0x1f20, 0x1f45}, {0x1f48, 0x1f4d}, {0x1f50, 0x1f57}, {0x1f59, 0x1f59}, {0x1f5b, 0x1f5b}, {0x1f5d, 0x1f5d},
    {0x1f5f, 0x1f7d}, {0x1f80, 0x1fb4}, {0x1fb6, 0x1fbc}, {0x1fbe, 0x1fbe}, {0x1fc2, 0x1fc4}, {0x1fc6, 0x1fcc},
    {0x1fd0, 0x1fd3}, {0x1fd6, 0x1fdb}, {0x1fe0, 0x1fec}, {0x1ff2, 0x1ff4}, {0x1ff6, 0x1ffc}, {0x2102, 0x2102},
    {0x2107, 0x2107}, {0x210a, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211d}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212a, 0x212d}, {0x212f, 0x2134}, {0x2139, 0x2139}, {0x213c, 0x213f}, {0x2145, 0x2149},
    {0x214e, 0x214e}, {0x2183, 0x2184}, {0x2c00, 0x2c7b}, {0x2c7e, 0x2ce4}, {0x2ceb, 0x2cee}, {0x2cf2, 0x2cf3},
    {0xa640, 0xa66d}, {0xa680, 0xa69b}, {0xa722, 0xa76f}, {0xa771, 0xa787}, {0xa78b, 0xa78e}, {0xab70, 0xabbf},
    {0xfb00, 0xfb06}, {0xfb13, 0xfb17}, {0xff21, 0xff3a}, {0xff41, 0xff5a}, {0x10400, 0x1044f}, {0x104b0, 0x104d3},
    {0x104d8, 0x104fb}, {0x10c80, 0x10cb2}, {0x10cc0, 0x10cf2}, {0x118a0, 0x118df}, {0x1e900, 0x1e943},
};
// DeepSeek LLM's punctuation class [!-/:-~！-／：-～‘-‟　-。].
inline constexpr std::uint32_t deepseek_punctuation[][2] = {
    {0x21, 0x2f}, {0x3a, 0x7e}, {0xff01, 0xff0f}, {0xff1a, 0xff5e}, {0x2018, 0x201f}, {0x3000, 0x3002},
};
// The DeepSeek models' CJK class [一-龥ࠀ-一가-퟿].
inline constexpr std::uint32_t deepseek_cjk[][2] = {{0x4e00, 0x9fa5}, {0x800, 0x4e00}, {0xac00, 0xd7ff}};
// Deepseek V3's CJK and kana class [一-龥぀-ゟ゠-ヿ].
inline constexpr std::uint32_t deepseek3_cjk[][2] = {{0x4e00, 0x9fa5}, {0x3040, 0x309f}, {0x30a0, 0x30ff}};

// Splits the units [0, n) of one fragment into pre-tokens, by the regex list of `kind`.
class pre_tokenizer_pipeline {
 public:
  void split(pre_tokenizer kind, const std::vector<text_unit>& units, std::vector<unit_range>& pieces) {
    const std::uint32_t n = std::uint32_t(units.size() - 1);
    pieces.clear();
    if (n == 0) return;
    pieces.push_back({0, n});
    const matchers m{units.data()};
    // The regexes whose model text holds non-ASCII characters run, in llama.cpp, on text where
    // non-ASCII white space reads as \v: such a character is \s there and in no listed class.
    const auto listed = [&](std::uint32_t i, const std::uint32_t(*r)[2], std::size_t count) {
      return !(units[i].cp >= 0x80 && m.space(i)) && in_ranges(units[i].cp, r, count);
    };
    const auto stage = [&](auto&& match) {
      next_.clear();
      for (const unit_range& p : pieces) regex_split(p.begin, p.end, match, next_);
      pieces.swap(next_);
    };
    const auto one = [](auto pred) {
      return [pred](std::uint32_t pos, std::uint32_t) -> std::uint32_t { return pred(pos) ? 1 : 0; };
    };
    const auto many = [&m](auto pred) {
      return [&m, pred](std::uint32_t pos, std::uint32_t end) { return m.run(pos, end, pred); };
    };
    const auto gpt2 = [&m](std::uint32_t pos, std::uint32_t end) { return m.gpt2(pos, end); };
    const auto ascii_digit_triple = [&m](std::uint32_t pos, std::uint32_t end) -> std::uint32_t {
      return pos + 2 < end && m.ascii_digit(pos) && m.ascii_digit(pos + 1) && m.ascii_digit(pos + 2) ? 3 : 0;
    };
    // [\p{P}\$\+<=>\^~\|] (falcon adds `)
    const auto falcon_punct = [&](bool backtick) {
      return [&m, &units, backtick](std::uint32_t i) {
        const std::uint32_t c = units[i].cp;
        return m.punct(i) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|' ||
               (backtick && c == '`');
      };
    };
    const auto number = [&m](std::uint32_t i) { return m.number(i); };
    const auto cr_lf = [&m](std::uint32_t i) { return m.cr_lf(i); };
    // \s?X+ where \s is any white space
    const auto space_opt_then = [&m](auto pred) {
      return [&m, pred](std::uint32_t pos, std::uint32_t end) -> std::uint32_t {
        const std::uint32_t s = pos + (m.space(pos) && pos + 1 < end && pred(pos + 1) ? 1 : 0);
        return m.run(s, end, pred) ? s - pos + m.run(s, end, pred) : 0;
      };
    };
    switch (kind) {
      case pre_tokenizer::none:
        return;
      case pre_tokenizer::gpt2:
        stage(gpt2);
        return;
      case pre_tokenizer::bpe_default:
        stage(many(falcon_punct(false)));
        stage(gpt2);
        stage(many(number));
        stage(ascii_digit_triple);
        return;
      case pre_tokenizer::llama3:
        stage([&m](std::uint32_t pos, std::uint32_t end) { return m.llama3(pos, end, 3); });
        return;
      case pre_tokenizer::tekken:
        stage([&m](std::uint32_t pos, std::uint32_t end) { return m.tekken(pos, end); });
        return;
      case pre_tokenizer::qwen2:
        stage([&m](std::uint32_t pos, std::uint32_t end) { return m.llama3(pos, end, 1); });
        return;
      case pre_tokenizer::falcon:
        stage(many(falcon_punct(true)));
        stage(gpt2);
        stage(ascii_digit_triple);
        return;
      case pre_tokenizer::starcoder:
        stage(one(number));
        stage(gpt2);
        return;
      case pre_tokenizer::deepseek_coder: {
        stage(one(cr_lf));
        stage(space_opt_then([&m](std::uint32_t i) { return m.letter(i); }));
        stage(space_opt_then([&m](std::uint32_t i) { return m.punct(i); }));
        stage(many([&](std::uint32_t i) { return listed(i, deepseek_cjk, std::size(deepseek_cjk)); }));
        stage(one(number));
        return;
      }
      case pre_tokenizer::deepseek_llm: {
        stage(one(cr_lf));
        stage(space_opt_then([&](std::uint32_t i) { return listed(i, deepseek_letters, std::size(deepseek_letters)); }));
        stage(space_opt_then([&](std::uint32_t i) { return listed(i, deepseek_punctuation, std::size(deepseek_punctuation)); }));
        stage([&m](std::uint32_t pos, std::uint32_t end) -> std::uint32_t {  // \s+$
          // Linear: only the piece's trailing white space can match.
          std::uint32_t t = end;
          while (t > pos && m.space(t - 1)) --t;
          return t == pos && end > pos ? end - pos : 0;
        });
        stage(many([&](std::uint32_t i) { return listed(i, deepseek_cjk, std::size(deepseek_cjk)); }));
        stage(many(number));
        return;
      }
      case pre_tokenizer::deepseek3: {
        stage([&m](std::uint32_t pos, std::uint32_t end) {  // \p{N}{1,3}
          std::uint32_t n = 0;
          while (n < 3 && pos + n < end && m.number(pos + n)) ++n;
          return n;
        });
        stage(many([&](std::uint32_t i) { return listed(i, deepseek3_cjk, std::size(deepseek3_cjk)); }));
        stage([&m, &units](std::uint32_t pos, std::uint32_t end) { return deepseek3_main(m, units, pos, end); });
        return;
      }
      case pre_tokenizer::chameleon: {
        stage([&m](std::uint32_t pos, std::uint32_t end) { return head_run_close(m, pos, end, "<sentinel:", '0', '9', ~0u, '>'); });
        stage([&m](std::uint32_t pos, std::uint32_t end) { return head_run_close(m, pos, end, "IMGIMG", 'A', 'I', 4, 'Z'); });
        stage([&m, &units](std::uint32_t pos, std::uint32_t end) -> std::uint32_t {  // ([\t\n]|    |  )
          if (units[pos].cp == '\t' || units[pos].cp == '\n') return 1;
          return m.spells(pos, end, "    ") ? 4 : m.spells(pos, end, "  ") ? 2 : 0;
        });
        stage(one(number));
        stage(one([&](std::uint32_t i) {  // [\p{P}!-/:-@\[-`{-~]
          const std::uint32_t c = units[i].cp;
          return m.punct(i) || (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
        }));
        stage(gpt2);
        return;
      }
      case pre_tokenizer::bloom:
      case pre_tokenizer::viking: {
        // ` ?[^(\s|.,!?…。，、।۔،)]+`: the class excludes white space and the listed characters.
        const auto word = [&](std::uint32_t i) {
          const std::uint32_t c = units[i].cp;
          if (m.space(i)) return false;
          for (std::uint32_t x : {0x28u, 0x7Cu, 0x2Eu, 0x2Cu, 0x21u, 0x3Fu, 0x2026u, 0x3002u, 0xFF0Cu, 0x3001u, 0x0964u, 0x06D4u, 0x060Cu, 0x29u})
            if (c == x) return false;
          return true;
        };
        stage([&m, word](std::uint32_t pos, std::uint32_t end) { return m.space_then_run(pos, end, word); });
        if (kind == pre_tokenizer::viking) stage(one(number));
        return;
      }
    }
  }

 private:
  // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
  //   | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  static std::uint32_t deepseek3_main(const matchers& m, const std::vector<text_unit>& units, std::uint32_t pos, std::uint32_t end) {
    const auto cp = [&](std::uint32_t i) { return units[i].cp; };
    const auto ascii_letter = [&](std::uint32_t i) { return (cp(i) | 0x20u) >= 'a' && (cp(i) | 0x20u) <= 'z'; };
    const auto ascii_punct = [&](std::uint32_t i) {
      const std::uint32_t c = cp(i);
      return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
    };
    const auto sym = [&](std::uint32_t i) { return (units[i].cls & (unicode::class_punctuation | unicode::class_symbol)) != 0; };
    const auto letter_mark = [&](std::uint32_t i) { return (units[i].cls & (unicode::class_letter | unicode::class_mark)) != 0; };
    if (ascii_punct(pos) && pos + 1 < end && ascii_letter(pos + 1)) return 1 + m.run(pos + 1, end, ascii_letter);
    const bool lead = !m.cr_lf(pos) && !m.letter(pos) && !sym(pos);
    if (lead && pos + 1 < end && letter_mark(pos + 1)) return 1 + m.run(pos + 1, end, letter_mark);
    if (letter_mark(pos)) return m.run(pos, end, letter_mark);
    if (std::uint32_t n = m.space_then_run(pos, end, sym)) return n + m.run(pos + n, end, [&](std::uint32_t i) { return m.cr_lf(i); });
    return m.white_space_alternatives(pos, end);
  }

  // <sentinel:[0-9]+> or (IMGIMG)((A|...|I){1,4})Z: a literal head, a run of 1 to
  // max characters of [lo, hi], a closing character.
  static std::uint32_t head_run_close(const matchers& m, std::uint32_t pos, std::uint32_t end, std::string_view head, std::uint32_t lo,
                                      std::uint32_t hi, std::uint32_t max, std::uint32_t close) {
    if (!m.spells(pos, end, head)) return 0;
    const std::uint32_t first = pos + std::uint32_t(head.size());
    std::uint32_t i = first;
    while (i < end && i - first < max && m.u[i].cp >= lo && m.u[i].cp <= hi) ++i;
    return i > first && i < end && m.u[i].cp == close ? i + 1 - pos : 0;
  }

  std::vector<unit_range> next_;
};

}  // namespace detail::tok
}  // namespace tessera::llm
