// Object detection post-processing on raw output tensors: decoding of the common output
// layouts, confidence filtering, non-maximum suppression, and mapping boxes back to the photo.
// It needs only float views with shapes, so it works behind any model runner.
//
// Layouts (one image; a leading batch axis of 1 may be present or not):
//   yolov8        [4 + C, N] boxes cx, cy, w, h in input pixels, then C class scores (already
//                 sigmoid-ed; no objectness); Ultralytics' ONNX export, [1, 84, 8400] at 640.
//                 The transposed [N, 4 + C] is accepted too (detected from the shape, or forced).
//   yolov5        [N, 5 + C] boxes cx, cy, w, h in input pixels, objectness, C class scores;
//                 a class's confidence is objectness * class score.
//   boxes_scores  boxes [N, 4] x1, y1, x2, y2 (fractions of the input size, or input pixels)
//                 and scores [N, C] (SSD style); class 0 may be a background class, which is then
//                 never reported (the Ultra-Light face detector: scores [1, 4420, 2]).
//
// Rules, the same for every layout: a candidate is kept when its confidence is > the
// threshold (strict, as Ultralytics and the face detector's demo compare); NaN scores never
// pass; boxes with a NaN or infinite coordinate or a negative width/height are dropped; each
// box yields its best class (or, with multi_label, every class over the threshold). NMS is
// greedy in order of confidence (ties: the earlier candidate, in anchor then class order,
// first) and suppresses a box whose IoU with a kept box of the same class (any class when
// class_agnostic) is > iou_threshold; a zero-area box never suppresses anything.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/vision/preprocess.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tessera::vision {

// Corners, x1 <= x2 and y1 <= y2, in model-input pixels after decoding and in photo pixels
// after to_source().
struct box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const noexcept { return x2 - x1; }
  float height() const noexcept { return y2 - y1; }
};

struct detection {
  box bbox;
  float confidence = 0;
  int class_id = 0;
};

enum class output_format { yolov8, yolov5, boxes_scores };
// Where the per-box values lie in a yolov8 output: [4 + C, N] (Ultralytics' export) or [N, 4 + C].
enum class yolo_layout { detect, features_first, boxes_first };
enum class box_units { fractions, pixels };

struct detect_options {
  float confidence_threshold = 0.25f;
  float iou_threshold = 0.45f;
  int max_detections = 300;
  int max_candidates = 30000;  // the best-scoring candidates that enter NMS (bounds its cost)
  bool class_agnostic = false;
  bool multi_label = false;
  // yolov8 only
  yolo_layout layout = yolo_layout::detect;
  // boxes_scores only
  box_units units = box_units::fractions;
  bool background_class = false;  // class 0 is "no object": never reported
  int input_width = 0;            // the model input's size, to turn fractions into pixels
  int input_height = 0;
};

// Area of a box's intersection over the area of their union, in double; 0 when the union is
// empty (two zero-area boxes).
inline double iou(const box& a, const box& b) noexcept {
  const double iw = std::min<double>(a.x2, b.x2) - std::max<double>(a.x1, b.x1);
  const double ih = std::min<double>(a.y2, b.y2) - std::max<double>(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0.0;
  const double inter = iw * ih;
  const double uni = (double(a.x2) - a.x1) * (double(a.y2) - a.y1) + (double(b.x2) - b.x1) * (double(b.y2) - b.y1) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

namespace detail {

// Higher confidence first (with a stable sort: then the earlier candidate).
struct candidate_order {
  bool operator()(const detection& a, const detection& b) const noexcept { return a.confidence > b.confidence; }
};

inline status check_options(const detect_options& o, const char* who) {
  if (!(o.confidence_threshold == o.confidence_threshold) || !(o.iou_threshold >= 0 && o.iou_threshold <= 1))
    return make_error(errc::invalid_argument, std::string(who) + ": confidence threshold must be a number and the IoU threshold in [0, 1]");
  if (o.max_detections < 0 || o.max_candidates < 0)
    return make_error(errc::invalid_argument, std::string(who) + ": max_detections and max_candidates must be >= 0");
  return {};
}

// Drops a leading batch axis of 1; anything else than one image's rank-2 output is an error.
inline expected<TensorView<const float>> one_image(TensorView<const float> t, const char* who, const char* what) {
  if (t.rank() == 3) {
    if (t.dim(0) != 1)
      return make_error(errc::shape_mismatch, std::string(who) + ": " + what + " " + t.shape().str() +
                                                  " holds a batch of " + std::to_string(t.dim(0)) + " images: pass one image's slice");
    return t.select(0, 0);
  }
  if (t.rank() != 2) return make_error(errc::shape_mismatch, std::string(who) + ": " + what + " " + t.shape().str() + " is not [N, K] or [1, N, K]");
  return t;
}

inline bool valid_box(const box& b) noexcept {
  return std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2) && b.x2 >= b.x1 &&
         b.y2 >= b.y1;
}

inline box from_center(float cx, float cy, float w, float h) noexcept {
  return {cx - w * 0.5f, cy - h * 0.5f, cx + w * 0.5f, cy + h * 0.5f};
}

// Appends the candidates of one box: its best class over the threshold, or with multi_label
// every such class. score(c) gives class c's confidence.
template <class Score>
inline void add_candidates(std::vector<detection>& out, const box& b, index_t classes, const detect_options& o, Score score) {
  if (!valid_box(b)) return;
  if (o.multi_label) {
    for (index_t c = 0; c < classes; ++c) {
      const float s = score(c);
      if (s > o.confidence_threshold) out.push_back({b, s, static_cast<int>(c)});
    }
    return;
  }
  float best = -std::numeric_limits<float>::infinity();
  index_t best_c = -1;
  for (index_t c = 0; c < classes; ++c) {
    const float s = score(c);
    if (s > best) best = s, best_c = c;  // NaN never compares greater
  }
  if (best_c >= 0 && best > o.confidence_threshold) out.push_back({b, best, static_cast<int>(best_c)});
}

// Keeps the max_candidates best (stable: ties keep the earlier), in candidate order.
inline void cap_candidates(std::vector<detection>& c, int max_candidates) {
  if (c.size() <= static_cast<std::size_t>(max_candidates)) return;
  std::stable_sort(c.begin(), c.end(), candidate_order{});
  c.resize(static_cast<std::size_t>(max_candidates));
}

}  // namespace detail

// yolov8 raw output -> candidates (input pixels), before NMS.
inline expected<std::vector<detection>> decode_yolov8(TensorView<const float> output, const detect_options& o = {}) {
  TESSERA_TRY(detail::check_options(o, "decode_yolov8"));
  TESSERA_ASSIGN_OR_RETURN(TensorView<const float> t, detail::one_image(output, "decode_yolov8", "output"));
  bool features_first = o.layout == yolo_layout::features_first;
  // 84 x 8400: fewer features than boxes; fewer than 5 values cannot hold a box and a class
  if (o.layout == yolo_layout::detect) features_first = t.dim(0) <= t.dim(1) || t.dim(1) < 5;
  if (!features_first) {
    TESSERA_ASSIGN_OR_RETURN(t, t.transpose());  // now [4 + C, N]
  }
  const index_t features = t.dim(0), n = t.dim(1);
  if (features < 5)
    return make_error(errc::shape_mismatch, "decode_yolov8: output " + output.shape().str() + " has " + std::to_string(features) +
                                                " values per box (4 box + at least 1 class expected)");
  const index_t classes = features - 4, s0 = t.stride(0), s1 = t.stride(1);
  const float* p = t.data();
  std::vector<detection> out;
  for (index_t a = 0; a < n; ++a) {
    const float* v = p + a * s1;
    detail::add_candidates(out, detail::from_center(v[0], v[s0], v[2 * s0], v[3 * s0]), classes, o,
                           [&](index_t c) { return v[(4 + c) * s0]; });
  }
  detail::cap_candidates(out, o.max_candidates);
  return out;
}

// yolov5 raw output [N, 5 + C] -> candidates (input pixels), before NMS.
inline expected<std::vector<detection>> decode_yolov5(TensorView<const float> output, const detect_options& o = {}) {
  TESSERA_TRY(detail::check_options(o, "decode_yolov5"));
  TESSERA_ASSIGN_OR_RETURN(TensorView<const float> t, detail::one_image(output, "decode_yolov5", "output"));
  const index_t n = t.dim(0), features = t.dim(1);
  if (features < 6)
    return make_error(errc::shape_mismatch, "decode_yolov5: output " + output.shape().str() + " has " + std::to_string(features) +
                                                " values per box (4 box + objectness + at least 1 class expected)");
  const index_t classes = features - 5, s0 = t.stride(0), s1 = t.stride(1);
  std::vector<detection> out;
  for (index_t a = 0; a < n; ++a) {
    const float* v = t.data() + a * s0;
    const float obj = v[4 * s1];
    if (!(obj > o.confidence_threshold)) continue;  // YOLOv5 filters on objectness first
    detail::add_candidates(out, detail::from_center(v[0], v[s1], v[2 * s1], v[3 * s1]), classes, o,
                           [&](index_t c) { return obj * v[(5 + c) * s1]; });
  }
  detail::cap_candidates(out, o.max_candidates);
  return out;
}

// SSD-style boxes [N, 4] (x1, y1, x2, y2) and scores [N, C] -> candidates (input pixels).
inline expected<std::vector<detection>> decode_boxes_scores(TensorView<const float> boxes, TensorView<const float> scores,
                                                            const detect_options& o) {
  TESSERA_TRY(detail::check_options(o, "decode_boxes_scores"));
  TESSERA_ASSIGN_OR_RETURN(TensorView<const float> b, detail::one_image(boxes, "decode_boxes_scores", "boxes"));
  TESSERA_ASSIGN_OR_RETURN(TensorView<const float> s, detail::one_image(scores, "decode_boxes_scores", "scores"));
  if (b.dim(1) != 4 || b.dim(0) != s.dim(0))
    return make_error(errc::shape_mismatch, "decode_boxes_scores: boxes " + boxes.shape().str() + " and scores " +
                                                scores.shape().str() + " are not [N, 4] and [N, C] with the same N");
  const index_t first_class = o.background_class ? 1 : 0;
  if (s.dim(1) <= first_class)
    return make_error(errc::shape_mismatch, "decode_boxes_scores: scores " + scores.shape().str() + " hold no object class");
  if (o.units == box_units::fractions && (o.input_width <= 0 || o.input_height <= 0))
    return make_error(errc::invalid_argument, "decode_boxes_scores: boxes in fractions need the input size");
  const float sx = o.units == box_units::fractions ? static_cast<float>(o.input_width) : 1.f;
  const float sy = o.units == box_units::fractions ? static_cast<float>(o.input_height) : 1.f;
  const index_t n = b.dim(0), classes = s.dim(1) - first_class;
  std::vector<detection> out;
  for (index_t a = 0; a < n; ++a) {
    const float* bv = b.data() + a * b.stride(0);
    const float* sv = s.data() + a * s.stride(0) + first_class * s.stride(1);
    const box bx{bv[0] * sx, bv[b.stride(1)] * sy, bv[2 * b.stride(1)] * sx, bv[3 * b.stride(1)] * sy};
    const std::size_t before = out.size();
    detail::add_candidates(out, bx, classes, o, [&](index_t c) { return sv[c * s.stride(1)]; });
    for (std::size_t i = before; i < out.size(); ++i) out[i].class_id += static_cast<int>(first_class);
  }
  detail::cap_candidates(out, o.max_candidates);
  return out;
}

// Greedy NMS (see the top of this file); returns at most max_detections, best first.
inline std::vector<detection> non_max_suppression(const std::vector<detection>& candidates, const detect_options& o = {}) {
  // Candidate indices by class (unless agnostic), then best first, then earlier first. Each
  // class's greedy pass is independent of the others, so running them one after the other
  // and merging by (confidence, index) gives the result of one greedy pass over everything.
  std::vector<std::size_t> order;
  order.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].confidence == candidates[i].confidence && detail::valid_box(candidates[i].bbox)) order.push_back(i);
  const auto by_confidence = [&](std::size_t a, std::size_t b) {
    if (candidates[a].confidence != candidates[b].confidence) return candidates[a].confidence > candidates[b].confidence;
    return a < b;
  };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (!o.class_agnostic && candidates[a].class_id != candidates[b].class_id) return candidates[a].class_id < candidates[b].class_id;
    return by_confidence(a, b);
  });
  const std::size_t cap = static_cast<std::size_t>(std::max(0, o.max_detections));
  std::vector<std::size_t> kept;
  std::size_t class_start = 0;  // where the current class's kept boxes begin in `kept`
  for (std::size_t j = 0; j < order.size(); ++j) {
    const detection& d = candidates[order[j]];
    if (j > 0 && !o.class_agnostic && d.class_id != candidates[order[j - 1]].class_id) class_start = kept.size();
    if (kept.size() - class_start >= cap) continue;  // this class already has all that can be reported
    bool suppressed = false;
    for (std::size_t k = class_start; k < kept.size() && !suppressed; ++k)
      suppressed = iou(candidates[kept[k]].bbox, d.bbox) > static_cast<double>(o.iou_threshold);
    if (!suppressed) kept.push_back(order[j]);
  }
  std::sort(kept.begin(), kept.end(), by_confidence);
  if (kept.size() > cap) kept.resize(cap);
  std::vector<detection> out;
  out.reserve(kept.size());
  for (std::size_t i : kept) out.push_back(candidates[i]);
  return out;
}

// Boxes from model-input pixels to photo pixels through the resize/letterbox transform,
// clipped to the photo.
inline void to_source(std::span<detection> dets, const image_transform& t) {
  const double w = t.source_width, h = t.source_height;
  for (detection& d : dets) {
    d.bbox.x1 = static_cast<float>(std::clamp(t.to_source_x(d.bbox.x1), 0.0, w));
    d.bbox.x2 = static_cast<float>(std::clamp(t.to_source_x(d.bbox.x2), 0.0, w));
    d.bbox.y1 = static_cast<float>(std::clamp(t.to_source_y(d.bbox.y1), 0.0, h));
    d.bbox.y2 = static_cast<float>(std::clamp(t.to_source_y(d.bbox.y2), 0.0, h));
  }
}

// boxes_scores wants (boxes, scores); some models (the face detector) list scores first: a
// pair whose first tensor does not end in 4 and whose second does is swapped.
inline void boxes_before_scores(std::span<TensorView<const float>> outputs) noexcept {
  if (outputs.size() == 2 && outputs[0].rank() >= 1 && outputs[1].rank() >= 1 && outputs[0].dim(-1) != 4 &&
      outputs[1].dim(-1) == 4)
    std::swap(outputs[0], outputs[1]);
}

// The raw outputs of one image -> detections in photo pixels: decode, NMS, to_source.
// `outputs` holds one tensor (yolov8, yolov5) or two (boxes_scores: boxes, then scores).
inline expected<std::vector<detection>> detect(output_format format, std::span<const TensorView<const float>> outputs,
                                               const image_transform& transform, detect_options o) {
  const std::size_t needed = format == output_format::boxes_scores ? 2 : 1;
  if (outputs.size() != needed)
    return make_error(errc::invalid_argument, "detect: " + std::to_string(outputs.size()) + " output tensors given, " +
                                                  std::to_string(needed) + " expected for this format");
  std::vector<detection> candidates;
  if (format == output_format::yolov8) {
    TESSERA_ASSIGN_OR_RETURN(candidates, decode_yolov8(outputs[0], o));
  } else if (format == output_format::yolov5) {
    TESSERA_ASSIGN_OR_RETURN(candidates, decode_yolov5(outputs[0], o));
  } else {
    if (o.input_width <= 0) o.input_width = transform.target_width;
    if (o.input_height <= 0) o.input_height = transform.target_height;
    TESSERA_ASSIGN_OR_RETURN(candidates, decode_boxes_scores(outputs[0], outputs[1], o));
  }
  std::vector<detection> kept = non_max_suppression(candidates, o);
  to_source(kept, transform);
  return kept;
}

}  // namespace tessera::vision
