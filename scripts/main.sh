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
done
