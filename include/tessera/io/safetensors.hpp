// A reader for safetensors files (Hugging Face's weight container), header-only, with views
// into the caller's bytes (no copy), and a small writer for tests and converters.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "string value", ...}}
// (possibly padded with spaces), then the data buffer; offsets are relative to the buffer.
//
// Files are untrusted: N is checked against the file size (and capped) before the JSON is
// parsed by io/json.hpp (bounded tape, depth cap); every dtype must be known; each dim is an
// integer in [0, 2^53), their product is overflow-checked and must equal
// (end - begin) / itemsize exactly; offsets lie inside the buffer, and the tensors, sorted by
// offset, tile it with no overlap and no hole (as the format requires, which also rules out
// polyglot files). Duplicate names are refused. Every error names the tensor and the field.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/io/json.hpp"
#include "tessera/io/json_string.hpp"

namespace tessera::io {

enum class safetensors_dtype : std::uint8_t { boolean, u8, i8, f8_e5m2, f8_e4m3, i16, u16, f16, bf16, i32, u32, f32, f64, i64, u64 };

struct safetensors_dtype_info {
  safetensors_dtype dtype;
  std::string_view name;
  std::size_t itemsize;
};

inline constexpr safetensors_dtype_info safetensors_dtypes[] = {
    {safetensors_dtype::boolean, "BOOL", 1}, {safetensors_dtype::u8, "U8", 1},        {safetensors_dtype::i8, "I8", 1},
    {safetensors_dtype::f8_e5m2, "F8_E5M2", 1}, {safetensors_dtype::f8_e4m3, "F8_E4M3", 1}, {safetensors_dtype::i16, "I16", 2},
    {safetensors_dtype::u16, "U16", 2},      {safetensors_dtype::f16, "F16", 2},      {safetensors_dtype::bf16, "BF16", 2},
    {safetensors_dtype::i32, "I32", 4},      {safetensors_dtype::u32, "U32", 4},      {safetensors_dtype::f32, "F32", 4},
    {safetensors_dtype::f64, "F64", 8},      {safetensors_dtype::i64, "I64", 8},      {safetensors_dtype::u64, "U64", 8},
};

inline constexpr const safetensors_dtype_info& safetensors_info(safetensors_dtype t) noexcept {
  return safetensors_dtypes[static_cast<std::size_t>(t)];
}

struct safetensors_tensor {
  std::string name;  // copied: the JSON reader unescapes into memory of its own
  safetensors_dtype dtype = safetensors_dtype::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t numel = 1;
  std::uint64_t begin = 0;             // data_offsets[0], relative to the data buffer
  std::span<const std::uint8_t> data;  // numel * itemsize bytes of the input, not necessarily aligned
};

struct safetensors_limits {
  std::uint64_t max_header_bytes = std::uint64_t{100} << 20;  // the reference implementation's cap
  int max_rank = 16;
};

class safetensors_file {
 public:
  // Parses `bytes`, which must outlive the result (names and data are views into it).
  static expected<safetensors_file> parse(std::span<const std::uint8_t> bytes, const safetensors_limits& lim = {}) {
    if (bytes.size() < 8) return fail("file of " + std::to_string(bytes.size()) + " bytes is shorter than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
    if (n > bytes.size() - 8)
      return fail("header length " + std::to_string(n) + " exceeds the " + std::to_string(bytes.size() - 8) + " bytes after it");
    if (n > lim.max_header_bytes) return fail("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(lim.max_header_bytes));
    if (n < 2 || bytes[8] != '{') return fail("header is not a JSON object");
    safetensors_file f;
    f.data_offset_ = 8 + static_cast<std::size_t>(n);
    const std::span<const std::uint8_t> buffer = bytes.subspan(f.data_offset_);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(n));
    auto doc = parse_json(text);
    if (!doc.ok()) return fail("header JSON: " + doc.err().message);
    const json_ref root = doc->root();
    if (!root.is_object()) return fail("header is not a JSON object");
    // Every member takes at least 10 header bytes ("a":{...}), so reserving by n / 10 is bounded by the input.
    f.tensors_.reserve(std::min<std::size_t>(root.size(), static_cast<std::size_t>(n / 10) + 1));
    for (const json_member m : root.members()) {
      if (m.key == "__metadata__") {
        TESSERA_TRY(f.read_metadata(m.value));
        continue;
      }
      TESSERA_ASSIGN_OR_RETURN(safetensors_tensor t, read_tensor(m.key, m.value, buffer, lim));
      f.tensors_.push_back(std::move(t));
    }
    TESSERA_TRY(f.check_layout(buffer.size()));
    return f;
  }

  const std::vector<safetensors_tensor>& tensors() const noexcept { return tensors_; }  // in data order
  const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return metadata_; }
  std::size_t data_offset() const noexcept { return data_offset_; }

  const safetensors_tensor* find(std::string_view name) const noexcept {
    const auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                                     [&](std::size_t i, std::string_view k) { return tensors_[i].name < k; });
    return it != by_name_.end() && tensors_[*it].name == name ? &tensors_[*it] : nullptr;
  }

 private:
  static error fail(const std::string& what) { return make_error(errc::parse_error, "safetensors: " + what); }
  static error fail_at(std::string_view tensor, std::string_view field, const std::string& what) {
    return fail("tensor '" + excerpt(tensor) + "' " + std::string(field) + ": " + what);
  }

  status read_metadata(json_ref v) {
    if (!v.is_object()) return fail("__metadata__ is not an object");
    for (const json_member m : v.members()) {
      if (!m.value.is_string()) return fail("__metadata__ '" + excerpt(m.key) + "' is not a string");
      metadata_.emplace_back(std::string(m.key), std::string(m.value.str()));
    }
    return {};
  }

  static expected<safetensors_tensor> read_tensor(std::string_view name, json_ref v, std::span<const std::uint8_t> buffer,
                                                  const safetensors_limits& lim) {
    if (name.empty()) return fail("a tensor has an empty name");
    if (!v.is_object()) return fail_at(name, "entry", "is not an object");
    safetensors_tensor t;
    t.name = std::string(name);
    const json_ref dtype = v.find("dtype"), shape = v.find("shape"), offsets = v.find("data_offsets");
    if (!dtype || !dtype.is_string()) return fail_at(name, "dtype", "missing or not a string");
    const safetensors_dtype_info* info = nullptr;
    for (const auto& d : safetensors_dtypes)
      if (d.name == dtype.str()) info = &d;
    if (!info) return fail_at(name, "dtype", "unknown type '" + excerpt(dtype.str()) + "'");
    t.dtype = info->dtype;
    if (!shape || !shape.is_array()) return fail_at(name, "shape", "missing or not an array");
    if (shape.size() > static_cast<std::size_t>(lim.max_rank))
      return fail_at(name, "shape", "rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(lim.max_rank));
    constexpr std::int64_t kMaxDim = std::int64_t{1} << 53;  // exact in the JSON reader's doubles
    const std::uint64_t max_numel = buffer.size() / info->itemsize;
    bool overflow = false;
    for (std::size_t i = 0; i < shape.size(); ++i) {
      const json_ref e = shape[i];
      if (!e.is_number() || !detail::is_integer_in(e.number(), 0, kMaxDim - 1))
        return fail_at(name, "shape", "dim " + std::to_string(i) + " is not an integer in [0, 2^53)");
      const auto d = static_cast<std::uint64_t>(e.number());
      t.shape.push_back(static_cast<std::int64_t>(d));
      // Anything above the buffer's capacity fails below; saturating keeps the product exact up to there.
      if (d != 0 && t.numel > (max_numel + 1) / d) overflow = true;
      else t.numel *= d;
    }
    if (!offsets || !offsets.is_array() || offsets.size() != 2) return fail_at(name, "data_offsets", "missing or not [begin, end]");
    std::uint64_t be[2];
    for (std::size_t i = 0; i < 2; ++i) {
      const json_ref e = offsets[i];
      if (!e.is_number() || !detail::is_integer_in(e.number(), 0, kMaxDim - 1))
        return fail_at(name, "data_offsets", "element " + std::to_string(i) + " is not an integer in [0, 2^53)");
      be[i] = static_cast<std::uint64_t>(e.number());
    }
    if (be[0] > be[1]) return fail_at(name, "data_offsets", "begin " + std::to_string(be[0]) + " is after end " + std::to_string(be[1]));
    if (be[1] > buffer.size())
      return fail_at(name, "data_offsets", "end " + std::to_string(be[1]) + " is past the data buffer of " + std::to_string(buffer.size()) + " bytes");
    const std::uint64_t bytes = be[1] - be[0];
    if (overflow || bytes % info->itemsize != 0 || bytes / info->itemsize != t.numel)
      return fail_at(name, "shape", (overflow ? std::string("element count overflows the data buffer") : std::to_string(t.numel) + " elements") +
                                        " of " + std::string(info->name) + " do not fill data_offsets' " + std::to_string(bytes) + " bytes");
    t.begin = be[0];
    t.data = buffer.subspan(static_cast<std::size_t>(be[0]), static_cast<std::size_t>(bytes));
    return t;
  }

  // Sorted by offset, the tensors must tile the buffer exactly; names must be unique.
  status check_layout(std::size_t buffer_bytes) {
    std::sort(tensors_.begin(), tensors_.end(), [](const safetensors_tensor& a, const safetensors_tensor& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.data.size() < b.data.size();
    });
    std::uint64_t end = 0;
    for (const safetensors_tensor& t : tensors_) {
      if (t.begin < end) return fail_at(t.name, "data_offsets", "overlaps the tensor before it (which ends at " + std::to_string(end) + ")");
      if (t.begin > end) return fail_at(t.name, "data_offsets", "leaves a hole in the data buffer at " + std::to_string(end));
      end = t.begin + t.data.size();
    }
    if (end != buffer_bytes)
      return fail("the tensors cover " + std::to_string(end) + " bytes of a data buffer of " + std::to_string(buffer_bytes));
    by_name_.resize(tensors_.size());
    for (std::size_t i = 0; i < tensors_.size(); ++i) by_name_[i] = i;
    std::sort(by_name_.begin(), by_name_.end(), [&](std::size_t a, std::size_t b) { return tensors_[a].name < tensors_[b].name; });
    for (std::size_t i = 1; i < by_name_.size(); ++i)
      if (tensors_[by_name_[i]].name == tensors_[by_name_[i - 1]].name)
        return fail("tensor '" + excerpt(tensors_[by_name_[i]].name) + "' appears twice");
    return {};
  }

  std::vector<safetensors_tensor> tensors_;
  std::vector<std::size_t> by_name_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::size_t data_offset_ = 0;
};

struct safetensors_entry {
  std::string name;
  safetensors_dtype dtype = safetensors_dtype::f32;
  std::vector<std::int64_t> shape;
  std::span<const std::uint8_t> data;  // numel * itemsize bytes, little-endian
};


// A safetensors file holding `entries` in order (header padded to 8 bytes, so F32 data of a
// file loaded at an aligned address is 4-byte aligned). Errors name an entry whose data does
// not match its shape.
inline expected<std::vector<std::uint8_t>> write_safetensors(std::span<const safetensors_entry> entries,
                                                             std::span<const std::pair<std::string, std::string>> metadata = {}) {
  // Names and metadata go back byte for byte, as parse() read them (a name is a lookup key).
  constexpr invalid_utf8 kNameBytes = invalid_utf8::keep;
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (std::size_t i = 0; i < metadata.size(); ++i) {
      if (i) header += ',';
      append_json_string(header, metadata[i].first, kNameBytes);
      header += ':';
      append_json_string(header, metadata[i].second, kNameBytes);
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (const safetensors_entry& e : entries) {
    std::uint64_t numel = 1;
    for (const std::int64_t d : e.shape) numel *= static_cast<std::uint64_t>(d);
    if (numel * safetensors_info(e.dtype).itemsize != e.data.size())
      return make_error(errc::shape_mismatch, "write_safetensors: tensor '" + excerpt(e.name) + "' has " + std::to_string(e.data.size()) +
                                                  " bytes for " + std::to_string(numel) + " elements");
    if (header.size() > 1) header += ',';
    append_json_string(header, e.name, kNameBytes);
    header += ":{\"dtype\":\"" + std::string(safetensors_info(e.dtype).name) + "\",\"shape\":[";
    for (std::size_t i = 0; i < e.shape.size(); ++i) {
      if (i) header += ',';
      header += std::to_string(e.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + e.data.size()) + "]}";
    offset += e.data.size();
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  for (const safetensors_entry& e : entries) out.insert(out.end(), e.data.begin(), e.data.end());
  return out;
}

}  // namespace tessera::io
