// Shared helpers for the tree-ensemble tests (tests/trees, tests/trees/load): fixture paths,
// the expected-output CSVs written by scripts/make_tree_models.py, forest comparison.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tessera/trees.hpp"

namespace tessera_test {

inline std::string tree_fixture(const std::string& file) {
  return std::string(TESSERA_SOURCE_DIR) + "/tests/models/trees/" + file;
}

inline bool read_whole_file(const std::string& path, std::string& out) {
  auto bytes = tessera::io::read_file_bytes(path);
  if (!bytes) return false;
  out.assign(bytes->begin(), bytes->end());
  return true;
}

inline std::vector<std::uint8_t> to_bytes(const std::string& s) { return std::vector<std::uint8_t>(s.begin(), s.end()); }

// XGBoost fixtures: <name>.json, <name>.ubj, <name>.csv.
inline const std::vector<std::string>& xgboost_fixture_names() {
  static const std::vector<std::string> names = {
      "xgb_binary_logistic", "xgb_binary_logitraw", "xgb_reg_logistic", "xgb_reg_squarederror",
      "xgb_count_poisson", "xgb_multi_softprob", "xgb_multi_softmax", "xgb_base_score_logistic",
      "xgb_base_score_poisson", "xgb_base_score_reg", "xgb_dart_binary", "xgb_dart_multi",
      "xgb_rank_pairwise", "xgb_reg_gamma", "xgb_reg_tweedie", "xgb_reg_absoluteerror",
      "xgb_reg_pseudohubererror", "xgb_categorical_reg", "xgb_categorical_onehot_binary", "xgb_tiny",
      "breast_cancer"};
  return names;
}

// LightGBM fixtures: <name>.txt, <name>.csv.
inline const std::vector<std::string>& lightgbm_fixture_names() {
  static const std::vector<std::string> names = {"lgb_binary", "lgb_binary_sigmoid07", "lgb_multiclass",
                                                 "lgb_regression", "lgb_regression_sqrt", "lgb_poisson_rf"};
  return names;
}

// Rows, XGBoost/LightGBM margins and predictions from a fixture CSV.
struct expected_cases {
  std::size_t rows = 0, nf = 0, nm = 0, np = 0;
  std::vector<double> x, margin, pred;           // parsed as double (strtod)
  std::vector<float> margin_f32, pred_f32;       // parsed as float (strtof): exact for XGBoost
};

inline bool load_cases(const std::string& name, expected_cases& c) {
  std::string text;
  if (!read_whole_file(tree_fixture(name + ".csv"), text)) return false;
  std::size_t pos = 0;
  auto next_line = [&](std::string& line) {
    if (pos >= text.size()) return false;
    std::size_t e = text.find('\n', pos);
    if (e == std::string::npos) e = text.size();
    line = text.substr(pos, e - pos);
    pos = e + 1;
    return true;
  };
  std::string line;
  if (!next_line(line)) return false;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t e = line.find(',', start);
    if (e == std::string::npos) e = line.size();
    const std::string col = line.substr(start, e - start);
    if (col.rfind("x", 0) == 0) ++c.nf;
    else if (col.rfind("margin", 0) == 0) ++c.nm;
    else if (col.rfind("pred", 0) == 0) ++c.np;
    start = e + 1;
  }
  while (next_line(line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::size_t s = 0;
    while (s <= line.size()) {
      std::size_t e = line.find(',', s);
      if (e == std::string::npos) e = line.size();
      cells.push_back(line.substr(s, e - s));
      s = e + 1;
    }
    if (cells.size() != c.nf + c.nm + c.np) return false;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const double d = std::strtod(cells[i].c_str(), nullptr);
      const float f = std::strtof(cells[i].c_str(), nullptr);
      if (i < c.nf) {
        c.x.push_back(d);
      } else if (i < c.nf + c.nm) {
        c.margin.push_back(d);
        c.margin_f32.push_back(f);
      } else {
        c.pred.push_back(d);
        c.pred_f32.push_back(f);
      }
    }
    ++c.rows;
  }
  return c.rows > 0;
}

// |got - want| <= rtol * |want| + atol
inline bool close_rel(double got, double want, double rtol = 1e-6, double atol = 1e-12) {
  if (std::isnan(want)) return std::isnan(got);
  return std::fabs(got - want) <= rtol * std::fabs(want) + atol;
}

inline bool same_bits(double a, double b) {
  std::uint64_t x, y;
  std::memcpy(&x, &a, 8);
  std::memcpy(&y, &b, 8);
  return x == y;
}

// Field-by-field equality of two forests (thresholds and leaves bitwise); `why` names the
// first difference.
inline bool same_forest(const tessera::trees::forest& a, const tessera::trees::forest& b, std::string& why) {
  auto vec_eq = [](const auto& u, const auto& v) { return u == v; };
  auto dbl_eq = [](const std::vector<double>& u, const std::vector<double>& v) {
    if (u.size() != v.size()) return false;
    for (std::size_t i = 0; i < u.size(); ++i)
      if (!same_bits(u[i], v[i])) return false;
    return true;
  };
#define TESSERA_SAME_(cond, name) \
  if (!(cond)) {                  \
    why = name;                   \
    return false;                 \
  }
  TESSERA_SAME_(a.format == b.format, "format");
  TESSERA_SAME_(a.num_features == b.num_features, "num_features");
  TESSERA_SAME_(a.num_outputs == b.num_outputs, "num_outputs");
  TESSERA_SAME_(a.compare == b.compare && a.accumulate == b.accumulate && a.features == b.features &&
                    a.categories == b.categories,
                "semantics flags");
  TESSERA_SAME_(a.objective.name == b.objective.name && a.objective.transform == b.objective.transform &&
                    a.objective.sigmoid_scale == b.objective.sigmoid_scale,
                "objective");
  TESSERA_SAME_(a.average_output == b.average_output, "average_output");
  TESSERA_SAME_(dbl_eq(a.base_margin, b.base_margin), "base_margin");
  TESSERA_SAME_(vec_eq(a.tree_first_node, b.tree_first_node), "tree_first_node");
  TESSERA_SAME_(vec_eq(a.tree_output, b.tree_output), "tree_output");
  TESSERA_SAME_(dbl_eq(a.tree_weight, b.tree_weight), "tree_weight");
  TESSERA_SAME_(vec_eq(a.split_feature, b.split_feature), "split_feature");
  TESSERA_SAME_(dbl_eq(a.threshold, b.threshold), "threshold");
  TESSERA_SAME_(vec_eq(a.left_child, b.left_child) && vec_eq(a.right_child, b.right_child), "children");
  TESSERA_SAME_(vec_eq(a.default_left, b.default_left), "default_left");
  TESSERA_SAME_(vec_eq(a.missing, b.missing), "missing");
  TESSERA_SAME_(vec_eq(a.is_categorical, b.is_categorical), "is_categorical");
  TESSERA_SAME_(vec_eq(a.cat_begin, b.cat_begin) && vec_eq(a.cat_words, b.cat_words), "category ranges");
  TESSERA_SAME_(vec_eq(a.category_bits, b.category_bits), "category_bits");
  TESSERA_SAME_(dbl_eq(a.leaf_value, b.leaf_value), "leaf_value");
  TESSERA_SAME_(a.feature_names == b.feature_names && a.feature_types == b.feature_types, "feature metadata");
  TESSERA_SAME_(a.class_labels == b.class_labels && a.categorical_values == b.categorical_values, "labels");
#undef TESSERA_SAME_
  return true;
}

// A tiny deterministic generator (xorshift64*), so native and WASM runs see the same data.
struct test_rng {
  std::uint64_t s;
  explicit test_rng(std::uint64_t seed) : s(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// A model text with the first occurrence of `from` (which must exist) at or after `start`
// replaced by `to`: the broken variants of the loader tests.
inline std::string replace_once(std::string s, const std::string& from, const std::string& to, std::size_t start = 0) {
  const std::size_t p = s.find(from, start);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}

}  // namespace tessera_test
