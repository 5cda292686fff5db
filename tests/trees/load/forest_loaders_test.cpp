// Model loaders: XGBoost JSON and UBJSON give identical forests, formats are detected by
// content, metadata is carried, and hostile files (corrupt structure, truncation at every
// byte, random mutations, NaN thresholds, huge declared sizes) fail cleanly.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "trees/tree_fixtures.hpp"

using namespace tessera;
using tessera_test::replace_once;
using tessera_test::to_bytes;

namespace {

std::string fixture_text(const std::string& file) {
  std::string s;
  REQUIRE(tessera_test::read_whole_file(tessera_test::tree_fixture(file), s));
  return s;
}

// A minimal XGBoost JSON model with one tree; pieces can be swapped to build broken ones.
std::string tiny_xgb(const std::string& left = "[1,-1,-1]", const std::string& right = "[2,-1,-1]",
                     const std::string& cond = "[0.5,-1.0,1.0]", const std::string& split = "[0,0,0]",
                     const std::string& extra_tree_fields = "", const std::string& base_score = "\"5E-1\"",
                     const std::string& num_feature = "\"2\"") {
  return R"({"learner":{"feature_names":[],"feature_types":[],"gradient_booster":{"model":{"gbtree_model_param":{"num_trees":"1"},"tree_info":[0],"trees":[{"default_left":[1,0,0],"id":0,"left_children":)" +
         left + R"(,"right_children":)" + right + R"(,"split_conditions":)" + cond + R"(,"split_indices":)" + split +
         extra_tree_fields +
         R"(,"tree_param":{"num_nodes":"3","size_leaf_vector":"0"}}]},"name":"gbtree"},"learner_model_param":{"base_score":)" +
         base_score + R"(,"num_class":"0","num_feature":)" + num_feature +
         R"(,"num_target":"1"},"objective":{"name":"reg:squarederror"}},"version":[1,7,4]})";
}

// A minimal LightGBM model with one two-leaf tree.
std::string tiny_lgb(const std::string& tree_body) {
  return "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\n"
         "objective=regression\nfeature_names=a b\n\nTree=0\n" +
         tree_body + "\n\nend of trees\n\npandas_categorical:null\n";
}
const std::string lgb_ok_tree =
    "num_leaves=2\nnum_cat=0\nsplit_feature=1\nthreshold=0.5\ndecision_type=2\nleft_child=-1\nright_child=-2\n"
    "leaf_value=-1 1\nis_linear=0\nshrinkage=1";

expected<trees::forest> load_text(const std::string& s) { return trees::load_forest_from_memory(to_bytes(s)); }

}  // namespace

TEST_SUITE("trees/load") {
  TEST_CASE("JSON and UBJSON give identical forests for every XGBoost fixture") {
    for (const std::string& name : tessera_test::xgboost_fixture_names()) {
      INFO("fixture ", name);
      auto a = trees::load_forest(tessera_test::tree_fixture(name + ".json"));
      auto b = trees::load_forest(tessera_test::tree_fixture(name + ".ubj"));
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      std::string why;
      const bool same = tessera_test::same_forest(*a, *b, why);
      INFO("first difference: ", why);
      CHECK(same);
    }
  }

  TEST_CASE("formats are detected by content") {
    CHECK(trees::detect_forest_format(to_bytes(fixture_text("xgb_binary_logistic.json"))) ==
          trees::forest_file_format::xgboost_json);
    CHECK(trees::detect_forest_format(to_bytes(fixture_text("xgb_binary_logistic.ubj"))) ==
          trees::forest_file_format::xgboost_ubjson);
    CHECK(trees::detect_forest_format(to_bytes(fixture_text("lgb_binary.txt"))) == trees::forest_file_format::lightgbm_text);
    CHECK(trees::detect_forest_format(to_bytes("binf\x01\x02")) == trees::forest_file_format::unknown);
    CHECK(trees::detect_forest_format(to_bytes("")) == trees::forest_file_format::unknown);
    auto f = load_text("binf garbage");
    CHECK(f.err().code == errc::unsupported);
    auto missing = trees::load_forest(tessera_test::tree_fixture("does_not_exist.json"));
    CHECK(missing.err().code == errc::io_error);
    // CRLF line endings and a BOM are accepted for LightGBM text.
    std::string crlf;
    for (char c : fixture_text("lgb_binary.txt")) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    auto a = load_text("\xEF\xBB\xBF" + crlf);
    INFO(a.what());
    CHECK(a.ok());
  }

  TEST_CASE("a BOM before an XGBoost JSON model is skipped") {
    const std::string json = fixture_text("xgb_binary_logistic.json");
    const std::string with_bom = "\xEF\xBB\xBF" + json;
    CHECK(trees::detect_forest_format(to_bytes(with_bom)) == trees::forest_file_format::xgboost_json);
    auto plain = load_text(json);
    auto bom = load_text(with_bom);
    INFO(bom.what());
    REQUIRE(plain.ok());
    REQUIRE(bom.ok());
    std::string why;
    const bool same = tessera_test::same_forest(*plain, *bom, why);
    INFO("first difference: ", why);
    CHECK(same);
  }

  TEST_CASE("loaders carry the model's semantics and metadata") {
    auto x = trees::load_forest(tessera_test::tree_fixture("xgb_categorical_reg.json"));
    REQUIRE(x.ok());
    CHECK(x->compare == trees::compare_op::less);
    CHECK(x->accumulate == trees::accum_type::f32);
    CHECK(x->categories == trees::category_rule::in_set_right);
    CHECK(x->feature_types == std::vector<std::string>{"c", "q", "c", "q", "q"});
    bool any_cat = false;
    for (auto c : x->is_categorical) any_cat = any_cat || c;
    CHECK(any_cat);

    auto d = trees::load_forest(tessera_test::tree_fixture("xgb_dart_binary.json"));
    REQUIRE(d.ok());
    bool weighted = false;
    for (double w : d->tree_weight) weighted = weighted || w != 1.0;
    CHECK(weighted);

    auto b = trees::load_forest(tessera_test::tree_fixture("xgb_base_score_logistic.json"));
    REQUIRE(b.ok());
    CHECK(b->base_margin[0] == static_cast<double>(static_cast<float>(-std::log(1.0 / 0.3 - 1.0))));

    auto l = trees::load_forest(tessera_test::tree_fixture("lgb_regression.txt"));
    REQUIRE(l.ok());
    CHECK(l->compare == trees::compare_op::less_equal);
    CHECK(l->accumulate == trees::accum_type::f64);
    CHECK(l->categories == trees::category_rule::in_set_left);
    CHECK(l->feature_names.size() == 5);
    REQUIRE(l->categorical_values.size() == 2);
    CHECK(l->categorical_values[0][2] == "c");
    CHECK(l->categorical_values[1][7] == "80");

    auto s = trees::load_forest(tessera_test::tree_fixture("lgb_binary_sigmoid07.txt"));
    REQUIRE(s.ok());
    CHECK(s->objective.sigmoid_scale == 0.7);
    auto rf = trees::load_forest(tessera_test::tree_fixture("lgb_poisson_rf.txt"));
    REQUIRE(rf.ok());
    CHECK(rf->average_output);
    CHECK(rf->objective.transform == trees::output_transform::exp);
  }

  TEST_CASE("base margins equal XGBoost's ProbToMargin bit for bit") {
    using kind = trees::detail::xgb_objective::margin_of;
    for (auto [name, k] : {std::pair{"xgb_base_margin_logistic", kind::logit}, std::pair{"xgb_base_margin_poisson", kind::log}}) {
      tessera_test::expected_cases c;
      REQUIRE(tessera_test::load_cases(name, c));
      REQUIRE(c.rows == 400);
      std::size_t equal = 0;
      for (std::size_t r = 0; r < c.rows; ++r) {
        const float bs = static_cast<float>(c.x[r]);
        const float got = trees::detail::xgboost_base_margin(bs, k);
        equal += got == c.margin_f32[r] ? 1 : 0;
        CHECK(tessera_test::close_rel(got, c.margin_f32[r], 1e-6, 1e-7));
      }
      MESSAGE(std::string(name), ": ", equal, "/", c.rows, " bit-equal");
      CHECK(equal == c.rows);
    }
  }

  TEST_CASE("schema 2.x spellings load to the same forest") {
    // XGBoost 2.x/3.x write base_score as "[5E-1]", default_left as booleans, and add
    // fields such as iteration_indptr; none of that changes the model.
    const std::string v1 = fixture_text("xgb_tiny.json");
    std::string v2 = replace_once(v1, "\"version\":[1,7,4]", "\"version\":[2,1,0]");
    v2 = replace_once(v2, "\"base_score\":\"5E-1\"", "\"base_score\":\"[5E-1]\"");
    v2 = replace_once(v2, "\"tree_info\":", "\"iteration_indptr\":[0,1,2],\"tree_info\":");
    std::size_t pos = 0, converted = 0;
    while ((pos = v2.find("\"default_left\":[", pos)) != std::string::npos) {
      pos += 16;
      const std::size_t end = v2.find(']', pos);
      REQUIRE(end != std::string::npos);
      std::string list;
      for (std::size_t i = pos; i < end; ++i) {
        if (v2[i] == '1') list += "true";
        else if (v2[i] == '0') list += "false";
        else list += v2[i];
      }
      v2.replace(pos, end - pos, list);
      ++converted;
    }
    REQUIRE(converted == 2);
    auto a = load_text(v1);
    auto b = load_text(v2);
    INFO(b.what());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    std::string why;
    CHECK(tessera_test::same_forest(*a, *b, why));
    // Version 4 is unknown: refuse rather than guess.
    CHECK(!load_text(replace_once(v1, "\"version\":[1,7,4]", "\"version\":[4,0,0]")).ok());
  }

  TEST_CASE("the tiny hand-written models load") {
    auto x = load_text(tiny_xgb());
    INFO(x.what());
    REQUIRE(x.ok());
    CHECK(x->num_nodes() == 3);
    // XGBoost keeps pruned ("deleted") nodes in its arrays; unreachable nodes are dropped.
    auto pruned = load_text(replace_once(tiny_xgb("[1,-1,-1,-1]", "[2,-1,-1,-1]", "[0.5,-1.0,1.0,9.0]", "[0,0,0,0]"),
                                         "\"default_left\":[1,0,0]", "\"default_left\":[1,0,0,0]"));
    INFO(pruned.what());
    REQUIRE(pruned.ok());
    CHECK(pruned->num_nodes() == 3);
    CHECK(pruned->leaf_value[1] == -1.0);
    CHECK(pruned->leaf_value[2] == 1.0);
    auto l = load_text(tiny_lgb(lgb_ok_tree));
    INFO(l.what());
    REQUIRE(l.ok());
    CHECK(l->num_nodes() == 3);
    CHECK(l->default_left[0] == 1);
  }

  TEST_CASE("structurally broken XGBoost models are refused") {
    struct bad_case {
      const char* what;
      std::string text;
    };
    const std::vector<bad_case> cases = {
        {"child out of range", tiny_xgb("[1,-1,-1]", "[9,-1,-1]")},
        {"negative child", tiny_xgb("[-7,-1,-1]", "[2,-1,-1]")},
        {"cycle to root", tiny_xgb("[1,0,-1]", "[2,2,-1]")},
        {"self loop", tiny_xgb("[0,-1,-1]", "[2,-1,-1]")},
        {"shared child", tiny_xgb("[1,-1,-1]", "[1,-1,-1]")},
        {"one child", tiny_xgb("[1,-1,-1]", "[-1,-1,-1]")},
        {"fractional child", tiny_xgb("[1.5,-1,-1]", "[2,-1,-1]")},
        {"feature out of range", tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]", "[2,0,0]")},
        {"NaN threshold", tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[NaN,-1.0,1.0]")},
        {"NaN leaf", tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,NaN,1.0]")},
        {"short array", tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0]")},
        {"strings for numbers", tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[\"a\",-1.0,1.0]")},
        {"categorical without set",
         tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]", "[0,0,0]", R"(,"split_type":[1,0,0])")},
        {"category segment past end",
         tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]", "[0,0,0]",
                  R"(,"split_type":[1,0,0],"categories":[1],"categories_nodes":[0],"categories_segments":[0],"categories_sizes":[5])")},
        {"huge category value",
         tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]", "[0,0,0]",
                  R"(,"split_type":[1,0,0],"categories":[4000000000],"categories_nodes":[0],"categories_segments":[0],"categories_sizes":[1])")},
        {"base_score outside (0,1) for logistic", replace_once(tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]",
                                                                        "[0,0,0]", "", "\"1.5\""),
                                                               "reg:squarederror", "binary:logistic")},
        {"NaN base_score", tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]", "[0,0,0]", "", "\"nan\"")},
        {"negative num_feature", tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]", "[0,0,0]", "", "\"5E-1\"", "\"-3\"")},
        {"unknown objective", replace_once(tiny_xgb(), "reg:squarederror", "reg:mystery")},
        {"gblinear", replace_once(tiny_xgb(), "\"name\":\"gbtree\"", "\"name\":\"gblinear\"")},
        {"tree_info out of range", replace_once(tiny_xgb(), "\"tree_info\":[0]", "\"tree_info\":[3]")},
        {"tree_info length", replace_once(tiny_xgb(), "\"tree_info\":[0]", "\"tree_info\":[0,0]")},
        {"no learner", "{\"version\":[1,7,4]}"},
        {"not an object", "{\"learner\":[1,2,3]}"},
    };
    for (const auto& c : cases) {
      INFO(c.what);
      auto f = load_text(c.text);
      CHECK(!f.ok());
    }
    // Categories at the size budget's edge: a single value near 2^24 is allowed (it fits
    // the budget once), but a file of many such sets is refused.
    auto big = load_text(tiny_xgb("[1,-1,-1]", "[2,-1,-1]", "[0.5,-1.0,1.0]", "[0,0,0]",
                                  R"(,"split_type":[1,0,0],"categories":[16777215],"categories_nodes":[0],"categories_segments":[0],"categories_sizes":[1])"));
    INFO(big.what());
    CHECK(big.ok());
  }

  TEST_CASE("structurally broken LightGBM models are refused") {
    const std::vector<std::pair<const char*, std::string>> cases = {
        {"child out of range", replace_once(lgb_ok_tree, "right_child=-2", "right_child=-3")},
        {"child is root", replace_once(lgb_ok_tree, "right_child=-2", "right_child=0")},
        {"same leaf twice", replace_once(lgb_ok_tree, "right_child=-2", "right_child=-1")},
        {"feature out of range", replace_once(lgb_ok_tree, "split_feature=1", "split_feature=2")},
        {"NaN threshold", replace_once(lgb_ok_tree, "threshold=0.5", "threshold=nan")},
        {"NaN leaf", replace_once(lgb_ok_tree, "leaf_value=-1 1", "leaf_value=-1 nan")},
        {"missing type 3", replace_once(lgb_ok_tree, "decision_type=2", "decision_type=12")},
        {"leaf count mismatch", replace_once(lgb_ok_tree, "leaf_value=-1 1", "leaf_value=-1 1 2")},
        {"huge num_leaves", replace_once(lgb_ok_tree, "num_leaves=2", "num_leaves=2000000000")},
        {"bad number", replace_once(lgb_ok_tree, "threshold=0.5", "threshold=0.5abc")},
        {"missing field", replace_once(lgb_ok_tree, "left_child=-1\n", "")},
        {"linear tree", replace_once(lgb_ok_tree, "is_linear=0", "is_linear=1")},
        {"categorical index out of range",
         replace_once(replace_once(lgb_ok_tree, "decision_type=2", "decision_type=1"), "threshold=0.5", "threshold=0")},
        {"fractional categorical index",
         replace_once(replace_once(lgb_ok_tree, "decision_type=2", "decision_type=1"), "num_cat=0",
                      "num_cat=1\ncat_boundaries=0 1\ncat_threshold=6")},
        {"categorical bounds past bitset",
         replace_once(replace_once(replace_once(lgb_ok_tree, "decision_type=2", "decision_type=1"), "threshold=0.5",
                                   "threshold=0"),
                      "num_cat=0", "num_cat=1\ncat_boundaries=0 5\ncat_threshold=1")},
    };
    for (const auto& c : cases) {
      INFO(c.first);
      CHECK(!load_text(tiny_lgb(c.second)).ok());
    }
    CHECK(!load_text("tree\nnum_class=1\nmax_feature_idx=1\n\nTree=0\n" + lgb_ok_tree + "\n").ok());  // no end
    CHECK(!load_text(replace_once(tiny_lgb(lgb_ok_tree), "objective=regression", "objective=xentlambda")).ok());
    CHECK(!load_text(replace_once(tiny_lgb(lgb_ok_tree), "pandas_categorical:null", "pandas_categorical:[1,")).ok());
    // A valid categorical split in the same tiny model loads.
    auto cat = load_text(tiny_lgb(replace_once(
        replace_once(replace_once(lgb_ok_tree, "decision_type=2", "decision_type=1"), "threshold=0.5", "threshold=0"),
        "num_cat=0", "num_cat=1\ncat_boundaries=0 1\ncat_threshold=6")));
    INFO(cat.what());
    CHECK(cat.ok());
  }

  TEST_CASE("every prefix of a model fails cleanly or loads") {
    // Small fixtures of each format; a prefix may only succeed if it is the whole model
    // (or, for text formats, the model minus trailing bytes that do not matter).
    for (const char* file : {"xgb_tiny.json", "xgb_tiny.ubj", "lgb_regression_sqrt.txt"}) {
      const std::string text = fixture_text(file);
      const auto bytes = to_bytes(text);
      std::size_t loaded = 0;
      for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto f = trees::load_forest_from_memory(std::span<const std::uint8_t>(bytes.data(), n));
        if (f.ok()) {
          ++loaded;
          CHECK(f->validate().ok());
        }
      }
      INFO(std::string(file), ": ", loaded, " prefixes loaded");
      CHECK(loaded < 200);  // only prefixes past the last tree can be complete models
      CHECK(trees::load_forest_from_memory(bytes).ok());
    }
  }

  TEST_CASE("random byte mutations never crash and loaded forests validate") {
    tessera_test::test_rng rng(12345);
    for (const char* file : {"xgb_categorical_onehot_binary.json", "xgb_categorical_onehot_binary.ubj",
                             "lgb_multiclass.txt", "xgb_dart_multi.ubj"}) {
      const auto original = to_bytes(fixture_text(file));
      std::size_t loaded = 0;
      const int iterations = 300;
      for (int it = 0; it < iterations; ++it) {
        auto bytes = original;
        const std::size_t edits = 1 + rng.below(4);
        for (std::size_t e = 0; e < edits; ++e) {
          const std::size_t pos = rng.below(bytes.size());
          switch (rng.below(4)) {
            case 0: bytes[pos] = static_cast<std::uint8_t>(rng.next()); break;           // random byte
            case 1: bytes[pos] = static_cast<std::uint8_t>("0123456789-.,[]{}\"eE\n "[rng.below(23)]); break;
            case 2: bytes[pos] ^= static_cast<std::uint8_t>(1u << rng.below(8)); break;  // bit flip
            default: bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pos)); break;
          }
          if (bytes.empty()) bytes.push_back('{');
        }
        auto f = trees::load_forest_from_memory(bytes);
        if (!f.ok()) continue;
        ++loaded;
        REQUIRE(f->validate().ok());
        // A forest that loads must also predict without trouble.
        std::vector<double> row(static_cast<std::size_t>(f->num_features), 0.25);
        std::vector<double> out(static_cast<std::size_t>(f->num_transformed_outputs()));
        CHECK(trees::ref::predict(std::span<double>(out), *f, std::span<const double>(row)).ok());
      }
      MESSAGE(std::string(file), ": ", loaded, "/", iterations, " mutants still loaded");
    }
  }
}
