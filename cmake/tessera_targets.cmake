# Helpers for tessera's own tests, examples and benchmarks (not installed, not used by
# consumers). One tree builds natively or, under emcmake, as WebAssembly run by Node.js.
include_guard(GLOBAL)

if(EMSCRIPTEN AND TESSERA_WASM_THREADS)
  set(TESSERA_TARGET_KIND wasm-mt)
elseif(EMSCRIPTEN)
  set(TESSERA_TARGET_KIND wasm)
else()
  set(TESSERA_TARGET_KIND native)
endif()
# A SIMD-matrix flavour names its own ctest entries (x86-64-v4/test_kernels, ...).
if(TESSERA_FLAVOUR)
  set(TESSERA_TARGET_KIND ${TESSERA_FLAVOUR})
endif()

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

if(EMSCRIPTEN)
  # emcc's JS optimizer needs acorn, which Debian installs under /usr/share/nodejs.
  if(EXISTS /usr/share/nodejs/acorn)
    set(CMAKE_CXX_LINKER_LAUNCHER ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)
  endif()
  find_program(TESSERA_NODE NAMES node nodejs REQUIRED)
endif()

add_library(tessera_dev_flags INTERFACE)
target_link_libraries(tessera_dev_flags INTERFACE tessera::tessera)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(tessera_dev_flags INTERFACE -Wall -Wextra -Wpedantic)
endif()
if(EMSCRIPTEN)
  # Sync compilation: Node 20's global fetch breaks the async loader of Emscripten 3.1.6.
  # NODERAWFS: tests and tools read model files straight from the host file system.
  # ABORTING_MALLOC=0: a failed malloc / nothrow new returns null, which tessera turns into
  # errc::out_of_memory, instead of aborting the module. Growth already implies it in 3.1.6;
  # spelled out so the guarantee (tests/robustness) does not hang on that default.
  target_link_options(tessera_dev_flags INTERFACE
    -sWASM_ASYNC_COMPILATION=0 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sABORTING_MALLOC=0
    -sNODERAWFS=1 -sEXIT_RUNTIME=1 -sTOTAL_STACK=4MB)
  if(TESSERA_WASM_THREADS)
    target_compile_options(tessera_dev_flags INTERFACE -pthread)
    target_link_options(tessera_dev_flags INTERFACE -pthread -sPTHREAD_POOL_SIZE=4)
  endif()
elseif(TESSERA_ARCH_FLAGS)
  separate_arguments(_tessera_arch_flags UNIX_COMMAND "${TESSERA_ARCH_FLAGS}")
  target_compile_options(tessera_dev_flags INTERFACE ${_tessera_arch_flags})
  # GCC 12's own avx512fintrin.h self-initializes its "undefined" vectors (__Y = __Y, GCC
  # bug 105593, fixed in 13): every AVX-512 build then floods the log with (maybe-)uninitialized
  # warnings from inlined intrinsics, Eigen's and xsimd's alike. Silenced only there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    include(CheckCXXSourceCompiles)
    set(CMAKE_REQUIRED_FLAGS "${TESSERA_ARCH_FLAGS}")
    check_cxx_source_compiles("#ifndef __AVX512F__\n#error no AVX-512\n#endif\nint main() {}" TESSERA_TARGET_HAS_AVX512F)
    unset(CMAKE_REQUIRED_FLAGS)
    if(TESSERA_TARGET_HAS_AVX512F)
      target_compile_options(tessera_dev_flags INTERFACE -Wno-maybe-uninitialized -Wno-uninitialized)
    endif()
  endif()
endif()
if(NOT EMSCRIPTEN)
  find_package(Threads REQUIRED)
  target_link_libraries(tessera_dev_flags INTERFACE Threads::Threads)
endif()

# Sanitized builds of tessera's own tests and examples (scripts/test.sh builds
# address,undefined and thread): any report fails the test that triggered it.
set(TESSERA_SANITIZE "" CACHE STRING "-fsanitize= list for tests and examples, e.g. address,undefined or thread")
if(TESSERA_SANITIZE AND NOT EMSCRIPTEN)
  # Line tables are all a report's stack needs, at a fraction of full debug info's compile time.
  set(_tessera_san -fsanitize=${TESSERA_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -gline-tables-only)
  target_compile_options(tessera_dev_flags INTERFACE ${_tessera_san})
  target_link_options(tessera_dev_flags INTERFACE ${_tessera_san})
endif()

# The checkout's path, only for the programs that read its model files: a define naming the
# checkout on every command line would make ccache miss for every file of another clone.
add_library(tessera_source_dir INTERFACE)
target_compile_definitions(tessera_source_dir INTERFACE TESSERA_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# Test-only dependencies: doctest and nlohmann_json, staged like xsimd for WASM.
tessera_stage_header_dir(TESSERA_DOCTEST_DIR doctest doctest.h)
tessera_stage_header_dir(TESSERA_NLOHMANN_DIR nlohmann json.hpp)

# Prefix so one ctest summary tells the native and the WASM run apart.
# WASM binaries run under node directly (emcmake's default emulator passes a flag that
# Node 20 rejects).
function(tessera_add_ctest name target)
  if(EMSCRIPTEN)
    add_test(NAME ${TESSERA_TARGET_KIND}/${name} COMMAND ${TESSERA_NODE} $<TARGET_FILE:${target}> ${ARGN})
  else()
    add_test(NAME ${TESSERA_TARGET_KIND}/${name} COMMAND ${target} ${ARGN})
  endif()
  if(EMSCRIPTEN)
    set_tests_properties(${TESSERA_TARGET_KIND}/${name} PROPERTIES
      ENVIRONMENT "NODE_PATH=/usr/share/nodejs")
  endif()
endfunction()

# The ONNX op implementations (most of the importer's compile time) compiled once per build
# instead of once per translation unit that loads a model: tests, examples and benchmarks that
# do link this and see TESSERA_ONNX_OPS_EXTERN (onnx/registry.hpp). The fuzz targets, built
# with their own instrumentation, stay header-only.
add_library(tessera_onnx_ops OBJECT EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/tests/support/onnx_ops.cpp)
target_link_libraries(tessera_onnx_ops PUBLIC tessera_dev_flags)
target_compile_definitions(tessera_onnx_ops PUBLIC TESSERA_ONNX_OPS_EXTERN)

# tessera_add_cli_checks(<tool target> <test name prefix> CHECKS <check>... [DEFINES -DVAR=value...])
# One ctest per check, driven by the current folder's check_cli.cmake (cmake -DCHECK=<check> -P,
# helpers in cmake/cli_check_common.cmake) with TOOL, EMULATOR, SOURCE_DIR and WORK_DIR set.
# WASM runs under plain node (emcmake's emulator adds a flag Node 20 rejects; NODERAWFS gives
# the tool its files); a cross build under its emulator, a list (qemu-aarch64;-L;<sysroot>)
# passed with '|' for ';' or add_test would split it into separate arguments.
function(tessera_add_cli_checks target prefix)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "CHECKS;DEFINES")
  if(EMSCRIPTEN)
    set(emulator ${TESSERA_NODE})
  else()
    string(REPLACE ";" "|" emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")
  endif()
  foreach(check IN LISTS arg_CHECKS)
    set(name ${TESSERA_TARGET_KIND}/${prefix}_${check})
    add_test(NAME ${name}
             COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:${target}> "-DEMULATOR=${emulator}"
                     -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/cli_checks
                     ${arg_DEFINES} -DCHECK=${check} -P ${CMAKE_CURRENT_SOURCE_DIR}/check_cli.cmake)
    if(EMSCRIPTEN)
      set_tests_properties(${name} PROPERTIES ENVIRONMENT "NODE_PATH=/usr/share/nodejs")
    endif()
  endforeach()
endfunction()
