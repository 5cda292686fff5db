#!/usr/bin/env bash
# The full test suite: installs what is missing, builds natively (g++, plus a clang build of
# the header and core checks) and as WebAssembly (em++), then runs ctest on both: the native
# tests, the package-consumer checks, and every test binary again under Node.js.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TESSERA_BUILD_DIR:-$root/build}
jobs=${TESSERA_JOBS:-$(nproc)}

bash "$root/scripts/install-deps.sh"
export NODE_PATH=/usr/share/nodejs

step() { printf '\n== %s ==\n' "$*"; }

step "native build (g++)"
cmake -S "$root" -B "$build/native" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++
cmake --build "$build/native" -j "$jobs"

step "native build (clang++): header self-containment and core tests"
cmake -S "$root" -B "$build/native-clang" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DTESSERA_BUILD_EXAMPLES=OFF -DTESSERA_BUILD_BENCHMARKS=OFF
cmake --build "$build/native-clang" -j "$jobs" --target tessera_header_check test_core test_simd test_runtime

step "WebAssembly build (em++)"
emcmake cmake -S "$root" -B "$build/wasm" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build/wasm" -j "$jobs"

step "WebAssembly build with pthreads (thread pool and kernels)"
emcmake cmake -S "$root" -B "$build/wasm-mt" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSERA_WASM_THREADS=ON \
  -DTESSERA_BUILD_EXAMPLES=OFF -DTESSERA_BUILD_BENCHMARKS=OFF
cmake --build "$build/wasm-mt" -j "$jobs" --target test_runtime

status=0
step "native tests"
ctest --test-dir "$build/native" --output-on-failure -j "$jobs" || status=1
step "clang tests"
ctest --test-dir "$build/native-clang" --output-on-failure -j "$jobs" -R 'test_(core|simd|runtime)$' || status=1
step "WebAssembly tests with pthreads (Node.js)"
ctest --test-dir "$build/wasm-mt" --output-on-failure -j "$jobs" -R 'test_runtime$' || status=1
step "WebAssembly tests (Node.js)"
ctest --test-dir "$build/wasm" --output-on-failure -j "$jobs" || status=1

if ((status)); then echo "tessera: some tests FAILED" >&2; fi
exit $status
