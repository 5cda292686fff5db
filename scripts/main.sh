#!/usr/bin/env bash
# The main job: installs what is missing, builds the examples natively and as WebAssembly,
# and runs them on the embedded default models.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TESSERA_BUILD_DIR:-$root/build}
jobs=${TESSERA_JOBS:-$(nproc)}

bash "$root/scripts/install-deps.sh"
export NODE_PATH=/usr/share/nodejs

cmake -S "$root" -B "$build/native" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
emcmake cmake -S "$root" -B "$build/wasm" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
examples=(tensor_demo quickstart)
[[ -d "$root/examples/tessera-gbt" ]] && examples+=(tessera-gbt)
[[ -f "$root/examples/models/tiny_llm.gguf" ]] && examples+=(tessera-llm)
examples+=(digits tessera-detect)
cmake --build "$build/native" -j "$jobs" --target "${examples[@]}"
cmake --build "$build/wasm" -j "$jobs" --target "${examples[@]}"

for target in native wasm; do
  run() { if [[ $target == wasm ]]; then node "$build/wasm/examples/$1.js" "${@:2}"; else "$build/native/examples/$1" "${@:2}"; fi; }
  printf '\n== tensor demo (%s) ==\n' "$target"
  run tensor_demo
  printf '\n== quickstart (%s) ==\n' "$target"
  run quickstart
  if [[ " ${examples[*]} " == *" tessera-gbt "* ]]; then
    printf '\n== tessera-gbt demo: embedded breast-cancer model, tessera vs XGBoost (%s) ==\n' "$target"
    run tessera-gbt/tessera-gbt demo
  fi
  if [[ " ${examples[*]} " == *" tessera-llm "* ]]; then
    # The embedded tiny demo LLM (README): text in, text out, streamed; sampled, then greedy.
    printf '\n== tessera-llm: the tiny demo model trained on fortune cookies (%s) ==\n' "$target"
    for prompt in "Your lucky number is" "Q: What is the difference between"; do
      printf '%s' "$prompt"
      run tessera-llm/tessera-llm generate --model "$root/examples/models/tiny_llm.gguf" --prompt "$prompt" -n 48 \
        --temperature 0.8 --top-k 40 --seed 7
      printf '\n'
    done
    printf 'greedy ids: '
    run tessera-llm/tessera-llm generate --model "$root/examples/models/tiny_llm.gguf" --prompt "Your lucky number is" -n 16 \
      --temperature 0 --print-token-ids
  fi
  printf '\n== digits: a CNN from ONNX on held-out 8x8 digits, tessera vs PyTorch (%s) ==\n' "$target"
  run digits "$root/examples/models"
  faces=$root/../shared/models/face-detector
  if [[ -f $faces/version-RFB-320.onnx ]]; then
    printf '\n== tessera-detect: the face detector on a photo (%s) ==\n' "$target"
    run tessera-detect/tessera-detect --model "$faces/version-RFB-320.onnx" --format ultraface "$faces/19.jpg"
  else
    printf '\n== tessera-detect: a YOLOv8-shaped model with random weights (%s) ==\n' "$target"
    run tessera-detect/tessera-detect --model "$root/tests/models/yolov8_tiny/model.onnx" --conf 0.5 "$root/examples/tessera-detect/testdata/photo.png"
  fi
done
