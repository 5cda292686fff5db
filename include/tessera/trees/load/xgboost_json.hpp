// XGBoost model loader: the JSON (.json) and UBJSON (.ubj) formats of save_model(),
// schema 1.x (1.6, 1.7) and 2.x, gbtree and dart boosters, numerical and categorical
// splits. Produces a validated trees::forest with XGBoost's semantics:
// `x < threshold` goes left, float accumulation, category in set goes right, NaN takes the
// default direction.
//
// Field meanings (per tree, arrays indexed by node id): left_children/right_children (-1 for
// leaves), split_indices (feature), split_conditions (threshold; the leaf value for leaves),
// default_left, split_type (0 numerical, 1 categorical), and for categorical nodes
// categories_nodes[k] / categories_segments[k] / categories_sizes[k] locating the sorted
// category list of node categories_nodes[k] in `categories`. Nodes not reachable from the
// root (XGBoost keeps pruned, "deleted" nodes in the arrays) are dropped; the rest are
// renumbered in depth-first order. Declared counts are bounded by what the file uses and by
// its size (trees::check_declared_features / check_declared_outputs, forest.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/io/json.hpp"
#include "tessera/io/ubjson.hpp"
#include "tessera/trees/forest.hpp"

namespace tessera::trees {

namespace detail {

struct xgb_objective {
  trees::output_transform transform;
  enum class margin_of { identity, logit, log } base;
};

inline expected<xgb_objective> xgboost_objective(std::string_view name) {
  using T = trees::output_transform;
  using B = xgb_objective::margin_of;
  if (name == "binary:logistic" || name == "reg:logistic") return xgb_objective{T::sigmoid, B::logit};
  // XGBoost 1.7 uses base_score itself as the margin for logitraw (checked against 1.7.4).
  if (name == "binary:logitraw") return xgb_objective{T::identity, B::identity};
  if (name == "multi:softprob") return xgb_objective{T::softmax, B::identity};
  if (name == "multi:softmax") return xgb_objective{T::argmax, B::identity};
  if (name == "count:poisson" || name == "reg:gamma" || name == "reg:tweedie") return xgb_objective{T::exp, B::log};
  if (name == "reg:squarederror" || name == "reg:linear" || name == "reg:squaredlogerror" ||
      name == "reg:pseudohubererror" || name == "reg:absoluteerror" || name == "reg:quantileerror" ||
      name == "rank:pairwise" || name == "rank:ndcg" || name == "rank:map")
    return xgb_objective{T::identity, B::identity};
  return make_error(errc::unsupported, "xgboost: objective '" + io::excerpt(name) + "' is not supported");
}

// Base margin from base_score, with XGBoost's float numerics: ProbToMargin is
// -logf(1/base_score - 1) for logistic objectives and logf(base_score) for log links.
// Checked bit for bit against XGBoost 1.7.4 on 400 base scores each (fixtures
// xgb_base_margin_*.csv); a correctly rounded log (double, rounded once) differs from it in
// about 1% of cases, so this calls logf (std::log on a float) like XGBoost does.
inline float xgboost_base_margin(float base_score, xgb_objective::margin_of kind) {
  switch (kind) {
    case xgb_objective::margin_of::logit: {
      const float t = 1.0f / base_score - 1.0f;
      return -std::log(t);
    }
    case xgb_objective::margin_of::log:
      return std::log(base_score);
    case xgb_objective::margin_of::identity:
      break;
  }
  return base_score;
}

inline expected<std::int64_t> string_integer(io::json_ref obj, std::string_view key, std::string_view where,
                                             std::int64_t lo, std::int64_t hi) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref v, io::require_member(obj, key, where));
  TESSERA_ASSIGN_OR_RETURN(const double d, io::number_or_string(v, std::string(where) + "." + std::string(key)));
  return io::to_integer(d, lo, hi, std::string(where) + "." + std::string(key));
}

// An absent or null list is empty.
inline status string_list(io::json_ref v, std::vector<std::string>& out, std::string_view where) {
  out.clear();
  if (v.is_null()) return {};
  if (!v.is_array()) return io::schema_error(where, "expected an array of strings");
  for (const io::json_ref e : v.elements()) {
    if (!e.is_string()) return io::schema_error(where, "expected an array of strings");
    out.emplace_back(e.str());
  }
  return {};
}

// Bulk conversions of a numeric array; the error message is only built on failure.
inline status integer_array(io::json_ref v, std::int64_t lo, std::int64_t hi, const std::string& where,
                            const char* field, std::vector<std::int64_t>& out) {
  if (!v.is_array()) return io::schema_error(where, std::string(field) + ": expected an array");
  out.resize(v.size());
  std::size_t i = 0;
  for (const io::json_ref e : v.elements()) {
    double d = 0.0;
    if (e.is_number()) {
      d = e.number();
    } else if (e.is_boolean()) {
      d = e.boolean() ? 1.0 : 0.0;
    } else {
      return io::schema_error(where, std::string(field) + "[" + std::to_string(i) + "] is not a number");
    }
    if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != std::floor(d))
      return io::schema_error(where, std::string(field) + "[" + std::to_string(i) + "] is not an integer in [" +
                                     std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out[i++] = static_cast<std::int64_t>(d);
  }
  return {};
}

inline status float_array(io::json_ref v, const std::string& where, const char* field, std::vector<float>& out) {
  if (!v.is_array()) return io::schema_error(where, std::string(field) + ": expected an array");
  out.resize(v.size());
  std::size_t i = 0;
  for (const io::json_ref e : v.elements()) {
    if (!e.is_number()) return io::schema_error(where, std::string(field) + "[" + std::to_string(i) + "] is not a number");
    out[i++] = e.number_f32();
  }
  return {};
}

// Appends one XGBoost tree to `f`.
inline status xgboost_add_tree(trees::forest& f, io::json_ref tree, std::size_t index, std::int32_t group,
                               double weight, std::size_t& category_budget) {
  const std::string where = "xgboost: tree " + std::to_string(index);
  if (!tree.is_object()) return io::schema_error(where, "expected an object");
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref lc_v, io::require_member(tree, "left_children", where));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref rc_v, io::require_member(tree, "right_children", where));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref si_v, io::require_member(tree, "split_indices", where));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref sc_v, io::require_member(tree, "split_conditions", where));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref dl_v, io::require_member(tree, "default_left", where));
  const io::json_ref st_v = tree.find("split_type");  // absent before XGBoost 1.4
  if (const io::json_ref tp = tree.find("tree_param")) {
    if (const io::json_ref slv = tp.find("size_leaf_vector")) {
      TESSERA_ASSIGN_OR_RETURN(const double s, io::number_or_string(slv, where + ".size_leaf_vector"));
      if (s > 1) return make_error(errc::unsupported, where + ": vector leaves (multi-target trees) are not supported");
    }
  }

  TESSERA_ASSIGN_OR_RETURN(const std::size_t n, io::array_size(lc_v, where + ".left_children"));
  if (n == 0) return io::schema_error(where, "tree has no nodes");
  if (n > static_cast<std::size_t>(INT32_MAX / 2)) return io::schema_error(where, "too many nodes");
  const auto last = static_cast<std::int64_t>(n) - 1;
  std::vector<std::int64_t> lc, rc, si, dl, st;
  std::vector<float> sc;
  TESSERA_TRY(integer_array(lc_v, -1, last, where, "left_children", lc));
  TESSERA_TRY(integer_array(rc_v, -1, last, where, "right_children", rc));
  // Leaves may hold any split index (XGBoost writes 0); internal nodes are checked below.
  TESSERA_TRY(integer_array(si_v, INT32_MIN, INT32_MAX, where, "split_indices", si));
  TESSERA_TRY(integer_array(dl_v, 0, 1, where, "default_left", dl));
  TESSERA_TRY(float_array(sc_v, where, "split_conditions", sc));
  if (st_v) {
    TESSERA_TRY(integer_array(st_v, 0, 1, where, "split_type", st));
  } else {
    st.assign(n, 0);
  }
  for (auto [size, name] : {std::pair{rc.size(), "right_children"}, std::pair{si.size(), "split_indices"},
                            std::pair{sc.size(), "split_conditions"}, std::pair{dl.size(), "default_left"},
                            std::pair{st.size(), "split_type"}}) {
    if (size != n)
      return io::schema_error(where, std::string(name) + " has " + std::to_string(size) + " entries, expected " +
                                     std::to_string(n));
  }

  // Categorical sets by node id: position k in categories_nodes, or -1.
  std::vector<std::int64_t> cat_entry(n, -1), cnodes, csegs, csizes, cats;
  if (const io::json_ref cn_v = tree.find("categories_nodes")) {
    TESSERA_TRY(integer_array(cn_v, 0, last, where, "categories_nodes", cnodes));
    if (!cnodes.empty()) {
      const io::json_ref cs_v = tree.find("categories_segments");
      const io::json_ref cz_v = tree.find("categories_sizes");
      const io::json_ref c_v = tree.find("categories");
      if (!cs_v || !cz_v || !c_v) return io::schema_error(where, "categorical split without its category arrays");
      TESSERA_TRY(integer_array(cs_v, 0, INT64_C(1) << 53, where, "categories_segments", csegs));
      TESSERA_TRY(integer_array(cz_v, 0, INT64_C(1) << 53, where, "categories_sizes", csizes));
      // XGBoost categories are below 2^24 (larger values are invalid categories).
      TESSERA_TRY(integer_array(c_v, 0, (INT64_C(1) << 24) - 1, where, "categories", cats));
      if (csegs.size() != cnodes.size() || csizes.size() != cnodes.size())
        return io::schema_error(where, "categories_* arrays disagree in length");
      // XGBoost writes disjoint segments; overlapping ones would let a small file make
      // every node scan the same long list (quadratic work). Sizes are < 2^53 each.
      std::uint64_t listed = 0;
      for (std::int64_t c : csizes) {
        listed += static_cast<std::uint64_t>(c);
        if (listed > cats.size())
          return io::schema_error(where, "categories_sizes add up to more than the " + std::to_string(cats.size()) +
                                         " entries of 'categories'");
      }
    }
    for (std::size_t k = 0; k < cnodes.size(); ++k) {
      if (cat_entry[cnodes[k]] >= 0)
        return io::schema_error(where, "node " + std::to_string(cnodes[k]) + " has two category sets");
      cat_entry[cnodes[k]] = static_cast<std::int64_t>(k);
    }
  }

  // Depth-first pre-order renumbering from the root. A node is marked when pushed, so a
  // node reached twice (cycle, shared child) is caught; nodes never reached are XGBoost's
  // deleted (pruned) nodes and are dropped.
  std::vector<std::int32_t> new_id(n, -1), order;
  std::vector<std::int32_t> stack{0};
  new_id[0] = 0;
  while (!stack.empty()) {
    const std::int32_t u = stack.back();
    stack.pop_back();
    new_id[u] = static_cast<std::int32_t>(order.size());
    order.push_back(u);
    const std::int64_t l = lc[u], r = rc[u];
    if (l == -1 && r == -1) continue;
    if (l == -1 || r == -1) return io::schema_error(where, "node " + std::to_string(u) + " has exactly one child");
    for (std::int64_t c : {r, l}) {  // push right first so the left subtree is numbered next
      if (new_id[c] != -1)
        return io::schema_error(where, "node " + std::to_string(c) + " reached twice (cycle or shared child)");
      new_id[c] = 0;  // mark; the real id is assigned when popped
      stack.push_back(static_cast<std::int32_t>(c));
    }
  }

  const std::int32_t base = f.num_nodes();
  f.begin_tree(group, weight);
  for (const std::int32_t u : order) {
    const float cond = sc[u];
    if (lc[u] < 0) {
      if (std::isnan(cond)) return io::schema_error(where, "node " + std::to_string(u) + ": leaf value is NaN");
      f.add_leaf(static_cast<double>(cond));
      continue;
    }
    if (si[u] < 0 || si[u] >= f.num_features)
      return io::schema_error(where, "node " + std::to_string(u) + ": split feature " + std::to_string(si[u]) +
                                     " outside [0, num_feature)");
    const auto feat = static_cast<std::int32_t>(si[u]);
    const std::int32_t left = base + new_id[lc[u]], right = base + new_id[rc[u]];
    if (st[u] == 0) {
      if (std::isnan(cond)) return io::schema_error(where, "node " + std::to_string(u) + ": threshold is NaN");
      f.add_numerical_split({.feature = feat, .threshold = static_cast<double>(cond), .default_left = dl[u] != 0,
                             .left = left, .right = right});
      continue;
    }
    // Categorical: build the bitset of the node's categories.
    if (cat_entry[u] < 0)
      return io::schema_error(where, "node " + std::to_string(u) + ": categorical split without a category set");
    const auto e = static_cast<std::size_t>(cat_entry[u]);
    const auto seg = static_cast<std::uint64_t>(csegs[e]), cnt = static_cast<std::uint64_t>(csizes[e]);
    if (seg + cnt > cats.size())
      return io::schema_error(where, "node " + std::to_string(u) + ": category segment past the end of 'categories'");
    std::int64_t max_cat = -1;
    for (std::uint64_t i = 0; i < cnt; ++i) max_cat = cats[seg + i] > max_cat ? cats[seg + i] : max_cat;
    const std::size_t words = max_cat < 0 ? 0 : static_cast<std::size_t>(max_cat / 32 + 1);
    if (words > category_budget)
      return make_error(errc::out_of_memory,
                        where + " node " + std::to_string(u) + ": category bitsets exceed the size budget of this model file");
    category_budget -= words;
    const std::size_t begin = f.category_bits.size();
    f.category_bits.resize(begin + words, 0u);
    for (std::uint64_t i = 0; i < cnt; ++i) {
      const auto c = static_cast<std::uint64_t>(cats[seg + i]);
      f.category_bits[begin + c / 32] |= 1u << (c % 32);
    }
    f.add_categorical_split({.feature = feat, .cat_begin = static_cast<std::uint32_t>(begin),
                             .cat_words = static_cast<std::uint32_t>(words), .default_left = dl[u] != 0,
                             .left = left, .right = right});
  }
  f.end_tree();
  return {};
}

}  // namespace detail

// Converts a parsed XGBoost model document (from JSON or UBJSON). `input_size` (bytes of
// the file) sizes the budget for category bitsets.
inline expected<trees::forest> xgboost_from_document(io::json_ref doc, std::size_t input_size) {
  using namespace detail;
  trees::forest f;
  f.format = trees::source_format::xgboost;
  f.compare = trees::compare_op::less;
  f.accumulate = trees::accum_type::f32;
  f.features = trees::feature_precision::f32;
  f.categories = trees::category_rule::in_set_right;

  TESSERA_ASSIGN_OR_RETURN(const io::json_ref learner, io::require_member(doc, "learner", "xgboost"));
  if (const io::json_ref ver = doc.find("version")) {
    if (ver.is_array() && ver.size() >= 1) {
      TESSERA_ASSIGN_OR_RETURN(const std::int64_t major, io::array_integer(ver, 0, 0, 1000, "xgboost.version"));
      if (major > 3) return make_error(errc::unsupported, "xgboost: model version " + std::to_string(major) + ".x is not supported");
    }
  }
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref mparam, io::require_member(learner, "learner_model_param", "xgboost.learner"));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t num_feature,
                           string_integer(mparam, "num_feature", "xgboost.learner_model_param", 0, INT32_MAX));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t num_class,
                           string_integer(mparam, "num_class", "xgboost.learner_model_param", 0, 1 << 20));
  std::int64_t num_target = 1;
  if (mparam.find("num_target")) {
    TESSERA_ASSIGN_OR_RETURN(num_target, string_integer(mparam, "num_target", "xgboost.learner_model_param", 1, 1 << 20));
  }
  f.num_features = static_cast<std::int32_t>(num_feature);
  f.num_outputs = static_cast<std::int32_t>(num_class > 0 ? num_class : num_target);

  TESSERA_ASSIGN_OR_RETURN(const io::json_ref obj, io::require_member(learner, "objective", "xgboost.learner"));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref obj_name, io::require_member(obj, "name", "xgboost.learner.objective"));
  if (!obj_name.is_string()) return io::schema_error("xgboost.learner.objective.name", "expected a string");
  TESSERA_ASSIGN_OR_RETURN(const xgb_objective xo, xgboost_objective(obj_name.str()));
  f.objective.name = obj_name.str();
  f.objective.transform = xo.transform;
  if ((xo.transform == trees::output_transform::softmax || xo.transform == trees::output_transform::argmax) &&
      num_class < 1)
    return io::schema_error("xgboost", "multi-class objective without num_class");

  TESSERA_ASSIGN_OR_RETURN(const io::json_ref bs, io::require_member(mparam, "base_score", "xgboost.learner_model_param"));
  float base_score = 0.0f;
  TESSERA_TRY(io::number_or_string(bs, "xgboost.learner_model_param.base_score", &base_score).as_status());
  if (std::isnan(base_score)) return io::schema_error("xgboost", "base_score is NaN");
  if (xo.base == xgb_objective::margin_of::logit && !(base_score > 0.0f && base_score < 1.0f))
    return io::schema_error("xgboost", "base_score must be in (0, 1) for a logistic objective");
  if (xo.base == xgb_objective::margin_of::log && !(base_score > 0.0f))
    return io::schema_error("xgboost", "base_score must be positive for a log-link objective");
  const double base_margin = static_cast<double>(xgboost_base_margin(base_score, xo.base));

  TESSERA_TRY(string_list(learner.find("feature_names"), f.feature_names, "xgboost.feature_names"));
  TESSERA_TRY(string_list(learner.find("feature_types"), f.feature_types, "xgboost.feature_types"));
  if (!f.feature_names.empty() && f.feature_names.size() != static_cast<std::size_t>(f.num_features))
    return io::schema_error("xgboost", "feature_names does not have num_feature entries");
  if (!f.feature_types.empty() && f.feature_types.size() != static_cast<std::size_t>(f.num_features))
    return io::schema_error("xgboost", "feature_types does not have num_feature entries");

  TESSERA_ASSIGN_OR_RETURN(const io::json_ref gb, io::require_member(learner, "gradient_booster", "xgboost.learner"));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref gb_name, io::require_member(gb, "name", "xgboost.gradient_booster"));
  if (!gb_name.is_string()) return io::schema_error("xgboost.gradient_booster.name", "expected a string");
  io::json_ref model;
  io::json_ref weight_drop;  // absent unless dart
  if (gb_name.str() == "gbtree") {
    TESSERA_ASSIGN_OR_RETURN(model, io::require_member(gb, "model", "xgboost.gradient_booster"));
  } else if (gb_name.str() == "dart") {
    TESSERA_ASSIGN_OR_RETURN(const io::json_ref inner, io::require_member(gb, "gbtree", "xgboost.gradient_booster"));
    TESSERA_ASSIGN_OR_RETURN(model, io::require_member(inner, "model", "xgboost.gradient_booster.gbtree"));
    TESSERA_ASSIGN_OR_RETURN(weight_drop, io::require_member(gb, "weight_drop", "xgboost.gradient_booster"));
  } else {
    return make_error(errc::unsupported, "xgboost: booster '" + io::excerpt(gb_name.str()) + "' is not supported");
  }
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref tree_list, io::require_member(model, "trees", "xgboost.model"));
  TESSERA_ASSIGN_OR_RETURN(const io::json_ref tree_info, io::require_member(model, "tree_info", "xgboost.model"));
  TESSERA_ASSIGN_OR_RETURN(const std::size_t nt, io::array_size(tree_list, "xgboost.model.trees"));
  TESSERA_ASSIGN_OR_RETURN(const std::size_t ni, io::array_size(tree_info, "xgboost.model.tree_info"));
  if (ni != nt) return io::schema_error("xgboost.model", "tree_info has " + std::to_string(ni) + " entries for " +
                                                         std::to_string(nt) + " trees");
  if (tree_list.numbers_only() && nt != 0) return io::schema_error("xgboost.model.trees", "expected tree objects");
  if (weight_drop) {
    TESSERA_ASSIGN_OR_RETURN(const std::size_t nw, io::array_size(weight_drop, "xgboost.weight_drop"));
    if (nw != nt) return io::schema_error("xgboost", "weight_drop has " + std::to_string(nw) + " entries for " +
                                                     std::to_string(nt) + " trees");
  }
  if (status s = trees::check_declared_outputs(f.num_outputs, nt); !s.ok())
    return make_error(s.err().code, "xgboost: " + s.err().message);
  f.base_margin.assign(static_cast<std::size_t>(f.num_outputs), base_margin);

  // Category bitsets may need more memory than the file's bytes (one small number can
  // name category 16 million, 2 MiB of bits): cap the total at 2^20 words (room for one
  // such set) plus 4 words per input byte.
  std::size_t category_budget = (std::size_t{1} << 20) + 4 * input_size;
  // The three lists are walked side by side: indexing a list of objects costs O(index).
  auto tree_it = tree_list.elements().begin();
  auto info_it = tree_info.elements().begin();
  auto weight_it = weight_drop.elements().begin();
  for (std::size_t t = 0; t < nt; ++t, ++tree_it, ++info_it) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t group,
                             io::element_integer(*info_it, t, 0, f.num_outputs - 1, "xgboost.model.tree_info"));
    double w = 1.0;
    if (weight_drop) {
      TESSERA_ASSIGN_OR_RETURN(const float wf, io::element_number_f32(*weight_it++, t, "xgboost.weight_drop"));
      w = static_cast<double>(wf);
    }
    TESSERA_TRY(xgboost_add_tree(f, *tree_it, t, static_cast<std::int32_t>(group), w, category_budget));
  }
  if (status s = trees::check_declared_features(f.num_features, f.used_feature_end(), input_size); !s.ok())
    return make_error(s.err().code, "xgboost: " + s.err().message);
  TESSERA_TRY(f.validate());
  return f;
}

// True when the bytes look like UBJSON rather than JSON text (both start with '{').
inline bool looks_like_ubjson(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\n' || bytes[i] == '\r')) ++i;
  if (i + 1 >= bytes.size() || bytes[i] != '{') return false;
  const std::uint8_t c = bytes[i + 1];
  return c == 'i' || c == 'U' || c == 'I' || c == 'l' || c == 'L' || c == '$' || c == '#' || c == 'N';
}

inline expected<trees::forest> load_xgboost_json(std::string_view text) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_document doc, io::parse_json(text));
  return xgboost_from_document(doc.root(), text.size());
}

inline expected<trees::forest> load_xgboost_ubjson(std::span<const std::uint8_t> bytes) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_document doc, io::parse_ubjson(bytes));
  return xgboost_from_document(doc.root(), bytes.size());
}

// JSON or UBJSON, detected by content.
inline expected<trees::forest> load_xgboost(std::span<const std::uint8_t> bytes) {
  if (looks_like_ubjson(bytes)) return load_xgboost_ubjson(bytes);
  return load_xgboost_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace tessera::trees
