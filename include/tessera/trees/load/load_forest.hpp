// One entry point for tree-ensemble model files: detects the format by content (not by
// file name) and dispatches to the loader.
//   '{' followed by '"'          XGBoost JSON
//   '{' followed by a UBJSON type XGBoost UBJSON
//   first line "tree"            LightGBM text model
// Anything else (XGBoost's legacy binary format, LightGBM's binary format, ...) is refused
// with errc::unsupported.
#pragma once

#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <string_view>

#include "tessera/core/error.hpp"
#include "tessera/io/file.hpp"
#include "tessera/trees/load/lightgbm_text.hpp"
#include "tessera/trees/load/xgboost_json.hpp"
#include "tessera/trees/forest.hpp"

namespace tessera::trees {

enum class forest_file_format : std::uint8_t { unknown = 0, xgboost_json, xgboost_ubjson, lightgbm_text };

inline forest_file_format detect_forest_format(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  if (bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) i = 3;  // UTF-8 BOM
  const std::size_t text_start = i;
  while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\n' || bytes[i] == '\r')) ++i;
  if (i >= bytes.size()) return forest_file_format::unknown;
  if (bytes[i] == '{') {
    if (looks_like_ubjson(bytes.subspan(i))) return forest_file_format::xgboost_ubjson;
    std::size_t j = i + 1;
    while (j < bytes.size() && (bytes[j] == ' ' || bytes[j] == '\t' || bytes[j] == '\n' || bytes[j] == '\r')) ++j;
    if (j < bytes.size() && bytes[j] == '"') return forest_file_format::xgboost_json;
    return forest_file_format::unknown;
  }
  const std::string_view head(reinterpret_cast<const char*>(bytes.data() + text_start),
                              bytes.size() - text_start < 6 ? bytes.size() - text_start : 6);
  if (head.substr(0, 5) == "tree\n" || head.substr(0, 6) == "tree\r\n")
    return forest_file_format::lightgbm_text;
  return forest_file_format::unknown;
}

namespace detail {
inline expected<trees::forest> load_forest_detected(std::span<const std::uint8_t> bytes) {
  // A UTF-8 BOM is skipped here once, for every format (parse_json would reject it).
  if (bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) bytes = bytes.subspan(3);
  switch (detect_forest_format(bytes)) {
    case forest_file_format::xgboost_json:
      return load_xgboost_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    case forest_file_format::xgboost_ubjson:
      return load_xgboost_ubjson(bytes);
    case forest_file_format::lightgbm_text:
      return load_lightgbm_text(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    case forest_file_format::unknown:
      break;
  }
  return make_error(errc::unsupported,
                    "unrecognised model format (expected XGBoost JSON/UBJSON or a LightGBM text model)");
}
}  // namespace detail

// Sizes are checked against the input before anything is allocated by them; an
// allocation that still fails (a large but valid model on a small heap) becomes an error
// here when exceptions are on. Without them (Emscripten's default) it aborts as before.
inline expected<trees::forest> load_forest_from_memory(std::span<const std::uint8_t> bytes) {
#if defined(__cpp_exceptions)
  try {
    return detail::load_forest_detected(bytes);
  } catch (const std::bad_alloc&) {
    return make_error(errc::out_of_memory, "out of memory loading a " + std::to_string(bytes.size()) + "-byte model");
  }
#else
  return detail::load_forest_detected(bytes);
#endif
}

inline expected<trees::forest> load_forest(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const auto bytes, io::read_file_bytes(path));
  auto f = load_forest_from_memory(bytes);
  if (!f.ok()) return make_error(f.err().code, path + ": " + f.err().message);
  return f;
}

}  // namespace tessera::trees
