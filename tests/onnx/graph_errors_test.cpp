// Bad graphs and bad inputs: each is an error value naming the op type and node (or the
// input), never a crash, and never an allocation sized by an untrusted number.
#include <doctest/doctest.h>

#include "onnx_builder.hpp"

#include <tessera/io/file.hpp>
#include <tessera/onnx.hpp>

#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace tessera;
using test::attr_int;
using test::attr_ints;
using test::onnx_model_builder;

namespace {

expected<std::shared_ptr<const onnx::model>> load(const onnx_model_builder& b) {
  const auto bytes = b.bytes();
  return onnx::model::load(std::span<const std::uint8_t>(bytes));
}

std::string load_error(const onnx_model_builder& b) {
  auto m = load(b);
  return m.ok() ? std::string() : m.what();
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_SUITE("onnx/graph_errors") {
TEST_CASE("the op table lists every op type once") {
  std::set<std::string_view> seen;
  for (const auto& e : onnx::registered_ops()) {
    CHECK(seen.insert(e.type).second);
    CHECK(e.first_opset <= e.last_opset);
    CHECK(onnx::find_op(e.type) == &e);
  }
  CHECK(onnx::find_op("NoSuchOp") == nullptr);
  CHECK(onnx::registered_ops().size() == seen.size());
}

TEST_CASE("a well-formed graph loads and runs (the builder is sound)") {
  onnx_model_builder b;
  b.input("x", {2, 3}).node("Relu", {"x"}, {"y"}, {}, "relu0").output("y", {2, 3});
  auto m = load(b);
  REQUIRE_MESSAGE(m.ok(), m.what());
  auto s = onnx::session::create(*m);
  float x[6] = {-1, 2, -3, 4, -5, 6};
  REQUIRE(s->run({{"x", nn::any_view(x, nn::elem_type::f32, {2, 3})}}).ok());
  CHECK(s->output(0).ptr<float>()[0] == 0.0f);
  CHECK(s->output(0).ptr<float>()[5] == 6.0f);
}

TEST_CASE("unsupported ops and domains name the op type and the node") {
  onnx_model_builder b;
  b.input("x", {2}).node("FooBar", {"x"}, {"y"}, {}, "mystery").output("y");
  const std::string e = load_error(b);
  CHECK(contains(e, "FooBar"));
  CHECK(contains(e, "mystery"));

  onnx_model_builder old(5);
  old.input("x", {2}).node("HardSwish", {"x"}, {"y"}, {}, "hs").output("y");
  const std::string e2 = load_error(old);
  CHECK(contains(e2, "HardSwish 'hs'"));
  CHECK(contains(e2, "opset 5"));
}

TEST_CASE("cycles, missing inputs, values defined twice and missing outputs") {
  onnx_model_builder cycle;
  cycle.input("x", {2}).node("Add", {"x", "b"}, {"a"}, {}, "first").node("Relu", {"a"}, {"b"}, {}, "second").output("b");
  CHECK(contains(load_error(cycle), "cycle"));

  onnx_model_builder missing;
  missing.input("x", {2}).node("Relu", {"nowhere"}, {"y"}, {}, "r").output("y");
  const std::string e = load_error(missing);
  CHECK(contains(e, "Relu 'r'"));
  CHECK(contains(e, "nowhere"));

  onnx_model_builder twice;
  twice.input("x", {2}).node("Relu", {"x"}, {"y"}, {}, "a").node("Relu", {"x"}, {"y"}, {}, "b").output("y");
  CHECK(contains(load_error(twice), "'y'"));

  onnx_model_builder no_output;
  no_output.input("x", {2}).node("Relu", {"x"}, {"y"}, {}, "a").output("z");
  CHECK(contains(load_error(no_output), "'z'"));
}

TEST_CASE("wrong initializer shapes and mismatched operands are errors naming the node") {
  onnx_model_builder conv;
  conv.input("x", {1, 3, 8, 8})
      .initializer("w", {4, 5, 3, 3}, std::vector<float>(180, 0.5f))
      .node("Conv", {"x", "w"}, {"y"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv7")
      .output("y");
  const std::string e = load_error(conv);
  CHECK(contains(e, "Conv 'conv7'"));
  CHECK(contains(e, "channels"));

  onnx_model_builder rank;
  rank.input("x", {1, 3, 8, 8}).initializer("w", {4, 3, 3}, std::vector<float>(36, 0.5f)).node("Conv", {"x", "w"}, {"y"}, {}, "c").output("y");
  CHECK(contains(load_error(rank), "Conv 'c'"));

  onnx_model_builder bias;
  bias.input("x", {1, 3, 8, 8})
      .initializer("w", {4, 3, 3, 3}, std::vector<float>(108, 0.5f))
      .initializer("b", {5}, std::vector<float>(5, 0.0f))
      .node("Conv", {"x", "w", "b"}, {"y"}, {}, "cb")
      .output("y");
  CHECK(contains(load_error(bias), "Conv 'cb'"));

  onnx_model_builder add;
  add.input("a", {2, 3}).input("b", {4}).node("Add", {"a", "b"}, {"y"}, {}, "sum").output("y");
  const std::string e2 = load_error(add);
  CHECK(contains(e2, "Add 'sum'"));
  CHECK(contains(e2, "broadcast"));

  onnx_model_builder gemm;
  gemm.input("a", {2, 3}).initializer("b", {4, 5}, std::vector<float>(20, 1.0f)).node("Gemm", {"a", "b"}, {"y"}, {}, "fc").output("y");
  CHECK(contains(load_error(gemm), "Gemm 'fc'"));

  onnx_model_builder reshape;
  reshape.input("x", {2, 3}).initializer_i64("s", {2}, {4, 4}).node("Reshape", {"x", "s"}, {"y"}, {}, "rs").output("y");
  CHECK(contains(load_error(reshape), "Reshape 'rs'"));
}

TEST_CASE("absurd sizes are refused before anything is allocated") {
  onnx_model_builder huge_const;
  huge_const.initializer_i64("shape", {3}, {1 << 20, 1 << 20, 1 << 20}).node("ConstantOfShape", {"shape"}, {"y"}, {}, "big").output("y");
  const std::string e = load_error(huge_const);
  CHECK(contains(e, "ConstantOfShape 'big'"));

  onnx_model_builder limit;  // fits in 2^48 elements but not in the constant budget
  limit.initializer_i64("shape", {2}, {1 << 20, 1 << 20}).node("ConstantOfShape", {"shape"}, {"y"}, {}, "big").output("y");
  onnx::load_options small;
  small.max_constant_bytes = 1 << 20;
  const auto bytes = limit.bytes();
  auto m = onnx::model::load(std::span<const std::uint8_t>(bytes), small);
  REQUIRE_FALSE(m.ok());
  CHECK(m.err().code == errc::out_of_memory);

  // What folding creates beyond its inputs has its own, smaller bound (a Transpose or Cast of a
  // weight creates nothing new; ConstantOfShape, Tile and Expand do): a few floats more than that
  // bound, from 8 bytes, is refused under the defaults (and is under max_constant_bytes).
  const auto past_fold_limit = static_cast<std::int64_t>(onnx::load_options{}.max_folded_bytes / sizeof(float) + 16);
  CHECK(onnx::load_options{}.max_folded_bytes < onnx::load_options{}.max_constant_bytes);
  onnx_model_builder grow;
  grow.initializer_i64("shape", {1}, {past_fold_limit}).node("ConstantOfShape", {"shape"}, {"y"}, {}, "big").output("y");
  const std::string ge = load_error(grow);
  CHECK(contains(ge, "ConstantOfShape 'big'"));
  CHECK(contains(ge, "max_folded_bytes"));
  onnx::load_options tight;
  tight.max_folded_bytes = 1024;
  onnx_model_builder transpose;
  transpose.initializer("w", {16, 64}, std::vector<float>(1024, 0.5f)).node("Transpose", {"w"}, {"y"}, {}, "t").output("y");
  const auto tb = transpose.bytes();
  auto transposed = onnx::model::load(std::span<const std::uint8_t>(tb), tight);
  CHECK_MESSAGE(transposed.ok(), transposed.what());
  onnx_model_builder tile_weight;
  tile_weight.initializer("w", {1, 64}, std::vector<float>(64, 0.5f)).initializer_i64("r", {2}, {16, 1})
      .node("Tile", {"w", "r"}, {"y"}, {}, "t").output("y");
  const auto wb = tile_weight.bytes();
  auto wm = onnx::model::load(std::span<const std::uint8_t>(wb), tight);
  REQUIRE_FALSE(wm.ok());
  CHECK(wm.err().code == errc::out_of_memory);
  CHECK(contains(wm.err().message, "max_folded_bytes"));
  tight.max_folded_bytes = 4096;  // 958 new elements: 3832 bytes
  auto wm2 = onnx::model::load(std::span<const std::uint8_t>(wb), tight);
  CHECK_MESSAGE(wm2.ok(), wm2.what());

  // A plan over the memory limit waits for a session (whose plan options may allow more):
  // the model loads without a plan and the run is refused, naming the node.
  onnx_model_builder huge_input;
  huge_input.input("x", {1 << 30, 1 << 30, 1 << 30}).node("Relu", {"x"}, {"y"}, {}, "r").output("y");
  auto hm = load(huge_input);
  REQUIRE_MESSAGE(hm.ok(), hm.what());
  CHECK((*hm)->default_plan() == nullptr);
  float one = 0;
  auto hs = onnx::session::create(*hm);
  REQUIRE(hs.ok());
  const status hr = hs->run({{"x", nn::any_view(&one, nn::elem_type::f32, {1 << 30, 1 << 30, 1 << 30})}});
  REQUIRE_FALSE(hr.ok());
  CHECK(hr.err().code == errc::out_of_memory);

  onnx_model_builder tile;
  tile.input("x", {1, 4}).initializer_i64("r", {2}, {std::int64_t{1} << 40, std::int64_t{1} << 40}).node("Tile", {"x", "r"}, {"y"}, {}, "t").output("y");
  auto tm = load(tile);
  REQUIRE_MESSAGE(tm.ok(), tm.what());
  CHECK((*tm)->default_plan() == nullptr);
  auto ts = onnx::session::create(*tm);
  REQUIRE(ts.ok());
  float four[4] = {1, 2, 3, 4};
  const status tr = ts->run({{"x", nn::any_view(four, nn::elem_type::f32, {1, 4})}});
  REQUIRE_FALSE(tr.ok());
  CHECK(tr.err().code == errc::out_of_memory);
  CHECK(contains(tr.what(), "Tile 't'"));

  onnx_model_builder pad;
  pad.input("x", {2, 2}).initializer_i64("p", {4}, {0, 0, std::int64_t{1} << 50, 0}).node("Pad", {"x", "p"}, {"y"}, {}, "p0").output("y");
  CHECK(contains(load_error(pad), "Pad 'p0'"));
}

TEST_CASE("Slice with steps at the ends of int64 takes one element (onnx_graph_fuzz)") {
  // ceil(span / step) once computed span + step - 1, which overflows for INT64_MAX.
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max(), kMin = std::numeric_limits<std::int64_t>::min();
  struct slice_case {
    std::int64_t start, end, step;
    float expect;
  };
  for (const slice_case& k : {slice_case{0, kMax, kMax, 1.0f}, slice_case{1, 5, kMax, 2.0f}, slice_case{-1, kMin, kMin, 5.0f},
                              slice_case{3, kMin, -kMax, 4.0f}}) {
    CAPTURE(k.step);
    onnx_model_builder b;
    b.input("x", {5})
        .initializer_i64("s", {1}, {k.start})
        .initializer_i64("e", {1}, {k.end})
        .initializer_i64("a", {1}, {0})
        .initializer_i64("t", {1}, {k.step})
        .node("Slice", {"x", "s", "e", "a", "t"}, {"y"}, {}, "slice0")
        .output("y");
    auto m = load(b);
    REQUIRE_MESSAGE(m.ok(), m.what());
    auto s = onnx::session::create(*m);
    REQUIRE(s.ok());
    float x[5] = {1, 2, 3, 4, 5};
    REQUIRE(s->run({{"x", nn::any_view(x, nn::elem_type::f32, {5})}}).ok());
    REQUIRE(s->output(0).shape == shape_t{1});
    CHECK(s->output(0).ptr<float>()[0] == k.expect);
  }
}

TEST_CASE("damaged files are parse errors") {
  onnx_model_builder b;
  b.input("x", {2}).node("Relu", {"x"}, {"y"}, {}, "r").output("y");
  auto bytes = b.bytes();
  for (std::size_t cut : {std::size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    auto m = onnx::model::load(std::span<const std::uint8_t>(bytes.data(), cut));
    CHECK_FALSE(m.ok());
  }
  CHECK_FALSE(onnx::model::load("/nonexistent/model.onnx").ok());
}

TEST_CASE("run-time input errors: names, types, shapes, values") {
  onnx_model_builder b;
  b.input("x", {-1, 3}).input("i", {2}, 7).node("Gather", {"x", "i"}, {"y"}, {attr_int("axis", 0)}, "g").output("y");
  auto m = load(b);
  REQUIRE_MESSAGE(m.ok(), m.what());
  auto s = onnx::session::create(*m);
  float x[6] = {1, 2, 3, 4, 5, 6};
  std::int64_t idx[2] = {1, 0};
  const nn::any_view xv(x, nn::elem_type::f32, {2, 3}), iv(idx, nn::elem_type::i64, {2});
  REQUIRE(s->run({{"x", xv}, {"i", iv}}).ok());
  CHECK(s->output(0).ptr<float>()[0] == 4.0f);
  CHECK(contains(s->run({{"x", xv}}).what(), "'i' is missing"));
  CHECK(contains(s->run({{"x", xv}, {"i", iv}, {"z", iv}}).what(), "'z'"));
  CHECK(contains(s->run({{"x", xv}, {"x", xv}, {"i", iv}}).what(), "twice"));
  CHECK(contains(s->run({{"x", iv}, {"i", iv}}).what(), "float32"));
  CHECK(contains(s->run({{"x", nn::any_view(x, nn::elem_type::f32, {3, 2})}, {"i", iv}}).what(), "dim 1"));
  std::int64_t bad[2] = {7, 0};
  const std::string e = s->run({{"x", xv}, {"i", nn::any_view(bad, nn::elem_type::i64, {2})}}).what();
  CHECK(contains(e, "Gather 'g'"));
  CHECK(contains(e, "out of range"));
  REQUIRE(s->run({{"x", xv}, {"i", iv}}).ok());  // still usable
}
}
