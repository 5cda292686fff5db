#!/usr/bin/env bash
# Installs what tessera's builds need on Debian 12, and nothing when it is all there.
#   scripts/install-deps.sh            build + test dependencies (native and WebAssembly)
#   scripts/install-deps.sh --models   also what the scripts that make test models need
#   scripts/install-deps.sh --bench    also the peers the benchmarks compare against
set -euo pipefail

packages=(cmake ninja-build g++ clang python3 nodejs ccache
          libxsimd-dev libeigen3-dev doctest-dev nlohmann-json3-dev emscripten node-acorn
          g++-aarch64-linux-gnu qemu-user  # the aarch64 NEON flavour, run under qemu
          libclang-rt-14-dev               # clang's sanitizer and libFuzzer runtimes
          chromium                         # the browser test of the npm package (tests/web)
          node-typescript                  # checks the package's hand-written .d.ts
          libstb-dev                       # stb_image / stb_image_write (tessera/vision/image_io.hpp)
          unicode-data)                    # tests/llm checks the generated Unicode tables against it
# npm packs and installs the JS package in its test, and brings playwright-core for the
# browser test. Node from another source ships its own npm, and Debian's conflicts with it.
command -v npm >/dev/null || packages+=(npm)
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --models) packages+=(python3-xgboost python3-sklearn python3-pandas libopenblas0-pthread
                         python3-torch python3-onnx    # make_detector_models.py, train_digits_cnn.py
                         python3-opencv                # make_vision_reference.py (cv2.resize, the face detector's)
                         python3-sentencepiece python3-regex  # the tokenizer fixtures
                         fortunes fortunes-min) ;;     # train_tiny_llm.py's corpus (with torch, sentencepiece)
    --bench) packages+=(python3-xgboost python3-sklearn python3-pandas python3-onnx libopenblas0-pthread
                        python3-sentencepiece)
             want_bench=1 ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) != 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"
fi

# playwright-core for tests/web/browser_test.mjs, into the project's own gitignored folder
# (no install scripts: it drives Debian's chromium, it downloads no browser).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ ! -d $root/tests/web/node_modules/playwright-core ]] && command -v npm >/dev/null; then
  (cd "$root/tests/web" && npm install --ignore-scripts --no-audit --no-fund --no-package-lock) ||
    echo "install-deps.sh: npm could not install playwright-core; the browser test will be skipped" >&2
fi

if ((want_bench)) && [[ -x "$(dirname "$0")/install-bench-peers.sh" || -f "$(dirname "$0")/install-bench-peers.sh" ]]; then
  bash "$(dirname "$0")/install-bench-peers.sh"
fi
