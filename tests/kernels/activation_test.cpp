// kernels/activation.hpp: one activation, one semantics. A fused GEMM/GEMV/conv epilogue must
// give the bits of the unfused op (the same GEMM/conv without the activation, then the unary
// kernel), with NaN, +-inf, -0 and huge values landing in every column (SIMD lanes and
// tails alike); and the kernels agree with the scalar reference (kernels/ref/activation.hpp).
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/conv2d.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/kernels/gemv.hpp>
#include <tessera/kernels/ref/activation.hpp>
#include <tessera/kernels/ref/gemm.hpp>
#include <tessera/kernels/ref/unary.hpp>
#include <tessera/kernels/unary.hpp>

#include <doctest/doctest.h>

#include "support/harness.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace tessera;
namespace k = tessera::kernels;
namespace kr = tessera::kernels::ref;
using k::activation;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
// Values whose activation is an edge case: NaN, infinities, signed zeros, overflow of the
// intermediate terms (x^3, exp(-x)), the clip bounds, a subnormal.
const float kSpecials[] = {kNaN, kInf, -kInf, -0.0f, 0.0f, 3e38f, -3e38f, 1e30f, -1e30f, 88.5f, -88.5f, 20.0f, -20.0f,
                           -0.5f, 0.75f, 1e-40f};
constexpr std::size_t kNumSpecials = sizeof(kSpecials) / sizeof(kSpecials[0]);

const activation kActs[] = {activation::relu, activation::silu, activation::gelu, activation::clip};
constexpr float kClipMin = -0.5f, kClipMax = 0.75f;

std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Every element of an M x N block (leading dimension ld) has the same bits in got and want,
// -0 included; any NaN matches any NaN (IEEE leaves the sign and payload of a NaN result
// unspecified, and the compiler may swap the operands of a commutative operation).
bool same_bits(const float* got, const float* want, std::size_t M, std::size_t N, std::size_t ld,
               const std::string& what) {
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t j = 0; j < N; ++j)
      if (bits(got[i * ld + j]) != bits(want[i * ld + j]) && !(std::isnan(got[i * ld + j]) && std::isnan(want[i * ld + j]))) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "fused %.9g (0x%08x), unfused %.9g (0x%08x)", double(got[i * ld + j]),
                      unsigned(bits(got[i * ld + j])), double(want[i * ld + j]), unsigned(bits(want[i * ld + j])));
        FAIL_CHECK(what << ": [" << i << "," << j << "] " << buf);
        return false;
      }
  return true;
}

// The unfused activation: the public unary kernel over an M x N view with leading dimension ld.
void unary_kernel(activation act, float* c, std::size_t M, std::size_t N, std::size_t ld) {
  const TensorView<float> v(c, {static_cast<index_t>(M), static_cast<index_t>(N)}, {static_cast<index_t>(ld), 1});
  status st;
  switch (act) {
    case activation::relu: st = k::relu(v, v); break;
    case activation::silu: st = k::silu(v, v); break;
    case activation::gelu: st = k::gelu(v, v); break;
    case activation::clip: st = k::clip(v, v, kClipMin, kClipMax); break;
    case activation::none: break;
  }
  REQUIRE_MESSAGE(st.ok(), st.what());
}

// A special value at (i, j) for about a third of the positions; the pattern shifts with
// `variant`, so over the variants every special lands in every column.
float special_or(float x, std::size_t i, std::size_t j, std::size_t variant) {
  const std::size_t s = (i + 2 * j + variant) % (kNumSpecials + kNumSpecials / 2);
  return s < kNumSpecials ? kSpecials[s] : x;
}

struct gemm_shape {
  std::size_t M, N, K;
};

}  // namespace

TEST_SUITE("kernels/activation") {

TEST_CASE("a fused GEMM/GEMV epilogue equals the GEMM then the unary kernel, bit for bit") {
  INFO("arch " << simd::arch_name() << ", GEMM kernel " << k::gemm_f32_kernel_name());
  test::rng g(901);
  runtime::thread_pool pool(2);
  // Skinny (M <= 8: dot and axpy paths), blocked, K over one K block; N odd, around and not
  // a multiple of 16 (every lane count's tail).
  const gemm_shape shapes[] = {{1, 33, 17}, {3, 17, 9},  {5, 47, 64},  {8, 31, 5},  {13, 19, 40},
                               {37, 70, 33}, {20, 15, 300}, {9, 1, 7},  {16, 49, 12}};
  int cases = 0;
  for (const auto& s : shapes)
    for (activation act : kActs)
      for (std::size_t variant = 0; variant < kNumSpecials; ++variant) {
        const std::size_t M = s.M, N = s.N, K = s.K, ldc = N + (variant % 3);
        const bool tb = variant % 2, packed = variant % 5 == 4;
        const float alpha = variant % 4 == 1 ? -1.0f : 1.0f, beta = variant % 4 == 2 ? 0.5f : 0.0f;
        auto A = test::random_floats(M * K, -1, 1, g);
        const auto B = test::random_floats(K * N, -1, 1, g);
        for (std::size_t k = 0; k < K; ++k) A[k] = 0.0f;  // row 0 sums to +0: with alpha -1, a -0
        if (variant % 7 == 3) A[(M / 2) * K] = kSpecials[variant];  // a special in A spreads over its row
        std::vector<float> bias(N), res(M * ldc);
        for (std::size_t j = 0; j < N; ++j) bias[j] = special_or(static_cast<float>(g.uniform(-1, 1)), 0, j, variant);
        for (std::size_t i = 0; i < M; ++i)
          for (std::size_t j = 0; j < ldc; ++j)
            res[i * ldc + j] = special_or(static_cast<float>(g.uniform(-1, 1)), i + 1, j, variant + 5);
        const auto C0 = test::random_floats(M * ldc, -1, 1, g);
        for (int parts = 1; parts < 4; ++parts) {  // bias, residual, both
          k::epilogue ep;
          ep.bias = parts & 1 ? bias.data() : nullptr;
          ep.residual = parts & 2 ? res.data() : nullptr;
          ep.ld_residual = static_cast<std::ptrdiff_t>(ldc);
          ep.clip_min = kClipMin;
          ep.clip_max = kClipMax;
          auto fused = C0, unfused = C0;
          auto run = [&](float* C, const k::epilogue& e) {
            status st;
            if (packed) {
              auto pb = k::packed_b_f32::pack(K, N, B.data(), static_cast<std::ptrdiff_t>(tb ? K : N),
                                              tb ? k::transpose::yes : k::transpose::no);
              REQUIRE_MESSAGE(pb.ok(), pb.what());
              st = k::gemm_f32(M, A.data(), static_cast<std::ptrdiff_t>(K), *pb, C, static_cast<std::ptrdiff_t>(ldc), e,
                               &pool);
            } else {
              st = k::gemm_f32(M, N, K, alpha, A.data(), static_cast<std::ptrdiff_t>(K), k::transpose::no, B.data(),
                               static_cast<std::ptrdiff_t>(tb ? K : N), tb ? k::transpose::yes : k::transpose::no, beta,
                               C, static_cast<std::ptrdiff_t>(ldc), e, &pool);
            }
            REQUIRE_MESSAGE(st.ok(), st.what());
          };
          k::epilogue plain = ep;
          plain.act = activation::none;
          ep.act = act;
          run(fused.data(), ep);
          run(unfused.data(), plain);
          unary_kernel(act, unfused.data(), M, N, ldc);
          const std::string what = std::string(k::activation_name(act)) + " M=" + std::to_string(M) +
                                   " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                                   " variant=" + std::to_string(variant) + " parts=" + std::to_string(parts) +
                                   (packed ? " packed" : "") + (tb ? " B^T" : "");
          if (!same_bits(fused.data(), unfused.data(), M, N, ldc, what)) return;
          ++cases;
        }
      }
  CHECK(cases == 9 * 4 * int(kNumSpecials) * 3);

  // gemv_f32 (y = W x, the decoding path) with specials in the bias.
  for (std::size_t N : {std::size_t{1}, std::size_t{15}, std::size_t{17}, std::size_t{33}, std::size_t{71}})
    for (activation act : kActs)
      for (std::size_t variant = 0; variant < kNumSpecials; ++variant) {
        const std::size_t K = 23;
        const auto W = test::random_floats(N * K, -1, 1, g), x = test::random_floats(K, -1, 1, g);
        std::vector<float> bias(N);
        for (std::size_t j = 0; j < N; ++j) bias[j] = special_or(static_cast<float>(g.uniform(-1, 1)), 0, j, variant);
        k::epilogue ep;
        ep.bias = bias.data();
        ep.clip_min = kClipMin;
        ep.clip_max = kClipMax;
        std::vector<float> fused(N), unfused(N);
        k::epilogue plain = ep;
        ep.act = act;
        REQUIRE(k::gemv_f32(N, K, 1.0f, W.data(), static_cast<std::ptrdiff_t>(K), x.data(), 0.0f, fused.data(), ep).ok());
        REQUIRE(k::gemv_f32(N, K, 1.0f, W.data(), static_cast<std::ptrdiff_t>(K), x.data(), 0.0f, unfused.data(), plain).ok());
        unary_kernel(act, unfused.data(), 1, N, N);
        if (!same_bits(fused.data(), unfused.data(), 1, N, N,
                       std::string("gemv ") + k::activation_name(act) + " N=" + std::to_string(N)))
          return;
      }
}

TEST_CASE("a fused conv epilogue equals the conv then the unary kernel, bit for bit, on every path") {
  INFO("arch " << simd::arch_name());
  test::rng g(902);
  struct conv_case {
    const char* name;
    std::int64_t cin, cout, k, stride, pad, groups;
    bool transpose;
    k::conv2d_algorithm expect;
  };
  // Output channel counts odd and not multiples of 16, so channels split into lanes and a tail.
  const conv_case cases[] = {
      {"gemm_1x1", 6, 19, 1, 1, 0, 1, false, k::conv2d_algorithm::gemm_1x1},
      {"gemm_1x1", 3, 33, 1, 1, 0, 1, false, k::conv2d_algorithm::gemm_1x1},
      {"im2col", 5, 17, 3, 1, 1, 1, false, k::conv2d_algorithm::im2col_gemm},
      {"im2col grouped", 6, 9, 3, 2, 1, 3, false, k::conv2d_algorithm::im2col_gemm},
      {"depthwise 3x3", 19, 19, 3, 1, 1, 19, false, k::conv2d_algorithm::depthwise},
      {"depthwise 3x3/2", 33, 33, 3, 2, 1, 33, false, k::conv2d_algorithm::depthwise},
      {"depthwise 5x5", 7, 7, 5, 1, 2, 7, false, k::conv2d_algorithm::depthwise},
      {"depthwise 3x3 C1", 1, 1, 3, 1, 1, 1, false, k::conv2d_algorithm::depthwise},
      {"transpose", 4, 17, 3, 2, 1, 1, true, k::conv2d_algorithm::automatic},
      {"transpose", 8, 5, 2, 2, 0, 1, true, k::conv2d_algorithm::automatic},
  };
  int ran = 0;
  for (const auto& c : cases)
    for (activation act : kActs)
      for (std::size_t variant = 0; variant < kNumSpecials; variant += 3) {
        const k::image_shape in{2, c.cin, 7, 9};
        k::conv2d_params p;
        p.kernel_h = p.kernel_w = c.k;
        p.stride_h = p.stride_w = c.stride;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = c.pad;
        p.groups = c.groups;
        const std::size_t wcount = static_cast<std::size_t>(c.cout * (c.cin / c.groups) * c.k * c.k);
        auto x = test::random_floats(static_cast<std::size_t>(in.numel()), -1, 1, g);
        if (variant % 2) x[static_cast<std::size_t>(c.cin) * 4 + 1] = kSpecials[variant];  // spreads over a window
        const auto w = test::random_floats(wcount, -1, 1, g);
        std::vector<float> bias(static_cast<std::size_t>(c.cout));
        for (std::size_t j = 0; j < bias.size(); ++j) bias[j] = special_or(static_cast<float>(g.uniform(-1, 1)), 0, j, variant);
        for (bool with_bias : {true, false}) {
          const float* b = with_bias ? bias.data() : nullptr;
          std::vector<float> fused, unfused, res;
          auto run = [&](std::vector<float>& out, activation a) {
            k::conv2d_epilogue ep;
            ep.act = a;
            ep.clip_min = kClipMin;
            ep.clip_max = kClipMax;
            // Shared by both layer kinds once prepared: output, residual, the call itself.
            auto finish = [&](const auto& prep, auto conv) {
              auto geo = prep.geometry(in);
              REQUIRE_MESSAGE(geo.ok(), geo.what());
              out.assign(geo->out_size(), -7.0f);
              if (res.empty()) {
                res.resize(out.size());
                for (std::size_t i = 0; i < res.size(); ++i)
                  res[i] = special_or(static_cast<float>(g.uniform(-1, 1)), i / geo->out_c, i % geo->out_c, variant + 1);
              }
              ep.residual = res.data();
              const auto st = conv(out.data(), x.data(), in, prep, ep);
              REQUIRE_MESSAGE(st.ok(), st.what());
            };
            if (c.transpose) {
              auto prep = k::prepared_conv_transpose2d::prepare(p, c.cin, c.cout, w.data(), b);
              REQUIRE_MESSAGE(prep.ok(), prep.what());
              finish(*prep, [](auto&&... a) { return k::conv_transpose2d(a...); });
            } else {
              auto prep = k::prepared_conv2d::prepare(p, c.cin, c.cout, w.data(), b);
              REQUIRE_MESSAGE(prep.ok(), prep.what());
              CHECK(prep->algorithm() == c.expect);
              finish(*prep, [](auto&&... a) { return k::conv2d(a...); });
            }
          };
          run(fused, act);
          run(unfused, activation::none);
          const std::size_t C = static_cast<std::size_t>(c.cout);
          unary_kernel(act, unfused.data(), unfused.size() / C, C, C);
          const std::string what = std::string(c.name) + " Cout=" + std::to_string(C) + " " +
                                   k::activation_name(act) + " variant=" + std::to_string(variant) +
                                   (with_bias ? " bias" : "");
          if (!same_bits(fused.data(), unfused.data(), unfused.size() / C, C, C, what)) return;
          ++ran;
        }
      }
  CHECK(ran == 10 * 4 * int((kNumSpecials + 2) / 3) * 2);
}

TEST_CASE("every activation kernel agrees with the scalar reference on special values") {
  INFO("arch " << simd::arch_name());
  // Specials and a sweep, in every position of a row of odd length (contiguous and strided).
  std::vector<float> x(kSpecials, kSpecials + kNumSpecials);
  for (int i = -60; i <= 60; ++i) x.push_back(static_cast<float>(i) * 0.25f);
  for (float v : {1e-30f, -1e-30f, 5.5f, -5.5f, 10.0f, -10.0f, 1e5f, -1e5f, 80.0f, -80.0f, 100.0f, -100.0f}) x.push_back(v);
  const index_t n = static_cast<index_t>(x.size());
  // xsimd's erfc is ~1e-5 relative deep in its tail (gelu(-11.75)), and its exp overflows
  // from 88.38 on, ln(FLT_MAX) = 88.72 (silu(-88.5) = -0 for -3e-37): hence these bounds.
  constexpr double kRtol = 2e-5, kAtol = 1e-35;
  struct op {
    const char* name;
    status (*kernel)(TensorView<float>, TensorView<const float>);
    double (*ref)(double);
    bool exact;  // an exact function of x: bits must match, -0 included
  };
  const op ops[] = {
      {"relu", [](TensorView<float> o, TensorView<const float> i) { return k::relu(o, i); }, [](double v) { return kr::act::relu(v); }, true},
      {"leaky_relu", [](TensorView<float> o, TensorView<const float> i) { return k::leaky_relu(o, i, 0.125f); }, [](double v) { return kr::act::leaky_relu(v, 0.125); }, true},
      {"clip", [](TensorView<float> o, TensorView<const float> i) { return k::clip(o, i, kClipMin, kClipMax); }, [](double v) { return kr::act::clip(v, double(kClipMin), double(kClipMax)); }, true},
      {"clip 0..6", [](TensorView<float> o, TensorView<const float> i) { return k::clip(o, i, 0.0f, 6.0f); }, [](double v) { return kr::act::clip(v, 0.0, 6.0); }, true},
      {"sigmoid", [](TensorView<float> o, TensorView<const float> i) { return k::sigmoid(o, i); }, [](double v) { return kr::act::sigmoid(v); }, false},
      {"silu", [](TensorView<float> o, TensorView<const float> i) { return k::silu(o, i); }, [](double v) { return kr::act::silu(v); }, false},
      {"gelu", [](TensorView<float> o, TensorView<const float> i) { return k::gelu(o, i); }, [](double v) { return kr::act::gelu(v); }, false},
      {"gelu_tanh", [](TensorView<float> o, TensorView<const float> i) { return k::gelu_tanh(o, i); }, [](double v) { return kr::act::gelu_tanh(v); }, false},
      {"softplus", [](TensorView<float> o, TensorView<const float> i) { return k::softplus(o, i); }, [](double v) { return kr::act::softplus(v); }, false},
      {"hardswish", [](TensorView<float> o, TensorView<const float> i) { return k::hardswish(o, i); }, [](double v) { return kr::act::hardswish(v); }, false},
  };
  for (const auto& o : ops) {
    INFO(std::string(o.name));
    std::vector<float> y(x.size()), ys(2 * x.size()), want(x.size());
    REQUIRE(o.kernel(TensorView<float>(y.data(), {n}), TensorView<const float>(x.data(), {n})).ok());
    for (std::size_t i = 0; i < x.size(); ++i) want[i] = static_cast<float>(o.ref(static_cast<double>(x[i])));
    for (std::size_t i = 0; i < x.size(); ++i) {
      CAPTURE(x[i]);
      CHECK(std::isnan(y[i]) == std::isnan(want[i]));
      if (std::isnan(want[i])) continue;
      if (o.exact || std::isinf(want[i]) || want[i] == 0.0f) CHECK(bits(y[i]) == bits(want[i]));
      else CHECK(std::fabs(double(y[i]) - double(want[i])) <= kRtol * std::fabs(double(want[i])) + kAtol);
    }
    // A strided output (every other element) gives the bits of the contiguous one.
    REQUIRE(o.kernel(TensorView<float>(ys.data(), {n}, {2}), TensorView<const float>(x.data(), {n})).ok());
    std::vector<float> every_other(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) every_other[i] = ys[2 * i];
    CHECK(same_bits(every_other.data(), y.data(), 1, x.size(), x.size(), std::string(o.name) + " strided"));
  }
  // The fused epilogue's reference is the same: a 1 x N GEMM whose product is x.
  for (activation act : kActs) {
    INFO(k::activation_name(act));
    const float one = 1.0f;
    std::vector<float> c(x.size()), want(x.size());
    k::epilogue ep;
    ep.act = act;
    ep.clip_min = kClipMin;
    ep.clip_max = kClipMax;
    REQUIRE(k::gemm_f32(1, x.size(), 1, 1.0f, &one, 1, k::transpose::no, x.data(), n, k::transpose::no, 0.0f, c.data(), n, ep).ok());
    kr::gemm_f32(1, x.size(), 1, 1.0f, &one, 1, k::transpose::no, x.data(), n, k::transpose::no, 0.0f, want.data(), n, ep);
    for (std::size_t i = 0; i < x.size(); ++i) {
      CAPTURE(x[i]);
      CHECK(std::isnan(c[i]) == std::isnan(want[i]));
      if (!std::isnan(want[i]) && (std::isinf(want[i]) || want[i] == 0.0f || act == activation::relu || act == activation::clip))
        CHECK(bits(c[i]) == bits(want[i]));
      else if (!std::isnan(want[i]))
        CHECK(std::fabs(double(c[i]) - double(want[i])) <= kRtol * std::fabs(double(want[i])) + kAtol);
    }
  }
}

TEST_CASE("with_activation hands over the functor of each epilogue activation, with the documented edge cases") {
  float got = 0;
  auto apply = [&](activation a, float v) {
    k::with_activation(a, 0.0f, 6.0f, [&](const auto& f) { got = f(simd::f32(v)).get(0); });
    return got;
  };
  CHECK(apply(activation::none, -3.0f) == -3.0f);
  CHECK(apply(activation::relu, -3.0f) == 0.0f);
  CHECK(std::isnan(apply(activation::relu, kNaN)));
  CHECK(std::isnan(apply(activation::clip, kNaN)));
  CHECK(apply(activation::clip, 9.0f) == 6.0f);
  CHECK(std::isnan(apply(activation::gelu, kNaN)));
  CHECK(apply(activation::gelu, kInf) == kInf);
  CHECK(apply(activation::silu, 0.0f) == 0.0f);
  // The documented edge cases: values inside the range (signed zeros too) come back unchanged,
  // -inf * 0 is NaN as in PyTorch, the negative tail of gelu keeps the sign of x.
  CHECK(bits(apply(activation::relu, -0.0f)) == bits(-0.0f));
  CHECK(bits(apply(activation::clip, -0.0f)) == bits(-0.0f));
  CHECK(apply(activation::relu, -kInf) == 0.0f);
  CHECK(apply(activation::clip, -kInf) == 0.0f);
  CHECK(std::isnan(apply(activation::silu, -kInf)));
  CHECK(std::isnan(apply(activation::gelu, -kInf)));
  CHECK(bits(apply(activation::gelu, -1e30f)) == bits(-0.0f));
  CHECK(bits(apply(activation::silu, -1e30f)) == bits(-0.0f));
  CHECK(apply(activation::silu, 3e38f) == 3e38f);
}

}  // TEST_SUITE
