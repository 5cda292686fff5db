// The token tape behind both readers: its memory stays within the stated bound (16 bytes a
// token, at most one token and one unescaped byte per input byte) on hostile inputs, UBJSON
// typed arrays stay packed in the input, and JSON and UBJSON spellings of one document read
// the same.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "tessera/io/json.hpp"
#include "tessera/io/ubjson.hpp"

using namespace tessera;

namespace {

// The guarantee of json_tape.hpp, for an input of n bytes.
std::size_t tape_bound(std::size_t n) { return 16 * (n > 0 ? n : 1) + n; }

// A canonical text of a value, written through json_ref only.
void dump(io::json_ref v, std::string& out) {
  switch (v.kind()) {
    case io::json_kind::null: out += "null"; break;
    case io::json_kind::boolean: out += v.boolean() ? "true" : "false"; break;
    case io::json_kind::number: out += std::to_string(v.number()) + "/" + std::to_string(v.number_f32()); break;
    case io::json_kind::string: out += "\"" + std::string(v.str()) + "\""; break;
    case io::json_kind::array:
      out += v.numbers_only() ? "#[" : "[";
      for (const io::json_ref e : v.elements()) dump(e, out), out += ",";
      out += "]" + std::to_string(v.size());
      break;
    case io::json_kind::object:
      out += "{";
      for (const auto [key, value] : v.members()) out += std::string(key) + ":", dump(value, out), out += ",";
      out += "}" + std::to_string(v.size());
      break;
  }
}

std::string dump(io::json_ref v) {
  std::string s;
  dump(v, s);
  return s;
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A JSON array of `count` copies of `element`.
std::string repeated(const std::string& element, std::size_t count) {
  std::string s = "[";
  s.reserve(count * (element.size() + 1) + 2);
  for (std::size_t i = 0; i < count; ++i) s += (i ? "," : "") + element;
  return s + "]";
}

// Appends a literal's bytes, NULs included.
template <std::size_t N>
void append_raw(std::string& s, const char (&literal)[N]) {
  s.append(literal, N - 1);
}

template <class S>
concept parses_json = requires(S&& s) { io::parse_json(std::forward<S>(s)); };

}  // namespace

TEST_SUITE("io/json_tape") {
  TEST_CASE("a document cannot be parsed from a temporary string it would point into") {
    static_assert(!parses_json<std::string>);
    static_assert(!parses_json<const std::string>);
    static_assert(parses_json<std::string&>);
    static_assert(parses_json<const std::string&>);
    static_assert(parses_json<const char*>);
    static_assert(parses_json<std::string_view>);
    static_assert(std::forward_iterator<io::json_ref::element_iterator>);
    static_assert(std::forward_iterator<io::json_ref::member_iterator>);
  }

  TEST_CASE("20 MB of nulls: one 16-byte token per null") {
    const std::string text = repeated("null", 4'000'000);  // 20 MB
    auto doc = io::parse_json(text);
    REQUIRE(doc.ok());
    CHECK(doc->tokens() == 4'000'001);
    CHECK(doc->root().size() == 4'000'000);
    CHECK(doc->root()[3'999'999].is_null());
    MESSAGE("tape of 20 MB of nulls: ", doc->memory_bytes(), " bytes (", double(doc->memory_bytes()) / text.size(),
            " x the input)");
    CHECK(doc->memory_bytes() <= tape_bound(text.size()));
    // The tape is sized from a scan of the input before parsing: exactly, here.
    CHECK(doc->memory_bytes() == 16 * doc->tokens());
  }

  TEST_CASE("the densest inputs stay within 16 bytes per input byte") {
    // One token per two bytes (the densest array), empty containers, short keys, a bare number.
    for (const std::string& text : {repeated("0", 1'000'000), repeated("[]", 500'000), repeated("{}", 500'000),
                                    repeated("{\"\":0}", 200'000), std::string("7"), std::string("[]")}) {
      auto doc = io::parse_json(text);
      REQUIRE(doc.ok());
      CHECK(doc->tokens() <= text.size());
      CHECK(doc->memory_bytes() <= tape_bound(text.size()));
    }
    // UBJSON: an array of nulls has one token per input byte.
    const std::size_t n = 1'000'000;
    const std::string ub = "[" + std::string(n, 'Z') + "]";
    auto doc = io::parse_ubjson(bytes_of(ub));
    REQUIRE(doc.ok());
    CHECK(doc->root().size() == n);
    CHECK(doc->root()[n - 1].is_null());
    CHECK(doc->tokens() == n + 1);
    CHECK(doc->memory_bytes() == 16 * doc->tokens());  // a counting pass sizes the tape exactly
    CHECK(doc->memory_bytes() <= tape_bound(ub.size()));
  }

  TEST_CASE("deep nesting up to the cap stays within the bound; beyond it fails") {
    const std::string nest = std::string(128, '[') + std::string(128, ']');
    const std::string text = repeated(nest, 4000);  // 1 MB of depth-129 arrays
    auto doc = io::parse_json(text);
    REQUIRE(doc.ok());
    CHECK(doc->tokens() == 1 + 4000 * 128);
    CHECK(doc->memory_bytes() <= tape_bound(text.size()));
    // Skipping a deep subtree is one step: element 3999 is found past 3999 subtrees.
    io::json_ref e = doc->root()[3999];
    for (int d = 1; d < 128; ++d) e = e[0];
    CHECK(e.is_array());
    CHECK(e.size() == 0);
    const std::string too_deep = std::string(130, '[') + std::string(130, ']');
    CHECK(!io::parse_json(too_deep).ok());
    const std::vector<std::uint8_t> ub(130, '[');
    CHECK(!io::parse_ubjson(ub).ok());
  }

  TEST_CASE("escaped strings use the shared buffer, at most one byte per input byte") {
    const std::string text = repeated("\"\\n\\u00e9\\ud83d\\ude00x\"", 50'000);
    auto doc = io::parse_json(text);
    REQUIRE(doc.ok());
    CHECK(doc->root()[49'999].str() == "\n\xC3\xA9\xF0\x9F\x98\x80x");
    CHECK(doc->memory_bytes() <= tape_bound(text.size()));
  }

  TEST_CASE("UBJSON typed numeric arrays are one packed token read in place") {
    // 1'000'000 int16 values i - 500'000 (wrapping), then 3 float32 and 2 float64 values.
    std::string ub = "{i\x01" "a[$I#l";
    const std::uint32_t n = 1'000'000;
    for (int i = 3; i >= 0; --i) ub += static_cast<char>((n >> (8 * i)) & 0xFF);
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto v = static_cast<std::uint16_t>(static_cast<std::int16_t>(i - 500'000));
      ub += static_cast<char>(v >> 8), ub += static_cast<char>(v & 0xFF);
    }
    append_raw(ub, "i\x01" "f[$d#i\x03" "\x3D\xCC\xCC\xCD" "\xC0\x20\x00\x00" "\x7F\xC0\x00\x00");
    append_raw(ub, "i\x01" "g[$D#i\x02" "\x3F\xB9\x99\x99\x99\x99\x99\x9A" "\xC0\x00\x00\x00\x00\x00\x00\x00}");
    auto doc = io::parse_ubjson(bytes_of(ub));
    INFO(doc.what());
    REQUIRE(doc.ok());
    CHECK(doc->tokens() == 7);  // object, three keys, three packed arrays
    const io::json_ref a = doc->root().find("a");
    REQUIRE(a.size() == n);
    CHECK(a.numbers_only());
    CHECK(a[0].is_number());
    CHECK(a[0].number() == static_cast<std::int16_t>(static_cast<std::uint16_t>(-500'000 & 0xFFFF)));
    std::size_t i = 0;
    bool all_match = true;
    for (const io::json_ref e : a.elements()) {
      const double want = static_cast<std::int16_t>(static_cast<std::uint16_t>((i++ - 500'000) & 0xFFFF));
      all_match = all_match && e.number() == want && e.number_f32() == static_cast<float>(want) && !e[0] && e.size() == 0;
    }
    CHECK(all_match);
    CHECK(i == n);
    const io::json_ref f = doc->root().find("f");
    REQUIRE(f.size() == 3);
    CHECK(f[0].number_f32() == 0.1f);
    CHECK(f[0].number() == static_cast<double>(0.1f));
    CHECK(f[1].number() == -2.5);
    CHECK(std::isnan(f[2].number()));
    CHECK(!f[3]);
    const io::json_ref g = doc->root().find("g");
    CHECK(g[0].number() == 0.1);
    CHECK(g[0].number_f32() == 0.1f);
    CHECK(g[1].number() == -2.0);
    CHECK(*io::array_integer(a, 500'000, -1, 1, "a") == 0);
  }

  TEST_CASE("JSON and UBJSON spellings of a document give the same tape") {
    const std::string json = R"({"s": "abc", "n": [1, -2, 300, 1.5], "t": true, "f": false, "z": null,
                                 "o": {"k": [], "m": [{}, "x"]}, "p": [7, 8], "e": {}})";
    // The same document in UBJSON, using every container form: typed, counted and plain.
    std::string ub = "{";
    auto raw = [&]<std::size_t N>(const char (&literal)[N]) { append_raw(ub, literal); };
    auto key = [&](const char* k) { ub += 'i', ub += static_cast<char>(std::strlen(k)), ub += k; };
    key("s"), raw("Si\x03" "abc");
    key("n"), raw("[#i\x04" "i\x01" "i\xFE" "I\x01\x2C" "d\x3F\xC0\x00\x00");
    key("t"), raw("T");
    key("f"), raw("F");
    key("z"), raw("Z");
    key("o"), raw("{#i\x02"), key("k"), raw("[#i\x00"), key("m"), raw("[{}SU\x01x]");
    key("p"), raw("[$U#i\x02\x07\x08");  // a packed array: the same values, fewer tokens
    key("e"), raw("{}");
    raw("}");
    auto from_json = io::parse_json(json);
    auto from_ubjson = io::parse_ubjson(bytes_of(ub));
    INFO(from_ubjson.what());
    REQUIRE(from_json.ok());
    REQUIRE(from_ubjson.ok());
    CHECK(dump(from_json->root()) == dump(from_ubjson->root()));
    CHECK(from_json->tokens() == from_ubjson->tokens() + 2);
  }
}
