// The hand-written pre-tokenizer matchers against a real regex engine: Python's `regex`
// module ran each model's regexes (the originals for Llama 3 and Qwen2) on random text
// (scripts/make_pretokenizer_fixtures.py); the pieces must be the same. This covers the
// pre-tokenizers whose vocabularies the conformance folder lacks (Llama 3, Qwen2, DeepSeek V3,
// Chameleon, BLOOM, Viking) as well as the others.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tokenizer_support.hpp"

TEST_SUITE("llm/tokenizer_pretokenize") {
  TEST_CASE("pieces match the regexes run by Python's regex module") {
    namespace tok = tessera::llm::detail::tok;
    const std::string cases = tessera::test::must_read(tessera::test::source_path("tests/llm/tokenizer_data/pretokenizer.cases"));
    const auto lines = tessera::test::split_lines(cases);
    REQUIRE(lines.size() % 3 == 0);
    std::map<std::string, std::pair<int, int>> results;  // name -> (passed, total)
    tok::pre_tokenizer_pipeline pipeline;
    std::vector<tok::text_unit> units;
    std::vector<tok::unit_range> pieces;
    for (std::size_t i = 0; i < lines.size(); i += 3) {
      const std::string& name = lines[i];
      const tok::pre_tokenizer_name* entry = nullptr;
      for (const auto& e : tok::pre_tokenizer_names)
        if (e.name == name) entry = &e;
      if (!entry) {  // (REQUIRE does not stop the test in a build without exceptions)
        FAIL_CHECK("no pre-tokenizer named " << name);
        continue;
      }
      std::string text;
      for (std::size_t k = 0; k + 1 < lines[i + 1].size(); k += 2) text += char(std::stoi(lines[i + 1].substr(k, 2), nullptr, 16));
      tok::decode_units(text, units);
      pipeline.split(entry->kind, units, pieces);
      std::vector<std::int32_t> got;
      for (const auto& p : pieces) got.push_back(std::int32_t(p.end - p.begin));
      const std::vector<std::int32_t> want = tessera::test::parse_ids(lines[i + 2]);
      INFO(name << " '" << text << "'\n  expected " << tessera::test::ids_to_string(want) << "\n  got      " << tessera::test::ids_to_string(got));
      CHECK(got == want);
      auto& r = results[name];
      r.first += got == want;
      ++r.second;
    }
    for (const auto& [name, r] : results) std::printf("pre-tokenizer vs regex: %-15s %d/%d\n", name.c_str(), r.first, r.second);
  }
}
