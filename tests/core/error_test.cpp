#include <tessera/core/error.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>

using namespace tessera;

namespace {
expected<int> parse_positive(int v) {
  if (v <= 0) return make_error(errc::invalid_argument, "want a positive number, got " + std::to_string(v));
  return v;
}
expected<int> doubled(int v) {
  TESSERA_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}
status check_both(int a, int b) {
  TESSERA_TRY(parse_positive(a));
  TESSERA_TRY(parse_positive(b));
  return {};
}
}  // namespace

TEST_SUITE("core/error") {
  TEST_CASE("expected carries a value or an error with a message") {
    auto ok = parse_positive(3);
    REQUIRE(ok.has_value());
    CHECK(*ok == 3);
    auto bad = parse_positive(-1);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.err().code == errc::invalid_argument);
    CHECK(bad.what() == "invalid argument: want a positive number, got -1");
  }

  TEST_CASE("TESSERA_TRY and TESSERA_ASSIGN_OR_RETURN propagate the first failure") {
    CHECK(*doubled(4) == 8);
    CHECK(doubled(0).err().code == errc::invalid_argument);
    CHECK(check_both(1, 2).ok());
    status s = check_both(1, -5);
    CHECK_FALSE(s.ok());
    CHECK(s.message().find("-5") != std::string::npos);
  }

  TEST_CASE("expected holds move-only values and copies/moves correctly") {
    expected<std::unique_ptr<int>> p = std::make_unique<int>(7);
    REQUIRE(p.ok());
    std::unique_ptr<int> taken = std::move(p).value();
    CHECK(*taken == 7);
    expected<std::string> a = std::string("x");
    expected<std::string> b = make_error(errc::parse_error, "bad");
    b = a;
    CHECK(*b == "x");
    a = make_error(errc::io_error, "gone");
    CHECK_FALSE(a.ok());
    CHECK(a.err().code == errc::io_error);
  }

  TEST_CASE("an error built with errc::ok is still an error") {
    expected<int> e = error{errc::ok, ""};
    CHECK_FALSE(e.ok());
  }
}
