// A zero-copy reader of the protobuf wire format (no schema, no libprotobuf).
//
// Model formats (ONNX first) are protobuf messages; linking libprotobuf would cost a large
// dependency and exceptions, so the decoders walk the wire format directly: a message is a
// sequence of (tag, payload) fields, the tag a varint holding the field number and wire type.
// Every payload that is a byte range stays a sub-span of the input, so strings and tensor data
// are views. Every failure is an error value naming the absolute byte offset and the field.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/error.hpp"

namespace tessera::io::pb {

using bytes_view = std::span<const std::uint8_t>;

enum class wire_type : std::uint8_t {
  varint = 0,
  fixed64 = 1,
  length_delimited = 2,
  start_group = 3,  // deprecated groups: skipped, their contents never decoded
  end_group = 4,
  fixed32 = 5,
};

inline const char* wire_type_name(wire_type t) noexcept {
  switch (t) {
    case wire_type::varint: return "varint";
    case wire_type::fixed64: return "fixed64";
    case wire_type::length_delimited: return "length-delimited";
    case wire_type::start_group: return "start-group";
    case wire_type::end_group: return "end-group";
    case wire_type::fixed32: return "fixed32";
  }
  return "unknown";
}

// Deep enough for any real schema (ONNX: model > graph > node > attribute > graph ...), small
// enough that a hostile file of nested length prefixes cannot exhaust the stack.
inline constexpr int kDefaultMaxDepth = 64;

inline constexpr std::uint32_t kMaxFieldNumber = (1u << 29) - 1;

inline std::int64_t zigzag_decode64(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
}
inline std::int32_t zigzag_decode32(std::uint32_t v) noexcept {
  return static_cast<std::int32_t>((v >> 1) ^ (~(v & 1) + 1));
}

inline error wire_error(std::size_t offset, std::uint32_t field_number, std::string_view what) {
  std::string msg = "protobuf: byte " + std::to_string(offset);
  if (field_number != 0) msg += ": field " + std::to_string(field_number);
  msg += ": ";
  msg += what;
  return make_error(errc::parse_error, std::move(msg));
}

namespace detail {

// Decodes one varint at data[pos], advancing pos. At most 10 bytes; the 10th may only carry
// the 64th bit, so every accepted encoding fits a uint64 exactly.
inline bool decode_varint(bytes_view data, std::size_t& pos, std::uint64_t& out, const char*& why) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos >= data.size()) {
      why = "truncated varint";
      return false;
    }
    const std::uint8_t b = data[pos++];
    if (i == 9 && b > 1) {
      why = "varint overflows 64 bits";
      return false;
    }
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      out = v;
      return true;
    }
  }
  why = "varint longer than 10 bytes";
  return false;
}

template <class T>
T load_le(const std::uint8_t* p) noexcept {
  static_assert(std::endian::native == std::endian::little, "the wire format is little-endian; so are all targets");
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace detail

// One decoded field. `value` holds a varint or the bits of a fixed32/fixed64; `payload` the
// bytes of a length-delimited field (or a skipped group's body). `offset` is where the tag starts.
struct field {
  std::uint32_t number = 0;
  wire_type type = wire_type::varint;
  std::uint64_t value = 0;
  bytes_view payload;
  std::size_t offset = 0;          // absolute offset of the tag
  std::size_t payload_offset = 0;  // absolute offset of payload[0]

  std::int64_t as_int64() const noexcept { return static_cast<std::int64_t>(value); }
  // int32 fields are sign-extended to 64 bits on the wire; the low half is the value.
  std::int32_t as_int32() const noexcept { return static_cast<std::int32_t>(static_cast<std::uint32_t>(value)); }
  bool as_bool() const noexcept { return value != 0; }
  float as_float() const noexcept {
    const auto bits = static_cast<std::uint32_t>(value);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  double as_double() const noexcept {
    double d;
    std::memcpy(&d, &value, sizeof d);
    return d;
  }
  std::string_view as_string() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

// Walks the fields of one message. `base` is the absolute offset of data[0] in the file (for
// messages); `depth` counts the enclosing messages.
class reader {
 public:
  explicit reader(bytes_view data, std::size_t base = 0, int depth = 0, int max_depth = kDefaultMaxDepth) noexcept
      : data_(data), base_(base), depth_(depth), max_depth_(max_depth) {}

  bool at_end() const noexcept { return pos_ >= data_.size(); }
  std::size_t offset() const noexcept { return base_ + pos_; }
  int depth() const noexcept { return depth_; }

  // The next field, its payload bounds-checked. A group is skipped whole (its matching end
  // tag found) and returned with its body as payload; a stray end-group tag is an error.
  expected<field> next() {
    field f;
    TESSERA_TRY(read_tag(f));
    if (f.type == wire_type::start_group) TESSERA_TRY(skip_group(f));
    else if (f.type == wire_type::end_group) return wire_error(f.offset, f.number, "end-group tag without a start-group");
    else TESSERA_TRY(read_payload(f));
    return f;
  }

  // A reader over a length-delimited field's payload, one level deeper.
  expected<reader> sub(const field& f) const {
    if (f.type != wire_type::length_delimited)
      return wire_error(f.offset, f.number, std::string("expected a message, got wire type ") + wire_type_name(f.type));
    if (depth_ + 1 > max_depth_)
      return wire_error(f.offset, f.number, "messages nested deeper than " + std::to_string(max_depth_));
    reader r(f.payload, f.payload_offset, depth_ + 1, max_depth_);
    r.budget_ = budget_;
    return r;
  }

  // Bytes of decoded structure a parser may still build from this input, shared with every
  // sub-reader (null: no limit): a file of empty messages must not decode to a hundred times
  // its size. A parser charges each element it adds.
  void set_decode_budget(std::uint64_t* bytes_left) noexcept { budget_ = bytes_left; }
  status charge(const field& f, std::uint64_t bytes) const {
    if (!budget_) return {};
    if (bytes > *budget_) return wire_error(f.offset, f.number, "the decoded messages outgrow the input (a file of empty or tiny messages)");
    *budget_ -= bytes;
    return {};
  }

 private:
  status read_varint_into(std::uint64_t& out, std::uint32_t number) {
    const std::size_t start = offset();
    const char* why = "";
    if (!detail::decode_varint(data_, pos_, out, why)) return wire_error(start, number, why);
    return {};
  }

  status read_tag(field& f) {
    f.offset = offset();
    std::uint64_t tag = 0;
    TESSERA_TRY(read_varint_into(tag, 0));
    const std::uint64_t number = tag >> 3;
    const auto type = static_cast<std::uint8_t>(tag & 7);
    if (number == 0 || number > kMaxFieldNumber)
      return wire_error(f.offset, 0, "field number " + std::to_string(number) + " out of range");
    f.number = static_cast<std::uint32_t>(number);
    if (type > 5) return wire_error(f.offset, f.number, "bad wire type " + std::to_string(type));
    f.type = static_cast<wire_type>(type);
    return {};
  }

  status read_fixed(field& f, std::size_t n) {
    if (data_.size() - pos_ < n)
      return wire_error(offset(), f.number, "truncated fixed" + std::to_string(8 * n));
    f.value = n == 8 ? detail::load_le<std::uint64_t>(data_.data() + pos_) : detail::load_le<std::uint32_t>(data_.data() + pos_);
    pos_ += n;
    return {};
  }

  // The payload of a field that is not a group marker: a varint, fixed bits or a byte range.
  status read_payload(field& f) {
    switch (f.type) {
      case wire_type::varint: return read_varint_into(f.value, f.number);
      case wire_type::fixed64: return read_fixed(f, 8);
      case wire_type::fixed32: return read_fixed(f, 4);
      case wire_type::length_delimited: {
        std::uint64_t len = 0;
        TESSERA_TRY(read_varint_into(len, f.number));
        if (len > data_.size() - pos_)
          return wire_error(offset(), f.number, "length " + std::to_string(len) + " past the end (" +
                                                    std::to_string(data_.size() - pos_) + " bytes left)");
        f.payload_offset = offset();
        f.payload = data_.subspan(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
        return {};
      }
      case wire_type::start_group:
      case wire_type::end_group: break;
    }
    return {};
  }

  // Groups nest like messages, so their depth counts against the same cap.
  status skip_group(field& f) {
    const std::size_t body = pos_;
    std::vector<std::uint32_t> open{f.number};  // innermost group last
    while (!open.empty()) {
      if (depth_ + static_cast<int>(open.size()) > max_depth_)
        return wire_error(f.offset, f.number, "groups nested deeper than " + std::to_string(max_depth_));
      if (at_end()) return wire_error(offset(), open.back(), "group without its end-group tag");
      const std::size_t tag_pos = pos_;
      field inner;
      TESSERA_TRY(read_tag(inner));
      switch (inner.type) {
        default: TESSERA_TRY(read_payload(inner)); break;
        case wire_type::start_group: open.push_back(inner.number); break;
        case wire_type::end_group:
          if (inner.number != open.back())
            return wire_error(inner.offset, inner.number,
                              "end-group tag does not match start-group of field " + std::to_string(open.back()));
          open.pop_back();
          if (open.empty()) {
            f.payload_offset = base_ + body;
            f.payload = data_.subspan(body, tag_pos - body);
          }
          break;
      }
    }
    return {};
  }

  bytes_view data_;
  std::size_t pos_ = 0;
  std::size_t base_ = 0;
  int depth_ = 0;
  int max_depth_ = kDefaultMaxDepth;
  std::uint64_t* budget_ = nullptr;
};

// The elements of one repeated scalar field, kept as the fields that carried them: a packed
// field (one length-delimited run) or one field per element, both legal on the wire and
// mixable. Counting happens at parse time, decoding only when asked (into a vector).
enum class scalar_kind : std::uint8_t { varint, fixed32, fixed64 };

class repeated_scalar {
 public:
  explicit repeated_scalar(scalar_kind kind = scalar_kind::varint) noexcept : kind_(kind) {}

  scalar_kind kind() const noexcept { return kind_; }
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

  // Takes one occurrence of the field: a single element or a packed run of them.
  status add(const field& f) {
    const wire_type single = kind_ == scalar_kind::varint   ? wire_type::varint
                             : kind_ == scalar_kind::fixed32 ? wire_type::fixed32
                                                             : wire_type::fixed64;
    if (f.type == single) {
      parts_.push_back(f);
      ++count_;
      return {};
    }
    if (f.type != wire_type::length_delimited)
      return wire_error(f.offset, f.number, std::string("repeated ") + wire_type_name(single) +
                                                " field has wire type " + wire_type_name(f.type));
    std::size_t n = 0;
    if (kind_ == scalar_kind::varint) {
      // Every varint ends in exactly one byte without the continuation bit; check each
      // element's length now, so decoding later cannot fail.
      std::size_t pos = 0;
      while (pos < f.payload.size()) {
        std::uint64_t v = 0;
        const char* why = "";
        const std::size_t start = pos;
        if (!detail::decode_varint(f.payload, pos, v, why))
          return wire_error(f.payload_offset + start, f.number, std::string("packed: ") + why);
        ++n;
      }
    } else {
      const std::size_t width = kind_ == scalar_kind::fixed32 ? 4 : 8;
      if (f.payload.size() % width != 0)
        return wire_error(f.payload_offset, f.number, "packed fixed" + std::to_string(8 * width) + " run of " +
                                                          std::to_string(f.payload.size()) + " bytes");
      n = f.payload.size() / width;
    }
    parts_.push_back(f);
    count_ += n;
    return {};
  }

  // Calls fn(raw) for every element in order: the varint value or the fixed bits.
  template <class Fn>
  void for_each_raw(Fn&& fn) const {
    for (const field& f : parts_) {
      if (f.type != wire_type::length_delimited) {
        fn(f.value);
        continue;
      }
      if (kind_ == scalar_kind::varint) {
        std::size_t pos = 0;
        const char* why = "";
        std::uint64_t v = 0;
        while (pos < f.payload.size() && detail::decode_varint(f.payload, pos, v, why)) fn(v);
      } else if (kind_ == scalar_kind::fixed32) {
        for (std::size_t i = 0; i + 4 <= f.payload.size(); i += 4) fn(std::uint64_t{detail::load_le<std::uint32_t>(f.payload.data() + i)});
      } else {
        for (std::size_t i = 0; i + 8 <= f.payload.size(); i += 8) fn(detail::load_le<std::uint64_t>(f.payload.data() + i));
      }
    }
  }

  // The elements converted by `convert(raw)` (e.g. to int64, float bits, zigzag).
  template <class T, class Convert>
  std::vector<T> to_vector(Convert&& convert) const {
    std::vector<T> out;
    out.reserve(count_);  // bounded: every element took at least one input byte
    for_each_raw([&](std::uint64_t raw) { out.push_back(convert(raw)); });
    return out;
  }
  std::vector<std::int64_t> int64s() const {
    return to_vector<std::int64_t>([](std::uint64_t r) { return static_cast<std::int64_t>(r); });
  }
  std::vector<std::int32_t> int32s() const {
    return to_vector<std::int32_t>([](std::uint64_t r) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(r)); });
  }
  std::vector<std::uint64_t> uint64s() const {
    return to_vector<std::uint64_t>([](std::uint64_t r) { return r; });
  }
  std::vector<float> floats() const {
    return to_vector<float>([](std::uint64_t r) {
      field f;
      f.value = r;
      return f.as_float();
    });
  }
  std::vector<double> doubles() const {
    return to_vector<double>([](std::uint64_t r) {
      field f;
      f.value = r;
      return f.as_double();
    });
  }

 private:
  scalar_kind kind_;
  std::vector<field> parts_;
  std::size_t count_ = 0;
};

// Checks a field's wire type before a decoder reads it as a scalar or a byte range.
inline status expect_wire_type(const field& f, wire_type want, std::string_view what) {
  if (f.type == want) return {};
  return wire_error(f.offset, f.number, std::string(what) + ": expected wire type " + wire_type_name(want) +
                                            ", got " + wire_type_name(f.type));
}

}  // namespace tessera::io::pb
