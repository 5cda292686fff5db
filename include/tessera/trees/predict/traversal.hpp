// Private part of trees/predict.hpp: the predictor's traversal kernels over a block of rows
// (SIMD top levels, interleaved walks below, the general layout's IR semantics). They read a
// forest_view only; the predictor in front owns the scratch they are handed.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tessera/config.hpp"
#include "tessera/simd/simd.hpp"
#include "tessera/trees/forest.hpp"
#include "tessera/trees/forest_view.hpp"

namespace tessera::trees::detail {

// Rows per block (128 beat 64 by ~6% natively): a block's rows and a tree (a few KB) stay in L1.
inline constexpr std::size_t kBlock = 128;
// The feature-major block is read with aligned loads of whole registers.
inline constexpr std::size_t kColumnAlignment = sizeof(simd::f32);
static_assert(kColumnAlignment <= TESSERA_ALIGNMENT, "arena memory must be aligned for SIMD loads");

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


}  // namespace tessera::trees::detail
