// Hostile model files (issue 13): sizes a small file declares must not drive allocations or
// quadratic work, and error messages must not echo huge strings. Each case is a few hundred
// bytes built here; valid variants of the same files must still load and predict.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <tessera/trees/predict.hpp>
#include <tessera/trees/predict_ref.hpp>

#include "trees/tree_fixtures.hpp"

using namespace tessera;
using tessera_test::replace_once;
using tessera_test::to_bytes;

namespace {

// Appends `item` to a comma-separated list (piecewise: GCC 12 warns, -Wrestrict, on
// `"" + string` in these loops).
void add(std::string& list, const std::string& item) {
  if (!list.empty()) list += ',';
  list += item;
}

// One XGBoost tree: split on `feature` at 0.5, leaves -1 / +1.
std::string xgb_stump(int feature) {
  const std::string f = std::to_string(feature);
  return R"({"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[)" + f + "," + f + "," + f +
         R"(],"split_conditions":[0.5,-1.0,1.0],"default_left":[1,0,0],"split_type":[0,0,0],)"
         R"("tree_param":{"num_nodes":"3","size_leaf_vector":"0"}})";
}

std::string xgb_model(const std::string& num_feature, const std::string& num_class, const std::string& objective,
                      const std::vector<std::string>& trees, const std::vector<int>& groups) {
  std::string t, g;
  for (std::size_t i = 0; i < trees.size(); ++i) {
    add(t, trees[i]);
    add(g, std::to_string(groups[i]));
  }
  return R"({"learner":{"feature_names":[],"feature_types":[],"gradient_booster":{"model":{"tree_info":[)" + g +
         R"(],"trees":[)" + t + R"(]},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1","num_class":")" +
         num_class + R"(","num_feature":")" + num_feature + R"(","num_target":"1"},"objective":{"name":")" + objective +
         R"("}},"version":[1,7,4]})";
}

std::string xgb_binary(const std::string& num_feature) {
  return xgb_model(num_feature, "0", "binary:logistic", {xgb_stump(1)}, {0});
}

std::string lgb_model(const std::string& max_feature_idx, int per_iteration, int n_trees, const std::string& objective,
                      const std::string& extra_header = "") {
  std::string s = "tree\nversion=v4\nnum_class=" + std::to_string(per_iteration) +
                  "\nnum_tree_per_iteration=" + std::to_string(per_iteration) + "\nmax_feature_idx=" + max_feature_idx +
                  "\nobjective=" + objective + "\n" + extra_header + "\n";
  for (int t = 0; t < n_trees; ++t)
    s += "Tree=" + std::to_string(t) +
         "\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nthreshold=0.5\ndecision_type=2\nleft_child=-1\n"
         "right_child=-2\nleaf_value=-1 1\nshrinkage=1\n\n";
  return s + "end of trees\n";
}

expected<trees::forest> load(const std::string& s) { return trees::load_forest_from_memory(to_bytes(s)); }

void check_refused(const std::string& model, errc code, const std::string& needle) {
  const auto f = load(model);
  INFO("expected an error mentioning '", needle, "'");
  REQUIRE_FALSE(f.ok());
  if (f.ok()) return;  // REQUIRE does not stop a test built without exceptions
  CHECK(f.err().code == code);
  INFO("message: ", f.err().message);
  CHECK(f.err().message.find(needle) != std::string::npos);
  CHECK(f.err().message.size() < 300);
}

std::vector<double> predict_all(const trees::forest& f, const std::vector<double>& rows) {
  auto p = trees::compile(f);
  REQUIRE(p.ok());
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  std::vector<double> out(rows.size() / nf * static_cast<std::size_t>(p->num_transformed_outputs()));
  REQUIRE(p->predict(std::span<double>(out), std::span<const double>(rows), nf).ok());
  return out;
}

}  // namespace

TEST_SUITE("trees/load/hostile") {
  TEST_CASE("num_feature far beyond the used features and the file size is refused") {
    // 2^31 - 1 made tessera-gbt abort with bad_alloc; 1e8 cost 784 MB before reading input.
    for (const char* nf : {"2147483647", "100000000"}) {
      INFO("num_feature ", nf);
      check_refused(xgb_binary(nf), errc::out_of_memory, "features");
    }
    check_refused(lgb_model("2147483646", 1, 1, "regression"), errc::out_of_memory, "features");
    check_refused(lgb_model("100000000", 1, 1, "regression"), errc::out_of_memory, "features");
  }

  TEST_CASE("UBJSON models get the same limits") {
    std::string ubj;
    REQUIRE(tessera_test::read_whole_file(tessera_test::tree_fixture("xgb_tiny.ubj"), ubj));
    REQUIRE(load(ubj).ok());
    // Strings are 'S', an int64 length ('L', 8 bytes big-endian), then the bytes.
    auto ubj_string = [](const std::string& v) {
      std::string s = "SL";
      for (int i = 7; i >= 0; --i) s += static_cast<char>((v.size() >> (8 * i)) & 0xFF);
      return s + v;
    };
    // The learner's num_feature, not the copies in each tree's tree_param.
    const std::size_t params = ubj.find("learner_model_param");
    REQUIRE(params != std::string::npos);
    check_refused(replace_once(ubj, "num_feature" + ubj_string("3"), "num_feature" + ubj_string("2147483647"), params),
                  errc::out_of_memory, "features");
    check_refused(replace_once(ubj, "num_class" + ubj_string("0"), "num_class" + ubj_string("1048576")),
                  errc::out_of_memory, "output groups");
  }

  TEST_CASE("unused trailing features within the limit load and predict like the used ones") {
    // XGBoost models keep columns no tree uses: a few thousand from a ~500-byte file is fine.
    const std::string small = xgb_binary("2"), wide = xgb_binary("5000");
    REQUIRE(wide.size() * trees::kUnusedFeaturesPerByte > 5000);
    auto a = load(small);
    auto b = load(wide);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(b->num_features == 5000);
    CHECK(b->used_feature_end() == 2);
    // The predictor's block holds only the used feature, whatever the declared count.
    auto p = trees::compile(*b);
    REQUIRE(p.ok());
    CHECK(p->view().block_columns() == 1);
    const std::vector<double> x0 = {0.0, 0.2, 0.0, 0.7, 0.0, std::nan("")};
    std::vector<double> x1(3 * 5000, 0.0);
    for (std::size_t r = 0; r < 3; ++r) x1[r * 5000 + 1] = x0[r * 2 + 1];
    const auto pa = predict_all(*a, x0), pb = predict_all(*b, x1);
    REQUIRE(pa.size() == 3);
    REQUIRE(pb.size() == 3);
    for (std::size_t r = 0; r < 3; ++r) CHECK(pa[r] == pb[r]);
    // The limit scales with the file: 64 unused features per byte (2 are used here).
    const std::size_t bytes = xgb_binary("10000").size();
    const std::string at_limit = std::to_string(2 + trees::kUnusedFeaturesPerByte * bytes);
    REQUIRE(at_limit.size() == 5);  // the same file size as the "10000" model
    CHECK(load(xgb_binary(at_limit)).ok());
    CHECK_FALSE(load(xgb_binary(std::to_string(3 + trees::kUnusedFeaturesPerByte * bytes))).ok());
  }

  TEST_CASE("more output groups than trees are refused before anything is sized by them") {
    // A 118-byte LightGBM model with num_class 2^20 took 1.1 GB for a 2-row prediction.
    check_refused(lgb_model("0", 1 << 20, 1, "multiclass num_class:1048576"), errc::out_of_memory, "output groups");
    check_refused(xgb_model("2", "1048576", "multi:softprob", {xgb_stump(0)}, {0}), errc::out_of_memory,
                  "output groups");
    // As many groups as trees is a normal multiclass model.
    auto l = load(lgb_model("0", 3, 3, "multiclass num_class:3"));
    REQUIRE(l.ok());
    CHECK(l->num_outputs == 3);
    auto x = load(xgb_model("2", "3", "multi:softprob", {xgb_stump(0), xgb_stump(1), xgb_stump(0)}, {0, 1, 2}));
    REQUIRE(x.ok());
    CHECK(x->num_outputs == 3);
    // A model without trees may still declare one output.
    CHECK(load(xgb_model("2", "0", "reg:squarederror", {}, {})).ok());
  }

  TEST_CASE("overlapping category segments are refused (they made loading quadratic)") {
    // n categorical nodes all pointing at one list of m categories cost n * m steps: a
    // 1.1 MB model took 6 s. XGBoost writes disjoint segments whose sizes add up to the list.
    const int n = 64;  // internal nodes in a chain; node i's right child is node i + 1
    std::string lc, rc, si, sc, dl, st;
    const int nodes = 2 * n + 1;
    for (int i = 0; i < nodes; ++i) {
      const bool internal = i < n;
      add(lc, std::to_string(internal ? n + i : -1));
      add(rc, std::to_string(internal ? (i + 1 < n ? i + 1 : 2 * n) : -1));
      add(si, "0");
      add(sc, "0.5");
      add(dl, "0");
      add(st, std::string(internal ? "1" : "0"));
    }
    std::string cats;
    for (int c = 0; c < n; ++c) add(cats, std::to_string(c % 32));
    auto tree = [&](bool overlapping) {
      std::string cn_s, cs_s, cz_s;
      for (int i = 0; i < n; ++i) {
        add(cn_s, std::to_string(i));
        add(cs_s, std::to_string(overlapping ? 0 : i));
        add(cz_s, std::to_string(overlapping ? n : 1));
      }
      return R"({"left_children":[)" + lc + R"(],"right_children":[)" + rc + R"(],"split_indices":[)" + si +
             R"(],"split_conditions":[)" + sc + R"(],"default_left":[)" + dl + R"(],"split_type":[)" + st +
             R"(],"categories":[)" + cats + R"(],"categories_nodes":[)" + cn_s + R"(],"categories_segments":[)" + cs_s +
             R"(],"categories_sizes":[)" + cz_s + R"(],"tree_param":{"num_nodes":")" + std::to_string(nodes) +
             R"(","size_leaf_vector":"0"}})";
    };
    check_refused(xgb_model("1", "0", "reg:squarederror", {tree(true)}, {0}), errc::parse_error, "categories_sizes");
    auto ok = load(xgb_model("1", "0", "reg:squarederror", {tree(false)}, {0}));
    REQUIRE(ok.ok());
    // Node i's set is {i % 32}: category i % 32 goes right at node i, everything else left.
    auto p = trees::compile(*ok);
    REQUIRE(p.ok());
    std::vector<double> ref(1), fast(1);
    for (double c : {0.0, 5.0, 31.0, 40.0}) {
      const std::vector<double> row = {c};
      REQUIRE(trees::ref::predict_margin(std::span<double>(ref), *ok, std::span<const double>(row)).ok());
      REQUIRE(p->predict_margin(std::span<double>(fast), std::span<const double>(row), 1).ok());
      CHECK(ref[0] == fast[0]);
    }
  }

  TEST_CASE("error messages quote an excerpt of a long string value") {
    const std::string name(100000, 'x');
    for (const std::string& model : {xgb_model("2", "0", name, {xgb_stump(0)}, {0}), lgb_model("0", 1, 1, name)}) {
      const auto f = load(model);
      REQUIRE_FALSE(f.ok());
      CHECK(f.err().code == errc::unsupported);
      CHECK(f.err().message.size() < 200);
      CHECK(f.err().message.find(std::string(40, 'x') + "...") != std::string::npos);
    }
    const std::string booster = replace_once(xgb_binary("2"), "\"gbtree\"", "\"" + name + "\"");
    const auto b = load(booster);
    REQUIRE_FALSE(b.ok());
    CHECK(b.err().message.size() < 200);
    CHECK(io::excerpt("short") == "short");
    CHECK(io::excerpt(std::string(41, 'a')) == std::string(40, 'a') + "...");
    // Cut before a multi-byte character rather than inside it: 39 ASCII bytes, then U+00E9.
    CHECK(io::excerpt(std::string(39, 'a') + "\xC3\xA9" + "tail") == std::string(39, 'a') + "...");
  }

  TEST_CASE("the predictor allocates nothing per declared feature for zero rows") {
    // A forest of one leaf declaring the largest feature count: compile and an empty batch
    // used to size a block of 2 * num_features floats (16 GiB here).
    trees::forest f;
    f.num_features = 2147483647;
    f.base_margin = {0.5};
    f.begin_tree(0);
    f.add_leaf(1.0);
    f.end_tree();
    REQUIRE(f.validate().ok());
    auto p = trees::compile(f);
    REQUIRE(p.ok());
    CHECK(p->view().block_columns() <= 1);
    std::vector<double> out;
    CHECK(p->predict(std::span<double>(out), std::span<const double>(), 2147483647).ok());
  }
}
