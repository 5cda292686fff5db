// The kernel registry: kernels/op_list.def as constexpr tables, and the counts derived from it
// (per family and in total), so tests and benchmarks that enumerate the list check themselves
// against it instead of against numbers kept by hand. Includes nothing heavy: gemm.hpp takes
// its micro-kernel's name from here.
#pragma once

#include <cstddef>
#include <string_view>

namespace tessera::kernels::registry {

// One per TESSERA_*_KERNEL macro of op_list.def.
enum class family { unary, binary, reduce, arg_reduce, softmax, layer_norm, rms_norm, cast, gemm, conv2d };

// The target a GEMM micro-kernel is compiled for (kernels/gemm/config.hpp selects one per
// build); `any` for the generic xsimd bodies every target compiles.
enum class gemm_isa { any, avx512f, avx2_fma, avx, sse, neon64, wasm128 };

// Where the GEMM driver runs a micro-kernel: `tile` is the blocked path's register tile,
// `skinny_axpy` / `skinny_dot` the M <= 8 paths (B read in place / B transposed), `gemv` the
// dot kernel of gemv_f32.
enum class gemm_role { tile, skinny_axpy, skinny_dot, gemv };

struct entry {
  std::string_view name;
  family fam;
};

inline constexpr entry entries[] = {
#define TESSERA_UNARY_KERNEL(name, ...) {#name, family::unary},
#define TESSERA_BINARY_KERNEL(name, ...) {#name, family::binary},
#define TESSERA_REDUCE_KERNEL(name, ...) {#name, family::reduce},
#define TESSERA_ARG_REDUCE_KERNEL(name, ...) {#name, family::arg_reduce},
#define TESSERA_SOFTMAX_KERNEL(name, ...) {#name, family::softmax},
#define TESSERA_LAYER_NORM_KERNEL(name, ...) {#name, family::layer_norm},
#define TESSERA_RMS_NORM_KERNEL(name, ...) {#name, family::rms_norm},
#define TESSERA_CAST_KERNEL(name, ...) {#name, family::cast},
#define TESSERA_GEMM_KERNEL(name, ...) {#name, family::gemm},
#define TESSERA_CONV2D_KERNEL(name, ...) {#name, family::conv2d},
#include <tessera/kernels/op_list.def>
};

inline constexpr std::size_t kernel_count = sizeof(entries) / sizeof(entries[0]);

constexpr std::size_t count(family f) {
  std::size_t n = 0;
  for (const entry& e : entries) n += e.fam == f;
  return n;
}

struct gemm_kernel {
  std::string_view name;
  gemm_role role;
  gemm_isa isa;
};

inline constexpr gemm_kernel gemm_kernels[] = {
#define TESSERA_GEMM_KERNEL(name, role, isa) {#name, gemm_role::role, gemm_isa::isa},
#include <tessera/kernels/op_list.def>
};

// Whether a build whose GEMM tile targets `built` compiles kernel `k`.
constexpr bool compiled_for(const gemm_kernel& k, gemm_isa built) { return k.isa == gemm_isa::any || k.isa == built; }

// Name of the kernel in `role` that a build targeting `built` runs; empty if none is listed.
constexpr std::string_view gemm_kernel_name(gemm_role role, gemm_isa built) {
  for (const gemm_kernel& k : gemm_kernels)
    if (k.role == role && compiled_for(k, built)) return k.name;
  return {};
}

}  // namespace tessera::kernels::registry
