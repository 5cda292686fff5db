// The TESSERA_CONV2D_KERNEL entries of kernels/op_list.def: each names an algorithm of
// kernels::conv2d_algorithm, prepared_conv2d can be forced to it on a shape it supports, and the
// name carries conv2d_algorithm_name(). Their results against the reference are checked per
// algorithm in conv2d_test.cpp.
#include <tessera/kernels/conv2d.hpp>
#include <tessera/kernels/registry.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace k = tessera::kernels;
namespace reg = tessera::kernels::registry;

struct conv_case {
  k::conv2d_params p;
  std::int64_t in_c, out_c;
};

// A layer the algorithm supports: depthwise needs groups == channels, gemm_1x1 a 1x1 kernel.
conv_case case_for(k::conv2d_algorithm a) {
  conv_case c{{}, 5, 7};
  if (a != k::conv2d_algorithm::gemm_1x1) {
    c.p.kernel_h = c.p.kernel_w = 3;
    c.p.pad_top = c.p.pad_left = c.p.pad_bottom = c.p.pad_right = 1;
  }
  if (a == k::conv2d_algorithm::depthwise) c.p.groups = c.in_c = c.out_c = 6;
  return c;
}

void check_registered_conv(std::string_view name, k::conv2d_algorithm algo) {
  INFO(std::string(name));
  CHECK(name.find(std::string("_conv2d_") + k::conv2d_algorithm_name(algo) + "__") != std::string_view::npos);
  const conv_case c = case_for(algo);
  const std::vector<float> weight(static_cast<std::size_t>(c.out_c * (c.in_c / c.p.groups) * c.p.kernel_h * c.p.kernel_w), 0.5f);
  auto prep = k::prepared_conv2d::prepare(c.p, c.in_c, c.out_c, weight.data(), nullptr, algo);
  REQUIRE_MESSAGE(prep.ok(), prep.what());
  CHECK(prep->algorithm() == algo);
}

}  // namespace

TEST_SUITE("kernels/op_list") {

TEST_CASE("every registered conv2d algorithm can be forced by name") {
  std::size_t kernels_run = 0;
#define TESSERA_CONV2D_KERNEL(name, algorithm)                  \
  check_registered_conv(#name, k::conv2d_algorithm::algorithm); \
  ++kernels_run;
#include <tessera/kernels/op_list.def>
  CHECK(kernels_run == reg::count(reg::family::conv2d));
}

}  // TEST_SUITE
