// The reference interpreter against the originals: every XGBoost fixture (JSON and UBJSON)
// against XGBoost 1.7.4's own margins and predictions, every LightGBM fixture against the
// independent evaluator of scripts/make_tree_models.py.
#include <doctest/doctest.h>

#include <span>
#include <string>
#include <vector>

#include "trees/tree_fixtures.hpp"

using namespace tessera;
using tessera_test::expected_cases;

namespace {

struct agreement {
  std::size_t margins = 0, margins_bit_equal = 0, preds = 0, preds_bit_equal = 0;
};

// Checks a loaded forest on its fixture rows; XGBoost values compare as floats.
void check_against_cases(const trees::forest& f, const expected_cases& c, const std::string& label, agreement& a) {
  REQUIRE(c.nf == static_cast<std::size_t>(f.num_features));
  REQUIRE(c.nm == static_cast<std::size_t>(f.num_outputs));
  REQUIRE(c.np == static_cast<std::size_t>(f.num_transformed_outputs()));
  const bool xgb = f.format == trees::source_format::xgboost;
  std::vector<double> m(c.nm), p(c.np);
  for (std::size_t r = 0; r < c.rows; ++r) {
    const std::span<const double> row(c.x.data() + r * c.nf, c.nf);
    REQUIRE(trees::ref::predict_margin(std::span<double>(m), f, row).ok());
    REQUIRE(trees::ref::predict(std::span<double>(p), f, row).ok());
    for (std::size_t k = 0; k < c.nm; ++k) {
      const double want = xgb ? static_cast<double>(c.margin_f32[r * c.nm + k]) : c.margin[r * c.nm + k];
      INFO(label, " row ", r, " margin ", k, ": got ", m[k], " want ", want);
      CHECK(tessera_test::close_rel(m[k], want));
      ++a.margins;
      a.margins_bit_equal += tessera_test::same_bits(m[k], want) ? 1 : 0;
    }
    for (std::size_t k = 0; k < c.np; ++k) {
      const double want = xgb ? static_cast<double>(c.pred_f32[r * c.np + k]) : c.pred[r * c.np + k];
      INFO(label, " row ", r, " prediction ", k, ": got ", p[k], " want ", want);
      if (f.objective.transform == trees::output_transform::argmax) {
        CHECK(p[k] == want);  // class index: exact
      } else {
        CHECK(tessera_test::close_rel(p[k], want));
      }
      ++a.preds;
      a.preds_bit_equal += tessera_test::same_bits(p[k], want) ? 1 : 0;
    }
  }
}

}  // namespace

TEST_SUITE("trees/predict_ref") {
  TEST_CASE("matches XGBoost 1.7.4 margins and predictions on every fixture") {
    agreement a;
    for (const std::string& name : tessera_test::xgboost_fixture_names()) {
      expected_cases c;
      INFO("fixture ", name);
      REQUIRE(tessera_test::load_cases(name, c));
      for (const char* ext : {".json", ".ubj"}) {
        auto f = trees::load_forest(tessera_test::tree_fixture(name + ext));
        INFO(f.what());
        REQUIRE(f.ok());
        CHECK(f->format == trees::source_format::xgboost);
        check_against_cases(*f, c, name + ext, a);
      }
    }
    MESSAGE("XGBoost: ", a.margins_bit_equal, "/", a.margins, " margins bit-equal, ", a.preds_bit_equal, "/",
            a.preds, " predictions bit-equal");
    CHECK(a.margins > 500);
    // Margins are float sums in XGBoost's order: they must be bit-equal, not just close.
    CHECK(a.margins_bit_equal == a.margins);
  }

  TEST_CASE("matches the LightGBM evaluator on every fixture") {
    agreement a;
    for (const std::string& name : tessera_test::lightgbm_fixture_names()) {
      expected_cases c;
      INFO("fixture ", name);
      REQUIRE(tessera_test::load_cases(name, c));
      auto f = trees::load_forest(tessera_test::tree_fixture(name + ".txt"));
      INFO(f.what());
      REQUIRE(f.ok());
      CHECK(f->format == trees::source_format::lightgbm);
      check_against_cases(*f, c, name, a);
    }
    MESSAGE("LightGBM: ", a.margins_bit_equal, "/", a.margins, " margins bit-equal, ", a.preds_bit_equal, "/",
            a.preds, " predictions bit-equal");
    CHECK(a.margins > 500);
    CHECK(a.margins_bit_equal == a.margins);
  }

  TEST_CASE("float and double rows give the same XGBoost prediction") {
    expected_cases c;
    REQUIRE(tessera_test::load_cases("xgb_categorical_reg", c));
    auto f = trees::load_forest(tessera_test::tree_fixture("xgb_categorical_reg.json"));
    REQUIRE(f.ok());
    std::vector<float> xf(c.x.begin(), c.x.end());
    std::vector<double> md(c.rows), mf(c.rows);
    REQUIRE(trees::ref::predict_margin_rows(std::span<double>(md), *f, std::span<const double>(c.x), c.rows).ok());
    REQUIRE(trees::ref::predict_margin_rows(std::span<double>(mf), *f, std::span<const float>(xf), c.rows).ok());
    for (std::size_t r = 0; r < c.rows; ++r) CHECK(tessera_test::same_bits(md[r], mf[r]));
  }

  TEST_CASE("batch entry points agree with the row entry points") {
    expected_cases c;
    REQUIRE(tessera_test::load_cases("lgb_multiclass", c));
    auto f = trees::load_forest(tessera_test::tree_fixture("lgb_multiclass.txt"));
    REQUIRE(f.ok());
    std::vector<double> all(c.rows * c.np), one(c.np);
    REQUIRE(trees::ref::predict_rows(std::span<double>(all), *f, std::span<const double>(c.x), c.rows).ok());
    for (std::size_t r = 0; r < c.rows; ++r) {
      REQUIRE(trees::ref::predict(std::span<double>(one), *f, std::span<const double>(c.x.data() + r * c.nf, c.nf)).ok());
      for (std::size_t k = 0; k < c.np; ++k) CHECK(tessera_test::same_bits(all[r * c.np + k], one[k]));
    }
  }

  TEST_CASE("wrong feature count and wrong output size are shape errors") {
    auto f = trees::load_forest(tessera_test::tree_fixture("xgb_multi_softprob.json"));
    REQUIRE(f.ok());
    std::vector<double> row(f->num_features + 1, 0.5), out(f->num_outputs);
    auto s = trees::ref::predict_margin(std::span<double>(out), *f, std::span<const double>(row));
    CHECK(s.code() == errc::shape_mismatch);
    s = trees::ref::predict_margin(std::span<double>(out), *f, std::span<const double>(row.data(), row.size() - 2));
    CHECK(s.code() == errc::shape_mismatch);
    std::vector<double> small(1);
    s = trees::ref::predict(std::span<double>(small), *f, std::span<const double>(row.data(), row.size() - 1));
    CHECK(s.code() == errc::shape_mismatch);
    s = trees::ref::predict_rows(std::span<double>(out), *f, std::span<const double>(row), 3);
    CHECK(s.code() == errc::shape_mismatch);
    auto leaf = trees::ref::leaf_index(*f, f->num_trees(), std::span<const double>(row.data(), row.size() - 1));
    CHECK(leaf.err().code == errc::out_of_range);
  }

  TEST_CASE("the breast-cancer demo model gives XGBoost's probabilities") {
    expected_cases c;
    REQUIRE(tessera_test::load_cases("breast_cancer", c));
    auto f = trees::load_forest(std::string(TESSERA_SOURCE_DIR) + "/examples/models/breast_cancer.json");
    REQUIRE(f.ok());
    CHECK(f->num_trees() == 50);
    CHECK(f->num_features == 30);
    CHECK(f->feature_names.size() == 30);
    CHECK(f->feature_names[0] == "mean_radius");
    std::vector<double> p(c.rows);
    REQUIRE(trees::ref::predict_rows(std::span<double>(p), *f, std::span<const double>(c.x), c.rows).ok());
    for (std::size_t r = 0; r < c.rows; ++r) {
      CHECK(p[r] >= 0.0);
      CHECK(p[r] <= 1.0);
      CHECK(tessera_test::close_rel(p[r], c.pred_f32[r]));
    }
  }
}

TEST_SUITE("trees/objective") {
  TEST_CASE("float sigmoid and softmax follow XGBoost's float formulas") {
    // 1/(1+expf(-x)) in float differs from the double formula rounded once for some x;
    // check the float steps directly on a sweep.
    for (int i = -200; i <= 200; ++i) {
      const float x = static_cast<float>(i) * 0.173f;
      const float e = std::exp(-x);
      const float want = 1.0f / (1.0f + e);
      CHECK(trees::sigmoid_f32(x) == want);
    }
    float v[3] = {0.5f, -1.25f, 2.0f};
    trees::softmax_f32(std::span<float>(v, 3));
    CHECK(v[0] + v[1] + v[2] == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(v[2] > v[0]);
    CHECK(v[0] > v[1]);
  }

  TEST_CASE("argmax takes the first maximum") {
    const double m[4] = {1.0, 3.0, 3.0, -2.0};
    CHECK(trees::argmax_first(std::span<const double>(m, 4)) == 1);
  }

  TEST_CASE("LightGBM transforms in double") {
    CHECK(trees::sigmoid_f64(0.0, 0.7) == 0.5);
    CHECK(trees::sigmoid_f64(2.0, 0.5) == 1.0 / (1.0 + std::exp(-1.0)));
    double v[2] = {1000.0, 999.0};  // no overflow: max is subtracted first
    trees::softmax_f64(std::span<double>(v, 2));
    CHECK(v[0] == doctest::Approx(1.0 / (1.0 + std::exp(-1.0))));
  }
}
