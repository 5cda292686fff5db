// Text to token ids and back, from the tokenizer a GGUF file describes
// (tokenizer.ggml.* metadata):
//   model "llama"  SentencePiece BPE with byte fallback (Llama 1/2, Mistral, Gemma, Phi-3)
//   model "gpt2"   byte-level BPE with the pre-tokenizer tokenizer.ggml.pre names (GPT-2,
//                  Llama 3, Qwen2, DeepSeek, Falcon, StarCoder, MPT, Command-R, ...)
//   model "bert"   WordPiece with BERT's basic tokenization
//
//   auto gguf = io::open_gguf(path);                       // or io::gguf_file::parse(bytes)
//   auto tok = llm::tokenizer::from_gguf(gguf->gguf);      // copies what it needs
//   auto ids = tok->encode("Hello", /*add_special=*/true, /*parse_special=*/false);
//   std::string text = tok->decode(*ids);
//
// encode: `add_special` adds the BOS/EOS the metadata asks for (add_bos_token /
// add_eos_token; BERT's [CLS] ... [SEP]); `parse_special` turns control tokens written in the
// text ("<|im_start|>", "<s>") into their ids, else they are plain text (user-defined tokens are
// always found, see tokenizer/special.hpp). A const tokenizer is safe to use from many threads:
// encode keeps its scratch on the call's stack.
//
// Decisions where implementations differ (llama.cpp's conformance data is the reference for
// encoding; SentencePiece for SentencePiece vocabularies):
//   - invalid UTF-8 is kept byte for byte: a byte-level BPE encodes the bytes themselves,
//     SentencePiece falls back to <0xXX> tokens, WordPiece drops them (like U+FFFD); a
//     byte-level vocabulary without a token for some byte (falcon's and mpt's have none for
//     0xFF, which valid UTF-8 never holds) drops that byte, as llama.cpp does;
//   - user-defined tokens decode to their text as written (llama.cpp's rule; DeepSeek's added
//     single-character tokens such as "ü" then round-trip as text);
//   - SentencePiece: a space is prepended (add_space_prefix, default true) at the start of the
//     text and after a parsed control token, not after a user-defined token (as SentencePiece,
//     where they are ordinary pieces); decoding removes the first such space again;
//   - decoding is exact (no "clean up tokenization spaces").
// Layout: the public front here, its parts in tokenizer/ (vocab, pretokenize, bpe, spm,
// wordpiece, special).
#pragma once

#ifndef TESSERA_PUBLIC_FRONT
#define TESSERA_PUBLIC_FRONT
#endif

#include <tessera/core/error.hpp>
#include <tessera/io/excerpt.hpp>
#include <tessera/io/gguf.hpp>
#include <tessera/llm/unicode.hpp>

#include <tessera/llm/tokenizer/vocab.hpp>
#include <tessera/llm/tokenizer/pretokenize.hpp>
#include <tessera/llm/tokenizer/bpe.hpp>
#include <tessera/llm/tokenizer/spm.hpp>
#include <tessera/llm/tokenizer/wordpiece.hpp>
#include <tessera/llm/tokenizer/special.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::llm {

enum class tokenizer_model : std::uint8_t {
  spm,  // "llama": SentencePiece BPE
  bpe,  // "gpt2": byte-level BPE
  wpm,  // "bert": WordPiece
};

class tokenizer {
 public:
  // Builds the tokenizer from tokenizer.ggml.* metadata; everything it needs is copied, so
  // the file may be closed afterwards.
  static expected<tokenizer> from_gguf(const io::gguf_file& f) {
    tokenizer t;
    TESSERA_TRY(t.load(f));
    return t;
  }

  // The ids of `text`; see the top of this file for add_special and parse_special.
  expected<std::vector<std::int32_t>> encode(std::string_view text, bool add_special = true, bool parse_special = false) const {
    std::vector<std::int32_t> out;
    TESSERA_TRY(encode(text, out, add_special, parse_special));
    return out;
  }

  // Appends the ids of `text` to out.
  status encode(std::string_view text, std::vector<std::int32_t>& out, bool add_special, bool parse_special) const {
    if (text.size() >= 0xFFFFFFFFu) return make_error(errc::invalid_argument, "tokenizer: text of 4 GiB or more");
    out.reserve(out.size() + text.size() / 4 + 2);  // about 4 bytes a token in most texts
    if (add_special && add_bos_ && bos_ != no_token) out.push_back(bos_);
    std::vector<detail::tok::fragment> fragments, scratch;
    specials_.split(vocab_, text, parse_special, fragments, scratch);
    switch (model_) {
      case tokenizer_model::spm: TESSERA_TRY(encode_spm(text, fragments, out)); break;
      case tokenizer_model::bpe: encode_bpe(text, fragments, out); break;
      case tokenizer_model::wpm: encode_wpm(text, fragments, out); break;
    }
    if (add_special && add_eos_ && eos_ != no_token) out.push_back(eos_);
    return {};
  }

  std::int32_t n_tokens() const noexcept { return vocab_.size(); }
  tokenizer_model model() const noexcept { return model_; }
  pre_tokenizer pre() const noexcept { return pre_; }
  bool contains(std::int32_t id) const noexcept { return vocab_.contains(id); }

  // The token's text as the vocabulary spells it ("▁the", "Ġthe", "<0x0A>"); empty for an id
  // outside the vocabulary.
  std::string_view token_text(std::int32_t id) const noexcept { return contains(id) ? vocab_.text(id) : std::string_view(); }
  token_type type(std::int32_t id) const noexcept { return contains(id) ? vocab_.type(id) : token_type::undefined; }
  float score(std::int32_t id) const noexcept { return contains(id) ? vocab_.score(id) : 0.0f; }
  // The id of the token spelled exactly `text`, or no_token.
  std::int32_t find(std::string_view text) const noexcept { return vocab_.find(text); }

  // The bytes a token stands for: spaces for "▁", bytes for <0xXX> and byte-level spellings.
  // Control tokens give "" unless render_special. An id outside the vocabulary gives "".
  std::string token_to_piece(std::int32_t id, bool render_special = false) const {
    std::string out;
    append_piece(out, id, render_special);
    return out;
  }
  void append_piece(std::string& out, std::int32_t id, bool render_special = false) const {
    if (!contains(id)) return;
    const std::string_view text = vocab_.text(id);
    switch (vocab_.type(id)) {
      case token_type::control:
        if (render_special) out.append(text);
        return;
      case token_type::unknown:
        // SentencePiece shows an unknown piece as " ⁇ "; the others print the token.
        if (model_ == tokenizer_model::spm) out.append(" \xE2\x81\x87 ");
        else if (render_special) out.append(text);
        return;
      case token_type::byte:
        if (const int b = parse_byte_token(text); b >= 0) out += static_cast<char>(b);
        else out.append(text);
        return;
      case token_type::user_defined:
        if (model_ != tokenizer_model::spm) {
          out.append(text);
          return;
        }
        [[fallthrough]];
      default:
        switch (model_) {
          case tokenizer_model::spm: append_unescaped(out, text); return;
          case tokenizer_model::bpe: detail::tok::append_byte_level_decoded(out, text); return;
          case tokenizer_model::wpm: append_wordpiece(out, text); return;
        }
    }
  }

  // True when decoding should drop the first space of the text a token gives at the start of
  // an output (SentencePiece's added space, WordPiece's word separator).
  bool strips_leading_space(std::int32_t id) const noexcept {
    if (!contains(id)) return false;
    const token_type t = vocab_.type(id);
    if (t == token_type::control || t == token_type::byte || t == token_type::unknown) return false;
    if (model_ == tokenizer_model::spm) return add_space_prefix_;
    return model_ == tokenizer_model::wpm;
  }

  // The text of ids, exactly (invalid UTF-8 the tokens spell is kept).
  std::string decode(std::span<const std::int32_t> ids, bool render_special = false) const {
    std::string out;
    bool at_start = true;
    for (std::int32_t id : ids) {
      const std::size_t before = out.size();
      append_piece(out, id, render_special);
      if (at_start && out.size() > before) {
        if (strips_leading_space(id) && out[before] == ' ') out.erase(before, 1);
        at_start = false;
      }
    }
    return out;
  }

  // Special ids: no_token when the vocabulary has none.
  std::int32_t bos() const noexcept { return bos_; }
  std::int32_t eos() const noexcept { return eos_; }
  std::int32_t eot() const noexcept { return eot_; }  // end of turn (chat models)
  std::int32_t eom() const noexcept { return eom_; }  // end of message (tool calls)
  std::int32_t unk() const noexcept { return unk_; }
  std::int32_t pad() const noexcept { return pad_; }
  std::int32_t sep() const noexcept { return sep_; }
  std::int32_t cls() const noexcept { return cls_; }
  std::int32_t mask() const noexcept { return mask_; }
  bool add_bos() const noexcept { return add_bos_; }
  bool add_eos() const noexcept { return add_eos_; }
  bool add_space_prefix() const noexcept { return add_space_prefix_; }

  // End of generation: EOS, EOT, EOM and the chat models' end-of-turn control tokens.
  bool is_eog(std::int32_t id) const noexcept { return std::find(eog_.begin(), eog_.end(), id) != eog_.end(); }
  std::span<const std::int32_t> eog_tokens() const noexcept { return eog_; }
  bool is_control(std::int32_t id) const noexcept { return type(id) == token_type::control; }

 private:
  status load(const io::gguf_file& f) {
    auto model_name = f.get<std::string_view>("tokenizer.ggml.model");
    if (!model_name.ok()) return make_error(model_name.err().code, "tokenizer: " + model_name.err().message);
    if (*model_name == "llama") model_ = tokenizer_model::spm;
    else if (*model_name == "gpt2") model_ = tokenizer_model::bpe;
    else if (*model_name == "bert") model_ = tokenizer_model::wpm;
    else
      return make_error(errc::unsupported, "tokenizer: tokenizer.ggml.model '" + io::excerpt(*model_name) +
                                               "' (supported: llama, gpt2, bert)");
    TESSERA_TRY(vocab_.load_tokens(f));
    if (model_ == tokenizer_model::bpe) {
      TESSERA_TRY(vocab_.load_merges(f));
      TESSERA_TRY(load_pre_tokenizer(f));
    }
    TESSERA_TRY(load_special_ids(f));
    TESSERA_TRY(load_flags(f));
    find_byte_tokens();
    if (model_ == tokenizer_model::wpm) detect_wordpiece_style();
    if (model_ == tokenizer_model::spm) spm_splits_at_spaces_ = detail::tok::spm_splits_at_spaces(vocab_);
    find_end_of_generation();
    specials_.build(vocab_);
    set_strip_attributes(f);
    return {};
  }

  status load_pre_tokenizer(const io::gguf_file& f) {
    pre_ = pre_tokenizer::bpe_default;
    const io::gguf_value* v = f.find("tokenizer.ggml.pre");
    if (!v) return {};
    auto name = v->as<std::string_view>();
    if (!name.ok()) return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.pre " + name.err().message);
    for (const auto& entry : detail::tok::pre_tokenizer_names) {
      if (entry.name == *name) {
        pre_ = entry.kind;
        ignore_merges_ = entry.ignore_merges;
        return {};
      }
    }
    return make_error(errc::unsupported, "tokenizer: pre-tokenizer '" + io::excerpt(*name) + "' (tokenizer.ggml.pre) is unknown to tessera");
  }

  status load_special_ids(const io::gguf_file& f) {
    TESSERA_ASSIGN_OR_RETURN(bos_, vocab_.special_id(f, "tokenizer.ggml.bos_token_id"));
    TESSERA_ASSIGN_OR_RETURN(eos_, vocab_.special_id(f, "tokenizer.ggml.eos_token_id"));
    TESSERA_ASSIGN_OR_RETURN(eot_, vocab_.special_id(f, "tokenizer.ggml.eot_token_id"));
    TESSERA_ASSIGN_OR_RETURN(eom_, vocab_.special_id(f, "tokenizer.ggml.eom_token_id"));
    TESSERA_ASSIGN_OR_RETURN(unk_, vocab_.special_id(f, "tokenizer.ggml.unknown_token_id"));
    TESSERA_ASSIGN_OR_RETURN(sep_, vocab_.special_id(f, "tokenizer.ggml.seperator_token_id"));  // sic: GGUF's spelling
    TESSERA_ASSIGN_OR_RETURN(cls_, vocab_.special_id(f, "tokenizer.ggml.cls_token_id"));
    TESSERA_ASSIGN_OR_RETURN(mask_, vocab_.special_id(f, "tokenizer.ggml.mask_token_id"));
    // Some converted models name a padding id one past the vocabulary; padding is never
    // produced by encoding, so such an id is dropped rather than refusing the model.
    auto pad = vocab_.special_id(f, "tokenizer.ggml.padding_token_id");
    pad_ = pad.ok() ? *pad : no_token;
    if (unk_ == no_token && model_ != tokenizer_model::bpe) {
      // SentencePiece and WordPiece need one for characters no token covers: the vocabulary's
      // first token of type unknown, if any.
      for (std::int32_t id = 0; id < vocab_.size() && unk_ == no_token; ++id)
        if (vocab_.type(id) == token_type::unknown) unk_ = id;
    }
    if (model_ == tokenizer_model::wpm) {
      if (bos_ == no_token) bos_ = cls_;
      if (eos_ == no_token) eos_ = sep_;
      if (unk_ == no_token) unk_ = vocab_.find("[UNK]");
      if (unk_ == no_token) return make_error(errc::parse_error, "tokenizer: a WordPiece vocabulary needs an unknown token");
    }
    return {};
  }

  status load_flags(const io::gguf_file& f) {
    add_bos_ = model_ != tokenizer_model::bpe || pre_ == pre_tokenizer::llama3 || pre_ == pre_tokenizer::chameleon;
    add_eos_ = model_ == tokenizer_model::wpm;
    add_space_prefix_ = model_ == tokenizer_model::spm;
    TESSERA_TRY(read_flag(f, "tokenizer.ggml.add_bos_token", add_bos_));
    TESSERA_TRY(read_flag(f, "tokenizer.ggml.add_eos_token", add_eos_));
    if (model_ == tokenizer_model::spm) {
      TESSERA_TRY(read_flag(f, "tokenizer.ggml.add_space_prefix", add_space_prefix_));
      TESSERA_TRY(read_flag(f, "tokenizer.ggml.remove_extra_whitespaces", remove_extra_whitespaces_));
    }
    if (add_bos_ && bos_ == no_token && f.contains("tokenizer.ggml.add_bos_token"))
      return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.add_bos_token is true but there is no bos_token_id");
    if (add_eos_ && eos_ == no_token && f.contains("tokenizer.ggml.add_eos_token"))
      return make_error(errc::parse_error, "tokenizer: tokenizer.ggml.add_eos_token is true but there is no eos_token_id");
    return {};
  }

  static status read_flag(const io::gguf_file& f, std::string_view key, bool& flag) {
    const io::gguf_value* v = f.find(key);
    if (!v) return {};
    auto b = v->as<bool>();
    if (!b.ok()) return make_error(errc::parse_error, "tokenizer: " + std::string(key) + " " + b.err().message);
    flag = *b;
    return {};
  }

  static int parse_byte_token(std::string_view text) noexcept {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    const auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    const int hi = hex(text[3]), lo = hex(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }

  void find_byte_tokens() {
    byte_tokens_.fill(no_token);
    if (model_ == tokenizer_model::bpe) {
      std::string spelled;
      for (int b = 0; b < 256; ++b) {
        spelled.clear();
        const char c = static_cast<char>(b);
        detail::tok::append_byte_level(spelled, std::string_view(&c, 1));
        byte_tokens_[std::size_t(b)] = vocab_.find(spelled);
      }
      return;
    }
    // <0xXX> tokens (any case of the hex digits); a vocabulary without them falls back on
    // single-byte tokens for ASCII (llama.cpp does the same).
    for (std::int32_t id = 0; id < vocab_.size(); ++id)
      if (const int b = parse_byte_token(vocab_.text(id)); b >= 0 && byte_tokens_[std::size_t(b)] == no_token) byte_tokens_[std::size_t(b)] = id;
    for (int b = 0; b < 0x80; ++b) {
      if (byte_tokens_[std::size_t(b)] != no_token) continue;
      const char c = static_cast<char>(b);
      const std::int32_t id = vocab_.find(std::string_view(&c, 1));
      if (id != no_token && vocab_.type(id) != token_type::control) byte_tokens_[std::size_t(b)] = id;
    }
  }

  void detect_wordpiece_style() {
    std::size_t phantom = 0, hashes = 0, upper = 0, normal = 0;
    for (std::int32_t id = 0; id < vocab_.size(); ++id) {
      if (vocab_.type(id) != token_type::normal) continue;
      ++normal;
      const std::string_view s = vocab_.text(id);
      if (s.substr(0, 3) == detail::tok::spm_space) ++phantom;
      else if (s.size() > 2 && s.substr(0, 2) == "##") ++hashes;
      for (std::size_t pos = 0; pos < s.size();) {
        const unicode::utf8_unit u = unicode::decode_utf8(s, pos);
        pos += u.length;
        if (unicode::to_lower(u.code_point) != u.code_point) {
          ++upper;
          break;
        }
      }
    }
    wordpiece_spelling_ = phantom >= hashes ? detail::tok::wordpiece_spelling::phantom_space : detail::tok::wordpiece_spelling::hash_continuation;
    // An uncased vocabulary (bert-base-uncased and its kin) has (next to) no pieces with
    // capitals: its input is lower-cased and stripped of accents, as its tokenizer_config
    // asks; a cased one (thousands of capitalized pieces) is matched as written.
    uncased_ = upper * 1000 <= normal;
  }

  void find_end_of_generation() {
    // Chat models end turns with their own control tokens; older converters do not name them
    // in the metadata, so they are recognized by their text (as llama.cpp does).
    static constexpr std::string_view end_of_turn[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>",
    };
    static constexpr std::string_view end_of_generation[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
    };
    const auto special = [&](std::int32_t id) {
      return id != no_token && (vocab_.type(id) == token_type::control || vocab_.type(id) == token_type::user_defined);
    };
    if (eot_ == no_token)
      for (std::string_view text : end_of_turn)
        if (const std::int32_t id = vocab_.find(text); special(id)) {
          eot_ = id;
          break;
        }
    if (eom_ == no_token)
      if (const std::int32_t id = vocab_.find("<|eom_id|>"); special(id)) eom_ = id;
    eog_.clear();
    const auto add = [&](std::int32_t id) {
      if (id != no_token && std::find(eog_.begin(), eog_.end(), id) == eog_.end()) eog_.push_back(id);
    };
    if (model_ != tokenizer_model::wpm) add(eos_);  // BERT's [SEP] ends a sequence, not a generation
    add(eot_);
    add(eom_);
    for (std::string_view text : end_of_generation)
      if (const std::int32_t id = vocab_.find(text); special(id)) add(id);
  }

  // lstrip/rstrip are not in GGUF metadata; llama.cpp sets them for the models that need
  // them, by name, and so does tessera.
  void set_strip_attributes(const io::gguf_file& f) {
    std::string name;
    if (const io::gguf_value* v = f.find("general.name"))
      if (auto s = v->as<std::string_view>(); s.ok()) name = *s;
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; });
    if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
      for (std::int32_t id = 0; id < vocab_.size(); ++id) {
        const std::string_view s = vocab_.text(id);
        const bool rstrip = (vocab_.type(id) == token_type::control || s == "</s>") && s != "<unk>" && s != "<s>" && s != "<|endoftext|>";
        if (rstrip) specials_.set_attributes(id, detail::tok::special_rstrip);
      }
    }
    if (pre_ == pre_tokenizer::gpt2) {
      const io::gguf_value* v = f.find("tokenizer.ggml.pre");
      const auto pre = v ? v->as<std::string_view>() : expected<std::string_view>(std::string_view());
      if (pre.ok() && (*pre == "jina-v2-de" || *pre == "jina-v2-es" || *pre == "jina-v2-code"))
        if (const std::int32_t id = vocab_.find("<mask>"); id != no_token) specials_.set_attributes(id, detail::tok::special_lstrip);
    }
  }

  // SentencePiece text: spaces as U+2581, with the added space where it belongs.
  void escape_spm(std::string& out, std::string_view text, bool prefix) const {
    out.clear();
    if (remove_extra_whitespaces_) {
      std::size_t b = 0, e = text.size();
      while (b < e && text[b] == ' ') ++b;
      while (e > b && text[e - 1] == ' ') --e;
      text = text.substr(b, e - b);
    }
    if (prefix) out.append(detail::tok::spm_space);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != ' ') {
        out += text[i];
        continue;
      }
      if (remove_extra_whitespaces_ && i > 0 && text[i - 1] == ' ') continue;
      out.append(detail::tok::spm_space);
    }
  }

  status encode_spm(std::string_view text, const std::vector<detail::tok::fragment>& fragments, std::vector<std::int32_t>& out) const {
    detail::tok::spm_encoder encoder(byte_tokens_, unk_);
    std::string escaped;
    bool prefix_next = true;  // at the start, and after a parsed control token
    for (const detail::tok::fragment& fr : fragments) {
      if (fr.token == no_token) {
        escape_spm(escaped, text.substr(fr.begin, fr.end - fr.begin), add_space_prefix_ && prefix_next);
        TESSERA_TRY(encoder.encode(vocab_, escaped, out, spm_splits_at_spaces_));
        prefix_next = false;
        continue;
      }
      if (vocab_.type(fr.token) == token_type::user_defined) {
        // Part of the text: the added space still comes first.
        if (add_space_prefix_ && prefix_next) TESSERA_TRY(encoder.encode(vocab_, detail::tok::spm_space, out, false));
        prefix_next = false;
      } else {
        prefix_next = true;
      }
      out.push_back(fr.token);
    }
    return {};
  }

  void encode_bpe(std::string_view text, const std::vector<detail::tok::fragment>& fragments, std::vector<std::int32_t>& out) const {
    detail::tok::bpe_encoder encoder(byte_tokens_);
    detail::tok::pre_tokenizer_pipeline pipeline;
    std::vector<detail::tok::text_unit> units;
    std::vector<detail::tok::unit_range> pieces;
    for (const detail::tok::fragment& fr : fragments) {
      if (fr.token != no_token) {
        out.push_back(fr.token);
        continue;
      }
      const std::string_view raw = text.substr(fr.begin, fr.end - fr.begin);
      detail::tok::decode_units(raw, units);
      pipeline.split(pre_, units, pieces);
      for (const detail::tok::unit_range& p : pieces)
        encoder.encode_word(vocab_, raw.substr(units[p.begin].offset, units[p.end].offset - units[p.begin].offset), ignore_merges_, out);
    }
  }

  void encode_wpm(std::string_view text, const std::vector<detail::tok::fragment>& fragments, std::vector<std::int32_t>& out) const {
    detail::tok::wordpiece_encoder encoder(wordpiece_spelling_, uncased_, unk_);
    for (const detail::tok::fragment& fr : fragments) {
      if (fr.token != no_token) out.push_back(fr.token);
      else encoder.encode(vocab_, text.substr(fr.begin, fr.end - fr.begin), out);
    }
  }

  static void append_unescaped(std::string& out, std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();) {
      if (text.substr(pos, 3) == detail::tok::spm_space) {
        out += ' ';
        pos += 3;
      } else {
        out += text[pos++];
      }
    }
  }

  void append_wordpiece(std::string& out, std::string_view text) const {
    if (wordpiece_spelling_ == detail::tok::wordpiece_spelling::phantom_space) {
      append_unescaped(out, text);
    } else if (text.size() > 2 && text.substr(0, 2) == "##") {
      out.append(text.substr(2));
    } else {
      out += ' ';
      out.append(text);
    }
  }

  detail::tok::vocab vocab_;
  tokenizer_model model_ = tokenizer_model::spm;
  pre_tokenizer pre_ = pre_tokenizer::none;
  bool ignore_merges_ = false;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false, remove_extra_whitespaces_ = false;
  bool uncased_ = false;
  bool spm_splits_at_spaces_ = false;
  detail::tok::wordpiece_spelling wordpiece_spelling_ = detail::tok::wordpiece_spelling::phantom_space;
  std::int32_t bos_ = no_token, eos_ = no_token, eot_ = no_token, eom_ = no_token, unk_ = no_token;
  std::int32_t pad_ = no_token, sep_ = no_token, cls_ = no_token, mask_ = no_token;
  std::vector<std::int32_t> eog_;
  std::array<std::int32_t, 256> byte_tokens_{};
  detail::tok::special_splitter specials_;
};

}  // namespace tessera::llm
