// GGUF v3 writer: collects metadata and tensors (raw bytes of a given ggml type) in memory
// and serializes them, each tensor's data aligned to the file's alignment. It makes the
// test fixtures and benchmark models; quantizing is the caller's job. Every entry is
// checked when added (keys and names unique and bounded, dims within gguf_max_dims, data
// the exact size of its type and dims), so what it writes gguf_file::parse accepts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/core/bit_cast.hpp"
#include "tessera/core/error.hpp"
#include "tessera/io/gguf.hpp"

namespace tessera::io {

// A metadata value in its GGUF encoding (everything after the value's type tag; for arrays
// the element type, count and elements), so arrays of arrays nest by concatenation.
struct gguf_encoded_value {
  gguf_value_type type = gguf_value_type::uint8;
  std::uint32_t depth = 0;  // levels of arrays (0 for scalars); the reader caps nesting
  std::vector<std::uint8_t> bytes;
};

namespace detail {

template <class T>
void store_le(std::vector<std::uint8_t>& out, T v) {
  using bits_t = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                 std::conditional_t<sizeof(T) == 2, std::uint16_t,
                 std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
  const auto bits = bit_cast<bits_t>(v);
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
}

inline void store_string(std::vector<std::uint8_t>& out, std::string_view s) {
  store_le<std::uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

inline void store_array_header(std::vector<std::uint8_t>& out, gguf_value_type element, std::uint64_t count) {
  store_le<std::uint32_t>(out, static_cast<std::uint32_t>(element));
  store_le<std::uint64_t>(out, count);
}

template <class T>
inline constexpr bool gguf_scalar_v = !std::is_same_v<T, std::string_view> && requires { gguf_type_of<T>::value; };

}  // namespace detail

// Scalars: the integer types, float, double and bool of gguf_type_of.
template <class T>
  requires detail::gguf_scalar_v<T>
gguf_encoded_value gguf_encode(T v) {
  gguf_encoded_value e{gguf_type_of<T>::value, 0, {}};
  if constexpr (std::is_same_v<T, bool>) e.bytes.push_back(v ? 1 : 0);
  else detail::store_le<T>(e.bytes, v);
  return e;
}

inline gguf_encoded_value gguf_encode(std::string_view s) {
  gguf_encoded_value e{gguf_value_type::string, 0, {}};
  detail::store_string(e.bytes, s);
  return e;
}

template <class T>
  requires detail::gguf_scalar_v<T>
gguf_encoded_value gguf_encode_array(std::span<const T> values) {
  gguf_encoded_value e{gguf_value_type::array, 1, {}};
  detail::store_array_header(e.bytes, gguf_type_of<T>::value, values.size());
  for (const T& v : values) {
    if constexpr (std::is_same_v<T, bool>) e.bytes.push_back(v ? 1 : 0);
    else detail::store_le<T>(e.bytes, v);
  }
  return e;
}

inline gguf_encoded_value gguf_encode_array(std::span<const std::string> values) {
  gguf_encoded_value e{gguf_value_type::array, 1, {}};
  detail::store_array_header(e.bytes, gguf_value_type::string, values.size());
  for (const std::string& s : values) detail::store_string(e.bytes, s);
  return e;
}

// An array whose elements are encoded values of one type (e.g. arrays of strings).
inline expected<gguf_encoded_value> gguf_encode_array(std::span<const gguf_encoded_value> elements) {
  if (elements.empty()) return make_error(errc::invalid_argument, "gguf writer: an array of encoded values needs an element to take its type from");
  gguf_encoded_value e{gguf_value_type::array, 1, {}};
  detail::store_array_header(e.bytes, elements[0].type, elements.size());
  for (const gguf_encoded_value& el : elements) {
    if (el.type != elements[0].type)
      return make_error(errc::invalid_argument, std::string("gguf writer: array elements of types ") +
                                                    gguf_value_type_name(elements[0].type) + " and " + gguf_value_type_name(el.type));
    e.depth = std::max(e.depth, el.depth + 1);
    e.bytes.insert(e.bytes.end(), el.bytes.begin(), el.bytes.end());
  }
  if (e.depth > gguf_max_array_nesting)
    return make_error(errc::invalid_argument, "gguf writer: arrays nested deeper than " + std::to_string(gguf_max_array_nesting));
  return e;
}

// The levels of arrays in a value read from a file (0 for a scalar or string).
inline std::uint32_t gguf_array_levels(const gguf_value& v) {
  if (v.type() != gguf_value_type::array) return 0;
  std::uint32_t inner = 0;
  if (v.element_type() == gguf_value_type::array)  // bounded by the reader's nesting cap
    (void)v.for_each_element([&](const gguf_value& e) -> status {
      inner = std::max(inner, gguf_array_levels(e));
      return {};
    });
  return inner + 1;
}

// A value read from a file, re-encoded as is (to copy metadata into a new file).
inline gguf_encoded_value gguf_encode(const gguf_value& v) {
  gguf_encoded_value e{v.type(), gguf_array_levels(v), {}};
  if (v.type() == gguf_value_type::string) detail::store_le<std::uint64_t>(e.bytes, v.raw().size());
  else if (v.type() == gguf_value_type::array) detail::store_array_header(e.bytes, v.element_type(), v.count());
  e.bytes.insert(e.bytes.end(), v.raw().begin(), v.raw().end());
  return e;
}

class gguf_writer {
 public:
  // general.alignment: a power of two; written as a uint32 entry when set.
  status set_alignment(std::uint32_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
      return make_error(errc::invalid_argument, "gguf writer: alignment " + std::to_string(alignment) + " is not a power of two");
    TESSERA_TRY(add_entry("general.alignment", gguf_encode(alignment)));
    alignment_ = alignment;
    return {};
  }
  std::uint32_t alignment() const noexcept { return alignment_; }

  // Adds one metadata entry; keys are unique. general.alignment must be a uint32 power of
  // two, and then sets the alignment the data is written with.
  status set_value(std::string_view key, gguf_encoded_value value) {
    if (key != "general.alignment") return add_entry(key, std::move(value));
    if (value.type != gguf_value_type::uint32)
      return make_error(errc::invalid_argument, std::string("gguf writer: general.alignment must be a uint32, not ") +
                                                    gguf_value_type_name(value.type));
    return set_alignment(detail::load_le<std::uint32_t>(value.bytes.data()));
  }
  template <class T>
    requires detail::gguf_scalar_v<T>
  status set(std::string_view key, T v) { return set_value(key, gguf_encode(v)); }
  status set(std::string_view key, std::string_view v) { return set_value(key, gguf_encode(v)); }
  status set(std::string_view key, const char* v) { return set_value(key, gguf_encode(std::string_view(v))); }
  template <class T>
    requires detail::gguf_scalar_v<T>
  status set_array(std::string_view key, std::span<const T> values) { return set_value(key, gguf_encode_array(values)); }
  status set_array(std::string_view key, std::span<const std::string> values) { return set_value(key, gguf_encode_array(values)); }

  // Adds a tensor: `data` holds exactly the bytes of `dims` values of `type` (ggml order),
  // copied into the writer.
  status add_tensor(std::string_view name, ggml_type type, std::span<const std::uint64_t> dims, std::span<const std::uint8_t> data) {
    const std::string named = "gguf writer: tensor '" + std::string(name) + "'";
    if (name.empty() || name.size() > gguf_max_tensor_name_bytes)
      return make_error(errc::invalid_argument, named + ": name of " + std::to_string(name.size()) + " bytes (expected 1 to " +
                                                    std::to_string(gguf_max_tensor_name_bytes) + ")");
    for (const tensor& t : tensors_)
      if (t.name == name) return make_error(errc::invalid_argument, named + " added twice");
    auto extent = ggml_tensor_extent(static_cast<std::uint32_t>(type), dims);
    if (!extent.ok()) return make_error(errc::invalid_argument, named + ": " + extent.err().message);
    if (data.size() != extent->bytes)
      return make_error(errc::invalid_argument, named + ": " + std::to_string(data.size()) + " bytes of data, " +
                                                    std::to_string(extent->bytes) + " expected");
    tensors_.push_back({std::string(name), type, std::vector<std::uint64_t>(dims.begin(), dims.end()),
                        std::vector<std::uint8_t>(data.begin(), data.end())});
    return {};
  }

  // The whole file: header, metadata in insertion order, tensor infos, aligned data.
  std::vector<std::uint8_t> serialize() const {
    std::vector<std::uint8_t> out{'G', 'G', 'U', 'F'};
    detail::store_le<std::uint32_t>(out, 3);
    detail::store_le<std::uint64_t>(out, tensors_.size());
    detail::store_le<std::uint64_t>(out, kvs_.size());
    for (const entry& kv : kvs_) {
      detail::store_string(out, kv.key);
      detail::store_le<std::uint32_t>(out, static_cast<std::uint32_t>(kv.value.type));
      out.insert(out.end(), kv.value.bytes.begin(), kv.value.bytes.end());
    }
    std::uint64_t offset = 0;
    for (const tensor& t : tensors_) {
      detail::store_string(out, t.name);
      detail::store_le<std::uint32_t>(out, static_cast<std::uint32_t>(t.dims.size()));
      for (std::uint64_t d : t.dims) detail::store_le<std::uint64_t>(out, d);
      detail::store_le<std::uint32_t>(out, static_cast<std::uint32_t>(t.type));
      detail::store_le<std::uint64_t>(out, offset);
      offset = aligned(offset + t.data.size());
    }
    // Without tensors there is no data section to align (a copy of a hostile file's 2^31
    // alignment must not become 2 GiB of padding).
    if (!tensors_.empty()) out.resize(static_cast<std::size_t>(aligned(out.size())), 0);
    for (const tensor& t : tensors_) {
      out.insert(out.end(), t.data.begin(), t.data.end());
      out.resize(static_cast<std::size_t>(aligned(out.size())), 0);
    }
    return out;
  }

  status write_file(const std::string& path) const {
    const std::vector<std::uint8_t> bytes = serialize();
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    if (!fp) return make_error(errc::io_error, "cannot create '" + path + "'");
    const bool wrote = std::fwrite(bytes.data(), 1, bytes.size(), fp) == bytes.size();
    const bool closed = std::fclose(fp) == 0;
    if (!wrote || !closed) return make_error(errc::io_error, "error writing '" + path + "'");
    return {};
  }

 private:
  struct entry {
    std::string key;
    gguf_encoded_value value;
  };
  struct tensor {
    std::string name;
    ggml_type type;
    std::vector<std::uint64_t> dims;
    std::vector<std::uint8_t> data;
  };

  status add_entry(std::string_view key, gguf_encoded_value value) {
    if (key.empty() || key.size() > gguf_max_key_bytes)
      return make_error(errc::invalid_argument, "gguf writer: key of " + std::to_string(key.size()) + " bytes (expected 1 to " +
                                                    std::to_string(gguf_max_key_bytes) + ")");
    for (const entry& kv : kvs_)
      if (kv.key == key) return make_error(errc::invalid_argument, "gguf writer: duplicate key '" + std::string(key) + "'");
    kvs_.push_back({std::string(key), std::move(value)});
    return {};
  }

  std::uint64_t aligned(std::uint64_t n) const noexcept { return (n + alignment_ - 1) / alignment_ * alignment_; }

  std::uint32_t alignment_ = gguf_default_alignment;
  std::vector<entry> kvs_;
  std::vector<tensor> tensors_;
};

}  // namespace tessera::io
