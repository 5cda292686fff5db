// Whole-file reads with a size cap, for the model loaders.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tessera/core/error.hpp"

namespace tessera::io {

// Reads the file at `path` into memory. Files larger than max_bytes are refused (the
// default, 4 GiB, only guards against reading a device or a wrong path).
inline expected<std::vector<std::uint8_t>> read_file_bytes(const std::string& path,
                                                           std::uint64_t max_bytes = std::uint64_t{1} << 32) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) return make_error(errc::io_error, "cannot open '" + path + "'");
  std::vector<std::uint8_t> data;
  std::uint8_t buf[1 << 16];
  while (true) {
    const std::size_t got = std::fread(buf, 1, sizeof buf, fp);
    if (got == 0) break;
    if (data.size() + got > max_bytes) {
      std::fclose(fp);
      return make_error(errc::out_of_memory, "'" + path + "' is larger than the limit of " + std::to_string(max_bytes) + " bytes");
    }
    data.insert(data.end(), buf, buf + got);
  }
  const bool failed = std::ferror(fp) != 0;
  std::fclose(fp);
  if (failed) return make_error(errc::io_error, "error reading '" + path + "'");
  return data;
}

}  // namespace tessera::io
