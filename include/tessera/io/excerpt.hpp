// Bounded quotes of untrusted text for error messages, shared by the io/ readers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tessera::io {

// At most `max_bytes` of a string value for an error message, cut at a UTF-8 character
// boundary, with "..." when cut: a hostile file's 200 MB string must not reach stderr.
inline std::string excerpt(std::string_view s, std::size_t max_bytes = 40) {
  if (s.size() <= max_bytes) return std::string(s);
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

}  // namespace tessera::io
