// The generation loop on token ids: feed the prompt (batched), then repeatedly pick the next
// id from the last logits and feed it back. Picking is the caller's function, so any sampler
// plugs in (greedy() below, or a sampler over temperature/top-k/top-p); so is what happens to
// each new id (print it, detokenize it, stop on it).
//
//   llm::generate(session, prompt, {.max_tokens = 64},
//                 [](std::span<const float> logits) { return llm::greedy(logits); },
//                 [&](std::int32_t id) { out.push_back(id); return id != eos; });
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/llm/session.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

namespace tessera::llm {

// The id of the largest logit (the lowest id among equal ones). NaN never wins.
inline std::int32_t greedy(std::span<const float> logits) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best] || (logits[best] != logits[best] && logits[i] == logits[i])) best = i;
  return static_cast<std::int32_t>(best);
}

struct generate_options {
  std::uint32_t max_tokens = 128;  // new tokens at most (also bounded by the session's context)
};

struct generate_result {
  std::uint32_t prompt_tokens = 0;
  std::uint32_t generated = 0;
  bool stopped = false;        // on_token returned false
  bool context_full = false;   // the context ran out before max_tokens
};

// pick(std::span<const float> logits) -> std::int32_t next id;
// on_token(std::int32_t id) -> bool: false stops (the id is then not fed to the model).
// An empty prompt continues from the session's current logits.
template <class Pick, class OnToken>
expected<generate_result> generate(session& s, std::span<const std::int32_t> prompt, const generate_options& opts, Pick&& pick,
                                   OnToken&& on_token) {
  generate_result r;
  if (prompt.size() > s.context() - s.position())
    return make_error(errc::out_of_range, "generate: a prompt of " + std::to_string(prompt.size()) + " tokens does not fit the " +
                                              std::to_string(s.context() - s.position()) + " positions left of the context (" +
                                              std::to_string(s.context()) + ")");
  if (prompt.empty() && s.position() == 0) return make_error(errc::invalid_argument, "generate: an empty prompt on a fresh session");
  TESSERA_TRY(s.decode(prompt));
  r.prompt_tokens = static_cast<std::uint32_t>(prompt.size());
  const std::uint32_t vocab = s.owner().config().vocab_size;
  while (r.generated < opts.max_tokens) {
    const std::int32_t id = pick(s.logits());
    if (id < 0 || static_cast<std::uint32_t>(id) >= vocab)
      return make_error(errc::out_of_range, "generate: the sampler picked id " + std::to_string(id) + " (vocabulary of " + std::to_string(vocab) + ")");
    ++r.generated;
    if (!on_token(id)) {
      r.stopped = true;
      break;
    }
    if (r.generated == opts.max_tokens) break;
    if (s.position() == s.context()) {
      r.context_full = true;
      break;
    }
    TESSERA_TRY(s.decode(std::span<const std::int32_t>(&id, 1)));
  }
  return r;
}

}  // namespace tessera::llm
