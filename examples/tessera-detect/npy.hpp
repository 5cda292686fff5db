// Float32 .npy files for tessera-detect: raw model outputs in (--outputs), the model input out
// (--dump-input), so that the tool works with any external runner until tessera's ONNX runtime
// is wired in. NumPy format versions 1-3, little-endian '<f4', C order; the declared shape must
// account for the file's bytes exactly.
#pragma once

#include <tessera/core/tensor.hpp>
#include <tessera/io/file.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tessera_detect {

using namespace tessera;

inline expected<Tensor<float>> parse_npy_f32(const std::vector<std::uint8_t>& b, const std::string& what) {
  auto bad = [&](const std::string& m) { return make_error(errc::parse_error, what + ": " + m); };
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) return bad("not a .npy file");
  const int major = b[6];
  std::size_t header_len = 0, start = 0;
  if (major == 1) header_len = b[8] | (std::size_t{b[9]} << 8), start = 10;
  else if (major == 2 || major == 3) {
    if (b.size() < 12) return bad("truncated header");
    header_len = b[8] | (std::size_t{b[9]} << 8) | (std::size_t{b[10]} << 16) | (std::size_t{b[11]} << 24), start = 12;
  } else {
    return bad("unknown .npy version " + std::to_string(major));
  }
  if (header_len > b.size() - start) return bad("header longer than the file");
  const std::string_view h(reinterpret_cast<const char*>(b.data()) + start, header_len);
  if (h.find("'descr': '<f4'") == std::string_view::npos)
    return bad("only little-endian float32 ('<f4') arrays are read");
  if (h.find("'fortran_order': False") == std::string_view::npos) return bad("only C-order arrays are read");
  const std::size_t sp = h.find("'shape': (");
  if (sp == std::string_view::npos) return bad("no shape in the header");
  shape_t shape;
  std::size_t i = sp + 10;
  while (i < h.size() && h[i] != ')') {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    if (i < h.size() && h[i] == ')') break;
    index_t d = 0;
    std::size_t digits = 0;
    while (i < h.size() && h[i] >= '0' && h[i] <= '9' && digits < 15) d = d * 10 + (h[i++] - '0'), ++digits;
    if (digits == 0 || (i < h.size() && h[i] >= '0' && h[i] <= '9')) return bad("bad shape");
    if (!shape.push_back(d)) return bad("more than " + std::to_string(TESSERA_MAX_RANK) + " dimensions");
  }
  if (i >= h.size()) return bad("unterminated shape");
  TESSERA_ASSIGN_OR_RETURN(const index_t n, checked_numel(shape));
  const std::size_t data = start + header_len;
  if (static_cast<std::uint64_t>(n) * 4 != b.size() - data)
    return bad("shape " + shape.str() + " needs " + std::to_string(n * 4) + " bytes of data, the file has " +
               std::to_string(b.size() - data));
  TESSERA_ASSIGN_OR_RETURN(Tensor<float> t, Tensor<float>::empty(shape));
  if (n) std::memcpy(t.data(), b.data() + data, static_cast<std::size_t>(n) * 4);  // little-endian hosts (x86, ARM, WASM)
  return t;
}

inline expected<Tensor<float>> read_npy_f32(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, io::read_file_bytes(path));
  return parse_npy_f32(bytes, "'" + path + "'");
}

inline status write_npy_f32(const std::string& path, TensorView<const float> t) {
  if (!t.is_contiguous()) return make_error(errc::invalid_argument, "write_npy_f32: a contiguous tensor is needed");
  std::string shape;
  for (int i = 0; i < t.rank(); ++i) shape += std::to_string(t.dim(i)) + (t.rank() == 1 || i + 1 < t.rank() ? ", " : "");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(errc::io_error, "cannot create '" + path + "'");
  const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                 static_cast<unsigned char>(header.size() >> 8)};
  bool ok = std::fwrite(pre, 1, 10, f) == 10 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
  const std::size_t n = static_cast<std::size_t>(t.size());
  ok = ok && (n == 0 || std::fwrite(t.data(), 4, n, f) == n);
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return make_error(errc::io_error, "error writing '" + path + "'");
  return {};
}

}  // namespace tessera_detect
