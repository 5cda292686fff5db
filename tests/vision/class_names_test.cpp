// tessera/vision/class_names.hpp: names files and Ultralytics' Python-dict metadata, and the
// hostile inputs both must refuse with a message (never a crash or an allocation sized by a key).
#include <doctest/doctest.h>

#include <tessera/vision/class_names.hpp>

#include "support/harness.hpp"

#include <string>
#include <vector>

using namespace tessera;
using namespace tessera::vision;

namespace {
std::vector<std::string> names(std::string_view text) { return test::must(parse_class_names(text)); }
errc failure(std::string_view text) {
  auto r = parse_class_names(text);
  if (r.ok()) return errc::ok;
  CHECK(r.err().message.find("class names") != std::string::npos);
  return r.err().code;
}
}  // namespace

TEST_SUITE("vision/class_names") {

TEST_CASE("names files: one per line, CRLF, spaces, BOM and trailing blank lines") {
  CHECK(names("person\nbicycle\ncar\n") == std::vector<std::string>{"person", "bicycle", "car"});
  CHECK(names("\xEF\xBB\xBFperson\r\ntraffic light \r\n\r\n\n") == std::vector<std::string>{"person", "traffic light"});
  CHECK(names("caf\xC3\xA9") == std::vector<std::string>{"caf\xC3\xA9"});
  CHECK(failure("person\n\ncar\n") == errc::parse_error);  // a hole would shift every later id
  CHECK(failure("") == errc::parse_error);
  CHECK(failure("\n\n") == errc::parse_error);
  CHECK(failure("per\x01son\n") == errc::parse_error);
  CHECK(failure("caf\xC3(\n") == errc::parse_error);  // invalid UTF-8
  CHECK(failure(std::string(max_class_name_bytes + 1, 'a')) == errc::parse_error);
}

TEST_CASE("Ultralytics metadata: Python dict literal with both quote styles and escapes") {
  CHECK(names("{0: 'person', 1: 'bicycle', 2: 'car'}") == std::vector<std::string>{"person", "bicycle", "car"});
  // str() of a dict: double quotes around a name with an apostrophe; \x, \u, \U escapes.
  CHECK(names("{1: \"teddy's bear\", 0: 'caf\\xe9', 2: '\\u732b', 3: '\\U0001F600', 4: 'a\\\\b\\'c'}") ==
        std::vector<std::string>{"caf\xC3\xA9", "teddy's bear", "\xE7\x8C\xAB", "\xF0\x9F\x98\x80", "a\\b'c"});
  CHECK(names("  {\n 0 : 'x' ,\n 1:'y',\n}\n") == std::vector<std::string>{"x", "y"});  // spacing, trailing comma
  CHECK(names("{\"0\": \"person\", \"1\": \"dog\"}") == std::vector<std::string>{"person", "dog"});  // JSON
}

TEST_CASE("hostile dicts are refused with a message") {
  CHECK(failure("{0: 'a', 1000000000: 'b'}") == errc::parse_error);  // key past the entry count
  CHECK(failure("{0: 'a', 99999999999999999999: 'b'}") == errc::parse_error);
  CHECK(failure("{0: 'a', 2: 'b'}") == errc::parse_error);  // a gap
  CHECK(failure("{0: 'a', 0: 'b'}") == errc::parse_error);  // a duplicate
  CHECK(failure("{-1: 'a'}") == errc::parse_error);
  CHECK(failure("{0: 'a'") == errc::parse_error);
  CHECK(failure("{0: 'a} ") == errc::parse_error);
  CHECK(failure("{0: 'a\\") == errc::parse_error);
  CHECK(failure("{0: 'a\\x4'}") == errc::parse_error);
  CHECK(failure("{0: 'a\\ud800'}") == errc::parse_error);  // a lone surrogate
  CHECK(failure("{0: 'a\\U00110000'}") == errc::parse_error);
  CHECK(failure("{0: 'a\\n'}") == errc::parse_error);  // control character
  CHECK(failure("{0: ''}") == errc::parse_error);
  CHECK(failure("{0: 'a'} trailing") == errc::parse_error);
  CHECK(failure("{}") == errc::parse_error);
  CHECK(failure("{0: 'a' 1: 'b'}") == errc::parse_error);
  CHECK(failure("{0 'a'}") == errc::parse_error);
  CHECK(failure("{0: a}") == errc::parse_error);
  CHECK(failure("{0: 'a\nb'}") == errc::parse_error);
  std::string huge = "{";
  for (std::size_t i = 0; i <= max_class_count; ++i) huge += std::to_string(i) + ":'c',";
  CHECK(failure(huge + "}") == errc::parse_error);
  // Every prefix of a valid dict is refused, never read past its end.
  const std::string ok = "{0: 'person', 1: \"o'k\", 2: '\\xe9\\u732b'}";
  for (std::size_t n = 0; n < ok.size(); ++n) CHECK(failure(ok.substr(0, n)) != errc::ok);
}

TEST_CASE("class_label falls back to the id") {
  const std::vector<std::string> n = {"person"};
  CHECK(class_label(n, 0) == "person");
  CHECK(class_label(n, 3) == "3");
  CHECK(class_label(n, -1) == "-1");
}

TEST_CASE("load_class_names reads a file, and names the file in errors") {
  const std::string path = std::string(TESSERA_SOURCE_DIR) + "/tests/vision/data/does-not-exist.names";
  CHECK(load_class_names(path).err().code == errc::io_error);
}

}  // TEST_SUITE
