// Fast batched predictor for the forest IR (forest.hpp). Bit-exact with the reference
// interpreter (predict_ref.hpp): same leaves, same accumulation precision and order.
//
// compile() turns a validated forest into a flat layout made only of plain arrays (a
// forest_view of spans), so the same predictor runs from heap vectors or, zero-copy, from
// constexpr arrays that the compiled-header generator writes (compiled.hpp).
//
// Two tree layouts:
//  * complete: a numerical tree of depth d is padded to a complete binary tree stored
//    breadth-first (node i has children 2i+1, 2i+2) with 2^d leaf slots; a leaf reached
//    early is replicated into every slot below it, so every row takes exactly d steps with
//    no branch on the path. Every split is rewritten as "left iff x < t" on the float row
//    value, with NaN going to a per-node default (bit 31 of the feature word). The rewrite
//    is exact: for float x, `x <= thr` (any double thr) equals `x < next_up(down(thr))`,
//    `x < thr` equals `x < up(thr)`, LightGBM's None rule sends NaN where 0 goes, and its
//    Zero rule is accepted only when the whole zero band goes the default way anyway.
//  * general: everything else (categorical splits, Zero bands that split, deep sparse
//    trees, double input on a LightGBM model): nodes with the IR's own semantics,
//    children stored after their parent (so a walk always terminates).
//
// Batches are processed in blocks of kBlock rows: for each tree (in order), every row of
// the block advances one level at a time, so the loads of different rows overlap (the walk
// of one row is a chain of dependent loads; a block hides that latency). The block's
// rows and the tree (a few KB) stay in L1. Blocks go to threads in tasks of a few blocks
// taken as threads finish (see run()). Accumulation per row is in tree order, in float for
// XGBoost and double for LightGBM, exactly as the reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/runtime/thread_pool.hpp"
#include "tessera/simd/simd.hpp"
#include "tessera/trees/forest.hpp"
#include "tessera/trees/objective.hpp"

namespace tessera::trees {

// ---- the flat layout -------------------------------------------------------------------

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
};

struct compile_options {
  // Trees deeper than this always use the general layout (2^depth slots otherwise).
  std::uint32_t max_complete_depth = 10;
  // Trees deeper than 6 use the complete layout only if 2^depth <= this * their node count.
  std::uint32_t max_padding_factor = 8;
  // Forces every tree into the general layout (tests, and comparing the two).
  bool general_only = false;
};

namespace detail {

inline constexpr std::size_t kBlock = 128;  // rows per block (128 beat 64 by ~6% natively)

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

// ---- kernels --------------------------------------------------------------------------

// Top levels with SIMD: the block is feature-major (xt[f * kBlock + r]), so the value of a
// split's feature for W consecutive rows is one contiguous load. All 2^L - 1 splits of the
// top L <= 4 levels are compared for W rows at once (no gathers, no dependent loads), then
// each row's path is picked with mask selects. Levels below run per row, level-major, so
// the dependent loads of the block's rows overlap. Padding rows past nr hold 0 in xt.
inline constexpr std::uint32_t kSimdLevels = 4;
// Rows walked together below the SIMD levels (8 beat 4 and 16 on Zen 3).
inline constexpr std::size_t kInterleave = 8;

template <class Acc>
inline void complete_block(const std::uint32_t* TESSERA_RESTRICT feat, const float* TESSERA_RESTRICT thr,
                           const Acc* TESSERA_RESTRICT leaf, std::uint32_t depth, const float* TESSERA_RESTRICT xt,
                           std::size_t nr, Acc* TESSERA_RESTRICT acc, std::size_t k) noexcept {
  using B = simd::f32;
  using BB = typename B::batch_bool_type;
  constexpr std::size_t W = B::size;
  const std::uint32_t top = std::min(depth, kSimdLevels);
  const std::uint32_t n_top = (1u << top) - 1;
  alignas(64) float path[kBlock] = {};
  std::uint32_t idx[kBlock];
  if (top > 0) {
    std::size_t off[15];
    B t[15];
    for (std::uint32_t j = 0; j < n_top; ++j) {
      off[j] = static_cast<std::size_t>(feat[j]) * kBlock;
      t[j] = B(thr[j]);
    }
    const std::size_t nv = (nr + W - 1) / W;
    auto sel = [](const BB& d, const BB& a, const BB& b) { return simd::select_mask(d, a, b); };
    auto compare = [&](std::uint32_t j, std::size_t vi) -> BB {
      const B xv = B::load_aligned(xt + off[j] + vi * W);
      return xv < t[j];
    };
    const B zero(0.0f);
    if (top == 4) {
      // The common case, unrolled: 15 compares, 11 selects per W rows.
      for (std::size_t vi = 0; vi < nv; ++vi) {
        const BB d0 = compare(0, vi);
        const BB d1 = sel(d0, compare(1, vi), compare(2, vi));
        const BB a = sel(d1, compare(3, vi), compare(4, vi));
        const BB b = sel(d1, compare(5, vi), compare(6, vi));
        const BB d2 = sel(d0, a, b);
        const BB e0 = sel(d2, compare(7, vi), compare(8, vi));
        const BB e1 = sel(d2, compare(9, vi), compare(10, vi));
        const BB e2 = sel(d2, compare(11, vi), compare(12, vi));
        const BB e3 = sel(d2, compare(13, vi), compare(14, vi));
        const BB d3 = sel(d0, sel(d1, e0, e1), sel(d1, e2, e3));
        const B p = xsimd::select(d0, zero, B(8.0f)) + xsimd::select(d1, zero, B(4.0f)) +
                    xsimd::select(d2, zero, B(2.0f)) + xsimd::select(d3, zero, B(1.0f));
        p.store_aligned(path + vi * W);
      }
    } else {
      for (std::size_t vi = 0; vi < nv; ++vi) {
        BB c[7];
        for (std::uint32_t j = 0; j < n_top; ++j) c[j] = compare(j, vi);
        // dec[l]: "left" at level l along each row's own path. The candidates of level l
        // are its 2^l splits; pairs are reduced by the deepest decision first.
        BB dec[3];
        B p(0.0f);
        for (std::uint32_t l = 0; l < top; ++l) {
          BB cand[4];
          const std::uint32_t width = 1u << l;
          for (std::uint32_t i = 0; i < width; ++i) cand[i] = c[width - 1 + i];
          for (std::uint32_t m = l; m-- > 0;)
            for (std::uint32_t i = 0; i < (1u << m); ++i) cand[i] = sel(dec[m], cand[2 * i], cand[2 * i + 1]);
          dec[l] = cand[0];
          p = p + xsimd::select(dec[l], zero, B(static_cast<float>(1u << (top - 1 - l))));
        }
        p.store_aligned(path + vi * W);
      }
    }
    for (std::size_t r = 0; r < nr; ++r) idx[r] = n_top + static_cast<std::uint32_t>(path[r]);
  } else {
    for (std::size_t r = 0; r < nr; ++r) idx[r] = 0;
  }
  // Levels below: each row walks on to its leaf with its node index in a register,
  // kInterleave rows at a time: that many independent chains of dependent loads in flight,
  // no index stored and reloaded per level. Plain scalar code on purpose: GCC vectorizes a
  // level-major loop over the rows into emulated gathers (extracts, inserts), and both
  // those and AVX2 gathers were slower on Zen 3 than this.
  const std::uint32_t base = (1u << depth) - 1;
#if defined(__EMSCRIPTEN__)
  // WASM: the interleaved walk below ran 1.6x slower under V8 than this level-major loop.
  for (std::uint32_t level = top; level < depth; ++level) {
    for (std::size_t r = 0; r < nr; ++r) {
      const std::uint32_t n = idx[r];
      const std::uint32_t u = feat[n];
      const float v = xt[static_cast<std::size_t>(u) * kBlock + r];
      idx[r] = 2 * n + 2 - (v < thr[n]);
    }
  }
  for (std::size_t r = 0; r < nr; ++r) acc[r * k] += leaf[idx[r] - base];
#else
  const std::uint32_t rem = depth - top;
  std::size_t r = 0;
  for (; r + kInterleave <= nr; r += kInterleave) {
    std::size_t n[kInterleave];
    for (std::size_t j = 0; j < kInterleave; ++j) n[j] = idx[r + j];
    const float* x = xt + r;
#if defined(__GNUC__) && !defined(__EMSCRIPTEN__)
    // Hides x = xt + r from the optimizer: otherwise GCC keeps r + j for every j in its
    // own (spilled) register instead of folding j into the load's displacement.
    __asm__("" : "+r"(x));
#endif
    for (std::uint32_t l = 0; l < rem; ++l) {
      for (std::size_t j = 0; j < kInterleave; ++j) {
        const float v = x[static_cast<std::size_t>(feat[n[j]]) * kBlock + j];
        n[j] = 2 * n[j] + 2 - static_cast<std::size_t>(v < thr[n[j]]);
      }
    }
    for (std::size_t j = 0; j < kInterleave; ++j) acc[(r + j) * k] += leaf[n[j] - base];
  }
  for (; r < nr; ++r) {
    std::size_t n = idx[r];
    for (std::uint32_t l = 0; l < rem; ++l) {
      const float v = xt[static_cast<std::size_t>(feat[n]) * kBlock + r];
      n = 2 * n + 2 - static_cast<std::size_t>(v < thr[n]);
    }
    acc[r * k] += leaf[n - base];
  }
#endif
}

// One row: no batch to hide the latency of a walk, so up to 8 consecutive complete trees
// are walked together (independent chains), then their leaves are added in tree order.
template <class Acc>
inline void complete_trees_one_row(const std::uint32_t* TESSERA_RESTRICT feat, const float* TESSERA_RESTRICT thr,
                                   const Acc* TESSERA_RESTRICT leaves, const tree_info* trees, std::size_t n,
                                   const float* TESSERA_RESTRICT x, Acc* TESSERA_RESTRICT acc) noexcept {
  std::uint32_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::uint32_t max_depth = 0;
  for (std::size_t j = 0; j < n; ++j) max_depth = std::max(max_depth, trees[j].depth);
  for (std::uint32_t level = 0; level < max_depth; ++level) {
    for (std::size_t j = 0; j < n; ++j) {
      if (level >= trees[j].depth) continue;
      const std::uint32_t nd = trees[j].first + idx[j];
      const std::uint32_t u = feat[nd];
      const float v = x[u];
      idx[j] = 2 * idx[j] + 2 - (v < thr[nd]);
    }
  }
  for (std::size_t j = 0; j < n; ++j)
    acc[trees[j].output] += leaves[trees[j].leaf_first + idx[j] - ((1u << trees[j].depth) - 1)];
}

inline bool general_in_set(const std::uint32_t* bits, const general_node& nd, std::uint64_t c) noexcept {
  const std::uint64_t word = c / 32;
  if (word >= nd.cat_words) return false;
  return (bits[nd.cat_begin + word] >> (c % 32)) & 1u;
}

// One step of the general layout: the IR's semantics for node nd and value x (already
// rounded to the forest's feature precision).
inline std::uint32_t general_next(const forest_view& v, const general_node& nd, double x) noexcept {
  const std::uint32_t dflt = nd.default_left ? nd.left : nd.right;
  if (nd.categorical) {
    if (v.categories == category_rule::in_set_right) {
      if (std::isnan(x)) return dflt;
      if (x < 0.0 || x >= 16777216.0) return nd.left;
      return general_in_set(v.category_bits.data(), nd, static_cast<std::uint64_t>(x)) ? nd.right : nd.left;
    }
    if (std::isnan(x)) return nd.right;
    const double t = std::trunc(x);
    if (t < 0.0 || t >= 2147483648.0) return nd.right;
    return general_in_set(v.category_bits.data(), nd, static_cast<std::uint64_t>(t)) ? nd.left : nd.right;
  }
  switch (nd.missing) {
    case missing_rule::nan_default:
    case missing_rule::nan:
      if (std::isnan(x)) return dflt;
      break;
    case missing_rule::none:
      if (std::isnan(x)) x = 0.0;
      break;
    case missing_rule::zero: {
      constexpr double z = static_cast<double>(1e-35f);
      if (std::isnan(x)) x = 0.0;
      if (x >= -z && x <= z) return dflt;
      break;
    }
  }
  const bool left = v.compare == compare_op::less ? (x < nd.value) : (x <= nd.value);
  return left ? nd.left : nd.right;
}

template <class V>
inline double general_leaf(const forest_view& v, std::uint32_t root, const V* row) noexcept {
  const general_node* nodes = v.general_nodes.data();
  const bool f32 = v.features == feature_precision::f32;
  std::uint32_t n = root;
  while (nodes[n].feature >= 0) {
    const V raw = row[nodes[n].feature];
    const double x = f32 ? static_cast<double>(static_cast<float>(raw)) : static_cast<double>(raw);
    n = general_next(v, nodes[n], x);
  }
  return nodes[n].value;
}

// Margins of nr <= kBlock rows (row-major, nf values each) into acc (nr * k, Acc).
// V == float, or V == double with all_general (double rows of an f64-precision forest).
template <class Acc, class V>
inline void block_margins(const forest_view& v, const V* x, std::size_t nf, std::size_t nr, Acc* acc,
                          bool all_general, float* xt) noexcept {
  const std::size_t k = static_cast<std::size_t>(v.num_outputs);
  for (std::size_t r = 0; r < nr; ++r)
    for (std::size_t g = 0; g < k; ++g) acc[r * k + g] = static_cast<Acc>(v.base_margin[g]);
  constexpr float inf = std::numeric_limits<float>::infinity();
  const std::size_t nc = v.block_columns();
  if constexpr (std::is_same_v<V, float>) {
    if (!all_general && nr > 1) {
      // Feature-major copy of the block's columns, twice: [0, nc) with NaN as -inf and
      // [nc, 2 nc) with NaN as +inf (see forest_view::complete_feature). Rows are padded
      // with 0 to a whole SIMD register.
      constexpr std::size_t W = simd::f32::size;
      const std::size_t padded = std::min(kBlock, (nr + W - 1) / W * W);
      for (std::size_t j = 0; j < nc; ++j) {
        const std::size_t f = v.block_feature(j);
        float* lo = xt + j * kBlock;
        float* hi = xt + (nc + j) * kBlock;
        for (std::size_t r = 0; r < nr; ++r) {
          const float val = x[r * nf + f];
          const bool nan = val != val;
          lo[r] = nan ? -inf : val;
          hi[r] = nan ? inf : val;
        }
        for (std::size_t r = nr; r < padded; ++r) lo[r] = hi[r] = 0.0f;
      }
    }
  }
  const Acc* leaves;
  if constexpr (std::is_same_v<Acc, float>) leaves = v.leaf_f32.data();
  else leaves = v.leaf_f64.data();
  const std::uint32_t* feat = v.complete_feature.data();
  const float* thr = v.complete_threshold.data();
  if constexpr (std::is_same_v<V, float>) {
    if (nr == 1 && !all_general) {
      for (std::size_t j = 0; j < nc; ++j) {
        const float val = x[v.block_feature(j)];
        const bool nan = val != val;
        xt[j] = nan ? -inf : val;
        xt[nc + j] = nan ? inf : val;
      }
      const tree_info* tr = v.trees.data();
      const std::size_t nt = v.trees.size();
      for (std::size_t i = 0; i < nt;) {
        if (tr[i].kind == tree_kind::general) {
          acc[tr[i].output] += static_cast<Acc>(general_leaf(v, tr[i].first, x));
          ++i;
          continue;
        }
        std::size_t n = 1;
        while (n < 8 && i + n < nt && tr[i + n].kind == tree_kind::complete) ++n;
        complete_trees_one_row<Acc>(feat, thr, leaves, tr + i, n, xt, acc);
        i += n;
      }
      if (v.average_output && !v.trees.empty()) {
        const Acc iterations = static_cast<Acc>(static_cast<double>(v.trees.size() / k));
        for (std::size_t g = 0; g < k; ++g) acc[g] /= iterations;
      }
      return;
    }
  }
  for (const tree_info& t : v.trees) {
    const std::size_t g = static_cast<std::size_t>(t.output);
    if constexpr (std::is_same_v<V, float>) {
      if (t.kind == tree_kind::complete && !all_general) {
        complete_block<Acc>(feat + t.first, thr + t.first, leaves + t.leaf_first, t.depth, xt, nr, acc + g, k);
        continue;
      }
    }
    for (std::size_t r = 0; r < nr; ++r) acc[r * k + g] += static_cast<Acc>(general_leaf(v, t.general_root, x + r * nf));
  }
  if (v.average_output && !v.trees.empty()) {
    const Acc iterations = static_cast<Acc>(static_cast<double>(v.trees.size() / k));
    for (std::size_t i = 0; i < nr * k; ++i) acc[i] /= iterations;
  }
}

}  // namespace detail

// ---- the predictor -------------------------------------------------------------------------

class predictor {
 public:
  predictor() = default;

  // Runs from a view whose arrays outlive the predictor (e.g. a generated header). Checks
  // every index in the view first, so a corrupt view is an error, not a wild read.
  static expected<predictor> wrap(const forest_view& v) {
    TESSERA_TRY(check_view(v));
    predictor p;
    p.view_ = v;
    p.set_meta();
    return p;
  }

  const forest_view& view() const noexcept { return view_; }
  std::int32_t num_features() const noexcept { return view_.num_features; }
  std::int32_t num_outputs() const noexcept { return view_.num_outputs; }
  std::int32_t num_transformed_outputs() const noexcept { return view_.num_transformed_outputs(); }
  std::size_t num_trees() const noexcept { return view_.trees.size(); }
  std::size_t num_complete_trees() const noexcept {
    std::size_t c = 0;
    for (const tree_info& t : view_.trees) c += t.kind == tree_kind::complete;
    return c;
  }

  // Raw margins: rows holds n_rows * n_features values (row-major, NaN = missing) and n_features
  // must equal the model's; out holds n_rows * num_outputs(). pool: null = single thread.
  template <class Out, class In>
  status predict_margin(std::span<Out> out, std::span<const In> rows, std::size_t n_features,
                        runtime::thread_pool* pool = nullptr) const {
    return run<Out, In>(out, rows, n_features, pool, false);
  }
  // Transformed predictions (probabilities, class index for argmax, ...): out holds
  // n_rows * num_transformed_outputs().
  template <class Out, class In>
  status predict(std::span<Out> out, std::span<const In> rows, std::size_t n_features,
                 runtime::thread_pool* pool = nullptr) const {
    return run<Out, In>(out, rows, n_features, pool, true);
  }
  // Same, with pointers (out must hold n_rows * outputs values).
  template <class Out, class In>
  status predict_margin(Out* out, const In* rows, std::size_t n_rows, std::size_t n_features,
                        runtime::thread_pool* pool = nullptr) const {
    return run<Out, In>(std::span<Out>(out, n_rows * static_cast<std::size_t>(num_outputs())),
                        std::span<const In>(rows, n_rows * n_features), n_features, pool, false);
  }
  template <class Out, class In>
  status predict(Out* out, const In* rows, std::size_t n_rows, std::size_t n_features,
                 runtime::thread_pool* pool = nullptr) const {
    return run<Out, In>(std::span<Out>(out, n_rows * static_cast<std::size_t>(num_transformed_outputs())),
                        std::span<const In>(rows, n_rows * n_features), n_features, pool, true);
  }

  static status check_view(const forest_view& v);

 private:
  friend expected<predictor> compile(const forest& f, const compile_options& opts);

  struct storage {
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

  void set_meta() {
    meta_ = forest{};
    meta_.num_features = view_.num_features;
    meta_.num_outputs = view_.num_outputs;
    meta_.accumulate = view_.accumulate;
    meta_.objective.transform = view_.transform;
    meta_.objective.sigmoid_scale = view_.sigmoid_scale;
  }

  template <class Out, class In>
  status run(std::span<Out> out, std::span<const In> rows, std::size_t n_features, runtime::thread_pool* pool,
             bool transformed) const;

  template <class Acc, class Out, class In>
  void run_range(Out* out, const In* rows, std::size_t begin, std::size_t end, bool transformed) const;

  std::shared_ptr<const storage> owned_;  // null when wrapping external arrays
  forest_view view_;
  forest meta_;  // only the fields transform_margins reads
};

inline status predictor::check_view(const forest_view& v) {
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

// Compiles a forest (validated first) into the predictor's own layout.
inline expected<predictor> compile(const forest& f, const compile_options& opts = {}) {
  TESSERA_TRY(f.validate());
  auto st = std::make_shared<predictor::storage>();
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
  predictor p;
  forest_view& v = p.view_;
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
  p.owned_ = std::move(st);
  p.set_meta();
  return p;
}

template <class Acc, class Out, class In>
void predictor::run_range(Out* out, const In* rows, std::size_t begin, std::size_t end, bool transformed) const {
  const forest_view& v = view_;
  const std::size_t nf = static_cast<std::size_t>(v.num_features);
  const std::size_t k = static_cast<std::size_t>(v.num_outputs);
  const std::size_t ko = transformed ? static_cast<std::size_t>(v.num_transformed_outputs()) : k;
  // Double rows of an f32-precision forest are rounded to float (as the reference does)
  // and take the fast path; double rows of an f64 forest take the general path.
  const bool all_general = std::is_same_v<In, double> && v.features == feature_precision::f64;
  // Fewer rows per block with many outputs, so the accumulators stay near kBlock * 64
  // values (a row's margins do not depend on its block: the results are the same).
  const std::size_t block = std::clamp<std::size_t>(detail::kBlock * 64 / k, 1, detail::kBlock);
  const std::size_t rows_here = std::min(block, end - begin);
  Acc acc_small[detail::kBlock * 4];
  std::vector<Acc> acc_big;
  Acc* acc = acc_small;
  if (block * k > detail::kBlock * 4) {
    acc_big.resize(block * k);
    acc = acc_big.data();
  }
  std::vector<float> conv;
  if constexpr (std::is_same_v<In, double>)
    if (!all_general) conv.resize(rows_here * nf);
  // Feature-major block, two copies (kBlock floats per column, 2 block_columns() columns),
  // aligned for SIMD loads; a single row needs only 2 block_columns() floats.
  alignas(64) float xt_small[256];
  std::unique_ptr<float[]> xt_raw;
  float* xt = xt_small;
  const std::size_t xt_size = (rows_here > 1 ? detail::kBlock : 1) * 2 * v.block_columns();
  if (!all_general && xt_size > 256) {
    xt_raw.reset(new float[xt_size + 16]);
    const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(xt_raw.get());
    xt = xt_raw.get() + ((64 - a % 64) % 64) / sizeof(float);
  }
  double m_small[64], t_small[64];
  std::vector<double> m_big, t_big;
  double* m = m_small;
  double* tr = t_small;
  if (k > 64) {
    m_big.resize(k);
    t_big.resize(k);
    m = m_big.data();
    tr = t_big.data();
  }
  for (std::size_t b = begin; b < end; b += block) {
    const std::size_t nr = std::min(block, end - b);
    const In* x = rows + b * nf;
    if constexpr (std::is_same_v<In, double>) {
      if (all_general) {
        detail::block_margins<Acc, double>(v, x, nf, nr, acc, true, nullptr);
      } else {
        for (std::size_t i = 0; i < nr * nf; ++i) conv[i] = static_cast<float>(x[i]);
        detail::block_margins<Acc, float>(v, conv.data(), nf, nr, acc, false, xt);
      }
    } else {
      detail::block_margins<Acc, float>(v, x, nf, nr, acc, false, xt);
    }
    Out* o = out + b * ko;
    if (!transformed) {
      for (std::size_t i = 0; i < nr * k; ++i) o[i] = static_cast<Out>(acc[i]);
      continue;
    }
    if (v.transform == output_transform::sigmoid && k == 1 && v.sigmoid_scale == 1.0 &&
        v.accumulate == accum_type::f32) {
      for (std::size_t r = 0; r < nr; ++r) o[r] = static_cast<Out>(sigmoid_f32(static_cast<float>(acc[r])));
      continue;
    }
    for (std::size_t r = 0; r < nr; ++r) {
      for (std::size_t g = 0; g < k; ++g) m[g] = static_cast<double>(acc[r * k + g]);
      // Shapes were checked by run(): this cannot fail.
      (void)transform_margins(std::span<double>(tr, ko), meta_, std::span<const double>(m, k));
      for (std::size_t g = 0; g < ko; ++g) o[r * ko + g] = static_cast<Out>(tr[g]);
    }
  }
}

template <class Out, class In>
status predictor::run(std::span<Out> out, std::span<const In> rows, std::size_t n_features,
                      runtime::thread_pool* pool, bool transformed) const {
  static_assert(std::is_same_v<In, float> || std::is_same_v<In, double>, "rows hold float or double values");
  static_assert(std::is_same_v<Out, float> || std::is_same_v<Out, double>, "outputs are float or double");
  const char* what = transformed ? "predict" : "predict_margin";
  if (view_.trees.data() == nullptr && view_.base_margin.empty())
    return make_error(errc::invalid_argument, std::string(what) + ": empty predictor (use compile or wrap)");
  if (n_features != static_cast<std::size_t>(view_.num_features))
    return make_error(errc::shape_mismatch, std::string(what) + ": rows have " + std::to_string(n_features) +
                                                " features, the model expects " + std::to_string(view_.num_features));
  const std::size_t n_rows = n_features == 0 ? 0 : rows.size() / n_features;
  if (n_features != 0 && rows.size() % n_features != 0)
    return make_error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(rows.size()) +
                                                " values is not a whole number of rows of " + std::to_string(n_features));
  const std::size_t ko = static_cast<std::size_t>(transformed ? num_transformed_outputs() : num_outputs());
  if (n_features == 0 && out.size() % ko != 0)
    return make_error(errc::shape_mismatch, std::string(what) + ": output size is not a multiple of " + std::to_string(ko));
  const std::size_t rows_n = n_features == 0 ? out.size() / ko : n_rows;
  if (out.size() != rows_n * ko)
    return make_error(errc::shape_mismatch, std::string(what) + ": output has " + std::to_string(out.size()) +
                                                " values, expected " + std::to_string(rows_n * ko));
  if (rows_n == 0) return {};  // nothing to size blocks for
  auto body = [&](std::size_t b, std::size_t e) {
    if (view_.accumulate == accum_type::f32) run_range<float, Out, In>(out.data(), rows.data(), b, e, transformed);
    else run_range<double, Out, In>(out.data(), rows.data(), b, e, transformed);
  };
  if (pool == nullptr || pool->num_threads() <= 1 || rows_n <= detail::kBlock) {
    body(0, rows_n);
    return {};
  }
  // Tasks of a few whole blocks (every block but the last is full), many more tasks than
  // threads: threads take them as they finish, so a core that runs slower (a busy neighbour on
  // a shared host) ends up with fewer blocks instead of holding up the end of the call.
  const std::size_t n_blocks = (rows_n + detail::kBlock - 1) / detail::kBlock;
  constexpr std::size_t blocks_per_task = 4;
  const std::size_t n_tasks = (n_blocks + blocks_per_task - 1) / blocks_per_task;
  pool->run(n_tasks, [&](std::size_t t, std::size_t) {
    body(t * blocks_per_task * detail::kBlock, std::min(rows_n, (t + 1) * blocks_per_task * detail::kBlock));
  });
  return {};
}

}  // namespace tessera::trees
