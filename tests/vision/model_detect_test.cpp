// Detection with a model run by tessera's ONNX session, against PyTorch: the YOLOv8n-shaped
// tests/models/yolov8_tiny (random weights, written with PyTorch's raw output by
// scripts/make_detector_models.py). tessera's raw output must match PyTorch's, and the
// detections decoded from it must be the ones decoded from PyTorch's output.
#include <doctest/doctest.h>

#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/onnx.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/vision/class_names.hpp>
#include <tessera/vision/detect.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace tessera;
using namespace tessera::vision;

namespace {

const std::string kTiny = std::string(TESSERA_SOURCE_DIR) + "/tests/models/yolov8_tiny/";

struct f32_array {
  std::vector<float> values;
  shape_t shape;
  TensorView<const float> view() const { return TensorView<const float>(values.data(), shape); }
};

f32_array read_f32(const std::string& path) {
  auto bytes = io::read_file_bytes(path);
  REQUIRE_MESSAGE(bytes.ok(), path);
  auto a = io::parse_npy(*bytes);
  REQUIRE_MESSAGE(a.ok(), path);
  REQUIRE((a->kind == 'f' && a->itemsize == 4));
  f32_array out;
  for (std::int64_t d : a->shape) out.shape.push_back(d);
  out.values.resize(a->numel());
  if (!out.values.empty()) std::memcpy(out.values.data(), a->data.data(), a->data.size());
  return out;
}

// Runs the model on `input` with a pool of `threads` and returns its first output.
f32_array run_tiny(const f32_array& input, std::size_t threads) {
  auto m = onnx::model::load(kTiny + "model.onnx");
  REQUIRE_MESSAGE(m.ok(), m.err().what());
  runtime::thread_pool pool(threads);
  onnx::session_options so;
  so.pool = &pool;
  auto s = onnx::session::create(*m, so);
  REQUIRE(s.ok());
  const status st = s->run({{(*m)->inputs()[0].name, nn::any_view(input.view())}});
  REQUIRE_MESSAGE(st.ok(), st.what());
  const nn::any_view y = s->output(0);
  REQUIRE(y.type == nn::elem_type::f32);
  f32_array out;
  out.shape = y.shape;
  out.values.assign(y.ptr<const float>(), y.ptr<const float>() + y.size());
  return out;
}

}  // namespace

TEST_CASE("yolov8_tiny: tessera's raw output matches PyTorch's") {
  const f32_array input = read_f32(kTiny + "input.npy");
  const f32_array torch_out = read_f32(kTiny + "output.npy");
  const f32_array out = run_tiny(input, 1);
  REQUIRE(out.shape == torch_out.shape);
  double worst = 0;
  for (std::size_t i = 0; i < out.values.size(); ++i) {
    const double ref = torch_out.values[i];
    worst = std::max(worst, std::abs(out.values[i] - ref) / (1.0 + std::abs(ref)));
  }
  MESSAGE("largest difference relative to 1 + |PyTorch|: " << worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("yolov8_tiny: detections decoded from tessera's output are PyTorch's") {
  const f32_array input = read_f32(kTiny + "input.npy");
  const f32_array torch_out = read_f32(kTiny + "output.npy");
  const f32_array out = run_tiny(input, 2);
  // The random weights give scores between 0.4 and 0.52: thresholds inside that range keep
  // some candidates and drop others, so both NMS and the threshold are exercised.
  for (const float conf : {0.45f, 0.5f}) {
    detect_options o;
    o.confidence_threshold = conf;
    auto mine = decode_yolov8(out.view(), o);
    auto ref = decode_yolov8(torch_out.view(), o);
    REQUIRE((mine.ok() && ref.ok()));
    const auto kept = non_max_suppression(*mine, o), kept_ref = non_max_suppression(*ref, o);
    CAPTURE(conf);
    REQUIRE(!kept_ref.empty());
    REQUIRE(kept.size() == kept_ref.size());
    for (std::size_t i = 0; i < kept.size(); ++i) {
      CHECK(kept[i].class_id == kept_ref[i].class_id);
      CHECK(kept[i].confidence == doctest::Approx(kept_ref[i].confidence).epsilon(1e-4));
      CHECK(kept[i].bbox.x1 == doctest::Approx(kept_ref[i].bbox.x1).epsilon(1e-4));
      CHECK(kept[i].bbox.y1 == doctest::Approx(kept_ref[i].bbox.y1).epsilon(1e-4));
      CHECK(kept[i].bbox.x2 == doctest::Approx(kept_ref[i].bbox.x2).epsilon(1e-4));
      CHECK(kept[i].bbox.y2 == doctest::Approx(kept_ref[i].bbox.y2).epsilon(1e-4));
    }
  }
}

TEST_CASE("yolov8_tiny: the class names come from the model's metadata_props") {
  auto m = onnx::model::load(kTiny + "model.onnx");
  REQUIRE(m.ok());
  // make_detector_models.py stores names, stride, task and imgsz, in that order.
  REQUIRE((*m)->metadata().size() == 4);
  CHECK((*m)->metadata()[1].first == "stride");
  CHECK((*m)->metadata()[1].second == "32");
  CHECK((*m)->metadata_value("missing") == nullptr);
  const std::string* names = (*m)->metadata_value("names");
  REQUIRE(names != nullptr);
  auto parsed = parse_class_names(*names);
  REQUIRE(parsed.ok());
  CHECK(*parsed == std::vector<std::string>{"class0", "class1", "class2"});
}
