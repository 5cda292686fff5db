#include <tessera/core/dtype.hpp>

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

using namespace tessera;

namespace {
// Reference f32 -> f16 by exhaustive search over the nearest halves (ties to even): slow but
// obviously right.
std::uint16_t reference_f16(float v) {
  if (std::isnan(v)) return 0x7e00;
  const double x = v;
  std::uint16_t best = 0;
  double best_err = INFINITY;
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN
    const double hv = f16::to_float(static_cast<std::uint16_t>(h));
    const double err = std::fabs(hv - x);
    if (err < best_err || (err == best_err && (h & 1) == 0 && std::signbit(hv) == std::signbit(x))) {
      best_err = err;
      best = static_cast<std::uint16_t>(h);
    }
  }
  // Values beyond the largest half round to infinity once past the halfway point 65520.
  if (std::fabs(x) >= 65520.0) return std::signbit(x) ? 0xfc00 : 0x7c00;
  return best;
}
}  // namespace

TEST_SUITE("core/dtype") {
  TEST_CASE("f16 round-trips every half exactly") {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
      const float f = f16::to_float(static_cast<std::uint16_t>(h));
      if (std::isnan(f)) {
        CHECK(std::isnan(f16::to_float(f16::from_float(f))));
        continue;
      }
      REQUIRE(f16::from_float(f) == h);
    }
  }

  TEST_CASE("f16 rounds floats to nearest even, subnormals and overflow included") {
    const float samples[] = {0.0f, -0.0f, 1.0f, 1.00048828125f /* tie */, 1.0009765625f, 3.14159f, 65504.0f,
                             65519.0f, 65520.0f, 1e6f, -1e6f, 5.96e-8f, 2.98e-8f /* tie at half the smallest */,
                             1e-9f, 6.1e-5f, 6.097555e-5f, -2.5e-6f, std::numeric_limits<float>::infinity()};
    for (float v : samples) {
      CAPTURE(v);
      CHECK(f16::from_float(v) == reference_f16(v));
    }
    // A sweep of pseudo-random floats over the half range.
    std::uint32_t state = 12345;
    for (int i = 0; i < 300; ++i) {
      state = state * 1664525u + 1013904223u;
      const float v = std::ldexp(static_cast<float>(state >> 8) / 16777216.0f, static_cast<int>(state % 40) - 26) *
                      ((state & 1) ? -1.0f : 1.0f);
      CAPTURE(v);
      CHECK(f16::from_float(v) == reference_f16(v));
    }
  }

  TEST_CASE("bf16 keeps the top half of a float with round-to-nearest-even") {
    CHECK(bf16::from_float(1.0f) == 0x3f80);
    CHECK(bf16::to_float(0x3f80) == 1.0f);
    // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even one (1.0).
    CHECK(bf16::from_float(1.00390625f) == 0x3f80);
    CHECK(bf16::from_float(1.01171875f) == 0x3f82);  // halfway, rounds up to even
    CHECK(std::isnan(bf16::to_float(bf16::from_float(std::nanf("")))));
    CHECK(bf16::to_float(bf16::from_float(-3.5f)) == -3.5f);
  }

  TEST_CASE("dtype traits describe element and block sizes") {
    CHECK(traits_of(dtype::f32).block_bytes == 4);
    CHECK(traits_of(dtype::q8_0).block_elements == 32);
    CHECK(traits_of(dtype::q8_0).block_bytes == 34);
    CHECK(traits_of(dtype::q4_0).block_bytes == 18);
    CHECK(traits_of(dtype::q4_k).block_elements == 256);
    CHECK(traits_of(dtype::q4_k).block_bytes == 144);
    CHECK(dtype_of<float> == dtype::f32);
    CHECK(dtype_of<const bf16> == dtype::bf16);
    CHECK(std::string(dtype_name(dtype::q4_k)) == "q4_k");
    CHECK(traits_of(dtype::q6_k).block_bytes == 210);
    CHECK(traits_of(dtype::q8_k).block_elements == 256);
    CHECK(dtype_of<block_q5_1> == dtype::q5_1);
  }
}
