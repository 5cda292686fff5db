// Text in, text out: one model, its tokenizer and chat template, a session (the KV cache), a
// sampler and a detokenizing stream, behind one object that the command line, the WebAssembly
// ABI and C++ users share.
//
//   auto model = llm::model::load("model.gguf");
//   auto gen = llm::text_generator::create(*model, {.context = 2048});
//   llm::generation_options o;
//   o.sampling.seed = 42;
//   gen->generate("Once upon a time", o, [](std::string_view text, std::int32_t) {
//     std::fwrite(text.data(), 1, text.size(), stdout);
//     return true;                                    // false cancels
//   });
//   gen->set_system_prompt("Be brief.");
//   auto reply = gen->chat("Hi!", o, print);          // keeps the KV cache across turns
//
// Step by step, for callers that must yield between tokens (a browser worker):
//   TESSERA_TRY(gen->begin_chat("Hi!", o));
//   while (true) { TESSERA_ASSIGN_OR_RETURN(bool more, gen->step(print)); if (!more) break; }
//   const llm::generation_result& r = gen->result();
//
// The KV cache is reused: every prompt is compared with the ids the cache holds, the session
// rewinds to the longest common prefix and decodes only the rest. A chat turn appends only
// the new turn's tokens when the template allows it (the previous reply is kept as the ids
// the model generated, the turn's closing marker and the new message are appended); when it
// does not (a template that moves the system message, a reply cut by a stop string), the
// conversation is encoded again and still decoded only from where it differs.
//
// The model must outlive the generator. A generator is one conversation: one thread at a time
// (many generators may share a model across threads).
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/llm/chat_template.hpp>
#include <tessera/llm/detokenizer.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/sampling.hpp>
#include <tessera/llm/session.hpp>
#include <tessera/llm/tokenizer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::llm {

struct generation_options {
  sampler_params sampling = {};            // temperature <= 0 or top_k == 1: greedy
  std::int32_t max_tokens = 256;           // new tokens at most; negative: until the context is full
  std::vector<std::string> stop_strings = {};
  bool stop_at_eog = true;                 // stop at the vocabulary's end-of-generation tokens
  bool render_special = false;             // control tokens' text appears in the output
  bool parse_special = true;               // control-token text in a prompt becomes the token (llama.cpp's default)
  bool add_special = true;                 // a text prompt gets the BOS the vocabulary asks for
};

struct generation_result {
  std::string text;                        // what the stream emitted
  std::vector<std::int32_t> tokens;        // the generated ids, the one that stopped generation included
  std::uint32_t prompt_tokens = 0;         // ids of the prompt (for a chat turn: the whole conversation)
  std::uint32_t reused_tokens = 0;         // of those, found in the KV cache (not decoded again)
  stop_reason reason = stop_reason::none;  // none: the context is full
  bool context_full = false;
  double prompt_seconds = 0, generation_seconds = 0;
};

class text_generator {
 public:
  // The tokenizer and chat template come from the model's GGUF metadata.
  static expected<text_generator> create(const model& m, const session_options& opts = {}) {
    std::optional<tokenizer> tok;
    chat_template tmpl = chat_template::detect({});
    if (const io::gguf_file* f = m.gguf(); f && f->contains("tokenizer.ggml.model")) {
      TESSERA_ASSIGN_OR_RETURN(tokenizer t, tokenizer::from_gguf(*f));
      if (t.n_tokens() < 0 || static_cast<std::uint32_t>(t.n_tokens()) > m.config().vocab_size)
        return make_error(errc::parse_error, "text_generator: the tokenizer has " + std::to_string(t.n_tokens()) +
                                                 " tokens, the model's vocabulary " + std::to_string(m.config().vocab_size));
      tok.emplace(std::move(t));
      tmpl = chat_template::from_gguf(*f);
    }
    return create(m, std::move(tok), std::move(tmpl), opts);
  }
  // Any tokenizer (a llama2.c checkpoint has none: then only generate_ids works).
  static expected<text_generator> create(const model& m, std::optional<tokenizer> tok, chat_template tmpl, const session_options& opts = {}) {
    TESSERA_ASSIGN_OR_RETURN(session s, session::create(m, opts));
    text_generator g(std::move(s), std::move(tok), std::move(tmpl));
    TESSERA_TRY(g.logits_.allocate(m.config().vocab_size));
    return g;
  }

  bool has_tokenizer() const noexcept { return tok_.has_value(); }
  const tokenizer& vocabulary() const { return *tok_; }  // only when has_tokenizer()
  const chat_template& chat_format() const noexcept { return template_; }
  void set_chat_format(chat_template t) {
    template_ = std::move(t);
    reset_chat();
  }
  const session& kv_session() const noexcept { return session_; }
  const model& owner() const noexcept { return session_.owner(); }

  // ---- the conversation -------------------------------------------------------------------
  // Starts a new conversation with this system message (empty: none).
  void set_system_prompt(std::string system) {
    system_ = std::move(system);
    reset_chat();
  }
  const std::string& system_prompt() const noexcept { return system_; }
  std::span<const chat_message> history() const noexcept { return messages_; }
  // Forgets the conversation; the cache keeps what it holds for a prompt that starts the same.
  void reset_chat() {
    messages_.clear();
    if (!system_.empty()) messages_.push_back({"system", system_});
    last_turn_.reset();
  }

  // ---- whole generations ------------------------------------------------------------------
  expected<generation_result> generate(std::string_view prompt, const generation_options& o = {}, const stream_callback& on_text = {}) {
    TESSERA_TRY(begin(prompt, o));
    return run(on_text);
  }
  expected<generation_result> generate_ids(std::span<const std::int32_t> prompt, const generation_options& o = {},
                                           const stream_callback& on_text = {}) {
    TESSERA_TRY(begin_ids(prompt, o));
    return run(on_text);
  }
  // One chat turn: the user's message in, the assistant's reply out (and into the history).
  expected<generation_result> chat(std::string_view user_message, const generation_options& o = {}, const stream_callback& on_text = {}) {
    TESSERA_TRY(begin_chat(user_message, o));
    return run(on_text);
  }

  // ---- step by step -----------------------------------------------------------------------
  // A completion of `prompt` (the text shown after it keeps its leading space).
  status begin(std::string_view prompt, const generation_options& o) {
    cancel();
    TESSERA_TRY(need_tokenizer("a text prompt"));
    std::vector<std::int32_t> ids;
    TESSERA_TRY(tok_->encode(prompt, ids, o.add_special, o.parse_special));
    if (ids.empty()) return make_error(errc::invalid_argument, "text_generator: the prompt holds no tokens");
    chat_turn_ = false;
    return start(std::move(ids), o, /*continues_text=*/true);
  }
  status begin_ids(std::span<const std::int32_t> prompt, const generation_options& o) {
    cancel();
    if (prompt.empty()) return make_error(errc::invalid_argument, "text_generator: an empty prompt");
    chat_turn_ = false;
    return start(std::vector<std::int32_t>(prompt.begin(), prompt.end()), o, /*continues_text=*/true);
  }
  status begin_chat(std::string_view user_message, const generation_options& o) {
    cancel();
    TESSERA_TRY(need_tokenizer("chat"));
    messages_.push_back({"user", std::string(user_message)});
    auto ids = chat_prompt_ids();
    if (!ids.ok()) {
      messages_.pop_back();
      return std::move(ids).as_status();
    }
    chat_turn_ = true;
    auto st = start(std::move(ids).value(), o, /*continues_text=*/false);
    if (!st.ok()) {
      messages_.pop_back();
      last_turn_.reset();
    }
    return st;
  }

  // Generates one token. Returns true while the generation goes on; false once it has stopped
  // (result() then holds the whole generation) or when none was begun.
  expected<bool> step(const stream_callback& on_text = {}) {
    if (!active_) return false;
    const auto t0 = std::chrono::steady_clock::now();
    *callback_ = &on_text;
    const auto finish = [&](stop_reason why) {
      result_.reason = why;
      result_.generation_seconds += seconds_since(t0);
      end();
      return false;
    };
    if (pending_ != no_token) {
      // The previous token goes into the cache only now, so a generation that stops never
      // decodes its last token.
      if (session_.position() == session_.context()) {
        result_.context_full = true;
        if (stream_) stream_->finish();
        return finish(stream_ ? stream_->reason() : stop_reason::none);
      }
      auto st = session_.decode(std::span<const std::int32_t>(&pending_, 1));
      if (!st.ok()) {
        abandon();
        return st.err();
      }
      cached_.push_back(pending_);
      pending_ = no_token;
    }
    const std::span<const float> logits = session_.logits();
    std::copy(logits.begin(), logits.end(), logits_.data());
    auto id = sampler_->sample(std::span<float>(logits_.data(), logits.size()));
    if (!id.ok()) {
      abandon();
      return id.err();
    }
    result_.tokens.push_back(*id);
    stop_reason why = stop_reason::none;
    if (stream_) {
      why = stream_->push(*id);
    } else if (on_text && !on_text({}, *id)) {
      why = stop_reason::cancelled;
    } else if (max_tokens_ >= 0 && static_cast<std::int64_t>(result_.tokens.size()) >= max_tokens_) {
      why = stop_reason::max_tokens;
    }
    if (why != stop_reason::none) return finish(why);
    pending_ = *id;
    result_.generation_seconds += seconds_since(t0);
    *callback_ = nullptr;
    return true;
  }

  // Stops a generation begun and not finished, as a cancel (text still held is dropped).
  void cancel() {
    if (!active_) return;
    result_.reason = stop_reason::cancelled;
    end();
  }

  bool active() const noexcept { return active_; }
  const generation_result& result() const noexcept { return result_; }
  // The ids whose keys and values the cache holds, in order (the last prompt, or the chat so far).
  std::span<const std::int32_t> cached_ids() const noexcept { return cached_; }

 private:
  // What a finished chat turn left in the cache, to append the next turn to it.
  struct finished_turn {
    std::string prompt_text;  // the conversation rendered up to the reply
    bool reply_in_cache;      // the cache holds the prompt and the reply's ids (all but an unfed last one)
    std::int32_t unfed = no_token;  // the reply's last id, not in the cache, when it belongs to the reply
  };

  text_generator(session s, std::optional<tokenizer> tok, chat_template tmpl)
      : session_(std::move(s)), tok_(std::move(tok)), template_(std::move(tmpl)), callback_(std::make_unique<const stream_callback*>(nullptr)) {}

  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  status need_tokenizer(const char* what) const {
    if (!tok_) return make_error(errc::unsupported, std::string("text_generator: ") + what + " needs a tokenizer (the model has none; give token ids)");
    return {};
  }

  expected<generation_result> run(const stream_callback& on_text) {
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(const bool more, step(on_text));
      if (!more) break;
    }
    return result_;
  }

  // Decodes `ids` from where they differ from the cache, and prepares the sampler and stream.
  status start(std::vector<std::int32_t> ids, const generation_options& o, bool continues_text) {
    if (!chat_turn_) last_turn_.reset();  // the cache will no longer end with a chat turn
    if (ids.size() > session_.context())
      return make_error(errc::out_of_range, "text_generator: a prompt of " + std::to_string(ids.size()) + " tokens does not fit the context of " +
                                                std::to_string(session_.context()));
    TESSERA_ASSIGN_OR_RETURN(sampler s, sampler::create(o.sampling));
    const auto t0 = std::chrono::steady_clock::now();
    // The longest prefix already in the cache; the last prompt id is always decoded again,
    // since its logits pick the first new token.
    std::size_t same = 0;
    while (same < cached_.size() && same < ids.size() && cached_[same] == ids[same]) ++same;
    same = std::min(same, ids.size() - 1);
    TESSERA_TRY(session_.rewind(static_cast<std::uint32_t>(same)));
    cached_.resize(same);
    auto st = session_.decode(std::span<const std::int32_t>(ids).subspan(same));
    if (!st.ok()) {
      session_.reset();
      cached_.clear();
      return st;
    }
    cached_ = std::move(ids);
    result_ = generation_result{};
    result_.prompt_tokens = static_cast<std::uint32_t>(cached_.size());
    result_.reused_tokens = static_cast<std::uint32_t>(same);
    result_.prompt_seconds = seconds_since(t0);
    // The penalties' window starts with the end of the prompt.
    const std::size_t window = static_cast<std::size_t>(o.sampling.penalty_last_n);
    s.accept(std::span<const std::int32_t>(cached_).subspan(cached_.size() - std::min(window, cached_.size())));
    sampler_.emplace(std::move(s));
    max_tokens_ = o.max_tokens;
    stream_.reset();
    if (tok_) {
      stream_options so;
      so.stop_strings = o.stop_strings;
      so.max_tokens = o.max_tokens;
      so.stop_at_eog = o.stop_at_eog;
      so.render_special = o.render_special;
      so.continues_text = continues_text;
      // The stream calls whatever callback the current step() was given (a slot on the heap,
      // so the generator can move between generations).
      const stream_callback* const* slot = callback_.get();
      stream_.emplace(*tok_, std::move(so), [slot](std::string_view text, std::int32_t token) { return !*slot || !**slot || (**slot)(text, token); });
    }
    pending_ = no_token;
    active_ = true;
    if (o.max_tokens == 0) {
      result_.reason = stop_reason::max_tokens;
      end();
    }
    return {};
  }

  void end() {
    active_ = false;
    *callback_ = nullptr;
    if (stream_) result_.text = stream_->text();
    if (!chat_turn_) return;
    // The reply joins the history; what the cache holds of it decides how the next turn starts.
    messages_.push_back({"assistant", result_.text});
    finished_turn t{rendered_prompt_, false, no_token};
    // After an end-of-generation token or the token limit, the cache holds the prompt and the
    // reply's ids but the last, which is an end marker (the next turn's text closes the reply
    // again) or, after the limit, a token of the reply to feed with the next turn.
    t.reply_in_cache = result_.reason == stop_reason::end_of_generation || result_.reason == stop_reason::max_tokens;
    if (t.reply_in_cache && result_.reason == stop_reason::max_tokens && !result_.tokens.empty()) t.unfed = result_.tokens.back();
    last_turn_ = std::move(t);
  }

  // A failed decode leaves the cache in an unknown state: the generation ends (as cancelled)
  // and the next one starts from an empty cache.
  void abandon() {
    session_.reset();
    cached_.clear();
    pending_ = no_token;
    result_.reason = stop_reason::cancelled;
    end();
    last_turn_.reset();
  }

  // The ids of the conversation with the generation prompt: the cache's ids plus the new turn
  // when that is exact, else the whole conversation encoded.
  expected<std::vector<std::int32_t>> chat_prompt_ids() {
    TESSERA_ASSIGN_OR_RETURN(std::string full, template_.apply(messages_, true));
    std::optional<finished_turn> previous = std::move(last_turn_);
    last_turn_.reset();
    rendered_prompt_ = full;
    if (previous && previous->reply_in_cache && full.starts_with(previous->prompt_text)) {
      // Where the reply stands in the rendering: the same conversation with a marker as its text.
      static constexpr std::string_view marker = "\x01tessera-reply\x01";
      std::vector<chat_message> marked = messages_;
      marked[marked.size() - 2].content = std::string(marker);
      auto with_marker = template_.apply(marked, true);
      if (with_marker.ok() && with_marker->starts_with(previous->prompt_text)) {
        const std::size_t at = with_marker->find(marker, previous->prompt_text.size());
        const std::string_view before = std::string_view(*with_marker).substr(previous->prompt_text.size(), at - previous->prompt_text.size());
        const bool blank = at != std::string::npos && before.find_first_not_of(" \n") == std::string_view::npos;
        if (blank) {
          const std::string_view after = std::string_view(*with_marker).substr(at + marker.size());
          std::vector<std::int32_t> tail;
          TESSERA_TRY(tok_->encode(after, tail, false, true));
          // Exact only when the appended text starts with a control token (what follows a
          // control token is encoded the same alone or after the reply).
          if (!tail.empty() && tok_->is_control(tail[0]) && after.starts_with(tok_->token_text(tail[0]))) {
            std::vector<std::int32_t> ids = cached_;
            if (previous->unfed != no_token) ids.push_back(previous->unfed);
            ids.insert(ids.end(), tail.begin(), tail.end());
            return ids;
          }
        }
      }
    }
    std::vector<std::int32_t> ids;
    TESSERA_TRY(tok_->encode(full, ids, true, true));
    return ids;
  }

  session session_;
  std::optional<tokenizer> tok_;
  chat_template template_;
  aligned_buffer<float> logits_;         // a copy the sampler's penalties may change
  std::vector<std::int32_t> cached_;     // the ids whose keys and values the session holds, in order
  std::optional<sampler> sampler_;
  std::optional<generation_stream> stream_;
  std::unique_ptr<const stream_callback*> callback_;  // step()'s callback while it runs
  generation_result result_;
  std::int32_t pending_ = no_token;      // sampled, not yet decoded
  std::int64_t max_tokens_ = -1;
  bool active_ = false, chat_turn_ = false;
  std::string system_;
  std::vector<chat_message> messages_;
  std::string rendered_prompt_;
  std::optional<finished_turn> last_turn_;
};

}  // namespace tessera::llm
