// Tests of include/tessera/kernels/op_list.def and kernels/registry.hpp: the registry's derived
// counts agree with an independent expansion of the list (each family test checks it ran
// registry::count of its family), names are unique, follow <dtype>_<op>__<arch>, and their
// dtype prefix matches the type.
#include "support/harness.hpp"

#include <tessera/kernels/binary.hpp>
#include <tessera/kernels/norm.hpp>
#include <tessera/kernels/reduce.hpp>
#include <tessera/kernels/registry.hpp>
#include <tessera/kernels/softmax.hpp>
#include <tessera/kernels/unary.hpp>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

using namespace tessera;

namespace {

struct entry {
  std::string_view name;
  std::string_view family;
  std::string_view dtype;  // dtype of the output's elements per the C++ type
};

template <class T>
constexpr std::string_view dtype_prefix() {
  if constexpr (std::is_same_v<T, float>) return "f32";
  else if constexpr (std::is_same_v<T, double>) return "f64";
  else if constexpr (std::is_same_v<T, f16>) return "f16";
  else if constexpr (std::is_same_v<T, bf16>) return "bf16";
  else if constexpr (std::is_same_v<T, std::int8_t>) return "s8";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "s32";
  else return "?";
}

constexpr entry listed[] = {
#define TESSERA_UNARY_KERNEL(name, T, fn, ...) {#name, "unary", dtype_prefix<T>()},
#define TESSERA_BINARY_KERNEL(name, T, fn, ...) {#name, "binary", dtype_prefix<T>()},
#define TESSERA_REDUCE_KERNEL(name, T, fn) {#name, "reduce", dtype_prefix<T>()},
#define TESSERA_ARG_REDUCE_KERNEL(name, T, fn) {#name, "arg_reduce", dtype_prefix<T>()},
#define TESSERA_SOFTMAX_KERNEL(name, T, fn) {#name, "softmax", dtype_prefix<T>()},
#define TESSERA_LAYER_NORM_KERNEL(name, T, fn) {#name, "layer_norm", dtype_prefix<T>()},
#define TESSERA_RMS_NORM_KERNEL(name, T, fn) {#name, "rms_norm", dtype_prefix<T>()},
#define TESSERA_CAST_KERNEL(name, To, From) {#name, "cast", dtype_prefix<From>()},
#define TESSERA_GEMM_KERNEL(name, role, isa) {#name, "gemm", "f32"},
#define TESSERA_CONV2D_KERNEL(name, algorithm) {#name, "conv2d", "f32"},
#include <tessera/kernels/op_list.def>
};

namespace reg = tessera::kernels::registry;
static_assert(sizeof(listed) / sizeof(listed[0]) == reg::kernel_count, "registry.hpp misses a family of op_list.def");
static_assert(sizeof(reg::gemm_kernels) / sizeof(reg::gemm_kernels[0]) == reg::count(reg::family::gemm));

constexpr std::size_t sum_of_family_counts() {
  std::size_t n = 0;
  for (auto f : {reg::family::unary, reg::family::binary, reg::family::reduce, reg::family::arg_reduce,
                 reg::family::softmax, reg::family::layer_norm, reg::family::rms_norm, reg::family::cast,
                 reg::family::gemm, reg::family::conv2d})
    n += reg::count(f);
  return n;
}
static_assert(sum_of_family_counts() == reg::kernel_count, "every entry belongs to exactly one family");

}  // namespace

TEST_SUITE("kernels/op_list") {

TEST_CASE("kernel names are unique and say their dtype, op and arch") {
  std::set<std::string_view> seen;
  for (const entry& e : listed) {
    INFO(std::string(e.name));
    CHECK(seen.insert(e.name).second);
    // <dtype>_<op>__<arch>: the name starts with the dtype of its (input) type...
    REQUIRE(e.name.size() > e.dtype.size() + 1);
    CHECK(e.name.substr(0, e.dtype.size()) == e.dtype);
    CHECK(e.name[e.dtype.size()] == '_');
    // ...and has exactly one "__" separating a non-empty arch.
    const auto sep = e.name.find("__");
    REQUIRE(sep != std::string_view::npos);
    CHECK(e.name.find("__", sep + 2) == std::string_view::npos);
    CHECK(sep + 2 < e.name.size());
  }
}

TEST_CASE("the registry's entries are the list's, in order") {
  REQUIRE(reg::kernel_count == sizeof(listed) / sizeof(listed[0]));
  for (std::size_t i = 0; i < reg::kernel_count; ++i) CHECK(reg::entries[i].name == listed[i].name);
}

}  // TEST_SUITE
