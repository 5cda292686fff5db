// The trees C ABI (wasm/trees_abi.hpp), called as the JS package calls it: bytes streamed in
// chunks, typed rows, JSON records, errors through the error slot. Expected outputs are the
// fixtures' XGBoost and LightGBM predictions (scripts/make_tree_models.py), never tessera's.
// Natively and under Node (built with -fwasm-exceptions there, like the package's modules).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/wasm/trees_abi.hpp"
#include "trees/tree_fixtures.hpp"
#include "wasm/stream_bytes.hpp"
#include "../../examples/tessera-gbt/breast_cancer_model.hpp"

TESSERA_WASM_TREES_EMBED(breast_cancer)

namespace {

using tessera::wasm::byte_buffer;
using tessera::wasm::trees_model;

using tessera_wasm_test::stream_bytes;

trees_model* load_fixture(const std::string& file, std::size_t chunk = 4096, bool announce_size = true) {
  std::string text;
  REQUIRE(tessera_test::read_whole_file(tessera_test::tree_fixture(file), text));
  trees_model* m = tessera_trees_load(stream_bytes(text, chunk, announce_size));
  INFO(tessera_error_message());
  REQUIRE(m != nullptr);
  return m;
}

nlohmann::json info_of(const trees_model* m) { return nlohmann::json::parse(tessera_trees_info(m)); }

// One JSON record per fixture row, keyed by the model's feature names; `as_category` maps a
// feature index and its code to a category name (empty: keep the number).
template <class CategoryName>
std::string records_json(const tessera_test::expected_cases& c, const std::vector<std::string>& names,
                         CategoryName as_category) {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t r = 0; r < c.rows; ++r) {
    nlohmann::json rec = nlohmann::json::object();
    for (std::size_t i = 0; i < c.nf; ++i) {
      const double v = c.x[r * c.nf + i];
      const std::string key = i < names.size() ? names[i] : tessera::wasm::feature_label(tessera::trees::forest(), i);
      const std::string category = std::isnan(v) ? std::string() : as_category(i, v);
      if (!category.empty()) rec[key] = category;
      else if (std::isnan(v)) rec[key] = nullptr;  // missing, like JSON.stringify(NaN)
      else rec[key] = v;
    }
    rows.push_back(rec);
  }
  return rows.dump();
}

}  // namespace

TEST_SUITE("wasm/trees_abi") {
  TEST_CASE("a model streamed in chunks predicts XGBoost's own probabilities from float rows") {
    for (const bool announce : {true, false}) {
      trees_model* m = load_fixture("breast_cancer.json", 1000, announce);
      const nlohmann::json info = info_of(m);
      CHECK(info["format"] == "xgboost");
      CHECK(info["numFeatures"] == 30);
      CHECK(info["outputKeys"] == nlohmann::json::array({"0", "1"}));
      CHECK(info["featureNames"][22] == "worst_perimeter");
      tessera_test::expected_cases c;
      REQUIRE(tessera_test::load_cases("breast_cancer", c));
      std::vector<float> rows(c.x.begin(), c.x.end());
      std::vector<double> out(c.rows);
      REQUIRE(tessera_trees_predict(m, rows.data(), static_cast<std::uint32_t>(c.rows), 30, 0, out.data(),
                                    static_cast<std::uint32_t>(out.size()), 0) == 0);
      for (std::size_t r = 0; r < c.rows; ++r) CHECK(static_cast<float>(out[r]) == c.pred_f32[r]);
      // Margins from double rows (rounded to float, as XGBoost does).
      REQUIRE(tessera_trees_predict(m, c.x.data(), static_cast<std::uint32_t>(c.rows), 30, 1, out.data(),
                                    static_cast<std::uint32_t>(out.size()), 1) == 0);
      for (std::size_t r = 0; r < c.rows; ++r) CHECK(static_cast<float>(out[r]) == c.margin_f32[r]);
      tessera_trees_free(m);
    }
  }

  TEST_CASE("records answer like tessera-gbt: both class probabilities, 1 - p in float") {
    trees_model* m = load_fixture("breast_cancer.ubj");
    tessera_test::expected_cases c;
    REQUIRE(tessera_test::load_cases("breast_cancer", c));
    const std::vector<std::string> names = info_of(m)["featureNames"].get<std::vector<std::string>>();
    const std::string json = records_json(c, names, [](std::size_t, double) { return std::string(); });
    REQUIRE(tessera_trees_predict_records(m, json.data(), static_cast<std::uint32_t>(json.size()), 0) == 0);
    REQUIRE(tessera_trees_result_rows(m) == c.rows);
    const double* got = tessera_trees_result(m);
    for (std::size_t r = 0; r < c.rows; ++r) {
      CHECK(static_cast<float>(got[2 * r + 1]) == c.pred_f32[r]);
      CHECK(static_cast<float>(got[2 * r]) == 1.0f - c.pred_f32[r]);
    }
    tessera_trees_free(m);
  }

  TEST_CASE("categories given as strings map through the model's own lists (LightGBM pandas_categorical)") {
    trees_model* m = load_fixture("lgb_regression.txt");
    const nlohmann::json info = info_of(m);
    const std::vector<std::string> names = info["featureNames"].get<std::vector<std::string>>();
    REQUIRE(info["categories"].size() == 2);
    tessera_test::expected_cases c;
    REQUIRE(tessera_test::load_cases("lgb_regression", c));
    std::size_t as_strings = 0;
    const std::string json = records_json(c, names, [&](std::size_t i, double v) {
      const auto cats = info["categories"].find(names[i]);
      if (cats == info["categories"].end() || v < 0 || v >= static_cast<double>(cats->size()) || v != std::floor(v))
        return std::string();
      ++as_strings;
      return (*cats)[static_cast<std::size_t>(v)].get<std::string>();
    });
    CHECK(as_strings >= 10);  // the fixture also holds codes past the lists and missing values
    REQUIRE(tessera_trees_predict_records(m, json.data(), static_cast<std::uint32_t>(json.size()), 0) == 0);
    REQUIRE(tessera_trees_result_rows(m) == c.rows);
    const double* got = tessera_trees_result(m);
    for (std::size_t r = 0; r < c.rows; ++r) CHECK(tessera_test::close_rel(got[r], c.pred[r], 1e-12, 1e-12));
    CHECK(info["outputKeys"] == nlohmann::json::array({"prediction"}));
    // A category map of the caller's replaces the model's for that feature.
    const std::string feature = info["categories"].begin().key();
    const std::string map = "{\"" + feature + "\": [\"zero\", \"one\"]}";
    REQUIRE(tessera_trees_set_categories(m, map.data(), static_cast<std::uint32_t>(map.size())) == 0);
    CHECK(info_of(m)["categories"][feature] == nlohmann::json::array({"zero", "one"}));
    tessera_trees_free(m);
  }

  TEST_CASE("a forest compiled into the module answers like the loaded model") {
    trees_model* embedded = tessera_trees_embedded();
    REQUIRE(embedded != nullptr);
    const nlohmann::json info = info_of(embedded);
    CHECK(info["format"] == "compiled");
    CHECK(info["objective"] == "binary:logistic");
    CHECK(info["outputKeys"] == nlohmann::json::array({"0", "1"}));
    tessera_test::expected_cases c;
    REQUIRE(tessera_test::load_cases("breast_cancer", c));
    std::vector<double> out(c.rows);
    REQUIRE(tessera_trees_predict(embedded, c.x.data(), static_cast<std::uint32_t>(c.rows), 30, 1, out.data(),
                                  static_cast<std::uint32_t>(out.size()), 0) == 0);
    for (std::size_t r = 0; r < c.rows; ++r) CHECK(static_cast<float>(out[r]) == c.pred_f32[r]);
    tessera_trees_free(embedded);
  }

  TEST_CASE("bad input is an error code with tessera's message, and the model stays usable") {
    SUBCASE("not a model") {
      CHECK(tessera_trees_load(stream_bytes("<!DOCTYPE html><html>404</html>", 7, false)) == nullptr);
      CHECK(tessera_error_code() == static_cast<int>(tessera::errc::unsupported));
      CHECK(std::string(tessera_error_message()).find("unrecognised model format") != std::string::npos);
    }
    SUBCASE("a truncated model") {
      std::string text;
      REQUIRE(tessera_test::read_whole_file(tessera_test::tree_fixture("breast_cancer.json"), text));
      CHECK(tessera_trees_load(stream_bytes(text.substr(0, text.size() / 2), 999, true)) == nullptr);
      CHECK(tessera_error_code() == static_cast<int>(tessera::errc::parse_error));
    }
    SUBCASE("wrong widths, unknown features, bad category maps") {
      trees_model* m = load_fixture("breast_cancer.json");
      std::vector<float> rows(29, 1.0f);
      std::vector<double> out(1);
      CHECK(tessera_trees_predict(m, rows.data(), 1, 29, 0, out.data(), 1, 0) ==
            static_cast<int>(tessera::errc::shape_mismatch));
      CHECK(std::string(tessera_error_message()).find("the model expects 30") != std::string::npos);
      rows.resize(30);
      CHECK(tessera_trees_predict(m, rows.data(), 1, 30, 0, out.data(), 2, 0) ==
            static_cast<int>(tessera::errc::shape_mismatch));
      const std::string unknown = R"([{"mean_radius": 10, "no_such_feature": 1}])";
      CHECK(tessera_trees_predict_records(m, unknown.data(), static_cast<std::uint32_t>(unknown.size()), 0) ==
            static_cast<int>(tessera::errc::parse_error));
      CHECK(std::string(tessera_error_message()) == "record 1: unknown feature 'no_such_feature'");
      CHECK(tessera_trees_result_rows(m) == 0);
      const std::string category = R"([{"mean_radius": "large"}])";
      CHECK(tessera_trees_predict_records(m, category.data(), static_cast<std::uint32_t>(category.size()), 0) != 0);
      CHECK(std::string(tessera_error_message()).find("no category list maps 'large'") != std::string::npos);
      const std::string bad_map = R"({"mean_radius": 3})";
      CHECK(tessera_trees_set_categories(m, bad_map.data(), static_cast<std::uint32_t>(bad_map.size())) != 0);
      // Still usable: one record with every feature missing.
      const std::string empty = "[{}]";
      REQUIRE(tessera_trees_predict_records(m, empty.data(), 4, 0) == 0);
      CHECK(tessera_trees_result_rows(m) == 1);
      CHECK(tessera_trees_predict(nullptr, rows.data(), 1, 30, 0, out.data(), 1, 0) ==
            static_cast<int>(tessera::errc::invalid_argument));
      tessera_trees_free(m);
    }
  }

  TEST_CASE("threads: a request is clamped to what the build can run") {
    CHECK(tessera_set_threads(0) == -1);
    CHECK(tessera_error_code() == static_cast<int>(tessera::errc::invalid_argument));
    const std::int32_t used = tessera_set_threads(2);
    CHECK(used == (TESSERA_THREADS ? 2 : 1));
    CHECK(tessera_threads() == used);
    trees_model* m = load_fixture("breast_cancer.json");
    tessera_test::expected_cases c;
    REQUIRE(tessera_test::load_cases("breast_cancer", c));
    // Enough rows to split into tasks (the predictor parallelises blocks of rows).
    std::vector<double> rows;
    for (int rep = 0; rep < 64; ++rep) rows.insert(rows.end(), c.x.begin(), c.x.end());
    const std::size_t n = rows.size() / 30;
    std::vector<double> out(n);
    REQUIRE(tessera_trees_predict(m, rows.data(), static_cast<std::uint32_t>(n), 30, 1, out.data(),
                                  static_cast<std::uint32_t>(n), 0) == 0);
    for (std::size_t r = 0; r < n; ++r) CHECK(static_cast<float>(out[r]) == c.pred_f32[r % c.rows]);
    CHECK(tessera_set_threads(1) == 1);
    tessera_trees_free(m);
    const nlohmann::json build = nlohmann::json::parse(tessera_build_info());
    CHECK(build["abi"] == TESSERA_WASM_ABI_VERSION);
    CHECK(build["threads"] == static_cast<bool>(TESSERA_THREADS));
  }

#if defined(__EMSCRIPTEN__)
  // The heap of a 32-bit module: a request past what it can address, then one it cannot
  // obtain, are out_of_memory errors (not aborts), and the module loads a model afterwards.
  TEST_CASE("exhausting the WebAssembly heap is an out_of_memory error, and the module stays usable") {
    CHECK(tessera_bytes_new(0xF0000000u) == nullptr);
    CHECK(tessera_error_code() == static_cast<int>(tessera::errc::out_of_memory));
    std::vector<byte_buffer*> held;
    for (int i = 0; i < 8; ++i) {
      byte_buffer* b = tessera_bytes_new(0x7F000000u);  // reserved, never touched
      if (b == nullptr) break;
      held.push_back(b);
    }
    CHECK(held.size() < 8);
    CHECK(tessera_error_code() == static_cast<int>(tessera::errc::out_of_memory));
    CHECK(std::string(tessera_error_message()).find("out of memory") != std::string::npos);
    for (byte_buffer* b : held) tessera_bytes_free(b);
    trees_model* m = load_fixture("breast_cancer.json");
    tessera_trees_free(m);
  }
#endif
}
