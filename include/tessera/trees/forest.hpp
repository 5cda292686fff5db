// Forest IR: one flat, struct-of-arrays representation of a gradient-boosted tree ensemble
// that holds XGBoost and LightGBM models exactly (the Treelite idea: loaders -> IR ->
// interpreters). Loaders fill it, `validate()` checks it, predictors read it.
//
// Exact semantics (the reference interpreter in predict_ref.hpp is the executable spec):
//
// Layout. Trees are stored back to back. Tree t owns nodes [tree_first_node[t],
// tree_first_node[t+1]); its root is tree_first_node[t]. All node indices (left_child,
// right_child) are ABSOLUTE indices into the node arrays and stay inside their own tree.
// A node is a leaf iff split_feature[n] < 0 (then left_child = right_child = -1 and only
// leaf_value[n] matters).
//
// Accumulation. margin[g] starts at base_margin[g] (already in margin space: XGBoost's
// binary:logistic base_score 0.5 is stored here as logit(0.5) = 0). Trees are visited in
// order; tree t adds to output group tree_output[t]:
//   accumulate == f32 (XGBoost): margin is a float; leaf and weight are floats;
//       margin = float(margin + (tree_weight[t] == 1 ? leaf : float(leaf * weight)))
//       i.e. every operation rounded to float, no fused multiply-add.
//   accumulate == f64 (LightGBM): margin is a double, margin += leaf * weight (weight is 1
//       for LightGBM). If average_output, each margin is then divided by
//       num_trees() / num_outputs (LightGBM's random-forest mode).
//
// Numerical split at node n with feature value x (a row value; NaN means missing):
//   feature_precision == f32 (XGBoost): x is first rounded to float, thresholds are floats.
//   missing[n] selects the rule:
//     missing_rule::nan_default  x is NaN -> default child; else compare.            (XGBoost)
//     missing_rule::none         x is NaN -> x = 0; compare.                    (LightGBM None)
//     missing_rule::zero         x is NaN -> x = 0; |x| <= double(1e-35f) -> default child;
//                                else compare.                                  (LightGBM Zero)
//     missing_rule::nan          x is NaN -> default child; else compare.        (LightGBM NaN)
//   compare: go LEFT iff  x < threshold   (compare_op::less, XGBoost)
//                     or  x <= threshold  (compare_op::less_equal, LightGBM).
//   default child: left iff default_left[n] != 0.
//
// Categorical split (is_categorical[n] != 0): the node's category set is the bitset
// category_bits[cat_begin[n] .. cat_begin[n] + cat_words[n]) (32-bit words, bit c of the set
// is word c/32, bit c%32). threshold[n] is unused.
//   category_rule::in_set_right (XGBoost 1.7):
//       x NaN -> default child; x < 0 or x >= 2^24 or not in set -> LEFT; in set -> RIGHT.
//       (x is truncated to an integer after the range check.)
//   category_rule::in_set_left (LightGBM):
//       x NaN, or x truncated toward zero < 0 -> RIGHT (so -0.5 is category 0);
//       x >= 2^31 -> RIGHT; in set -> LEFT; otherwise (including values past the bitset)
//       -> RIGHT. missing[n] and default_left[n] are ignored.
//
// Output transform (objective.hpp): applied to the margins of one row, computed in the
// accumulation precision (float for XGBoost, double for LightGBM).
//
// Trust. Loaders run validate(); a forest that passed validate() may be walked without
// bounds checks: every child index is inside its tree, every tree is a proper binary tree
// (each non-root node has exactly one parent, no cycles, all nodes reachable from the
// root), every split feature < num_features, every category range inside category_bits,
// thresholds and leaf values are not NaN, tree_output < num_outputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tessera/core/error.hpp"

namespace tessera::trees {

enum class source_format : std::uint8_t { unknown = 0, xgboost, lightgbm };

// Numerical split comparison: go left iff x `op` threshold.
enum class compare_op : std::uint8_t { less = 0, less_equal };

// Precision of margin accumulation and of the output transform.
enum class accum_type : std::uint8_t { f32 = 0, f64 };

// Precision feature values are rounded to before any comparison.
enum class feature_precision : std::uint8_t { f32 = 0, f64 };

// Per-node handling of missing (NaN) and, for LightGBM's Zero type, zero values.
enum class missing_rule : std::uint8_t { nan_default = 0, none, zero, nan };

// Direction of a category that belongs to the node's set.
enum class category_rule : std::uint8_t { in_set_right = 0, in_set_left };

// What turns margins into the model's prediction.
enum class output_transform : std::uint8_t {
  identity = 0,   // regression, binary:logitraw, ranking: margins as-is
  sigmoid,        // per output: 1 / (1 + exp(-sigmoid_scale * m))
  softmax,        // over the num_outputs margins of a row
  argmax,         // multi:softmax: one value per row, the index of the largest margin
                  // (first one on ties)
  exp,            // count:poisson, reg:gamma, reg:tweedie, LightGBM poisson/gamma/tweedie
  signed_square,  // LightGBM regression with sqrt: sign(m) * m * m
};

struct objective_info {
  std::string name;  // as written in the model, e.g. "binary:logistic", "multiclass num_class:3"
  output_transform transform = output_transform::identity;
  double sigmoid_scale = 1.0;  // LightGBM's sigmoid:<k>; 1 for XGBoost
};

// Arguments of forest::add_numerical_split / add_categorical_split. Children default to -1
// for builders that patch them once the subtrees exist (set_children).
struct numerical_split {
  std::int32_t feature = 0;
  double threshold = 0.0;            // go left iff x < (or <=, see compare_op) threshold
  bool default_left = false;         // where a missing value goes (per `missing`)
  missing_rule missing = missing_rule::nan_default;
  std::int32_t left = -1, right = -1;  // absolute node indices
};

struct categorical_split {
  std::int32_t feature = 0;
  std::uint32_t cat_begin = 0;       // the set is category_bits[cat_begin, cat_begin + cat_words)
  std::uint32_t cat_words = 0;
  bool default_left = false;
  missing_rule missing = missing_rule::nan_default;
  std::int32_t left = -1, right = -1;
};

struct forest {
  // Not an aggregate on purpose: GCC 12 reports a false -Wmaybe-uninitialized on `forest{}`
  // temporaries (std::string members) when it is.
  forest() = default;

  // ---- forest level -------------------------------------------------------------------
  source_format format = source_format::unknown;
  std::int32_t num_features = 0;   // a row has exactly this many values
  std::int32_t num_outputs = 1;    // output groups: classes for multiclass, else 1
  compare_op compare = compare_op::less;
  accum_type accumulate = accum_type::f32;
  feature_precision features = feature_precision::f32;
  category_rule categories = category_rule::in_set_right;
  objective_info objective;
  bool average_output = false;          // LightGBM random forest: divide by iterations
  std::vector<double> base_margin;      // size num_outputs, margin space

  // ---- per tree (size num_trees(); tree_first_node has num_trees() + 1 entries) ----------
  std::vector<std::int32_t> tree_first_node{0};
  std::vector<std::int32_t> tree_output;  // output group of each tree
  std::vector<double> tree_weight;        // 1 except XGBoost dart (weight_drop, a float)

  // ---- per node (size num_nodes()) -------------------------------------------------------
  std::vector<std::int32_t> split_feature;   // < 0: leaf
  std::vector<double> threshold;             // numerical split value (float-exact for XGBoost)
  std::vector<std::int32_t> left_child;      // absolute node index, -1 for leaves
  std::vector<std::int32_t> right_child;
  std::vector<std::uint8_t> default_left;    // 1: missing goes left
  std::vector<missing_rule> missing;
  std::vector<std::uint8_t> is_categorical;  // 1: categorical split (see category_rule)
  std::vector<std::uint32_t> cat_begin;      // first word in category_bits
  std::vector<std::uint32_t> cat_words;      // number of 32-bit words in the set
  std::vector<double> leaf_value;            // leaf output (float-exact for XGBoost)

  // ---- shared category bitsets ---------------------------------------------------------
  std::vector<std::uint32_t> category_bits;

  // ---- metadata carried by the model (may be empty) -------------------------------------
  std::vector<std::string> feature_names;   // XGBoost feature_names / LightGBM feature_names
  std::vector<std::string> feature_types;   // XGBoost feature_types ("q", "c", "int", ...)
  std::vector<std::string> class_labels;    // when the model names its classes
  // LightGBM pandas_categorical: for each categorical column (in column order) the list
  // of category values; category code i means categorical_values[k][i].
  std::vector<std::vector<std::string>> categorical_values;

  // ---- accessors ---------------------------------------------------------------------------
  std::int32_t num_trees() const noexcept {
    return tree_first_node.empty() ? 0 : static_cast<std::int32_t>(tree_first_node.size() - 1);
  }
  std::int32_t num_nodes() const noexcept { return static_cast<std::int32_t>(split_feature.size()); }
  bool is_leaf(std::int32_t node) const noexcept { return split_feature[node] < 0; }
  std::int32_t root(std::int32_t tree) const noexcept { return tree_first_node[tree]; }
  // Values per row of the transformed prediction (1 for argmax, else num_outputs).
  std::int32_t num_transformed_outputs() const noexcept {
    return objective.transform == output_transform::argmax ? 1 : num_outputs;
  }
  // True iff category c is in the set of categorical node n (c >= 0).
  bool category_in_set(std::int32_t node, std::uint64_t c) const noexcept {
    const std::uint64_t word = c / 32;
    if (word >= cat_words[node]) return false;
    return (category_bits[cat_begin[node] + word] >> (c % 32)) & 1u;
  }

  // Appends a tree; nodes are added with add_numerical_split / add_categorical_split /
  // add_leaf (children may be patched later with set_children). Returns the tree index.
  std::int32_t begin_tree(std::int32_t output_group, double weight = 1.0) {
    tree_output.push_back(output_group);
    tree_weight.push_back(weight);
    // tree_first_node.back() already holds this tree's first node; the end is pushed
    // by end_tree().
    return static_cast<std::int32_t>(tree_output.size() - 1);
  }
  void end_tree() { tree_first_node.push_back(num_nodes()); }

  // Node builders; each returns the new node's absolute index. The split structs are
  // filled with designated initializers so no call site passes a row of bare numbers.
  std::int32_t add_numerical_split(const numerical_split& s) {
    return push_node(s.feature, s.threshold, s.left, s.right, s.default_left, s.missing, false, 0, 0, 0.0);
  }
  std::int32_t add_categorical_split(const categorical_split& s) {
    return push_node(s.feature, 0.0, s.left, s.right, s.default_left, s.missing, true, s.cat_begin, s.cat_words, 0.0);
  }
  std::int32_t add_leaf(double value) {
    return push_node(-1, 0.0, -1, -1, false, missing_rule::nan_default, false, 0, 0, value);
  }
  void set_children(std::int32_t node, std::int32_t left, std::int32_t right) {
    left_child[static_cast<std::size_t>(node)] = left;
    right_child[static_cast<std::size_t>(node)] = right;
  }

  // Reserves node storage (callers bound n by the input size first).
  void reserve_nodes(std::size_t n) {
    split_feature.reserve(n); threshold.reserve(n); left_child.reserve(n);
    right_child.reserve(n); default_left.reserve(n); missing.reserve(n);
    is_categorical.reserve(n); cat_begin.reserve(n); cat_words.reserve(n);
    leaf_value.reserve(n);
  }

  // Checks every invariant listed at the top of this file.
  status validate() const;

  // One past the largest split feature (0 for a forest of leaves): the features the trees
  // can read. num_features may be larger (XGBoost keeps unused trailing columns).
  std::int32_t used_feature_end() const noexcept {
    std::int32_t end = 0;
    for (std::int32_t s : split_feature) end = s >= end ? s + 1 : end;
    return end;
  }

 private:
  // Appends one entry to every per-node array, so they cannot fall out of step.
  std::int32_t push_node(std::int32_t feature, double thresh, std::int32_t left, std::int32_t right, bool dleft,
                         missing_rule miss, bool categorical, std::uint32_t cbegin, std::uint32_t cwords, double leaf) {
    split_feature.push_back(feature);
    threshold.push_back(thresh);
    left_child.push_back(left);
    right_child.push_back(right);
    default_left.push_back(dleft ? 1 : 0);
    missing.push_back(miss);
    is_categorical.push_back(categorical ? 1 : 0);
    cat_begin.push_back(cbegin);
    cat_words.push_back(cwords);
    leaf_value.push_back(leaf);
    return num_nodes() - 1;
  }
};

// Limits on the sizes a model file declares, checked by the loaders before they allocate by
// them, so a small hostile file cannot make tessera or its callers allocate without bound.
// Declared features beyond the used ones cost tessera nothing (predictors size their
// tables by the used features); the cap only bounds what callers that size rows by
// num_features allocate. 64 per byte of file admits real sparse models (2^20 hashed
// columns with 16 KB of trees) and refuses 2^31 columns declared by 2 KB.
inline constexpr std::uint64_t kUnusedFeaturesPerByte = 64;

inline status check_declared_features(std::int64_t num_features, std::int64_t used_end, std::size_t input_bytes) {
  if (num_features < used_end) return {};  // validate() reports the split feature
  const std::uint64_t unused = static_cast<std::uint64_t>(num_features - used_end);
  if (unused > kUnusedFeaturesPerByte * static_cast<std::uint64_t>(input_bytes))
    return make_error(errc::out_of_memory, "model declares " + std::to_string(num_features) + " features but its trees use " +
                                               std::to_string(used_end) + ": more unused features than a " +
                                               std::to_string(input_bytes) + "-byte model file may declare");
  return {};
}

// Output groups: a trained model has at least one tree per group, so a file may not declare
// more groups than it has trees (or 1 when it has none); checked before base margins and
// per-group accumulators are sized by the count.
inline status check_declared_outputs(std::int64_t num_outputs, std::size_t num_trees) {
  const std::uint64_t cap = num_trees > 1 ? num_trees : 1;
  if (num_outputs > 0 && static_cast<std::uint64_t>(num_outputs) > cap)
    return make_error(errc::out_of_memory, "model declares " + std::to_string(num_outputs) + " output groups but has only " +
                                               std::to_string(num_trees) + " tree(s)");
  return {};
}

inline status forest::validate() const {
  auto fail = [](std::string msg) { return make_error(errc::parse_error, "forest: " + std::move(msg)); };
  if (num_features < 0) return fail("negative num_features");
  if (num_outputs < 1) return fail("num_outputs must be at least 1");
  if (base_margin.size() != static_cast<std::size_t>(num_outputs))
    return fail("base_margin has " + std::to_string(base_margin.size()) + " entries, expected " +
                std::to_string(num_outputs));
  for (double b : base_margin)
    if (std::isnan(b)) return fail("base margin is NaN");
  if (!(objective.sigmoid_scale == objective.sigmoid_scale)) return fail("sigmoid scale is NaN");
  if (tree_first_node.empty() || tree_first_node[0] != 0) return fail("tree_first_node must start with 0");
  const std::size_t nt = tree_first_node.size() - 1;
  if (tree_output.size() != nt || tree_weight.size() != nt)
    return fail("per-tree arrays disagree on the number of trees");
  const std::size_t nn = split_feature.size();
  if (threshold.size() != nn || left_child.size() != nn || right_child.size() != nn ||
      default_left.size() != nn || missing.size() != nn || is_categorical.size() != nn ||
      cat_begin.size() != nn || cat_words.size() != nn || leaf_value.size() != nn)
    return fail("per-node arrays disagree on the number of nodes");
  if (nn > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    return fail("too many nodes");
  if (static_cast<std::size_t>(tree_first_node.back()) != nn)
    return fail("last tree ends at node " + std::to_string(tree_first_node.back()) + ", but there are " +
                std::to_string(nn) + " nodes");
  if (average_output && (nt == 0 || nt % static_cast<std::size_t>(num_outputs) != 0))
    return fail("average_output needs a whole number of iterations");

  std::vector<std::uint8_t> seen(nn, 0);
  for (std::size_t t = 0; t < nt; ++t) {
    // Location prefixes are only formatted when a check fails.
    auto where = [t] { return "tree " + std::to_string(t); };
    const std::int32_t begin = tree_first_node[t], end = tree_first_node[t + 1];
    if (begin < 0 || end <= begin || static_cast<std::size_t>(end) > nn)
      return fail(where() + ": bad node range [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
    if (tree_output[t] < 0 || tree_output[t] >= num_outputs)
      return fail(where() + ": output group " + std::to_string(tree_output[t]) + " out of range");
    if (std::isnan(tree_weight[t])) return fail(where() + ": weight is NaN");
    // Every node of the tree must be reached exactly once from the root: with a per-node
    // "seen" mark this rules out cycles, shared children and unreachable nodes.
    std::vector<std::int32_t> stack{begin};
    std::int32_t visited = 0;
    seen[begin] = 1;
    while (!stack.empty()) {
      const std::int32_t n = stack.back();
      stack.pop_back();
      ++visited;
      auto at = [&where, n, begin] { return where() + " node " + std::to_string(n - begin); };
      if (split_feature[n] < 0) {
        if (left_child[n] != -1 || right_child[n] != -1) return fail(at() + ": leaf with children");
        if (std::isnan(leaf_value[n])) return fail(at() + ": leaf value is NaN");
        continue;
      }
      if (split_feature[n] >= num_features)
        return fail(at() + ": split feature " + std::to_string(split_feature[n]) + " >= num_features " +
                    std::to_string(num_features));
      if (static_cast<std::uint8_t>(missing[n]) > static_cast<std::uint8_t>(missing_rule::nan))
        return fail(at() + ": unknown missing rule");
      if (is_categorical[n]) {
        if (static_cast<std::uint64_t>(cat_begin[n]) + cat_words[n] > category_bits.size())
          return fail(at() + ": category set out of range");
      } else if (std::isnan(threshold[n])) {
        return fail(at() + ": threshold is NaN");
      }
      for (std::int32_t c : {left_child[n], right_child[n]}) {
        if (c < begin || c >= end)
          return fail(at() + ": child index " + std::to_string(c) + " outside the tree");
        if (seen[c]) return fail(at() + ": node " + std::to_string(c - begin) + " reached twice (cycle or shared child)");
        seen[c] = 1;
        stack.push_back(c);
      }
    }
    if (visited != end - begin)
      return fail(where() + ": " + std::to_string(end - begin - visited) + " node(s) unreachable from the root");
  }
  return {};
}

}  // namespace tessera::trees
