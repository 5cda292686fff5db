// JSON string literals from untrusted bytes, for every JSON tessera writes (the WASM ABI's
// info documents, tessera-detect's output, safetensors headers). Names and strings come from
// model files (GGUF metadata, ONNX names, feature names) and may hold any bytes: each byte
// that starts no valid UTF-8 sequence becomes U+FFFD, so the output is always valid JSON in
// valid UTF-8, and a reader such as JSON.parse never sees broken text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::io {

// Length of the UTF-8 sequence at s[i] (1..4), or 0 if it is not valid UTF-8 (overlong forms,
// surrogates, code points past U+10FFFF and sequences cut by the end are invalid).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
  else return 0;
  if (n > s.size() - i) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// What becomes of a byte that starts no valid UTF-8 sequence: U+FFFD (text for readers), or
// the byte itself (a container that must give back its names byte for byte: safetensors).
enum class invalid_utf8 { replace, keep };

// Appends s as a JSON string literal, quotes included: '"' and '\' escaped, control bytes
// and DEL as \n, \t, \r or \u00XX, invalid UTF-8 bytes as U+FFFD (or kept), the rest as is.
inline void append_json_string(std::string& out, std::string_view s, invalid_utf8 invalid = invalid_utf8::replace) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      if (invalid == invalid_utf8::keep) out += s[i];
      else out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (n > 1) out.append(s.substr(i, n));
    else if (c == '"' || c == '\\') (out += '\\') += static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) ((out += "\\u00") += hex[c >> 4]) += hex[c & 15];
    else out += static_cast<char>(c);
    i += n;
  }
  out += '"';
}

inline std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_json_string(out, s);
  return out;
}

}  // namespace tessera::io
