#!/usr/bin/env bash
# Installs the optional peers of benchmarks/bench_trees (tessera works without them):
#   - python3-xgboost: trains the benchmark forest, times XGBoost's own predictor
#   - python3-onnx:    writes the forest as an ONNX ai.onnx.ml TreeEnsembleClassifier
#   - onnxruntime-node (native peer) and onnxruntime-web (WASM peer) from npm, into
#     benchmarks/js/node_modules (also the oracle of tests/onnx/face_detector_test.cpp, with
#     jpeg-js to decode its photos). --ignore-scripts: onnxruntime-node's CPU binary ships
#     inside the package, its postinstall only fetches optional GPU builds.
#   - @wllama/wllama (llama.cpp compiled to WebAssembly), the LLM peer in the browser
#     (benchmarks/llm/browser_bench.mjs).
# Usage: scripts/install-bench-peers.sh   (as root for apt-get; idempotent)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_apt=()
/usr/bin/python3 -c 'import xgboost' 2>/dev/null || need_apt+=(python3-xgboost)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need_apt+=(python3-onnx)
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || need_apt+=(python3-sklearn)
if ((${#need_apt[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

ORT_VERSION="${ORT_VERSION:-1.30.0}"
WLLAMA_VERSION="${WLLAMA_VERSION:-3.13.0}"
js="$here/benchmarks/js"
# One npm call for all of them: --no-save removes what a call does not name.
if [[ ! -d "$js/node_modules/onnxruntime-node" || ! -d "$js/node_modules/onnxruntime-web" || ! -d "$js/node_modules/jpeg-js" ||
      ! -d "$js/node_modules/@wllama/wllama" ]]; then
  command -v npm >/dev/null || { echo "install-bench-peers: npm is missing (apt-get install npm)" >&2; exit 1; }
  (cd "$js" && npm install --ignore-scripts --no-audit --no-fund --no-save --no-package-lock \
     "onnxruntime-node@$ORT_VERSION" "onnxruntime-web@$ORT_VERSION" "jpeg-js@0.4.4" "@wllama/wllama@$WLLAMA_VERSION")
fi
echo "install-bench-peers: ok"
