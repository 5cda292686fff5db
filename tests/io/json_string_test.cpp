// io/json_string.hpp: the one JSON string writer. Valid text round-trips through tessera's
// JSON reader; arbitrary bytes (a hostile model's names) always give valid UTF-8 JSON.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "tessera/io/json.hpp"
#include "tessera/io/json_string.hpp"

using namespace tessera;

namespace {

// Valid UTF-8 and no raw control byte: what a strict JSON reader accepts in a string.
bool is_json_safe_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = io::utf8_sequence(s, i);
    if (n == 0 || (n == 1 && static_cast<unsigned char>(s[i]) < 0x20)) return false;
    i += n;
  }
  return true;
}

std::string read_back(const std::string& literal) {
  auto doc = io::parse_json(literal);
  REQUIRE_MESSAGE(doc.ok(), doc.what());
  REQUIRE(doc->root().is_string());
  return std::string(doc->root().str());
}

}  // namespace

TEST_SUITE("io/json_string") {
  TEST_CASE("escapes quotes, backslashes and control bytes; valid UTF-8 passes through") {
    CHECK(io::json_quote("plain") == "\"plain\"");
    CHECK(io::json_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(io::json_quote("l1\nl2\tx\r") == "\"l1\\nl2\\tx\\r\"");
    CHECK(io::json_quote(std::string_view("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\\u007f\"");
    const std::string valid = "caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80";  // é, 中, an emoji
    CHECK(io::json_quote(valid) == "\"" + valid + "\"");
    for (const std::string& s : {std::string("plain"), std::string("a\"b\\c"), std::string("l1\nl2\tx\r"), valid,
                                std::string("\0\x01\x7f", 3)})
      CHECK(read_back(io::json_quote(s)) == s);
  }

  TEST_CASE("each byte that starts no valid sequence becomes U+FFFD") {
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(io::json_quote("\x80") == "\"" + fffd + "\"");                        // stray continuation
    CHECK(io::json_quote("\xC0\x80") == "\"" + fffd + fffd + "\"");             // overlong NUL
    CHECK(io::json_quote("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\"");  // a surrogate
    CHECK(io::json_quote("\xF5\x80\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // past U+10FFFF
    CHECK(io::json_quote("ok\xE4\xB8") == "\"ok" + fffd + fffd + "\"");         // cut by the end
    CHECK(io::json_quote("\xE4\xB8x") == "\"" + fffd + fffd + "x\"");           // cut by an ASCII byte
  }

  TEST_CASE("random bytes always give valid JSON whose text is the input where it was valid") {
    std::mt19937 rng(7);
    for (int t = 0; t < 2000; ++t) {
      std::string s(rng() % 24, '\0');
      for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? 0x80 + rng() % 0x80 : rng() % 0x100);
      const std::string lit = io::json_quote(s);
      INFO(t);
      REQUIRE(is_json_safe_utf8(lit));
      const std::string back = read_back(lit);
      bool back_valid = true;  // decoded text: valid UTF-8 (control characters allowed)
      for (std::size_t i = 0; i < back.size() && back_valid;) {
        const std::size_t n = io::utf8_sequence(back, i);
        back_valid = n != 0;
        i += n;
      }
      CHECK(back_valid);
      bool all_valid = true;
      for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = io::utf8_sequence(s, i);
        all_valid = all_valid && n != 0;
        i += n ? n : 1;
      }
      if (all_valid) CHECK(back == s);
    }
  }
}
