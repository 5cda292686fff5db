// tessera/vision/ultraface.hpp: the face detector's input against the authors' pipeline run by
// scripts/make_vision_reference.py (cv2.imread, cv2.resize, (x - 127) / 128; the photos are in
// ../shared, optional), and its post-processing against a reference of the demo's algorithm
// written here (per-class threshold, the 200 best, hard NMS with its eps, scaling).
#include <doctest/doctest.h>

#include <tessera/vision/image_io.hpp>
#include <tessera/vision/ultraface.hpp>

#include "support/harness.hpp"
#include "vision/vision_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

using namespace tessera;
using namespace tessera::vision;
using test::random_image;
using test::read_json;

namespace {

struct face_ref {
  double x1, y1, x2, y2;
  float score;
};

// detect_imgs_onnx.py's predict() for one class, with box_utils.hard_nms (candidate_size 200,
// IoU with eps 1e-5 on the fraction boxes), then boxes scaled by the photo's size.
std::vector<face_ref> demo_predict(const std::vector<float>& boxes, const std::vector<float>& scores, int n, int photo_w, int photo_h) {
  std::vector<int> idx;
  for (int i = 0; i < n; ++i)
    if (scores[2 * i + 1] > 0.7f) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return scores[2 * a + 1] < scores[2 * b + 1]; });  // argsort
  if (idx.size() > 200) idx.erase(idx.begin(), idx.end() - 200);
  auto area = [](double l, double t, double r, double b) { return std::max(0.0, r - l) * std::max(0.0, b - t); };
  auto iou = [&](int a, int b) {
    const float* p = &boxes[4 * static_cast<std::size_t>(a)];
    const float* q = &boxes[4 * static_cast<std::size_t>(b)];
    const double ov = area(std::max(p[0], q[0]), std::max(p[1], q[1]), std::min(p[2], q[2]), std::min(p[3], q[3]));
    return ov / (area(p[0], p[1], p[2], p[3]) + area(q[0], q[1], q[2], q[3]) - ov + 1e-5);
  };
  std::vector<face_ref> picked;
  while (!idx.empty()) {
    const int current = idx.back();
    idx.pop_back();
    const float* p = &boxes[4 * static_cast<std::size_t>(current)];
    picked.push_back({double(p[0]) * photo_w, double(p[1]) * photo_h, double(p[2]) * photo_w, double(p[3]) * photo_h,
                      scores[2 * current + 1]});
    std::erase_if(idx, [&](int i) { return iou(i, current) > 0.3; });
  }
  return picked;
}

}  // namespace

TEST_SUITE("vision/ultraface") {

TEST_CASE("post-processing matches the demo's algorithm on synthetic raw outputs") {
  test::rng g(77);
  const int n = 4420;
  for (int trial = 0; trial < 4; ++trial) {
    CAPTURE(trial);
    std::vector<float> boxes(4 * n), scores(2 * n);
    // Priors around 25 "faces" (more than 200 of them confident, to exercise the cap).
    std::vector<std::array<double, 4>> faces(25);
    for (auto& f : faces) {
      const double w = g.uniform(0.03, 0.2), h = g.uniform(0.04, 0.25);
      const double x = g.uniform(-0.05, 1.0 - w * 0.5), y = g.uniform(-0.05, 1.0 - h * 0.5);
      f = {x, y, x + w, y + h};
    }
    for (int i = 0; i < n; ++i) {
      const auto& f = faces[g.next() % faces.size()];
      const double jw = (f[2] - f[0]) * 0.3, jh = (f[3] - f[1]) * 0.3;
      boxes[4 * i + 0] = static_cast<float>(f[0] + g.uniform(-jw, jw));
      boxes[4 * i + 1] = static_cast<float>(f[1] + g.uniform(-jh, jh));
      boxes[4 * i + 2] = static_cast<float>(f[2] + g.uniform(-jw, jw));
      boxes[4 * i + 3] = static_cast<float>(f[3] + g.uniform(-jh, jh));
      const float face = static_cast<float>(g.next() % 3 == 0 ? g.uniform(0.5, 1.0) : g.uniform(0.0, 0.6));
      scores[2 * i + 0] = 1.f - face;
      scores[2 * i + 1] = face;
    }
    const int photo_w = 1024 + trial * 100, photo_h = 754 - trial * 50;
    const auto want = demo_predict(boxes, scores, n, photo_w, photo_h);
    const image_transform t = stretch_transform(photo_w, photo_h, ultraface::input_width, ultraface::input_height);
    const auto got = test::must(ultraface::postprocess(TensorView<const float>(scores.data(), {1, n, 2}),
                                                       TensorView<const float>(boxes.data(), {1, n, 4}), t));
    REQUIRE(got.size() == want.size());
    CHECK(got.size() > 5);
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].class_id == ultraface::face_class);
      CHECK(got[i].confidence == want[i].score);
      // The demo does not clip; compare where its box lies inside the photo.
      const double cx1 = std::clamp(want[i].x1, 0.0, double(photo_w)), cy1 = std::clamp(want[i].y1, 0.0, double(photo_h));
      const double cx2 = std::clamp(want[i].x2, 0.0, double(photo_w)), cy2 = std::clamp(want[i].y2, 0.0, double(photo_h));
      CHECK(std::fabs(got[i].bbox.x1 - cx1) < 1e-3);
      CHECK(std::fabs(got[i].bbox.y1 - cy1) < 1e-3);
      CHECK(std::fabs(got[i].bbox.x2 - cx2) < 1e-3);
      CHECK(std::fabs(got[i].bbox.y2 - cy2) < 1e-3);
    }
  }
}

TEST_CASE("the input tensor of the photos matches the authors' OpenCV pipeline (../shared, optional)") {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "models" / "face-detector";
  const auto ref = read_json(std::string(TESSERA_SOURCE_DIR) + "/tests/vision/data/face_input_reference.json");
  REQUIRE(ref.is_object());
  int checked = 0;
  for (const auto& p : ref["photos"]) {
    const std::string name = p["photo"];
    if (!std::filesystem::exists(dir / name)) continue;
    CAPTURE(name);
    const image_u8 photo = test::must(load_image((dir / name).string()));
    CHECK(photo.width() == p["source_size"][0].get<int>());
    CHECK(photo.height() == p["source_size"][1].get<int>());
    const model_input in = test::must(ultraface::preprocess(photo.view()));
    REQUIRE(in.tensor.shape() == shape_t{1, 3, 240, 320});
    const float* x = in.tensor.data();
    const std::size_t size = static_cast<std::size_t>(in.tensor.size());
    double sum = 0, sum_sq = 0;
    for (std::size_t i = 0; i < size; ++i) sum += x[i], sum_sq += double(x[i]) * x[i];
    // The resize is OpenCV's to the bit; what differs is the JPEG decoder: stb_image's IDCT
    // and chroma upsampling vs libjpeg-turbo's, up to 3 levels on a few % of the values.
    // Measured on these five photos: at most 2/128 apart on the samples, 0.07/128 on average,
    // sums within 0.03/128 per value; the bounds below leave about 2x room.
    double worst = 0, total = 0;
    const auto& sample = p["sample"];
    for (std::size_t k = 0; k < sample.size(); ++k) {
      const double d = std::fabs(x[(k * 7919) % size] - sample[k].get<double>());
      worst = std::max(worst, d);
      total += d;
    }
    CAPTURE(worst * 128);
    CAPTURE(total / sample.size() * 128);
    CAPTURE((sum - p["sum"].get<double>()) / size * 128);
    CHECK(worst <= 4.0 / 128);
    CHECK(total / sample.size() <= 0.25 / 128);
    CHECK(std::fabs(sum - p["sum"].get<double>()) / size <= 0.05 / 128);
    CHECK(std::fabs(sum_sq - p["sum_squares"].get<double>()) / size <= 0.05 / 128);
    ++checked;
  }
  if (!checked) MESSAGE("skipped: ../shared/models/face-detector not present");
}

}  // TEST_SUITE
