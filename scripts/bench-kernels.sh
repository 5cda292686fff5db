#!/usr/bin/env bash
# Reproduces the kernels table of docs/performance.md: builds bench_kernels natively and as
# WebAssembly, runs both (WASM under node --no-liftoff, the flag every WASM contender uses),
# and rewrites the GEMM table (<!-- kernels-table:begin/end -->) and the conv table
# (<!-- conv-table:begin/end -->) of docs/performance.md.
#   scripts/bench-kernels.sh [extra bench_kernels flags, e.g. --clock=cpu on a shared machine]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TESSERA_BUILD_DIR:-$root/build}
export NODE_PATH=/usr/share/nodejs
cmake -S "$root" -B "$build/native" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
emcmake cmake -S "$root" -B "$build/wasm" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build/native" -j2 --target bench_kernels
cmake --build "$build/wasm" -j2 --target bench_kernels
out=$(mktemp -d)
"$build/native/benchmarks/bench_kernels" --json "$@" > "$out/native.jsonl"
node --no-liftoff "$build/wasm/benchmarks/bench_kernels.js" --json "$@" > "$out/wasm.jsonl"
python3 "$root/scripts/perf_table.py" "$out/native.jsonl" "$out/wasm.jsonl" --bench gemm \
  --columns case,target,threads,tessera,peer,peer_value,ratio \
  --doc "$root/docs/performance.md" --section kernels-table
python3 "$root/scripts/perf_table.py" "$out/native.jsonl" "$out/wasm.jsonl" --bench conv2d \
  --pivot peak,eigen-im2col --doc "$root/docs/performance.md" --section conv-table
echo "records: $out/native.jsonl $out/wasm.jsonl"
