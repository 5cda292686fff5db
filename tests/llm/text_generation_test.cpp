// Tests of include/tessera/llm/text_generation.hpp: greedy generation equals the numpy
// reference's continuation, the KV cache reused for a prompt (or a chat turn) gives exactly what
// a fresh decode of the same ids gives, a chat turn decodes only the new turn's tokens, the
// stream stops, cancels and continues a text's spaces as it should, and bad requests are errors.
#include "support/harness.hpp"

#include <tessera/io/file.hpp>
#include <tessera/io/json.hpp>
#include <tessera/llm/gguf_export.hpp>
#include <tessera/llm/text_generation.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace tessera;

namespace {


constexpr const char* kChatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

llm::random_model_spec chat_spec(std::uint64_t seed = 3) {
  llm::random_model_spec s;
  s.vocab = 400;
  s.context = 256;
  s.seed = seed;
  s.control_tokens = {"<|im_start|>", "<|im_end|>"};
  s.chat_template = kChatml;
  return s;
}

llm::model view(const std::vector<std::uint8_t>& bytes) { return test::must(llm::model::view_bytes(bytes)); }

llm::generation_options sampled(std::int32_t max_tokens, std::uint64_t seed = 7) {
  llm::generation_options o;
  o.max_tokens = max_tokens;
  o.sampling.seed = seed;
  o.sampling.temperature = 1.0f;
  o.sampling.top_k = 0;
  o.sampling.top_p = 1.0f;
  o.sampling.min_p = 0.0f;
  return o;
}

}  // namespace

TEST_SUITE("llm/text_generation") {

TEST_CASE("greedy generation from ids equals the numpy reference's continuation") {
  // The llama_f32 case of reference_test.cpp: its reference is tests/llm/reference/llama_f32.json.
  llm::random_model_spec s;
  s.vocab = 160;
  s.context = 64;
  const auto bytes = test::must(llm::random_model_gguf(s));
  const llm::model m = view(bytes);
  const std::vector<std::int32_t> prompt = {1, 17, 42, 99, 5, 150, 23, 77, 3, 64};
  auto text = io::read_file_bytes(test::source_path("tests/llm/reference/llama_f32.json"));
  REQUIRE(text.ok());
  const io::json_document doc = test::must(io::parse_json(std::string_view(reinterpret_cast<const char*>(text->data()), text->size())));
  const io::json_ref greedy = doc.root().find("greedy"), margins = doc.root().find("margins");
  REQUIRE(greedy.size() > 0);

  llm::text_generator gen = test::must(llm::text_generator::create(m));
  llm::generation_options o;
  o.sampling.temperature = 0.0f;
  o.max_tokens = static_cast<std::int32_t>(greedy.size());
  o.stop_at_eog = false;  // the reference does not stop
  const llm::generation_result r = test::must(gen.generate_ids(prompt, o));
  REQUIRE(r.tokens.size() == greedy.size());
  for (std::size_t i = 0; i < greedy.size(); ++i) {
    CAPTURE(i);
    if (r.tokens[i] != static_cast<std::int32_t>(greedy[i].number())) {
      CHECK(margins[i].number() < 1e-3);  // only a near-tie may break the other way
      break;
    }
  }
  CHECK(r.reason == llm::stop_reason::max_tokens);
  CHECK(r.prompt_tokens == prompt.size());
}

TEST_CASE("a prompt that extends the cached one decodes only its new tokens and gives a fresh decode's tokens") {
  const auto bytes = test::must(llm::random_model_gguf(chat_spec()));
  const llm::model m = view(bytes);
  llm::text_generator gen = test::must(llm::text_generator::create(m));
  const llm::generation_options o = sampled(12);
  const std::string first = "Once upon a time there was";
  const llm::generation_result a = test::must(gen.generate(first, o));
  CHECK(a.reused_tokens == 0);
  // The cache holds the prompt and every generated token but the last.
  CHECK(gen.cached_ids().size() == a.prompt_tokens + a.tokens.size() - 1);

  const std::string second = first + " a little dog";
  const std::vector<std::int32_t> cached(gen.cached_ids().begin(), gen.cached_ids().end());
  const llm::generation_result b = test::must(gen.generate(second, o));
  const auto second_ids = test::must(gen.vocabulary().encode(second, true, true));
  std::size_t common = 0;
  while (common < cached.size() && common < second_ids.size() && cached[common] == second_ids[common]) ++common;
  CHECK(common >= test::must(gen.vocabulary().encode(first, true, true)).size() - 1);
  CHECK(b.reused_tokens == common);
  CHECK(b.prompt_tokens == second_ids.size());

  llm::text_generator fresh = test::must(llm::text_generator::create(m));
  const llm::generation_result c = test::must(fresh.generate(second, o));
  CHECK(c.reused_tokens == 0);
  CHECK(c.tokens == b.tokens);
  CHECK(c.text == b.text);

  // The same prompt again reuses all of it but its last token (whose logits are needed).
  const llm::generation_result d = test::must(gen.generate(second, o));
  CHECK(d.reused_tokens == second_ids.size() - 1);
  CHECK(d.tokens == b.tokens);
}

TEST_CASE("a completion continues the prompt's text: its stream is the decoded ids after the prompt") {
  const auto bytes = test::must(llm::random_model_gguf(chat_spec(11)));
  const llm::model m = view(bytes);
  llm::text_generator gen = test::must(llm::text_generator::create(m));
  llm::generation_options o = sampled(20, 3);
  o.stop_at_eog = false;
  std::string streamed;
  const llm::generation_result r = test::must(gen.generate("The cat", o, [&](std::string_view t, std::int32_t) {
    streamed += t;
    return true;
  }));
  CHECK(streamed == r.text);
  std::vector<std::int32_t> all = test::must(gen.vocabulary().encode("The cat", true, true));
  const std::string prompt_text = gen.vocabulary().decode(all);
  all.insert(all.end(), r.tokens.begin(), r.tokens.end());
  CHECK(prompt_text + r.text == gen.vocabulary().decode(all));
}

TEST_CASE("a chat turn decodes only the new turn's tokens and continues exactly as a fresh decode would") {
  const auto bytes = test::must(llm::random_model_gguf(chat_spec()));
  const llm::model m = view(bytes);
  llm::text_generator gen = test::must(llm::text_generator::create(m));
  REQUIRE(gen.chat_format().format() == llm::chat_format::chatml);
  REQUIRE(gen.chat_format().recognized());
  gen.set_system_prompt("You are terse.");
  const llm::generation_options o = sampled(10);
  const llm::tokenizer& tok = gen.vocabulary();
  const std::int32_t im_end = tok.find("<|im_end|>");
  REQUIRE(tok.is_eog(im_end));

  const llm::generation_result t1 = test::must(gen.chat("Hello there", o));
  CHECK(t1.reused_tokens == 0);
  const std::string p1 = "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n";
  CHECK(std::vector<std::int32_t>(gen.cached_ids().begin(), gen.cached_ids().begin() + t1.prompt_tokens) == test::must(tok.encode(p1, true, true)));
  REQUIRE(gen.history().size() == 3);
  CHECK(gen.history()[2].role == "assistant");
  CHECK(gen.history()[2].content == t1.text);
  const std::vector<std::int32_t> after_turn1(gen.cached_ids().begin(), gen.cached_ids().end());

  const llm::generation_result t2 = test::must(gen.chat("And now?", o));
  // Everything turn 1 left in the cache is reused: only the turn's closing, the new message
  // and the generation prompt (and a reply token cut by the limit) are decoded.
  CHECK(t2.reused_tokens == after_turn1.size());
  std::vector<std::int32_t> expected = after_turn1;
  if (t1.reason == llm::stop_reason::max_tokens) expected.push_back(t1.tokens.back());
  const auto tail = test::must(tok.encode("<|im_end|>\n<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n", false, true));
  expected.insert(expected.end(), tail.begin(), tail.end());
  const std::vector<std::int32_t> prompt2(gen.cached_ids().begin(), gen.cached_ids().begin() + t2.prompt_tokens);
  CHECK(prompt2 == expected);
  CHECK(gen.history().size() == 5);

  // A fresh generator given the same ids generates the same reply.
  llm::text_generator fresh = test::must(llm::text_generator::create(m));
  const llm::generation_result f = test::must(fresh.generate_ids(prompt2, o));
  CHECK(f.tokens == t2.tokens);
  CHECK(f.text == t2.text);

  // A new conversation with the same system prompt reuses the system part of the cache.
  gen.reset_chat();
  CHECK(gen.history().size() == 1);
  const llm::generation_result t3 = test::must(gen.chat("Hello there", o));
  CHECK(t3.reused_tokens == t1.prompt_tokens - 1);
  CHECK(t3.tokens == t1.tokens);
}

TEST_CASE("after a reply cut by a stop string the conversation is encoded again, still reusing the cache") {
  const auto bytes = test::must(llm::random_model_gguf(chat_spec(5)));
  const llm::model m = view(bytes);
  llm::generation_options o = sampled(24, 9);
  o.stop_at_eog = false;
  // Find a stop string the reply contains: its text from a first run.
  std::string stop;
  {
    llm::text_generator probe = test::must(llm::text_generator::create(m));
    const llm::generation_result r = test::must(probe.chat("Tell me a story", o));
    // Three printable ASCII characters from the middle of the reply.
    for (std::size_t i = r.text.size() / 2; i + 3 <= r.text.size() && stop.empty(); ++i)
      if (std::all_of(r.text.begin() + static_cast<std::ptrdiff_t>(i), r.text.begin() + static_cast<std::ptrdiff_t>(i + 3),
                      [](char ch) { return ch > ' ' && ch < 127; }))
        stop = r.text.substr(i, 3);
    REQUIRE(!stop.empty());
  }
  o.stop_strings = {stop};
  llm::text_generator gen = test::must(llm::text_generator::create(m));
  const llm::generation_result t1 = test::must(gen.chat("Tell me a story", o));
  CHECK(t1.reason == llm::stop_reason::stop_string);
  CHECK(t1.text.find(stop) == std::string::npos);
  o.stop_strings.clear();
  const llm::generation_result t2 = test::must(gen.chat("Go on", o));
  CHECK(t2.reused_tokens >= t1.prompt_tokens);
  // The cache now holds the conversation as the template renders it.
  const auto want = test::must(gen.vocabulary().encode(*gen.chat_format().apply(std::span<const llm::chat_message>(gen.history().data(), 3), true), true, true));
  CHECK(std::vector<std::int32_t>(gen.cached_ids().begin(), gen.cached_ids().begin() + t2.prompt_tokens) == want);
  llm::text_generator fresh = test::must(llm::text_generator::create(m));
  CHECK(test::must(fresh.generate_ids(want, o)).tokens == t2.tokens);
}

TEST_CASE("step by step gives what one call gives; the callback cancels; the context and limits stop it") {
  const auto bytes = test::must(llm::random_model_gguf(chat_spec(8)));
  const llm::model m = view(bytes);
  const llm::generation_options o = sampled(15, 4);
  llm::text_generator whole = test::must(llm::text_generator::create(m));
  const llm::generation_result w = test::must(whole.generate("Hi", o));

  llm::text_generator stepped = test::must(llm::text_generator::create(m));
  REQUIRE(stepped.begin("Hi", o).ok());
  int steps = 0;
  while (test::must(stepped.step())) ++steps;
  CHECK(stepped.result().tokens == w.tokens);
  CHECK(stepped.result().text == w.text);
  CHECK_FALSE(stepped.active());
  CHECK_FALSE(test::must(stepped.step()));  // nothing begun

  // Cancel on the third token.
  int calls = 0;
  const llm::generation_result c = test::must(whole.generate("Hi", o, [&](std::string_view, std::int32_t) { return ++calls < 3; }));
  CHECK(c.reason == llm::stop_reason::cancelled);
  CHECK(c.tokens.size() == 3);
  CHECK(std::equal(c.tokens.begin(), c.tokens.end(), w.tokens.begin()));

  // A context of 16 positions: the prompt, then tokens until every position holds one.
  llm::session_options small;
  small.context = 16;
  llm::text_generator tight = test::must(llm::text_generator::create(m, small));
  const std::vector<std::int32_t> ten = {1, 10, 20, 30, 40, 50, 60, 70, 80, 90};
  llm::generation_options unlimited = sampled(-1);
  unlimited.stop_at_eog = false;
  const llm::generation_result full = test::must(tight.generate_ids(ten, unlimited));
  CHECK(full.context_full);
  CHECK(full.tokens.size() == 16 - 10 + 1);
  CHECK(tight.cached_ids().size() == 16);

  // max_tokens 0 generates nothing.
  llm::generation_options none = o;
  none.max_tokens = 0;
  const llm::generation_result z = test::must(whole.generate("Hi", none));
  CHECK(z.tokens.empty());
  CHECK(z.reason == llm::stop_reason::max_tokens);
}

TEST_CASE("seeded sampling repeats; another seed takes another path") {
  const auto bytes = test::must(llm::random_model_gguf(chat_spec(2)));
  const llm::model m = view(bytes);
  llm::text_generator a = test::must(llm::text_generator::create(m));
  llm::text_generator b = test::must(llm::text_generator::create(m));
  llm::generation_options o = sampled(24, 42);
  o.stop_at_eog = false;
  const auto ra = test::must(a.generate("A story:", o));
  const auto rb = test::must(b.generate("A story:", o));
  CHECK(ra.tokens == rb.tokens);
  o.sampling.seed = 43;
  const auto rc = test::must(b.generate("A story:", o));
  CHECK(rc.tokens != ra.tokens);
}

TEST_CASE("bad requests are errors that name what is wrong") {
  const auto bytes = test::must(llm::random_model_gguf(chat_spec()));
  const llm::model m = view(bytes);
  llm::session_options small;
  small.context = 8;
  llm::text_generator gen = test::must(llm::text_generator::create(m, small));
  const std::vector<std::int32_t> long_prompt(9, 5);
  auto r = gen.generate_ids(long_prompt, {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message.find("does not fit the context of 8") != std::string::npos);
  CHECK_FALSE(gen.generate_ids(std::vector<std::int32_t>{}, {}).ok());
  const std::vector<std::int32_t> out_of_vocabulary = {1, 400};
  auto bad_id = gen.generate_ids(out_of_vocabulary, {});
  REQUIRE_FALSE(bad_id.ok());
  CHECK(bad_id.err().message.find("id 400") != std::string::npos);
  llm::generation_options bad_sampler;
  bad_sampler.sampling.top_p = 2.0f;
  CHECK_FALSE(gen.generate("Hi", bad_sampler).ok());
  // A chat that outgrows the context is refused and leaves the conversation as it was.
  auto turn = gen.chat("a message far longer than eight positions of context", {});
  REQUIRE_FALSE(turn.ok());
  CHECK(gen.history().empty());

  // Without a tokenizer only ids work.
  llm::random_model_spec s = chat_spec();
  s.vocabulary = false;
  const auto plain_bytes = test::must(llm::random_model_gguf(s));
  const llm::model plain = view(plain_bytes);
  llm::text_generator ids_only = test::must(llm::text_generator::create(plain));
  CHECK_FALSE(ids_only.has_tokenizer());
  auto text = ids_only.generate("Hi", {});
  REQUIRE_FALSE(text.ok());
  CHECK(text.err().message.find("needs a tokenizer") != std::string::npos);
  CHECK_FALSE(ids_only.chat("Hi", {}).ok());
  const std::vector<std::int32_t> ids = {1, 2, 3};
  llm::generation_options four;
  four.max_tokens = 4;
  CHECK(test::must(ids_only.generate_ids(ids, four)).tokens.size() == 4);
}

}  // TEST_SUITE
