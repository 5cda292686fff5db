// Chat templates: format detection on real template texts (excerpts of the models' Jinja
// templates, the distinctive parts kept) and renderings checked against the formats as their
// model cards and tokenization guides write them (the leading BOS left out: encode adds it).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/llm/chat_template.hpp"
#include "tokenizer_support.hpp"

namespace {

using namespace tessera;
using llm::chat_format;
using llm::chat_message;
using llm::chat_template;

const std::vector<chat_message> kChat = {
    {"system", "You are helpful."},
    {"user", "Hello, how are you?"},
    {"assistant", "Fine, and you?"},
    {"user", "I'm doing great!"},
};

std::string render(chat_format f, const std::vector<chat_message>& chat = kChat, bool add_generation_prompt = true) {
  auto s = chat_template::of(f).apply(chat, add_generation_prompt);
  REQUIRE_MESSAGE(s.ok(), s.what());
  return *s;
}

}  // namespace

TEST_SUITE("llm/chat_template") {
  TEST_CASE("each format renders as documented") {
    CHECK(render(chat_format::chatml) ==
          "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello, how are you?<|im_end|>\n"
          "<|im_start|>assistant\nFine, and you?<|im_end|>\n<|im_start|>user\nI'm doing great!<|im_end|>\n<|im_start|>assistant\n");
    // Llama 2 (Meta's "how to prompt Llama 2"): <s>[INST] <<SYS>>\n{s}\n<</SYS>>\n\n{u} [/INST] {a} </s><s>[INST] {u} [/INST]
    CHECK(render(chat_format::llama2) ==
          "[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello, how are you? [/INST] Fine, and you? </s><s>[INST] I'm doing great! [/INST]");
    CHECK(render(chat_format::llama3) ==
          "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
          "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nFine, and you?<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nI'm doing great!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(render(chat_format::gemma) ==
          "<start_of_turn>user\nYou are helpful.\n\nHello, how are you?<end_of_turn>\n<start_of_turn>model\nFine, and you?<end_of_turn>\n"
          "<start_of_turn>user\nI'm doing great!<end_of_turn>\n<start_of_turn>model\n");
    CHECK(render(chat_format::phi3) ==
          "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHello, how are you?<|end|>\n<|assistant|>\nFine, and you?<|end|>\n"
          "<|user|>\nI'm doing great!<|end|>\n<|assistant|>\n");
    CHECK(render(chat_format::zephyr) ==
          "<|system|>\nYou are helpful.</s>\n<|user|>\nHello, how are you?</s>\n<|assistant|>\nFine, and you?</s>\n"
          "<|user|>\nI'm doing great!</s>\n<|assistant|>\n");
    // Mistral's tokenization guide: v1 puts the system message in the first user turn, v3 and
    // Tekken in the last one; v7 has [SYSTEM_PROMPT].
    CHECK(render(chat_format::mistral_v1) ==
          " [INST] You are helpful.\n\nHello, how are you? [/INST] Fine, and you?</s> [INST] I'm doing great! [/INST]");
    CHECK(render(chat_format::mistral_v3) ==
          "[INST] Hello, how are you?[/INST] Fine, and you?</s>[INST] You are helpful.\n\nI'm doing great![/INST]");
    CHECK(render(chat_format::mistral_v3_tekken) ==
          "[INST]Hello, how are you?[/INST]Fine, and you?</s>[INST]You are helpful.\n\nI'm doing great![/INST]");
    CHECK(render(chat_format::mistral_v7) ==
          "[SYSTEM_PROMPT]You are helpful.[/SYSTEM_PROMPT][INST]Hello, how are you?[/INST]Fine, and you?</s>[INST]I'm doing great![/INST]");
  }

  TEST_CASE("Mistral's guide examples, word for word (after <s>)") {
    const std::vector<chat_message> chat = {
        {"user", "Hello, how are you?"}, {"assistant", "Fine, and you?"}, {"user", "I'm doing great!"}, {"assistant", "Glad to hear!"}};
    CHECK("<s>" + render(chat_format::mistral_v1, chat, false) ==
          "<s> [INST] Hello, how are you? [/INST] Fine, and you?</s> [INST] I'm doing great! [/INST] Glad to hear!</s>");
    CHECK("<s>" + render(chat_format::mistral_v3, chat, false) ==
          "<s>[INST] Hello, how are you?[/INST] Fine, and you?</s>[INST] I'm doing great![/INST] Glad to hear!</s>");
    CHECK("<s>" + render(chat_format::mistral_v3_tekken, chat, false) ==
          "<s>[INST]Hello, how are you?[/INST]Fine, and you?</s>[INST]I'm doing great![/INST]Glad to hear!</s>");
  }

  TEST_CASE("the generation prompt, roles and names") {
    const std::vector<chat_message> one = {{"user", "Hi"}};
    CHECK(render(chat_format::chatml, one, false) == "<|im_start|>user\nHi<|im_end|>\n");
    CHECK(render(chat_format::gemma, one, false) == "<start_of_turn>user\nHi<end_of_turn>\n");
    CHECK(render(chat_format::llama3, {{"user", "  Hi \n"}}, true) ==
          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(render(chat_format::chatml, {{"tool", "42"}}, false) == "<|im_start|>tool\n42<|im_end|>\n");
    CHECK_FALSE(chat_template::of(chat_format::llama3).apply(std::vector<chat_message>{{"tool", "42"}}, true).ok());
    for (int i = 0; i <= int(chat_format::mistral_v7); ++i) {
      const auto f = chat_format(i);
      auto t = chat_template::from_name(llm::chat_format_name(f));
      REQUIRE(t.ok());
      CHECK(t->format() == f);
    }
    CHECK_FALSE(chat_template::from_name("jinja").ok());
  }

  TEST_CASE("formats are recognized from the models' template texts") {
    struct sample {
      const char* model;
      const char* jinja;
      chat_format format;
    };
    const sample samples[] = {
        {"Qwen2", "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}", chat_format::chatml},
        {"Llama 2", "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}", chat_format::llama2},
        {"Llama 3", "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}", chat_format::llama3},
        {"Gemma", "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}", chat_format::gemma},
        {"Phi-3", "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\\n'}}{% endif %}{% endfor %}", chat_format::phi3},
        {"Zephyr", "{% for message in messages %}\\n{% if message['role'] == 'user' %}\\n{{ '<|user|>\\n' + message['content'] + eos_token }}\\n{% elif message['role'] == 'system' %}\\n{{ '<|system|>\\n' + message['content'] + eos_token }}\\n{% elif message['role'] == 'assistant' %}\\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\\n{% endif %}\\n{% if loop.last and add_generation_prompt %}\\n{{ '<|assistant|>' }}\\n{% endif %}\\n{% endfor %}", chat_format::zephyr},
        {"Mistral v1 (guide)", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ ' [INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}", chat_format::mistral_v1},
        {"Mistral 7B v0.3", "{%- if messages[0][\"role\"] == \"system\" %}{%- set system_message = messages[0][\"content\"] %}{%- endif %}{{- bos_token }}{%- for message in loop_messages %}{%- if message[\"role\"] == \"user\" %}{%- if tools is not none and (message == user_messages[-1]) %}{{- \"[AVAILABLE_TOOLS] [\" }}{%- endif %}{%- if loop.last and system_message is defined %}{{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}{%- else %}{{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}{%- endif %}{%- endif %}{%- endfor %}", chat_format::mistral_v3},
        {"Mistral Nemo", "{%- if messages[0][\"role\"] == \"system\" %}{%- set system_message = messages[0][\"content\"] %}{%- endif %}{{- bos_token }}{%- for message in loop_messages %}{%- if message[\"role\"] == \"user\" %}{%- if loop.last and system_message is defined %}{{- \"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}{%- else %}{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}{%- endif %}{%- endif %}{%- endfor %}", chat_format::mistral_v3_tekken},
        {"Mistral Small 3", "{{- bos_token }}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- endif %}{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}{%- for message in loop_messages %}{%- if message['role'] == 'user' %}{{- '[INST]' + message['content'] + '[/INST]' }}{%- endif %}{%- endfor %}", chat_format::mistral_v7},
    };
    for (const sample& s : samples) {
      CAPTURE(s.model);
      const chat_template t = chat_template::detect(s.jinja);
      CHECK(t.recognized());
      CHECK(t.warning().empty());
      CHECK(std::string(t.name()) == llm::chat_format_name(s.format));
    }
    const chat_template unknown = chat_template::detect("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\\n{% endfor %}");
    CHECK_FALSE(unknown.recognized());
    CHECK(unknown.format() == chat_format::chatml);
    CHECK_FALSE(unknown.warning().empty());
    CHECK_FALSE(chat_template::detect("").recognized());
  }

  TEST_CASE("Phi-3's GGUF: its template is recognized and the prompt's special tokens parse (when ../shared is present)") {
    const std::string path = test::source_path("../shared/conformance/llama-vocab/ggml-vocab-phi-3.gguf");
    auto loaded = test::load_tokenizer(path);
    if (!loaded.ok()) {
      MESSAGE("../shared/conformance/llama-vocab is absent: skipped");
      return;
    }
    const chat_template t = chat_template::from_gguf(loaded->file.gguf);
    CHECK(t.format() == chat_format::phi3);
    auto prompt = t.apply(std::vector<chat_message>{{"user", "Hi"}}, true);
    REQUIRE(prompt.ok());
    auto ids = loaded->tok.encode(*prompt, true, true);
    REQUIRE(ids.ok());
    const std::int32_t user = loaded->tok.find("<|user|>"), end = loaded->tok.find("<|end|>"), assistant = loaded->tok.find("<|assistant|>");
    REQUIRE((user > 0 && end > 0 && assistant > 0));
    CHECK(ids->front() == loaded->tok.bos());
    CHECK(std::count(ids->begin(), ids->end(), user) == 1);
    CHECK(std::count(ids->begin(), ids->end(), end) == 1);
    CHECK(std::count(ids->begin(), ids->end(), assistant) == 1);
    CHECK(loaded->tok.is_eog(end));
  }
}
