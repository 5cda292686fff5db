// Random forests for the predictor tests and the tree benchmark: every IR feature the
// formats use (XGBoost and LightGBM semantics, NaN/None/Zero missing rules, categorical
// splits, dart weights, multi-output, random depths), built through the public IR API.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tessera/trees/forest.hpp"

namespace tessera::trees::testing {

struct random_forest_options {
  source_format format = source_format::xgboost;
  int num_trees = 20;
  int max_depth = 6;
  int num_features = 10;
  int num_outputs = 1;
  double leaf_probability = 0.15;  // chance that a node above max_depth is a leaf
  double categorical_probability = 0.0;
  bool dart = false;               // XGBoost: random tree weights
  bool average_output = false;     // LightGBM
  output_transform transform = output_transform::identity;
  // Thresholds are drawn from a small grid so that row values hit them exactly.
  int threshold_grid = 16;
};

// Values on the grid k/4 - 2 (so thresholds are hit exactly), a few off-grid, NaN with
// probability nan_probability, and small integers for categorical features.
inline std::vector<float> random_rows(std::mt19937& rng, std::size_t n_rows, int n_features, double nan_probability) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> x(n_rows * static_cast<std::size_t>(n_features));
  for (float& v : x) {
    const double p = u(rng);
    if (p < nan_probability) v = std::nanf("");
    else if (p < 0.8) v = static_cast<float>(std::floor(u(rng) * 18) / 4.0 - 2.0);
    else if (p < 0.9) v = static_cast<float>(u(rng) * 6 - 3);
    else if (p < 0.93) v = 0.0f;
    else if (p < 0.95) v = (p < 0.94 ? 1e-36f : -1e-36f);
    else v = static_cast<float>(std::floor(u(rng) * 40) - 3);  // categories, incl. negative
  }
  return x;
}

inline forest random_forest(std::mt19937& rng, const random_forest_options& o) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  forest f;
  f.format = o.format;
  f.num_features = o.num_features;
  f.num_outputs = o.num_outputs;
  const bool xgb = o.format == source_format::xgboost;
  f.compare = xgb ? compare_op::less : compare_op::less_equal;
  f.accumulate = xgb ? accum_type::f32 : accum_type::f64;
  f.features = xgb ? feature_precision::f32 : feature_precision::f64;
  f.categories = xgb ? category_rule::in_set_right : category_rule::in_set_left;
  f.objective.transform = o.transform;
  f.average_output = o.average_output;
  for (int g = 0; g < o.num_outputs; ++g)
    f.base_margin.push_back(xgb ? static_cast<double>(static_cast<float>(u(rng) - 0.5)) : u(rng) - 0.5);
  auto threshold = [&]() -> double {
    const double grid = std::floor(u(rng) * o.threshold_grid) / 4.0 - 2.0;
    const double r = u(rng);
    if (xgb) return r < 0.8 ? grid : static_cast<double>(static_cast<float>(u(rng) * 6 - 3));
    // LightGBM thresholds are doubles: exact grid values, values between floats, zero bands.
    if (r < 0.6) return grid;
    if (r < 0.8) return u(rng) * 6 - 3;
    if (r < 0.9) return 1.0000000180025095e-35;
    return -1.0000000180025095e-35;
  };
  for (int t = 0; t < o.num_trees; ++t) {
    const int group = t % o.num_outputs;
    const double weight = o.dart ? static_cast<double>(static_cast<float>(0.25 + u(rng))) : 1.0;
    f.begin_tree(group, weight);
    // Grow breadth-first with explicit (node, depth) pairs.
    struct pending { std::int32_t node; int depth; };
    std::vector<pending> todo;
    auto add = [&](int depth) -> std::int32_t {
      const bool leaf = depth >= o.max_depth || (depth > 0 && u(rng) < o.leaf_probability);
      if (leaf) {
        const double v = (u(rng) - 0.5) * 0.4;
        return f.add_leaf(xgb ? static_cast<double>(static_cast<float>(v)) : v);
      }
      const std::int32_t feat = static_cast<std::int32_t>(u(rng) * o.num_features) % o.num_features;
      const bool cat = u(rng) < o.categorical_probability;
      std::uint32_t cb = 0, cw = 0;
      if (cat) {
        cb = static_cast<std::uint32_t>(f.category_bits.size());
        cw = 1 + static_cast<std::uint32_t>(u(rng) * 2);
        for (std::uint32_t w = 0; w < cw; ++w) f.category_bits.push_back(static_cast<std::uint32_t>(rng()));
      }
      missing_rule miss = missing_rule::nan_default;
      if (!xgb) {
        const double r = u(rng);
        miss = r < 0.4 ? missing_rule::nan : (r < 0.7 ? missing_rule::none : missing_rule::zero);
      }
      // Draws in GCC's former argument order (right to left), so the forests stay the same.
      const bool dleft = u(rng) < 0.5;
      const std::int32_t n =
          cat ? f.add_categorical_split({.feature = feat, .cat_begin = cb, .cat_words = cw, .default_left = dleft, .missing = miss})
              : f.add_numerical_split({.feature = feat, .threshold = threshold(), .default_left = dleft, .missing = miss});
      todo.push_back({n, depth});
      return n;
    };
    add(0);
    for (std::size_t i = 0; i < todo.size(); ++i) {
      const pending p = todo[i];
      const std::int32_t l = add(p.depth + 1);
      const std::int32_t r = add(p.depth + 1);
      f.left_child[p.node] = l;
      f.right_child[p.node] = r;
    }
    f.end_tree();
  }
  return f;
}

}  // namespace tessera::trees::testing
