// The fast predictor (trees/predict.hpp) against the reference interpreter: bit-exact
// margins and transformed outputs on randomized forests of every kind, all batch sizes
// around the block size, NaN inputs, float and double rows, one and two threads; and its
// scratch policy: temporaries from an arena, none from the heap once warm, out_of_memory
// as an error value.
#include <doctest/doctest.h>

#include <tessera/trees/predict.hpp>
#include <tessera/trees/predict_ref.hpp>
#include <tessera/trees.hpp>

#include "check_predictor.hpp"
#include "support/heap_counter.hpp"
#include "random_forest.hpp"
#include "tree_fixtures.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

using namespace tessera;
using namespace tessera::trees;
using namespace tessera::trees::testing;


namespace {

struct forest_case {
  const char* name;
  random_forest_options o;
};

std::vector<forest_case> forest_cases() {
  std::vector<forest_case> cases;
  auto add = [&](const char* name, auto&& edit) {
    random_forest_options o;
    edit(o);
    cases.push_back({name, o});
  };
  add("xgboost regression depth 6", [](random_forest_options&) {});
  add("xgboost logistic depth 8", [](random_forest_options& o) {
    o.max_depth = 8; o.num_trees = 30; o.leaf_probability = 0.05; o.transform = output_transform::sigmoid;
  });
  add("xgboost shallow depths 0-3", [](random_forest_options& o) { o.max_depth = 3; o.leaf_probability = 0.4; });
  add("xgboost deep sparse depth 14", [](random_forest_options& o) { o.max_depth = 14; o.leaf_probability = 0.35; o.num_trees = 8; });
  add("xgboost dart", [](random_forest_options& o) { o.dart = true; o.transform = output_transform::sigmoid; });
  add("xgboost softmax 3 classes", [](random_forest_options& o) {
    o.num_outputs = 3; o.num_trees = 30; o.transform = output_transform::softmax;
  });
  add("xgboost argmax 4 classes", [](random_forest_options& o) {
    o.num_outputs = 4; o.num_trees = 24; o.transform = output_transform::argmax;
  });
  add("xgboost categorical", [](random_forest_options& o) { o.categorical_probability = 0.3; });
  add("xgboost 6 outputs (wide accumulator)", [](random_forest_options& o) { o.num_outputs = 6; o.num_trees = 18; });
  add("lightgbm regression", [](random_forest_options& o) { o.format = source_format::lightgbm; });
  add("lightgbm binary", [](random_forest_options& o) {
    o.format = source_format::lightgbm; o.transform = output_transform::sigmoid; o.max_depth = 9;
  });
  add("lightgbm multiclass", [](random_forest_options& o) {
    o.format = source_format::lightgbm; o.num_outputs = 3; o.num_trees = 21; o.transform = output_transform::softmax;
  });
  add("lightgbm categorical", [](random_forest_options& o) {
    o.format = source_format::lightgbm; o.categorical_probability = 0.3;
  });
  add("lightgbm random forest (average)", [](random_forest_options& o) {
    o.format = source_format::lightgbm; o.average_output = true; o.num_trees = 12;
  });
  add("lightgbm exp transform", [](random_forest_options& o) {
    o.format = source_format::lightgbm; o.transform = output_transform::exp;
  });
  return cases;
}

}  // namespace

TEST_SUITE("trees/predict") {

TEST_CASE("matches the reference on random forests, batch sizes around the block, NaN, 1 and 2 threads") {
  runtime::thread_pool pool2(2);
  std::uint32_t seed = 1;
  for (const forest_case& fc : forest_cases()) {
    std::mt19937 rng(seed++);
    const forest f = random_forest(rng, fc.o);
    REQUIRE(f.validate().ok());
    for (const char* mode : {"default", "general only", "complete up to depth 3"}) {
      compile_options co;
      if (std::string(mode) == "general only") co.general_only = true;
      if (std::string(mode) == "complete up to depth 3") co.max_complete_depth = 3;
      auto p = compile(f, co);
      REQUIRE(p.ok());
      const std::size_t max_rows = 200;
      const std::vector<float> rows = random_rows(rng, max_rows, f.num_features, 0.1);
      std::vector<double> rows_d(rows.begin(), rows.end());
      // A few double rows that are not floats, to exercise LightGBM's double compare.
      std::uniform_real_distribution<double> u(-3, 3);
      for (std::size_t i = 0; i < rows_d.size(); i += 7)
        if (!std::isnan(rows_d[i])) rows_d[i] = u(rng);
      // Row counts around the block and around this build's vector width (the SIMD levels
      // compare W rows at once: 4 on SSE/NEON/SIMD128, 8 on AVX2, 16 on AVX-512).
      constexpr std::size_t W = simd::lanes<float>;
      for (std::size_t n : {std::size_t{1}, std::size_t{3}, W - 1, W + 1, 2 * W + 3, std::size_t{63}, std::size_t{64},
                            std::size_t{65}, std::size_t{127}, std::size_t{128},
                            std::size_t{129}, std::size_t{200}}) {
        const std::string what = std::string(fc.name) + " [" + mode + "] rows=" + std::to_string(n);
        CAPTURE(what);
        check_against_reference(f, *p, rows, n, nullptr, what + " float");
        check_against_reference(f, *p, rows, n, &pool2, what + " float 2 threads");
        check_against_reference(f, *p, rows_d, n, nullptr, what + " double");
      }
    }
  }
}

TEST_CASE("matches the reference on every fixture model (XGBoost and LightGBM)") {
  std::vector<std::string> files;
  for (const std::string& n : tessera_test::xgboost_fixture_names()) {
    files.push_back(n + ".json");
    files.push_back(n + ".ubj");
  }
  for (const std::string& n : tessera_test::lightgbm_fixture_names()) files.push_back(n + ".txt");
  runtime::thread_pool pool2(2);
  for (const std::string& file : files) {
    CAPTURE(file);
    auto f = trees::load_forest(tessera_test::tree_fixture(file));
    REQUIRE_MESSAGE(f.ok(), f.what());
    tessera_test::expected_cases c;
    REQUIRE(tessera_test::load_cases(file.substr(0, file.rfind('.')), c));
    REQUIRE(c.nf == static_cast<std::size_t>(f->num_features));
    auto p = compile(*f);
    REQUIRE(p.ok());
    std::vector<float> xf(c.x.begin(), c.x.end());
    check_against_reference(*f, *p, xf, c.rows, nullptr, file + " float");
    check_against_reference(*f, *p, xf, c.rows, &pool2, file + " float 2 threads");
    check_against_reference(*f, *p, c.x, c.rows, nullptr, file + " double");
    // And the library's own numbers, as the fixture stores them.
    std::vector<double> m(c.rows * static_cast<std::size_t>(f->num_outputs));
    if (f->accumulate == accum_type::f32) {
      REQUIRE(p->predict_margin(std::span<double>(m), std::span<const float>(xf), c.nf).ok());
      if (c.margin_f32.size() == m.size())
        for (std::size_t i = 0; i < m.size(); ++i) CHECK(static_cast<float>(m[i]) == c.margin_f32[i]);
    }
  }
}

TEST_CASE("the default layout puts numerical shallow trees in the complete layout") {
  std::mt19937 rng(5);
  random_forest_options o;
  o.max_depth = 8;
  o.num_trees = 10;
  const forest f = random_forest(rng, o);
  auto p = compile(f);
  REQUIRE(p.ok());
  CHECK(p->num_complete_trees() == 10);
  o.categorical_probability = 1.0;
  const forest fc = random_forest(rng, o);
  auto pc = compile(fc);
  REQUIRE(pc.ok());
  CHECK(pc->num_complete_trees() == 0);
}

TEST_CASE("LightGBM thresholds at float edges, infinities and zero bands") {
  // One split per tree on feature 0, rows that sit on and around each threshold.
  const double thresholds[] = {0.1, -0.1, 1e-45, -1e-45, 1e-35, 1.0000000180025095e-35, -1.0000000180025095e-35,
                               3.4028234663852886e38, 1e300, -1e300, std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), 0.0, -0.0, 16777217.0, 0.30000001192092896};
  for (compare_op op : {compare_op::less, compare_op::less_equal})
    for (feature_precision prec : {feature_precision::f32, feature_precision::f64})
      for (missing_rule miss : {missing_rule::nan_default, missing_rule::none, missing_rule::zero, missing_rule::nan})
        for (int dl = 0; dl < 2; ++dl) {
          forest f;
          f.num_features = 1;
          f.compare = op;
          f.features = prec;
          f.accumulate = prec == feature_precision::f32 ? accum_type::f32 : accum_type::f64;
          f.base_margin = {0.0};
          int t = 0;
          for (double th : thresholds) {
            const double thr = prec == feature_precision::f32 ? static_cast<double>(static_cast<float>(th)) : th;
            if (std::isnan(thr)) continue;
            f.begin_tree(0);
            const std::int32_t root = f.add_numerical_split({.feature = 0, .threshold = thr, .default_left = dl != 0, .missing = miss});
            const std::int32_t left = f.add_leaf(static_cast<double>(1 << (t % 20)));
            f.set_children(root, left, f.add_leaf(-static_cast<double>(1 << (t % 20))));
            f.end_tree();
            ++t;
          }
          REQUIRE(f.validate().ok());
          std::vector<float> rows;
          for (double th : thresholds) {
            const float c = static_cast<float>(th);
            for (float v : {c, std::nextafter(c, -INFINITY), std::nextafter(c, INFINITY)}) rows.push_back(v);
          }
          for (float v : {0.0f, -0.0f, 1e-36f, -1e-36f, 1e-35f, -1e-35f, std::nanf(""), INFINITY, -INFINITY})
            rows.push_back(v);
          auto p = compile(f);
          REQUIRE(p.ok());
          const std::string what = std::string("op ") + std::to_string(int(op)) + " prec " + std::to_string(int(prec)) +
                                   " missing " + std::to_string(int(miss)) + " dl " + std::to_string(dl);
          CAPTURE(what);
          check_against_reference(f, *p, rows, rows.size(), nullptr, what);
          std::vector<double> rows_d(rows.begin(), rows.end());
          check_against_reference(f, *p, rows_d, rows_d.size(), nullptr, what + " double");
        }
}

TEST_CASE("wrong shapes are errors, not crashes") {
  std::mt19937 rng(3);
  random_forest_options o;
  o.num_features = 5;
  o.num_outputs = 2;
  o.transform = output_transform::argmax;
  const forest f = random_forest(rng, o);
  auto p = compile(f);
  REQUIRE(p.ok());
  std::vector<float> rows(10 * 5, 0.5f);
  std::vector<double> out(20);
  CHECK(p->predict_margin(std::span<double>(out), std::span<const float>(rows), 5).ok());
  CHECK(p->predict_margin(std::span<double>(out), std::span<const float>(rows), 4).code() == errc::shape_mismatch);
  CHECK(p->predict_margin(std::span<double>(out).first(19), std::span<const float>(rows), 5).code() ==
        errc::shape_mismatch);
  CHECK(p->predict_margin(std::span<double>(out), std::span<const float>(rows).first(49), 5).code() ==
        errc::shape_mismatch);
  // argmax: one value per row.
  CHECK(p->predict(std::span<double>(out).first(10), std::span<const float>(rows), 5).ok());
  CHECK(p->predict(std::span<double>(out), std::span<const float>(rows), 5).code() == errc::shape_mismatch);
  const predictor empty;
  CHECK(!empty.predict(std::span<double>(out), std::span<const float>(rows), 5).ok());
  // Zero rows is fine.
  CHECK(p->predict(std::span<double>(), std::span<const float>(), 5).ok());
}

TEST_CASE("compile rejects an invalid forest and wrap rejects a corrupt view") {
  std::mt19937 rng(4);
  random_forest_options o;
  forest f = random_forest(rng, o);
  forest bad = f;
  bad.left_child[0] = 100000;
  CHECK(!compile(bad).ok());
  auto p = compile(f);
  REQUIRE(p.ok());
  REQUIRE(predictor::wrap(p->view()).ok());
  forest_view v = p->view();
  std::vector<tree_info> trees(v.trees.begin(), v.trees.end());
  trees[0].first = 1u << 30;
  v.trees = trees;
  CHECK(!predictor::wrap(v).ok());
  v = p->view();
  std::vector<std::uint32_t> feat(v.complete_feature.begin(), v.complete_feature.end());
  feat[0] = 2 * static_cast<std::uint32_t>(f.num_features);
  v.complete_feature = feat;
  CHECK(!predictor::wrap(v).ok());
  compile_options co;
  co.general_only = true;
  auto g = compile(f, co);
  REQUIRE(g.ok());
  v = g->view();
  std::vector<general_node> nodes(v.general_nodes.begin(), v.general_nodes.end());
  for (general_node& n : nodes)
    if (n.feature >= 0) { n.left = 0; break; }  // points back to the root: a cycle
  v.general_nodes = nodes;
  CHECK(!predictor::wrap(v).ok());
}

TEST_CASE("a wrapped view predicts like the predictor it came from") {
  std::mt19937 rng(6);
  random_forest_options o;
  o.categorical_probability = 0.2;
  const forest f = random_forest(rng, o);
  auto p = compile(f);
  REQUIRE(p.ok());
  auto w = predictor::wrap(p->view());
  REQUIRE(w.ok());
  const auto rows = random_rows(rng, 100, f.num_features, 0.1);
  check_against_reference(f, *w, rows, 100, nullptr, "wrapped");
}

TEST_CASE("a repeated prediction makes no heap allocation; an arena that cannot hold the scratch is out_of_memory") {
  struct scratch_case {
    const char* name;
    random_forest_options o;
  };
  std::vector<scratch_case> cases;
  {
    random_forest_options o;
    o.transform = output_transform::sigmoid;  // the plain sigmoid path (no row buffers)
    cases.push_back({"xgboost logistic", o});
    o.num_outputs = 70;  // more classes than the old fixed softmax buffer held
    o.num_trees = 140;
    o.max_depth = 3;
    o.transform = output_transform::softmax;
    cases.push_back({"xgboost softmax 70 classes", o});
    o = random_forest_options{};
    o.format = source_format::lightgbm;
    o.num_outputs = 3;
    o.num_trees = 21;
    o.categorical_probability = 0.2;
    o.transform = output_transform::softmax;
    cases.push_back({"lightgbm multiclass (general trees, double rows)", o});
  }
  runtime::thread_pool pool2(2);
  std::mt19937 rng(11);
  for (const scratch_case& c : cases) {
    const forest f = random_forest(rng, c.o);
    auto p = compile(f);
    REQUIRE(p.ok());
    const std::size_t nf = static_cast<std::size_t>(f.num_features);
    const std::size_t n_rows = 1029;  // 9 blocks of 128 rows: 3 tasks (of 4 blocks) for two threads
    const std::vector<float> rows = random_rows(rng, n_rows, f.num_features, 0.1);
    const std::vector<double> rows_d(rows.begin(), rows.end());
    check_against_reference(f, *p, rows, n_rows, nullptr, std::string(c.name) + " float");
    check_against_reference(f, *p, rows_d, n_rows, &pool2, std::string(c.name) + " double");
    std::vector<double> out(n_rows * static_cast<std::size_t>(f.num_transformed_outputs()));
    std::vector<float> margins(n_rows * static_cast<std::size_t>(f.num_outputs));
    std::vector<double> first_out;
    for (runtime::thread_pool* pool : {static_cast<runtime::thread_pool*>(nullptr), &pool2}) {
      for (std::size_t n : {n_rows, std::size_t{1}}) {  // a batch, and one row (its own path)
        for (const bool own_arena : {true, false}) {
          CAPTURE(c.name);
          CAPTURE(n);
          CAPTURE(own_arena);
          CAPTURE(pool != nullptr);
          arena mine;
          arena* scratch = own_arena ? &mine : nullptr;
          arena& used = own_arena ? mine : thread_arena();
          // Transformed outputs from float rows, margins from double rows: every buffer kind.
          auto predict_both = [&] {
            status a = p->predict(std::span<double>(out.data(), n * static_cast<std::size_t>(f.num_transformed_outputs())),
                                  std::span<const float>(rows.data(), n * nf), nf, pool, scratch);
            status b = p->predict_margin(std::span<float>(margins.data(), n * static_cast<std::size_t>(f.num_outputs)),
                                         std::span<const double>(rows_d.data(), n * nf), nf, pool, scratch);
            return a.ok() && b.ok();
          };
          REQUIRE(predict_both());  // the first call may grow the arena
          first_out = out;
          const std::size_t arena_blocks = used.heap_allocations();
          bool ok = false;
          const std::size_t news = heap_allocations_during([&] { ok = predict_both(); });
          CHECK(ok);
          CHECK(news == 0);
          CHECK(used.heap_allocations() == arena_blocks);
          CHECK(used.bytes_in_use() == 0);  // the call's scope released its scratch
          CHECK(std::memcmp(out.data(), first_out.data(), out.size() * sizeof(double)) == 0);
          if (own_arena) {
            mine.freeze();  // the high-water mark now fits without growing
            CHECK(predict_both());
          }
        }
      }
    }
    // No room for the temporaries: an error before any output is written.
    for (runtime::thread_pool* pool : {static_cast<runtime::thread_pool*>(nullptr), &pool2}) {
      arena none;
      none.freeze();
      std::fill(out.begin(), out.end(), 7.0);
      const status st = p->predict(std::span<double>(out), std::span<const float>(rows), nf, pool, &none);
      CHECK(st.code() == errc::out_of_memory);
      CHECK(std::all_of(out.begin(), out.end(), [](double v) { return v == 7.0; }));
    }
  }
}

}  // TEST_SUITE
