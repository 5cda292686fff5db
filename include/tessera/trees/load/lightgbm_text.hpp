// LightGBM text model loader (the format of Booster.save_model / model_to_string, versions
// v2 to v4). Produces a validated trees::forest with LightGBM's semantics: `x <= threshold`
// goes left, double accumulation, category in set goes left, per-node missing types.
//
// Format: a header of key=value lines (version, num_class, num_tree_per_iteration,
// max_feature_idx, objective, feature_names, ...; a bare "average_output" line marks
// random-forest mode), then one block per tree starting with "Tree=<i>", then
// "end of trees", feature importances, parameters and a final "pandas_categorical:<json>".
// In a tree with L leaves, internal nodes are 0..L-2 and a child c < 0 is leaf ~c.
// decision_type bits: 1 categorical, 2 default left, (d >> 2) & 3 missing type
// (0 None, 1 Zero, 2 NaN). A categorical node's threshold is an index i into
// cat_boundaries; its bitset is cat_threshold[cat_boundaries[i] .. cat_boundaries[i+1]).
// Linear trees (is_linear=1) are not supported yet and are refused. max_feature_idx and
// num_tree_per_iteration are bounded as for XGBoost (trees::check_declared_*, forest.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/io/json.hpp"
#include "tessera/trees/forest.hpp"

namespace tessera::trees {

namespace detail {

inline error lgb_error(const std::string& what) { return make_error(errc::parse_error, "lightgbm: " + what); }

// Splits on spaces (LightGBM separates array items by one space).
inline std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

inline bool parse_double_token(std::string_view tok, double& d) {
  char buf[128];
  if (tok.empty() || tok.size() >= sizeof buf) return false;
  std::memcpy(buf, tok.data(), tok.size());
  buf[tok.size()] = '\0';
  char* end = nullptr;
  d = std::strtod(buf, &end);
  return end == buf + tok.size();
}

inline expected<std::vector<double>> parse_doubles(std::string_view s, std::string_view where) {
  std::vector<double> out;
  for (std::string_view tok : split_spaces(s)) {
    double d = 0;
    if (!parse_double_token(tok, d))
      return lgb_error(std::string(where) + ": bad number '" + std::string(tok.substr(0, 40)) + "'");
    out.push_back(d);
  }
  return out;
}

inline expected<std::vector<std::int64_t>> parse_integers(std::string_view s, std::string_view where,
                                                          std::int64_t lo, std::int64_t hi) {
  std::vector<std::int64_t> out;
  for (std::string_view tok : split_spaces(s)) {
    double d = 0;
    if (!parse_double_token(tok, d) || d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi))
      return lgb_error(std::string(where) + ": bad integer '" + std::string(tok.substr(0, 40)) + "'");
    out.push_back(static_cast<std::int64_t>(d));
  }
  return out;
}

inline expected<std::int64_t> parse_one_integer(std::string_view s, std::string_view where, std::int64_t lo,
                                                std::int64_t hi) {
  TESSERA_ASSIGN_OR_RETURN(const auto v, parse_integers(s, where, lo, hi));
  if (v.size() != 1) return lgb_error(std::string(where) + ": expected one integer");
  return v[0];
}

// key=value lines of one section.
struct kv_section {
  std::vector<std::pair<std::string_view, std::string_view>> items;
  const std::string_view* find(std::string_view key) const {
    for (const auto& kv : items)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
};

// Reads lines (LF or CRLF) from the text.
class line_reader {
 public:
  explicit line_reader(std::string_view s) : s_(s) {}
  bool next(std::string_view& line) {
    if (pos_ >= s_.size()) return false;
    std::size_t e = s_.find('\n', pos_);
    if (e == std::string_view::npos) e = s_.size();
    line = s_.substr(pos_, e - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = e + 1;
    ++line_no_;
    return true;
  }
  std::size_t line_no() const { return line_no_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t line_no_ = 0;
};

struct lgb_objective_spec {
  trees::output_transform transform = trees::output_transform::identity;
  double sigmoid = 1.0;
};

inline expected<lgb_objective_spec> lightgbm_objective(std::string_view text) {
  lgb_objective_spec o;
  const auto toks = split_spaces(text);
  if (toks.empty()) return o;  // no objective (custom): raw scores
  const std::string_view name = toks[0];
  bool sqrt_flag = false;
  for (std::size_t i = 1; i < toks.size(); ++i) {
    if (toks[i] == "sqrt") sqrt_flag = true;
    if (toks[i].substr(0, 8) == "sigmoid:") {
      double s = 0;
      if (!parse_double_token(toks[i].substr(8), s) || !(s > 0) || !std::isfinite(s))
        return lgb_error("bad sigmoid parameter in objective '" + io::excerpt(text) + "'");
      o.sigmoid = s;
    }
  }
  using T = trees::output_transform;
  if (name == "binary" || name == "multiclassova" || name == "multiclass_ova" || name == "ova" || name == "ovr") {
    o.transform = T::sigmoid;
  } else if (name == "cross_entropy" || name == "xentropy") {
    o.transform = T::sigmoid;
    o.sigmoid = 1.0;
  } else if (name == "multiclass" || name == "softmax") {
    o.transform = T::softmax;
  } else if (name == "poisson" || name == "gamma" || name == "tweedie") {
    o.transform = T::exp;
  } else if (name == "regression" || name == "regression_l2" || name == "regression_l1" || name == "huber" ||
             name == "fair" || name == "quantile" || name == "mape" || name == "lambdarank" ||
             name == "rank_xendcg" || name == "custom" || name == "none" || name == "null") {
    o.transform = sqrt_flag ? T::signed_square : T::identity;
  } else {
    return make_error(errc::unsupported, "lightgbm: objective '" + io::excerpt(name) + "' is not supported");
  }
  return o;
}

// Builds one tree from its key=value section and appends it to f.
inline status lightgbm_add_tree(trees::forest& f, const kv_section& sec, std::size_t index, std::int32_t group) {
  const std::string where = "tree " + std::to_string(index);
  auto get = [&](std::string_view key) -> expected<std::string_view> {
    const std::string_view* v = sec.find(key);
    if (!v) return lgb_error(where + ": missing '" + std::string(key) + "'");
    return *v;
  };
  if (const std::string_view* lin = sec.find("is_linear")) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t is_linear, parse_one_integer(*lin, where + ".is_linear", 0, 1));
    if (is_linear) return make_error(errc::unsupported, "lightgbm: " + where + ": linear trees are not supported");
  }
  TESSERA_ASSIGN_OR_RETURN(const std::string_view nl_text, get("num_leaves"));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t num_leaves, parse_one_integer(nl_text, where + ".num_leaves", 1, INT32_MAX / 4));
  TESSERA_ASSIGN_OR_RETURN(const std::string_view lv_text, get("leaf_value"));
  TESSERA_ASSIGN_OR_RETURN(const std::vector<double> leaf_value, parse_doubles(lv_text, where + ".leaf_value"));
  if (leaf_value.size() != static_cast<std::size_t>(num_leaves))
    return lgb_error(where + ": leaf_value has " + std::to_string(leaf_value.size()) + " entries for " +
                     std::to_string(num_leaves) + " leaves");
  for (double v : leaf_value)
    if (std::isnan(v)) return lgb_error(where + ": leaf value is NaN");

  f.begin_tree(group, 1.0);
  if (num_leaves == 1) {
    f.add_leaf(leaf_value[0]);
    f.end_tree();
    return {};
  }
  const std::size_t ni = static_cast<std::size_t>(num_leaves - 1);
  TESSERA_ASSIGN_OR_RETURN(const std::string_view sf_t, get("split_feature"));
  TESSERA_ASSIGN_OR_RETURN(const std::string_view th_t, get("threshold"));
  TESSERA_ASSIGN_OR_RETURN(const std::string_view dt_t, get("decision_type"));
  TESSERA_ASSIGN_OR_RETURN(const std::string_view lc_t, get("left_child"));
  TESSERA_ASSIGN_OR_RETURN(const std::string_view rc_t, get("right_child"));
  TESSERA_ASSIGN_OR_RETURN(const auto split_feature, parse_integers(sf_t, where + ".split_feature", 0, f.num_features - 1));
  TESSERA_ASSIGN_OR_RETURN(const auto threshold, parse_doubles(th_t, where + ".threshold"));
  TESSERA_ASSIGN_OR_RETURN(const auto decision_type, parse_integers(dt_t, where + ".decision_type", 0, 255));
  TESSERA_ASSIGN_OR_RETURN(const auto left_child, parse_integers(lc_t, where + ".left_child", -num_leaves, num_leaves - 2));
  TESSERA_ASSIGN_OR_RETURN(const auto right_child, parse_integers(rc_t, where + ".right_child", -num_leaves, num_leaves - 2));
  for (auto [n, name] : {std::pair{split_feature.size(), "split_feature"}, std::pair{threshold.size(), "threshold"},
                         std::pair{decision_type.size(), "decision_type"}, std::pair{left_child.size(), "left_child"},
                         std::pair{right_child.size(), "right_child"}})
    if (n != ni)
      return lgb_error(where + ": " + name + " has " + std::to_string(n) + " entries, expected " + std::to_string(ni));

  std::vector<std::int64_t> cat_boundaries, cat_threshold;
  std::int64_t num_cat = 0;
  if (const std::string_view* nc = sec.find("num_cat")) {
    TESSERA_ASSIGN_OR_RETURN(num_cat, parse_one_integer(*nc, where + ".num_cat", 0, INT32_MAX));
  }
  if (num_cat > 0) {
    TESSERA_ASSIGN_OR_RETURN(const std::string_view cb_t, get("cat_boundaries"));
    TESSERA_ASSIGN_OR_RETURN(const std::string_view ct_t, get("cat_threshold"));
    TESSERA_ASSIGN_OR_RETURN(cat_boundaries, parse_integers(cb_t, where + ".cat_boundaries", 0, INT32_MAX));
    TESSERA_ASSIGN_OR_RETURN(cat_threshold, parse_integers(ct_t, where + ".cat_threshold", 0, UINT32_MAX));
    if (cat_boundaries.size() != static_cast<std::size_t>(num_cat) + 1 || cat_boundaries[0] != 0)
      return lgb_error(where + ": cat_boundaries must have num_cat + 1 entries starting at 0");
    for (std::size_t i = 1; i < cat_boundaries.size(); ++i)
      if (cat_boundaries[i] < cat_boundaries[i - 1] ||
          static_cast<std::size_t>(cat_boundaries[i]) > cat_threshold.size())
        return lgb_error(where + ": cat_boundaries out of order or past cat_threshold");
  }
  // Copy the tree's bitsets once; nodes point into them.
  const std::size_t cat_base = f.category_bits.size();
  for (std::int64_t w : cat_threshold) f.category_bits.push_back(static_cast<std::uint32_t>(w));

  // Depth-first renumbering. Internal node i is key i, leaf j is key ni + j.
  const std::size_t nkeys = ni + static_cast<std::size_t>(num_leaves);
  auto key_of = [&](std::int64_t child) { return child >= 0 ? static_cast<std::size_t>(child) : ni + static_cast<std::size_t>(~child); };
  std::vector<std::int32_t> new_id(nkeys, -1);
  std::vector<std::size_t> order, stack{0};
  new_id[0] = 0;
  while (!stack.empty()) {
    const std::size_t u = stack.back();
    stack.pop_back();
    order.push_back(u);
    if (u >= ni) continue;
    for (std::int64_t c : {right_child[u], left_child[u]}) {
      const std::size_t k = key_of(c);
      if (new_id[k] != -1)
        return lgb_error(where + ": node reached twice (cycle or shared child)");
      new_id[k] = 0;
      stack.push_back(k);
    }
  }
  for (std::size_t i = 0; i < order.size(); ++i) new_id[order[i]] = static_cast<std::int32_t>(i);
  if (order.size() != nkeys)
    return lgb_error(where + ": " + std::to_string(nkeys - order.size()) + " node(s) unreachable from the root");

  const std::int32_t base = f.num_nodes();
  for (std::size_t u : order) {
    if (u >= ni) {
      f.add_leaf(leaf_value[u - ni]);
      continue;
    }
    auto at = [&where, u] { return where + " node " + std::to_string(u); };  // formatted on failure only
    const auto dt = static_cast<unsigned>(decision_type[u]);
    const bool categorical = (dt & 1u) != 0;
    const bool dleft = (dt & 2u) != 0;
    const unsigned mt = (dt >> 2) & 3u;
    if (mt == 3) return lgb_error(at() + ": unknown missing type 3");
    const trees::missing_rule miss =
        mt == 0 ? trees::missing_rule::none : (mt == 1 ? trees::missing_rule::zero : trees::missing_rule::nan);
    const std::int32_t left = base + new_id[key_of(left_child[u])];
    const std::int32_t right = base + new_id[key_of(right_child[u])];
    if (!categorical) {
      if (std::isnan(threshold[u])) return lgb_error(at() + ": threshold is NaN");
      f.add_numerical_split({.feature = static_cast<std::int32_t>(split_feature[u]), .threshold = threshold[u],
                             .default_left = dleft, .missing = miss, .left = left, .right = right});
      continue;
    }
    const double ci = threshold[u];
    if (!(ci >= 0 && ci < static_cast<double>(num_cat)) || ci != std::floor(ci))
      return lgb_error(at() + ": categorical threshold is not a valid cat_boundaries index");
    const auto idx = static_cast<std::size_t>(ci);
    const auto b = static_cast<std::size_t>(cat_boundaries[idx]);
    const auto e = static_cast<std::size_t>(cat_boundaries[idx + 1]);
    f.add_categorical_split({.feature = static_cast<std::int32_t>(split_feature[u]),
                             .cat_begin = static_cast<std::uint32_t>(cat_base + b),
                             .cat_words = static_cast<std::uint32_t>(e - b), .default_left = dleft, .missing = miss,
                             .left = left, .right = right});
  }
  f.end_tree();
  return {};
}

// pandas_categorical: null, or a list (one per categorical column) of value lists.
inline status parse_pandas_categorical(std::string_view json_text, std::vector<std::vector<std::string>>& out) {
  TESSERA_ASSIGN_OR_RETURN(const io::json_document doc, io::parse_json(json_text));
  const io::json_ref v = doc.root();
  out.clear();
  if (v.is_null()) return {};
  if (!v.is_array()) return lgb_error("pandas_categorical: expected a list");
  for (const io::json_ref col : v.elements()) {
    if (!col.is_array()) return lgb_error("pandas_categorical: expected a list of lists");
    std::vector<std::string> values;
    for (const io::json_ref e : col.elements()) {
      if (e.is_string()) {
        values.emplace_back(e.str());
      } else if (e.is_number()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", e.number());
        values.emplace_back(buf);
      } else if (e.is_boolean()) {
        values.emplace_back(e.boolean() ? "True" : "False");
      } else {
        return lgb_error("pandas_categorical: unsupported category value");
      }
    }
    out.push_back(std::move(values));
  }
  return {};
}

}  // namespace detail

inline expected<trees::forest> load_lightgbm_text(std::string_view text) {
  using namespace detail;
  trees::forest f;
  f.format = trees::source_format::lightgbm;
  f.compare = trees::compare_op::less_equal;
  f.accumulate = trees::accum_type::f64;
  f.features = trees::feature_precision::f64;
  f.categories = trees::category_rule::in_set_left;

  line_reader lines(text);
  std::string_view line;
  // Header: starts with "tree", key=value lines until the first "Tree=".
  bool first = true;
  kv_section header;
  std::vector<kv_section> tree_secs;
  kv_section* cur = &header;
  bool in_trees = false, ended = false;
  std::string_view pandas_json;
  while (lines.next(line)) {
    if (first) {
      first = false;
      if (line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF && static_cast<unsigned char>(line[1]) == 0xBB &&
          static_cast<unsigned char>(line[2]) == 0xBF)
        line.remove_prefix(3);
      if (line != "tree") return lgb_error("not a LightGBM text model (first line must be 'tree')");
      continue;
    }
    if (ended) {
      if (line.substr(0, 19) == "pandas_categorical:") pandas_json = line.substr(19);
      continue;
    }
    if (line == "end of trees") {
      ended = true;
      continue;
    }
    if (line.empty()) continue;
    if (line.substr(0, 5) == "Tree=") {
      in_trees = true;
      tree_secs.emplace_back();
      cur = &tree_secs.back();
      continue;
    }
    if (line == "average_output") {
      f.average_output = true;
      continue;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      if (in_trees) return lgb_error("line " + std::to_string(lines.line_no()) + ": expected key=value");
      continue;  // unknown header flag
    }
    cur->items.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  if (!ended) return lgb_error("missing 'end of trees' (truncated file?)");

  auto header_int = [&](std::string_view key, std::int64_t lo, std::int64_t hi, bool required,
                        std::int64_t dflt) -> expected<std::int64_t> {
    const std::string_view* v = header.find(key);
    if (!v) {
      if (required) return lgb_error("header: missing '" + std::string(key) + "'");
      return dflt;
    }
    return parse_one_integer(*v, "header." + std::string(key), lo, hi);
  };
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t num_class, header_int("num_class", 1, 1 << 20, true, 1));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t per_iter, header_int("num_tree_per_iteration", 1, 1 << 20, false, num_class));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t max_feature_idx, header_int("max_feature_idx", -1, INT32_MAX - 1, true, 0));
  f.num_features = static_cast<std::int32_t>(max_feature_idx + 1);
  f.num_outputs = static_cast<std::int32_t>(per_iter);
  if (status s = trees::check_declared_outputs(per_iter, tree_secs.size()); !s.ok())
    return make_error(s.err().code, "lightgbm: " + s.err().message);
  f.base_margin.assign(static_cast<std::size_t>(per_iter), 0.0);

  const std::string_view* obj = header.find("objective");
  f.objective.name = obj ? std::string(*obj) : std::string();
  TESSERA_ASSIGN_OR_RETURN(const lgb_objective_spec os, lightgbm_objective(obj ? *obj : std::string_view()));
  f.objective.transform = os.transform;
  f.objective.sigmoid_scale = os.sigmoid;
  if (os.transform == trees::output_transform::softmax && per_iter < 2)
    return lgb_error("multiclass objective with fewer than 2 classes");

  if (const std::string_view* names = header.find("feature_names")) {
    for (std::string_view n : split_spaces(*names)) f.feature_names.emplace_back(n);
    if (f.feature_names.size() != static_cast<std::size_t>(f.num_features))
      return lgb_error("feature_names does not have max_feature_idx + 1 entries");
  }

  for (std::size_t t = 0; t < tree_secs.size(); ++t)
    TESSERA_TRY(lightgbm_add_tree(f, tree_secs[t], t, static_cast<std::int32_t>(t % static_cast<std::size_t>(per_iter))));
  if (f.average_output && (tree_secs.empty() || tree_secs.size() % static_cast<std::size_t>(per_iter) != 0))
    return lgb_error("average_output with an incomplete last iteration");
  if (!pandas_json.empty()) TESSERA_TRY(parse_pandas_categorical(pandas_json, f.categorical_values));
  if (status s = trees::check_declared_features(f.num_features, f.used_feature_end(), text.size()); !s.ok())
    return make_error(s.err().code, "lightgbm: " + s.err().message);
  TESSERA_TRY(f.validate());
  return f;
}

}  // namespace tessera::trees
