// A bounded UBJSON (Universal Binary JSON, draft 12) reader producing the same token tape
// as the JSON reader (json_document, io/json_tape.hpp), so one XGBoost loader serves .json
// and .ubj files.
//
// Supported: Z N T F i U I l L d D C S H, containers [ ] { } including optimized
// containers with a count ('#') and a type ('$'). XGBoost writes its numeric arrays as
// typed arrays ([$d#L<n> followed by n big-endian float32 values). Strings and keys are
// not copied: the tape points into the input, which must outlive the document. Bounds: a declared count is checked against the bytes left before
// anything is allocated (each element needs at least one byte, typed numbers their full
// width), typed containers of zero-width types ($Z, $T, $F, $N) are refused, nesting depth
// is capped, and int64 lengths/counts must be non-negative.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include "tessera/core/bit_cast.hpp"
#include "tessera/core/error.hpp"
#include "tessera/io/json.hpp"

namespace tessera::io {

namespace detail {

class ubjson_parser {
 public:
  ubjson_parser(std::span<const std::uint8_t> bytes, json_limits limits)
      : b_(bytes), lim_(limits), tape_(bytes.size()) {}

  // Two passes: the first checks the input and counts its tokens, so the tape is
  // allocated once at its exact size (reading UBJSON is cheap next to the memory saved).
  expected<json_document> parse_document() {
    tape_.count_only(true);
    TESSERA_TRY(parse_all());
    TESSERA_TRY(tape_.reserve_tokens(tape_.counted()));
    tape_.count_only(false);
    pos_ = 0;
    TESSERA_TRY(parse_all());
    return tape_.finish(reinterpret_cast<const char*>(b_.data()));
  }

 private:
  status parse_all() {
    std::uint8_t m = 0;
    TESSERA_TRY(next_marker(m));
    json_kind k{};
    TESSERA_TRY(parse_typed(m, k, 0));
    while (pos_ < b_.size() && b_[pos_] == 'N') ++pos_;
    if (pos_ != b_.size()) return fail("unexpected data after the top-level value");
    return {};
  }

  error fail(const std::string& what) const {
    return make_error(errc::parse_error, "ubjson: " + what + " at byte " + std::to_string(pos_));
  }
  std::size_t left() const noexcept { return b_.size() - pos_; }

  status need(std::size_t n) const {
    if (left() < n) return fail("truncated input (" + std::to_string(n) + " bytes needed, " +
                                std::to_string(left()) + " left)");
    return {};
  }

  // Next marker, skipping no-ops.
  status next_marker(std::uint8_t& m) {
    while (true) {
      TESSERA_TRY(need(1));
      m = b_[pos_++];
      if (m != 'N') return {};
    }
  }

  // Reads an integer value of marker m (i U I l L) as int64.
  status read_int(std::uint8_t m, std::int64_t& out) {
    const std::size_t w = ubjson_width(m);
    if (w == 0 || m == 'd' || m == 'D' || m == 'C') return fail("integer marker expected");
    TESSERA_TRY(need(w));
    out = ubjson_integer(m, b_.data() + pos_);
    pos_ += w;
    return {};
  }

  // A length or count: an integer with its own marker, non-negative.
  status read_length(std::int64_t& n) {
    std::uint8_t m = 0;
    TESSERA_TRY(next_marker(m));
    TESSERA_TRY(read_int(m, n));
    if (n < 0) return fail("negative length");
    return {};
  }

  // A string's length and bytes; `at` is its offset in the input.
  status read_string_body(std::size_t& at, std::size_t& n) {
    std::int64_t len = 0;
    TESSERA_TRY(read_length(len));
    if (static_cast<std::uint64_t>(len) > left()) return fail("string length " + std::to_string(len) + " past the end");
    at = pos_;
    n = static_cast<std::size_t>(len);
    pos_ += n;
    return {};
  }
  status push_string() {
    std::size_t at = 0, n = 0;
    TESSERA_TRY(read_string_body(at, n));
    return tape_.push(json_token::string(at, n, false));
  }

  // Reads a number of marker m into double/float.
  status read_number(std::uint8_t m, double& d, float& f) {
    if (m == 'H') {
      std::size_t at = 0, n = 0;
      TESSERA_TRY(read_string_body(at, n));
      const std::string_view s(reinterpret_cast<const char*>(b_.data() + at), n);
      if (s.empty() || s.size() > 400) return fail("bad high-precision number");
      for (char c : s)
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
          return fail("bad high-precision number");
      if (!parse_number_token(s, d, f)) return fail("bad high-precision number");
      return {};
    }
    const std::size_t w = ubjson_width(m);
    if (w == 0 || m == 'C') return fail("integer marker expected");
    TESSERA_TRY(need(w));
    ubjson_number(m, b_.data() + pos_, d, f);
    pos_ += w;
    return {};
  }

  // Appends the value whose marker m was already consumed; `kind` tells the enclosing
  // array what it was.
  status parse_typed(std::uint8_t m, json_kind& kind, std::size_t depth) {
    if (depth > lim_.max_depth) return fail("nesting deeper than " + std::to_string(lim_.max_depth));
    switch (m) {
      case 'Z': kind = json_kind::null; return tape_.push(json_token::scalar(json_kind::null));
      case 'T': kind = json_kind::boolean; return tape_.push(json_token::scalar(json_kind::boolean, true));
      case 'F': kind = json_kind::boolean; return tape_.push(json_token::scalar(json_kind::boolean, false));
      case 'i': case 'U': case 'I': case 'l': case 'L': case 'd': case 'D': case 'H':
        kind = json_kind::number;
        return push_number(m);
      case 'C':
        TESSERA_TRY(need(1));
        kind = json_kind::string;
        return tape_.push(json_token::string(pos_++, 1, false));
      case 'S':
        kind = json_kind::string;
        return push_string();
      case '[': kind = json_kind::array; return parse_container(depth, false);
      case '{': kind = json_kind::object; return parse_container(depth, true);
      default:
        --pos_;
        return fail("unknown marker 0x" + hex(m));
    }
  }

  status push_number(std::uint8_t m) {
    double d = 0.0;
    float f = 0.0f;
    TESSERA_TRY(read_number(m, d, f));
    return tape_.push(json_token::number(d, f));
  }

  static std::string hex(std::uint8_t v) {
    const char* d = "0123456789abcdef";
    return std::string{d[v >> 4], d[v & 15]};
  }

  status parse_container(std::size_t depth, bool object) {
    const json_kind kind = object ? json_kind::object : json_kind::array;
    TESSERA_ASSIGN_OR_RETURN(const std::size_t at, tape_.open_container());
    std::uint8_t type = 0;
    std::int64_t count = -1;
    TESSERA_TRY(need(1));
    if (b_[pos_] == '$') {
      ++pos_;
      TESSERA_TRY(need(1));
      type = b_[pos_++];
      if (type == 'Z' || type == 'T' || type == 'F' || type == 'N')
        return fail("typed container of zero-width type is not supported");
      TESSERA_TRY(need(1));
      if (b_[pos_] != '#') return fail("'#' expected after a container type");
    }
    if (pos_ < b_.size() && b_[pos_] == '#') {
      ++pos_;
      TESSERA_TRY(read_length(count));
      // Every element takes at least one byte (typed numbers their full width; object
      // members at least a key length byte): refuse counts the input cannot hold.
      std::size_t min_width = 1;
      if (type != 0 && ubjson_width(type) != 0) min_width = ubjson_width(type);
      if (static_cast<std::uint64_t>(count) > left() / min_width)
        return fail("declared count " + std::to_string(count) + " exceeds the remaining input");
    }

    if (!object && type != 0 && type != 'C' && ubjson_width(type) != 0) {
      // Typed numeric array (XGBoost's node arrays): one packed token over the values in
      // place, all of which the count check above found in the input.
      const auto n = static_cast<std::size_t>(count);
      tape_.set(at, json_token::packed(type, n, pos_));
      pos_ += n * ubjson_width(type);
      return {};
    }

    std::size_t n = 0;
    bool numbers_only = !object;
    for (; count < 0 || n < static_cast<std::size_t>(count); ++n) {
      std::uint8_t m = type;
      if (count < 0) {
        TESSERA_TRY(next_marker(m));
        if (m == (object ? '}' : ']')) break;
        if (object) --pos_;  // an object member starts with the key length marker
      }
      if (object) TESSERA_TRY(push_string());
      if (type == 0 && (count >= 0 || object)) TESSERA_TRY(next_marker(m));
      json_kind k{};
      TESSERA_TRY(parse_typed(m, k, depth + 1));
      numbers_only = numbers_only && k == json_kind::number;
    }
    tape_.close_container(at, kind, n, numbers_only);
    return {};
  }

  std::span<const std::uint8_t> b_;
  json_limits lim_;
  tape_builder tape_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses one UBJSON document (the whole input; trailing no-ops only).
// The document refers to `bytes` for its strings: keep them alive while using it.
inline expected<json_document> parse_ubjson(std::span<const std::uint8_t> bytes, json_limits limits = {}) {
  return detail::ubjson_parser(bytes, limits).parse_document();
}

}  // namespace tessera::io
