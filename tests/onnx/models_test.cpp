// Whole models end to end: the small random-weight CNNs of tests/onnx/models (written with
// their PyTorch outputs by scripts/make_onnx_models.py) match PyTorch; fused and unfused runs
// give the same bits (BatchNormalization folding aside, which changes the weights' rounding);
// a second run makes no heap allocation; a changed batch re-plans; several threads share one
// model. This file holds the binary's heap counter (tests/support/heap_counter.hpp).
#include <doctest/doctest.h>

#include "onnx/npy_tensor.hpp"
#include "support/harness.hpp"
#include "support/heap_counter.hpp"

#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/onnx.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace tessera;
namespace fs = std::filesystem;

namespace {

const fs::path kModelDir = fs::path(TESSERA_SOURCE_DIR) / "tests" / "onnx" / "models";

struct fixture {
  std::string name;
  std::vector<nn::tensor> inputs, outputs;
};

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kModelDir))
    if (e.path().extension() == ".onnx") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

fixture load_fixture(const std::string& name) {
  fixture f;
  f.name = name;
  for (int i = 0; fs::exists(kModelDir / (name + ".input_" + std::to_string(i) + ".npy")); ++i)
    f.inputs.push_back(test::must(test::read_npy_f32((kModelDir / (name + ".input_" + std::to_string(i) + ".npy")).string())));
  for (int i = 0; fs::exists(kModelDir / (name + ".output_" + std::to_string(i) + ".npy")); ++i)
    f.outputs.push_back(test::must(test::read_npy_f32((kModelDir / (name + ".output_" + std::to_string(i) + ".npy")).string())));
  return f;
}

std::vector<onnx::named_input> named(const onnx::session& s, const std::vector<nn::tensor>& inputs) {
  std::vector<onnx::named_input> in;
  for (std::size_t i = 0; i < s.inputs().size(); ++i) in.push_back({s.inputs()[i].name, inputs[i].view()});
  return in;
}

void check_close(const nn::any_view& got, const nn::tensor& want, double rtol, double atol, const std::string& what) {
  INFO(what);
  REQUIRE(got.type == nn::elem_type::f32);
  REQUIRE(got.shape == want.shape());
  const float* g = got.ptr<const float>();
  const float* w = want.ptr<float>();
  double worst = 0;
  index_t at = 0;
  for (index_t i = 0; i < want.size(); ++i) {
    const double excess = std::fabs(double(g[i]) - double(w[i])) - (atol + rtol * std::fabs(double(w[i])));
    if (excess > worst) worst = excess, at = i;
  }
  CAPTURE(at);
  CAPTURE(g[at]);
  CAPTURE(w[at]);
  CHECK(worst == 0.0);
}

bool same_bits(const nn::any_view& a, const nn::any_view& b) {
  return a.shape == b.shape && a.type == b.type && std::memcmp(a.data, b.data, a.bytes()) == 0;
}

}  // namespace

TEST_SUITE("onnx/models") {
TEST_CASE("every fixture model matches PyTorch") {
  const auto names = fixture_names();
  REQUIRE(names.size() >= 7);
  for (const std::string& name : names) {
    const fixture f = load_fixture(name);
    auto m = onnx::model::load((kModelDir / (name + ".onnx")).string());
    REQUIRE_MESSAGE(m.ok(), name << ": " << m.what());
    for (std::size_t threads : {1, 2}) {
      runtime::thread_pool pool(threads);
      onnx::session_options so;
      so.pool = &pool;
      auto s = onnx::session::create(*m, so);
      REQUIRE(s.ok());
      const auto in = named(*s, f.inputs);
      auto st = s->run(in);
      REQUIRE_MESSAGE(st.ok(), name << ": " << st.what());
      REQUIRE(s->outputs().size() == f.outputs.size());
      for (std::size_t o = 0; o < f.outputs.size(); ++o)
        check_close(s->output(o), f.outputs[o], 1e-4, 1e-5, name + " output " + std::to_string(o) + " threads " + std::to_string(threads));
    }
  }
}

TEST_CASE("fusing gives the bits of the unfused graph (BatchNormalization folding aside)") {
  for (const std::string& name : fixture_names()) {
    if (name == "conv_bn_relu") continue;  // folds BN into the weights: other rounding
    INFO(name);
    const fixture f = load_fixture(name);
    onnx::load_options unfused;
    unfused.fuse = false;
    auto fused_model = onnx::model::load((kModelDir / (name + ".onnx")).string());
    auto plain_model = onnx::model::load((kModelDir / (name + ".onnx")).string(), unfused);
    REQUIRE(fused_model.ok());
    REQUIRE(plain_model.ok());
    onnx::session_options no_residual;
    no_residual.plan.fuse = false;
    auto a = onnx::session::create(*fused_model);
    auto b = onnx::session::create(*plain_model, no_residual);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(a->run(named(*a, f.inputs)).ok());
    REQUIRE(b->run(named(*b, f.inputs)).ok());
    for (std::size_t o = 0; o < f.outputs.size(); ++o) CHECK(same_bits(a->output(o), b->output(o)));
  }
}

TEST_CASE("BatchNormalization folded into the conv matches the unfolded graph") {
  const fixture f = load_fixture("conv_bn_relu");
  onnx::load_options unfused;
  unfused.fuse = false;
  auto m = onnx::model::load((kModelDir / "conv_bn_relu.onnx").string(), unfused);
  REQUIRE(m.ok());
  int bn = 0;
  for (const auto& n : (*m)->graph().nodes) bn += n.op_type == "BatchNormalization" && !n.dead;
  CHECK(bn == 2);  // really unfolded: the BN nodes run
  auto s = onnx::session::create(*m);
  REQUIRE(s->run(named(*s, f.inputs)).ok());
  check_close(s->output(0), f.outputs[0], 1e-4, 1e-5, "unfolded");
  auto folded = onnx::model::load((kModelDir / "conv_bn_relu.onnx").string());
  int live_bn = 0;
  for (const auto& n : (*folded)->graph().nodes) live_bn += n.op_type == "BatchNormalization" && !n.dead;
  CHECK(live_bn == 0);
}

TEST_CASE("a second run makes no heap allocation") {
  std::vector<fs::path> models;
  for (const std::string& name : fixture_names()) models.push_back(kModelDir / (name + ".onnx"));
  const fs::path face = fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "models" / "face-detector" / "version-RFB-320.onnx";
  if (fs::exists(face)) models.push_back(face);
  for (const fs::path& path : models) {
    INFO(path.filename().string());
    auto m = onnx::model::load(path.string());
    REQUIRE(m.ok());
    std::vector<nn::tensor> inputs;
    for (const auto& io : (*m)->inputs()) {
      shape_t s;
      for (auto d : io.dims) s.push_back(d < 0 ? 2 : d);
      auto t = nn::tensor::zeros(io.type, s);
      REQUIRE(t.ok());
      float* p = t->ptr<float>();
      for (index_t i = 0; i < t->size(); ++i) p[i] = static_cast<float>((i * 7919) % 255) / 255.0f - 0.5f;
      inputs.push_back(std::move(t).value());
    }
    for (std::size_t threads : {1, 2}) {
      runtime::thread_pool pool(threads);
      onnx::session_options so;
      so.pool = &pool;
      auto s = onnx::session::create(*m, so);
      REQUIRE(s.ok());
      const auto in = named(*s, inputs);
      REQUIRE(s->run(in).ok());  // the first run may grow the scratch arenas
      REQUIRE(s->run(in).ok());
      std::size_t allocations = 0;
      status st;
      allocations = heap_allocations_during([&] { st = s->run(in); });
      CHECK(st.ok());
      CHECK(allocations == 0);
    }
  }
}

TEST_CASE("a symbolic batch dim re-plans per batch size") {
  const fixture f = load_fixture("conv1d");  // input [batch, 2, 32]
  auto m = onnx::model::load((kModelDir / "conv1d.onnx").string());
  REQUIRE(m.ok());
  CHECK((*m)->inputs()[0].dims[0] == -1);
  CHECK((*m)->default_plan() == nullptr);
  auto s = onnx::session::create(*m);
  const nn::tensor& x = f.inputs[0];
  const index_t row = x.size() / x.shape()[0];
  const index_t out_row = f.outputs[0].size() / f.outputs[0].shape()[0];
  // batch 3 (the fixture), then each row alone, then 3 again.
  REQUIRE(s->run(named(*s, f.inputs)).ok());
  check_close(s->output(0), f.outputs[0], 1e-4, 1e-5, "batch 3");
  for (index_t b = 0; b < x.shape()[0]; ++b) {
    shape_t one = x.shape();
    one[0] = 1;
    const onnx::named_input in{s->inputs()[0].name, nn::any_view(const_cast<float*>(x.ptr<float>()) + b * row, nn::elem_type::f32, one)};
    REQUIRE(s->run({in}).ok());
    const nn::any_view y = s->output(0);
    REQUIRE(y.shape[0] == 1);
    for (index_t i = 0; i < out_row; ++i)
      CHECK(y.ptr<const float>()[i] == doctest::Approx(f.outputs[0].ptr<float>()[b * out_row + i]).epsilon(1e-4));
  }
  REQUIRE(s->run(named(*s, f.inputs)).ok());
  check_close(s->output(0), f.outputs[0], 1e-4, 1e-5, "batch 3 again");
}

TEST_CASE("sessions on several threads share one model") {
  const fixture f = load_fixture("residual");
  auto m = onnx::model::load((kModelDir / "residual.onnx").string());
  REQUIRE(m.ok());
  auto ref = onnx::session::create(*m);
  REQUIRE(ref->run(named(*ref, f.inputs)).ok());
#if TESSERA_THREADS
  constexpr int kThreads = 4;
  std::vector<int> same(kThreads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t)
    workers.emplace_back([&, t] {
      runtime::thread_pool pool(1);
      onnx::session_options so;
      so.pool = &pool;
      auto s = onnx::session::create(*m, so);
      bool ok = s.ok();
      for (int r = 0; ok && r < 5; ++r) ok = s->run(named(*s, f.inputs)).ok() && same_bits(s->output(0), ref->output(0));
      same[static_cast<std::size_t>(t)] = ok;
    });
  for (auto& w : workers) w.join();
  for (int t = 0; t < kThreads; ++t) CHECK(same[static_cast<std::size_t>(t)] == 1);
#endif
}
}
