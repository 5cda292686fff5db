// Feature umbrella for gradient-boosted trees (not included by tessera.hpp): the forest IR,
// output transforms, the reference interpreter and the model loaders.
//
//   auto forest = tessera::trees::load_forest("model.json");   // XGBoost JSON/UBJSON, LightGBM text
//   if (!forest) { /* forest.err().what() */ }
//   tessera::trees::ref::predict(out, *forest, std::span<const float>(row));
#pragma once

#include "tessera/trees/forest.hpp"
#include "tessera/trees/objective.hpp"
#include "tessera/trees/predict_ref.hpp"

#include "tessera/io/json.hpp"
#include "tessera/io/ubjson.hpp"
#include "tessera/trees/load/xgboost_json.hpp"
#include "tessera/trees/load/lightgbm_text.hpp"
#include "tessera/trees/load/load_forest.hpp"

// ---- fast predictors (part B) ------------------------------------------------------------
// The batched SIMD predictor and compiled forests (constexpr headers from tessera-gbt compile).
#include "tessera/trees/predict.hpp"
#include "tessera/trees/compiled.hpp"
