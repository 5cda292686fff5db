// The JSON and UBJSON readers: correct values, exact floats, one tape for both formats, a
// tape bounded by the input's size, and clean errors (never a crash or a large allocation)
// on malformed, truncated, deep or size-lying input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tessera/io/json.hpp"
#include "tessera/io/ubjson.hpp"

using namespace tessera;
using io::json_kind;

namespace {

// UBJSON byte builders (big-endian).
struct ub {
  std::vector<std::uint8_t> b;
  ub& c(char ch) { b.push_back(static_cast<std::uint8_t>(ch)); return *this; }
  ub& u8(std::uint8_t v) { b.push_back(v); return *this; }
  ub& be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  ub& f32(float f) {
    std::uint32_t r;
    std::memcpy(&r, &f, 4);
    return be(r, 4);
  }
  ub& key(const std::string& k) {  // short key: 'i' length
    c('i').u8(static_cast<std::uint8_t>(k.size()));
    for (char ch : k) c(ch);
    return *this;
  }
  std::span<const std::uint8_t> span() const { return b; }
};

}  // namespace

TEST_SUITE("io/json") {
  TEST_CASE("parses values of every kind") {
    const char* text = R"( {"a": [1, 2.5, -3e2], "b": {"c": "x\ty\u00e9\ud83d\ude00", "k": "plain"}, "d": [true, null, "s"],
                           "e": [], "f": false, "g": NaN, "h": -Infinity} )";
    auto doc = io::parse_json(text);
    REQUIRE(doc.ok());
    const io::json_ref v = doc->root();
    const io::json_ref a = v.find("a");
    REQUIRE(a);
    CHECK(a.kind() == json_kind::array);
    CHECK(a.numbers_only());
    REQUIRE(a.size() == 3);
    CHECK(a[1].number() == 2.5);
    CHECK(a[2].number() == -300.0);
    CHECK(!a[3]);
    const io::json_ref c = v.find("b").find("c");
    REQUIRE(c);
    CHECK(c.str() == "x\ty\xC3\xA9\xF0\x9F\x98\x80");
    // A string without escapes is a view of the input, not a copy.
    const std::string_view plain = v.find("b").find("k").str();
    CHECK(plain == "plain");
    CHECK(plain.data() > text);
    CHECK(plain.data() < text + std::strlen(text));
    const io::json_ref d = v.find("d");
    CHECK(d.kind() == json_kind::array);
    CHECK(!d.numbers_only());
    CHECK(d[0].boolean());
    CHECK(d[1].is_null());
    CHECK(d[2].str() == "s");
    CHECK(v.find("e").size() == 0);
    CHECK(v.find("e").numbers_only());
    CHECK(!v.find("f").boolean());
    CHECK(v.find("f").is_boolean());
    CHECK(std::isnan(v.find("g").number()));
    CHECK(v.find("h").number() == -INFINITY);
    CHECK(!v.find("missing"));
    CHECK(v.find("missing").is_null());
    CHECK(v.size() == 7);
  }

  TEST_CASE("iteration visits members and elements in file order, skipping subtrees") {
    auto doc = io::parse_json(R"({"x": [[1, [2, 3]], {"y": {"z": [4]}}, 5], "x": 6, "w": {}})");
    REQUIRE(doc.ok());
    std::vector<std::string> keys;
    for (const auto [key, value] : doc->root().members()) keys.emplace_back(key);
    CHECK(keys == std::vector<std::string>{"x", "x", "w"});
    const io::json_ref x = doc->root().find("x");  // the first of two
    REQUIRE(x.size() == 3);
    std::vector<json_kind> kinds;
    for (const io::json_ref e : x.elements()) kinds.push_back(e.kind());
    CHECK(kinds == std::vector<json_kind>{json_kind::array, json_kind::object, json_kind::number});
    CHECK(x[2].number() == 5.0);  // indexing past subtrees
    CHECK(x[1].find("y").find("z")[0].number() == 4.0);
    CHECK(x[0][1][1].number() == 3.0);
    CHECK(doc->root().find("w").is_object());
    CHECK(doc->root().find("w").size() == 0);
    CHECK(doc->root().find("w").members().begin() == doc->root().find("w").members().end());
    // Values of another kind have empty ranges and no elements.
    CHECK(x[2].elements().begin() == x[2].elements().end());
    CHECK(!x[2][0]);
    CHECK(!x.find("y"));
  }

  TEST_CASE("numbers keep an exact float alongside the double") {
    // 0.1 as a float is not the double 0.1 rounded: check both are kept exactly.
    auto doc = io::parse_json("[0.1, 4.9174237E-1, 16777217, 1e-46]");
    REQUIRE(doc.ok());
    const io::json_ref v = doc->root();
    CHECK(v[0].number() == 0.1);
    CHECK(v[0].number_f32() == 0.1f);
    CHECK(v[1].number_f32() == 4.9174237E-1f);
    CHECK(v[2].number() == 16777217.0);
    CHECK(v[2].number_f32() == 16777216.0f);
    CHECK(v[3].number_f32() == 0.0f);
  }

  TEST_CASE("a mixed array is read element by element") {
    auto doc = io::parse_json(R"([1, 2, "three", 4, true])");
    REQUIRE(doc.ok());
    const io::json_ref v = doc->root();
    CHECK(v.kind() == json_kind::array);
    CHECK(!v.numbers_only());
    REQUIRE(v.size() == 5);
    CHECK(v[1].number() == 2.0);
    CHECK(v[3].number() == 4.0);
    auto n = io::array_number(v, 3, "t");
    REQUIRE(n.ok());
    CHECK(*n == 4.0);
    CHECK(*io::array_number(v, 4, "t") == 1.0);
    CHECK(!io::array_number(v, 2, "t").ok());
    CHECK(!io::array_number(v, 9, "t").ok());
    CHECK(io::array_number(v, 2, "t").err().message == "t: element 2 is not a number");
    CHECK(*io::array_integer(v, 1, 0, 5, "t") == 2);
    CHECK(!io::array_integer(v, 1, 3, 5, "t").ok());
  }

  TEST_CASE("number_or_string reads XGBoost's quoted numbers") {
    auto doc = io::parse_json(R"({"a": "5E-1", "b": "[3E-1]", "c": "0x10", "d": "1e5x", "e": 7, "f": [0.25], "g": [true],
                                  "h": ["1"], "i": [1, 2]})");
    REQUIRE(doc.ok());
    const io::json_ref v = doc->root();
    float f = 0;
    CHECK(*io::number_or_string(v.find("a"), "a", &f) == 0.5);
    CHECK(f == 0.5f);
    CHECK(*io::number_or_string(v.find("b"), "b", &f) == 0.3);
    CHECK(f == 0.3f);
    CHECK(!io::number_or_string(v.find("c"), "c").ok());
    CHECK(!io::number_or_string(v.find("d"), "d").ok());
    CHECK(*io::number_or_string(v.find("e"), "e") == 7.0);
    CHECK(*io::number_or_string(v.find("f"), "f", &f) == 0.25);
    CHECK(f == 0.25f);
    for (const char* k : {"g", "h", "i", "missing"}) CHECK(!io::number_or_string(v.find(k), k).ok());
  }

  TEST_CASE("malformed documents are parse errors") {
    const char* bad[] = {"", "   ", "{", "}", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "[01]", "[1.]",
                         "[.5]", "[1e]", "[-]", "[+1]", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
                         "\"\\udc00\"", "tru", "nul", "[1] [2]", "[\"a\tb\"]", "{\"a\":1,}", "[NaNa]",
                         "[1e99999999999999999999999999999999999999999999999]x"};
    for (const char* s : bad) {
      INFO("input: ", s);
      auto v = io::parse_json(s);
      CHECK(!v.ok());
      if (!v.ok()) CHECK(v.err().code == errc::parse_error);
    }
  }

  TEST_CASE("nesting depth is capped") {
    std::string deep(100000, '[');
    auto v = io::parse_json(deep);
    CHECK(!v.ok());
    std::string ok_depth = std::string(50, '[') + std::string(50, ']');
    CHECK(io::parse_json(ok_depth).ok());
    io::json_limits tight;
    tight.max_depth = 10;
    CHECK(!io::parse_json(ok_depth, tight).ok());
  }

  TEST_CASE("overlong number tokens are refused") {
    std::string s = "[" + std::string(600, '1') + "]";
    CHECK(!io::parse_json(s).ok());
  }
}

TEST_SUITE("io/ubjson") {
  TEST_CASE("parses XGBoost-style objects and typed arrays") {
    ub u;
    u.c('{').key("name").c('S').c('i').u8(3).c('a').c('b').c('c');
    u.key("xs").c('[').c('$').c('d').c('#').c('L').be(3, 8).f32(0.1f).f32(-2.5f).f32(1e30f);
    u.key("ids").c('[').c('$').c('l').c('#').c('i').u8(2).be(static_cast<std::uint32_t>(-1), 4).be(7, 4);
    u.key("mixed").c('[').c('U').u8(200).c('I').be(0xFFFE, 2).c('T').c('Z').c(']');
    u.key("nums").c('[').c('#').c('i').u8(2).c('D').be(0x3FF8000000000000ull, 8).c('i').u8(0xFF);
    u.key("obj").c('{').c('#').c('i').u8(1).key("k").c('F');
    u.key("hp").c('H').c('i').u8(4).c('1').c('.').c('2').c('5');
    u.c('}');
    auto doc = io::parse_ubjson(u.span());
    INFO(doc.what());
    REQUIRE(doc.ok());
    const io::json_ref v = doc->root();
    CHECK(v.find("name").str() == "abc");
    const io::json_ref xs = v.find("xs");
    REQUIRE(xs.numbers_only());
    REQUIRE(xs.size() == 3);
    CHECK(xs[0].number_f32() == 0.1f);
    CHECK(xs[0].number() == static_cast<double>(0.1f));
    CHECK(xs[2].number_f32() == 1e30f);
    const io::json_ref ids = v.find("ids");
    CHECK(ids[0].number() == -1.0);
    CHECK(ids[1].number() == 7.0);
    const io::json_ref mixed = v.find("mixed");
    REQUIRE(mixed.kind() == json_kind::array);
    CHECK(!mixed.numbers_only());
    CHECK(mixed[0].number() == 200.0);
    CHECK(mixed[1].number() == -2.0);
    CHECK(mixed[2].boolean());
    CHECK(mixed[3].is_null());
    const io::json_ref nums = v.find("nums");
    REQUIRE(nums.numbers_only());
    CHECK(nums[0].number() == 1.5);
    CHECK(nums[1].number() == -1.0);
    CHECK(v.find("obj").find("k").is_boolean());
    CHECK(v.find("obj").find("k").boolean() == false);
    CHECK(v.find("hp").number() == 1.25);
  }

  TEST_CASE("declared sizes larger than the input fail before allocating") {
    // 2^60 float32 values declared, 4 bytes present.
    ub a;
    a.c('[').c('$').c('d').c('#').c('L').be(std::uint64_t{1} << 60, 8).f32(1.0f);
    auto v = io::parse_ubjson(a.span());
    REQUIRE(!v.ok());
    CHECK(v.err().message.find("exceeds") != std::string::npos);
    // Negative count.
    ub b;
    b.c('[').c('#').c('l').be(0xFFFFFFFFu, 4);
    CHECK(!io::parse_ubjson(b.span()).ok());
    // Huge string length.
    ub s;
    s.c('S').c('L').be(std::uint64_t{1} << 62, 8).c('x');
    CHECK(!io::parse_ubjson(s.span()).ok());
    // Huge key length.
    ub k;
    k.c('{').c('L').be(0x7FFFFFFFFFFFFFFFull, 8);
    CHECK(!io::parse_ubjson(k.span()).ok());
    // Counted object with more members than bytes.
    ub o;
    o.c('{').c('#').c('l').be(1000000, 4).key("a").c('T');
    CHECK(!io::parse_ubjson(o.span()).ok());
    // Zero-width typed container would allow billions of elements from a few bytes.
    ub z;
    z.c('[').c('$').c('Z').c('#').c('L').be(std::uint64_t{1} << 40, 8);
    CHECK(!io::parse_ubjson(z.span()).ok());
  }

  TEST_CASE("malformed and truncated input is an error") {
    ub good;
    good.c('{').key("a").c('[').c('$').c('d').c('#').c('i').u8(2).f32(1.0f).f32(2.0f).key("b").c('S').c('i').u8(2)
        .c('h').c('i').c('}');
    REQUIRE(io::parse_ubjson(good.span()).ok());
    for (std::size_t n = 0; n < good.b.size(); ++n) {
      INFO("prefix ", n);
      CHECK(!io::parse_ubjson(std::span<const std::uint8_t>(good.b.data(), n)).ok());
    }
    std::vector<std::vector<std::uint8_t>> bad = {
        {'X'}, {'['}, {'[', '$'}, {'[', '$', 'd'}, {'[', '$', 'd', 'x'}, {'{', 'S'}, {'i'}, {'S', 'd'},
        {'}'}, {'T', 'T'}, {'[', '#', 'd', 0, 0, 0, 0}};
    for (const auto& b : bad) CHECK(!io::parse_ubjson(b).ok());
  }

  TEST_CASE("nesting depth is capped") {
    std::vector<std::uint8_t> deep(100000, '[');
    CHECK(!io::parse_ubjson(deep).ok());
  }
}
