// A small, bounded JSON reader producing a DOM (json_value) shared with the UBJSON reader.
//
// Model files are untrusted: nesting depth is capped, every container grows by at most one
// element per input byte (so memory is bounded by a constant times the input size), number
// tokens are length-capped, and every failure is an error with a byte offset, never a crash.
//
// Arrays made only of numbers are stored compactly (number_array: a double and a float per
// element) since tree models are mostly long numeric arrays. Each number keeps both its
// double value and its value parsed directly as a float (strtof), so float fields (XGBoost
// thresholds and leaves) are exact without double rounding. Extensions over strict JSON,
// because XGBoost writes them: NaN, Infinity and -Infinity literals.
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
#include <utility>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/io/excerpt.hpp"

namespace tessera::io {

enum class json_kind : std::uint8_t { null = 0, boolean, number, string, array, object, number_array };

inline const char* json_kind_name(json_kind k) noexcept {
  switch (k) {
    case json_kind::null: return "null";
    case json_kind::boolean: return "boolean";
    case json_kind::number: return "number";
    case json_kind::string: return "string";
    case json_kind::array: return "array";
    case json_kind::object: return "object";
    case json_kind::number_array: return "array";
  }
  return "?";
}

struct json_member;

struct json_value {
  json_kind kind = json_kind::null;
  bool boolean = false;
  double number = 0.0;      // number: the value as a double
  float number_f32 = 0.0f;  // number: the value read directly as a float
  std::string str;
  std::vector<json_value> items;       // array
  std::vector<json_member> members;    // object, in file order
  std::vector<double> numbers;         // number_array
  std::vector<float> numbers_f32;      // number_array

  bool is_null() const noexcept { return kind == json_kind::null; }
  bool is_number() const noexcept { return kind == json_kind::number; }
  bool is_string() const noexcept { return kind == json_kind::string; }
  bool is_object() const noexcept { return kind == json_kind::object; }
  bool is_array() const noexcept { return kind == json_kind::array || kind == json_kind::number_array; }

  // Elements of an array (either representation) or members of an object.
  std::size_t size() const noexcept;

  // The first member named `key` of an object, or nullptr.
  const json_value* find(std::string_view key) const noexcept;
};

struct json_member {
  std::string first;   // key
  json_value second;   // value
};

inline std::size_t json_value::size() const noexcept {
  if (kind == json_kind::number_array) return numbers.size();
  if (kind == json_kind::array) return items.size();
  if (kind == json_kind::object) return members.size();
  return 0;
}

inline const json_value* json_value::find(std::string_view key) const noexcept {
  if (kind != json_kind::object) return nullptr;
  for (const auto& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

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

inline void append_utf8(std::string& s, std::uint32_t cp) {
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class json_parser {
 public:
  json_parser(std::string_view text, json_limits limits) : s_(text), lim_(limits) {}

  expected<json_value> parse_document() {
    json_value v;
    TESSERA_TRY(parse_value(v, 0));
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected data after the top-level value");
    return v;
  }

 private:
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

  status parse_value(json_value& out, std::size_t depth) {
    if (depth > lim_.max_depth) return fail("nesting deeper than " + std::to_string(lim_.max_depth));
    skip_ws();
    if (pos_ >= s_.size()) return fail("unexpected end of input");
    const char c = s_[pos_];
    switch (c) {
      case '{': return parse_object(out, depth);
      case '[': return parse_array(out, depth);
      case '"':
        out.kind = json_kind::string;
        return parse_string(out.str);
      case 't':
        if (!consume_literal("true")) return fail("invalid literal");
        out.kind = json_kind::boolean;
        out.boolean = true;
        return {};
      case 'f':
        if (!consume_literal("false")) return fail("invalid literal");
        out.kind = json_kind::boolean;
        out.boolean = false;
        return {};
      case 'n':
        if (!consume_literal("null")) return fail("invalid literal");
        out.kind = json_kind::null;
        return {};
      default:
        out.kind = json_kind::number;
        return parse_number(out.number, out.number_f32);
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

  status parse_string(std::string& out) {
    ++pos_;  // opening quote
    out.clear();
    while (true) {
      if (pos_ >= s_.size()) return fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return {};
      }
      if (c < 0x20) return fail("control character in string");
      if (c != '\\') {
        // Copy the run of plain characters at once (a char at a time took seconds on 200 MB).
        std::size_t end = pos_ + 1;
        while (end < s_.size() && s_[end] != '"' && s_[end] != '\\' && static_cast<unsigned char>(s_[end]) >= 0x20) ++end;
        out.append(s_.data() + pos_, end - pos_);
        pos_ = end;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
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
          append_utf8(out, cp);
          break;
        }
        default: return fail("invalid escape");
      }
    }
  }

  status parse_array(json_value& out, std::size_t depth) {
    ++pos_;  // '['
    // Start as a number_array; fall back to generic items at the first non-number.
    out.kind = json_kind::number_array;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return {};
    }
    while (true) {
      json_value v;
      TESSERA_TRY(parse_value(v, depth + 1));
      if (out.kind == json_kind::number_array && v.kind == json_kind::number) {
        out.numbers.push_back(v.number);
        out.numbers_f32.push_back(v.number_f32);
      } else {
        if (out.kind == json_kind::number_array) to_generic(out);
        out.items.push_back(std::move(v));
      }
      skip_ws();
      if (pos_ >= s_.size()) return fail("unterminated array");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        return {};
      }
      return fail("',' or ']' expected");
    }
  }

  static void to_generic(json_value& a) {
    a.kind = json_kind::array;
    a.items.reserve(a.numbers.size() + 1);
    for (std::size_t i = 0; i < a.numbers.size(); ++i) {
      json_value n;
      n.kind = json_kind::number;
      n.number = a.numbers[i];
      n.number_f32 = a.numbers_f32[i];
      a.items.push_back(std::move(n));
    }
    a.numbers.clear();
    a.numbers.shrink_to_fit();
    a.numbers_f32.clear();
    a.numbers_f32.shrink_to_fit();
  }

  status parse_object(json_value& out, std::size_t depth) {
    ++pos_;  // '{'
    out.kind = json_kind::object;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return {};
    }
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail("object key expected");
      std::string key;
      TESSERA_TRY(parse_string(key));
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return fail("':' expected");
      ++pos_;
      json_value v;
      TESSERA_TRY(parse_value(v, depth + 1));
      out.members.push_back(json_member{std::move(key), std::move(v)});
      skip_ws();
      if (pos_ >= s_.size()) return fail("unterminated object");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        return {};
      }
      return fail("',' or '}' expected");
    }
  }

  std::string_view s_;
  json_limits lim_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses one JSON document (the whole input; trailing whitespace only).
inline expected<json_value> parse_json(std::string_view text, json_limits limits = {}) {
  return detail::json_parser(text, limits).parse_document();
}

// ---- typed accessors used by the model loaders ------------------------------------------

// "where: what" errors for structural problems in a parsed document.
inline error schema_error(std::string_view where, std::string_view what) {
  return make_error(errc::parse_error, std::string(where) + ": " + std::string(what));
}

inline expected<const json_value*> require_member(const json_value& obj, std::string_view key,
                                                  std::string_view where) {
  if (!obj.is_object()) return schema_error(where, "expected an object");
  const json_value* v = obj.find(key);
  if (!v) return schema_error(where, "missing field '" + std::string(key) + "'");
  return v;
}

// Number of elements of an array value, or an error naming `where`.
inline expected<std::size_t> array_size(const json_value& v, std::string_view where) {
  if (!v.is_array()) return schema_error(where, std::string("expected an array, got ") + json_kind_name(v.kind));
  return v.size();
}

// Element i of a numeric array as double / float (works for both representations).
inline expected<double> array_number(const json_value& v, std::size_t i, std::string_view where) {
  if (v.kind == json_kind::number_array && i < v.numbers.size()) return v.numbers[i];
  if (v.kind == json_kind::array && i < v.items.size()) {
    const json_value& e = v.items[i];
    if (e.kind == json_kind::number) return e.number;
    if (e.kind == json_kind::boolean) return e.boolean ? 1.0 : 0.0;
  }
  return schema_error(where, "element " + std::to_string(i) + " is not a number");
}
inline expected<float> array_number_f32(const json_value& v, std::size_t i, std::string_view where) {
  if (v.kind == json_kind::number_array && i < v.numbers_f32.size()) return v.numbers_f32[i];
  if (v.kind == json_kind::array && i < v.items.size()) {
    const json_value& e = v.items[i];
    if (e.kind == json_kind::number) return e.number_f32;
    if (e.kind == json_kind::boolean) return e.boolean ? 1.0f : 0.0f;
  }
  return schema_error(where, "element " + std::to_string(i) + " is not a number");
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

// Element i of a numeric array as an integer in [lo, hi]; the error location is only
// formatted on failure, so this is cheap to call for every element.
inline expected<std::int64_t> array_integer(const json_value& v, std::size_t i, std::int64_t lo, std::int64_t hi,
                                            std::string_view where) {
  TESSERA_ASSIGN_OR_RETURN(const double d, array_number(v, i, where));
  if (!detail::is_integer_in(d, lo, hi))
    return detail::integer_range_error(std::string(where) + " element " + std::to_string(i), lo, hi);
  return static_cast<std::int64_t>(d);
}

// A number given either as a number or as a string holding one ("5E-1", XGBoost's style).
// A string of the form "[x]" (one-element list, as newer XGBoost writes base_score) is
// accepted too.
inline expected<double> number_or_string(const json_value& v, std::string_view where, float* as_f32 = nullptr) {
  if (v.kind == json_kind::number) {
    if (as_f32) *as_f32 = v.number_f32;
    return v.number;
  }
  if (v.kind == json_kind::number_array && v.numbers.size() == 1) {
    if (as_f32) *as_f32 = v.numbers_f32[0];
    return v.numbers[0];
  }
  if (v.kind != json_kind::string) return schema_error(where, "expected a number");
  std::string_view s = v.str;
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
