// The trees family's C ABI (on top of wasm/abi.hpp): load an XGBoost / LightGBM model from
// streamed bytes, or use a forest compiled into the module (TESSERA_WASM_TREES_EMBED), then
// predict typed-array rows or JSON records. Records are read and answered by the code
// tessera-gbt runs (trees/load/records.hpp), so the JS package answers like the CLI:
// {"0": 0.15, "1": 0.85}.
//
//   tessera_trees_load(bytes)                      -> model (consumes the byte buffer)
//   tessera_trees_embedded()                       -> model (only in modules that embed one)
//   tessera_trees_info(model)                      -> JSON: names, keys, categories, sizes
//   tessera_trees_predict(model, rows, n_rows, n_features, rows_are_f64, out, out_len, margin)
//   tessera_trees_predict_records(model, json, len, margin)
//       -> tessera_trees_result(model), tessera_trees_result_rows(model)
//   tessera_trees_set_categories(model, json, len) (tessera-gbt's --categories)
//   tessera_trees_free(model)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/trees/forest.hpp"
#include "tessera/trees/forest_view.hpp"
#include "tessera/trees/load/load_forest.hpp"
#include "tessera/trees/load/records.hpp"
#include "tessera/trees/predict.hpp"
#include "tessera/wasm/abi.hpp"

namespace tessera::wasm {

struct trees_model {
  // The model's metadata without its trees (names, labels, objective, precision): what the
  // record readers and the answer's keys need. The trees live in `predictor` only.
  trees::forest schema;
  trees::category_maps categories;
  trees::predictor predictor;
  std::string origin;  // "xgboost", "lightgbm" or "compiled"
  std::string info;    // tessera_trees_info's JSON
  std::vector<double> result;        // the last records answer, rows x keys
  std::uint32_t result_rows = 0;
  std::vector<double> chunk_outputs;  // one chunk's model outputs
};

inline trees::forest schema_of(const trees::forest& f) {
  trees::forest s;
  s.format = f.format;
  s.num_features = f.num_features;
  s.num_outputs = f.num_outputs;
  s.accumulate = f.accumulate;
  s.features = f.features;
  s.objective = f.objective;
  s.feature_names = f.feature_names;
  s.feature_types = f.feature_types;
  s.class_labels = f.class_labels;
  return s;
}

// A feature's name in messages and in the info document: the model's, else XGBoost's fN.
inline std::string feature_label(const trees::forest& schema, std::size_t idx) {
  if (idx < schema.feature_names.size()) return schema.feature_names[idx];
  std::string name = std::to_string(idx);
  name.insert(name.begin(), 'f');  // not "f" + ...: GCC 12 warns (-Wrestrict) on it
  return name;
}

inline void build_info(trees_model& m) {
  const trees::forest& s = m.schema;
  std::string& out = m.info;
  out = "{\"format\":";
  append_json_string(out, m.origin);
  out += ",\"objective\":";
  append_json_string(out, s.objective.name);
  out += ",\"numFeatures\":" + std::to_string(s.num_features);
  out += ",\"numOutputs\":" + std::to_string(s.num_outputs);
  out += ",\"numTransformedOutputs\":" + std::to_string(s.num_transformed_outputs());
  out += ",\"numTrees\":" + std::to_string(m.predictor.num_trees());
  out += ",\"precision\":\"";
  out += s.accumulate == trees::accum_type::f64 ? "f64" : "f32";
  out += "\",\"featureNames\":";
  append_json_strings(out, s.feature_names);
  out += ",\"classLabels\":";
  append_json_strings(out, s.class_labels);
  out += ",\"outputKeys\":";
  append_json_strings(out, trees::record_columns_of(s, false).keys);
  out += ",\"marginKeys\":";
  append_json_strings(out, trees::record_columns_of(s, true).keys);
  // Category names in code order, per feature (the codes a record's strings map to).
  out += ",\"categories\":{";
  bool first = true;
  for (const auto& [feature, names] : m.categories) {
    std::vector<std::pair<double, std::string>> by_code;
    for (const auto& [name, code] : names) by_code.emplace_back(code, name);
    std::sort(by_code.begin(), by_code.end());
    if (!first) out += ',';
    first = false;
    append_json_string(out, feature_label(s, feature));
    out += ":[";
    for (std::size_t i = 0; i < by_code.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, by_code[i].second);
    }
    out += ']';
  }
  out += "}}";
}

inline status load_trees_model(std::unique_ptr<byte_buffer> bytes, std::unique_ptr<trees_model>& out) {
  if (!bytes) return make_error(errc::invalid_argument, "trees_load: no model bytes");
  TESSERA_ASSIGN_OR_RETURN(trees::forest f, trees::load_forest_from_memory(bytes->bytes));
  bytes.reset();  // the file's bytes go before the compiled layout is built
  auto m = std::make_unique<trees_model>();
  TESSERA_TRY(trees::model_categories(f, m->categories));
  TESSERA_ASSIGN_OR_RETURN(m->predictor, trees::compile(f));
  m->schema = schema_of(f);
  m->origin = f.format == trees::source_format::lightgbm ? "lightgbm" : "xgboost";
  build_info(*m);
  out = std::move(m);
  return {};
}

// A model over a forest compiled into the module (a tessera-gbt compile header).
inline status embedded_trees_model(const trees::forest_view& view, const char* objective,
                                   std::span<const char* const> feature_names,
                                   std::span<const char* const> class_labels, std::unique_ptr<trees_model>& out) {
  auto m = std::make_unique<trees_model>();
  TESSERA_ASSIGN_OR_RETURN(m->predictor, trees::predictor::wrap(view));
  trees::forest& s = m->schema;
  s.num_features = view.num_features;
  s.num_outputs = view.num_outputs;
  s.accumulate = view.accumulate;
  s.features = view.features;
  s.objective.name = objective;
  s.objective.transform = view.transform;
  s.objective.sigmoid_scale = view.sigmoid_scale;
  for (const char* n : feature_names) s.feature_names.emplace_back(n);
  for (const char* n : class_labels) s.class_labels.emplace_back(n);
  m->origin = "compiled";
  build_info(*m);
  out = std::move(m);
  return {};
}

inline status predict_rows(const trees_model& m, const void* rows, std::uint32_t n_rows, std::uint32_t n_features,
                           bool rows_f64, double* out, std::uint32_t out_len, bool margin) {
  const std::size_t n_values = static_cast<std::size_t>(n_rows) * n_features;
  if (n_rows != 0 && (rows == nullptr || out == nullptr))
    return make_error(errc::invalid_argument, "predict: null rows or outputs");
  const std::span<double> o(out, out_len);
  runtime::thread_pool* pool = active_pool();
  if (rows_f64) {
    const std::span<const double> x(static_cast<const double*>(rows), n_values);
    return margin ? m.predictor.predict_margin(o, x, n_features, pool) : m.predictor.predict(o, x, n_features, pool);
  }
  const std::span<const float> x(static_cast<const float*>(rows), n_values);
  return margin ? m.predictor.predict_margin(o, x, n_features, pool) : m.predictor.predict(o, x, n_features, pool);
}

inline status predict_records(trees_model& m, std::string_view text, bool margin) {
  const trees::record_columns columns = trees::record_columns_of(m.schema, margin);
  const std::size_t k = static_cast<std::size_t>(margin ? m.schema.num_outputs : m.schema.num_transformed_outputs());
  const std::size_t nf = static_cast<std::size_t>(m.schema.num_features);
  const std::size_t width = columns.keys.size();
  m.result.clear();
  m.result_rows = 0;
  const trees::row_sink sink = [&](const std::vector<double>& x, std::size_t n_rows) -> status {
    m.chunk_outputs.resize(n_rows * k);
    const std::span<double> o(m.chunk_outputs);
    const std::span<const double> rows(x);
    TESSERA_TRY(margin ? m.predictor.predict_margin(o, rows, nf, active_pool())
                       : m.predictor.predict(o, rows, nf, active_pool()));
    const std::size_t at = m.result.size();
    m.result.resize(at + n_rows * width);
    for (std::size_t r = 0; r < n_rows; ++r)
      trees::record_values(m.result.data() + at + r * width, m.chunk_outputs.data() + r * k, columns);
    m.result_rows += static_cast<std::uint32_t>(n_rows);
    return {};
  };
  const status s = trees::read_json_records(text, m.schema, m.categories, sink);
  if (!s.ok()) {
    m.result.clear();
    m.result_rows = 0;
  }
  return s;
}

}  // namespace tessera::wasm

// Loads an XGBoost JSON/UBJSON or LightGBM text model from the streamed bytes, which it frees
// (whether or not the load succeeds). Null on failure (error slot set).
TESSERA_WASM_EXPORT tessera::wasm::trees_model* tessera_trees_load(tessera::wasm::byte_buffer* bytes) {
  return tessera::wasm::load_from_bytes<tessera::wasm::trees_model>(bytes, tessera::wasm::load_trees_model);
}

TESSERA_WASM_EXPORT const char* tessera_trees_info(const tessera::wasm::trees_model* m) {
  return m == nullptr ? "" : m->info.c_str();
}

// rows: n_rows x n_features values, float (rows_f64 = 0) or double; out: out_len doubles,
// n_rows x (margin ? numOutputs : numTransformedOutputs).
TESSERA_WASM_EXPORT std::int32_t tessera_trees_predict(const tessera::wasm::trees_model* m, const void* rows,
                                                       std::uint32_t n_rows, std::uint32_t n_features,
                                                       std::int32_t rows_f64, double* out, std::uint32_t out_len,
                                                       std::int32_t margin) {
  return tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "predict: no model");
    return tessera::wasm::predict_rows(*m, rows, n_rows, n_features, rows_f64 != 0, out, out_len, margin != 0);
  });
}

// JSON records (an array of objects, or one object per line) keyed by feature name; strings
// are categories. The answer (rows x keys of outputKeys / marginKeys) stays in the model
// until the next call: tessera_trees_result / tessera_trees_result_rows.
TESSERA_WASM_EXPORT std::int32_t tessera_trees_predict_records(tessera::wasm::trees_model* m, const char* json,
                                                               std::uint32_t len, std::int32_t margin) {
  return tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "predict: no model");
    if (json == nullptr && len != 0) return tessera::make_error(tessera::errc::invalid_argument, "predict: null records");
    return tessera::wasm::predict_records(*m, std::string_view(json == nullptr ? "" : json, len), margin != 0);
  });
}

TESSERA_WASM_EXPORT const double* tessera_trees_result(const tessera::wasm::trees_model* m) {
  return m == nullptr ? nullptr : m->result.data();
}
TESSERA_WASM_EXPORT std::uint32_t tessera_trees_result_rows(const tessera::wasm::trees_model* m) {
  return m == nullptr ? 0u : m->result_rows;
}

// {"feature": ["cat_a", "cat_b"]} or {"feature": {"cat_a": 0}}: replaces the model's own
// category list of the features it names (tessera-gbt's --categories).
TESSERA_WASM_EXPORT std::int32_t tessera_trees_set_categories(tessera::wasm::trees_model* m, const char* json,
                                                              std::uint32_t len) {
  return tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "set_categories: no model");
    tessera::trees::category_maps updated = m->categories;
    TESSERA_TRY(tessera::trees::read_categories_json(std::string_view(json == nullptr ? "" : json, len), m->schema,
                                                     updated, "categories"));
    m->categories = std::move(updated);
    tessera::wasm::build_info(*m);
    return {};
  });
}

TESSERA_WASM_EXPORT void tessera_trees_free(tessera::wasm::trees_model* m) { delete m; }

// Defines tessera_trees_embedded() over the forest of a header written by
// `tessera-gbt compile --name NAME` (include that header first). Use it in one .cpp of a
// module; cmake/tessera_wasm.cmake's tessera_add_wasm_module(... FOREST_HEADER ...) does.
#define TESSERA_WASM_TREES_EMBED(NAME)                                                                       \
  TESSERA_WASM_EXPORT tessera::wasm::trees_model* tessera_trees_embedded() {                               \
    std::unique_ptr<tessera::wasm::trees_model> model;                                                      \
    const std::int32_t rc = tessera::wasm::guarded([&] {                                                    \
      return tessera::wasm::embedded_trees_model(NAME##_view, NAME##_objective, NAME##_feature_name_list,   \
                                                 NAME##_class_label_list, model);                           \
    });                                                                                                     \
    return rc == 0 ? model.release() : nullptr;                                                             \
  }
