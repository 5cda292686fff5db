// A small, bounded JSON reader producing a token tape (json_document, io/json_tape.hpp)
// shared with the UBJSON reader, and the typed accessors the model loaders use.
//
// Model files are untrusted: nesting depth is capped, the tape takes at most 16 bytes per
// input byte (json_tape.hpp says why), number tokens are length-capped, and every failure is
// an error with a byte offset, never a crash.
//
// Each number keeps both its double value and its value parsed directly as a float
// (strtof), so float fields (XGBoost thresholds and leaves) are exact without double
// rounding. Extensions over strict JSON, because XGBoost writes them: NaN, Infinity and
// -Infinity literals.
// Numbers are parsed with strtod/strtof: the program must run in the "C" numeric locale
// (the default unless it calls setlocale).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/io/excerpt.hpp"
#include "tessera/io/json_tape.hpp"

namespace tessera::io {

struct json_limits {
  std::size_t max_depth = 128;
};

namespace detail {

// Parses a decimal number token (JSON grammar, already validated) into double and float.
inline bool parse_number_token(std::string_view tok, double& d, float& f) {
  char buf[512];
  if (tok.empty() || tok.size() >= sizeof buf) return false;
  std::memcpy(buf, tok.data(), tok.size());
  buf[tok.size()] = '\0';
  char* end = nullptr;
  d = std::strtod(buf, &end);
  if (end != buf + tok.size()) return false;
  f = std::strtof(buf, &end);
  return end == buf + tok.size();
}

// Encodes code point cp as UTF-8 into out; returns the byte count.
inline std::size_t encode_utf8(std::uint32_t cp, char out[4]) noexcept {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

class json_parser {
 public:
  json_parser(std::string_view text, json_limits limits) : s_(text), lim_(limits), tape_(text.size()) {}

  expected<json_document> parse_document() {
    TESSERA_TRY(tape_.reserve_tokens(token_bound(s_)));
    json_kind k{};
    TESSERA_TRY(parse_value(k, 0));
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected data after the top-level value");
    return tape_.finish(s_.data());
  }

 private:
  // An upper bound on the tokens of a document, from one cheap scan: an array of k > 0
  // elements has k - 1 commas and one '[', an object of m > 0 members (2m tokens) m colons,
  // m - 1 commas and one '{'; bytes inside strings are not counted. Exact for most files.
  static std::size_t token_bound(std::string_view s) noexcept {
    std::size_t n = 1;
    bool in_string = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (in_string) {
        if (c == '\\') ++i;
        else in_string = c != '"';
      } else {
        in_string = c == '"';
        n += c == ',' || c == ':' || c == '[' || c == '{';
      }
    }
    return n;
  }

  error fail(const std::string& what) const {
    return make_error(errc::parse_error, "json: " + what + " at byte " + std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool consume_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) == lit) {
      pos_ += lit.size();
      return true;
    }
    return false;
  }

  // Appends the value at pos_ to the tape; `kind` tells the enclosing array what it was.
  status parse_value(json_kind& kind, std::size_t depth) {
    if (depth > lim_.max_depth) return fail("nesting deeper than " + std::to_string(lim_.max_depth));
    skip_ws();
    if (pos_ >= s_.size()) return fail("unexpected end of input");
    switch (s_[pos_]) {
      case '{': kind = json_kind::object; return parse_object(depth);
      case '[': kind = json_kind::array; return parse_array(depth);
      case '"': kind = json_kind::string; return parse_string();
      case 't':
        if (!consume_literal("true")) return fail("invalid literal");
        kind = json_kind::boolean;
        return tape_.push(json_token::scalar(json_kind::boolean, true));
      case 'f':
        if (!consume_literal("false")) return fail("invalid literal");
        kind = json_kind::boolean;
        return tape_.push(json_token::scalar(json_kind::boolean, false));
      case 'n':
        if (!consume_literal("null")) return fail("invalid literal");
        kind = json_kind::null;
        return tape_.push(json_token::scalar(json_kind::null));
      default: {
        kind = json_kind::number;
        double d = 0.0;
        float f = 0.0f;
        TESSERA_TRY(parse_number(d, f));
        return tape_.push(json_token::number(d, f));
      }
    }
  }

  status parse_number(double& d, float& f) {
    if (consume_literal("NaN")) {
      d = std::numeric_limits<double>::quiet_NaN();
      f = std::numeric_limits<float>::quiet_NaN();
      return {};
    }
    if (consume_literal("Infinity")) {
      d = std::numeric_limits<double>::infinity();
      f = std::numeric_limits<float>::infinity();
      return {};
    }
    if (consume_literal("-Infinity")) {
      d = -std::numeric_limits<double>::infinity();
      f = -std::numeric_limits<float>::infinity();
      return {};
    }
    const std::size_t start = pos_;
    auto digit = [&](std::size_t p) { return p < s_.size() && s_[p] >= '0' && s_[p] <= '9'; };
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (!digit(pos_)) return fail("invalid value");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digit(pos_)) return fail("digit expected after '.'");
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit(pos_)) return fail("digit expected in exponent");
      while (digit(pos_)) ++pos_;
    }
    if (!parse_number_token(s_.substr(start, pos_ - start), d, f)) return fail("number too long or malformed");
    return {};
  }

  status parse_hex4(std::uint32_t& v) {
    if (s_.size() - pos_ < 4) return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
      else return fail("bad hex digit in \\u escape");
    }
    return {};
  }

  // Appends a string token. A string without escapes stays in the input (no copy); one
  // with escapes is unescaped into the tape's shared buffer.
  status parse_string() {
    ++pos_;  // opening quote
    const std::size_t start = pos_;
    const std::size_t buffer_start = tape_.unescaped_size();
    bool escaped = false;
    while (true) {
      if (pos_ >= s_.size()) return fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        if (!escaped) return tape_.push(json_token::string(start, pos_ - 1 - start, false));
        return tape_.push(json_token::string(buffer_start, tape_.unescaped_size() - buffer_start, true));
      }
      if (c < 0x20) return fail("control character in string");
      if (c != '\\') {
        // Take the run of plain characters at once (a char at a time took seconds on 200 MB).
        std::size_t end = pos_ + 1;
        while (end < s_.size() && s_[end] != '"' && s_[end] != '\\' && static_cast<unsigned char>(s_[end]) >= 0x20) ++end;
        if (escaped) TESSERA_TRY(tape_.append_unescaped(s_.data() + pos_, end - pos_));
        pos_ = end;
        continue;
      }
      if (!escaped) {  // first escape: the text so far moves to the buffer
        escaped = true;
        TESSERA_TRY(tape_.append_unescaped(s_.data() + start, pos_ - start));
      }
      ++pos_;
      if (pos_ >= s_.size()) return fail("unterminated escape");
      char out[4];
      std::size_t n = 1;
      switch (s_[pos_++]) {
        case '"': out[0] = '"'; break;
        case '\\': out[0] = '\\'; break;
        case '/': out[0] = '/'; break;
        case 'b': out[0] = '\b'; break;
        case 'f': out[0] = '\f'; break;
        case 'n': out[0] = '\n'; break;
        case 'r': out[0] = '\r'; break;
        case 't': out[0] = '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          TESSERA_TRY(parse_hex4(cp));
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!consume_literal("\\u")) return fail("lone high surrogate");
            std::uint32_t lo = 0;
            TESSERA_TRY(parse_hex4(lo));
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("lone low surrogate");
          }
          n = encode_utf8(cp, out);
          break;
        }
        default: return fail("invalid escape");
      }
      TESSERA_TRY(tape_.append_unescaped(out, n));
    }
  }

  status parse_array(std::size_t depth) {
    ++pos_;  // '['
    TESSERA_ASSIGN_OR_RETURN(const std::size_t at, tape_.open_container());
    std::size_t count = 0;
    bool numbers_only = true;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      tape_.close_container(at, json_kind::array, 0, true);
      return {};
    }
    while (true) {
      json_kind k{};
      TESSERA_TRY(parse_value(k, depth + 1));
      ++count;
      numbers_only = numbers_only && k == json_kind::number;
      skip_ws();
      if (pos_ >= s_.size()) return fail("unterminated array");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        tape_.close_container(at, json_kind::array, count, numbers_only);
        return {};
      }
      return fail("',' or ']' expected");
    }
  }

  status parse_object(std::size_t depth) {
    ++pos_;  // '{'
    TESSERA_ASSIGN_OR_RETURN(const std::size_t at, tape_.open_container());
    std::size_t count = 0;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      tape_.close_container(at, json_kind::object, 0, false);
      return {};
    }
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail("object key expected");
      TESSERA_TRY(parse_string());
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return fail("':' expected");
      ++pos_;
      json_kind k{};
      TESSERA_TRY(parse_value(k, depth + 1));
      ++count;
      skip_ws();
      if (pos_ >= s_.size()) return fail("unterminated object");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        tape_.close_container(at, json_kind::object, count, false);
        return {};
      }
      return fail("',' or '}' expected");
    }
  }

  std::string_view s_;
  json_limits lim_;
  tape_builder tape_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses one JSON document (the whole input; trailing whitespace only). The document
// refers to `text` for its strings: keep the text alive while using the document.
inline expected<json_document> parse_json(std::string_view text, json_limits limits = {}) {
  return detail::json_parser(text, limits).parse_document();
}
// A temporary string would die before the document that points into it.
template <class S>
  requires(std::is_same_v<std::remove_cvref_t<S>, std::string> && !std::is_lvalue_reference_v<S>)
expected<json_document> parse_json(S&& text, json_limits limits = {}) = delete;

// ---- typed accessors used by the model loaders ------------------------------------------

// "where: what" errors for structural problems in a parsed document.
inline error schema_error(std::string_view where, std::string_view what) {
  return make_error(errc::parse_error, std::string(where) + ": " + std::string(what));
}

inline expected<json_ref> require_member(json_ref obj, std::string_view key, std::string_view where) {
  if (!obj.is_object()) return schema_error(where, "expected an object");
  const json_ref v = obj.find(key);
  if (!v) return schema_error(where, "missing field '" + std::string(key) + "'");
  return v;
}

// Number of elements of an array value, or an error naming `where`.
inline expected<std::size_t> array_size(json_ref v, std::string_view where) {
  if (!v.is_array()) return schema_error(where, std::string("expected an array, got ") + json_kind_name(v.kind()));
  return v.size();
}

// Element e (number i of its array) as double / float; booleans count as 0 and 1, and an
// absent element is an error like any other non-number.
inline expected<double> element_number(json_ref e, std::size_t i, std::string_view where) {
  if (e.is_number()) return e.number();
  if (e.is_boolean()) return e.boolean() ? 1.0 : 0.0;
  return schema_error(where, "element " + std::to_string(i) + " is not a number");
}
inline expected<float> element_number_f32(json_ref e, std::size_t i, std::string_view where) {
  if (e.is_number()) return e.number_f32();
  if (e.is_boolean()) return e.boolean() ? 1.0f : 0.0f;
  return schema_error(where, "element " + std::to_string(i) + " is not a number");
}

// Element i of a numeric array (O(1) for arrays of numbers; iterate elements() otherwise).
inline expected<double> array_number(json_ref v, std::size_t i, std::string_view where) {
  return element_number(v[i], i, where);
}
inline expected<float> array_number_f32(json_ref v, std::size_t i, std::string_view where) {
  return element_number_f32(v[i], i, where);
}

namespace detail {
// True when d is an integer in [lo, hi] (false for fractions, NaN and out-of-range values).
inline bool is_integer_in(double d, std::int64_t lo, std::int64_t hi) {
  return d >= static_cast<double>(lo) && d <= static_cast<double>(hi) && d == std::floor(d);
}
inline error integer_range_error(std::string_view where, std::int64_t lo, std::int64_t hi) {
  return schema_error(where, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}
}  // namespace detail

// An integer in [lo, hi] from a number (rejects fractions, NaN and out-of-range values).
inline expected<std::int64_t> to_integer(double d, std::int64_t lo, std::int64_t hi, std::string_view where) {
  if (!detail::is_integer_in(d, lo, hi)) return detail::integer_range_error(where, lo, hi);
  return static_cast<std::int64_t>(d);
}

// Element e (number i of its array) as an integer in [lo, hi]; the error location is only
// formatted on failure, so this is cheap to call for every element.
inline expected<std::int64_t> element_integer(json_ref e, std::size_t i, std::int64_t lo, std::int64_t hi,
                                              std::string_view where) {
  TESSERA_ASSIGN_OR_RETURN(const double d, element_number(e, i, where));
  if (!detail::is_integer_in(d, lo, hi))
    return detail::integer_range_error(std::string(where) + " element " + std::to_string(i), lo, hi);
  return static_cast<std::int64_t>(d);
}
inline expected<std::int64_t> array_integer(json_ref v, std::size_t i, std::int64_t lo, std::int64_t hi,
                                            std::string_view where) {
  return element_integer(v[i], i, lo, hi, where);
}

// A number given either as a number or as a string holding one ("5E-1", XGBoost's style).
// A one-element list of a number, or a string of the form "[x]" (as newer XGBoost writes
// base_score), is accepted too.
inline expected<double> number_or_string(json_ref v, std::string_view where, float* as_f32 = nullptr) {
  if (v.is_array() && v.size() == 1 && v[0].is_number()) v = v[0];
  if (v.is_number()) {
    if (as_f32) *as_f32 = v.number_f32();
    return v.number();
  }
  if (!v.is_string()) return schema_error(where, "expected a number");
  std::string_view s = v.str();
  while (!s.empty() && (s.front() == ' ' || s.front() == '[')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == ']')) s.remove_suffix(1);
  // strtod accepts more than JSON (hex, "inf"); check the characters first.
  if (s.empty() || s.size() > 100) return schema_error(where, "expected a number in a string");
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      return schema_error(where, "expected a number in a string, got '" + std::string(s) + "'");
  double d = 0;
  float f = 0;
  if (!detail::parse_number_token(s, d, f)) return schema_error(where, "malformed number '" + std::string(s) + "'");
  if (as_f32) *as_f32 = f;
  return d;
}

}  // namespace tessera::io
