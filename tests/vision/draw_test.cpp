// tessera/vision/draw.hpp: outlines, clipping, the bitmap font, labelled detections.
#include <doctest/doctest.h>

#include <tessera/vision/draw.hpp>

#include "support/harness.hpp"

#include <limits>
#include <string>
#include <vector>

using namespace tessera;
using namespace tessera::vision;

namespace {
int count_colored(const image_u8& img) {
  int n = 0;
  for (int y = 0; y < img.height(); ++y)
    for (int x = 0; x < img.width(); ++x) n += img.view().pixel(x, y)[0] != 0 || img.view().pixel(x, y)[1] != 0;
  return n;
}
}  // namespace

TEST_SUITE("vision/draw") {

TEST_CASE("draw_rectangle draws the outline only, clipped to the image") {
  image_u8 img = test::must(image_u8::filled(20, 10, 3, 0));
  draw_rectangle(img.view(), 2, 3, 12, 8, {255, 0, 0}, 2);
  // Outline of a 10 x 5 rectangle two pixels thick: 50 - (6 x 1 inside) = 44 pixels.
  CHECK(count_colored(img) == 44);
  CHECK(img.view().pixel(2, 3)[0] == 255);
  CHECK(img.view().pixel(11, 7)[0] == 255);
  CHECK(img.view().pixel(5, 5)[0] == 0);   // inside
  CHECK(img.view().pixel(12, 3)[0] == 0);  // x2 is exclusive
  image_u8 small = test::must(image_u8::filled(8, 8, 3, 0));
  draw_rectangle(small.view(), -100, -100, 1000000, 1000000, {0, 255, 0}, 3);  // nothing of it visible
  CHECK(count_colored(small) == 0);
  draw_rectangle(small.view(), -2, -2, 4, 4, {0, 255, 0}, 1);
  CHECK(count_colored(small) == 7);  // the right and bottom edges inside: 4 + 4 - 1
}

TEST_CASE("draw_text renders the glyph bits, lowercase as uppercase, others as '?'") {
  image_u8 img = test::must(image_u8::filled(20, 9, 3, 0));
  draw_text(img.view(), 1, 1, "a", {255, 255, 255});
  // 'A': .###. / #...# / #...# / #...# / ##### / #...# / #...#
  const char* rows[] = {".###.", "#...#", "#...#", "#...#", "#####", "#...#", "#...#"};
  int wrong = 0;
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 5; ++x) wrong += (img.view().pixel(1 + x, 1 + y)[0] == 255) != (rows[y][x] == '#');
  CHECK(wrong == 0);
  CHECK(text_width("ab", 2) == 24);
  CHECK(text_width("\xC3\xA9", 1) == 6);  // one code point, one '?'
  image_u8 q = test::must(image_u8::filled(8, 9, 3, 0)), e = test::must(image_u8::filled(8, 9, 3, 0));
  draw_text(q.view(), 1, 1, "?", {255, 255, 255});
  draw_text(e.view(), 1, 1, "\xC3\xA9", {255, 255, 255});
  CHECK(std::equal(q.data(), q.data() + q.size_bytes(), e.data()));
  draw_text(img.view(), -3, -4, "TESSERA 0.87 %/()", {9, 9, 9}, 3);  // clipped, no crash
}

TEST_CASE("draw_detections: outlines in class colours with labels, on RGB, RGBA and gray") {
  const std::vector<std::string> names = {"person", "dog"};
  const float nan_f = std::numeric_limits<float>::quiet_NaN();
  const std::vector<detection> dets = {{{10, 40, 60, 90}, 0.87f, 0},
                                       {{70.5f, 5, 99.5f, 30}, 0.5f, 1},
                                       {{-1e30f, nan_f, 1e30f, 1e30f}, 0.1f, 7}};  // absurd: clipped, no crash
  for (int c : {1, 3, 4}) {
    CAPTURE(c);
    image_u8 img = test::must(image_u8::filled(100, 100, c, 0));
    REQUIRE(draw_detections(img.view(), dets, names).ok());
    if (c >= 3) {
      const rgb p = class_color(0);
      CHECK(img.view().pixel(10, 60)[0] == p.r);  // left edge of the first box
      CHECK(img.view().pixel(10, 60)[1] == p.g);
      CHECK(img.view().pixel(30, 60)[0] == 0);    // inside stays
      // the label sits above the box (rows 31..39): its padding column in the class colour,
      // the first column of 'P' in white text
      CHECK(img.view().pixel(10, 35)[2] == p.b);
      CHECK(img.view().pixel(11, 38)[2] == 255);
    } else {
      CHECK(img.view().pixel(10, 60)[0] != 0);
    }
  }
  image_u8 img = test::must(image_u8::filled(100, 100, 3, 0));
  draw_options no_labels;
  no_labels.labels = false;
  no_labels.thickness = 1;
  REQUIRE(draw_detections(img.view(), {dets[0]}, names, no_labels).ok());
  CHECK(count_colored(img) == 2 * 50 + 2 * 48);
}

}  // TEST_SUITE
