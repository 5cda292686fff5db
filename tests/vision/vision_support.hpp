// Helpers shared by the tests of tessera/vision: random images and the JSON references that
// scripts/make_vision_reference.py writes.
#pragma once

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <tessera/vision/image.hpp>

#include <cstdint>
#include <fstream>
#include <string>

#include "support/harness.hpp"

namespace tessera::test {

inline vision::image_u8 random_image(int w, int h, int c, rng& g) {
  vision::image_u8 img = must(vision::image_u8::create(w, h, c));
  for (std::size_t i = 0; i < img.size_bytes(); ++i) img.data()[i] = static_cast<std::uint8_t>(g.next() & 0xff);
  return img;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  return nlohmann::json::parse(f, nullptr, false);
}

}  // namespace tessera::test
