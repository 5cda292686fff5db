// The two real face detectors of ../shared/models/face-detector (opset 9: Conv, BatchNorm,
// depthwise convs, Shape/Gather/Concat/Reshape chains, Softmax, Exp) load, run, and give
// onnxruntime-node's raw outputs on the same input tensors. tests/onnx/face_detector_ort.mjs
// decodes the photos once and writes both the input tensors and ORT's outputs as .npy; this
// test runs tessera on those tensors. Skips without ../shared, node or onnxruntime-node (and
// under WASM, which cannot start node); the loading and running part needs only ../shared.
#include <doctest/doctest.h>

#include "onnx/npy_tensor.hpp"

#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/onnx.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace tessera;
namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "models" / "face-detector";
const char* kFaceModels[] = {"version-RFB-320", "version-slim-320"};

#if !TESSERA_WASM  // the comparison with onnxruntime-node runs natively only
const char* kPhotos[] = {"1", "2", "13", "19", "26"};

// Faces: priors with score > 0.7, greedy non-maximum suppression at IoU 0.3.
int count_faces(const float* scores, const float* boxes, index_t n) {
  std::vector<index_t> cand;
  for (index_t i = 0; i < n; ++i)
    if (scores[2 * i + 1] > 0.7f) cand.push_back(i);
  std::sort(cand.begin(), cand.end(), [&](index_t a, index_t b) { return scores[2 * a + 1] > scores[2 * b + 1]; });
  std::vector<index_t> kept;
  for (index_t c : cand) {
    const float* b = boxes + 4 * c;
    bool keep = true;
    for (index_t k : kept) {
      const float* o = boxes + 4 * k;
      const float iw = std::max(0.0f, std::min(b[2], o[2]) - std::max(b[0], o[0]));
      const float ih = std::max(0.0f, std::min(b[3], o[3]) - std::max(b[1], o[1]));
      const float inter = iw * ih, uni = (b[2] - b[0]) * (b[3] - b[1]) + (o[2] - o[0]) * (o[3] - o[1]) - inter;
      if (uni > 0 && inter / uni > 0.3f) keep = false;
    }
    if (keep) kept.push_back(c);
  }
  return static_cast<int>(kept.size());
}
#endif

}  // namespace

TEST_SUITE("onnx/face_detector") {
TEST_CASE("both detectors load and run; their plans keep conv chains channels-last") {
  if (!fs::exists(kDir)) {
    MESSAGE("skipped: " << kDir.string() << " is absent");
    return;
  }
  for (const std::string name : kFaceModels) {
    INFO(name);
    auto m = onnx::model::load((kDir / (name + ".onnx")).string());
    REQUIRE_MESSAGE(m.ok(), m.what());
    REQUIRE((*m)->inputs().size() == 1);  // the initializers listed as inputs stay constants
    CHECK((*m)->inputs()[0].name == "input");
    REQUIRE((*m)->default_plan() != nullptr);
    const onnx::execution_plan& p = *(*m)->default_plan();
    int convs = 0, to_plain = 0;
    for (const auto& s : p.steps) {
      convs += s.what == onnx::plan_step::kind::run_op && (*m)->graph().nodes[static_cast<std::size_t>(s.node)].op_type == "Conv";
      to_plain += s.what == onnx::plan_step::kind::to_plain;
    }
    CHECK(convs > 30);
    CHECK(to_plain <= 8);  // only where the heads leave the conv chain
    auto s = onnx::session::create(*m);
    auto x = nn::tensor::zeros(nn::elem_type::f32, {1, 3, 240, 320});
    REQUIRE(s->run({{"input", x->view()}}).ok());
    CHECK(s->output(0).shape == shape_t({1, 4420, 2}));
    CHECK(s->output(1).shape == shape_t({1, 4420, 4}));
  }
}

TEST_CASE("raw outputs match onnxruntime-node on the photos") {
#if TESSERA_WASM
  MESSAGE("skipped under WASM (the peer runs in node natively)");
#else
  const fs::path js = fs::path(TESSERA_SOURCE_DIR) / "benchmarks" / "js" / "node_modules";
  if (!fs::exists(kDir) || !fs::exists(js / "onnxruntime-node") || !fs::exists(js / "jpeg-js")) {
    MESSAGE("skipped: needs ../shared and onnxruntime-node + jpeg-js (scripts/install-bench-peers.sh)");
    return;
  }
  const fs::path out = fs::temp_directory_path() / ("tessera_face_" + std::to_string(std::rand()));
  fs::create_directories(out);
  std::string models, photos;
  for (const char* m : kFaceModels) models += (models.empty() ? "" : ",") + (kDir / (std::string(m) + ".onnx")).string();
  for (const char* p : kPhotos) photos += (photos.empty() ? "" : ",") + (kDir / (std::string(p) + ".jpg")).string();
  const std::string cmd = "node " + (fs::path(TESSERA_SOURCE_DIR) / "tests" / "onnx" / "face_detector_ort.mjs").string() + " --out " +
                          out.string() + " --models " + models + " --photos " + photos + " > " + (out / "log.txt").string() + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    MESSAGE("skipped: the onnxruntime-node script failed (see " << (out / "log.txt").string() << ")");
    return;
  }
  for (const std::string name : kFaceModels) {
    auto m = onnx::model::load((kDir / (name + ".onnx")).string());
    REQUIRE(m.ok());
    auto s = onnx::session::create(*m);
    for (const std::string photo : kPhotos) {
      INFO(name << " on " << photo << ".jpg");
      auto x = test::read_npy_f32((out / (photo + ".input.npy")).string());
      REQUIRE_MESSAGE(x.ok(), x.what());
      REQUIRE(s->run({{"input", x->view()}}).ok());
      const std::string prefix = name + "." + photo + ".";
      auto scores = test::read_npy_f32((out / (prefix + "scores.npy")).string());
      auto boxes = test::read_npy_f32((out / (prefix + "boxes.npy")).string());
      REQUIRE(scores.ok());
      REQUIRE(boxes.ok());
      const nn::tensor* want[2] = {&*scores, &*boxes};
      for (int o = 0; o < 2; ++o) {
        const nn::any_view got = s->output(static_cast<std::size_t>(o));
        REQUIRE(got.shape == want[o]->shape());
        double worst = 0;
        for (index_t i = 0; i < got.size(); ++i)
          worst = std::max(worst, std::fabs(double(got.ptr<const float>()[i]) - double(want[o]->ptr<float>()[i])));
        CAPTURE(o);
        CHECK(worst < 2e-4);
      }
      const index_t n = s->output(0).shape[1];
      const int ours = count_faces(s->output(0).ptr<const float>(), s->output(1).ptr<const float>(), n);
      const int theirs = count_faces(scores->ptr<float>(), boxes->ptr<float>(), n);
      MESSAGE(name << " " << photo << ".jpg: " << ours << " faces (onnxruntime-node " << theirs << ")");
      CHECK(ours == theirs);
      CHECK(ours > 0);
    }
  }
  fs::remove_all(out);
#endif
}
}
