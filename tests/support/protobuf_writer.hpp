// Hand-built protobuf wire bytes for the reader's tests (the tests must not depend on the
// reader to make their inputs).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace tessera::test {

struct pb_writer {
  std::vector<std::uint8_t> b;

  pb_writer& varint(std::uint64_t v) {
    while (v >= 0x80) {
      b.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    b.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  pb_writer& tag(std::uint32_t number, int wire) { return varint((std::uint64_t{number} << 3) | static_cast<unsigned>(wire)); }
  pb_writer& raw(std::initializer_list<std::uint8_t> bytes) {
    b.insert(b.end(), bytes.begin(), bytes.end());
    return *this;
  }
  pb_writer& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  // Field helpers: number, then the value in its wire type.
  pb_writer& int_field(std::uint32_t n, std::int64_t v) { return tag(n, 0).varint(static_cast<std::uint64_t>(v)); }
  pb_writer& float_field(std::uint32_t n, float f) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    return tag(n, 5).le(bits, 4);
  }
  pb_writer& fixed64_field(std::uint32_t n, std::uint64_t v) { return tag(n, 1).le(v, 8); }
  pb_writer& bytes_field(std::uint32_t n, std::span<const std::uint8_t> payload) {
    tag(n, 2).varint(payload.size());
    b.insert(b.end(), payload.begin(), payload.end());
    return *this;
  }
  pb_writer& string_field(std::uint32_t n, std::string_view s) {
    return bytes_field(n, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  }
  pb_writer& message(std::uint32_t n, const pb_writer& m) { return bytes_field(n, m.b); }
  pb_writer& packed_varints(std::uint32_t n, std::initializer_list<std::int64_t> vs) {
    pb_writer inner;
    for (auto v : vs) inner.varint(static_cast<std::uint64_t>(v));
    return message(n, inner);
  }
  pb_writer& packed_floats(std::uint32_t n, std::initializer_list<float> vs) {
    pb_writer inner;
    for (float f : vs) {
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      inner.le(bits, 4);
    }
    return message(n, inner);
  }
  std::span<const std::uint8_t> span() const { return b; }
};

}  // namespace tessera::test
