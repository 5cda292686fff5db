// Token ids back to text while they are generated.
//
// streaming_detokenizer turns one token at a time into text that is always valid UTF-8: a
// character whose bytes come in several tokens (byte-fallback pieces <0xE2><0x82><0xAC>, or
// byte-level BPE tokens that cut a character) is held until it is complete; bytes that can
// never become valid are replaced by U+FFFD (so a browser or terminal never sees broken
// UTF-8). SentencePiece's added leading space is dropped from the first text, as decode does,
// unless the tokens continue a text (a completion after its prompt: " time" after "Once upon a").
// For valid output the concatenated stream equals tokenizer::decode of the same ids.
//
// generation_stream adds what a generation loop needs on top: stop strings matched on the
// text (also across token boundaries; the stop string and what follows are never emitted:
// text that could still become a stop string is held back until it cannot), a token limit,
// end of generation on the vocabulary's EOG tokens, and a callback per token that receives
// the text the token released and can cancel.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tessera/llm/tokenizer.hpp>
#include <tessera/llm/unicode.hpp>

namespace tessera::llm {

class streaming_detokenizer {
 public:
  // continues_text: the tokens follow a text already shown, so no leading space is dropped.
  explicit streaming_detokenizer(const tokenizer& tok, bool render_special = false, bool continues_text = false)
      : tok_(&tok), render_special_(render_special), continues_text_(continues_text), at_start_(!continues_text) {}

  // Appends to `out` the text that token `id` completes.
  void push(std::int32_t id, std::string& out) {
    const std::size_t before = pending_.size();
    tok_->append_piece(pending_, id, render_special_);
    if (at_start_ && pending_.size() > before) {
      if (tok_->strips_leading_space(id) && pending_[before] == ' ') pending_.erase(before, 1);
      at_start_ = false;
    }
    release(out, unicode::incomplete_utf8_tail(pending_));
  }
  std::string push(std::int32_t id) {
    std::string out;
    push(id, out);
    return out;
  }

  // Ends the stream: an incomplete character still held becomes U+FFFD.
  void finish(std::string& out) { release(out, 0); }

  void reset() {
    pending_.clear();
    at_start_ = !continues_text_;
  }

 private:
  // Moves all but the last `hold` bytes of pending_ to out, invalid bytes as U+FFFD.
  void release(std::string& out, std::size_t hold) {
    const std::size_t n = pending_.size() - hold;
    std::size_t pos = 0;
    while (pos < n) {
      const unicode::utf8_unit u = unicode::decode_utf8(std::string_view(pending_).substr(0, n), pos);
      if (u.valid) out.append(pending_, pos, u.length);
      else unicode::append_utf8(out, unicode::replacement_character);
      pos += u.length;
    }
    pending_.erase(0, n);
  }

  const tokenizer* tok_;
  bool render_special_;
  bool continues_text_;
  bool at_start_;
  std::string pending_;
};

// Why a generation stopped.
enum class stop_reason : std::uint8_t {
  none,               // not stopped
  end_of_generation,  // an EOG token (EOS, end of turn)
  stop_string,        // a stop string appeared in the text
  max_tokens,         // the token limit
  cancelled,          // the callback asked to stop
};

inline const char* stop_reason_name(stop_reason r) noexcept {
  switch (r) {
    case stop_reason::none: return "none";
    case stop_reason::end_of_generation: return "end of generation";
    case stop_reason::stop_string: return "stop string";
    case stop_reason::max_tokens: return "max tokens";
    case stop_reason::cancelled: return "cancelled";
  }
  return "unknown";
}

struct stream_options {
  std::vector<std::string> stop_strings = {};  // empty strings are ignored
  std::int32_t max_tokens = -1;           // tokens pushed before stopping; negative: no limit
  bool stop_at_eog = true;                // stop at the vocabulary's end-of-generation tokens
  bool render_special = false;            // print control tokens' text
  bool continues_text = false;            // the tokens continue a prompt's text: keep their leading space
};

// Receives the text a token released (often empty while a character or a possible stop
// string is held) and the token (no_token for the final flush); returns false to cancel.
using stream_callback = std::function<bool(std::string_view text, std::int32_t token)>;

class generation_stream {
 public:
  generation_stream(const tokenizer& tok, stream_options options, stream_callback on_text = {})
      : tok_(&tok), options_(std::move(options)), on_text_(std::move(on_text)), detok_(tok, options_.render_special, options_.continues_text) {
    std::erase_if(options_.stop_strings, [](const std::string& s) { return s.empty(); });
  }

  // Feeds one generated token; stop_reason::none means go on.
  stop_reason push(std::int32_t token) {
    if (reason_ != stop_reason::none) return reason_;
    ++tokens_;
    if (options_.stop_at_eog && tok_->is_eog(token)) return stop(stop_reason::end_of_generation, token);
    detok_.push(token, held_);
    if (std::size_t at = find_stop(); at != std::string::npos) {
      held_.resize(at);
      return stop(stop_reason::stop_string, token);
    }
    const std::size_t keep = possible_stop_suffix();
    const std::string released = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    if (!emit(released, token)) return reason_ = stop_reason::cancelled;
    if (options_.max_tokens >= 0 && tokens_ >= options_.max_tokens) return stop(stop_reason::max_tokens, no_token);
    return stop_reason::none;
  }

  // Ends a generation that stopped for another reason (the context is full, the caller is
  // done): emits whatever is still held. Returns the reason the stream stopped, if it did.
  stop_reason finish() {
    if (reason_ == stop_reason::none) flush(no_token);
    return reason_;
  }

  const std::string& text() const noexcept { return text_; }  // everything emitted
  std::int32_t tokens() const noexcept { return tokens_; }
  stop_reason reason() const noexcept { return reason_; }

 private:
  stop_reason stop(stop_reason why, std::int32_t token) {
    reason_ = why;
    if (why == stop_reason::stop_string) {
      // The text before the stop string goes out; the rest of the stream is dropped.
      emit(held_, token);
      held_.clear();
    } else {
      flush(token);
    }
    return reason_;
  }

  void flush(std::int32_t token) {
    detok_.finish(held_);
    if (std::size_t at = find_stop(); at != std::string::npos) {
      held_.resize(at);
      reason_ = stop_reason::stop_string;
    }
    emit(held_, token);
    held_.clear();
  }

  bool emit(const std::string& text, std::int32_t token) {
    text_ += text;
    return !on_text_ || on_text_(text, token);
  }

  // The first position of any stop string in the held text.
  std::size_t find_stop() const {
    std::size_t first = std::string::npos;
    for (const std::string& s : options_.stop_strings) first = std::min(first, held_.find(s));
    return first;
  }

  // The longest end of the held text that begins some stop string.
  std::size_t possible_stop_suffix() const {
    std::size_t keep = 0;
    for (const std::string& s : options_.stop_strings)
      for (std::size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k)
        if (std::string_view(held_).substr(held_.size() - k) == std::string_view(s).substr(0, k)) {
          keep = k;
          break;
        }
    return keep;
  }

  const tokenizer* tok_;
  stream_options options_;
  stream_callback on_text_;
  streaming_detokenizer detok_;
  std::string held_;
  std::string text_;
  std::int32_t tokens_ = 0;
  stop_reason reason_ = stop_reason::none;
};

}  // namespace tessera::llm
