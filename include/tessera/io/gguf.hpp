// GGUF v2/v3 container reader: metadata and tensor views over bytes the caller keeps alive
// (a mapped_file, or a buffer a WASM page passed in). Nothing is copied: keys, strings and
// tensor data are views into those bytes; only the per-entry tables are allocated.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata count, the
// metadata entries (string key, u32 value type, value), the tensor infos (string name, u32
// n_dims, n_dims x u64 dims, u32 ggml type, u64 offset into the data section), padding to
// `general.alignment` (default 32), the data section. Strings are a u64 length and bytes.
// v1 (32-bit counts and lengths) is refused.
//
// The file is untrusted: every count, length and offset is checked against the bytes that
// remain before use, so a table is never larger than a small multiple of the input; nested
// arrays are capped at gguf_max_array_nesting; dims products are overflow-checked; each
// tensor must be aligned, follow the one before it and lie inside the file; duplicate keys
// or tensor names are refused. Every error names the byte offset or the entry and what was expected.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/core/bit_cast.hpp"
#include "tessera/core/error.hpp"
#include "tessera/io/excerpt.hpp"
#include "tessera/io/mapped_file.hpp"

namespace tessera::io {

// Metadata value types (their ids are the file's u32 tags).
enum class gguf_value_type : std::uint32_t {
  uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6,
  boolean = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12,
};

inline constexpr std::uint32_t gguf_value_type_count = 13;
inline constexpr std::uint32_t gguf_default_alignment = 32;
inline constexpr std::uint32_t gguf_max_dims = 4;            // ggml's GGML_MAX_DIMS
inline constexpr std::uint32_t gguf_max_array_nesting = 8;   // arrays of arrays: real files use 1
inline constexpr std::size_t gguf_max_key_bytes = 65535;     // the spec's limit on keys
inline constexpr std::size_t gguf_max_tensor_name_bytes = 63;  // ggml's GGML_MAX_NAME minus the NUL

inline const char* gguf_value_type_name(gguf_value_type t) noexcept {
  switch (t) {
    case gguf_value_type::uint8: return "uint8";
    case gguf_value_type::int8: return "int8";
    case gguf_value_type::uint16: return "uint16";
    case gguf_value_type::int16: return "int16";
    case gguf_value_type::uint32: return "uint32";
    case gguf_value_type::int32: return "int32";
    case gguf_value_type::float32: return "float32";
    case gguf_value_type::boolean: return "bool";
    case gguf_value_type::string: return "string";
    case gguf_value_type::array: return "array";
    case gguf_value_type::uint64: return "uint64";
    case gguf_value_type::int64: return "int64";
    case gguf_value_type::float64: return "float64";
  }
  return "unknown";
}

// Bytes of one value of a fixed-width type; 0 for string and array.
inline std::size_t gguf_value_width(gguf_value_type t) noexcept {
  switch (t) {
    case gguf_value_type::uint8: case gguf_value_type::int8: case gguf_value_type::boolean: return 1;
    case gguf_value_type::uint16: case gguf_value_type::int16: return 2;
    case gguf_value_type::uint32: case gguf_value_type::int32: case gguf_value_type::float32: return 4;
    case gguf_value_type::uint64: case gguf_value_type::int64: case gguf_value_type::float64: return 8;
    case gguf_value_type::string: case gguf_value_type::array: return 0;
  }
  return 0;
}

// The C++ type a metadata value of each type reads as (strings as views into the file).
template <class T> struct gguf_type_of;
template <> struct gguf_type_of<std::uint8_t> { static constexpr gguf_value_type value = gguf_value_type::uint8; };
template <> struct gguf_type_of<std::int8_t> { static constexpr gguf_value_type value = gguf_value_type::int8; };
template <> struct gguf_type_of<std::uint16_t> { static constexpr gguf_value_type value = gguf_value_type::uint16; };
template <> struct gguf_type_of<std::int16_t> { static constexpr gguf_value_type value = gguf_value_type::int16; };
template <> struct gguf_type_of<std::uint32_t> { static constexpr gguf_value_type value = gguf_value_type::uint32; };
template <> struct gguf_type_of<std::int32_t> { static constexpr gguf_value_type value = gguf_value_type::int32; };
template <> struct gguf_type_of<float> { static constexpr gguf_value_type value = gguf_value_type::float32; };
template <> struct gguf_type_of<bool> { static constexpr gguf_value_type value = gguf_value_type::boolean; };
template <> struct gguf_type_of<std::string_view> { static constexpr gguf_value_type value = gguf_value_type::string; };
template <> struct gguf_type_of<std::uint64_t> { static constexpr gguf_value_type value = gguf_value_type::uint64; };
template <> struct gguf_type_of<std::int64_t> { static constexpr gguf_value_type value = gguf_value_type::int64; };
template <> struct gguf_type_of<double> { static constexpr gguf_value_type value = gguf_value_type::float64; };

// Tensor element types by their ggml ids (gaps are ids ggml retired or tessera does not size:
// the IQ and TQ families).
enum class ggml_type : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
  i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, bf16 = 30,
};

// A type's storage: tensors of it are whole blocks of block_elements values, block_bytes each
// (plain types are blocks of one element).
struct ggml_type_layout {
  const char* name = nullptr;  // nullptr: an id tessera cannot size
  std::uint32_t block_elements = 0;
  std::uint32_t block_bytes = 0;
};

inline ggml_type_layout ggml_layout(std::uint32_t type_id) noexcept {
  // K-quants pack 256 values per super-block; the byte counts are the blocks' on-disk sizes.
  switch (static_cast<ggml_type>(type_id)) {
    case ggml_type::f32: return {"f32", 1, 4};
    case ggml_type::f16: return {"f16", 1, 2};
    case ggml_type::q4_0: return {"q4_0", 32, 18};   // f16 scale, 16 bytes of nibbles
    case ggml_type::q4_1: return {"q4_1", 32, 20};   // f16 scale and min, 16 bytes
    case ggml_type::q5_0: return {"q5_0", 32, 22};   // f16 scale, 4 bytes of high bits, 16 bytes
    case ggml_type::q5_1: return {"q5_1", 32, 24};   // f16 scale and min, 4 + 16 bytes
    case ggml_type::q8_0: return {"q8_0", 32, 34};   // f16 scale, 32 int8
    case ggml_type::q8_1: return {"q8_1", 32, 36};   // f16 scale and sum, 32 int8
    case ggml_type::q2_k: return {"q2_k", 256, 84};
    case ggml_type::q3_k: return {"q3_k", 256, 110};
    case ggml_type::q4_k: return {"q4_k", 256, 144};
    case ggml_type::q5_k: return {"q5_k", 256, 176};
    case ggml_type::q6_k: return {"q6_k", 256, 210};
    case ggml_type::q8_k: return {"q8_k", 256, 292};  // f32 scale, 256 int8, 16 int16 sums
    case ggml_type::i8: return {"i8", 1, 1};
    case ggml_type::i16: return {"i16", 1, 2};
    case ggml_type::i32: return {"i32", 1, 4};
    case ggml_type::i64: return {"i64", 1, 8};
    case ggml_type::f64: return {"f64", 1, 8};
    case ggml_type::bf16: return {"bf16", 1, 2};
  }
  return {};
}

struct ggml_extent {
  std::uint64_t elements = 0;
  std::uint64_t bytes = 0;
};

// Element count and byte size of a tensor of type_id with `dims` (ggml order: dims[0] is
// the contiguous row, so it must hold whole blocks), overflow-checked to stay below 2^63.
inline expected<ggml_extent> ggml_tensor_extent(std::uint32_t type_id, std::span<const std::uint64_t> dims) {
  const ggml_type_layout layout = ggml_layout(type_id);
  if (!layout.name) return make_error(errc::unsupported, "ggml type " + std::to_string(type_id) + " is unknown to tessera");
  if (dims.empty() || dims.size() > gguf_max_dims)
    return make_error(errc::parse_error, std::to_string(dims.size()) + " dims (expected 1 to " + std::to_string(gguf_max_dims) + ")");
  constexpr std::uint64_t limit = std::uint64_t{1} << 63;
  std::uint64_t elements = 1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] >= limit) return make_error(errc::parse_error, "dim " + std::to_string(i) + " is " + std::to_string(dims[i]) + " (expected below 2^63)");
    if (dims[i] != 0 && elements > (limit - 1) / dims[i])
      return make_error(errc::parse_error, "the product of the dims overflows 2^63");
    elements *= dims[i];
  }
  if (dims[0] % layout.block_elements != 0)
    return make_error(errc::parse_error, "dim 0 (" + std::to_string(dims[0]) + ") is not a multiple of " + layout.name +
                                             "'s block of " + std::to_string(layout.block_elements));
  const std::uint64_t blocks = elements / layout.block_elements;
  if (blocks > (limit - 1) / layout.block_bytes) return make_error(errc::parse_error, "the tensor's byte size overflows 2^63");
  return ggml_extent{elements, blocks * layout.block_bytes};
}

namespace detail {

template <class T>
T load_le(const std::uint8_t* p) noexcept {
  using bits_t = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                 std::conditional_t<sizeof(T) == 2, std::uint16_t,
                 std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
  bits_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<bits_t>(v | static_cast<bits_t>(bits_t{p[i]} << (8 * i)));
  return bit_cast<T>(v);
}

// Bounds-checked little-endian reads over bytes[pos, end). `base` is the offset of bytes[0]
// in the file, so messages name file offsets even when reading a value's sub-span.
class gguf_cursor {
 public:
  gguf_cursor(std::span<const std::uint8_t> bytes, std::uint64_t base) : b_(bytes), base_(base) {}

  std::size_t pos() const noexcept { return pos_; }
  std::uint64_t file_pos() const noexcept { return base_ + pos_; }
  std::size_t left() const noexcept { return b_.size() - pos_; }
  std::span<const std::uint8_t> bytes() const noexcept { return b_; }

  error fail(const std::string& what) const { return fail_at(file_pos(), what); }
  static error fail_at(std::uint64_t at, const std::string& what) {
    return make_error(errc::parse_error, "gguf: " + what + " at byte " + std::to_string(at));
  }

  status need(std::uint64_t n, const char* what) const {
    if (n > left())
      return fail(std::string("truncated ") + what + " (" + std::to_string(n) + " bytes needed, " + std::to_string(left()) + " left)");
    return {};
  }
  template <class T>
  status read(T& out, const char* what) {
    TESSERA_TRY(need(sizeof(T), what));
    out = load_le<T>(b_.data() + pos_);
    pos_ += sizeof(T);
    return {};
  }
  // A length-prefixed string; the view points into the bytes.
  status read_string(std::string_view& out, const char* what) {
    std::uint64_t n = 0;
    TESSERA_TRY(read(n, what));
    if (n > left()) {
      pos_ -= 8;
      return fail(std::string(what) + " length " + std::to_string(n) + " exceeds the " + std::to_string(left() - 8) + " bytes left");
    }
    out = std::string_view(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return {};
  }
  void skip(std::size_t n) noexcept { pos_ += n; }

 private:
  std::span<const std::uint8_t> b_;
  std::uint64_t base_ = 0;
  std::size_t pos_ = 0;
};

inline status check_value_type(std::uint32_t tag, std::uint64_t at) {
  if (tag >= gguf_value_type_count)
    return gguf_cursor::fail_at(at, "value type " + std::to_string(tag) + " (expected 0 to " + std::to_string(gguf_value_type_count - 1) + ")");
  return {};
}

}  // namespace detail

// One metadata value: a view of its encoding in the file. Arrays hold their elements'
// encoding; element access re-reads it (validated when the file was parsed).
class gguf_value {
 public:
  gguf_value_type type() const noexcept { return type_; }
  // For arrays: the type and number of the elements.
  gguf_value_type element_type() const noexcept { return element_type_; }
  std::uint64_t count() const noexcept { return count_; }
  // Where raw() starts in the file (for messages).
  std::uint64_t file_offset() const noexcept { return offset_; }
  // The value's bytes: a scalar's, a string's characters, an array's elements.
  std::span<const std::uint8_t> raw() const noexcept { return raw_; }

  // The value as T; its type must be exactly T's (gguf_type_of), else an error naming both.
  template <class T>
  expected<T> as() const {
    constexpr gguf_value_type want = gguf_type_of<T>::value;
    if (type_ != want) return mismatch(gguf_value_type_name(want));
    if constexpr (std::is_same_v<T, std::string_view>) {
      return std::string_view(reinterpret_cast<const char*>(raw_.data()), raw_.size());
    } else if constexpr (std::is_same_v<T, bool>) {
      return raw_[0] != 0;
    } else {
      return detail::load_le<T>(raw_.data());
    }
  }

  // An array of T as a vector (strings as views into the file).
  template <class T>
  expected<std::vector<T>> as_array() const {
    constexpr gguf_value_type want = gguf_type_of<T>::value;
    if (type_ != gguf_value_type::array || element_type_ != want)
      return mismatch(std::string("array of ") + gguf_value_type_name(want));
    std::vector<T> out;
    out.reserve(static_cast<std::size_t>(count_));  // bounded: validated against the file's size
    TESSERA_TRY(for_each_element([&](const gguf_value& e) -> status {
      TESSERA_ASSIGN_OR_RETURN(T v, e.template as<T>());
      out.push_back(v);
      return {};
    }));
    return out;
  }

  // Calls fn(const gguf_value&) -> status for each element of an array, in order.
  template <class Fn>
  status for_each_element(Fn&& fn) const {
    if (type_ != gguf_value_type::array) return mismatch("array");
    detail::gguf_cursor c(raw_, offset_);
    for (std::uint64_t i = 0; i < count_; ++i) {
      TESSERA_ASSIGN_OR_RETURN(gguf_value e, read(c, element_type_, depth_ + 1));
      TESSERA_TRY(fn(static_cast<const gguf_value&>(e)));
    }
    return {};
  }

  // "array of string", "uint32", ...
  std::string type_name() const {
    if (type_ != gguf_value_type::array) return gguf_value_type_name(type_);
    return std::string("array of ") + gguf_value_type_name(element_type_);
  }

  friend class gguf_file;

 private:
  // Reads and validates one value of type `type` at the cursor (nested arrays to depth
  // gguf_max_array_nesting). Every element is checked, so later access cannot fail on bounds.
  static expected<gguf_value> read(detail::gguf_cursor& c, gguf_value_type type, std::uint32_t depth) {
    gguf_value v;
    v.type_ = type;
    v.depth_ = depth;
    v.offset_ = c.file_pos();
    const std::span<const std::uint8_t> b = c.bytes();
    if (type == gguf_value_type::string) {
      std::string_view s;
      TESSERA_TRY(c.read_string(s, "string"));
      v.raw_ = {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
      v.offset_ += 8;
      return v;
    }
    if (type != gguf_value_type::array) {
      const std::size_t w = gguf_value_width(type);
      TESSERA_TRY(c.need(w, gguf_value_type_name(type)));
      if (type == gguf_value_type::boolean && b[c.pos()] > 1)
        return c.fail("bool value " + std::to_string(b[c.pos()]) + " (expected 0 or 1)");
      v.raw_ = b.subspan(c.pos(), w);
      c.skip(w);
      return v;
    }
    if (depth >= gguf_max_array_nesting)
      return c.fail("arrays nested deeper than " + std::to_string(gguf_max_array_nesting));
    std::uint32_t tag = 0;
    const std::uint64_t tag_at = c.file_pos();
    TESSERA_TRY(c.read(tag, "array element type"));
    TESSERA_TRY(detail::check_value_type(tag, tag_at));
    v.element_type_ = static_cast<gguf_value_type>(tag);
    TESSERA_TRY(c.read(v.count_, "array count"));
    // Each element takes at least this many bytes, so the count is bounded by what is left.
    const std::size_t w = gguf_value_width(v.element_type_);
    const std::size_t min_bytes = w ? w : (v.element_type_ == gguf_value_type::string ? 8 : 12);
    if (v.count_ > c.left() / min_bytes)
      return c.fail("array count " + std::to_string(v.count_) + " of " + gguf_value_type_name(v.element_type_) +
                    " needs more than the " + std::to_string(c.left()) + " bytes left");
    const std::size_t start = c.pos();
    if (w) {
      const std::size_t n = static_cast<std::size_t>(v.count_) * w;
      if (v.element_type_ == gguf_value_type::boolean)
        for (std::size_t i = 0; i < n; ++i)
          if (b[start + i] > 1)
            return detail::gguf_cursor::fail_at(c.file_pos() + i, "bool value " + std::to_string(b[start + i]) + " (expected 0 or 1)");
      c.skip(n);
    } else {
      for (std::uint64_t i = 0; i < v.count_; ++i) TESSERA_TRY(read(c, v.element_type_, depth + 1));
    }
    v.raw_ = b.subspan(start, c.pos() - start);
    v.offset_ += 12;
    return v;
  }

  error mismatch(const std::string& wanted) const {
    return make_error(errc::parse_error, "is " + type_name() + ", not " + wanted);
  }

  gguf_value_type type_ = gguf_value_type::uint8;
  gguf_value_type element_type_ = gguf_value_type::uint8;
  std::uint32_t depth_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t offset_ = 0;
  std::span<const std::uint8_t> raw_;
};

struct gguf_kv {
  std::string_view key;
  gguf_value value;
};

// One tensor: a view of its data in the file's bytes.
struct gguf_tensor {
  std::string_view name;
  ggml_type type = ggml_type::f32;
  std::uint32_t n_dims = 0;
  std::array<std::uint64_t, gguf_max_dims> dims{1, 1, 1, 1};  // ggml order; unused dims are 1
  std::uint64_t offset = 0;                                   // from the data section's start
  std::uint64_t elements = 0;
  std::span<const std::uint8_t> data;                         // data.size() is the byte size

  std::span<const std::uint64_t> shape() const noexcept { return {dims.data(), n_dims}; }
  const char* type_name() const noexcept { return ggml_layout(static_cast<std::uint32_t>(type)).name; }
};

namespace detail {

// Indices of items sorted by name, so lookups are binary searches and duplicates adjacent.
template <class Item, class NameOf>
std::vector<std::uint32_t> sorted_by_name(const std::vector<Item>& items, NameOf name_of) {
  std::vector<std::uint32_t> index(items.size());
  for (std::uint32_t i = 0; i < index.size(); ++i) index[i] = i;
  std::stable_sort(index.begin(), index.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return name_of(items[a]) < name_of(items[b]); });
  return index;
}

// The first name that two items share, or -1.
template <class Item, class NameOf>
std::int64_t first_duplicate(const std::vector<Item>& items, const std::vector<std::uint32_t>& index, NameOf name_of) {
  for (std::size_t i = 1; i < index.size(); ++i)
    if (name_of(items[index[i - 1]]) == name_of(items[index[i]])) return index[i];
  return -1;
}

template <class Item, class NameOf>
const Item* find_by_name(const std::vector<Item>& items, const std::vector<std::uint32_t>& index,
                         std::string_view name, NameOf name_of) {
  auto it = std::lower_bound(index.begin(), index.end(), name,
                             [&](std::uint32_t i, std::string_view n) { return name_of(items[i]) < n; });
  if (it == index.end() || name_of(items[*it]) != name) return nullptr;
  return &items[*it];
}

inline std::string_view kv_name(const gguf_kv& kv) noexcept { return kv.key; }
inline std::string_view tensor_name(const gguf_tensor& t) noexcept { return t.name; }

}  // namespace detail

class gguf_file {
 public:
  // Parses and validates the container. `bytes` must outlive the gguf_file and every view
  // taken from it; tensor data is as aligned in memory as bytes.data() is.
  static expected<gguf_file> parse(std::span<const std::uint8_t> bytes) {
    gguf_file f;
    f.bytes_ = bytes;
    detail::gguf_cursor c(bytes, 0);
    TESSERA_TRY(f.parse_header(c));
    TESSERA_TRY(f.parse_metadata(c));
    std::vector<std::uint64_t> tensor_bytes;
    TESSERA_TRY(f.parse_tensor_infos(c, tensor_bytes));
    TESSERA_TRY(f.place_tensors(c.pos(), tensor_bytes));
    return f;
  }

  std::uint32_t version() const noexcept { return version_; }
  std::uint32_t alignment() const noexcept { return alignment_; }
  // Where the data section starts (the end of the tensor infos, aligned).
  std::uint64_t data_offset() const noexcept { return data_offset_; }
  std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

  // The metadata in file order.
  std::span<const gguf_kv> metadata() const noexcept { return kvs_; }
  const gguf_value* find(std::string_view key) const {
    const gguf_kv* kv = detail::find_by_name(kvs_, kv_index_, key, detail::kv_name);
    return kv ? &kv->value : nullptr;
  }
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // The value of `key` as T: a missing key is errc::out_of_range, another type a
  // parse_error naming the key and both types.
  template <class T>
  expected<T> get(std::string_view key) const {
    TESSERA_ASSIGN_OR_RETURN(const gguf_value* v, lookup(key));
    return with_key(key, v->as<T>());
  }
  // The array at `key` as a vector of T (strings as views).
  template <class T>
  expected<std::vector<T>> get_array(std::string_view key) const {
    TESSERA_ASSIGN_OR_RETURN(const gguf_value* v, lookup(key));
    return with_key(key, v->as_array<T>());
  }

  // The tensors in file order.
  std::span<const gguf_tensor> tensors() const noexcept { return tensors_; }
  const gguf_tensor* find_tensor(std::string_view name) const {
    return detail::find_by_name(tensors_, tensor_index_, name, detail::tensor_name);
  }
  expected<gguf_tensor> tensor(std::string_view name) const {
    const gguf_tensor* t = find_tensor(name);
    if (!t) return make_error(errc::out_of_range, "gguf: no tensor '" + std::string(name) + "'");
    return *t;
  }

 private:
  expected<const gguf_value*> lookup(std::string_view key) const {
    const gguf_value* v = find(key);
    if (!v) return make_error(errc::out_of_range, "gguf: no metadata key '" + std::string(key) + "'");
    return v;
  }
  template <class T>
  static expected<T> with_key(std::string_view key, expected<T> r) {
    if (r.ok()) return r;
    return make_error(r.err().code, "gguf: key '" + std::string(key) + "' " + r.err().message);
  }

  status parse_header(detail::gguf_cursor& c) {
    TESSERA_TRY(c.need(4, "magic"));
    if (std::memcmp(c.bytes().data(), "GGUF", 4) != 0) return c.fail("not a GGUF file: no 'GGUF' magic");
    c.skip(4);
    TESSERA_TRY(c.read(version_, "version"));
    if (version_ == 1)
      return make_error(errc::unsupported, "gguf: version 1 (32-bit counts) is not supported: convert the model again (versions 2 and 3 are read)");
    const std::uint32_t swapped = (version_ >> 24) | ((version_ >> 8) & 0xff00u) | ((version_ << 8) & 0xff0000u) | (version_ << 24);
    if (swapped >= 1 && swapped <= 3)
      return make_error(errc::unsupported, "gguf: a big-endian file (version " + std::to_string(swapped) + " byte-swapped) is not supported");
    if (version_ != 2 && version_ != 3)
      return make_error(errc::unsupported, "gguf: version " + std::to_string(version_) + " (expected 2 or 3)");
    TESSERA_TRY(c.read(tensor_count_, "tensor count"));
    TESSERA_TRY(c.read(kv_count_, "metadata count"));
    // A metadata entry takes at least 13 bytes (key length, type, a 1-byte value), a tensor
    // info at least 32 (name length, n_dims, one dim, type, offset).
    const std::size_t left = c.left();
    if (kv_count_ > left / 13 || tensor_count_ > left / 32 || kv_count_ * 13 + tensor_count_ * 32 > left)
      return c.fail(std::to_string(kv_count_) + " metadata entries and " + std::to_string(tensor_count_) +
                    " tensors need more than the " + std::to_string(left) + " bytes left");
    return {};
  }

  status parse_metadata(detail::gguf_cursor& c) {
    kvs_.reserve(static_cast<std::size_t>(kv_count_));
    for (std::uint64_t i = 0; i < kv_count_; ++i) {
      gguf_kv kv;
      const std::uint64_t at = c.file_pos();
      TESSERA_TRY(c.read_string(kv.key, "metadata key"));
      if (kv.key.empty() || kv.key.size() > gguf_max_key_bytes)
        return detail::gguf_cursor::fail_at(at, "metadata entry " + std::to_string(i) + ": key of " + std::to_string(kv.key.size()) +
                                                    " bytes (expected 1 to " + std::to_string(gguf_max_key_bytes) + ")");
      std::uint32_t tag = 0;
      const std::uint64_t tag_at = c.file_pos();
      TESSERA_TRY(c.read(tag, "metadata value type"));
      TESSERA_TRY(detail::check_value_type(tag, tag_at));
      auto value = gguf_value::read(c, static_cast<gguf_value_type>(tag), 0);
      if (!value.ok()) return make_error(value.err().code, value.err().message + " (key '" + excerpt(kv.key) + "')");
      kv.value = *value;
      kvs_.push_back(kv);
    }
    kv_index_ = detail::sorted_by_name(kvs_, detail::kv_name);
    if (const std::int64_t dup = detail::first_duplicate(kvs_, kv_index_, detail::kv_name); dup >= 0)
      return make_error(errc::parse_error, "gguf: duplicate metadata key '" + excerpt(kvs_[static_cast<std::size_t>(dup)].key) + "'");
    if (const gguf_value* a = find("general.alignment")) {
      auto v = a->as<std::uint32_t>();
      if (!v.ok()) return make_error(errc::parse_error, "gguf: key 'general.alignment' " + v.err().message);
      if (*v == 0 || (*v & (*v - 1)) != 0)
        return make_error(errc::parse_error, "gguf: general.alignment " + std::to_string(*v) + " is not a power of two");
      alignment_ = *v;
    }
    return {};
  }

  status parse_tensor_infos(detail::gguf_cursor& c, std::vector<std::uint64_t>& tensor_bytes) {
    tensors_.reserve(static_cast<std::size_t>(tensor_count_));
    tensor_bytes.reserve(static_cast<std::size_t>(tensor_count_));
    for (std::uint64_t i = 0; i < tensor_count_; ++i) {
      gguf_tensor t;
      const std::uint64_t at = c.file_pos();
      const std::string which = "tensor " + std::to_string(i);
      TESSERA_TRY(c.read_string(t.name, "tensor name"));
      if (t.name.empty() || t.name.size() > gguf_max_tensor_name_bytes)
        return detail::gguf_cursor::fail_at(at, which + ": name of " + std::to_string(t.name.size()) + " bytes (expected 1 to " +
                                                    std::to_string(gguf_max_tensor_name_bytes) + ")");
      const std::string named = which + " '" + std::string(t.name) + "'";
      TESSERA_TRY(c.read(t.n_dims, "tensor n_dims"));
      if (t.n_dims == 0 || t.n_dims > gguf_max_dims)
        return c.fail(named + ": n_dims " + std::to_string(t.n_dims) + " (expected 1 to " + std::to_string(gguf_max_dims) + ")");
      for (std::uint32_t d = 0; d < t.n_dims; ++d) TESSERA_TRY(c.read(t.dims[d], "tensor dims"));
      std::uint32_t type_id = 0;
      TESSERA_TRY(c.read(type_id, "tensor type"));
      auto extent = ggml_tensor_extent(type_id, t.shape());
      if (!extent.ok()) return make_error(extent.err().code, "gguf: " + named + ": " + extent.err().message);
      t.type = static_cast<ggml_type>(type_id);
      t.elements = extent->elements;
      TESSERA_TRY(c.read(t.offset, "tensor offset"));
      tensors_.push_back(t);
      tensor_bytes.push_back(extent->bytes);
    }
    tensor_index_ = detail::sorted_by_name(tensors_, detail::tensor_name);
    if (const std::int64_t dup = detail::first_duplicate(tensors_, tensor_index_, detail::tensor_name); dup >= 0)
      return make_error(errc::parse_error, "gguf: duplicate tensor name '" + std::string(tensors_[static_cast<std::size_t>(dup)].name) + "'");
    return {};
  }

  status place_tensors(std::size_t end_of_infos, const std::vector<std::uint64_t>& tensor_bytes) {
    const std::uint64_t size = bytes_.size();
    data_offset_ = (std::uint64_t{end_of_infos} + alignment_ - 1) / alignment_ * alignment_;
    // Tensors are stored in info order, each padded to the alignment (as ggml writes and
    // requires them): no overlaps or gaps, so their data never exceeds the file's.
    std::uint64_t packed_end = 0;
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      gguf_tensor& t = tensors_[i];
      const std::string named = "gguf: tensor '" + std::string(t.name) + "'";
      if (t.offset % alignment_ != 0)
        return make_error(errc::parse_error, named + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                                 std::to_string(alignment_));
      if (t.offset != packed_end)
        return make_error(errc::parse_error, named + ": offset " + std::to_string(t.offset) + ", expected " + std::to_string(packed_end) +
                                                 " (tensors follow each other in order, each padded to the alignment)");
      const std::uint64_t n = tensor_bytes[i];
      if (data_offset_ > size || t.offset > size - data_offset_ || n > size - data_offset_ - t.offset)
        return make_error(errc::out_of_range, named + ": " + std::to_string(n) + " bytes at data offset " + std::to_string(t.offset) +
                                                  " (file byte " + std::to_string(data_offset_) + " + offset) run past the end of the " +
                                                  std::to_string(size) + "-byte file");
      t.data = bytes_.subspan(static_cast<std::size_t>(data_offset_ + t.offset), static_cast<std::size_t>(n));
      packed_end = (t.offset + n + alignment_ - 1) / alignment_ * alignment_;  // t.offset + n <= size: no overflow
    }
    return {};
  }

  std::span<const std::uint8_t> bytes_;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = gguf_default_alignment;
  std::uint64_t tensor_count_ = 0;
  std::uint64_t kv_count_ = 0;
  std::uint64_t data_offset_ = 0;
  std::vector<gguf_kv> kvs_;
  std::vector<std::uint32_t> kv_index_;
  std::vector<gguf_tensor> tensors_;
  std::vector<std::uint32_t> tensor_index_;
};

// A mapped file and the GGUF view over it, kept together so the views stay valid (moving
// it keeps the mapping's address).
struct mapped_gguf {
  mapped_file file;
  gguf_file gguf;
};

inline expected<mapped_gguf> open_gguf(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(mapped_file file, mapped_file::open(path));
  auto parsed = gguf_file::parse(file.bytes());
  if (!parsed.ok()) return make_error(parsed.err().code, "'" + path + "': " + parsed.err().message);
  return mapped_gguf{std::move(file), std::move(parsed).value()};
}

}  // namespace tessera::io
