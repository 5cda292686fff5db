// Helpers for the code generators that write C++ headers (tessera-gbt compile,
// tessera-onnx compile): identifiers, exact literals, and constexpr arrays. Output is
// deterministic, so a generated header can be committed and checked by regenerating it.
#pragma once

#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace tessera::cpp_source {

inline bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

inline std::string hex_double(double v) {
  if (std::isnan(v)) return "std::numeric_limits<double>::quiet_NaN()";
  if (std::isinf(v)) return v > 0 ? "std::numeric_limits<double>::infinity()" : "-std::numeric_limits<double>::infinity()";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

inline std::string hex_float(float v) {
  if (std::isnan(v)) return "std::numeric_limits<float>::quiet_NaN()";
  if (std::isinf(v)) return v > 0 ? "std::numeric_limits<float>::infinity()" : "-std::numeric_limits<float>::infinity()";
  return hex_double(static_cast<double>(v)) + "f";
}

inline std::string c_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += static_cast<char>(c); }
    else if (c < 0x20 || c >= 0x7f) { char b[8]; std::snprintf(b, sizeof b, "\\%03o", c); out += b; }
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

// Appends "type name[] = {...};" with `per_line` items a line, or nothing when empty.
template <class T, class F>
void emit_array(std::string& out, const std::string& type, const std::string& name, std::span<const T> items,
                std::size_t per_line, F&& format) {
  if (items.empty()) return;
  out += "inline constexpr " + type + " " + name + "[" + std::to_string(items.size()) + "] = {\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i % per_line == 0) out += "  ";
    out += format(items[i]);
    out += ',';
    out += (i % per_line == per_line - 1 || i + 1 == items.size()) ? '\n' : ' ';
  }
  out += "};\n";
}

}  // namespace tessera::cpp_source
