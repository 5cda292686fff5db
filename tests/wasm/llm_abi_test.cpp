// The LLM C ABI (wasm/llm_abi.hpp), called as the JS package calls it: the GGUF streamed in
// chunks, prompts prepared and fed in batches, generation step by step. Oracles: llm/'s own
// generation loop (llm::generate over a fresh session, with llm::greedy or an llm::sampler)
// for the ids, the tokenizer's decode for the text, the chat template for chat prompts.
// Natively and under Node (built with -fwasm-exceptions there, like the package's modules).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "support/llm_test_model.hpp"
#include "tessera/llm/generate.hpp"
#include "tessera/wasm/llm_abi.hpp"
#include "wasm/stream_bytes.hpp"

namespace {

using namespace tessera;
using tessera::wasm::byte_buffer;
using tessera::wasm::llm_model;
using tessera::wasm::llm_session;

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::vector<std::uint8_t> out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "cannot read the fixture %s\n", path.c_str());
    std::abort();
  }
  std::uint8_t buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}

const std::vector<std::uint8_t>& model_bytes() {
  static const std::vector<std::uint8_t> bytes =
      test::must(tessera_test::llm_test_model(read_file(std::string(TESSERA_SOURCE_DIR) + "/tests/llm/tokenizer_data/spm_bytes.gguf")));
  return bytes;
}

using tessera_wasm_test::stream_bytes;

llm_model* load(std::size_t chunk = 65536, bool announce = true) {
  llm_model* m = tessera_llm_load(stream_bytes(model_bytes(), chunk, announce));
  INFO(tessera_error_message());
  REQUIRE(m != nullptr);
  return m;
}

// The library's own loop on a fresh session: the ids it generates after `prompt`.
template <class Pick>
std::vector<std::int32_t> reference_ids(const std::vector<std::int32_t>& prompt, std::uint32_t n, std::uint32_t context, Pick&& pick,
                                        bool prompt_f32 = false) {
  const llm::model m = test::must(llm::model::from_bytes(model_bytes()));
  llm::session s = test::must(llm::session::create(m, {.context = context, .prompt_f32 = prompt_f32}));
  std::vector<std::int32_t> out;
  auto r = llm::generate(s, prompt, {.max_tokens = n}, pick, [&](std::int32_t id) {
    out.push_back(id);
    return true;
  });
  REQUIRE(r.ok());
  return out;
}

tessera_llm_params params(float temperature, std::int32_t max_tokens, std::uint64_t seed = 0, bool stop_at_eog = false) {
  tessera_llm_params p{};
  p.temperature = temperature;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repeat_penalty = 1.0f;
  p.penalty_last_n = 64;
  p.max_tokens = max_tokens;
  p.flags = stop_at_eog ? tessera_llm_flag_stop_at_eog : 0;
  p.seed = seed;
  return p;
}

struct run_result {
  std::vector<std::int32_t> ids;
  std::vector<std::string> pieces;  // per token
  std::string text;                 // all of it, tails included
  std::int32_t stop = 0;
  std::uint32_t kept = 0;
  std::uint32_t steps = 0;
};

// prepare + feed (batch tokens per call) + begin + steps of `per_step` tokens, as the JS
// backend drives them.
run_result run(llm_session* s, const std::vector<std::int32_t>& prompt, const tessera_llm_params& p, std::uint32_t per_step,
               const std::vector<std::string>& stops = {}) {
  run_result r;
  const std::int32_t kept = tessera_llm_prepare(s, prompt.data(), static_cast<std::uint32_t>(prompt.size()));
  INFO(tessera_error_message());
  REQUIRE(kept >= 0);
  r.kept = static_cast<std::uint32_t>(kept);
  for (std::int32_t left = 1; left > 0;) {
    left = tessera_llm_feed(s, tessera_llm_batch(s));
    REQUIRE(left >= 0);
    if (left < 0) return r;
  }
  std::string stop_text;
  std::vector<std::uint32_t> lengths;
  for (const std::string& x : stops) {
    stop_text += x;
    lengths.push_back(static_cast<std::uint32_t>(x.size()));
  }
  REQUIRE(tessera_llm_generate_begin(s, &p, stop_text.data(), lengths.data(), static_cast<std::uint32_t>(lengths.size())) == 0);
  for (;;) {
    const tessera_llm_step* step = tessera_llm_generate_step(s, per_step);
    REQUIRE(step != nullptr);
    if (step == nullptr) return r;
    ++r.steps;
    std::uint32_t begin = 0;
    for (std::uint32_t i = 0; i < step->tokens; ++i) {
      r.ids.push_back(step->ids[i]);
      r.pieces.emplace_back(step->text + begin, step->text_ends[i] - begin);
      begin = step->text_ends[i];
    }
    CHECK(step->text_ends[step->tokens] == step->text_bytes);
    r.text.append(step->text, step->text_bytes);
    CHECK(step->position == tessera_llm_position(s));
    if (step->stop_reason != tessera_llm_stop_none) {
      r.stop = step->stop_reason;
      return r;
    }
    REQUIRE(step->tokens == per_step);
  }
}

std::vector<std::int32_t> tokenize(llm_model* m, const std::string& text, bool add_special = true, bool parse_special = false) {
  const std::int32_t n = tessera_llm_tokenize(m, text.data(), static_cast<std::uint32_t>(text.size()), add_special, parse_special);
  REQUIRE(n >= 0);
  const std::int32_t* ids = tessera_llm_ids(m);
  return std::vector<std::int32_t>(ids, ids + std::max(n, 0));
}

std::string detokenize(llm_model* m, const std::vector<std::int32_t>& ids) {
  const std::int32_t n = tessera_llm_detokenize(m, ids.data(), static_cast<std::uint32_t>(ids.size()), 0);
  REQUIRE(n >= 0);
  return std::string(tessera_llm_text(m), static_cast<std::size_t>(std::max(n, 0)));
}

// Text as a browser shows it: each invalid UTF-8 unit becomes U+FFFD (what the streamed
// pieces hold; the tokenizer's decode keeps the bytes).
std::string displayed(const std::string& bytes) {
  std::string out;
  for (std::size_t pos = 0; pos < bytes.size();) {
    const llm::unicode::utf8_unit u = llm::unicode::decode_utf8(bytes, pos);
    if (u.valid) out.append(bytes, pos, u.length);
    else llm::unicode::append_utf8(out, llm::unicode::replacement_character);
    pos += u.length;
  }
  return out;
}

const std::vector<std::int32_t> kPrompt = {1, 57, 300, 42, 611, 9, 128, 77, 404, 5, 250, 18, 33, 690, 101, 64, 7, 222, 310, 45};

}  // namespace

TEST_SUITE("wasm/llm_abi") {
  TEST_CASE("the model keeps the streamed bytes (no copy) and describes itself") {
    for (const bool announce : {true, false}) {
      byte_buffer* streamed = stream_bytes(model_bytes(), 7000, announce);
      const std::uint8_t* at = streamed->bytes.data();
      llm_model* m = tessera_llm_load(streamed);
      REQUIRE(m != nullptr);
      CHECK(m->model.bytes().data() == at);
      CHECK(m->model.bytes().size() == model_bytes().size());
      const nlohmann::json info = nlohmann::json::parse(tessera_llm_info(m));
      CHECK(info["architecture"] == "llama");
      CHECK(info["vocabSize"] == 700);
      CHECK(info["layers"] == 2);
      CHECK(info["embeddingLength"] == 64);
      CHECK(info["kvHeads"] == 2);
      CHECK(info["tokenizer"]["model"] == "spm");
      CHECK(info["tokenizer"]["tokens"] == 700);
      CHECK(info["tensorTypes"]["q8_0"] == 2 * 7 + 2);
      CHECK(info["chatTemplate"]["format"] == "chatml");
      CHECK(info["chatTemplate"]["recognized"] == true);
      CHECK(info["chatTemplate"]["inFile"] == true);
      CHECK(info["fileBytes"] == model_bytes().size());
      tessera_llm_free(m);
    }
  }

  TEST_CASE("greedy generation in steps of 1, 3 and 16 tokens equals llm::generate's greedy ids") {
    llm_model* m = load();
    const std::vector<std::int32_t> want = reference_ids(kPrompt, 40, 128, llm::greedy);
    for (const std::uint32_t per_step : {1u, 3u, 16u}) {
      for (const std::uint32_t batch : {0u, 7u}) {
        llm_session* s = tessera_llm_session_new(m, 128, batch, 0);
        REQUIRE(s != nullptr);
        const run_result r = run(s, kPrompt, params(0.0f, 40), per_step);
        CHECK(r.ids == want);
        CHECK(r.stop == tessera_llm_stop_max_tokens);
        CHECK(r.steps == (40 + per_step - 1) / per_step);
        CHECK(tessera_llm_position(s) == kPrompt.size() + 39);  // the last token is not fed
        tessera_llm_session_free(s);
      }
    }
    tessera_llm_free(m);
  }

  TEST_CASE("session flags: f32 prompt products as llm::session_options::prompt_f32 gives them; unknown flags refused") {
    llm_model* m = load();
    std::vector<std::int32_t> prompt = kPrompt;
    prompt.insert(prompt.end(), kPrompt.begin(), kPrompt.end());  // 40 tokens: a batch of 32 and a tail
    const std::vector<std::int32_t> want = reference_ids(prompt, 16, 128, llm::greedy, /*prompt_f32=*/true);
    for (const std::uint32_t flags : {tessera_llm_session_prompt_f32, tessera_llm_session_prompt_f32 | tessera_llm_session_kv_f16}) {
      llm_session* s = tessera_llm_session_new(m, 128, 0, flags);
      REQUIRE(s != nullptr);
      const run_result r = run(s, prompt, params(0.0f, 16), 4);
      if (flags == tessera_llm_session_prompt_f32) CHECK(r.ids == want);
      else CHECK(r.ids.size() == 16);  // the f16 cache rounds the keys and values
      tessera_llm_session_free(s);
    }
    CHECK(tessera_llm_session_new(m, 128, 0, 4) == nullptr);
    CHECK(std::string(tessera_error_message()).find("unknown flags 4") != std::string::npos);
    tessera_llm_free(m);
  }

  TEST_CASE("a seeded sampled run equals llm::generate with the same sampler, and the seed decides") {
    llm_model* m = load();
    for (const std::uint64_t seed : {1ull, 0x123456789abcdefull}) {
      tessera_llm_params p = params(0.9f, 32, seed);
      p.repeat_penalty = 1.1f;
      p.frequency_penalty = 0.05f;
      llm::sampler_params sp{.temperature = p.temperature, .top_k = p.top_k, .top_p = p.top_p, .min_p = p.min_p,
                             .repeat_penalty = p.repeat_penalty, .frequency_penalty = p.frequency_penalty,
                             .presence_penalty = 0.0f, .penalty_last_n = p.penalty_last_n, .seed = seed};
      llm::sampler sampler = test::must(llm::sampler::create(sp));
      sampler.accept(kPrompt);
      std::vector<float> scratch;
      const std::vector<std::int32_t> want = reference_ids(kPrompt, 32, 128, [&](std::span<const float> logits) {
        scratch.assign(logits.begin(), logits.end());
        return test::must(sampler.sample(scratch));
      });
      llm_session* s = tessera_llm_session_new(m, 128, 0, 0);
      REQUIRE(s != nullptr);
      const run_result r = run(s, kPrompt, p, 5);
      CHECK(r.ids == want);
      // The same seed again gives the same ids; the cache keeps all of the prompt but its last token.
      const run_result again = run(s, kPrompt, p, 4);
      CHECK(again.ids == want);
      CHECK(again.kept == kPrompt.size() - 1);
      tessera_llm_session_free(s);
    }
    llm_session* s = tessera_llm_session_new(m, 128, 0, 0);
    REQUIRE(s != nullptr);
    CHECK(run(s, kPrompt, params(0.9f, 32, 1), 8).ids != run(s, kPrompt, params(0.9f, 32, 2), 8).ids);
    tessera_llm_session_free(s);
    tessera_llm_free(m);
  }

  TEST_CASE("text: the pieces are the tokenizer's decode of the ids, and tokenize/detokenize round-trip") {
    llm_model* m = load();
    const std::string text = "The licensor grants you a copyright license; \xC3\xA9t\xC3\xA9 \xE2\x82\xAC 42.";
    const std::vector<std::int32_t> ids = tokenize(m, text);
    REQUIRE(!ids.empty());
    CHECK(ids[0] == m->tokenizer.bos());
    CHECK(ids == test::must(m->tokenizer.encode(text, true, false)));
    CHECK(detokenize(m, ids) == text);
    llm_session* s = tessera_llm_session_new(m, 160, 0, 0);
    REQUIRE(s != nullptr);
    const run_result r = run(s, ids, params(0.0f, 48), 6);
    std::string joined;
    for (const std::string& p : r.pieces) joined += p;
    CHECK(joined == r.text);
    CHECK(r.text == displayed(m->tokenizer.decode(r.ids)));
    CHECK(detokenize(m, r.ids) == m->tokenizer.decode(r.ids));
    tessera_llm_session_free(s);
    tessera_llm_free(m);
  }

  TEST_CASE("a stop string ends the text before it, also across token boundaries; limits and EOG stop") {
    llm_model* m = load();
    llm_session* s = tessera_llm_session_new(m, 160, 0, 0);
    REQUIRE(s != nullptr);
    const run_result full = run(s, kPrompt, params(0.0f, 60), 4);
    REQUIRE(full.text.size() > 20);
    // A stop string made of the end of one token's piece and the start of the next.
    std::size_t at = 0, cut = 0;
    for (std::size_t i = 0; i + 1 < full.pieces.size() && cut == 0; ++i) {
      at += full.pieces[i].size();
      if (at > 8 && full.pieces[i].size() >= 2 && full.pieces[i + 1].size() >= 2) cut = at;
    }
    REQUIRE(cut > 0);
    const std::string stop = full.text.substr(cut - 2, 4);
    const run_result stopped = run(s, kPrompt, params(0.0f, 60), 4, {"never appears \x01", stop});
    CHECK(stopped.stop == tessera_llm_stop_stop_string);
    CHECK(stopped.text == full.text.substr(0, full.text.find(stop)));
    CHECK(stopped.ids.size() < full.ids.size());
    // A limit of 5 tokens.
    const run_result five = run(s, kPrompt, params(0.0f, 5), 2);
    CHECK(five.stop == tessera_llm_stop_max_tokens);
    CHECK(five.ids == std::vector<std::int32_t>(full.ids.begin(), full.ids.begin() + 5));
    // An end-of-generation token the model picks: favour </s> through a prompt full of it
    // and see the stop (the stream emits nothing for it).
    const std::int32_t eos = m->tokenizer.eos();
    bool saw_eog = false;
    for (std::uint64_t seed = 1; seed < 40 && !saw_eog; ++seed) {
      tessera_llm_params p = params(3.0f, 24, seed, true);
      p.top_k = 0;
      p.top_p = 1.0f;
      p.min_p = 0.0f;
      p.presence_penalty = -30.0f;  // a negative penalty favours the window's ids: the prompt's </s>
      const run_result r = run(s, {1, eos, eos, eos}, p, 8);
      if (r.stop == tessera_llm_stop_end_of_generation) {
        saw_eog = true;
        CHECK(r.ids.back() == eos);
        CHECK(r.pieces.back().empty());
      }
    }
    CHECK(saw_eog);
    tessera_llm_session_free(s);
    tessera_llm_free(m);
  }

  TEST_CASE("chat: the template's prompt, the KV cache kept across turns, the same answer as a fresh session") {
    llm_model* m = load();
    const auto prompt_of = [&](const std::vector<std::pair<std::string, std::string>>& messages) {
      std::string text;
      std::vector<std::uint32_t> spans;
      for (const auto& [role, content] : messages) {
        spans.push_back(static_cast<std::uint32_t>(text.size()));
        spans.push_back(static_cast<std::uint32_t>(role.size()));
        text += role;
        spans.push_back(static_cast<std::uint32_t>(text.size()));
        spans.push_back(static_cast<std::uint32_t>(content.size()));
        text += content;
      }
      const std::int32_t n = tessera_llm_chat_prompt(m, text.data(), static_cast<std::uint32_t>(text.size()), spans.data(),
                                                     static_cast<std::uint32_t>(messages.size()), 1);
      REQUIRE(n >= 0);
      return std::string(tessera_llm_text(m), static_cast<std::size_t>(std::max(n, 0)));
    };
    std::vector<std::pair<std::string, std::string>> chat = {{"system", "Be brief."}, {"user", "What does the license grant?"}};
    const std::string first = prompt_of(chat);
    CHECK(first == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat does the license grant?<|im_end|>\n<|im_start|>assistant\n");
    const std::vector<std::int32_t> first_ids = tokenize(m, first, true, true);
    CHECK(std::count(first_ids.begin(), first_ids.end(), m->tokenizer.find("<|im_start|>")) == 3);

    llm_session* s = tessera_llm_session_new(m, 256, 0, 0);
    REQUIRE(s != nullptr);
    const run_result answer = run(s, first_ids, params(0.0f, 12, 0, true), 4);
    chat.emplace_back("assistant", answer.text);
    chat.emplace_back("user", "And the patents?");
    const std::vector<std::int32_t> second_ids = tokenize(m, prompt_of(chat), true, true);
    const run_result second = run(s, second_ids, params(0.0f, 12, 0, true), 4);
    CHECK(second.kept >= first_ids.size());  // the first turn's prompt is not computed again
    llm_session* fresh = tessera_llm_session_new(m, 256, 0, 0);
    REQUIRE(fresh != nullptr);
    const run_result again = run(fresh, second_ids, params(0.0f, 12, 0, true), 4);
    CHECK(again.kept == 0);
    CHECK(again.ids == second.ids);
    // Another format by name.
    REQUIRE(tessera_llm_set_chat_template(m, "llama3", 6) == 0);
    CHECK(nlohmann::json::parse(tessera_llm_info(m))["chatTemplate"]["format"] == "llama3");
    CHECK(prompt_of({{"user", "Hi"}}) == "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(tessera_llm_set_chat_template(m, "jinja", 5) != 0);
    CHECK(std::string(tessera_error_message()).find("jinja") != std::string::npos);
    tessera_llm_session_free(fresh);
    tessera_llm_session_free(s);
    tessera_llm_free(m);
  }

  TEST_CASE("generate_finish releases held text and marks the generation cancelled") {
    llm_model* m = load();
    llm_session* s = tessera_llm_session_new(m, 128, 0, 0);
    REQUIRE(s != nullptr);
    const run_result full = run(s, kPrompt, params(0.0f, 10), 10);
    // A stop string that the text's first characters start: they are held back until finish.
    const std::string held = full.text.substr(0, 3);
    REQUIRE(tessera_llm_prepare(s, kPrompt.data(), static_cast<std::uint32_t>(kPrompt.size())) >= 0);
    REQUIRE(tessera_llm_feed(s, 1000) == 0);
    const tessera_llm_params p = params(0.0f, 10);
    const std::string stop = held + "\x01";
    const std::uint32_t len = static_cast<std::uint32_t>(stop.size());
    REQUIRE(tessera_llm_generate_begin(s, &p, stop.data(), &len, 1) == 0);
    const tessera_llm_step* step = tessera_llm_generate_step(s, 1);
    REQUIRE(step != nullptr);
    std::string text(step->text, step->text_bytes);
    CHECK(step->stop_reason == tessera_llm_stop_none);
    const tessera_llm_step* last = tessera_llm_generate_finish(s);
    REQUIRE(last != nullptr);
    CHECK(last->stop_reason == tessera_llm_stop_cancelled);
    CHECK(last->tokens == 0);
    text.append(last->text, last->text_bytes);
    CHECK(text == displayed(m->tokenizer.decode(std::vector<std::int32_t>{full.ids[0]})));
    // Steps after the end produce nothing.
    const tessera_llm_step* after = tessera_llm_generate_step(s, 4);
    REQUIRE(after != nullptr);
    CHECK(after->tokens == 0);
    CHECK(after->stop_reason == tessera_llm_stop_cancelled);
    tessera_llm_session_free(s);
    tessera_llm_free(m);
  }

  TEST_CASE("a full context ends the generation; bad calls are errors with tessera's message") {
    llm_model* m = load();
    llm_session* s = tessera_llm_session_new(m, 24, 0, 0);
    REQUIRE(s != nullptr);
    const run_result r = run(s, kPrompt, params(0.0f, -1), 3);
    CHECK(r.stop == tessera_llm_stop_context_full);
    CHECK(r.ids.size() == 24 - kPrompt.size() + 1);
    CHECK(r.ids == reference_ids(kPrompt, 100, 24, llm::greedy));

    const std::vector<std::int32_t> too_long(25, 5);
    CHECK(tessera_llm_prepare(s, too_long.data(), 25) == -1);
    CHECK(std::string(tessera_error_message()).find("context of 24") != std::string::npos);
    const std::int32_t bad[] = {1, 700};
    CHECK(tessera_llm_prepare(s, bad, 2) == -1);
    CHECK(tessera_error_code() == static_cast<std::int32_t>(errc::out_of_range));
    CHECK(std::string(tessera_error_message()).find("id 700") != std::string::npos);
    CHECK(tessera_llm_detokenize(m, bad, 2, 0) == -1);
    CHECK(tessera_llm_prepare(s, bad, 0) == -1);
    // A generation needs a fed prompt; a failed prepare leaves none.
    const tessera_llm_params p = params(0.0f, 4);
    CHECK(tessera_llm_generate_begin(s, &p, nullptr, nullptr, 0) != 0);
    CHECK(std::string(tessera_error_message()).find("no prompt was fed") != std::string::npos);
    CHECK(tessera_llm_generate_step(s, 1) == nullptr);
    tessera_llm_params nan = params(0.0f, 4);
    nan.top_p = 2.0f;
    REQUIRE(tessera_llm_prepare(s, kPrompt.data(), 3) >= 0);
    REQUIRE(tessera_llm_feed(s, 3) == 0);
    CHECK(tessera_llm_generate_begin(s, &nan, nullptr, nullptr, 0) != 0);
    CHECK(std::string(tessera_error_message()).find("top_p") != std::string::npos);
    CHECK(tessera_llm_session_new(m, 100000, 0, 0) == nullptr);
    CHECK(std::string(tessera_error_message()).find("exceeds the model's 256") != std::string::npos);
    // The session still works.
    CHECK(run(s, kPrompt, params(0.0f, 3), 1).ids == reference_ids(kPrompt, 3, 24, llm::greedy));
    tessera_llm_session_free(s);
    tessera_llm_free(m);
  }

  TEST_CASE("corrupt or truncated GGUF bytes are refused with a message, never a crash") {
    std::vector<std::uint8_t> bytes = model_bytes();
    for (const std::size_t keep : {std::size_t{0}, std::size_t{3}, std::size_t{100}, bytes.size() / 2, bytes.size() - 40}) {
      const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep));
      CHECK(tessera_llm_load(stream_bytes(cut, 4096, true)) == nullptr);
      CHECK(std::string(tessera_error_message()).size() > 5);
    }
    bytes[0] = 'X';
    CHECK(tessera_llm_load(stream_bytes(bytes, 4096, true)) == nullptr);
    CHECK(tessera_error_code() == static_cast<std::int32_t>(errc::parse_error));
    CHECK(tessera_llm_load(nullptr) == nullptr);
  }
}
