// The protobuf wire-format reader: every wire type, packed and unpacked repeated scalars,
// skipped groups, and an error naming the offset and field for every malformed input.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "support/protobuf_writer.hpp"
#include "tessera/io/protobuf.hpp"

using namespace tessera;
using io::pb::wire_type;
using test::pb_writer;

namespace {

std::vector<io::pb::field> all_fields(std::span<const std::uint8_t> bytes, std::string* err = nullptr) {
  io::pb::reader r(bytes);
  std::vector<io::pb::field> out;
  while (!r.at_end()) {
    auto f = r.next();
    if (!f.ok()) {
      if (err) *err = f.err().message;
      return out;
    }
    out.push_back(*f);
  }
  return out;
}

std::string first_error(std::span<const std::uint8_t> bytes) {
  std::string err;
  all_fields(bytes, &err);
  return err;
}

}  // namespace

TEST_SUITE("io/protobuf") {
TEST_CASE("every wire type decodes") {
  pb_writer w;
  w.int_field(1, 150).fixed64_field(2, 0x0123456789abcdefULL).string_field(3, "hi").float_field(4, -2.5f);
  w.int_field(5, -1);  // int64 -1: ten bytes on the wire
  const auto fields = all_fields(w.span());
  REQUIRE(fields.size() == 5);
  CHECK(fields[0].number == 1);
  CHECK(fields[0].type == wire_type::varint);
  CHECK(fields[0].value == 150);
  CHECK(fields[1].type == wire_type::fixed64);
  CHECK(fields[1].value == 0x0123456789abcdefULL);
  CHECK(fields[2].type == wire_type::length_delimited);
  CHECK(fields[2].as_string() == "hi");
  CHECK(fields[2].payload_offset == fields[2].offset + 2);
  CHECK(fields[3].as_float() == -2.5f);
  CHECK(fields[4].as_int64() == -1);
  CHECK(fields[4].as_int32() == -1);
}

TEST_CASE("varint limits") {
  pb_writer max;
  max.int_field(1, -1);  // 0xffff...: the largest 10-byte varint
  CHECK(all_fields(max.span()).at(0).value == std::numeric_limits<std::uint64_t>::max());
  CHECK(first_error(max.span()).empty());

  pb_writer overflow;  // 10th byte carries more than the 64th bit
  overflow.tag(1, 0).raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
  CHECK(first_error(overflow.span()).find("overflows 64 bits") != std::string::npos);

  pb_writer overlong;  // eleven bytes
  overlong.tag(1, 0).raw({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00});
  CHECK(first_error(overlong.span()).find("varint") != std::string::npos);

  pb_writer truncated;
  truncated.tag(7, 0).raw({0x80, 0x80});
  const std::string e = first_error(truncated.span());
  CHECK(e.find("truncated varint") != std::string::npos);
  CHECK(e.find("byte 1") != std::string::npos);
  CHECK(e.find("field 7") != std::string::npos);

  pb_writer truncated_tag;
  truncated_tag.raw({0x88});
  CHECK(first_error(truncated_tag.span()).find("truncated varint") != std::string::npos);
}

TEST_CASE("zigzag") {
  CHECK(io::pb::zigzag_decode64(0) == 0);
  CHECK(io::pb::zigzag_decode64(1) == -1);
  CHECK(io::pb::zigzag_decode64(2) == 1);
  CHECK(io::pb::zigzag_decode64(std::numeric_limits<std::uint64_t>::max()) == std::numeric_limits<std::int64_t>::min());
  CHECK(io::pb::zigzag_decode64(std::numeric_limits<std::uint64_t>::max() - 1) == std::numeric_limits<std::int64_t>::max());
  CHECK(io::pb::zigzag_decode32(3) == -2);
  CHECK(io::pb::zigzag_decode32(0xffffffffu) == std::numeric_limits<std::int32_t>::min());
}

TEST_CASE("bounds and bad tags are errors with offsets") {
  pb_writer past;
  past.int_field(1, 5).tag(9, 2).varint(10).raw({1, 2, 3});
  const std::string e = first_error(past.span());
  CHECK(e.find("length 10 past the end (3 bytes left)") != std::string::npos);
  CHECK(e.find("field 9") != std::string::npos);
  CHECK(e.find("byte 4") != std::string::npos);

  pb_writer huge_length;
  huge_length.tag(2, 2).varint(std::numeric_limits<std::uint64_t>::max());
  CHECK(first_error(huge_length.span()).find("past the end") != std::string::npos);

  for (int bad : {6, 7}) {
    pb_writer w;
    w.tag(3, bad);
    CHECK(first_error(w.span()).find("bad wire type " + std::to_string(bad)) != std::string::npos);
  }
  pb_writer zero;
  zero.tag(0, 0).varint(1);
  CHECK(first_error(zero.span()).find("field number 0") != std::string::npos);

  pb_writer fixed;
  fixed.tag(4, 5).raw({1, 2});
  CHECK(first_error(fixed.span()).find("truncated fixed32") != std::string::npos);
  pb_writer fixed64;
  fixed64.tag(4, 1).raw({1, 2, 3, 4, 5, 6, 7});
  CHECK(first_error(fixed64.span()).find("truncated fixed64") != std::string::npos);
}

TEST_CASE("groups are skipped whole, mismatches are errors") {
  pb_writer w;
  w.tag(1, 3).int_field(2, 7).tag(3, 3).float_field(4, 1.0f).tag(3, 4).string_field(5, "x").tag(1, 4).int_field(6, 9);
  const auto fields = all_fields(w.span());
  REQUIRE(fields.size() == 2);
  CHECK(fields[0].type == wire_type::start_group);
  CHECK(fields[0].number == 1);
  CHECK(fields[1].number == 6);
  CHECK(fields[1].value == 9);

  pb_writer stray;
  stray.tag(2, 4);
  CHECK(first_error(stray.span()).find("end-group tag without a start-group") != std::string::npos);
  pb_writer mismatch;
  mismatch.tag(1, 3).tag(2, 4);
  CHECK(first_error(mismatch.span()).find("does not match") != std::string::npos);
  pb_writer unterminated;
  unterminated.tag(1, 3).int_field(2, 1);
  CHECK(first_error(unterminated.span()).find("without its end-group") != std::string::npos);
  pb_writer deep;
  for (int i = 0; i < 100; ++i) deep.tag(1, 3);
  CHECK(first_error(deep.span()).find("nested deeper") != std::string::npos);
}

TEST_CASE("nesting depth is capped") {
  pb_writer inner;
  inner.int_field(1, 1);
  for (int i = 0; i < 10; ++i) {
    pb_writer outer;
    outer.message(1, inner);
    inner = outer;
  }
  // Walks down the chain of first fields; a cap of 5 stops it.
  auto walk = [&](int max_depth) -> std::string {
    io::pb::reader r(inner.span(), 0, 0, max_depth);
    while (true) {
      auto f = r.next();
      if (!f.ok()) return f.err().message;
      if (f->type != wire_type::length_delimited) return "";
      auto sub = r.sub(*f);
      if (!sub.ok()) return sub.err().message;
      r = *sub;
    }
  };
  CHECK(walk(64).empty());
  CHECK(walk(5).find("nested deeper than 5") != std::string::npos);
}

TEST_CASE("repeated scalars: packed, unpacked and mixed") {
  pb_writer w;
  w.packed_varints(1, {1, -2, 300}).int_field(1, 4).packed_floats(2, {1.5f, -0.25f}).float_field(2, 8.0f);
  w.tag(3, 2).varint(16).le(0x3ff8000000000000ULL, 8).le(0xc000000000000000ULL, 8);  // packed doubles 1.5, -2
  io::pb::repeated_scalar ints(io::pb::scalar_kind::varint), floats(io::pb::scalar_kind::fixed32),
      doubles(io::pb::scalar_kind::fixed64);
  for (const auto& f : all_fields(w.span())) {
    if (f.number == 1) REQUIRE(ints.add(f).ok());
    if (f.number == 2) REQUIRE(floats.add(f).ok());
    if (f.number == 3) REQUIRE(doubles.add(f).ok());
  }
  CHECK(ints.size() == 4);
  CHECK(ints.int64s() == std::vector<std::int64_t>{1, -2, 300, 4});
  CHECK(ints.int32s() == std::vector<std::int32_t>{1, -2, 300, 4});
  CHECK(floats.floats() == std::vector<float>{1.5f, -0.25f, 8.0f});
  CHECK(doubles.doubles() == std::vector<double>{1.5, -2.0});

  SUBCASE("a packed run with a partial element is an error") {
    pb_writer bad;
    bad.tag(2, 2).varint(5).le(0, 5);
    io::pb::repeated_scalar fl(io::pb::scalar_kind::fixed32);
    const auto s = fl.add(all_fields(bad.span()).at(0));
    CHECK(!s.ok());
    CHECK(s.message().find("packed fixed32 run of 5 bytes") != std::string::npos);
  }
  SUBCASE("a packed varint run ending mid-varint is an error") {
    pb_writer bad;
    bad.tag(1, 2).varint(2).raw({0x01, 0x80});
    io::pb::repeated_scalar iv(io::pb::scalar_kind::varint);
    const auto s = iv.add(all_fields(bad.span()).at(0));
    CHECK(!s.ok());
    CHECK(s.message().find("packed: truncated varint") != std::string::npos);
    CHECK(s.message().find("byte 3") != std::string::npos);
  }
  SUBCASE("a wire type that fits neither form is an error") {
    pb_writer bad;
    bad.float_field(1, 1.0f);
    io::pb::repeated_scalar iv(io::pb::scalar_kind::varint);
    CHECK(!iv.add(all_fields(bad.span()).at(0)).ok());
  }
}

TEST_CASE("every prefix of a message fails cleanly or parses") {
  pb_writer inner;
  inner.string_field(1, "abc").packed_varints(2, {1, 2, 3});
  pb_writer w;
  w.int_field(1, 1234567).message(2, inner).float_field(3, 1.0f).fixed64_field(4, 5);
  for (std::size_t n = 0; n < w.b.size(); ++n) {
    std::string err;
    const auto fields = all_fields(w.span().first(n), &err);
    // A prefix ending exactly between fields parses; any other one must say what broke.
    const bool at_boundary = n == 0 || n == 4 || n == 4 + 2 + inner.b.size() || n == w.b.size() - 9;
    CHECK(err.empty() == at_boundary);
  }
}
}
