// tessera/vision/detect.hpp and detections_json.hpp: hand-made raw outputs (overlaps within
// and across classes, ties, thresholds at the boundary, degenerate boxes, NaN) and random
// ones, checked against a brute-force reference written here: decode each anchor on its own,
// then repeatedly take the best remaining candidate and strike out what it overlaps.
#include <doctest/doctest.h>

#include <tessera/vision/detections_json.hpp>

#include "support/harness.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <vector>

using namespace tessera;
using namespace tessera::vision;

namespace {

constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();

struct ref_candidate {
  double x1, y1, x2, y2;
  float score;
  int cls;
  std::size_t order;  // anchor-major, class-minor
};

double ref_iou(const ref_candidate& a, const ref_candidate& b) {
  const double w = std::max(0.0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const double h = std::max(0.0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const double inter = w * h, uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

// Classic NMS: pick the best remaining (ties: lowest order), strike out its overlaps, repeat.
std::vector<ref_candidate> ref_nms(std::vector<ref_candidate> c, double iou_thr, int max_det, bool agnostic) {
  std::vector<ref_candidate> out;
  std::vector<bool> gone(c.size(), false);
  while (static_cast<int>(out.size()) < max_det) {
    std::size_t best = c.size();
    for (std::size_t i = 0; i < c.size(); ++i)
      if (!gone[i] && (best == c.size() || c[i].score > c[best].score || (c[i].score == c[best].score && c[i].order < c[best].order)))
        best = i;
    if (best == c.size()) break;
    out.push_back(c[best]);
    gone[best] = true;
    for (std::size_t i = 0; i < c.size(); ++i)
      if (!gone[i] && (agnostic || c[i].cls == c[best].cls) && ref_iou(c[best], c[i]) > iou_thr) gone[i] = true;
  }
  return out;
}

bool finite_box(double x1, double y1, double x2, double y2) {
  return std::isfinite(x1) && std::isfinite(y1) && std::isfinite(x2) && std::isfinite(y2) && x2 >= x1 && y2 >= y1;
}

// Reference decode of a yolov8 [4 + C, N] output (row-major data).
std::vector<ref_candidate> ref_decode_yolov8(const std::vector<float>& data, int classes, int n, float thr, bool multi) {
  std::vector<ref_candidate> c;
  std::size_t order = 0;
  for (int a = 0; a < n; ++a) {
    auto at = [&](int f) { return data[static_cast<std::size_t>(f) * n + a]; };
    // The box as the model's float arithmetic gives it (cx - w/2 in float), compared in double.
    const float x1 = at(0) - at(2) * 0.5f, y1 = at(1) - at(3) * 0.5f, x2 = at(0) + at(2) * 0.5f, y2 = at(1) + at(3) * 0.5f;
    if (!finite_box(x1, y1, x2, y2)) continue;
    if (multi) {
      for (int k = 0; k < classes; ++k)
        if (at(4 + k) > thr) c.push_back({x1, y1, x2, y2, at(4 + k), k, order++});
      continue;
    }
    int best = -1;
    for (int k = 0; k < classes; ++k)
      if (!std::isnan(at(4 + k)) && (best < 0 || at(4 + k) > at(4 + best))) best = k;
    if (best >= 0 && at(4 + best) > thr) c.push_back({x1, y1, x2, y2, at(4 + best), best, order++});
  }
  return c;
}

void check_same(const std::vector<detection>& got, const std::vector<ref_candidate>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].class_id == want[i].cls);
    CHECK(got[i].confidence == want[i].score);
    CHECK(got[i].bbox.x1 == want[i].x1);
    CHECK(got[i].bbox.y1 == want[i].y1);
    CHECK(got[i].bbox.x2 == want[i].x2);
    CHECK(got[i].bbox.y2 == want[i].y2);
  }
}

// A yolov8 output [1, 4 + C, N] from per-anchor rows {cx, cy, w, h, scores...}.
Tensor<float> yolov8_output(const std::vector<std::vector<float>>& anchors) {
  const index_t n = static_cast<index_t>(anchors.size()), f = static_cast<index_t>(anchors[0].size());
  Tensor<float> t = test::must(Tensor<float>::empty({1, f, n}));
  for (index_t a = 0; a < n; ++a)
    for (index_t k = 0; k < f; ++k) t(0, k, a) = anchors[static_cast<std::size_t>(a)][static_cast<std::size_t>(k)];
  return t;
}

std::vector<detection> run_yolov8(const Tensor<float>& out, const detect_options& o) {
  return non_max_suppression(test::must(decode_yolov8(out.view(), o)), o);
}

}  // namespace

TEST_SUITE("vision/detect") {

TEST_CASE("yolov8: overlaps within a class are suppressed, across classes kept (unless agnostic)") {
  // cx, cy, w, h, score class 0, score class 1
  const Tensor<float> out = yolov8_output({
      {50, 50, 20, 20, 0.9f, 0.1f},   // A: class 0
      {52, 50, 20, 20, 0.8f, 0.2f},   // B: class 0, IoU with A = 18*20 / (800 - 360) = 0.818
      {51, 50, 20, 20, 0.1f, 0.7f},   // C: class 1 over A
      {150, 50, 20, 20, 0.6f, 0.0f},  // D: class 0, far away
  });
  detect_options o;
  o.iou_threshold = 0.45f;
  auto d = run_yolov8(out, o);
  REQUIRE(d.size() == 3);
  CHECK(d[0].confidence == 0.9f);
  CHECK(d[1].class_id == 1);
  CHECK(d[2].bbox.x1 == 140.f);
  o.class_agnostic = true;
  d = run_yolov8(out, o);
  REQUIRE(d.size() == 2);  // C overlaps A: gone
  CHECK(d[1].confidence == 0.6f);
  SUBCASE("max_detections") {
    o.class_agnostic = false;
    o.max_detections = 2;
    d = run_yolov8(out, o);
    REQUIRE(d.size() == 2);
    CHECK(d[1].confidence == 0.7f);
  }
  SUBCASE("multi_label: a box may report several classes") {
    o.class_agnostic = false;
    o.multi_label = true;
    o.confidence_threshold = 0.15f;
    d = run_yolov8(out, o);
    // A(0) .9, C(1) .7, D(0) .6, B(1) .2 overlaps C in class 1 -> gone; B(0) .8 overlaps A -> gone
    REQUIRE(d.size() == 3);
    CHECK(d[2].confidence == 0.6f);
  }
}

TEST_CASE("yolov8: thresholds at the boundary are strict, ties keep the earlier anchor") {
  // IoU of [0,0,2,1] and [0,0,1,1] is exactly 0.5.
  const Tensor<float> out = yolov8_output({
      {1.0f, 0.5f, 2, 1, 0.5f},
      {0.5f, 0.5f, 1, 1, 0.5f},    // same score: the first anchor wins any tie
      {10.5f, 10.5f, 1, 1, 0.25f}, // exactly the confidence threshold: not kept
  });
  detect_options o;
  o.confidence_threshold = 0.25f;
  o.iou_threshold = 0.5f;
  auto d = run_yolov8(out, o);
  REQUIRE(d.size() == 2);  // IoU == threshold does not suppress
  CHECK(d[0].bbox.x2 == 2.f);
  o.iou_threshold = 0.49f;
  d = run_yolov8(out, o);
  REQUIRE(d.size() == 1);
  CHECK(d[0].bbox.x2 == 2.f);  // the earlier of the tied pair
  o.confidence_threshold = 0.2499f;
  CHECK(run_yolov8(out, o).size() == 2);
}

TEST_CASE("NaN scores are never kept, NaN or inverted boxes are dropped, zero-area boxes suppress nothing") {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor<float> out = yolov8_output({
      {50, 50, 20, 20, nan_f, nan_f},  // all-NaN scores
      {50, 50, 20, 20, nan_f, 0.6f},   // a NaN beside a real score: the real one counts
      {nan_f, 50, 20, 20, 0.9f, 0.0f}, // NaN box
      {50, 50, -4, 20, 0.9f, 0.0f},    // negative width
      {50, 50, inf, 20, 0.9f, 0.0f},   // infinite width
      {50, 50, 0, 0, 0.95f, 0.95f},    // a point: kept, suppresses nothing
      {50, 50, 20, 20, 0.3f, 0.0f},
  });
  detect_options o;
  o.class_agnostic = true;
  const auto d = run_yolov8(out, o);
  REQUIRE(d.size() == 2);
  CHECK(d[0].confidence == 0.95f);
  CHECK(d[0].bbox.width() == 0.f);
  CHECK(d[1].confidence == 0.6f);
  CHECK(d[1].class_id == 1);
  // A NaN threshold is an argument error, not a silent "keep nothing".
  o.confidence_threshold = nan_f;
  CHECK(decode_yolov8(out.view(), o).err().code == errc::invalid_argument);
  // Candidates handed to NMS directly are filtered the same way.
  std::vector<detection> raw = {{{0, 0, 1, 1}, nan_f, 0}, {{0, 0, nan_f, 1}, 0.5f, 0}, {{0, 0, 1, 1}, 0.4f, 0}};
  CHECK(non_max_suppression(raw).size() == 1);
}

TEST_CASE("yolov8: random outputs against the brute-force reference, both layouts") {
  test::rng g(2024);
  for (int trial = 0; trial < 60; ++trial) {
    const int classes = 1 + static_cast<int>(g.next() % 4), n = 1 + static_cast<int>(g.next() % 150);
    std::vector<float> data(static_cast<std::size_t>(4 + classes) * n);
    for (int a = 0; a < n; ++a) {
      auto at = [&](int f) -> float& { return data[static_cast<std::size_t>(f) * n + a]; };
      // Coordinates on a half-pixel grid in a small field: many overlaps, exact corners.
      at(0) = static_cast<float>(g.next() % 40) * 0.5f;
      at(1) = static_cast<float>(g.next() % 40) * 0.5f;
      at(2) = static_cast<float>(g.next() % 12);
      at(3) = static_cast<float>(g.next() % 12);
      if (g.next() % 50 == 0) at(2) = -at(2) - 1;
      if (g.next() % 50 == 0) at(1) = nan_f;
      for (int k = 0; k < classes; ++k) {
        at(4 + k) = static_cast<float>(g.next() % 9) / 8.f;  // coarse: ties and exact thresholds
        if (g.next() % 20 == 0) at(4 + k) = nan_f;
      }
    }
    detect_options o;
    o.confidence_threshold = static_cast<float>(g.next() % 5) / 8.f;
    o.iou_threshold = static_cast<float>(1 + g.next() % 7) / 8.f;
    o.max_detections = 1 + static_cast<int>(g.next() % 40);
    o.class_agnostic = g.next() % 2;
    o.multi_label = g.next() % 3 == 0;
    CAPTURE(trial); CAPTURE(classes); CAPTURE(n); CAPTURE(o.confidence_threshold); CAPTURE(o.iou_threshold);
    CAPTURE(o.max_detections); CAPTURE(o.class_agnostic); CAPTURE(o.multi_label);
    const auto want = ref_nms(ref_decode_yolov8(data, classes, n, o.confidence_threshold, o.multi_label), o.iou_threshold,
                              o.max_detections, o.class_agnostic);
    const TensorView<const float> first(data.data(), {1, 4 + classes, n});
    check_same(non_max_suppression(test::must(decode_yolov8(first, o)), o), want);
    // The same numbers as [1, N, 4 + C] (a transposed copy): same detections.
    std::vector<float> tr(data.size());
    for (int a = 0; a < n; ++a)
      for (int f = 0; f < 4 + classes; ++f)
        tr[static_cast<std::size_t>(a) * (4 + classes) + f] = data[static_cast<std::size_t>(f) * n + a];
    detect_options ot = o;
    ot.layout = yolo_layout::boxes_first;
    check_same(non_max_suppression(test::must(decode_yolov8(TensorView<const float>(tr.data(), {n, 4 + classes}), ot)), ot), want);
  }
}

TEST_CASE("yolov8 layout detection and shape errors") {
  std::vector<float> data(84 * 8400, 0.f);
  detect_options o;
  CHECK(decode_yolov8(TensorView<const float>(data.data(), {1, 84, 8400}), o).ok());
  CHECK(decode_yolov8(TensorView<const float>(data.data(), {1, 8400, 84}), o).ok());
  CHECK(decode_yolov8(TensorView<const float>(data.data(), {2, 84, 4200}), o).err().code == errc::shape_mismatch);
  CHECK(decode_yolov8(TensorView<const float>(data.data(), {1, 4, 8400}), o).err().code == errc::shape_mismatch);
  CHECK(decode_yolov8(TensorView<const float>(data.data(), {84 * 8400}), o).err().code == errc::shape_mismatch);
  CHECK(decode_yolov8(TensorView<const float>(data.data(), {1, 84, 0}), o)->empty());
}

TEST_CASE("yolov5: objectness times class score, objectness filtered first") {
  // cx, cy, w, h, objectness, class scores
  std::vector<float> d = {
      10, 10, 4, 4, 0.9f, 0.5f, 1.0f,   // best class 1: 0.9
      10, 10, 4, 4, 0.2f, 1.0f, 1.0f,   // objectness 0.2 <= 0.25: skipped although class scores are 1
      30, 30, 4, 4, 0.5f, 0.4f, 0.6f,   // 0.5 * 0.6 = 0.3 > 0.25
      50, 50, 4, 4, 0.5f, 0.5f, 0.5f,   // 0.25: not kept
      70, 70, 4, 4, nan_f, 1.0f, 1.0f,  // NaN objectness
  };
  const auto c = test::must(decode_yolov5(TensorView<const float>(d.data(), {1, 5, 7}), {}));
  REQUIRE(c.size() == 2);
  CHECK(c[0].class_id == 1);
  CHECK(c[0].confidence == 0.9f);
  CHECK(c[1].confidence == 0.5f * 0.6f);
  CHECK(c[1].bbox.x1 == 28.f);
  CHECK(decode_yolov5(TensorView<const float>(d.data(), {7, 5}), {}).err().code == errc::shape_mismatch);
}

TEST_CASE("boxes_scores: fractions or pixels, background class never reported") {
  // Three priors, 3 classes (0 = background); boxes as fractions of a 320 x 240 input.
  std::vector<float> boxes = {0.1f, 0.1f, 0.3f, 0.5f, 0.11f, 0.1f, 0.31f, 0.5f, 0.5f, 0.5f, 0.6f, 0.6f};
  std::vector<float> scores = {0.1f, 0.8f, 0.1f, 0.05f, 0.9f, 0.05f, 0.95f, 0.03f, 0.02f};
  detect_options o;
  o.background_class = true;
  o.confidence_threshold = 0.7f;
  o.iou_threshold = 0.3f;
  o.input_width = 320;
  o.input_height = 240;
  const TensorView<const float> b(boxes.data(), {1, 3, 4}), s(scores.data(), {1, 3, 3});
  auto d = non_max_suppression(test::must(decode_boxes_scores(b, s, o)), o);
  REQUIRE(d.size() == 1);  // prior 2 is background (0.95); prior 0 overlaps prior 1
  CHECK(d[0].class_id == 1);
  CHECK(d[0].confidence == 0.9f);
  CHECK(d[0].bbox.x1 == doctest::Approx(0.11 * 320));
  CHECK(d[0].bbox.y2 == doctest::Approx(0.5 * 240));
  o.units = box_units::pixels;
  d = test::must(decode_boxes_scores(b, s, o));
  CHECK(d[0].bbox.x2 == 0.3f);
  o.background_class = false;
  CHECK(test::must(decode_boxes_scores(b, s, o)).back().class_id == 0);
  o.units = box_units::fractions;
  o.input_width = 0;
  CHECK(decode_boxes_scores(b, s, o).err().code == errc::invalid_argument);
  CHECK(decode_boxes_scores(s, s, o).err().code == errc::shape_mismatch);
}

TEST_CASE("to_source un-letterboxes and clips; detect() chains it all") {
  // A 1000 x 500 photo letterboxed into 640 x 640: r = 0.64, 640 x 320 placed at y = 160.
  const image_transform t{1000, 500, 640, 640, 0.64, 0.64, 0.0, 160.0};
  std::vector<detection> d = {{{64, 224, 128, 320}, 0.9f, 0}, {{-10, 100, 700, 200}, 0.8f, 1}};
  to_source(d, t);
  CHECK(d[0].bbox.x1 == doctest::Approx(100.0));
  CHECK(d[0].bbox.y1 == doctest::Approx(100.0));
  CHECK(d[0].bbox.x2 == doctest::Approx(200.0));
  CHECK(d[0].bbox.y2 == doctest::Approx(250.0));
  CHECK(d[1].bbox.x1 == 0.f);     // clipped
  CHECK(d[1].bbox.x2 == 1000.f);
  CHECK(d[1].bbox.y1 == 0.f);     // y = 100 lies in the padding
  CHECK(d[1].bbox.y2 == doctest::Approx(62.5));

  const Tensor<float> out = yolov8_output({{96, 272, 64, 96, 0.9f}, {97, 272, 64, 96, 0.8f}});
  const TensorView<const float> outs[] = {out.view()};
  const auto found = test::must(detect(output_format::yolov8, outs, t, {}));
  REQUIRE(found.size() == 1);
  CHECK(found[0].bbox.x1 == doctest::Approx(100.0));
  CHECK(detect(output_format::boxes_scores, outs, t, {}).err().code == errc::invalid_argument);
}

TEST_CASE("JSON output: the documented form, escaping, locale-free numbers") {
  const std::vector<detection> d = {{{233.0f, 328.5f, 475.0f, 895.5f}, 0.87f, 0}, {{1.04f, 2.0f, 3.0f, 4.0f}, 0.123456f, 5}};
  const std::vector<std::string> names = {"person", "bicycle"};
  CHECK(detections_to_json("photo.jpg", d, names) ==
        "{\"image\": \"photo.jpg\", \"detections\": ["
        "{\"class_id\": 0, \"class_name\": \"person\", \"confidence\": 0.87, \"bbox_xywh\": [233.0, 328.5, 242.0, 567.0]}, "
        "{\"class_id\": 5, \"class_name\": \"5\", \"confidence\": 0.1235, \"bbox_xywh\": [1.0, 2.0, 2.0, 2.0]}]}");
  CHECK(detections_to_json("a\"b\\c\n\x01\xff.jpg", {}, names) ==
        "{\"image\": \"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD.jpg\", \"detections\": []}");
  CHECK(json_number(-0.04, 1) == "0.0");
  CHECK(json_number(-2.25, 1) == "-2.3");  // half away from zero (llround)
  CHECK(json_number(1.0, 4) == "1.0");
  CHECK(json_number(std::nan(""), 2) == "null");
}

}  // TEST_SUITE
