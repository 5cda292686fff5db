// libFuzzer harness for the tokenizers (tessera/llm/tokenizer.hpp, detokenizer.hpp).
//
// An input that starts with "GGUF" is a vocabulary: it must load or fail with a message, and
// a tokenizer that loads must encode and decode a fixed text without breaking an invariant.
// Any other input is text: its first byte picks one of the tokenizers built at start-up (the
// committed SentencePiece fixtures, a byte-level BPE and a WordPiece vocabulary made here, and
// the conformance vocabularies of ../shared when present) and the flags; the rest is encoded.
// Every id must be in the vocabulary, decoding must give the text back where that must hold
// (byte-level BPE always; SentencePiece with byte fallback when no control or unknown token was
// parsed and the text has no U+2581, which is SentencePiece's own spelling of a space), and the
// streaming detokenizer must emit valid UTF-8 equal to decode() whenever that is valid.
//
// Built like the other harnesses (tests/fuzz/CMakeLists.txt): tokenizer_replay over
// tests/fuzz/tokenizer_corpus and tests/llm/tokenizer_data, tokenizer_fuzz under clang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/io/file.hpp"
#include "tessera/io/gguf.hpp"
#include "tessera/io/gguf_writer.hpp"
#include "tessera/llm/detokenizer.hpp"
#include "tessera/llm/tokenizer.hpp"

namespace {

using namespace tessera;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tokenizer_fuzz: %s\n", what);
  std::abort();
}

struct entry {
  llm::tokenizer tok;
  bool all_bytes;  // every byte has a token: decode(encode(text)) == text
};

std::vector<std::uint8_t> synthetic_vocab(bool wordpiece) {
  io::gguf_writer w;
  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  std::vector<std::string> merges;
  if (wordpiece) {
    tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xE2\x96\x81" "a", "\xE2\x96\x81" "the", "b", "c", "\xE2\x96\x81" ".", "\xE2\x96\x81" "\xE4\xB8\xAD", "\xE2\x96\x81" "e"};
    types = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    (void)w.set("tokenizer.ggml.model", std::string_view("bert"));
    (void)w.set("tokenizer.ggml.unknown_token_id", std::uint32_t{1});
    (void)w.set("tokenizer.ggml.cls_token_id", std::uint32_t{2});
    (void)w.set("tokenizer.ggml.seperator_token_id", std::uint32_t{3});
  } else {
    for (int b = 0; b < 256; ++b) {
      std::string s;
      const char c = char(b);
      llm::detail::tok::append_byte_level(s, std::string_view(&c, 1));
      tokens.push_back(s);
      types.push_back(1);
    }
    for (const char* m : {"t h", "th e", "\xC4\xA0 th", "a b", "ab ab", "\xC4\xA0 \xC4\xA0"}) {
      merges.emplace_back(m);
      const std::string joined = merges.back().substr(0, merges.back().find(' ')) + merges.back().substr(merges.back().find(' ') + 1);
      tokens.push_back(joined);
      types.push_back(1);
    }
    tokens.insert(tokens.end(), {"<|endoftext|>", "<tool>"});
    types.insert(types.end(), {3, 4});
    (void)w.set("tokenizer.ggml.model", std::string_view("gpt2"));
    (void)w.set("tokenizer.ggml.pre", std::string_view("llama-bpe"));
    (void)w.set_array("tokenizer.ggml.merges", std::span<const std::string>(merges));
    (void)w.set("tokenizer.ggml.eos_token_id", std::uint32_t(tokens.size() - 2));
  }
  (void)w.set_array("tokenizer.ggml.tokens", std::span<const std::string>(tokens));
  (void)w.set_array("tokenizer.ggml.token_type", std::span<const std::int32_t>(types));
  return w.serialize();
}

void add_file(std::vector<entry>& out, const std::string& path, bool all_bytes) {
  auto bytes = io::read_file_bytes(path);
  if (!bytes) return;
  auto f = io::gguf_file::parse(*bytes);
  if (!f) return;
  auto t = llm::tokenizer::from_gguf(*f);
  if (t) out.push_back({std::move(t).value(), all_bytes});
}

const std::vector<entry>& tokenizers() {
  static const std::vector<entry> all = [] {
    std::vector<entry> v;
    for (bool wordpiece : {false, true}) {
      const auto bytes = synthetic_vocab(wordpiece);
      auto f = io::gguf_file::parse(bytes);
      if (!f) fail("the synthetic vocabulary does not parse");
      auto t = llm::tokenizer::from_gguf(*f);
      if (!t) fail(t.what().c_str());
      v.push_back({std::move(t).value(), !wordpiece});
    }
    const std::string src = TESSERA_SOURCE_DIR;
    add_file(v, src + "/tests/llm/tokenizer_data/spm_bytes.gguf", true);
    add_file(v, src + "/tests/llm/tokenizer_data/spm_unk.gguf", false);
    const std::string shared = src + "/../shared/conformance/llama-vocab/ggml-vocab-";
    for (const char* name : {"gpt-2", "llama-spm", "bert-bge", "deepseek-llm", "falcon", "starcoder"}) {
      const std::string n = name;
      add_file(v, shared + n + ".gguf", n == "gpt-2" || n == "llama-spm");
    }
    return v;
  }();
  return all;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t pos = 0; pos < s.size();) {
    const auto u = llm::unicode::decode_utf8(s, pos);
    if (!u.valid) return false;
    pos += u.length;
  }
  return true;
}

void check_text(const entry& e, std::string_view text, bool add_special, bool parse_special) {
  const llm::tokenizer& t = e.tok;
  auto ids = t.encode(text, add_special, parse_special);
  if (!ids) {
    if (ids.err().message.empty()) fail("an encode error without a message");
    if (t.model() != llm::tokenizer_model::spm || t.unk() != llm::no_token) fail("encode failed on a vocabulary that covers every text");
    return;
  }
  for (std::int32_t id : *ids)
    if (!t.contains(id)) fail("an id outside the vocabulary");
  const std::string decoded = t.decode(*ids);
  // A control token decodes to nothing, and an unknown token parsed from its text ("<unk>",
  // special like llama.cpp's) to SentencePiece's " \u2047 ": neither gives its text back.
  bool parsed_special = false;
  for (std::int32_t id : *ids) parsed_special = parsed_special || t.is_control(id) || (parse_special && id == t.unk());
  const bool spm = t.model() == llm::tokenizer_model::spm;
  const bool round_trip = e.all_bytes && !add_special && !parsed_special && (!spm || text.find("\xE2\x96\x81") == std::string_view::npos);
  if (round_trip && decoded != text) fail("decode(encode(text)) != text");
  if (round_trip && t.model() == llm::tokenizer_model::bpe && parse_special == false && t.decode(*ids, true) != text) fail("decode with specials rendered differs");
  llm::streaming_detokenizer stream(t);
  std::string streamed;
  for (std::int32_t id : *ids) stream.push(id, streamed);
  stream.finish(streamed);
  if (!valid_utf8(streamed)) fail("the stream emitted invalid UTF-8");
  if (valid_utf8(decoded) && streamed != decoded) fail("the stream differs from decode()");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.substr(0, 4) == "GGUF") {
    auto f = io::gguf_file::parse(std::span<const std::uint8_t>(data, size));
    if (!f) return 0;
    auto t = llm::tokenizer::from_gguf(*f);
    if (!t) {
      if (t.err().message.empty()) fail("a vocabulary error without a message");
      return 0;
    }
    check_text({std::move(t).value(), false}, "Hello w\xC3\xB6rld \xF0\x9F\xA6\x99 <s> <|im_end|> 123\n\xFF", true, true);
    return 0;
  }
  if (size == 0) return 0;
  const auto& all = tokenizers();
  const std::uint8_t selector = data[0];
  const entry& e = all[selector % all.size()];
  check_text(e, input.substr(1), (selector & 0x40) != 0, (selector & 0x80) != 0);
  return 0;
}
