#!/usr/bin/env bash
# The full test suite: installs what is missing, then builds and runs
#   - the main native build (g++, -march=native): every test, example, benchmark smoke test and
#     the header, layering and package-consumer checks;
#   - a clang build of the header and core checks;
#   - the SIMD matrix (scripts/simd_flavours.txt): the unit tests and examples of every
#     flavour compiled on every machine (x86-64-v2/v3/v4, aarch64 NEON), run where the CPU has
#     the instructions or qemu-user can emulate them;
#   - WebAssembly SIMD128 (em++), single-threaded and with pthreads, run under Node.js, and
#     the npm package tessera-web (js/): its Node tests, npm pack, and the demo page in
#     headless chromium (tests/web, skipped with a message without npm or chromium);
#   - clang builds with ASan+UBSan (every test and example, and each libFuzzer target for
#     TESSERA_FUZZ_SECONDS, default 30) and with TSan (the threaded tests).
# It ends with a summary of which flavours ran and which were only compiled, and the time of
# each step. Set TESSERA_FLAVOURS="x86-64-v4 aarch64-neon" to build only some flavours.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TESSERA_BUILD_DIR:-$root/build}
jobs=${TESSERA_JOBS:-$(nproc)}

bash "$root/scripts/install-deps.sh"
export NODE_PATH=/usr/share/nodejs

# ccache, when installed, makes rebuilds of unchanged flavours nearly free, in any clone:
# paths under the checkout are hashed relative to it.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
fi

step_names=() step_secs=() step_start=0 step_name=""
end_step() {
  if [[ -n $step_name ]]; then step_names+=("$step_name"); step_secs+=($((SECONDS - step_start))); fi
  step_name=""
}
step() { end_step; step_name="$*"; step_start=$SECONDS; printf '\n== %s ==\n' "$*"; }

status=0
failed=()
fail() { status=1; failed+=("$1"); }

# The architecture a binary was built for, as its simd test reports it.
reported_arch() {
  "$@" -tc='the selected architecture is reported' -s 2>/dev/null | grep -o 'simd arch: [^,]*' | head -1 | cut -d' ' -f3 || true
}

# -O2: the level the README's plain command uses (main.sh and the benchmarks build -O3 on their
# own); it compiles the template-heavy tests 2-3x faster, which keeps CI within its budget.
# The header self-containment check (120 TUs of parsing) runs once, in the clang build below.
step "native build (g++, -march=native)"
cmake -S "$root" -B "$build/native" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DCMAKE_CXX_COMPILER=g++ -DTESSERA_HEADER_CHECK=OFF "${launcher[@]}"
cmake --build "$build/native" -j "$jobs" || fail "native build"
native_arch=$(reported_arch "$build/native/tests/test_simd")
native_vnni=$(g++ -march=native -dM -E -x c++ /dev/null | grep -c __AVX512VNNI__ || true)

step "native build (clang++): header self-containment and core tests"
cmake -S "$root" -B "$build/native-clang" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DTESSERA_BUILD_EXAMPLES=OFF -DTESSERA_BUILD_BENCHMARKS=OFF "${launcher[@]}"
cmake --build "$build/native-clang" -j "$jobs" --target tessera_header_check test_core test_simd test_runtime \
  || fail "clang build"

# ---- the SIMD matrix -------------------------------------------------------------------
host=$(uname -m)
cpu_flags=" $(grep -m1 -E '^(flags|Features)' /proc/cpuinfo | cut -d: -f2) "
declare -A flavour_arch flavour_built flavour_run flavour_result
flavour_test_modules="core;simd;kernels;trees;llm"
flavours=()
while read -r -u 3 name toolchain arch needs flags; do
  [[ -z $name || $name == \#* ]] && continue
  if [[ -n ${TESSERA_FLAVOURS:-} && " $TESSERA_FLAVOURS " != *" $name "* ]]; then continue; fi
  flavours+=("$name")
  flavour_arch[$name]=$arch
  dir="$build/flavour-$name"
  cross=()
  if [[ $toolchain != "$host" ]]; then
    file="$root/cmake/toolchains/$toolchain-linux-gnu.cmake"
    if [[ ! -f $file ]]; then
      flavour_built[$name]="no"; flavour_run[$name]="no: no $toolchain toolchain on a $host host"
      continue
    fi
    cross=(-DCMAKE_TOOLCHAIN_FILE="$file")
  fi
  # The flavour whose xsimd architecture the native build already selected adds nothing but
  # build time: its paths were compiled and run by the native build. Unless they differ in
  # VNNI, which xsimd does not name but the quantized kernels use (x86-64-v4 and its -vnni line).
  flavour_vnni=0; [[ ",$needs," == *",avx512_vnni,"* ]] && flavour_vnni=1
  if [[ $toolchain == "$host" && -n $native_arch && $arch == "$native_arch" && $flavour_vnni == "$native_vnni" ]]; then
    flavour_built[$name]="native"; flavour_run[$name]="as the native build (same xsimd arch and VNNI)"
    flavour_result[$name]="see native"
    continue
  fi
  step "flavour $name: build ($flags, xsimd $arch)"
  # -O1: the flavours are there for their instruction sets; the main build covers -O2 and the
  # package's WASM modules -O3. -O1 compiles the template-heavy tests 40% faster than -O2,
  # which keeps five builds of them within CI's budget.
  # Only the test folders whose code has ISA-specific paths: loaders, graph builders, CLIs and
  # the C ABI are the same code on every ISA and run in the main, sanitizer and WASM builds.
  if cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
       "${cross[@]}" "${launcher[@]}" \
       -DTESSERA_FLAVOUR="$name" -DTESSERA_ARCH_FLAGS="$flags" -DTESSERA_EXPECT_SIMD_ARCH="$arch" \
       -DTESSERA_BUILD_BENCHMARKS=OFF -DTESSERA_BUILD_EXAMPLES=OFF -DTESSERA_TEST_PACKAGING=OFF \
       -DTESSERA_TEST_MODULES="$flavour_test_modules" &&
     cmake --build "$dir" -j "$jobs"; then
    flavour_built[$name]="yes"
  else
    flavour_built[$name]="FAILED"; flavour_run[$name]="no: the build failed"; fail "flavour $name build"
    continue
  fi
  if [[ $toolchain != "$host" ]]; then
    if command -v "qemu-$toolchain" >/dev/null; then flavour_run[$name]="yes, under qemu-$toolchain"
    else flavour_run[$name]="no: qemu-$toolchain is not installed"; fi
  else
    missing=()
    for f in ${needs//,/ }; do [[ $cpu_flags == *" $f "* ]] || missing+=("$f"); done
    if ((${#missing[@]})); then flavour_run[$name]="no: this CPU lacks ${missing[*]}"
    else flavour_run[$name]="yes, natively"; fi
  fi
done 3< "$root/scripts/simd_flavours.txt"

# The tests compile -O2 as natively and link -O1 (wasm-opt's whole-module passes cost 40 s a
# test binary); the npm package's modules compile and link -O3.
wasm_levels=(-DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_EXE_LINKER_FLAGS_RELEASE="-O1")
step "WebAssembly build (em++)"
emcmake cmake -S "$root" -B "$build/wasm" -G Ninja -DCMAKE_BUILD_TYPE=Release "${wasm_levels[@]}" "${launcher[@]}"
cmake --build "$build/wasm" -j "$jobs" || fail "wasm build"

step "WebAssembly build with pthreads (thread pool and kernels)"
emcmake cmake -S "$root" -B "$build/wasm-mt" -G Ninja -DCMAKE_BUILD_TYPE=Release "${wasm_levels[@]}" -DTESSERA_WASM_THREADS=ON \
  -DTESSERA_BUILD_EXAMPLES=OFF -DTESSERA_BUILD_BENCHMARKS=OFF "${launcher[@]}"
cmake --build "$build/wasm-mt" -j "$jobs" --target test_runtime || fail "wasm-mt build"

# ---- sanitizers and fuzzing (clang's runtimes) ---------------------------------------------
# ASan+UBSan at -O0: instrumented code is slow to optimize (the ONNX ops' translation unit: 155 s
# of CPU at -O1, 24 s at -O0), and its tests run 2.8x slower, which costs CI far less; the
# libFuzzer targets keep their own -O1 (tests/fuzz/CMakeLists.txt) for their executions per
# second. TSan stays at -O1: its unoptimized code runs too slowly. Assertions stay on in both.
fuzz_seconds=${TESSERA_FUZZ_SECONDS:-30}
step "sanitizer build: ASan+UBSan (clang++), every test and example, the libFuzzer targets"
cmake -S "$root" -B "$build/asan" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O0" \
  -DCMAKE_CXX_COMPILER=clang++ -DTESSERA_SANITIZE=address,undefined -DTESSERA_BUILD_FUZZERS=ON \
  -DTESSERA_FUZZ_SECONDS="$fuzz_seconds" -DTESSERA_BUILD_BENCHMARKS=OFF -DTESSERA_TEST_PACKAGING=OFF "${launcher[@]}"
cmake --build "$build/asan" -j "$jobs" || fail "asan build"

step "sanitizer build: TSan (clang++), the threaded tests"
cmake -S "$root" -B "$build/tsan" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1" \
  -DCMAKE_CXX_COMPILER=clang++ -DTESSERA_SANITIZE=thread -DTESSERA_BUILD_EXAMPLES=OFF \
  -DTESSERA_BUILD_BENCHMARKS=OFF -DTESSERA_TEST_PACKAGING=OFF "${launcher[@]}"
cmake --build "$build/tsan" -j "$jobs" --target test_runtime test_concurrency || fail "tsan build"

# ---- tests -----------------------------------------------------------------------------
step "native tests"
ctest --test-dir "$build/native" --output-on-failure -j "$jobs" || fail "native tests"
step "clang tests"
ctest --test-dir "$build/native-clang" --output-on-failure -j "$jobs" -R 'test_(core|simd|runtime)$' || fail "clang tests"
for name in "${flavours[@]}"; do
  [[ ${flavour_run[$name]} == yes* ]] || continue
  step "flavour $name: tests (${flavour_run[$name]#yes, })"
  if ctest --test-dir "$build/flavour-$name" --output-on-failure -j "$jobs"; then flavour_result[$name]="passed"
  else flavour_result[$name]="FAILED"; fail "flavour $name tests"; fi
done
step "ASan+UBSan tests, then each fuzzer for ${fuzz_seconds} s"
ctest --test-dir "$build/asan" --output-on-failure -j "$jobs" || fail "asan tests"
step "TSan tests"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --test-dir "$build/tsan" --output-on-failure -j "$jobs" -R 'test_(runtime|concurrency)$' || fail "tsan tests"
step "WebAssembly tests with pthreads (Node.js)"
ctest --test-dir "$build/wasm-mt" --output-on-failure -j "$jobs" -R 'test_runtime$' || fail "wasm-mt tests"
step "WebAssembly tests (Node.js)"
ctest --test-dir "$build/wasm" --output-on-failure -j "$jobs" || fail "wasm tests"
# The npm package tessera-web in a browser: the demo page (examples/web) in headless chromium,
# both flavours, answers compared with tessera-gbt's, the LLM's ids with tessera-llm's and
# llm_fixture's, the digits CNN's probabilities with tessera-onnx's and the face detector's boxes
# (with ../shared) with tessera-detect's; a screenshot lands in $build/web-demo.png.
step "browser test: the npm package in headless chromium (tests/web)"
if ! command -v npm >/dev/null || [[ ! -x /usr/bin/chromium ]]; then
  echo "browser test: skipped: it needs npm and Debian's chromium (scripts/install-deps.sh installs both)"
else
  node "$root/tests/web/browser_test.mjs" --package "$build/wasm/js/package" \
    --cli "$build/native/examples/tessera-gbt/tessera-gbt" --llm-cli "$build/native/examples/tessera-llm/tessera-llm" \
    --llm-fixture "$build/native/tests/web/llm_fixture" --onnx-cli "$build/native/examples/tessera-onnx/tessera-onnx" \
    --detect-cli "$build/native/examples/tessera-detect/tessera-detect" --screenshot "$build/web-demo.png" || fail "browser test"
fi
end_step

# ---- summary ---------------------------------------------------------------------------
wasm_arch=$(reported_arch node "$build/wasm/tests/test_simd.js")
printf '\n== SIMD matrix on this machine (%s, %s) ==\n' "$host" \
  "$(grep -m1 -E '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
printf '%-14s %-12s %-9s %-58s %s\n' flavour "xsimd arch" compiled ran result
printf '%-14s %-12s %-9s %-58s %s\n' native "${native_arch:-?}" yes "yes, natively" \
  "$([[ " ${failed[*]} " == *"native tests"* ]] && echo FAILED || echo passed)"
for name in "${flavours[@]}"; do
  run=${flavour_run[$name]}
  printf '%-14s %-12s %-9s %-58s %s\n' "$name" "${flavour_arch[$name]}" "${flavour_built[$name]}" "$run" \
    "${flavour_result[$name]:-$([[ ${flavour_built[$name]} == yes ]] && echo "compile-only here")}"
done
printf '%-14s %-12s %-9s %-58s %s\n' wasm "${wasm_arch:-?}" yes "yes, under Node.js (SIMD128)" \
  "$([[ " ${failed[*]} " == *"wasm tests"* ]] && echo FAILED || echo passed)"
printf '%-14s %-12s %-9s %-58s %s\n' wasm-mt "${wasm_arch:-?}" yes "yes, under Node.js (SIMD128, pthreads)" \
  "$([[ " ${failed[*]} " == *"wasm-mt tests"* ]] && echo FAILED || echo passed)"
printf '%-14s %-12s %-9s %-58s %s\n' asan+ubsan "${native_arch:-?}" yes "yes, natively (fuzzers ${fuzz_seconds} s each)" \
  "$([[ " ${failed[*]} " == *"asan"* ]] && echo FAILED || echo passed)"
printf '%-14s %-12s %-9s %-58s %s\n' tsan "${native_arch:-?}" yes "yes, natively (threaded tests)" \
  "$([[ " ${failed[*]} " == *"tsan"* ]] && echo FAILED || echo passed)"

printf '\n== time per step ==\n'
total=0
for i in "${!step_names[@]}"; do
  printf '%6d s  %s\n' "${step_secs[$i]}" "${step_names[$i]}"
  total=$((total + step_secs[i]))
done
printf '%6d s  total\n' "$total"

if ((status)); then echo "tessera: FAILED: ${failed[*]}" >&2; fi
exit $status
