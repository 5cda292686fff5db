// libFuzzer harness for tessera-gbt's input readers (tessera/trees/load/records.hpp): CSV
// rows and JSON records, against a small forest with named features and one category map.
// The first byte picks the reader and whether the forest names its features (else the
// readers fall back to XGBoost's f0, f1, ...). Every input must either fail with an error or
// hand the sink whole rows of the model's width, which the reference interpreter predicts.
//
// Built like forest_loader_fuzz (tests/fuzz/CMakeLists.txt): always as cli_records_replay
// over tests/fuzz/cli_records_corpus, and as the libFuzzer target cli_records_fuzz under clang.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "tessera/trees/load/records.hpp"
#include "tessera/trees/predict_ref.hpp"

namespace {

using namespace tessera;

// Four features; "colour" (index 2) is split categorically. Built once.
trees::forest make_forest(bool named) {
  trees::forest f;
  f.format = trees::source_format::xgboost;
  f.num_features = 4;
  if (named) f.feature_names = {"age", "height", "colour", "score"};
  f.base_margin = {0.5};
  f.category_bits = {0b101u};  // categories {0, 2} go left
  f.begin_tree(0);
  const std::int32_t root = f.add_numerical_split({.feature = 0, .threshold = 30.0, .default_left = true});
  const std::int32_t cat = f.add_categorical_split({.feature = 2, .cat_begin = 0, .cat_words = 1});
  const std::int32_t right = f.add_numerical_split({.feature = 3, .threshold = -1.0});
  f.set_children(root, cat, right);
  f.set_children(cat, f.add_leaf(1.0), f.add_leaf(-1.0));
  f.set_children(right, f.add_leaf(0.25), f.add_leaf(4.0));
  f.end_tree();
  if (!f.validate().ok()) std::abort();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const trees::forest named = make_forest(true), unnamed = make_forest(false);
  if (size == 0) return 0;
  const bool json = data[0] & 1;
  const trees::forest& f = (data[0] & 2) ? unnamed : named;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  const trees::row_sink sink = [&](const std::vector<double>& x, std::size_t n_rows) -> status {
    if (n_rows == 0 || x.size() != n_rows * nf) std::abort();  // whole rows only
    std::vector<double> out(n_rows * static_cast<std::size_t>(f.num_transformed_outputs()));
    if (!trees::ref::predict_rows(std::span<double>(out), f, std::span<const double>(x), n_rows).ok()) std::abort();
    return {};
  };
  if (json) {
    const trees::category_maps cats{{2, {{"red", 0.0}, {"green", 1.0}, {"blue", 2.0}}}};
    (void)trees::read_json_records(text, f, cats, sink);
  } else {
    (void)trees::read_csv(text, f, sink);
  }
  return 0;
}
