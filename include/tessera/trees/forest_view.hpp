// The flat layout of a forest compiled for prediction (compile.hpp makes one, the predictor
// in predict.hpp runs one): plain arrays behind a forest_view of spans, so the same predictor
// runs from heap vectors or, zero-copy, from the constexpr arrays of a generated header
// (compiled.hpp). validate() checks every index of a view it did not make.
//
// Two tree layouts:
//  * complete: a numerical tree of depth d is padded to a complete binary tree stored
//    breadth-first (node i has children 2i+1, 2i+2) with 2^d leaf slots; a leaf reached
//    early is replicated into every slot below it, so every row takes exactly d steps with
//    no branch on the path. Every split is rewritten as "left iff x < t" on the float row
//    value, with NaN going to a per-node default (see forest_view::complete_feature).
//  * general: everything else (categorical splits, Zero bands that split, deep sparse
//    trees, double input on a LightGBM model): nodes with the IR's own semantics,
//    children stored after their parent (so a walk always terminates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "tessera/core/error.hpp"
#include "tessera/trees/forest.hpp"

namespace tessera::trees {

enum class tree_kind : std::uint32_t { complete = 0, general = 1 };

struct tree_info {
  tree_kind kind = tree_kind::complete;
  std::uint32_t depth = 0;       // complete: levels of splits (0: a single leaf)
  std::uint32_t first = 0;       // complete: first split in complete_feature/threshold;
                                 // general: root index in general_nodes
  std::uint32_t leaf_first = 0;  // complete: first of the 2^depth leaf slots
  std::int32_t output = 0;       // output group
  // Root in general_nodes: the tree itself for a general tree; for a complete tree of an
  // f64-precision (LightGBM) forest, a general copy that double rows walk (the complete
  // layout's float thresholds are exact for float rows only); else unused (0).
  std::uint32_t general_root = 0;
};

// A node of the general layout, with the IR's semantics (see forest.hpp).
struct general_node {
  std::int32_t feature = -1;      // < 0: leaf
  std::uint8_t categorical = 0;
  std::uint8_t default_left = 0;
  missing_rule missing = missing_rule::nan_default;
  std::uint8_t reserved = 0;
  std::uint32_t left = 0;         // absolute index in general_nodes, > this node's index
  std::uint32_t right = 0;
  std::uint32_t cat_begin = 0;
  std::uint32_t cat_words = 0;
  double value = 0;               // split: threshold; leaf: leaf * tree weight, rounded
                                  // like the reference (to float for f32 forests)
};

// Everything a predictor reads. Plain spans: constexpr-constructible from static arrays.
struct forest_view {
  std::int32_t num_features = 0;
  std::int32_t num_outputs = 1;
  accum_type accumulate = accum_type::f32;
  feature_precision features = feature_precision::f32;
  compare_op compare = compare_op::less;
  category_rule categories = category_rule::in_set_right;
  output_transform transform = output_transform::identity;
  double sigmoid_scale = 1.0;
  bool average_output = false;
  std::span<const double> base_margin;
  std::span<const tree_info> trees;
  // Column read by each split: column j of the feature-major block (NaN as -inf) when
  // missing goes left, column block_columns() + j (NaN as +inf) when it goes right; then
  // "left iff x < threshold" needs no NaN test. Column j holds feature block_features[j].
  std::span<const std::uint32_t> complete_feature;
  std::span<const float> complete_threshold;        // left iff x < threshold
  std::span<const float> leaf_f32;                  // complete leaves of an f32 forest
  std::span<const double> leaf_f64;                 // complete leaves of an f64 forest
  std::span<const general_node> general_nodes;
  std::span<const std::uint32_t> category_bits;
  // The features complete trees read, increasing: the block holds only these, so a model
  // declaring many unused features costs nothing per row block. Empty: all num_features
  // (also what headers generated before this field mean).
  std::span<const std::uint32_t> block_features;

  std::int32_t num_transformed_outputs() const noexcept {
    return transform == output_transform::argmax ? 1 : num_outputs;
  }
  std::size_t block_columns() const noexcept {
    return block_features.empty() ? static_cast<std::size_t>(num_features) : block_features.size();
  }
  std::size_t block_feature(std::size_t j) const noexcept { return block_features.empty() ? j : block_features[j]; }

  // Checks every size and index a predictor relies on, so a corrupt view is an error, not
  // a wild read.
  status validate() const;
};

inline status forest_view::validate() const {
  const forest_view& v = *this;
  auto fail = [](std::string m) { return make_error(errc::invalid_argument, "forest_view: " + std::move(m)); };
  if (v.num_features < 0 || v.num_outputs < 1) return fail("bad num_features / num_outputs");
  if (v.base_margin.size() != static_cast<std::size_t>(v.num_outputs)) return fail("base_margin size");
  if (v.complete_feature.size() != v.complete_threshold.size()) return fail("complete arrays disagree");
  const std::size_t n_leaves = v.accumulate == accum_type::f32 ? v.leaf_f32.size() : v.leaf_f64.size();
  if (v.block_features.size() > static_cast<std::size_t>(v.num_features)) return fail("too many block features");
  for (std::size_t j = 0; j < v.block_features.size(); ++j)
    if (v.block_features[j] >= static_cast<std::uint32_t>(v.num_features) || (j > 0 && v.block_features[j] <= v.block_features[j - 1]))
      return fail("block features out of range or not increasing");
  const std::size_t nc = v.block_columns();
  for (std::uint32_t u : v.complete_feature)
    if (u >= 2 * nc && nc > 0) return fail("complete split column out of range");
  for (std::size_t t = 0; t < v.trees.size(); ++t) {
    const tree_info& ti = v.trees[t];
    auto at = [t] { return "tree " + std::to_string(t) + ": "; };  // formatted on failure only
    if (ti.output < 0 || ti.output >= v.num_outputs) return fail(at() + "output group out of range");
    if (ti.kind == tree_kind::complete) {
      if (ti.depth > 24) return fail(at() + "too deep");
      if (ti.depth > 0 && nc == 0) return fail(at() + "split without features");
      const std::uint64_t splits = (std::uint64_t{1} << ti.depth) - 1;
      if (std::uint64_t{ti.first} + splits > v.complete_feature.size()) return fail(at() + "splits out of range");
      if (std::uint64_t{ti.leaf_first} + splits + 1 > n_leaves) return fail(at() + "leaves out of range");
      if (v.features == feature_precision::f64 && ti.general_root >= v.general_nodes.size())
        return fail(at() + "general copy out of range");
    } else if (ti.kind == tree_kind::general) {
      if (ti.first >= v.general_nodes.size() || ti.general_root != ti.first) return fail(at() + "root out of range");
    } else {
      return fail(at() + "unknown tree kind");
    }
  }
  for (std::size_t i = 0; i < v.general_nodes.size(); ++i) {
    const general_node& nd = v.general_nodes[i];
    if (nd.feature < 0) continue;
    if (nd.feature >= v.num_features) return fail("general node " + std::to_string(i) + ": feature out of range");
    // Children after the parent: every walk ends.
    if (nd.left <= i || nd.right <= i || nd.left >= v.general_nodes.size() || nd.right >= v.general_nodes.size())
      return fail("general node " + std::to_string(i) + ": bad child index");
    if (nd.categorical && std::uint64_t{nd.cat_begin} + nd.cat_words > v.category_bits.size())
      return fail("general node " + std::to_string(i) + ": category set out of range");
    if (static_cast<std::uint8_t>(nd.missing) > static_cast<std::uint8_t>(missing_rule::nan))
      return fail("general node " + std::to_string(i) + ": unknown missing rule");
  }
  return {};
}

}  // namespace tessera::trees
