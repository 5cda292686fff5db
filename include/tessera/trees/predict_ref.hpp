// Reference interpreter for the forest IR: one row at a time, written to be obviously
// equal to the semantics documented in forest.hpp, not to be fast. It is the oracle the
// fast predictors are tested against. Every walk is bounds-checked (children inside the
// tree, at most tree-size steps), so it never misbehaves even on a forest that skipped
// validate(); such a forest gets an error instead.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/trees/forest.hpp"
#include "tessera/trees/objective.hpp"

namespace tessera::trees::ref {

namespace detail {

// LightGBM's kZeroThreshold is the float 1e-35f compared as a double.
inline constexpr double lightgbm_zero_threshold = static_cast<double>(1e-35f);

// The product rounded on its own: a separate multiply and add, never a fused
// multiply-add (the compiler may contract a*b+c otherwise; the originals do not).
inline float mul_rounded(float a, float b) noexcept {
  volatile float p = a * b;
  return p;
}
inline double mul_rounded(double a, double b) noexcept {
  volatile double p = a * b;
  return p;
}

// The row value as the original library sees it (XGBoost stores features as float).
template <class T>
inline double feature_value(const forest& f, T x) noexcept {
  if (f.features == feature_precision::f32) return static_cast<double>(static_cast<float>(x));
  return static_cast<double>(x);
}

// The child node n sends a value x to (x already rounded by feature_value).
inline std::int32_t next_node(const forest& f, std::int32_t n, double x) noexcept {
  const std::int32_t left = f.left_child[n], right = f.right_child[n];
  const std::int32_t dflt = f.default_left[n] ? left : right;
  if (f.is_categorical[n]) {
    if (f.categories == category_rule::in_set_right) {  // XGBoost
      if (std::isnan(x)) return dflt;
      if (x < 0.0 || x >= 16777216.0) return left;     // invalid category
      return f.category_in_set(n, static_cast<std::uint64_t>(x)) ? right : left;
    }
    // LightGBM
    if (std::isnan(x)) return right;
    const double t = std::trunc(x);
    if (t < 0.0 || t >= 2147483648.0) return right;
    return f.category_in_set(n, static_cast<std::uint64_t>(t)) ? left : right;
  }
  switch (f.missing[n]) {
    case missing_rule::nan_default:
    case missing_rule::nan:
      if (std::isnan(x)) return dflt;
      break;
    case missing_rule::none:
      if (std::isnan(x)) x = 0.0;
      break;
    case missing_rule::zero:
      if (std::isnan(x)) x = 0.0;
      if (x >= -lightgbm_zero_threshold && x <= lightgbm_zero_threshold) return dflt;
      break;
  }
  const double t = f.threshold[n];
  const bool go_left = f.compare == compare_op::less ? (x < t) : (x <= t);
  return go_left ? left : right;
}

template <class T>
inline expected<std::int32_t> walk(const forest& f, std::int32_t tree, std::span<const T> row) {
  if (tree < 0 || tree >= f.num_trees())
    return make_error(errc::out_of_range, "tree index " + std::to_string(tree) + " out of range");
  const std::int32_t begin = f.tree_first_node[tree], end = f.tree_first_node[tree + 1];
  if (begin < 0 || end <= begin || end > f.num_nodes())
    return make_error(errc::out_of_range, "tree " + std::to_string(tree) + ": bad node range");
  std::int32_t n = begin;
  for (std::int32_t steps = 0; steps <= end - begin; ++steps) {
    const std::int32_t feat = f.split_feature[n];
    if (feat < 0) return n;
    if (static_cast<std::size_t>(feat) >= row.size())
      return make_error(errc::out_of_range, "tree " + std::to_string(tree) + ": split feature out of range");
    if (f.is_categorical[n] &&
        static_cast<std::uint64_t>(f.cat_begin[n]) + f.cat_words[n] > f.category_bits.size())
      return make_error(errc::out_of_range, "tree " + std::to_string(tree) + ": category set out of range");
    const std::int32_t next = next_node(f, n, feature_value(f, row[feat]));
    if (next < begin || next >= end)
      return make_error(errc::out_of_range, "tree " + std::to_string(tree) + ": child index out of range");
    n = next;
  }
  return make_error(errc::parse_error, "tree " + std::to_string(tree) + ": cycle");
}

template <class T>
inline status check_row(const forest& f, std::span<const T> row) {
  if (row.size() != static_cast<std::size_t>(f.num_features))
    return make_error(errc::shape_mismatch, "row has " + std::to_string(row.size()) + " features, the model expects " +
                                                std::to_string(f.num_features));
  return {};
}

}  // namespace detail

// Absolute index of the leaf that `row` reaches in tree `tree`.
template <class T>
expected<std::int32_t> leaf_index(const forest& f, std::int32_t tree, std::span<const T> row) {
  static_assert(std::is_floating_point_v<T>, "rows hold float or double values");
  TESSERA_TRY(detail::check_row(f, row));
  return detail::walk(f, tree, row);
}

// Raw margins of one row: out.size() == num_outputs. NaN in `row` means missing.
template <class T>
status predict_margin(std::span<double> out, const forest& f, std::span<const T> row) {
  static_assert(std::is_floating_point_v<T>, "rows hold float or double values");
  TESSERA_TRY(detail::check_row(f, row));
  const std::size_t k = static_cast<std::size_t>(f.num_outputs);
  if (out.size() != k || f.base_margin.size() != k)
    return make_error(errc::shape_mismatch, "predict_margin: output span has " + std::to_string(out.size()) +
                                                " values, the forest has " + std::to_string(k) + " outputs");
  const std::int32_t nt = f.num_trees();
  if (f.tree_output.size() != static_cast<std::size_t>(nt) || f.tree_weight.size() != static_cast<std::size_t>(nt))
    return make_error(errc::parse_error, "predict_margin: inconsistent per-tree arrays");
  for (std::int32_t t = 0; t < nt; ++t)
    if (f.tree_output[t] < 0 || f.tree_output[t] >= f.num_outputs)
      return make_error(errc::out_of_range, "tree " + std::to_string(t) + ": output group out of range");

  if (f.accumulate == accum_type::f32) {
    float small[64];
    std::vector<float> big;
    float* acc = small;
    if (k > 64) { big.resize(k); acc = big.data(); }
    for (std::size_t g = 0; g < k; ++g) acc[g] = static_cast<float>(f.base_margin[g]);
    for (std::int32_t t = 0; t < nt; ++t) {
      TESSERA_ASSIGN_OR_RETURN(const std::int32_t leaf, detail::walk(f, t, row));
      const float v = static_cast<float>(f.leaf_value[leaf]);
      const float w = static_cast<float>(f.tree_weight[t]);
      acc[f.tree_output[t]] += (w == 1.0f) ? v : detail::mul_rounded(v, w);
    }
    for (std::size_t g = 0; g < k; ++g) out[g] = acc[g];
  } else {
    for (std::size_t g = 0; g < k; ++g) out[g] = f.base_margin[g];
    for (std::int32_t t = 0; t < nt; ++t) {
      TESSERA_ASSIGN_OR_RETURN(const std::int32_t leaf, detail::walk(f, t, row));
      const double v = f.leaf_value[leaf];
      const double w = f.tree_weight[t];
      out[f.tree_output[t]] += (w == 1.0) ? v : detail::mul_rounded(v, w);
    }
    if (f.average_output && nt > 0) {
      const double iterations = static_cast<double>(nt / f.num_outputs);
      for (std::size_t g = 0; g < k; ++g) out[g] /= iterations;
    }
  }
  return {};
}

// Transformed prediction of one row: out.size() == num_transformed_outputs()
// (probabilities, class index for argmax, exp(margin), ...).
template <class T>
status predict(std::span<double> out, const forest& f, std::span<const T> row) {
  const std::size_t k = static_cast<std::size_t>(f.num_outputs);
  double small[64];
  std::vector<double> big;
  double* m = small;
  if (k > 64) { big.resize(k); m = big.data(); }
  TESSERA_TRY(predict_margin(std::span<double>(m, k), f, row));
  return transform_margins(out, f, std::span<const double>(m, k));
}

// Row-major batches: rows holds num_rows * num_features values; out holds num_rows *
// num_outputs (margins) or num_rows * num_transformed_outputs() (predict_rows).
template <class T>
status predict_margin_rows(std::span<double> out, const forest& f, std::span<const T> rows, std::size_t num_rows) {
  const std::size_t nf = static_cast<std::size_t>(f.num_features), k = static_cast<std::size_t>(f.num_outputs);
  if (rows.size() != num_rows * nf)
    return make_error(errc::shape_mismatch, "predict_margin_rows: " + std::to_string(rows.size()) + " values is not " +
                                                std::to_string(num_rows) + " rows of " + std::to_string(nf));
  if (out.size() != num_rows * k)
    return make_error(errc::shape_mismatch, "predict_margin_rows: output has " + std::to_string(out.size()) +
                                                " values, expected " + std::to_string(num_rows * k));
  for (std::size_t r = 0; r < num_rows; ++r)
    TESSERA_TRY(predict_margin(out.subspan(r * k, k), f, rows.subspan(r * nf, nf)));
  return {};
}

template <class T>
status predict_rows(std::span<double> out, const forest& f, std::span<const T> rows, std::size_t num_rows) {
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  const std::size_t k = static_cast<std::size_t>(f.num_transformed_outputs());
  if (rows.size() != num_rows * nf)
    return make_error(errc::shape_mismatch, "predict_rows: " + std::to_string(rows.size()) + " values is not " +
                                                std::to_string(num_rows) + " rows of " + std::to_string(nf));
  if (out.size() != num_rows * k)
    return make_error(errc::shape_mismatch, "predict_rows: output has " + std::to_string(out.size()) +
                                                " values, expected " + std::to_string(num_rows * k));
  for (std::size_t r = 0; r < num_rows; ++r)
    TESSERA_TRY(predict(out.subspan(r * k, k), f, rows.subspan(r * nf, nf)));
  return {};
}

}  // namespace tessera::trees::ref
