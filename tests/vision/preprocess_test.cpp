// tessera/vision/preprocess.hpp: resize against OpenCV's cv2.resize output (written by
// scripts/make_vision_reference.py) and against a double-precision bilinear written here;
// letterbox geometry against Ultralytics' formulas; to_planar against a direct loop.
#include <doctest/doctest.h>

#include <tessera/vision/preprocess.hpp>

#include "support/harness.hpp"
#include "vision/vision_support.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

using namespace tessera;
using namespace tessera::vision;
using test::random_image;
using test::read_json;

namespace {

// The synthetic pattern of scripts/make_vision_reference.py.
image_u8 pattern(int w, int h, int c) {
  image_u8 img = test::must(image_u8::create(w, h, c));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        const std::int64_t v = (7ll * x * x + 13ll * y + 101ll * k + 9ll * ((static_cast<std::int64_t>(x) * y) % 17)) % 256;
        img.view().pixel(x, y)[k] = static_cast<std::uint8_t>(v);
      }
  return img;
}

// Plain bilinear in double with OpenCV's geometry (centres aligned, edges repeated).
double bilinear_ref(const image_view& src, double dst_x, double dst_y, int dst_w, int dst_h, int c) {
  auto coord = [](double d, int dst, int src_n) {
    const double s = std::clamp((d + 0.5) * src_n / dst - 0.5, 0.0, static_cast<double>(src_n - 1));
    const int i0 = static_cast<int>(std::floor(s));
    return std::pair<int, double>{i0, s - i0};
  };
  const auto [x0, fx] = coord(dst_x, dst_w, src.width);
  const auto [y0, fy] = coord(dst_y, dst_h, src.height);
  const int x1 = std::min(x0 + 1, src.width - 1), y1 = std::min(y0 + 1, src.height - 1);
  auto p = [&](int x, int y) { return static_cast<double>(src.pixel(x, y)[c]); };
  return (1 - fy) * ((1 - fx) * p(x0, y0) + fx * p(x1, y0)) + fy * ((1 - fx) * p(x0, y1) + fx * p(x1, y1));
}

}  // namespace

TEST_SUITE("vision/preprocess") {

TEST_CASE("resize matches cv2.resize INTER_LINEAR on the reference cases") {
  const auto ref = read_json(std::string(TESSERA_SOURCE_DIR) + "/tests/vision/data/resize_reference.json");
  REQUIRE(ref.is_object());
  REQUIRE(ref["cases"].size() >= 10);
  for (const auto& c : ref["cases"]) {
    const int sw = c["src"][0], sh = c["src"][1], dw = c["dst"][0], dh = c["dst"][1], ch = c["channels"];
    CAPTURE(sw); CAPTURE(sh); CAPTURE(dw); CAPTURE(dh); CAPTURE(ch);
    const image_u8 src = pattern(sw, sh, ch);
    const image_u8 out = test::must(resize_bilinear(src.view(), dw, dh));
    const auto& expected = c["pixels"];
    REQUIRE(expected.size() == out.size_bytes());
    // OpenCV's vector path and ours compute the same integers; its scalar tail (the last
    // < 16 values of a row that is not a multiple of 16 bytes) rounds the blend differently.
    const std::size_t row = static_cast<std::size_t>(dw) * ch, vector_part = row - row % 16;
    int worst = 0, mismatches_in_vector_part = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const int d = std::abs(static_cast<int>(out.data()[i]) - expected[i].get<int>());
      worst = std::max(worst, d);
      if (d && i % row < vector_part) ++mismatches_in_vector_part;
    }
    CHECK(worst <= 1);
    CHECK(mismatches_in_vector_part == 0);
  }
}

TEST_CASE("resize stays within 1 of a double bilinear on random images, any size and stride") {
  test::rng g(11);
  const int sizes[][4] = {{1, 1, 1, 1}, {1, 1, 7, 3}, {3, 2, 1, 1}, {97, 61, 13, 9}, {13, 9, 97, 61},
                          {640, 480, 320, 240}, {31, 200, 200, 31}, {64, 64, 64, 64}, {1000, 3, 17, 40}};
  for (int ch : {1, 3, 4})
    for (const auto& s : sizes) {
      CAPTURE(ch); CAPTURE(s[0]); CAPTURE(s[1]); CAPTURE(s[2]); CAPTURE(s[3]);
      const image_u8 src = random_image(s[0], s[1], ch, g);
      // A padded destination: the resize must write only width * channels bytes of each row.
      const std::ptrdiff_t stride = static_cast<std::ptrdiff_t>(s[2]) * ch + 5;
      std::vector<std::uint8_t> buf(static_cast<std::size_t>(stride) * s[3], 0xab);
      const image_span dst{buf.data(), s[2], s[3], ch, stride};
      REQUIRE(resize_bilinear(dst, src.view()).ok());
      int worst = 0;
      for (int y = 0; y < s[3]; ++y) {
        for (int x = 0; x < s[2]; ++x)
          for (int k = 0; k < ch; ++k)
            worst = std::max(worst, static_cast<int>(std::fabs(dst.pixel(x, y)[k] - bilinear_ref(src.view(), x, y, s[2], s[3], k)) + 0.5 - 1e-9));
        for (std::ptrdiff_t p = static_cast<std::ptrdiff_t>(s[2]) * ch; p < stride; ++p) CHECK(dst.row(y)[p] == 0xab);
      }
      CHECK(worst <= 1);
    }
}

TEST_CASE("resize to the same size copies; bad arguments are errors") {
  test::rng g(5);
  const image_u8 src = random_image(23, 17, 3, g);
  const image_u8 same = test::must(resize_bilinear(src.view(), 23, 17));
  CHECK(std::equal(src.data(), src.data() + src.size_bytes(), same.data()));
  image_u8 gray = test::must(image_u8::create(8, 8, 1));
  CHECK(resize_bilinear(gray.view(), src.view()).code() == errc::shape_mismatch);
  CHECK(resize_bilinear(src.view(), 0, 5).err().code == errc::invalid_argument);
  CHECK(resize_bilinear(src.view(), 5, 100000).err().code == errc::invalid_argument);
  image_view broken = src.view();
  broken.stride = 10;  // less than width * channels
  CHECK(resize_bilinear(gray.view(), broken).code() == errc::invalid_argument);
}

TEST_CASE("letterbox: Ultralytics' geometry, gray padding, and the inverse transform") {
  test::rng g(3);
  struct geometry { int sw, sh, dw, dh, new_w, new_h, left, top; };
  // new size = round(side * r) with Python's half-to-even, left/top = round(pad / 2 - 0.1)
  const geometry cases[] = {
      {1024, 754, 640, 640, 640, 471, 0, 84},  // 754 * 0.625 = 471.25; pad 169 -> 84 above, 85 below
      {720, 478, 640, 640, 640, 425, 0, 107},  // 424.888.. -> 425; pad 215 -> 107 / 108
      {450, 344, 640, 640, 640, 489, 0, 75},   // 489.24 -> 489; pad 151 -> 75 / 76
      {300, 600, 64, 64, 32, 64, 16, 0},
      {5, 3, 64, 64, 64, 38, 0, 13},          // 38.4 -> 38; pad 26 -> 13 / 13
      {640, 640, 640, 640, 640, 640, 0, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.sw); CAPTURE(c.sh);
    const image_u8 src = random_image(c.sw, c.sh, 3, g);
    image_u8 dst = test::must(image_u8::create(c.dw, c.dh, 3));
    const image_transform t = test::must(letterbox(dst.view(), src.view()));
    CHECK(t.offset_x == c.left);
    CHECK(t.offset_y == c.top);
    const double r = std::min(double(c.dw) / c.sw, double(c.dh) / c.sh);
    CHECK(t.scale_x == r);
    CHECK(t.scale_y == r);
    // Padding is 114 exactly outside [left, left + new_w) x [top, top + new_h); the inside is
    // the resized photo (checked against resize_bilinear into the same size).
    const image_u8 inner = test::must(resize_bilinear(src.view(), c.new_w, c.new_h));
    int pad_wrong = 0, inner_wrong = 0;
    for (int y = 0; y < c.dh; ++y)
      for (int x = 0; x < c.dw; ++x)
        for (int k = 0; k < 3; ++k) {
          const bool in = x >= c.left && x < c.left + c.new_w && y >= c.top && y < c.top + c.new_h;
          const std::uint8_t v = dst.view().pixel(x, y)[k];
          if (!in && v != 114) ++pad_wrong;
          if (in && v != inner.view().pixel(x - c.left, y - c.top)[k]) ++inner_wrong;
        }
    CHECK(pad_wrong == 0);
    CHECK(inner_wrong == 0);
    // The photo's corners map to the padded region's corners (within the rounding of new_w).
    CHECK(std::fabs(t.to_source_x(c.left) - 0.0) < 1e-9);
    CHECK(std::fabs(t.to_source_y(c.top) - 0.0) < 1e-9);
    CHECK(std::fabs(t.to_source_x(c.left + c.sw * r) - c.sw) < 1e-6);
  }
  SUBCASE("no scale-up keeps a small photo's pixels and centres it") {
    const image_u8 src = random_image(10, 6, 3, g);
    image_u8 dst = test::must(image_u8::create(32, 32, 3));
    letterbox_options opt;
    opt.scale_up = false;
    opt.pad_value = 0;
    const image_transform t = test::must(letterbox(dst.view(), src.view(), opt));
    CHECK(t.scale_x == 1.0);
    CHECK(t.offset_x == 11);
    CHECK(t.offset_y == 13);
    CHECK(dst.view().pixel(11, 13)[0] == src.view().pixel(0, 0)[0]);
    CHECK(dst.view().pixel(0, 0)[0] == 0);
  }
}

TEST_CASE("to_planar: NCHW floats, normalization per channel, RGB or BGR, gray and RGBA sources") {
  test::rng g(9);
  for (int ch : {1, 3, 4})
    for (bool bgr : {false, true}) {
      CAPTURE(ch); CAPTURE(bgr);
      const image_u8 src = random_image(19, 7, ch, g);
      normalization n = normalization::imagenet();
      n.bgr = bgr;
      Tensor<float> out = test::must(Tensor<float>::empty({1, 3, 7, 19}));
      REQUIRE(to_planar(out.view(), src.view(), n).ok());
      int wrong = 0;
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 7; ++y)
          for (int x = 0; x < 19; ++x) {
            const int from = ch == 1 ? 0 : (bgr ? 2 - c : c);
            const int stat = c;  // mean/std are given per output plane (the model's channel order)
            const double v = src.view().pixel(x, y)[from];
            const double mean[3] = {0.485, 0.456, 0.406}, stdev[3] = {0.229, 0.224, 0.225};
            const double expected = (v / 255.0 - mean[stat]) / stdev[stat];
            if (std::fabs(out(0, c, y, x) - expected) > 1e-5) ++wrong;
          }
      CHECK(wrong == 0);
    }
  SUBCASE("(x - 127) / 128 is exact") {
    const image_u8 src = random_image(4, 3, 3, g);
    Tensor<float> out = test::must(Tensor<float>::empty({3, 3, 4}));
    REQUIRE(to_planar(out.view(), src.view(), normalization::uniform(127.f, 128.f)).ok());
    CHECK(out(1, 2, 3) == (static_cast<float>(src.view().pixel(3, 2)[1]) - 127.f) / 128.f);
  }
  SUBCASE("one plane from a gray image") {
    const image_u8 src = random_image(4, 3, 1, g);
    Tensor<float> out = test::must(Tensor<float>::empty({1, 1, 3, 4}));
    REQUIRE(to_planar(out.view(), src.view(), normalization::unit_range()).ok());
    CHECK(out(0, 0, 1, 2) == static_cast<float>(src.view().pixel(2, 1)[0]) * (1.f / 255.f));
  }
  SUBCASE("shape errors") {
    const image_u8 src = random_image(4, 3, 3, g);
    Tensor<float> wrong_size = test::must(Tensor<float>::empty({1, 3, 4, 3}));
    CHECK(to_planar(wrong_size.view(), src.view(), {}).code() == errc::shape_mismatch);
    Tensor<float> one_plane = test::must(Tensor<float>::empty({1, 1, 3, 4}));
    CHECK(to_planar(one_plane.view(), src.view(), {}).code() == errc::shape_mismatch);
    Tensor<float> batch2 = test::must(Tensor<float>::empty({2, 3, 3, 4}));
    CHECK(to_planar(batch2.view(), src.view(), {}).code() == errc::shape_mismatch);
  }
}

TEST_CASE("prepare_input: letterbox and stretch give the tensor and the transform") {
  test::rng g(4);
  const image_u8 photo = random_image(200, 100, 3, g);
  const model_input lb = test::must(prepare_input(photo.view(), 64, 64, fit_mode::letterbox, normalization::unit_range()));
  CHECK(lb.tensor.shape() == shape_t{1, 3, 64, 64});
  CHECK(lb.transform.offset_y == 16);
  CHECK(lb.tensor(0, 1, 0, 0) == doctest::Approx(114.0 / 255.0));
  const model_input st = test::must(prepare_input(photo.view(), 32, 24, fit_mode::stretch, normalization::unit_range()));
  CHECK(st.transform.scale_x == doctest::Approx(32.0 / 200.0));
  CHECK(st.transform.scale_y == doctest::Approx(24.0 / 100.0));
}

}  // TEST_SUITE
