// compile_flat(): a validated forest IR (forest.hpp) -> the flat layout (forest_view.hpp)
// that the predictor (predict.hpp) runs and compiled headers (compiled.hpp) embed. Set-up
// code: it allocates freely; nothing here runs per prediction.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/trees/forest.hpp"
#include "tessera/trees/forest_view.hpp"

namespace tessera::trees {

struct compile_options {
  // Trees deeper than this always use the general layout (2^depth slots otherwise).
  std::uint32_t max_complete_depth = 10;
  // Trees deeper than 6 use the complete layout only if 2^depth <= this * their node count.
  std::uint32_t max_padding_factor = 8;
  // Forces every tree into the general layout (tests, and comparing the two).
  bool general_only = false;
};

// A forest in the flat layout, owning its arrays: view() points into them, and copies share
// them (a predictor made from it keeps them alive).
class flat_forest {
 public:
  flat_forest() = default;
  const forest_view& view() const noexcept { return view_; }

 private:
  friend expected<flat_forest> compile_flat(const forest& f, const compile_options& opts);

  struct arrays {
    std::vector<double> base_margin;
    std::vector<tree_info> trees;
    std::vector<std::uint32_t> complete_feature;
    std::vector<float> complete_threshold;
    std::vector<float> leaf_f32;
    std::vector<double> leaf_f64;
    std::vector<general_node> general_nodes;
    std::vector<std::uint32_t> category_bits;
    std::vector<std::uint32_t> block_features;
  };

  std::shared_ptr<const arrays> arrays_;
  forest_view view_;
};

namespace detail {

// Smallest float >= d / largest float <= d (d not NaN).
inline float float_up(double d) noexcept {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) < d) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}
inline float float_down(double d) noexcept {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) > d) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

// Rewrites numerical node n as "left iff x < t, NaN -> default_left" for float x, if exact.
// For float x, `x <= thr` (any double thr) equals `x < next_up(down(thr))` and `x < thr`
// equals `x < up(thr)`; LightGBM's None rule sends NaN where 0 goes, and its Zero rule is
// accepted only when the whole zero band goes the default way anyway.
inline bool complete_split(const forest& f, std::int32_t n, float& t, bool& dleft) noexcept {
  if (f.is_categorical[n]) return false;
  const double thr = f.threshold[n];
  const bool f32 = f.features == feature_precision::f32;
  constexpr float inf = std::numeric_limits<float>::infinity();
  if (f.compare == compare_op::less) {
    t = f32 ? static_cast<float>(thr) : float_up(thr);
  } else {
    const float d = f32 ? static_cast<float>(thr) : float_down(thr);
    if (d == inf) return false;  // "x <= inf" holds for x = inf too: not expressible
    t = std::nextafter(d, inf);
  }
  // Direction of a value under the plain comparison (as the reference computes it).
  auto goes_left = [&](double x) {
    if (f32) x = static_cast<double>(static_cast<float>(x));
    return f.compare == compare_op::less ? (x < thr) : (x <= thr);
  };
  bool ok = false;
  switch (f.missing[n]) {
    case missing_rule::nan_default:
    case missing_rule::nan:
      dleft = f.default_left[n] != 0;
      ok = true;
      break;
    case missing_rule::none:
      dleft = goes_left(0.0);
      ok = true;
      break;
    case missing_rule::zero: {
      const double z = static_cast<double>(1e-35f);
      dleft = f.default_left[n] != 0;
      ok = dleft ? goes_left(z) : !goes_left(-z);
      break;
    }
  }
  // NaN reads -inf when it goes left: "-inf < t" must then hold.
  return ok && !(dleft && t == -inf);
}

// Leaf value times tree weight, rounded as the reference does.
inline double weighted_leaf(const forest& f, std::int32_t n, std::int32_t t) noexcept {
  if (f.accumulate == accum_type::f32) {
    const float v = static_cast<float>(f.leaf_value[n]);
    const float w = static_cast<float>(f.tree_weight[t]);
    if (w == 1.0f) return v;
    volatile float p = v * w;
    return p;
  }
  const double v = f.leaf_value[n], w = f.tree_weight[t];
  if (w == 1.0) return v;
  volatile double p = v * w;
  return p;
}

}  // namespace detail

// Compiles a forest (validated first) into the flat layout.
inline expected<flat_forest> compile_flat(const forest& f, const compile_options& opts = {}) {
  TESSERA_TRY(f.validate());
  auto st = std::make_shared<flat_forest::arrays>();
  st->base_margin = f.base_margin;
  st->category_bits = f.category_bits;
  const bool f32 = f.accumulate == accum_type::f32;
  const std::int32_t nt = f.num_trees();
  st->trees.resize(static_cast<std::size_t>(nt));
  std::vector<std::int32_t> depth_of;  // per node of the current tree: depth from its root
  struct item { std::int32_t node; std::uint32_t pos; std::uint32_t level; std::int32_t leaf; };
  std::vector<item> stack;
  std::vector<std::uint32_t> block_used;  // features read by complete splits (repeats)
  for (std::int32_t t = 0; t < nt; ++t) {
    const std::int32_t begin = f.tree_first_node[t], end = f.tree_first_node[t + 1];
    tree_info& ti = st->trees[static_cast<std::size_t>(t)];
    ti.output = f.tree_output[t];
    // Depth and eligibility of the complete layout.
    std::uint32_t depth = 0;
    bool numeric = true;
    depth_of.assign(static_cast<std::size_t>(end - begin), 0);
    {
      std::vector<std::int32_t> dfs{begin};
      while (!dfs.empty()) {
        const std::int32_t n = dfs.back();
        dfs.pop_back();
        const std::int32_t dn = depth_of[static_cast<std::size_t>(n - begin)];
        if (f.split_feature[n] < 0) {
          depth = std::max<std::uint32_t>(depth, static_cast<std::uint32_t>(dn));
          continue;
        }
        float tt;
        bool dl;
        if (!detail::complete_split(f, n, tt, dl)) numeric = false;
        for (std::int32_t c : {f.left_child[n], f.right_child[n]}) {
          depth_of[static_cast<std::size_t>(c - begin)] = dn + 1;
          dfs.push_back(c);
        }
      }
    }
    const std::uint64_t tree_nodes = static_cast<std::uint64_t>(end - begin);
    const bool complete = !opts.general_only && numeric && depth <= opts.max_complete_depth && depth <= 24 &&
                          (depth <= 6 || (std::uint64_t{1} << depth) <= opts.max_padding_factor * tree_nodes);
    if (complete) {
      ti.kind = tree_kind::complete;
      ti.depth = depth;
      ti.first = static_cast<std::uint32_t>(st->complete_feature.size());
      const std::uint32_t splits = (1u << depth) - 1;
      if (std::uint64_t{ti.first} + splits > std::numeric_limits<std::uint32_t>::max() / 2)
        return make_error(errc::out_of_memory, "compile: forest too large");
      st->complete_feature.resize(ti.first + splits, 0);
      st->complete_threshold.resize(ti.first + splits, 0.0f);
      ti.leaf_first = static_cast<std::uint32_t>(f32 ? st->leaf_f32.size() : st->leaf_f64.size());
      if (f32) st->leaf_f32.resize(ti.leaf_first + splits + 1, 0.0f);
      else st->leaf_f64.resize(ti.leaf_first + splits + 1, 0.0);
      stack.clear();
      stack.push_back({begin, 0, 0, -1});
      while (!stack.empty()) {
        const item it = stack.back();
        stack.pop_back();
        if (it.level == depth) {
          const std::int32_t leaf = it.leaf >= 0 ? it.leaf : it.node;
          const double lv = detail::weighted_leaf(f, leaf, t);
          const std::size_t slot = ti.leaf_first + (it.pos - splits);
          if (f32) st->leaf_f32[slot] = static_cast<float>(lv);
          else st->leaf_f64[slot] = lv;
          continue;
        }
        const std::size_t at = ti.first + it.pos;
        if (it.leaf >= 0 || f.split_feature[it.node] < 0) {
          // A leaf above the last level: a pass-through split (feature 0, both sides reach
          // copies of the leaf).
          const std::int32_t leaf = it.leaf >= 0 ? it.leaf : it.node;
          st->complete_feature[at] = 0;
          st->complete_threshold[at] = 0.0f;
          stack.push_back({leaf, 2 * it.pos + 1, it.level + 1, leaf});
          stack.push_back({leaf, 2 * it.pos + 2, it.level + 1, leaf});
          continue;
        }
        float tt = 0;
        bool dl = false;
        detail::complete_split(f, it.node, tt, dl);
        st->complete_feature[at] =
            static_cast<std::uint32_t>(f.split_feature[it.node]) + (dl ? 0u : static_cast<std::uint32_t>(f.num_features));
        st->complete_threshold[at] = tt;
        block_used.push_back(static_cast<std::uint32_t>(f.split_feature[it.node]));
        stack.push_back({f.left_child[it.node], 2 * it.pos + 1, it.level + 1, -1});
        stack.push_back({f.right_child[it.node], 2 * it.pos + 2, it.level + 1, -1});
      }
    } else {
      ti.kind = tree_kind::general;
      ti.depth = depth;
    }
    if (ti.kind == tree_kind::general || f.features == feature_precision::f64) {
      const std::uint32_t root = static_cast<std::uint32_t>(st->general_nodes.size());
      if (ti.kind == tree_kind::general) ti.first = root;
      ti.general_root = root;
      // Breadth-first: children get slots after their parent.
      std::vector<std::int32_t> order{begin};
      st->general_nodes.emplace_back();
      for (std::size_t q = 0; q < order.size(); ++q) {
        const std::int32_t n = order[q];
        general_node& gn = st->general_nodes[root + q];
        if (f.split_feature[n] < 0) {
          gn.feature = -1;
          gn.value = detail::weighted_leaf(f, n, t);
          continue;
        }
        gn.feature = f.split_feature[n];
        gn.categorical = f.is_categorical[n];
        gn.default_left = f.default_left[n];
        gn.missing = f.missing[n];
        gn.cat_begin = f.cat_begin[n];
        gn.cat_words = f.cat_words[n];
        gn.value = f.threshold[n];
        gn.left = root + static_cast<std::uint32_t>(order.size());
        gn.right = gn.left + 1;
        order.push_back(f.left_child[n]);
        order.push_back(f.right_child[n]);
        st->general_nodes.emplace_back();  // may reallocate: gn is not used after this
        st->general_nodes.emplace_back();
      }
    }
  }
  // The block holds only the features complete splits read (at least one column, which
  // pass-through splits read): entries are renumbered from features to block columns.
  // All features in order is the identity and is left implicit (empty block_features).
  std::sort(block_used.begin(), block_used.end());
  block_used.erase(std::unique(block_used.begin(), block_used.end()), block_used.end());
  if (block_used.empty() && f.num_features > 0) block_used.push_back(0);
  const auto nf_u = static_cast<std::uint32_t>(f.num_features);
  if (block_used.size() != nf_u) {
    const auto nc = static_cast<std::uint32_t>(block_used.size());
    for (std::uint32_t& u : st->complete_feature) {
      const bool nan_left = u < nf_u;
      const std::uint32_t feature = nan_left ? u : u - nf_u;
      // Pass-through splits read feature 0, which may be unused: any column serves them.
      const auto j = static_cast<std::uint32_t>(std::lower_bound(block_used.begin(), block_used.end(), feature) -
                                                block_used.begin());
      u = (j < nc ? j : 0) + (nan_left ? 0u : nc);
    }
    st->block_features = std::move(block_used);
  }
  flat_forest out;
  forest_view& v = out.view_;
  v.num_features = f.num_features;
  v.num_outputs = f.num_outputs;
  v.accumulate = f.accumulate;
  v.features = f.features;
  v.compare = f.compare;
  v.categories = f.categories;
  v.transform = f.objective.transform;
  v.sigmoid_scale = f.objective.sigmoid_scale;
  v.average_output = f.average_output;
  v.base_margin = st->base_margin;
  v.trees = st->trees;
  v.complete_feature = st->complete_feature;
  v.complete_threshold = st->complete_threshold;
  v.leaf_f32 = st->leaf_f32;
  v.leaf_f64 = st->leaf_f64;
  v.general_nodes = st->general_nodes;
  v.category_bits = st->category_bits;
  v.block_features = st->block_features;
  out.arrays_ = std::move(st);
  return out;
}

}  // namespace tessera::trees
