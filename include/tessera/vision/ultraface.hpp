// The Ultra-Light-Fast-Generic-Face-Detector-1MB (version-RFB-320 / version-slim-320 ONNX
// models): its input as the authors' demo makes it and its full post-processing, on raw
// output tensors. A model runner fills the two outputs between preprocess() and postprocess().
//
// Input `input` [1, 3, 240, 320]: the whole photo resized to 320 x 240 (no letterbox) with
// OpenCV's INTER_LINEAR (vision/preprocess.hpp reproduces it), RGB, (x - 127) / 128.
// Outputs `scores` [1, 4420, 2] (background, face; softmax-ed) and `boxes` [1, 4420, 4]
// (x1, y1, x2, y2 as fractions of the input, priors already decoded).
// Post-processing as the demo (detect_imgs_onnx.py) does it: faces with score > 0.7, of those
// the 200 best (its hard_nms candidate_size), greedy NMS at IoU 0.3, boxes scaled to the photo.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/vision/detect.hpp>
#include <tessera/vision/preprocess.hpp>

#include <vector>

namespace tessera::vision::ultraface {

inline constexpr int input_width = 320;
inline constexpr int input_height = 240;
inline constexpr int face_class = 1;  // class 0 is the background

inline normalization input_normalization() { return normalization::uniform(127.f, 128.f); }

// The model input [1, 3, 240, 320] and the transform back to the photo.
inline expected<model_input> preprocess(const image_view& photo) {
  return prepare_input(photo, input_width, input_height, fit_mode::stretch, input_normalization());
}

inline detect_options default_options() {
  detect_options o;
  o.confidence_threshold = 0.7f;
  o.iou_threshold = 0.3f;
  o.max_candidates = 200;
  o.max_detections = 1 << 20;  // the demo keeps every face NMS leaves (top_k = -1)
  o.background_class = true;
  o.units = box_units::fractions;
  o.input_width = input_width;
  o.input_height = input_height;
  return o;
}

// Faces in photo pixels, best first, from the model's raw `scores` and `boxes`.
inline expected<std::vector<detection>> postprocess(TensorView<const float> scores, TensorView<const float> boxes,
                                                    const image_transform& transform, const detect_options& options = default_options()) {
  const TensorView<const float> outputs[] = {boxes, scores};
  return detect(output_format::boxes_scores, outputs, transform, options);
}

}  // namespace tessera::vision::ultraface
