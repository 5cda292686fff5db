// The forest IR: validate() rejects every broken invariant, and the documented split
// semantics (XGBoost's `<`, LightGBM's `<=`, missing rules, category rules, dart weights,
// average_output) hold on small hand-built forests.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "trees/tree_fixtures.hpp"

using namespace tessera;
using trees::forest;
using trees::missing_rule;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// One stump: feature 0 < / <= thresh -> leaf -1 else leaf +1.
forest stump(bool lightgbm, double thresh, missing_rule miss = missing_rule::nan_default, bool dleft = false) {
  forest f;
  f.num_features = 2;
  f.base_margin = {0.0};
  if (lightgbm) {
    f.format = trees::source_format::lightgbm;
    f.compare = trees::compare_op::less_equal;
    f.accumulate = trees::accum_type::f64;
    f.features = trees::feature_precision::f64;
    f.categories = trees::category_rule::in_set_left;
  } else {
    f.format = trees::source_format::xgboost;
  }
  f.begin_tree(0);
  f.add_numerical_split({.feature = 0, .threshold = thresh, .default_left = dleft, .missing = miss, .left = 1, .right = 2});
  f.add_leaf(-1.0);
  f.add_leaf(1.0);
  f.end_tree();
  return f;
}

double margin_of(const forest& f, double x0, double x1 = 0.0) {
  const double row[2] = {x0, x1};
  double out[8] = {};
  const auto s = trees::ref::predict_margin(std::span<double>(out, static_cast<std::size_t>(f.num_outputs)), f,
                                            std::span<const double>(row, 2));
  REQUIRE(s.ok());
  return out[0];
}

}  // namespace

TEST_SUITE("trees/forest") {
  TEST_CASE("a well-formed forest validates") {
    const forest f = stump(false, 0.5);
    CHECK(f.validate().ok());
    CHECK(f.num_trees() == 1);
    CHECK(f.num_nodes() == 3);
    CHECK(f.is_leaf(1));
    CHECK(!f.is_leaf(0));
  }

  TEST_CASE("validate rejects broken structure") {
    SUBCASE("child index out of range") {
      forest f = stump(false, 0.5);
      f.right_child[0] = 7;
      CHECK(f.validate().code() == errc::parse_error);
    }
    SUBCASE("negative child") {
      forest f = stump(false, 0.5);
      f.left_child[0] = -5;
      CHECK(!f.validate().ok());
    }
    SUBCASE("cycle back to the root") {
      forest f = stump(false, 0.5);
      // Turn leaf 2 into a split whose child is the root.
      f.split_feature[2] = 0;
      f.left_child[2] = 0;
      f.right_child[2] = 1;
      CHECK(!f.validate().ok());
    }
    SUBCASE("shared child") {
      forest f = stump(false, 0.5);
      f.right_child[0] = 1;
      CHECK(!f.validate().ok());
    }
    SUBCASE("unreachable node") {
      forest f = stump(false, 0.5);
      f.add_leaf(3.0);
      f.tree_first_node.back() = f.num_nodes();
      CHECK(!f.validate().ok());
    }
    SUBCASE("child in another tree") {
      forest f = stump(false, 0.5);
      f.begin_tree(0);
      f.add_leaf(2.0);
      f.end_tree();
      REQUIRE(f.validate().ok());
      f.right_child[0] = 3;
      CHECK(!f.validate().ok());
    }
    SUBCASE("feature past num_features") {
      forest f = stump(false, 0.5);
      f.split_feature[0] = 2;
      CHECK(!f.validate().ok());
    }
    SUBCASE("NaN threshold and NaN leaf") {
      forest f = stump(false, kNaN);
      CHECK(!f.validate().ok());
      forest g = stump(false, 0.5);
      g.leaf_value[1] = kNaN;
      CHECK(!g.validate().ok());
    }
    SUBCASE("category range past the bitset") {
      forest f = stump(false, 0.5);
      f.is_categorical[0] = 1;
      f.category_bits = {1u};
      f.cat_begin[0] = 0;
      f.cat_words[0] = 2;
      CHECK(!f.validate().ok());
      f.cat_words[0] = 1;
      CHECK(f.validate().ok());
    }
    SUBCASE("output group and base margins") {
      forest f = stump(false, 0.5);
      f.tree_output[0] = 1;
      CHECK(!f.validate().ok());
      forest g = stump(false, 0.5);
      g.base_margin = {0.0, 0.0};
      CHECK(!g.validate().ok());
    }
    SUBCASE("per-node arrays of different lengths") {
      forest f = stump(false, 0.5);
      f.leaf_value.pop_back();
      CHECK(!f.validate().ok());
    }
    SUBCASE("leaf with children") {
      forest f = stump(false, 0.5);
      f.left_child[1] = 2;
      CHECK(!f.validate().ok());
    }
  }

  TEST_CASE("the reference walk refuses a cycle instead of looping") {
    forest f = stump(false, 0.5);
    f.left_child[0] = 0;  // root -> root
    const double row[2] = {0.0, 0.0};
    auto leaf = trees::ref::leaf_index(f, 0, std::span<const double>(row, 2));
    CHECK(!leaf.ok());
  }

  TEST_CASE("XGBoost goes left on x < t, LightGBM on x <= t") {
    const forest x = stump(false, 0.25);
    CHECK(margin_of(x, 0.25) == 1.0);
    CHECK(margin_of(x, std::nextafter(0.25f, 0.0f)) == -1.0);
    const forest l = stump(true, 0.25, missing_rule::none);
    CHECK(margin_of(l, 0.25) == -1.0);
    CHECK(margin_of(l, std::nextafter(0.25, 1.0)) == 1.0);
  }

  TEST_CASE("XGBoost rounds features to float before comparing") {
    // Threshold is the float nearest 0.1; the double 0.1 rounds to it, so goes right.
    const forest x = stump(false, static_cast<double>(0.1f));
    CHECK(margin_of(x, 0.1) == 1.0);
    const forest l = stump(true, static_cast<double>(0.1f), missing_rule::none);
    CHECK(margin_of(l, 0.1) == -1.0);  // LightGBM compares doubles: 0.1 < 0.1f
  }

  TEST_CASE("missing rules") {
    CHECK(margin_of(stump(false, 0.5, missing_rule::nan_default, true), kNaN) == -1.0);
    CHECK(margin_of(stump(false, 0.5, missing_rule::nan_default, false), kNaN) == 1.0);
    // LightGBM None: NaN becomes 0 and is compared.
    CHECK(margin_of(stump(true, -0.5, missing_rule::none, true), kNaN) == 1.0);
    CHECK(margin_of(stump(true, 0.5, missing_rule::none, false), kNaN) == -1.0);
    // Zero: NaN and |x| <= 1e-35f take the default direction.
    const forest z = stump(true, -0.5, missing_rule::zero, true);
    CHECK(margin_of(z, kNaN) == -1.0);
    CHECK(margin_of(z, 0.0) == -1.0);
    CHECK(margin_of(z, -0.0) == -1.0);
    CHECK(margin_of(z, 1e-36) == -1.0);
    CHECK(margin_of(z, 1e-34) == 1.0);
    // NaN: only NaN takes the default direction; zero is compared.
    const forest n = stump(true, -0.5, missing_rule::nan, true);
    CHECK(margin_of(n, kNaN) == -1.0);
    CHECK(margin_of(n, 0.0) == 1.0);
  }

  TEST_CASE("category rules") {
    // Set {1, 33}: two words.
    for (bool lightgbm : {false, true}) {
      forest f = stump(lightgbm, 0.0);
      f.is_categorical[0] = 1;
      f.category_bits = {1u << 1, 1u << 1};
      f.cat_begin[0] = 0;
      f.cat_words[0] = 2;
      f.default_left[0] = 1;
      REQUIRE(f.validate().ok());
      const double in_set = lightgbm ? -1.0 : 1.0;  // LightGBM: in set -> left
      const double out_set = -in_set;
      CHECK(margin_of(f, 1.0) == in_set);
      CHECK(margin_of(f, 33.0) == in_set);
      CHECK(margin_of(f, 1.9) == in_set);   // truncated to 1
      CHECK(margin_of(f, 2.0) == out_set);
      CHECK(margin_of(f, 64.0) == out_set);  // past the bitset
      CHECK(margin_of(f, 1e12) == out_set);
      if (lightgbm) {
        CHECK(margin_of(f, kNaN) == 1.0);   // NaN -> right
        CHECK(margin_of(f, -1.0) == 1.0);  // negative -> right
      } else {
        CHECK(margin_of(f, kNaN) == -1.0);  // default direction (left here)
        CHECK(margin_of(f, -1.0) == -1.0);  // invalid category -> left
        CHECK(margin_of(f, -0.5) == -1.0);
      }
    }
    // LightGBM: -0.5 truncates to category 0.
    forest f = stump(true, 0.0);
    f.is_categorical[0] = 1;
    f.category_bits = {1u};
    f.cat_begin[0] = 0;
    f.cat_words[0] = 1;
    CHECK(margin_of(f, -0.5) == -1.0);
    CHECK(margin_of(f, -1.0) == 1.0);
  }

  TEST_CASE("dart weights multiply leaves in float; average_output divides") {
    forest f = stump(false, 0.5);
    f.tree_weight[0] = static_cast<double>(0.7f);
    f.base_margin = {static_cast<double>(0.1f)};
    const float want = 0.1f + 1.0f * 0.7f;
    CHECK(margin_of(f, 1.0) == static_cast<double>(want));

    forest l = stump(true, 0.5, missing_rule::none);
    l.begin_tree(0);
    l.add_leaf(3.0);
    l.end_tree();
    l.average_output = true;
    REQUIRE(l.validate().ok());
    CHECK(margin_of(l, 1.0) == 2.0);   // (1 + 3) / 2
    CHECK(margin_of(l, 0.0) == 1.0);   // (-1 + 3) / 2
  }

  TEST_CASE("margins accumulate in float for XGBoost and in double for LightGBM") {
    // 1e8 + 1 + ... : float loses the small leaves, double keeps them.
    for (bool lightgbm : {false, true}) {
      forest f = stump(lightgbm, 0.5, lightgbm ? missing_rule::none : missing_rule::nan_default);
      f.leaf_value[1] = 1e8;
      f.leaf_value[2] = 1e8;
      for (int i = 0; i < 4; ++i) {
        f.begin_tree(0);
        f.add_leaf(1.0);
        f.end_tree();
      }
      REQUIRE(f.validate().ok());
      const double m = margin_of(f, 0.0);
      CHECK(m == (lightgbm ? 1e8 + 4.0 : static_cast<double>(1e8f)));
    }
  }

  TEST_CASE("multi-output forests route trees to their group and transform") {
    forest f = stump(false, 0.5);
    f.num_outputs = 3;
    f.base_margin = {0.5, 0.5, 0.5};
    f.objective.transform = trees::output_transform::softmax;
    f.begin_tree(2);
    f.add_leaf(2.0);
    f.end_tree();
    REQUIRE(f.validate().ok());
    const double row[2] = {1.0, 0.0};
    double m[3], p[3];
    REQUIRE(trees::ref::predict_margin(std::span<double>(m, 3), f, std::span<const double>(row, 2)).ok());
    CHECK(m[0] == 1.5);
    CHECK(m[1] == 0.5);
    CHECK(m[2] == 2.5);
    REQUIRE(trees::ref::predict(std::span<double>(p, 3), f, std::span<const double>(row, 2)).ok());
    CHECK(p[0] + p[1] + p[2] == doctest::Approx(1.0));
    CHECK(p[2] > p[0]);
    f.objective.transform = trees::output_transform::argmax;
    CHECK(f.num_transformed_outputs() == 1);
    REQUIRE(trees::ref::predict(std::span<double>(p, 1), f, std::span<const double>(row, 2)).ok());
    CHECK(p[0] == 2.0);
  }
}
