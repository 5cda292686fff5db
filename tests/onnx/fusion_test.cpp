// Load-time fusions: each rewrites the graph only where the pattern is exact, and the fused
// graph gives the unfused one's bits.
#include <doctest/doctest.h>

#include "onnx_builder.hpp"

#include <tessera/onnx.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace tessera;
using test::attr_ints;
using test::onnx_model_builder;

namespace {

std::shared_ptr<const onnx::model> load_fusing(const onnx_model_builder& b, bool fuse = true) {
  const auto bytes = b.bytes();
  onnx::load_options o;
  o.fuse = fuse;
  auto m = onnx::model::load(std::span<const std::uint8_t>(bytes), o);
  REQUIRE_MESSAGE(m.ok(), m.what());
  return *m;
}

int live_nodes(const onnx::model& m, const std::string& op) {
  int n = 0;
  for (const auto& node : m.graph().nodes) n += node.op_type == op && !node.dead;
  return n;
}

std::vector<float> run_on(const std::shared_ptr<const onnx::model>& m, const std::vector<float>& x, std::size_t out = 0) {
  auto s = onnx::session::create(m);
  REQUIRE(s.ok());
  const onnx::named_input in{"x", nn::any_view(const_cast<float*>(x.data()), nn::elem_type::f32, shape_t{1, 3, 6, 6})};
  REQUIRE(s->run(std::span<const onnx::named_input>(&in, 1)).ok());
  const nn::any_view y = s->output(out);
  return std::vector<float>(y.ptr<const float>(), y.ptr<const float>() + y.size());
}

// Conv -> x; y = Mul(x, Sigmoid(x)) (the operand order given), as PyTorch exports SiLU.
onnx_model_builder conv_silu(bool sigmoid_first, bool x_is_output) {
  std::vector<float> w(4 * 3 * 9), b(4);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7f * float(i)) * 0.5f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.25f * float(i) - 0.4f;
  onnx_model_builder m;
  m.input("x", {1, 3, 6, 6})
      .initializer("w", {4, 3, 3, 3}, w)
      .initializer("b", {4}, b)
      .node("Conv", {"x", "w", "b"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv")
      .node("Sigmoid", {"c"}, {"s"}, {}, "sig")
      .node("Mul", sigmoid_first ? std::vector<std::string>{"s", "c"} : std::vector<std::string>{"c", "s"}, {"y"}, {}, "mul")
      .output("y");
  if (x_is_output) m.output("c");
  return m;
}

std::vector<float> silu_input() {
  std::vector<float> x(3 * 36);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.3f * float(i)) * 6.0f;  // both tails of the sigmoid
  return x;
}

}  // namespace

TEST_CASE("Mul(x, Sigmoid(x)) after a conv becomes the conv's SiLU, in either operand order") {
  for (bool sigmoid_first : {false, true}) {
    INFO("sigmoid first: " << sigmoid_first);
    auto fused = load_fusing(conv_silu(sigmoid_first, false));
    auto plain = load_fusing(conv_silu(sigmoid_first, false), false);
    CHECK(live_nodes(*fused, "Sigmoid") == 0);
    CHECK(live_nodes(*fused, "Mul") == 0);
    CHECK(live_nodes(*plain, "Sigmoid") == 1);
    const auto a = run_on(fused, silu_input()), b = run_on(plain, silu_input());
    REQUIRE(a.size() == b.size());
    bool negative_seen = false;
    for (float v : b) negative_seen |= v < -0.1f;
    CHECK(negative_seen);  // the SiLU's dip is exercised, not only its identity tail
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);  // the unfused graph's bits
  }
}

TEST_CASE("SiLU is not fused when the conv's output is read elsewhere too") {
  auto m = load_fusing(conv_silu(false, true));  // the conv output is also a graph output
  CHECK(live_nodes(*m, "Sigmoid") == 1);
  CHECK(live_nodes(*m, "Mul") == 1);
  auto plain = load_fusing(conv_silu(false, true), false);
  CHECK(run_on(m, silu_input(), 1) == run_on(plain, silu_input(), 1));

  onnx_model_builder other;  // Mul(x, Sigmoid(z)) with z another value: not a SiLU
  other.input("x", {1, 3, 6, 6})
      .initializer("w", {3, 3, 1, 1}, std::vector<float>(9, 0.5f))
      .node("Conv", {"x", "w"}, {"c"}, {}, "conv")
      .node("Sigmoid", {"x"}, {"s"}, {}, "sig")
      .node("Mul", {"c", "s"}, {"y"}, {}, "mul")
      .output("y");
  auto o = load_fusing(other);
  CHECK(live_nodes(*o, "Mul") == 1);
  CHECK(run_on(o, silu_input()) == run_on(load_fusing(other, false), silu_input()));
}

TEST_CASE("a binary op followed by Relu or Clip carries it fused, with the unfused graph's bits") {
  // Add, Sub and Mul apply it in their own pass, the others in a second one over their output.
  std::vector<float> k(3);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = 0.75f * float(i) - 0.6f;
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"}) {
    for (bool clip : {false, true}) {
      INFO(std::string(op) << (clip ? " + Clip" : " + Relu"));
      onnx_model_builder m;
      m.input("x", {1, 3, 6, 6}).initializer("k", {1, 3, 1, 1}, k).node(op, {"x", "k"}, {"z"}, {}, "op");
      if (clip) m.initializer("lo", {}, {-0.5f}).initializer("hi", {}, {1.5f}).node("Clip", {"z", "lo", "hi"}, {"y"}, {}, "act");
      else m.node("Relu", {"z"}, {"y"}, {}, "act");
      m.output("y");
      auto fused = load_fusing(m);
      auto plain = load_fusing(m, false);
      CHECK(live_nodes(*fused, clip ? "Clip" : "Relu") == 0);
      CHECK(live_nodes(*plain, clip ? "Clip" : "Relu") == 1);
      const auto a = run_on(fused, silu_input()), b = run_on(plain, silu_input());
      REQUIRE(a.size() == b.size());
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    }
  }
}
