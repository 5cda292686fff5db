// The LLM family's C ABI (on top of wasm/abi.hpp): a GGUF model from streamed bytes, sessions
// with their KV cache, tokenization, chat prompts, and generation driven one step (a token or
// a few) per call, so the JS side returns to the event loop between steps (V8 tiers the
// kernels up, an AbortSignal is seen between two steps, the page stays responsive).
//
//   tessera_llm_load(bytes)                       -> model (owns the bytes; its weights are views
//                                                    into them, regrouped in place: the file is
//                                                    never copied)
//   tessera_llm_info(model)                       -> JSON: architecture, sizes, tokenizer, template
//   tessera_llm_tokenize(model, text, len, add_special, parse_special) -> n; tessera_llm_ids(model)
//   tessera_llm_detokenize(model, ids, n, render_special) -> bytes; tessera_llm_text(model)
//   tessera_llm_chat_prompt(model, text, spans, n, add_generation_prompt) -> bytes; tessera_llm_text
//   tessera_llm_set_chat_template(model, name, len) (chatml, llama3, ...: chat_format_name)
//   tessera_llm_session_new(model, context, batch, flags) -> session (flags: tessera_llm_session_*;
//                                                    threads: tessera_set_threads)
//   tessera_llm_prepare(session, ids, n)          -> tokens of the KV cache kept (a common prefix)
//   tessera_llm_feed(session, max_tokens)         -> prompt tokens still to feed
//   tessera_llm_generate_begin(session, params, stop_text, stop_lengths, n_stop)
//   tessera_llm_generate_step(session, max_tokens) -> step (POD): ids sampled, their text, stop
//   tessera_llm_generate_finish(session)          -> step: the text still held back
//   tessera_llm_session_free(session), tessera_llm_free(model)
//
// A generation: prepare() with the whole prompt's ids (a chat's every turn), which keeps the
// longest prefix the cache already holds (so a conversation's earlier turns are not computed
// again) and queues the rest; feed() until it returns 0 (prompt processing, batched); then
// generate_begin() and generate_step() until the step's stop reason is not `none`. Sampling,
// stop strings, end-of-generation tokens and streaming detokenization are llm/'s (sampler,
// generation_stream), as natively.
//
// This is a small loop of its own over llm/'s public headers; it can give way to a shared
// library-level generation helper when one exists.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/llm/chat_template.hpp"
#include "tessera/llm/detokenizer.hpp"
#include "tessera/llm/model.hpp"
#include "tessera/llm/sampling.hpp"
#include "tessera/llm/session.hpp"
#include "tessera/llm/tokenizer.hpp"
#include "tessera/wasm/abi.hpp"

// Sampling and stopping parameters of one generation, as JS writes them into the heap (a
// DataView at these offsets, little-endian; see js/src/llm/backend.js).
struct tessera_llm_params {
  float temperature;         //  0: <= 0 is greedy
  float top_p;               //  4: (0, 1]; 1 is off
  float min_p;               //  8: [0, 1]; 0 is off
  float repeat_penalty;      // 12: 1 is off
  float frequency_penalty;   // 16
  float presence_penalty;    // 20
  std::int32_t top_k;        // 24: <= 0 is off
  std::int32_t penalty_last_n;  // 28: the penalties' window in tokens
  std::int32_t max_tokens;   // 32: tokens to generate at most; < 0: until the context is full
  std::uint32_t flags;       // 36: tessera_llm_flag_*
  std::uint64_t seed;        // 40
};
static_assert(sizeof(tessera_llm_params) == 48 && offsetof(tessera_llm_params, seed) == 40, "the layout JS writes");

inline constexpr std::uint32_t tessera_llm_flag_stop_at_eog = 1;     // end at the vocabulary's EOG tokens
inline constexpr std::uint32_t tessera_llm_flag_render_special = 2;  // control tokens' text is output

// A session's options (tessera_llm_session_new's flags).
inline constexpr std::uint32_t tessera_llm_session_kv_f16 = 1;      // the KV cache holds f16 values
inline constexpr std::uint32_t tessera_llm_session_prompt_f32 = 2;  // llm::session_options::prompt_f32

// What one generation step produced: `tokens` ids, and text in which token i's piece ends at
// text_ends[i]; text_ends[tokens] ends a tail that belongs to no token (text a stop ended or
// generate_finish released). Valid until the next call on the session.
struct tessera_llm_step {
  std::uint32_t tokens;          //  0
  std::int32_t stop_reason;      //  4: tessera_llm_stop_* (none while the generation goes on)
  const std::int32_t* ids;       //  8
  const std::uint32_t* text_ends;  // 12: tokens + 1 offsets
  const char* text;              // 16: UTF-8, not NUL-terminated
  std::uint32_t text_bytes;      // 20
  std::uint32_t position;        // 24: tokens in the KV cache after the step
};
#if defined(__EMSCRIPTEN__)
static_assert(sizeof(tessera_llm_step) == 28 && offsetof(tessera_llm_step, position) == 24, "the layout JS reads (wasm32)");
#endif

// Stop reasons: llm::stop_reason's values, and the context running out.
inline constexpr std::int32_t tessera_llm_stop_none = 0;
inline constexpr std::int32_t tessera_llm_stop_end_of_generation = 1;
inline constexpr std::int32_t tessera_llm_stop_stop_string = 2;
inline constexpr std::int32_t tessera_llm_stop_max_tokens = 3;
inline constexpr std::int32_t tessera_llm_stop_cancelled = 4;
inline constexpr std::int32_t tessera_llm_stop_context_full = 5;
static_assert(tessera_llm_stop_end_of_generation == static_cast<std::int32_t>(tessera::llm::stop_reason::end_of_generation) &&
                  tessera_llm_stop_stop_string == static_cast<std::int32_t>(tessera::llm::stop_reason::stop_string) &&
                  tessera_llm_stop_max_tokens == static_cast<std::int32_t>(tessera::llm::stop_reason::max_tokens) &&
                  tessera_llm_stop_cancelled == static_cast<std::int32_t>(tessera::llm::stop_reason::cancelled),
              "stop reasons as llm::stop_reason numbers them");

namespace tessera::wasm {

struct llm_model {
  llm::model model;  // owns the GGUF bytes
  llm::tokenizer tokenizer;
  llm::chat_template chat;
  std::string info;  // tessera_llm_info's JSON
  // The last tokenize / detokenize / chat_prompt answer.
  std::vector<std::int32_t> ids;
  std::string text;
};

struct llm_session {
  llm_session(const llm_model& m, llm::session s, std::size_t threads) : model(&m), session(std::move(s)), threads(threads) {}

  const llm_model* model;
  llm::session session;
  std::size_t threads;                 // the pool's size when the session was made (its scratch fits it)
  std::vector<std::int32_t> cached;    // the ids at KV-cache positions [0, position)
  std::vector<std::int32_t> pending;   // prompt ids prepare() queued for feed()
  bool logits_ready = false;           // logits() belong to cached.back()
  // The generation in progress.
  std::optional<llm::sampler> sampler;
  std::optional<llm::generation_stream> stream;
  std::int32_t stop = tessera_llm_stop_none;
  std::vector<float> logits;           // the sampler's copy (penalties change it)
  // The last step's answer.
  std::vector<std::int32_t> step_ids;
  std::vector<std::uint32_t> step_ends;
  std::string step_text;
  tessera_llm_step step{};
};

inline void append_json_field(std::string& out, const char* key, std::uint64_t value) {
  out += ",\"";
  out += key;
  out += "\":" + std::to_string(value);
}

inline void build_llm_info(llm_model& m) {
  const llm::model_config& c = m.model.config();
  const io::gguf_file& f = *m.model.gguf();
  const llm::tokenizer& tok = m.tokenizer;
  std::string& out = m.info;
  out = "{\"architecture\":";
  append_json_string(out, llm::architecture_name(c.arch));
  auto name = f.get<std::string_view>("general.name");
  out += ",\"name\":";
  append_json_string(out, name.ok() ? *name : std::string_view());
  append_json_field(out, "vocabSize", c.vocab_size);
  append_json_field(out, "contextLength", c.context_length);
  append_json_field(out, "embeddingLength", c.dim);
  append_json_field(out, "layers", c.n_layers);
  append_json_field(out, "heads", c.n_heads);
  append_json_field(out, "kvHeads", c.n_kv_heads);
  append_json_field(out, "headDim", c.head_dim);
  append_json_field(out, "feedForwardLength", c.hidden_dim);
  append_json_field(out, "fileBytes", m.model.bytes().size());
  append_json_field(out, "weightBytesPerToken", m.model.matrix_bytes_per_token());
  append_json_field(out, "parametersPerToken", m.model.matrix_params_per_token());
  // Tensor types by count, {"q8_0": 85, "f32": 25}.
  std::vector<std::pair<std::string, std::uint64_t>> types;
  for (const io::gguf_tensor& t : f.tensors()) {
    auto it = std::find_if(types.begin(), types.end(), [&](const auto& e) { return e.first == t.type_name(); });
    if (it == types.end()) types.emplace_back(t.type_name(), 1);
    else ++it->second;
  }
  out += ",\"tensorTypes\":{";
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, types[i].first);
    out += ':' + std::to_string(types[i].second);
  }
  out += "},\"tokenizer\":{\"model\":";
  append_json_string(out, tok.model() == llm::tokenizer_model::spm ? "spm" : tok.model() == llm::tokenizer_model::bpe ? "bpe" : "wpm");
  append_json_field(out, "tokens", static_cast<std::uint64_t>(tok.n_tokens()));
  out += ",\"bos\":" + std::to_string(tok.bos()) + ",\"eos\":" + std::to_string(tok.eos());
  out += ",\"addBos\":";
  out += tok.add_bos() ? "true" : "false";
  out += ",\"endOfGeneration\":[";
  for (std::size_t i = 0; i < tok.eog_tokens().size(); ++i) out += (i ? "," : "") + std::to_string(tok.eog_tokens()[i]);
  out += "]},\"chatTemplate\":{\"format\":";
  append_json_string(out, m.chat.name());
  out += ",\"recognized\":";
  out += m.chat.recognized() ? "true" : "false";
  out += ",\"warning\":";
  append_json_string(out, m.chat.warning());
  out += ",\"inFile\":";
  out += f.find("tokenizer.chat_template") ? "true" : "false";
  out += "}}";
}

inline status load_llm_model(std::unique_ptr<byte_buffer> bytes, std::unique_ptr<llm_model>& out) {
  if (!bytes) return make_error(errc::invalid_argument, "llm_load: no model bytes");
  // The buffer's heap block moves into the model, which regroups its matrices there.
  TESSERA_ASSIGN_OR_RETURN(llm::model model, llm::model::from_bytes(std::move(bytes->bytes)));
  TESSERA_ASSIGN_OR_RETURN(llm::tokenizer tok, llm::tokenizer::from_gguf(*model.gguf()));
  llm::chat_template chat = llm::chat_template::from_gguf(*model.gguf());
  out.reset(new llm_model{std::move(model), std::move(tok), std::move(chat), {}, {}, {}});
  build_llm_info(*out);
  return {};
}

// Spans (offset, bytes) into `text`, checked against its length.
inline expected<std::string_view> span_of(std::string_view text, std::uint32_t offset, std::uint32_t length, const char* what) {
  if (offset > text.size() || length > text.size() - offset)
    return make_error(errc::out_of_range, std::string(what) + ": bytes [" + std::to_string(offset) + ", +" + std::to_string(length) +
                                              ") outside the " + std::to_string(text.size()) + "-byte text");
  return text.substr(offset, length);
}

inline status chat_prompt(llm_model& m, std::string_view text, const std::uint32_t* spans, std::uint32_t n, bool add_generation_prompt) {
  if (n != 0 && spans == nullptr) return make_error(errc::invalid_argument, "chat: null message spans");
  std::vector<llm::chat_message> messages(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::string where = "chat: message " + std::to_string(i);
    TESSERA_ASSIGN_OR_RETURN(std::string_view role, span_of(text, spans[4 * i], spans[4 * i + 1], (where + " role").c_str()));
    TESSERA_ASSIGN_OR_RETURN(std::string_view content, span_of(text, spans[4 * i + 2], spans[4 * i + 3], (where + " content").c_str()));
    messages[i] = {std::string(role), std::string(content)};
  }
  TESSERA_ASSIGN_OR_RETURN(m.text, m.chat.apply(messages, add_generation_prompt));
  return {};
}

inline status check_ids(const llm::tokenizer& tok, std::span<const std::int32_t> ids, const char* what) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!tok.contains(ids[i]))
      return make_error(errc::out_of_range, std::string(what) + ": id " + std::to_string(ids[i]) + " at " + std::to_string(i) +
                                                " is not in the vocabulary of " + std::to_string(tok.n_tokens()) + " tokens");
  return {};
}

inline status create_session(const llm_model& m, std::uint32_t context, std::uint32_t batch, std::uint32_t flags,
                             std::unique_ptr<llm_session>& out) {
  if (flags & ~(tessera_llm_session_kv_f16 | tessera_llm_session_prompt_f32))
    return make_error(errc::invalid_argument, "session: unknown flags " + std::to_string(flags));
  const std::uint32_t trained = m.model.config().context_length;
  if (context > trained && trained != 0)
    return make_error(errc::invalid_argument, "session: a context of " + std::to_string(context) + " positions exceeds the model's " +
                                                  std::to_string(trained));
  llm::session_options opts;
  opts.context = context;
  if (batch) opts.batch = batch;
  opts.kv_type = flags & tessera_llm_session_kv_f16 ? llm::kv_cache_type::f16 : llm::kv_cache_type::f32;
  opts.prompt_f32 = (flags & tessera_llm_session_prompt_f32) != 0;
  opts.pool = &module_pool();
  TESSERA_ASSIGN_OR_RETURN(llm::session s, llm::session::create(m.model, opts));
  out = std::make_unique<llm_session>(m, std::move(s), module_pool().num_threads());
  return {};
}

inline status check_threads(const llm_session& s) {
  if (module_pool().num_threads() != s.threads)
    return make_error(errc::invalid_argument, "session: made for " + std::to_string(s.threads) + " thread(s), the module now runs " +
                                                  std::to_string(module_pool().num_threads()) + " (make a new session)");
  return {};
}

// Keeps the longest prefix of the cache that `ids` start with (all but the last id at most:
// the last prompt token must be fed again for its logits) and queues the rest.
inline status prepare(llm_session& s, std::span<const std::int32_t> ids, std::uint32_t& kept) {
  s.stream.reset();
  s.sampler.reset();
  if (ids.empty()) return make_error(errc::invalid_argument, "prepare: an empty prompt");
  TESSERA_TRY(check_ids(s.model->tokenizer, ids, "prompt"));
  if (ids.size() > s.session.context())
    return make_error(errc::out_of_range, "prompt: " + std::to_string(ids.size()) + " tokens do not fit the context of " +
                                              std::to_string(s.session.context()) + " positions");
  std::size_t k = 0;
  const std::size_t most = std::min(s.cached.size(), ids.size() - 1);
  while (k < most && s.cached[k] == ids[k]) ++k;
  TESSERA_TRY(s.session.rewind(static_cast<std::uint32_t>(k)));
  s.cached.resize(k);
  s.pending.assign(ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end());
  s.logits_ready = false;
  kept = static_cast<std::uint32_t>(k);
  return {};
}

inline status feed(llm_session& s, std::uint32_t max_tokens) {
  TESSERA_TRY(check_threads(s));
  const std::size_t n = std::min<std::size_t>(max_tokens, s.pending.size());
  if (n == 0) return {};
  const std::span<const std::int32_t> chunk(s.pending.data(), n);
  const status r = s.session.decode(chunk);
  if (!r.ok()) {
    // What decode() did not finish is not in the cache: start over from a clean state.
    s.session.reset();
    s.cached.clear();
    s.pending.clear();
    s.logits_ready = false;
    return r;
  }
  s.cached.insert(s.cached.end(), chunk.begin(), chunk.end());
  s.pending.erase(s.pending.begin(), s.pending.begin() + static_cast<std::ptrdiff_t>(n));
  s.logits_ready = s.pending.empty();
  return {};
}

inline status generate_begin(llm_session& s, const tessera_llm_params& p, std::string_view stop_text, const std::uint32_t* stop_lengths,
                             std::uint32_t n_stop) {
  s.stream.reset();
  s.sampler.reset();
  if (!s.logits_ready) return make_error(errc::invalid_argument, "generate: no prompt was fed (prepare and feed it first)");
  llm::sampler_params sp;
  sp.temperature = p.temperature;
  sp.top_k = p.top_k;
  sp.top_p = p.top_p;
  sp.min_p = p.min_p;
  sp.repeat_penalty = p.repeat_penalty;
  sp.frequency_penalty = p.frequency_penalty;
  sp.presence_penalty = p.presence_penalty;
  sp.penalty_last_n = p.penalty_last_n;
  sp.seed = p.seed;
  TESSERA_ASSIGN_OR_RETURN(llm::sampler sampler, llm::sampler::create(sp));
  llm::stream_options so;
  if (n_stop != 0 && stop_lengths == nullptr) return make_error(errc::invalid_argument, "generate: null stop-string lengths");
  std::uint32_t at = 0;
  for (std::uint32_t i = 0; i < n_stop; ++i) {
    TESSERA_ASSIGN_OR_RETURN(std::string_view stop, span_of(stop_text, at, stop_lengths[i], "stop string"));
    so.stop_strings.emplace_back(stop);
    at += stop_lengths[i];
  }
  so.max_tokens = p.max_tokens;
  so.stop_at_eog = (p.flags & tessera_llm_flag_stop_at_eog) != 0;
  so.render_special = (p.flags & tessera_llm_flag_render_special) != 0;
  // The penalties' window sees the tokens before the answer, as llama.cpp's prompt.
  sampler.accept(s.cached);
  s.sampler.emplace(std::move(sampler));
  s.stream.emplace(s.model->tokenizer, std::move(so), [&s](std::string_view text, std::int32_t) {
    s.step_text += text;
    return true;
  });
  s.stop = tessera_llm_stop_none;
  s.logits.resize(s.session.logits().size());
  return {};
}

inline void start_step(llm_session& s) {
  s.step_ids.clear();
  s.step_ends.clear();
  s.step_text.clear();
}

inline const tessera_llm_step* end_step(llm_session& s) {
  s.step_ends.push_back(static_cast<std::uint32_t>(s.step_text.size()));
  s.step = {static_cast<std::uint32_t>(s.step_ids.size()),
            s.stop,
            s.step_ids.data(),
            s.step_ends.data(),
            s.step_text.data(),
            static_cast<std::uint32_t>(s.step_text.size()),
            s.session.position()};
  return &s.step;
}

// Samples up to max_tokens tokens: each is pushed through the stream (stop strings, EOG,
// limit) and, unless that ends the generation, fed to the model for the next one's logits.
inline status generate_step(llm_session& s, std::uint32_t max_tokens) {
  start_step(s);
  if (!s.stream || !s.sampler) return make_error(errc::invalid_argument, "generate: no generation was begun");
  if (s.stop != tessera_llm_stop_none) return {};
  TESSERA_TRY(check_threads(s));
  for (std::uint32_t i = 0; i < max_tokens && s.stop == tessera_llm_stop_none; ++i) {
    const std::span<const float> logits = s.session.logits();
    std::copy(logits.begin(), logits.end(), s.logits.begin());
    TESSERA_ASSIGN_OR_RETURN(const std::int32_t id, s.sampler->sample(s.logits));
    s.step_ids.push_back(id);
    const llm::stop_reason why = s.stream->push(id);
    s.step_ends.push_back(static_cast<std::uint32_t>(s.step_text.size()));
    if (why != llm::stop_reason::none) {
      s.stop = static_cast<std::int32_t>(why);
    } else if (s.session.position() == s.session.context()) {
      s.stream->finish();
      s.stop = tessera_llm_stop_context_full;
    } else {
      s.logits_ready = false;
      const std::int32_t fed[1] = {id};
      TESSERA_TRY(s.session.decode(fed));
      s.cached.push_back(id);
      s.logits_ready = true;
    }
  }
  // The id that ended a generation was not fed: the next one starts from a new prompt.
  if (s.stop != tessera_llm_stop_none) s.logits_ready = false;
  return {};
}

// Ends the generation where it stands (the caller stopped it): releases the text held back
// (an incomplete character, a possible start of a stop string).
inline void generate_finish(llm_session& s) {
  start_step(s);
  if (s.stream && s.stop == tessera_llm_stop_none) {
    s.stream->finish();
    s.stop = tessera_llm_stop_cancelled;
    s.logits_ready = false;
  }
}

}  // namespace tessera::wasm

// Loads a GGUF model from the streamed bytes, which the model keeps (its weights are views
// into them). Null on failure (error slot set); the bytes are freed either way.
TESSERA_WASM_EXPORT tessera::wasm::llm_model* tessera_llm_load(tessera::wasm::byte_buffer* bytes) {
  return tessera::wasm::load_from_bytes<tessera::wasm::llm_model>(bytes, tessera::wasm::load_llm_model);
}

TESSERA_WASM_EXPORT const char* tessera_llm_info(const tessera::wasm::llm_model* m) { return m == nullptr ? "" : m->info.c_str(); }

// The ids of a UTF-8 text: their count (read them at tessera_llm_ids), or -1 on failure.
TESSERA_WASM_EXPORT std::int32_t tessera_llm_tokenize(tessera::wasm::llm_model* m, const char* text, std::uint32_t len,
                                                      std::int32_t add_special, std::int32_t parse_special) {
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "tokenize: no model");
    if (text == nullptr && len != 0) return tessera::make_error(tessera::errc::invalid_argument, "tokenize: null text");
    m->ids.clear();
    return m->tokenizer.encode(std::string_view(text == nullptr ? "" : text, len), m->ids, add_special != 0, parse_special != 0);
  });
  return rc == 0 ? static_cast<std::int32_t>(m->ids.size()) : -1;
}

TESSERA_WASM_EXPORT const std::int32_t* tessera_llm_ids(const tessera::wasm::llm_model* m) { return m == nullptr ? nullptr : m->ids.data(); }

// The text of ids: its size in bytes (read it at tessera_llm_text), or -1 on failure.
TESSERA_WASM_EXPORT std::int32_t tessera_llm_detokenize(tessera::wasm::llm_model* m, const std::int32_t* ids, std::uint32_t n,
                                                        std::int32_t render_special) {
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "detokenize: no model");
    if (ids == nullptr && n != 0) return tessera::make_error(tessera::errc::invalid_argument, "detokenize: null ids");
    const std::span<const std::int32_t> list(ids, n);
    TESSERA_TRY(tessera::wasm::check_ids(m->tokenizer, list, "detokenize"));
    m->text = m->tokenizer.decode(list, render_special != 0);
    return {};
  });
  return rc == 0 ? static_cast<std::int32_t>(m->text.size()) : -1;
}

TESSERA_WASM_EXPORT const char* tessera_llm_text(const tessera::wasm::llm_model* m) { return m == nullptr ? nullptr : m->text.data(); }

// The prompt of a conversation in the model's chat format: `spans` holds four offsets per
// message into `text` (role offset, role bytes, content offset, content bytes). Returns the
// prompt's size in bytes (at tessera_llm_text), or -1 on failure.
TESSERA_WASM_EXPORT std::int32_t tessera_llm_chat_prompt(tessera::wasm::llm_model* m, const char* text, std::uint32_t len,
                                                         const std::uint32_t* spans, std::uint32_t n_messages,
                                                         std::int32_t add_generation_prompt) {
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "chat: no model");
    if (text == nullptr && len != 0) return tessera::make_error(tessera::errc::invalid_argument, "chat: null text");
    return tessera::wasm::chat_prompt(*m, std::string_view(text == nullptr ? "" : text, len), spans, n_messages, add_generation_prompt != 0);
  });
  return rc == 0 ? static_cast<std::int32_t>(m->text.size()) : -1;
}

// Replaces the chat format the model's metadata implies ("chatml", "llama3", ...).
TESSERA_WASM_EXPORT std::int32_t tessera_llm_set_chat_template(tessera::wasm::llm_model* m, const char* name, std::uint32_t len) {
  return tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "set_chat_template: no model");
    TESSERA_ASSIGN_OR_RETURN(m->chat, tessera::llm::chat_template::from_name(std::string_view(name == nullptr ? "" : name, len)));
    tessera::wasm::build_llm_info(*m);
    return {};
  });
}

TESSERA_WASM_EXPORT void tessera_llm_free(tessera::wasm::llm_model* m) { delete m; }

// A session over the model (which must outlive it): `context` positions in its KV cache (0:
// the model's, at most 4096), prompts fed `batch` tokens per forward pass (0: 32), with the
// tessera_llm_session_* flags (an f16 KV cache; f32 products for prompt batches of 32 tokens
// or more, whose logits then depend on the batching). It runs on the module's threads as they
// are now (tessera_set_threads first).
TESSERA_WASM_EXPORT tessera::wasm::llm_session* tessera_llm_session_new(const tessera::wasm::llm_model* m, std::uint32_t context,
                                                                        std::uint32_t batch, std::uint32_t flags) {
  std::unique_ptr<tessera::wasm::llm_session> s;
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "session: no model");
    return tessera::wasm::create_session(*m, context, batch, flags, s);
  });
  return rc == 0 ? s.release() : nullptr;
}

TESSERA_WASM_EXPORT std::uint32_t tessera_llm_context(const tessera::wasm::llm_session* s) { return s == nullptr ? 0u : s->session.context(); }
TESSERA_WASM_EXPORT std::uint32_t tessera_llm_batch(const tessera::wasm::llm_session* s) { return s == nullptr ? 0u : s->session.batch(); }
TESSERA_WASM_EXPORT std::uint32_t tessera_llm_position(const tessera::wasm::llm_session* s) { return s == nullptr ? 0u : s->session.position(); }

// Queues a prompt (all of a conversation's ids): returns how many of its first ids the KV cache
// already holds and keeps, or -1 on failure.
TESSERA_WASM_EXPORT std::int32_t tessera_llm_prepare(tessera::wasm::llm_session* s, const std::int32_t* ids, std::uint32_t n) {
  std::uint32_t kept = 0;
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (s == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "prepare: no session");
    if (ids == nullptr && n != 0) return tessera::make_error(tessera::errc::invalid_argument, "prepare: null ids");
    return tessera::wasm::prepare(*s, std::span<const std::int32_t>(ids, n), kept);
  });
  return rc == 0 ? static_cast<std::int32_t>(kept) : -1;
}

// Feeds up to max_tokens queued prompt tokens (one forward pass per `batch`): returns the
// number still queued, or -1 on failure.
TESSERA_WASM_EXPORT std::int32_t tessera_llm_feed(tessera::wasm::llm_session* s, std::uint32_t max_tokens) {
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (s == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "feed: no session");
    return tessera::wasm::feed(*s, max_tokens);
  });
  return rc == 0 ? static_cast<std::int32_t>(s->pending.size()) : -1;
}

// Starts a generation from the fed prompt's logits. stop_text holds the stop strings back to
// back, stop_lengths their byte counts.
TESSERA_WASM_EXPORT std::int32_t tessera_llm_generate_begin(tessera::wasm::llm_session* s, const tessera_llm_params* params,
                                                            const char* stop_text, const std::uint32_t* stop_lengths,
                                                            std::uint32_t n_stop) {
  return tessera::wasm::guarded([&]() -> tessera::status {
    if (s == nullptr || params == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "generate: no session or parameters");
    std::uint64_t total = 0;
    for (std::uint32_t i = 0; i < n_stop && stop_lengths != nullptr; ++i) total += stop_lengths[i];
    if (total > 0xFFFFFFFFu) return tessera::make_error(tessera::errc::invalid_argument, "generate: stop strings of 4 GiB or more");
    if (stop_text == nullptr && total != 0) return tessera::make_error(tessera::errc::invalid_argument, "generate: null stop strings");
    const std::string_view all(stop_text == nullptr ? "" : stop_text, static_cast<std::size_t>(total));
    return tessera::wasm::generate_begin(*s, *params, all, stop_lengths, n_stop);
  });
}

// Up to max_tokens more tokens of the generation; null on failure.
TESSERA_WASM_EXPORT const tessera_llm_step* tessera_llm_generate_step(tessera::wasm::llm_session* s, std::uint32_t max_tokens) {
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (s == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "generate: no session");
    return tessera::wasm::generate_step(*s, max_tokens);
  });
  return rc == 0 ? tessera::wasm::end_step(*s) : nullptr;
}

// Stops the generation (if it has not stopped): the step holds the text still held back.
TESSERA_WASM_EXPORT const tessera_llm_step* tessera_llm_generate_finish(tessera::wasm::llm_session* s) {
  if (s == nullptr) return nullptr;
  tessera::wasm::generate_finish(*s);
  return tessera::wasm::end_step(*s);
}

// Empties the KV cache.
TESSERA_WASM_EXPORT void tessera_llm_reset(tessera::wasm::llm_session* s) {
  if (s == nullptr) return;
  s->session.reset();
  s->cached.clear();
  s->pending.clear();
  s->logits_ready = false;
  s->stream.reset();
  s->sampler.reset();
}

TESSERA_WASM_EXPORT void tessera_llm_session_free(tessera::wasm::llm_session* s) { delete s; }
