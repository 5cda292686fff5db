// NumPy .npy files (format versions 1.0, 2.0 and 3.0): a validated reader over a file's bytes
// and a writer.
//
// The reader checks the magic, the version, the header's length against the file, parses the
// header dict strictly (descr, fortran_order, shape; nothing else), accepts little-endian and
// byte-sized element types only, rejects Fortran order (tessera's tensors are row-major), and
// checks the shape's element count, without overflow, against the bytes that follow: the
// data is a view into the input and is exactly numel * itemsize bytes long.
#pragma once

#include <tessera/core/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::io {

struct npy_array {
  char kind = 'f';              // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  std::size_t itemsize = 4;     // bytes per element
  std::vector<std::int64_t> shape;
  std::span<const std::uint8_t> data;  // numel * itemsize bytes, a view into the file

  std::uint64_t numel() const {
    std::uint64_t n = 1;
    for (std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
  }
  // The descr string of this type, e.g. "<f4", "|u1".
  std::string descr() const {
    return std::string(itemsize == 1 ? "|" : "<") + kind + std::to_string(itemsize);
  }
};

namespace detail {

inline error npy_error(const std::string& what) { return make_error(errc::parse_error, "npy: " + what); }

// The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
class npy_header_parser {
 public:
  explicit npy_header_parser(std::string_view s) : s_(s) {}

  status parse(npy_array& out) {
    skip();
    if (!eat('{')) return npy_error("header is not a dict");
    bool have_descr = false, have_order = false, have_shape = false;
    for (;;) {
      skip();
      if (eat('}')) break;
      std::string key;
      TESSERA_TRY(quoted(key));
      skip();
      if (!eat(':')) return npy_error("expected ':' after '" + key + "'");
      skip();
      if (key == "descr") {
        std::string d;
        TESSERA_TRY(quoted(d));
        TESSERA_TRY(descr(d, out));
        have_descr = true;
      } else if (key == "fortran_order") {
        if (s_.substr(i_, 5) == "False") i_ += 5;
        else if (s_.substr(i_, 4) == "True") return make_error(errc::unsupported, "npy: Fortran-order arrays are not supported");
        else return npy_error("fortran_order must be True or False");
        have_order = true;
      } else if (key == "shape") {
        TESSERA_TRY(shape(out.shape));
        have_shape = true;
      } else {
        return npy_error("unexpected header key '" + key + "'");
      }
      skip();
      if (eat(',')) continue;
      skip();
      if (eat('}')) break;
      return npy_error("expected ',' or '}' in the header");
    }
    if (!have_descr || !have_order || !have_shape) return npy_error("header lacks descr, fortran_order or shape");
    return {};
  }

 private:
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  status quoted(std::string& out) {
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return npy_error("expected a quoted string in the header");
    const char q = s_[i_++];
    const std::size_t end = s_.find(q, i_);
    if (end == std::string_view::npos || end - i_ > 64) return npy_error("unterminated string in the header");
    out = std::string(s_.substr(i_, end - i_));
    i_ = end + 1;
    return {};
  }
  static status descr(const std::string& d, npy_array& out) {
    if (d.size() < 3 || d.size() > 4) return make_error(errc::unsupported, "npy: element type '" + d + "' is not supported");
    const char order = d[0], kind = d[1];
    std::size_t size = 0;
    for (std::size_t i = 2; i < d.size(); ++i) {
      if (d[i] < '0' || d[i] > '9') return npy_error("bad element type '" + d + "'");
      size = size * 10 + static_cast<std::size_t>(d[i] - '0');
    }
    const bool ok_kind = kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b';
    const bool ok_size = kind == 'f' ? (size == 2 || size == 4 || size == 8) : kind == 'b' ? size == 1 : (size == 1 || size == 2 || size == 4 || size == 8);
    if (!ok_kind || !ok_size) return make_error(errc::unsupported, "npy: element type '" + d + "' is not supported");
    if (order == '>' && size > 1) return make_error(errc::unsupported, "npy: big-endian data ('" + d + "') is not supported");
    if (order != '<' && order != '|' && order != '=' && order != '>') return npy_error("bad byte order in '" + d + "'");
    out.kind = kind;
    out.itemsize = size;
    return {};
  }
  status shape(std::vector<std::int64_t>& out) {
    if (!eat('(')) return npy_error("shape must be a tuple");
    for (;;) {
      skip();
      if (eat(')')) return {};
      if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return npy_error("shape holds a non-number");
      std::int64_t v = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (v > (std::int64_t{1} << 50)) return npy_error("shape extent too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      if (s_.size() > i_ && s_[i_] == 'L') ++i_;  // Python 2 longs
      if (out.size() >= 32) return npy_error("too many dims");
      out.push_back(v);
      skip();
      if (eat(',')) continue;
      skip();
      if (eat(')')) return {};
      return npy_error("expected ',' or ')' in the shape");
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace detail

// Parses a .npy file held in `bytes`; the result's data views `bytes`.
inline expected<npy_array> parse_npy(std::span<const std::uint8_t> bytes) {
  static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), magic, 6) != 0) return detail::npy_error("not a .npy file (bad magic)");
  const std::uint8_t major = bytes[6];
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<std::size_t>(bytes[8]) | static_cast<std::size_t>(bytes[9]) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return detail::npy_error("truncated header length");
    header_len = static_cast<std::size_t>(bytes[8]) | static_cast<std::size_t>(bytes[9]) << 8 |
                 static_cast<std::size_t>(bytes[10]) << 16 | static_cast<std::size_t>(bytes[11]) << 24;
    start = 12;
  } else {
    return make_error(errc::unsupported, "npy: format version " + std::to_string(major) + " is not supported");
  }
  if (header_len > bytes.size() - start) return detail::npy_error("header length " + std::to_string(header_len) + " exceeds the file");
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + start), header_len);
  npy_array a;
  TESSERA_TRY(detail::npy_header_parser(header).parse(a));
  const std::size_t data_start = start + header_len;
  const std::uint64_t available = bytes.size() - data_start;
  std::uint64_t n = 1;
  for (std::int64_t d : a.shape) {
    const auto u = static_cast<std::uint64_t>(d);
    if (u != 0 && n > available / u) return detail::npy_error("shape's element count exceeds the file's " + std::to_string(available) + " data bytes");
    n *= u;
  }
  if (n > available / a.itemsize || n * a.itemsize != available)
    return detail::npy_error("shape needs " + std::to_string(n) + " elements of " + std::to_string(a.itemsize) + " bytes, the file holds " +
                             std::to_string(available) + " data bytes");
  a.data = bytes.subspan(data_start, static_cast<std::size_t>(n * a.itemsize));
  return a;
}

// A .npy file (version 1.0, data aligned to 64 bytes) of `a`'s type, shape and data.
inline std::vector<std::uint8_t> write_npy(const npy_array& a) {
  std::string header = "{'descr': '" + a.descr() + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < a.shape.size(); ++i) header += std::to_string(a.shape[i]) + (a.shape.size() == 1 ? "," : i + 1 < a.shape.size() ? ", " : "");
  header += "), }";
  const std::size_t unpadded = 10 + header.size() + 1;  // + '\n'
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  const std::uint8_t head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(header.size() & 0xff),
                                 static_cast<std::uint8_t>(header.size() >> 8)};
  // Sized once and filled (GCC 12 warns, wrongly, on inserts after an initializer list).
  std::vector<std::uint8_t> out(sizeof head + header.size() + a.data.size());
  std::memcpy(out.data(), head, sizeof head);
  std::memcpy(out.data() + sizeof head, header.data(), header.size());
  if (!a.data.empty()) std::memcpy(out.data() + sizeof head + header.size(), a.data.data(), a.data.size());
  return out;
}

inline status save_npy(const std::string& path, const npy_array& a) {
  const std::vector<std::uint8_t> bytes = write_npy(a);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(errc::io_error, "cannot create '" + path + "'");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) return make_error(errc::io_error, "cannot write '" + path + "'");
  return {};
}

}  // namespace tessera::io
