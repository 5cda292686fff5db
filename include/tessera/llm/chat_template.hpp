// Chat prompts in the format a model was trained on.
//
//   auto tmpl = llm::chat_template::from_gguf(gguf);    // tokenizer.chat_template
//   std::vector<llm::chat_message> chat = {{"system", "Be brief."}, {"user", "Hi"}};
//   auto prompt = tmpl.apply(chat, /*add_generation_prompt=*/true);
//   auto ids = tok.encode(*prompt, /*add_special=*/true, /*parse_special=*/true);
//
// tessera does not interpret Jinja: the GGUF's template text is recognized by markers that
// only one format's templates contain (as llama.cpp does), and each known format is rendered
// here in C++ as its model card or reference template documents it. A template that matches
// no format falls back to ChatML, with recognized() false and a warning() to show the user.
//
// The rendered text leaves out the BOS token that starts the conversation (encode with
// add_special adds it, so it is not doubled) but keeps every other special token's text,
// which encode finds with parse_special. Roles are "system", "user" and "assistant"; ChatML
// takes any role name, the other formats refuse roles they have no place for.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/core/error.hpp>
#include <tessera/io/gguf.hpp>

namespace tessera::llm {

enum class chat_format : std::uint8_t {
  chatml,             // <|im_start|>role\n...<|im_end|>\n (Qwen, Yi, many fine-tunes)
  llama2,             // [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s><s>[INST] ...
  llama3,             // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  gemma,              // <start_of_turn>user\n...<end_of_turn>\n<start_of_turn>model\n
  phi3,               // <|user|>\n...<|end|>\n<|assistant|>\n
  zephyr,             // <|user|>\n...</s>\n<|assistant|>\n
  mistral_v1,         // [INST] ... [/INST] ...</s> [INST] ... [/INST]   (Mistral 7B v0.1/v0.2, Mixtral 8x7B)
  mistral_v3,         // [INST] ...[/INST] ...</s>[INST] ...[/INST]      (Mistral 7B v0.3, Mixtral 8x22B)
  mistral_v3_tekken,  // [INST]...[/INST]...</s>[INST]...[/INST]         (Mistral Nemo, Ministral)
  mistral_v7,         // [SYSTEM_PROMPT]...[/SYSTEM_PROMPT][INST]...[/INST]...</s>  (Mistral Small 3)
};

inline const char* chat_format_name(chat_format f) noexcept {
  switch (f) {
    case chat_format::chatml: return "chatml";
    case chat_format::llama2: return "llama2";
    case chat_format::llama3: return "llama3";
    case chat_format::gemma: return "gemma";
    case chat_format::phi3: return "phi3";
    case chat_format::zephyr: return "zephyr";
    case chat_format::mistral_v1: return "mistral-v1";
    case chat_format::mistral_v3: return "mistral-v3";
    case chat_format::mistral_v3_tekken: return "mistral-v3-tekken";
    case chat_format::mistral_v7: return "mistral-v7";
  }
  return "unknown";
}

struct chat_message {
  std::string role;
  std::string content;
};

class chat_template {
 public:
  static chat_template of(chat_format f) { return chat_template(f, true, {}); }

  // "chatml", "llama3", "mistral-v7", ... (chat_format_name's spellings).
  static expected<chat_template> from_name(std::string_view name) {
    for (int i = 0; i <= int(chat_format::mistral_v7); ++i)
      if (name == chat_format_name(chat_format(i))) return of(chat_format(i));
    return make_error(errc::invalid_argument, "chat template: no format named '" + std::string(name.substr(0, 40)) + "'");
  }

  // Recognizes a Jinja template's format by its markers; never fails (see recognized()).
  static chat_template detect(std::string_view jinja) {
    const auto has = [&](std::string_view marker) { return jinja.find(marker) != std::string_view::npos; };
    if (has("<|im_start|>")) return of(chat_format::chatml);
    if (has("[SYSTEM_PROMPT]")) return of(chat_format::mistral_v7);
    if (has("[INST]")) {
      // Llama 2's template (and those copied from it) carries <<SYS>>; Mistral's v1 writes a
      // space before [INST]; its later official templates handle a system message and tools,
      // v3 with a space after [INST], Tekken without.
      if (has("<<SYS>>")) return of(chat_format::llama2);
      if (has("' [INST] '") || has("\" [INST] \"")) return of(chat_format::mistral_v1);
      const bool mistral = has("[AVAILABLE_TOOLS]") || has("system_message") || has("[TOOL_CALLS]");
      if (!mistral) return of(chat_format::llama2);
      if (has("'[INST]'") || has("\"[INST]\"")) return of(chat_format::mistral_v3_tekken);
      return of(chat_format::mistral_v3);
    }
    if (has("<|start_header_id|>") && has("<|end_header_id|>")) return of(chat_format::llama3);
    if (has("<start_of_turn>")) return of(chat_format::gemma);
    if (has("<|assistant|>") && has("<|end|>")) return of(chat_format::phi3);
    if (has("<|user|>") && has("<|assistant|>") && (has("eos_token") || has("</s>"))) return of(chat_format::zephyr);
    return chat_template(chat_format::chatml, false,
                         jinja.empty() ? "the model has no chat template; using ChatML"
                                       : "the model's chat template matches no known format; using ChatML");
  }

  // The format of the GGUF's tokenizer.chat_template (ChatML with a warning when it is
  // absent or not recognized).
  static chat_template from_gguf(const io::gguf_file& f) {
    const io::gguf_value* v = f.find("tokenizer.chat_template");
    if (!v) return detect({});
    auto text = v->as<std::string_view>();
    return detect(text.ok() ? *text : std::string_view());
  }

  chat_format format() const noexcept { return format_; }
  const char* name() const noexcept { return chat_format_name(format_); }
  bool recognized() const noexcept { return recognized_; }
  const std::string& warning() const noexcept { return warning_; }

  // The prompt for `messages`; with add_generation_prompt it ends where the assistant's
  // answer begins.
  expected<std::string> apply(std::span<const chat_message> messages, bool add_generation_prompt) const {
    for (const chat_message& m : messages)
      if (format_ != chat_format::chatml && m.role != "system" && m.role != "user" && m.role != "assistant")
        return make_error(errc::invalid_argument, std::string("chat template ") + name() + ": role '" + m.role.substr(0, 40) +
                                                      "' (expected system, user or assistant)");
    std::string out;
    switch (format_) {
      case chat_format::chatml:
        for (const chat_message& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        if (add_generation_prompt) out += "<|im_start|>assistant\n";
        break;
      case chat_format::llama3:
        for (const chat_message& m : messages) out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
        if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        break;
      case chat_format::phi3:
        for (const chat_message& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
        if (add_generation_prompt) out += "<|assistant|>\n";
        break;
      case chat_format::zephyr:
        for (const chat_message& m : messages) out += "<|" + m.role + "|>\n" + m.content + "</s>\n";
        if (add_generation_prompt) out += "<|assistant|>\n";
        break;
      case chat_format::gemma: {
        // No system role: its text opens the first user turn (as Gemma 3's template does).
        const std::string system = joined_system(messages);
        bool first_user = true;
        for (const chat_message& m : messages) {
          if (m.role == "system") continue;
          std::string content = trim(m.content);
          if (m.role == "user" && first_user && !system.empty()) content = system + "\n\n" + content;
          if (m.role == "user") first_user = false;
          out += "<start_of_turn>" + std::string(m.role == "assistant" ? "model" : "user") + "\n" + content + "<end_of_turn>\n";
        }
        if (add_generation_prompt) out += "<start_of_turn>model\n";
        break;
      }
      case chat_format::llama2: {
        // Meta's format: each user turn starts with BOS (but the first: encode adds it), the
        // system message is wrapped in <<SYS>> at the top of the first user turn.
        const std::string system = joined_system(messages);
        bool first_user = true, first_turn = true;
        for (const chat_message& m : messages) {
          if (m.role == "user") {
            out += first_turn ? "[INST] " : "<s>[INST] ";
            if (first_user && !system.empty()) out += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
            out += trim(m.content) + " [/INST]";
            first_user = first_turn = false;
          } else if (m.role == "assistant") {
            out += " " + trim(m.content) + " </s>";
            first_turn = false;
          }
        }
        break;
      }
      case chat_format::mistral_v1:
      case chat_format::mistral_v3:
      case chat_format::mistral_v3_tekken:
      case chat_format::mistral_v7:
        render_mistral(messages, out);
        break;
    }
    return out;
  }

 private:
  chat_template(chat_format f, bool recognized, std::string warning) : format_(f), recognized_(recognized), warning_(std::move(warning)) {}

  static std::string trim(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::size_t b = 0, e = s.size();
    while (b < e && space(s[b])) ++b;
    while (e > b && space(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
  }

  static std::string joined_system(std::span<const chat_message> messages) {
    std::string system;
    for (const chat_message& m : messages)
      if (m.role == "system") system += (system.empty() ? "" : "\n\n") + m.content;
    return system;
  }

  // Mistral's formats, as its tokenization guide writes them: v1 puts the system message at
  // the top of the first user turn, v3 and Tekken at the top of the last one, v7 has its own
  // [SYSTEM_PROMPT] block where it stands.
  void render_mistral(std::span<const chat_message> messages, std::string& out) const {
    const bool v1 = format_ == chat_format::mistral_v1, tight = format_ == chat_format::mistral_v3_tekken || format_ == chat_format::mistral_v7;
    const std::string system = format_ == chat_format::mistral_v7 ? std::string() : joined_system(messages);
    std::size_t target = messages.size();  // the user turn that receives the system message
    for (std::size_t i = 0; i < messages.size(); ++i)
      if (messages[i].role == "user" && (target == messages.size() || !v1)) target = i;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const chat_message& m = messages[i];
      if (m.role == "system") {
        if (format_ == chat_format::mistral_v7) out += "[SYSTEM_PROMPT]" + m.content + "[/SYSTEM_PROMPT]";
        continue;
      }
      if (m.role == "user") {
        const std::string content = i == target && !system.empty() ? system + "\n\n" + m.content : m.content;
        out += v1 ? " [INST] " + content + " [/INST]" : tight ? "[INST]" + content + "[/INST]" : "[INST] " + content + "[/INST]";
      } else {
        out += (tight ? "" : " ") + m.content + "</s>";
      }
    }
  }

  chat_format format_;
  bool recognized_;
  std::string warning_;
};

}  // namespace tessera::llm
