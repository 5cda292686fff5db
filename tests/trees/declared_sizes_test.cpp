// The predictor's memory follows the features the trees use and the rows it is given, not
// the sizes a model declares (issue 13): the feature-major block holds only the used
// features, row blocks shrink with many outputs, and results stay bit-identical to the
// reference interpreter.
#include <doctest/doctest.h>

#include <tessera/trees/predict.hpp>
#include <tessera/trees/predict_ref.hpp>

#include "check_predictor.hpp"
#include "random_forest.hpp"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace tessera;
using namespace tessera::trees;
using namespace tessera::trees::testing;

namespace {

// Float rows, and the same rows as doubles (rounded back for f32 forests, the general path
// for f64 ones), against the reference.
void check_exact(const forest& f, const predictor& p, const std::vector<float>& rows, std::size_t n_rows,
                 runtime::thread_pool* pool) {
  check_against_reference(f, p, rows, n_rows, pool, "float rows");
  check_against_reference(f, p, std::vector<double>(rows.begin(), rows.end()), n_rows, pool, "double rows");
}

}  // namespace

TEST_CASE("the block holds only the used features; predictions are unchanged") {
  std::mt19937 rng(13);
  for (source_format fmt : {source_format::xgboost, source_format::lightgbm}) {
    random_forest_options o;
    o.format = fmt;
    o.num_features = 8;
    o.max_depth = 5;
    forest f = random_forest(rng, o);
    // Spread the 8 features over 400 declared ones: features 0, 50, 100, ... are read.
    forest wide = f;
    wide.num_features = 400;
    for (std::int32_t& s : wide.split_feature)
      if (s >= 0) s *= 50;
    REQUIRE(wide.validate().ok());
    auto p = compile(wide);
    REQUIRE(p.ok());
    REQUIRE(p->num_complete_trees() > 0);
    CHECK(p->view().block_columns() <= 8);
    CHECK(p->view().block_features.size() == p->view().block_columns());
    runtime::thread_pool pool(2);
    const std::vector<float> rows = random_rows(rng, 300, wide.num_features, 0.1);
    for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{128}, std::size_t{300}}) {
      INFO("format ", static_cast<int>(fmt), ", rows ", n);
      check_exact(wide, *p, rows, n, n == 300 ? &pool : nullptr);
    }
    // The same model on its 8 real columns gives the same margins.
    auto narrow = compile(f);
    REQUIRE(narrow.ok());
    std::vector<float> x8(300 * 8);
    for (std::size_t r = 0; r < 300; ++r)
      for (std::size_t j = 0; j < 8; ++j) x8[r * 8 + j] = rows[r * 400 + j * 50];
    const std::size_t k = static_cast<std::size_t>(f.num_outputs);
    std::vector<double> a(300 * k), b(300 * k);
    REQUIRE(narrow->predict_margin(std::span<double>(a), std::span<const float>(x8), 8).ok());
    REQUIRE(p->predict_margin(std::span<double>(b), std::span<const float>(rows), 400).ok());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i) bad += !same_bits_or_nan(a[i], b[i]);
    CHECK(bad == 0);
  }
}

TEST_CASE("a wrapped view with block features predicts like its predictor; corrupt ones are refused") {
  std::mt19937 rng(14);
  random_forest_options o;
  o.num_features = 6;
  forest f = random_forest(rng, o);
  f.num_features = 60;
  for (std::int32_t& s : f.split_feature)
    if (s >= 0) s = s * 10 + 3;
  REQUIRE(f.validate().ok());
  auto p = compile(f);
  REQUIRE(p.ok());
  REQUIRE_FALSE(p->view().block_features.empty());
  if (p->view().block_features.empty()) return;  // REQUIRE does not stop a test built without exceptions
  auto w = predictor::wrap(p->view());
  REQUIRE(w.ok());
  check_exact(f, *w, random_rows(rng, 200, f.num_features, 0.1), 200, nullptr);
  forest_view v = p->view();
  std::vector<std::uint32_t> cols(v.block_features.begin(), v.block_features.end());
  cols.back() = 60;  // past num_features
  v.block_features = cols;
  CHECK_FALSE(predictor::wrap(v).ok());
  if (cols.size() >= 2) {
    cols = std::vector<std::uint32_t>(p->view().block_features.begin(), p->view().block_features.end());
    std::swap(cols[0], cols[1]);  // not increasing
    v.block_features = cols;
    CHECK_FALSE(predictor::wrap(v).ok());
  }
}

TEST_CASE("many outputs: smaller row blocks, same results") {
  // 300 outputs: 27 rows per block instead of 128, so the accumulators stay ~64 KB.
  std::mt19937 rng(15);
  random_forest_options o;
  o.num_outputs = 300;
  o.num_trees = 600;
  o.max_depth = 3;
  o.transform = output_transform::softmax;
  const forest f = random_forest(rng, o);
  auto p = compile(f);
  REQUIRE(p.ok());
  runtime::thread_pool pool(2);
  const std::vector<float> rows = random_rows(rng, 400, f.num_features, 0.1);
  for (std::size_t n : {std::size_t{1}, std::size_t{26}, std::size_t{27}, std::size_t{28}, std::size_t{400}})
    check_exact(f, *p, rows, n, n == 400 ? &pool : nullptr);
}

TEST_CASE("declared-size limits") {
  CHECK(check_declared_features(10, 10, 0).ok());
  CHECK(check_declared_features(10 + 64 * 100, 10, 100).ok());
  CHECK_FALSE(check_declared_features(11 + 64 * 100, 10, 100).ok());
  CHECK(check_declared_features(2147483647, 2147483647, 10).ok());  // all used
  CHECK_FALSE(check_declared_features(2147483647, 1, 1u << 20).ok());
  CHECK(check_declared_outputs(1, 0).ok());
  CHECK(check_declared_outputs(3, 3).ok());
  CHECK_FALSE(check_declared_outputs(4, 3).ok());
  CHECK_FALSE(check_declared_outputs(2, 0).ok());
  forest f;
  CHECK(f.used_feature_end() == 0);
  f.num_features = 9;
  f.base_margin = {0.0};
  f.begin_tree(0);
  f.add_numerical_split({.feature = 4, .threshold = 0.5, .left = 1, .right = 2});
  f.add_leaf(1.0);
  f.add_leaf(2.0);
  f.end_tree();
  CHECK(f.used_feature_end() == 5);
}
