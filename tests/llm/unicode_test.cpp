// The Unicode tables against the Unicode Character Database itself (parsed here, when
// Debian's unicode-data is installed), and strict UTF-8 decoding.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/llm/unicode.hpp"
#include "tokenizer_support.hpp"

namespace {

using namespace tessera::llm;

const char* const kCategoryNames[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
                                      "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};

int category_index(const std::string& name) {
  for (int i = 0; i < 30; ++i)
    if (name == kCategoryNames[i]) return i;
  return -1;
}

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> f;
  std::size_t start = 0;
  for (std::size_t semi; (semi = line.find(';', start)) != std::string::npos; start = semi + 1) f.push_back(line.substr(start, semi - start));
  f.push_back(line.substr(start));
  return f;
}

std::vector<std::uint32_t> decompose(std::uint32_t cp) {
  std::vector<std::uint32_t> out;
  unicode::append_canonical_decomposition(out, cp);
  return out;
}

}  // namespace

TEST_SUITE("llm/unicode") {
  TEST_CASE("categories, lower-case mappings and decompositions agree with UnicodeData.txt") {
    const auto data = tessera::test::read_text_file("/usr/share/unicode/UnicodeData.txt");
    if (!data) {
      MESSAGE("/usr/share/unicode/UnicodeData.txt is absent (apt-get install unicode-data): skipped");
      return;
    }
    std::vector<std::int8_t> category(0x110000, 29);  // Cn unless listed
    std::vector<std::uint32_t> lower(0x110000);
    for (std::uint32_t cp = 0; cp < lower.size(); ++cp) lower[cp] = cp;
    std::vector<std::vector<std::uint32_t>> one_level(0x110000);
    std::uint32_t range_first = 0;
    for (const std::string& line : tessera::test::split_lines(*data)) {
      const auto f = fields(line);
      REQUIRE(f.size() >= 14);
      const std::uint32_t cp = std::uint32_t(std::stoul(f[0], nullptr, 16));
      const int cat = category_index(f[2]);
      REQUIRE(cat >= 0);
      if (f[1].find(", First>") != std::string::npos) {
        range_first = cp;
        continue;
      }
      const std::uint32_t first = f[1].find(", Last>") != std::string::npos ? range_first : cp;
      for (std::uint32_t c = first; c <= cp; ++c) category[c] = std::int8_t(cat);
      if (!f[13].empty()) lower[cp] = std::uint32_t(std::stoul(f[13], nullptr, 16));
      if (!f[5].empty() && f[5][0] != '<')
        for (std::size_t pos = 0; pos < f[5].size();) {
          std::size_t used = 0;
          one_level[cp].push_back(std::uint32_t(std::stoul(f[5].substr(pos), &used, 16)));
          pos += used + 1;
        }
    }
    int category_errors = 0, lower_errors = 0, decomposition_errors = 0;
    for (std::uint32_t cp = 0; cp < 0x110000; ++cp) {
      category_errors += int(unicode::general_category(cp)) != category[cp];
      lower_errors += unicode::to_lower(cp) != lower[cp];
      if (!one_level[cp].empty()) {
        std::vector<std::uint32_t> want;
        for (std::uint32_t part : one_level[cp]) {
          const auto d = decompose(part);
          want.insert(want.end(), d.begin(), d.end());
        }
        decomposition_errors += decompose(cp) != want;
      } else if (cp < 0xAC00 || cp > 0xD7A3) {
        decomposition_errors += decompose(cp) != std::vector<std::uint32_t>{cp};
      }
    }
    CHECK(category_errors == 0);
    CHECK(lower_errors == 0);
    CHECK(decomposition_errors == 0);
  }

  TEST_CASE("classes and decompositions of a few known characters") {
    CHECK(unicode::general_category('A') == unicode::category::lu);
    CHECK(unicode::general_category(0x1F999) == unicode::category::so);  // 🦙
    CHECK(unicode::general_category(0x10FFFF) == unicode::category::cn);
    CHECK(unicode::general_category(0x110000) == unicode::category::cn);
    CHECK(unicode::is_white_space(0x3000));
    CHECK(unicode::is_white_space(0x85));
    CHECK_FALSE(unicode::is_white_space(0x200B));  // zero width space is Cf, not White_Space
    CHECK(unicode::to_lower(0x130) == 'i');         // İ's simple mapping
    CHECK(unicode::to_lower(0x1E9E) == 0xDF);       // ẞ
    CHECK(unicode::to_lower(0x100) == 0x101);
    CHECK(unicode::to_lower(0x101) == 0x101);
    CHECK(decompose(0x1EC7) == std::vector<std::uint32_t>{'e', 0x323, 0x302});  // ệ
    CHECK(decompose(0xAC01) == std::vector<std::uint32_t>{0x1100, 0x1161, 0x11A8});  // 각
    CHECK(decompose(0xAC00) == std::vector<std::uint32_t>{0x1100, 0x1161});          // 가
  }

  TEST_CASE("strict UTF-8 decoding yields one unit per invalid byte") {
    struct sample {
      std::string bytes;
      std::vector<std::uint32_t> code_points;  // 0xFFFD for invalid units
      std::vector<bool> valid;
    };
    const std::vector<sample> samples = {
        {"a\xC3\xA9\xE2\x82\xAC\xF0\x9F\xA6\x99", {'a', 0xE9, 0x20AC, 0x1F999}, {true, true, true, true}},
        {"\xC0\x80", {0xFFFD, 0xFFFD}, {false, false}},                  // overlong NUL
        {"\xE0\x80\xAF", {0xFFFD, 0xFFFD, 0xFFFD}, {false, false, false}},  // overlong '/'
        {"\xED\xA0\x80", {0xFFFD, 0xFFFD, 0xFFFD}, {false, false, false}},  // surrogate
        {"\xF4\x90\x80\x80", {0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}, {false, false, false, false}},  // above U+10FFFF
        {"\x80x", {0xFFFD, 'x'}, {false, true}},                          // stray continuation
        {"\xE2\x82", {0xFFFD, 0xFFFD}, {false, false}},                  // truncated
        {"\xF8\x88\x80\x80\x80", {0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}, {false, false, false, false, false}},
    };
    for (const sample& s : samples) {
      CAPTURE(s.bytes);
      std::vector<std::uint32_t> cps;
      std::vector<bool> valid;
      for (std::size_t pos = 0; pos < s.bytes.size();) {
        const auto u = unicode::decode_utf8(s.bytes, pos);
        cps.push_back(u.code_point);
        valid.push_back(u.valid);
        pos += u.length;
      }
      CHECK(cps == s.code_points);
      CHECK(valid == s.valid);
    }
    // Every code point encodes and decodes back.
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x800 ? 1 : 97)) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      std::string s;
      unicode::append_utf8(s, cp);
      const auto u = unicode::decode_utf8(s, 0);
      REQUIRE((u.valid && u.code_point == cp && u.length == s.size()));
    }
  }

  TEST_CASE("incomplete_utf8_tail holds exactly the starts that can still complete") {
    CHECK(unicode::incomplete_utf8_tail("abc") == 0);
    CHECK(unicode::incomplete_utf8_tail("a\xE2") == 1);
    CHECK(unicode::incomplete_utf8_tail("a\xE2\x82") == 2);
    CHECK(unicode::incomplete_utf8_tail("a\xE2\x82\xAC") == 0);
    CHECK(unicode::incomplete_utf8_tail("\xF0\x9F\xA6") == 3);
    CHECK(unicode::incomplete_utf8_tail("\xF0\x9F\xA6\x99") == 0);
    CHECK(unicode::incomplete_utf8_tail("\xC0") == 0);      // can never be valid
    CHECK(unicode::incomplete_utf8_tail("\xED\xA0") == 0);  // a surrogate
    CHECK(unicode::incomplete_utf8_tail("\xE0\x80") == 0);  // overlong
    CHECK(unicode::incomplete_utf8_tail("\xF4\x90") == 0);  // above U+10FFFF
    CHECK(unicode::incomplete_utf8_tail("\x80\x80\x80") == 0);
  }
}
