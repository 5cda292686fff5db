// Tokenizer part: SentencePiece BPE ("llama" vocabularies: Llama 1/2, Mistral, Gemma, Phi-3).
// The text (spaces spelled U+2581 "▁", with a leading one when add_space_prefix) starts as one
// symbol per UTF-8 character; the adjacent pair whose concatenation is the highest-scoring
// token merges first (the leftmost of equal scores first), until no pair forms a token. As in
// SentencePiece, only normal, user-defined and unused tokens form by merging, and an unused
// token is split back into the two symbols it was merged from. A character that is not a
// token falls back to its bytes' <0xXX> tokens; without those, a run of such characters
// becomes one unknown token (SentencePiece's behaviour without byte fallback).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/core/error.hpp>
#include <tessera/llm/tokenizer/vocab.hpp>
#include <tessera/llm/unicode.hpp>

namespace tessera::llm::detail::tok {

inline constexpr std::string_view spm_space = "\xE2\x96\x81";  // U+2581, SentencePiece's space

inline bool spm_mergeable(token_type t) noexcept {
  return t == token_type::normal || t == token_type::user_defined || t == token_type::unused || t == token_type::undefined;
}

// True when no token that can form by merging has a "▁" after another character: then no
// merge crosses the start of a word ("▁" after a character other than "▁"). SentencePiece's
// trainer splits pieces at white space, so its vocabularies have this property (runs of
// "▁", as Llama's "▁▁▁▁", are allowed: a run of spaces is never cut).
inline bool spm_splits_at_spaces(const vocab& v) {
  for (std::int32_t id = 0; id < v.size(); ++id) {
    if (!spm_mergeable(v.type(id))) continue;
    const std::string_view s = v.text(id);
    for (std::size_t at = s.find(spm_space, 1); at != std::string_view::npos; at = s.find(spm_space, at + 1))
      if (at < 3 || s.substr(at - 3, 3) != spm_space) return false;
  }
  return true;
}

class spm_encoder {
 public:
  // byte_tokens[b]: the <0xXX> token of byte b, or no_token; unk: the unknown token or no_token.
  spm_encoder(const std::array<std::int32_t, 256>& byte_tokens, std::int32_t unk) : byte_tokens_(byte_tokens), unk_(unk) {}

  // Appends the tokens of `text` (already escaped: spaces as U+2581). With split_at_spaces
  // (the vocabulary has no token where another character precedes a "▁", see
  // spm_splits_at_spaces) the text is merged one word at a time: no token can span the cut
  // before a word's "▁", so the result is the same, and the merge heaps stay small.
  status encode(const vocab& v, std::string_view text, std::vector<std::int32_t>& out, bool split_at_spaces) {
    in_unknown_run_ = false;
    if (!split_at_spaces) return encode_segment(v, text, out);
    std::size_t begin = 0;
    for (std::size_t at = text.find(spm_space, 1); at != std::string_view::npos; at = text.find(spm_space, at + 1)) {
      if (at >= 3 && text.substr(at - 3, 3) == spm_space) continue;  // a run of spaces stays together
      TESSERA_TRY(encode_segment(v, text.substr(begin, at - begin), out));
      begin = at;
    }
    return encode_segment(v, text.substr(begin), out);
  }

 private:
  status encode_segment(const vocab& v, std::string_view text, std::vector<std::int32_t>& out) {
    if (text.empty()) return {};
    symbols_.clear();
    nodes_.clear();
    for (std::size_t pos = 0; pos < text.size();) {
      const std::uint32_t len = unicode::decode_utf8(text, pos).length;
      const std::int32_t index = std::int32_t(symbols_.size());
      symbols_.push_back({std::uint32_t(pos), std::uint32_t(pos + len), index - 1, -1, index});
      if (index > 0) symbols_[std::size_t(index) - 1].next = index;
      nodes_.push_back({candidate_token(v, text.substr(pos, len)), -1, -1, len});
      pos += len;
    }
    heap_.clear();
    for (std::size_t i = 0; i + 1 < symbols_.size(); ++i) push_pair(v, text, std::int32_t(i), std::int32_t(i + 1));
    while (!heap_.empty()) {
      const candidate c = pop_top(heap_, later);
      symbol& l = symbols_[std::size_t(c.left)];
      symbol& r = symbols_[std::size_t(c.right)];
      if (l.end == l.begin || r.end == r.begin || l.next != c.right || r.end - l.begin != c.bytes) continue;  // stale
      const std::int32_t node = std::int32_t(nodes_.size());
      nodes_.push_back({c.token, l.node, r.node, c.bytes});
      l.node = node;
      l.end = r.end;
      l.next = r.next;
      if (r.next >= 0) symbols_[std::size_t(r.next)].prev = c.left;
      r.end = r.begin;  // merged away
      if (l.prev >= 0) push_pair(v, text, l.prev, c.left);
      if (l.next >= 0) push_pair(v, text, c.left, l.next);
    }
    for (std::int32_t i = 0; i >= 0; i = symbols_[std::size_t(i)].next) {
      const symbol& s = symbols_[std::size_t(i)];
      TESSERA_TRY(emit(v, text.substr(s.begin, s.end - s.begin), s.node, out, in_unknown_run_));
    }
    return {};
  }

  struct symbol {
    std::uint32_t begin, end;  // bytes of the text
    std::int32_t prev, next;
    std::int32_t node;  // its merge tree
  };
  struct node {
    std::int32_t token;  // no_token for a character that is not a token
    std::int32_t left, right;  // the merged nodes, -1 for a character
    std::uint32_t bytes;
  };
  struct candidate {
    float score;
    std::int32_t left, right;
    std::uint32_t bytes;  // left + right's length when pushed: a changed side is stale
    std::int32_t token;
  };
  // Heap order: the top is the highest score, then the leftmost.
  static bool later(const candidate& a, const candidate& b) { return a.score != b.score ? a.score < b.score : a.left > b.left; }

  static std::int32_t candidate_token(const vocab& v, std::string_view s) {
    const std::int32_t id = v.find(s);
    return id != no_token && spm_mergeable(v.type(id)) ? id : no_token;
  }

  void push_pair(const vocab& v, std::string_view text, std::int32_t left, std::int32_t right) {
    const symbol& l = symbols_[std::size_t(left)];
    const symbol& r = symbols_[std::size_t(right)];
    const std::int32_t id = candidate_token(v, text.substr(l.begin, r.end - l.begin));
    if (id == no_token) return;
    heap_.push_back({v.score(id), left, right, r.end - l.begin, id});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  status emit(const vocab& v, std::string_view piece, std::int32_t index, std::vector<std::int32_t>& out, bool& in_unknown_run) {
    const node& n = nodes_[std::size_t(index)];
    if (n.token != no_token && n.left >= 0 && v.type(n.token) == token_type::unused) {
      // An unused token splits back into the two symbols it was merged from.
      const std::size_t left_bytes = nodes_[std::size_t(n.left)].bytes;
      const std::int32_t right = n.right;
      TESSERA_TRY(emit(v, piece.substr(0, left_bytes), n.left, out, in_unknown_run));
      return emit(v, piece.substr(left_bytes), right, out, in_unknown_run);
    }
    if (n.token != no_token) {
      out.push_back(n.token);
      in_unknown_run = false;
      return {};
    }
    bool bytes_ok = true;
    for (char c : piece) bytes_ok = bytes_ok && byte_tokens_[static_cast<std::uint8_t>(c)] != no_token;
    if (bytes_ok) {
      for (char c : piece) out.push_back(byte_tokens_[static_cast<std::uint8_t>(c)]);
      in_unknown_run = false;
      return {};
    }
    if (unk_ == no_token)
      return make_error(errc::invalid_argument, "tokenizer: a character has no token, no <0xXX> byte tokens and the vocabulary has no unknown token");
    if (!in_unknown_run) out.push_back(unk_);
    in_unknown_run = true;
    return {};
  }

  const std::array<std::int32_t, 256>& byte_tokens_;
  std::int32_t unk_;
  bool in_unknown_run_ = false;  // SentencePiece gives a run of unknown characters one token
  std::vector<symbol> symbols_;
  std::vector<node> nodes_;
  std::vector<candidate> heap_;
};

}  // namespace tessera::llm::detail::tok
