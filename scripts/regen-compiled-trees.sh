#!/usr/bin/env bash
# Regenerates the committed compiled-forest headers from their fixture models (run after
# scripts/make_tree_models.py changes a fixture; tests check these bytes).
#   scripts/regen-compiled-trees.sh <native build dir with tessera-gbt built>
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="${1:?usage: $0 BUILD_DIR}/examples/tessera-gbt/tessera-gbt"
m="$here/tests/models/trees"
"$tool" compile --model "$m/breast_cancer.json" --name breast_cancer > "$here/examples/tessera-gbt/breast_cancer_model.hpp"
"$tool" compile --model "$m/lgb_multiclass.txt" --name lgb_multiclass > "$here/tests/trees/generated/lgb_multiclass_model.hpp"
"$tool" compile --model "$m/xgb_categorical_reg.json" --name xgb_categorical_reg > "$here/tests/trees/generated/xgb_categorical_reg_model.hpp"
echo "regen-compiled-trees: ok"
