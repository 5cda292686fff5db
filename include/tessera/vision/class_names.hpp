// Class names for detectors and classifiers, from the two places they come from:
//   - a names file, one name per line (coco.names);
//   - the `names` metadata of an Ultralytics ONNX export, a Python dict literal such as
//     {0: 'person', 1: 'bicycle', 2: "teddy's bear", 3: 'caf\xe9'} (str() of a dict: keys are
//     ints, strings in single quotes, or double quotes when they contain a single quote, with
//     Python's escapes). JSON's {"0": "person"} is read too.
// Both are untrusted text: sizes are bounded, every error names the line or byte offset, and
// the names come out as valid UTF-8 without control characters (safe to print and to embed in
// JSON).
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/io/excerpt.hpp>
#include <tessera/io/json_string.hpp>
#include <tessera/io/file.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::vision {

inline constexpr std::size_t max_class_count = 100000;
inline constexpr std::size_t max_class_name_bytes = 1024;

namespace detail {

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// "" if the name is fine, else what is wrong with it.
inline std::string check_name(std::string_view name) {
  if (name.empty()) return "empty class name";
  if (name.size() > max_class_name_bytes) return "class name longer than " + std::to_string(max_class_name_bytes) + " bytes";
  for (std::size_t i = 0; i < name.size();) {
    const std::size_t n = io::utf8_sequence(name, i);
    if (n == 0) return "class name is not valid UTF-8";
    if (n == 1 && (static_cast<unsigned char>(name[i]) < 0x20 || name[i] == 0x7f)) return "control character in a class name";
    i += n;
  }
  return {};
}

inline bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

class dict_parser {
 public:
  explicit dict_parser(std::string_view text) : s_(text) {}

  expected<std::vector<std::string>> parse() {
    skip_space();
    if (!eat('{')) return fail("expected '{'");
    std::vector<std::string> by_key;
    std::vector<bool> seen;
    std::vector<std::pair<std::size_t, std::string>> entries;
    skip_space();
    while (!eat('}')) {
      if (entries.size() >= max_class_count) return fail("more than " + std::to_string(max_class_count) + " classes");
      TESSERA_ASSIGN_OR_RETURN(const std::size_t key, parse_key());
      skip_space();
      if (!eat(':')) return fail("expected ':' after key " + std::to_string(key));
      skip_space();
      const std::size_t name_at = pos_;
      TESSERA_ASSIGN_OR_RETURN(std::string name, parse_string());
      if (const std::string why = check_name(name); !why.empty()) return fail_at(name_at, why);
      entries.emplace_back(key, std::move(name));
      skip_space();
      if (eat(',')) {
        skip_space();
        continue;  // a trailing comma before '}' is fine, as in Python
      }
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != '}') return fail("expected ',' or '}'");
    }
    skip_space();
    if (pos_ != s_.size()) return fail("text after the closing '}'");
    // Keys must be 0..n-1, each once: a key is bounded by the number of entries actually read.
    by_key.resize(entries.size());
    seen.assign(entries.size(), false);
    for (auto& [key, name] : entries) {
      if (key >= entries.size())
        return make_error(errc::parse_error, "class names: key " + std::to_string(key) + " but only " +
                                                 std::to_string(entries.size()) + " entries (keys must be 0..n-1)");
      if (seen[key]) return make_error(errc::parse_error, "class names: key " + std::to_string(key) + " appears twice");
      seen[key] = true;
      by_key[key] = std::move(name);
    }
    return by_key;
  }

 private:
  error fail(const std::string& what) const { return fail_at(pos_, what); }
  error fail_at(std::size_t at, const std::string& what) const {
    return make_error(errc::parse_error, "class names: byte " + std::to_string(at) + ": " + what + " near '" +
                                             io::excerpt(s_.substr(at < s_.size() ? at : s_.size())) + "'");
  }
  void skip_space() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) return ++pos_, true;
    return false;
  }

  // A non-negative integer, bare or quoted ("0": JSON's object keys).
  expected<std::size_t> parse_key() {
    const char quote = pos_ < s_.size() && (s_[pos_] == '\'' || s_[pos_] == '"') ? s_[pos_] : 0;
    if (quote) ++pos_;
    const std::size_t start = pos_;
    std::size_t key = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (pos_ - start >= 9) return fail("key too large");  // < 10^9, far above max_class_count
      key = key * 10 + static_cast<std::size_t>(s_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == start) return fail("expected a non-negative integer key");
    if (quote && !eat(quote)) return fail("unterminated quoted key");
    return key;
  }

  // A Python (or JSON) string literal in single or double quotes with backslash escapes.
  expected<std::string> parse_string() {
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return fail("expected a quoted class name");
    const char quote = s_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) return fail("unterminated string");
      const char c = s_[pos_];
      if (c == quote) {
        ++pos_;
        return out;
      }
      if (out.size() > max_class_name_bytes) return fail("class name longer than " + std::to_string(max_class_name_bytes) + " bytes");
      if (c == '\n' || c == '\r') return fail("line break inside a string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      if (++pos_ >= s_.size()) return fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '/': out += '/'; break;
        case 'n': out += '\n'; break;  // refused later by check_name, with a clear message
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'x':
        case 'u':
        case 'U': {
          const int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          std::uint32_t cp = 0;
          for (int k = 0; k < digits; ++k) {
            if (pos_ >= s_.size()) return fail("truncated \\" + std::string(1, e) + " escape");
            const char h = s_[pos_++];
            const int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (v < 0) return fail("bad hex digit in \\" + std::string(1, e) + " escape");
            cp = (cp << 4) | static_cast<std::uint32_t>(v);
          }
          if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return fail("escape is not a Unicode scalar value");
          append_utf8(out, cp);
          break;
        }
        default: return fail(std::string("unsupported escape \\") + e);
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// One name per line; spaces around a name and a final line break are ignored; an empty line
// between names is an error (it would shift every later class id).
inline expected<std::vector<std::string>> parse_names_lines(std::string_view text) {
  std::vector<std::string> names;
  std::size_t line_no = 0, pos = 0;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // a UTF-8 byte order mark
  while (pos < text.size()) {
    ++line_no;
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view name = detail::trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (name.empty() && detail::trim(text.substr(std::min(pos, text.size()))).empty()) break;  // trailing blank lines
    if (names.size() >= max_class_count)
      return make_error(errc::parse_error, "class names: more than " + std::to_string(max_class_count) + " lines");
    if (const std::string why = detail::check_name(name); !why.empty())
      return make_error(errc::parse_error, "class names: line " + std::to_string(line_no) + ": " + why);
    names.emplace_back(name);
  }
  if (names.empty()) return make_error(errc::parse_error, "class names: no names");
  return names;
}

// The Python-dict form of Ultralytics' metadata (or a JSON object with integer keys).
inline expected<std::vector<std::string>> parse_names_dict(std::string_view text) {
  auto names = detail::dict_parser(text).parse();
  if (names && names->empty()) return make_error(errc::parse_error, "class names: empty dict");
  return names;
}

// Either form: a dict when the text starts with '{', else one name per line.
inline expected<std::vector<std::string>> parse_class_names(std::string_view text) {
  const std::string_view t = detail::trim(text);
  return !t.empty() && t.front() == '{' ? parse_names_dict(text) : parse_names_lines(text);
}

inline expected<std::vector<std::string>> load_class_names(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, io::read_file_bytes(path, std::uint64_t{16} << 20));
  auto names = parse_class_names(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!names) return make_error(names.err().code, "'" + path + "': " + names.err().message);
  return names;
}

// The name to show for a class id: its name, or the id in decimal when there is none.
inline std::string class_label(const std::vector<std::string>& names, int class_id) {
  return class_id >= 0 && static_cast<std::size_t>(class_id) < names.size() ? names[static_cast<std::size_t>(class_id)]
                                                                            : std::to_string(class_id);
}

}  // namespace tessera::vision
