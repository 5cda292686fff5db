// kernels/conv2d.hpp (NHWC, every algorithm) against kernels/ref/conv2d.hpp (NCHW, double).
#include <tessera/kernels/conv2d.hpp>
#include <tessera/kernels/ref/conv2d.hpp>
#include <tessera/kernels/ref/activation.hpp>

#include <doctest/doctest.h>

#include "support/harness.hpp"
#include "support/heap_counter.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace tessera;
using namespace tessera::kernels;

int pick(test::rng& rng, int lo, int hi) { return lo + static_cast<int>(rng.next() % static_cast<std::uint64_t>(hi - lo + 1)); }

std::string describe(const image_shape& s, std::int64_t oc, const conv2d_params& p, const char* algo,
                     const conv2d_epilogue& ep, bool bias) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "%s N%lld C%lld H%lld W%lld -> %lld k%lldx%lld s%lldx%lld d%lldx%lld pad %lld,%lld,%lld,%lld "
                "g%lld op%lldx%lld bias %d residual %d act %s",
                algo, (long long)s.batch, (long long)s.channels, (long long)s.height, (long long)s.width,
                (long long)oc, (long long)p.kernel_h, (long long)p.kernel_w, (long long)p.stride_h,
                (long long)p.stride_w, (long long)p.dilation_h, (long long)p.dilation_w, (long long)p.pad_top,
                (long long)p.pad_left, (long long)p.pad_bottom, (long long)p.pad_right, (long long)p.groups,
                (long long)p.output_padding_h, (long long)p.output_padding_w, int(bias), int(ep.residual != nullptr),
                activation_name(ep.act));
  return buf;
}

struct case_opts {
  bool transpose = false;
  conv2d_algorithm algo = conv2d_algorithm::automatic;
  bool bias = true;
  bool residual = false;
  activation act = activation::none;
  runtime::thread_pool* pool = nullptr;
  arena* scratch = nullptr;
  conv2d_algorithm expect_algo = conv2d_algorithm::automatic;  // checked unless automatic
};

// Runs one convolution through the NHWC kernel and the NCHW reference; returns false (after
// reporting) on a mismatch. Skips silently (returns true) when the shape is invalid.
bool run_case(const image_shape& s, std::int64_t oc, const conv2d_params& p, const case_opts& o, test::rng& rng) {
  auto geo = o.transpose ? conv_transpose2d_geometry_of(s, oc, p) : conv2d_geometry_of(s, oc, p);
  if (!geo.ok()) return true;
  const image_shape os{s.batch, oc, static_cast<std::int64_t>(geo->out_h), static_cast<std::int64_t>(geo->out_w)};
  const std::size_t wcount = o.transpose
                                 ? static_cast<std::size_t>(s.channels * (oc / p.groups) * p.kernel_h * p.kernel_w)
                                 : static_cast<std::size_t>(oc * (s.channels / p.groups) * p.kernel_h * p.kernel_w);
  const auto x = test::random_floats(s.numel(), -1.0, 1.0, rng);
  const auto w = test::random_floats(wcount, -1.0, 1.0, rng);
  const auto b = test::random_floats(static_cast<std::size_t>(oc), -1.0, 1.0, rng);
  const auto r = test::random_floats(os.numel(), -1.0, 1.0, rng);

  std::vector<float> want(os.numel());
  const float* bias = o.bias ? b.data() : nullptr;
  REQUIRE((o.transpose ? ref::conv_transpose2d(want.data(), x.data(), s, w.data(), bias, oc, p)
                       : ref::conv2d(want.data(), x.data(), s, w.data(), bias, oc, p))
              .ok());
  epilogue ref_ep;
  ref_ep.act = o.act;
  ref_ep.clip_min = -0.5f;
  ref_ep.clip_max = 0.75f;
  for (std::size_t i = 0; i < want.size(); ++i)
    want[i] = static_cast<float>(ref::act::apply(ref_ep, double(want[i]) + (o.residual ? double(r[i]) : 0.0)));

  std::vector<float> x_nhwc(x.size()), r_nhwc(r.size()), got_nhwc(os.numel(), NAN), got(os.numel());
  REQUIRE(nchw_to_nhwc(x_nhwc.data(), x.data(), s).ok());
  REQUIRE(nchw_to_nhwc(r_nhwc.data(), r.data(), os).ok());
  conv2d_epilogue ep;
  ep.residual = o.residual ? r_nhwc.data() : nullptr;
  ep.act = o.act;
  ep.clip_min = ref_ep.clip_min;
  ep.clip_max = ref_ep.clip_max;
  const char* algo_name = o.transpose ? "transpose" : conv2d_algorithm_name(o.algo);
  INFO(describe(s, oc, p, algo_name, ep, o.bias));
  if (o.transpose) {
    auto prep = prepared_conv_transpose2d::prepare(p, s.channels, oc, w.data(), bias);
    REQUIRE_MESSAGE(prep.ok(), prep.what());
    const auto st = conv_transpose2d(got_nhwc.data(), x_nhwc.data(), s, *prep, ep, o.pool, o.scratch);
    REQUIRE_MESSAGE(st.ok(), st.what());
  } else {
    auto prep = prepared_conv2d::prepare(p, s.channels, oc, w.data(), bias, o.algo);
    REQUIRE_MESSAGE(prep.ok(), prep.what());
    if (o.expect_algo != conv2d_algorithm::automatic) CHECK(prep->algorithm() == o.expect_algo);
    const auto st = conv2d(got_nhwc.data(), x_nhwc.data(), s, *prep, ep, o.pool, o.scratch);
    REQUIRE_MESSAGE(st.ok(), st.what());
  }
  REQUIRE(nhwc_to_nchw(got.data(), got_nhwc.data(), os).ok());
  return test::near_span(got, want, 1e-4, 1e-4);  // NCHW order
}

conv2d_params random_params(test::rng& rng, int max_k, int max_s, int max_d, int max_pad) {
  conv2d_params p;
  p.kernel_h = pick(rng, 1, max_k);
  p.kernel_w = pick(rng, 1, max_k);
  p.stride_h = pick(rng, 1, max_s);
  p.stride_w = pick(rng, 1, max_s);
  p.dilation_h = pick(rng, 1, max_d);
  p.dilation_w = pick(rng, 1, max_d);
  p.pad_top = pick(rng, 0, max_pad);
  p.pad_left = pick(rng, 0, max_pad);
  p.pad_bottom = pick(rng, 0, max_pad);
  p.pad_right = pick(rng, 0, max_pad);
  return p;
}

int random_divisor(test::rng& rng, int a, int b) {
  std::vector<int> ds;
  for (int d = 1; d <= std::min(a, b); ++d)
    if (a % d == 0 && b % d == 0) ds.push_back(d);
  return ds[static_cast<std::size_t>(pick(rng, 0, int(ds.size()) - 1))];
}

// One random draw: input shape, output channels, parameters and options of a case.
struct random_case {
  image_shape s;
  std::int64_t cout;
  conv2d_params p;
  case_opts o;
};

// Runs `tries` draws of draw(t) through run_case, skipping those with no valid output shape
// and stopping at the first mismatch; returns how many ran.
template <class Draw>
int run_random_cases(int tries, test::rng& rng, Draw&& draw) {
  int ran = 0;
  for (int t = 0; t < tries; ++t) {
    const random_case c = draw(t);
    const bool valid = c.o.transpose ? conv_transpose2d_geometry_of(c.s, c.cout, c.p).ok()
                                     : conv2d_geometry_of(c.s, c.cout, c.p).ok();
    if (!valid) continue;
    ++ran;
    if (!run_case(c.s, c.cout, c.p, c.o, rng)) break;
  }
  return ran;
}

}  // namespace

TEST_SUITE("kernels/conv2d") {
  TEST_CASE("im2col_gemm matches the reference on random shapes, groups and padding") {
    test::rng rng(101);
    const int ran = run_random_cases(80, rng, [&](int) {
      auto p = random_params(rng, 4, 3, 2, 2);
      const int cin = pick(rng, 1, 20), cout = pick(rng, 1, 20);
      p.groups = random_divisor(rng, cin, cout);
      const image_shape s{pick(rng, 1, 2), cin, pick(rng, 1, 11), pick(rng, 1, 11)};
      case_opts o;
      o.algo = conv2d_algorithm::im2col_gemm;
      o.bias = pick(rng, 0, 1) == 1;
      return random_case{s, cout, p, o};
    });
    CHECK(ran > 40);
  }

  TEST_CASE("automatic picks gemm_1x1 for pointwise convolutions, which match the reference") {
    test::rng rng(102);
    for (int t = 0; t < 30; ++t) {
      conv2d_params p;
      const int cin = pick(rng, 1, 37), cout = pick(rng, 2, 37);  // cout > 1: never depthwise
      p.groups = t % 3 == 0 ? random_divisor(rng, cin, cout) : 1;
      if (p.groups == cin && p.groups == cout) p.groups = 1;  // that one is depthwise
      p.dilation_h = pick(rng, 1, 2);  // irrelevant for 1x1 but allowed
      const image_shape s{pick(rng, 1, 3), cin, pick(rng, 1, 9), pick(rng, 1, 9)};
      case_opts o;
      o.expect_algo = conv2d_algorithm::gemm_1x1;
      o.bias = t % 2 == 0;
      if (!run_case(s, cout, p, o, rng)) break;
    }
  }

  TEST_CASE("1x1 with stride or padding goes through im2col") {
    test::rng rng(103);
    conv2d_params p;
    p.stride_h = p.stride_w = 2;
    case_opts o;
    o.expect_algo = conv2d_algorithm::im2col_gemm;
    CHECK(run_case({2, 13, 9, 8}, 11, p, o, rng));
    p.stride_h = p.stride_w = 1;
    p.pad_top = 1;
    CHECK(run_case({1, 5, 4, 6}, 3, p, o, rng));
  }

  TEST_CASE("depthwise direct kernels match the reference (3x3, 5x5, other sizes, tails)") {
    test::rng rng(104);
    const int kernels[][2] = {{3, 3}, {5, 5}, {1, 1}, {3, 5}, {7, 7}, {2, 4}};
    for (const auto& k : kernels)
      for (int t = 0; t < 14; ++t) {
        conv2d_params p;
        p.kernel_h = k[0];
        p.kernel_w = k[1];
        p.stride_h = p.stride_w = pick(rng, 1, 2);
        if (t % 4 == 3) p.stride_w = 3 - p.stride_h;  // non-square stride
        p.dilation_h = p.dilation_w = t % 3 == 2 ? 2 : 1;
        p.pad_top = pick(rng, 0, k[0] / 2 + 1);
        p.pad_bottom = pick(rng, 0, k[0] / 2 + 1);
        p.pad_left = pick(rng, 0, k[1] / 2 + 1);
        p.pad_right = pick(rng, 0, k[1] / 2 + 1);
        const int c = t == 0 ? 1 : pick(rng, 1, 37);
        p.groups = c;
        const image_shape s{pick(rng, 1, 2), c, pick(rng, 1, 12), pick(rng, 1, 12)};
        case_opts o;
        o.expect_algo = conv2d_algorithm::depthwise;
        o.bias = t % 2 == 0;
        o.residual = t % 3 == 0;
        o.act = static_cast<activation>(t % 5);  // none, relu, silu, gelu, clip
        if (!run_case(s, c, p, o, rng)) return;
        // The same layer through the GEMM path.
        o.algo = conv2d_algorithm::im2col_gemm;
        o.expect_algo = conv2d_algorithm::im2col_gemm;
        if (!run_case(s, c, p, o, rng)) return;
      }
  }

  TEST_CASE("depthwise register-blocked interiors (3x3, 5x5, stride 1 and 2) on wide rows") {
    test::rng rng(110);
    for (int k : {3, 5})
      for (int stride : {1, 2})
        for (int c : {8, 19, 33}) {
          conv2d_params p;
          p.kernel_h = p.kernel_w = k;
          p.stride_h = p.stride_w = stride;
          p.pad_top = p.pad_left = k / 2;
          p.pad_bottom = p.pad_right = stride == 2 ? k / 2 - 1 : k / 2;
          p.groups = c;
          case_opts o;
          o.expect_algo = conv2d_algorithm::depthwise;
          o.residual = c == 19;
          o.act = c == 33 ? activation::relu : activation::none;
          if (!run_case({1, c, 5, 43}, c, p, o, rng)) return;
        }
  }

  TEST_CASE("few input channels: 1x1 and small im2col convs merge full row tiles from the registers") {
    // K = Cin (1x1) or kh*kw*Cin within one K block takes gemm/direct_tile.hpp: output
    // channels around the vector and panel widths, pixel counts with and without a row tail,
    // strides and pads (im2col), with and without bias and residual, every activation.
    test::rng rng(114);
    using cfg = kernels::detail::gemm::config;
    constexpr int L = static_cast<int>(simd::lanes<float>), NR = static_cast<int>(cfg::NR),
                  MR = static_cast<int>(cfg::MR);
    int n = 0;
    for (int cin : {1, 3, L + 1, 24})
      for (int cout : {1, L - 1, L + 3, NR, NR + 5, 2 * NR + 1})
        for (int k : {1, 3}) {
          if (cin == 1 && cout == 1) continue;  // that one is depthwise
          conv2d_params p;
          p.kernel_h = p.kernel_w = k;
          p.stride_h = p.stride_w = (k == 3 && n % 2 == 0) ? 2 : 1;
          p.pad_top = p.pad_left = k / 2;
          p.pad_bottom = p.pad_right = k == 3 && n % 3 == 0 ? 0 : k / 2;
          case_opts o;
          o.expect_algo = k == 1 ? conv2d_algorithm::gemm_1x1 : conv2d_algorithm::im2col_gemm;
          if (k == 3) o.algo = conv2d_algorithm::im2col_gemm;  // 24 channels at stride 1 would be winograd_3x3
          o.bias = n % 3 != 2;
          o.residual = n % 2 == 1;
          o.act = static_cast<activation>(n % 5);  // none, relu, silu, gelu, clip
          ++n;
          // Output pixels: several row tiles, with a row tail or not.
          const image_shape s{n % 4 == 0 ? 2 : 1, cin, 4, p.stride_w * MR + (n % 3)};
          if (!run_case(s, cout, p, o, rng)) return;
        }
  }

  TEST_CASE("depthwise tiled line groups: tails of the lanes, of the step and of the line group") {
    // Sizes from the vector width and the kernel's tile (R lines x PX outputs): channel counts
    // around the lanes (the tail goes through the per-pixel body) and enough of them for
    // several column strips per line, widths below, at and past a step, heights that leave a
    // partial line group, every activation and the residual.
    test::rng rng(112);
    constexpr int L = static_cast<int>(simd::lanes<float>);
    using tile3 = kernels::detail::dw_tiling<3, 3, 1>;
    const int px = static_cast<int>(tile3::PX), rows = static_cast<int>(tile3::R);
    const activation acts[] = {activation::none, activation::relu, activation::clip, activation::silu, activation::gelu};
    int n = 0;
    for (int k : {3, 5})
      for (int stride : {1, 2})
        for (int c : {L - 1, L, L + 1, 2 * L + 3, 8 * L + 3})  // 8L + 3: strips of one step (dw_strip_bytes)
          for (int width : {1, px - 1, px * stride + 2, 2 * px * stride + 5}) {
            if (c < 1 || width < 1) continue;
            conv2d_params p;
            p.kernel_h = p.kernel_w = k;
            p.stride_h = p.stride_w = stride;
            p.pad_top = pick(rng, 0, k / 2);
            p.pad_left = pick(rng, 0, k / 2);
            p.pad_bottom = pick(rng, 0, k / 2);
            p.pad_right = pick(rng, 0, k / 2);
            p.groups = c;
            case_opts o;
            o.expect_algo = conv2d_algorithm::depthwise;
            o.residual = n % 2 == 0;
            o.bias = n % 5 != 4;
            o.act = acts[n % 5];
            ++n;
            const int height = rows * 2 + 1 + (n % 3);
            if (!run_case({n % 3 == 0 ? 2 : 1, c, height, width}, c, p, o, rng)) return;
          }
  }

  TEST_CASE("depthwise: the fused activation gives the bits of the unfused conv then the activation") {
    test::rng rng(113);
    constexpr int L = static_cast<int>(simd::lanes<float>);
    const activation acts[] = {activation::relu, activation::clip, activation::silu, activation::gelu};
    for (int stride : {1, 2})
      for (int c : {2 * L, 2 * L + 3}) {
        conv2d_params p;
        p.kernel_h = p.kernel_w = 3;
        p.stride_h = p.stride_w = stride;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
        p.groups = c;
        const image_shape s{1, c, 9, 23};
        const auto x = test::random_floats(s.numel(), -2.0, 2.0, rng);
        const auto w = test::random_floats(static_cast<std::size_t>(c * 9), -1.0, 1.0, rng);
        const auto b = test::random_floats(static_cast<std::size_t>(c), -1.0, 1.0, rng);
        auto prep = prepared_conv2d::prepare(p, c, c, w.data(), b.data());
        REQUIRE(prep.ok());
        auto g = prep->geometry(s);
        REQUIRE(g.ok());
        const auto res = test::random_floats(g->out_size(), -1.0, 1.0, rng);
        std::vector<float> plain(g->out_size()), fused(g->out_size());
        conv2d_epilogue with_res;
        with_res.residual = res.data();
        REQUIRE(conv2d(plain.data(), x.data(), s, *prep, with_res).ok());
        for (activation act : acts) {
          INFO("stride " << stride << " channels " << c << " act " << activation_name(act));
          conv2d_epilogue ep = with_res;
          ep.act = act;
          ep.clip_min = -0.25f;
          ep.clip_max = 0.5f;
          REQUIRE(conv2d(fused.data(), x.data(), s, *prep, ep).ok());
          std::vector<float> want = plain;
          with_activation(act, ep.clip_min, ep.clip_max,
                          [&](const auto& f) { simd::transform(want.data(), want.data(), want.size(), f); });
          CHECK(std::memcmp(want.data(), fused.data(), want.size() * sizeof(float)) == 0);
        }
      }
  }

  TEST_CASE("padding larger than the kernel leaves bias-only borders on every path") {
    test::rng rng(111);
    conv2d_params p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = 4; p.pad_left = 5; p.pad_bottom = 3; p.pad_right = 6;
    case_opts o;
    o.act = activation::silu;
    CHECK(run_case({2, 6, 2, 3}, 5, p, o, rng));    // im2col
    p.groups = 6;
    CHECK(run_case({2, 6, 2, 3}, 6, p, o, rng));    // depthwise
    p.kernel_h = p.kernel_w = 5;
    p.stride_h = p.stride_w = 2;
    CHECK(run_case({1, 9, 3, 11}, 9, p, o, rng));   // depthwise 5x5 stride 2
    p.groups = 1;
    p.kernel_h = p.kernel_w = 1;
    p.stride_h = p.stride_w = 1;
    CHECK(run_case({1, 4, 3, 3}, 7, p, o, rng));    // padded 1x1 through im2col
  }

  TEST_CASE("depthwise with a channel multiplier uses grouped GEMM") {
    test::rng rng(105);
    conv2d_params p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    p.groups = 6;
    case_opts o;
    o.expect_algo = conv2d_algorithm::im2col_gemm;
    CHECK(run_case({2, 6, 7, 5}, 12, p, o, rng));
  }

  TEST_CASE("fused epilogues: bias, residual and every activation on every path") {
    test::rng rng(106);
    const activation acts[] = {activation::none, activation::relu, activation::silu, activation::gelu,
                               activation::clip};
    for (activation act : acts)
      for (int path = 0; path < 5; ++path) {
        conv2d_params p;
        image_shape s{2, 9, 6, 7};
        std::int64_t oc = 10;
        case_opts o;
        o.act = act;
        o.residual = true;
        if (path == 0) {
          o.expect_algo = conv2d_algorithm::gemm_1x1;
        } else if (path == 1) {
          p.kernel_h = p.kernel_w = 3;
          p.pad_top = p.pad_left = 1;
          o.expect_algo = conv2d_algorithm::im2col_gemm;
        } else if (path == 2) {
          p.kernel_h = p.kernel_w = 3;
          p.stride_h = p.stride_w = 2;
          p.pad_bottom = p.pad_right = 1;
          p.groups = 9;
          oc = 9;
          o.expect_algo = conv2d_algorithm::depthwise;
        } else if (path == 3) {
          p.kernel_h = p.kernel_w = 3;
          p.stride_h = p.stride_w = 2;
          p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
          p.output_padding_h = p.output_padding_w = 1;
          o.transpose = true;
        } else {
          p.kernel_h = p.kernel_w = 3;
          p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
          o.algo = o.expect_algo = conv2d_algorithm::winograd_3x3;
        }
        if (!run_case(s, oc, p, o, rng)) return;
      }
  }

  TEST_CASE("winograd_3x3 matches the reference: odd sizes, any padding, batches, channel tails") {
    test::rng rng(112);
    const activation acts[] = {activation::none, activation::relu, activation::clip};
    const int ran = run_random_cases(60, rng, [&](int t) {
      conv2d_params p;
      p.kernel_h = p.kernel_w = 3;
      p.pad_top = pick(rng, 0, 2);
      p.pad_left = pick(rng, 0, 2);
      p.pad_bottom = pick(rng, 0, 2);
      p.pad_right = pick(rng, 0, 2);
      const int cin = pick(rng, 1, 40), cout = pick(rng, 1, 40);
      const image_shape s{pick(rng, 1, 3), cin, pick(rng, 1, 13), pick(rng, 1, 13)};
      case_opts o;
      o.algo = o.expect_algo = conv2d_algorithm::winograd_3x3;
      o.bias = t % 3 != 0;
      o.residual = t % 4 == 0;
      o.act = acts[t % 3];
      return random_case{s, cout, p, o};
    });
    CHECK(ran > 40);
  }

  TEST_CASE("automatic picks winograd_3x3 for 3x3 stride-1 convs with 16+ channels; threads split its blocks or its GEMMs") {
    test::rng rng(113);
    runtime::thread_pool pool(2);
    arena ws;
    case_opts o;
    o.pool = &pool;
    o.scratch = &ws;
    o.residual = true;
    o.act = activation::relu;
    o.expect_algo = conv2d_algorithm::winograd_3x3;
    conv2d_params p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    CHECK(run_case({1, 64, 56, 37}, 48, p, o, rng));   // 532 tiles: threads take whole blocks
    CHECK(run_case({2, 16, 9, 9}, 16, p, o, rng));     // too small for threads: serial
    CHECK(run_case({1, 200, 7, 7}, 300, p, o, rng));   // 16 tiles: one block, GEMMs split by position; channel tails
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 0;
    CHECK(run_case({1, 24, 30, 31}, 20, p, o, rng));   // valid conv, odd output
    // Not for: few channels, stride, dilation, groups.
    const std::vector<float> w(64 * 64 * 9, 0.25f);
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    CHECK(prepared_conv2d::prepare(p, 8, 64, w.data(), nullptr)->algorithm() == conv2d_algorithm::im2col_gemm);
    conv2d_params q = p;
    q.stride_h = 2;
    CHECK(prepared_conv2d::prepare(q, 64, 64, w.data(), nullptr)->algorithm() == conv2d_algorithm::im2col_gemm);
    CHECK(!prepared_conv2d::prepare(q, 64, 64, w.data(), nullptr, conv2d_algorithm::winograd_3x3).ok());
    q = p;
    q.dilation_w = 2;
    CHECK(!prepared_conv2d::prepare(q, 64, 64, w.data(), nullptr, conv2d_algorithm::winograd_3x3).ok());
    q = p;
    q.groups = 2;
    CHECK(prepared_conv2d::prepare(q, 64, 64, w.data(), nullptr)->algorithm() == conv2d_algorithm::im2col_gemm);
    CHECK(!prepared_conv2d::prepare(q, 64, 64, w.data(), nullptr, conv2d_algorithm::winograd_3x3).ok());
  }

  TEST_CASE("conv_transpose2d matches the reference on random shapes") {
    test::rng rng(107);
    const int ran = run_random_cases(60, rng, [&](int t) {
      auto p = random_params(rng, 4, 3, 2, 2);
      p.output_padding_h = pick(rng, 0, int(std::max(p.stride_h, p.dilation_h)) - 1);
      p.output_padding_w = pick(rng, 0, int(std::max(p.stride_w, p.dilation_w)) - 1);
      const int cin = pick(rng, 1, 16), cout = pick(rng, 1, 16);
      p.groups = random_divisor(rng, cin, cout);
      const image_shape s{pick(rng, 1, 2), cin, pick(rng, 1, 8), pick(rng, 1, 8)};
      case_opts o;
      o.transpose = true;
      o.bias = t % 2 == 0;
      o.residual = t % 5 == 0;
      return random_case{s, cout, p, o};
    });
    CHECK(ran > 30);
  }

  TEST_CASE("a caller's scratch arena and an explicit two-thread pool give the reference result") {
    test::rng rng(108);
    runtime::thread_pool pool(2);
    arena ws;
    case_opts o;
    o.scratch = &ws;
    o.pool = &pool;
    conv2d_params p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    CHECK(run_case({1, 16, 20, 20}, 24, p, o, rng));   // winograd_3x3 (serial: small)
    CHECK(run_case({3, 5, 6, 6}, 4, p, o, rng));       // smaller: reuses the workspace
    p.groups = 16;
    CHECK(run_case({2, 16, 30, 9}, 16, p, o, rng));    // depthwise, many lines
    o.transpose = true;
    p.groups = 1;
    p.stride_h = p.stride_w = 2;
    CHECK(run_case({1, 40, 9, 9}, 70, p, o, rng));     // transposed, channel-split col2im
  }

  TEST_CASE("with threads, each owns chunks of output lines: groups, batches, residual and activation stay exact") {
    test::rng rng(111);
    runtime::thread_pool pool(2);
    case_opts o;
    o.pool = &pool;
    o.residual = true;
    o.act = activation::relu;
    conv2d_params p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    p.groups = 2;
    const image_shape s{2, 16, 32, 32};  // 64 lines across two images: 4 chunks of 16 lines
    REQUIRE(kernels::detail::lines_per_thread_chunk(*conv2d_geometry_of(s, 32, p), 2) == 16);
    CHECK(run_case(s, 32, p, o, rng));
    p.groups = 1;
    p.stride_h = 2;
    const image_shape odd{1, 16, 121, 33};  // 61 lines: chunks of 15 and a last one of 1
    REQUIRE(kernels::detail::lines_per_thread_chunk(*conv2d_geometry_of(odd, 24, p), 2) == 15);
    CHECK(run_case(odd, 24, p, o, rng));
    // A small image with many channels keeps the shared tiles (the GEMM splits its columns).
    CHECK(kernels::detail::lines_per_thread_chunk(*conv2d_geometry_of({1, 512, 7, 7}, 512, p), 2) == 0);
    CHECK(kernels::detail::lines_per_thread_chunk(*conv2d_geometry_of({1, 8, 12, 12}, 8, p), 2) == 0);  // too small for threads
  }

  TEST_CASE("a large layer is tiled over output rows and still exact") {
    test::rng rng(109);
    conv2d_params p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    arena ws;
    case_opts o;
    o.scratch = &ws;
    // K = 9 * 64 = 576; 1 << 19 floats hold 910 patch rows, so 96x96 outputs need ~11 tiles.
    const image_shape s{1, 64, 96, 10};
    CHECK(run_case(s, 3, p, o, rng));
    auto prep = prepared_conv2d::prepare(p, 64, 3, std::vector<float>(3 * 64 * 9).data(), nullptr);
    REQUIRE(prep.ok());
    auto g = prep->geometry(s);
    REQUIRE(g.ok());
    CHECK(prep->workspace_floats(*g) <= (std::size_t{1} << 19));
    CHECK(ws.high_water() <= (std::size_t{1} << 19) * sizeof(float));
    CHECK(ws.bytes_in_use() == 0);  // the conv's scope gave it all back
  }

  TEST_CASE("a warm call of every path allocates nothing; scratch an arena cannot give is out_of_memory") {
    test::rng rng(110);
    runtime::thread_pool one(1);  // every GEMM packs on this thread, into its thread_arena()
    conv2d_params p3;
    p3.kernel_h = p3.kernel_w = 3;
    p3.pad_top = p3.pad_left = p3.pad_bottom = p3.pad_right = 1;
    conv2d_params p1;
    struct layer {
      conv2d_params p;
      std::int64_t cin, cout;
      bool transpose;
      conv2d_algorithm algo = conv2d_algorithm::automatic;
    };
    const layer layers[] = {{p3, 8, 12, false}, {p1, 8, 12, false}, {p3, 8, 12, false, conv2d_algorithm::winograd_3x3}, {[&] { auto q = p3; q.groups = 8; return q; }(), 8, 8, false},
                            {[&] { auto q = p3; q.kernel_h = q.kernel_w = 70; q.pad_top = q.pad_bottom = 0; q.groups = 8;
                                   q.pad_left = q.pad_right = 0; return q; }(), 8, 8, false},  // depthwise taller than 64 rows
                            {[&] { auto q = p3; q.stride_h = q.stride_w = 2; return q; }(), 8, 6, true}};
    const image_shape s{2, 8, 72, 72};
    const auto x = test::random_floats(s.numel(), -1.0, 1.0, rng);
    const auto r = test::random_floats(s.numel() * 8, -1.0, 1.0, rng);
    for (const layer& l : layers) {
      const std::size_t wcount = static_cast<std::size_t>(l.cin * l.cout * l.p.kernel_h * l.p.kernel_w / l.p.groups);
      const auto w = test::random_floats(wcount, -1.0, 1.0, rng);
      const auto b = test::random_floats(static_cast<std::size_t>(l.cout), -1.0, 1.0, rng);
      auto conv = prepared_conv2d::prepare(l.p, l.cin, l.cout, w.data(), b.data(), l.algo);
      auto convt = prepared_conv_transpose2d::prepare(l.p, l.cin, l.cout, w.data(), b.data());
      REQUIRE(conv.ok());
      REQUIRE(convt.ok());
      auto g = l.transpose ? convt->geometry(s) : conv->geometry(s);
      REQUIRE(g.ok());
      INFO(conv2d_algorithm_name(conv->algorithm()) << " transpose " << l.transpose << " kernel " << l.p.kernel_h);
      std::vector<float> out(g->out_size()), first;
      conv2d_epilogue ep;
      ep.act = activation::silu;
      ep.residual = r.data();
      arena scratch;
      auto run = [&](arena* a) {
        return l.transpose ? conv_transpose2d(out.data(), x.data(), s, *convt, ep, &one, a)
                           : conv2d(out.data(), x.data(), s, *conv, ep, &one, a);
      };
      REQUIRE(run(&scratch).ok());
      first = out;
      std::fill(out.begin(), out.end(), 0.0f);
      const std::size_t blocks = scratch.heap_allocations();
      status st;
      CHECK(heap_allocations_during([&] { st = run(&scratch); }) == 0);
      CHECK(st.ok());
      CHECK(scratch.heap_allocations() == blocks);
      CHECK(out == first);
      // The same without an arena of the caller's: the thread's arena is warm too.
      REQUIRE(run(nullptr).ok());
      CHECK(heap_allocations_during([&] { st = run(nullptr); }) == 0);
      CHECK(out == first);
      // A frozen, empty arena cannot give the im2col, Winograd or column tile: an error, no crash.
      arena empty;
      empty.freeze();
      const bool needs_scratch = l.transpose || conv->algorithm() == conv2d_algorithm::im2col_gemm ||
                                 conv->algorithm() == conv2d_algorithm::winograd_3x3;
      st = run(&empty);
      CHECK(st.ok() == !needs_scratch);
      if (needs_scratch) CHECK(st.code() == errc::out_of_memory);
    }
  }

  TEST_CASE("bad shapes and parameters are errors, not crashes") {
    std::vector<float> w(4096, 0.5f), x(4096, 1.0f), out(4096);
    conv2d_params p;
    p.kernel_h = p.kernel_w = 3;
    auto prep_fails = [&](conv2d_params q, std::int64_t cin, std::int64_t cout,
                          conv2d_algorithm a = conv2d_algorithm::automatic) {
      return !prepared_conv2d::prepare(q, cin, cout, w.data(), nullptr, a).ok() &&
             (a != conv2d_algorithm::automatic || !prepared_conv_transpose2d::prepare(q, cin, cout, w.data(), nullptr).ok());
    };
    auto q = p; q.stride_h = 0; CHECK(prep_fails(q, 4, 4));
    q = p; q.stride_w = -2; CHECK(prep_fails(q, 4, 4));
    q = p; q.dilation_h = 0; CHECK(prep_fails(q, 4, 4));
    q = p; q.kernel_w = 0; CHECK(prep_fails(q, 4, 4));
    q = p; q.pad_left = -1; CHECK(prep_fails(q, 4, 4));
    q = p; q.groups = 3; CHECK(prep_fails(q, 4, 6));   // 4 channels not divisible by 3
    q = p; q.groups = 0; CHECK(prep_fails(q, 4, 4));
    q = p; q.groups = 2; CHECK(prep_fails(q, 4, 6, conv2d_algorithm::depthwise));
    CHECK(prep_fails(p, 4, 4, conv2d_algorithm::gemm_1x1));
    CHECK(prep_fails(p, 0, 4));
    q = p; q.kernel_h = std::int64_t{1} << 40; CHECK(prep_fails(q, 4, 4));
    q = p; q.kernel_h = q.kernel_w = 1 << 20; CHECK(prep_fails(q, 1 << 20, 1 << 20));  // weight count overflow
    CHECK(prepared_conv2d::prepare(p, 4, 4, nullptr, nullptr).what().find("null weight") != std::string::npos);

    auto prep = prepared_conv2d::prepare(p, 4, 4, w.data(), nullptr);
    REQUIRE(prep.ok());
    CHECK(conv2d(out.data(), x.data(), {1, 4, 5, 5}, *prep).ok());
    CHECK_FALSE(conv2d(out.data(), x.data(), {1, 3, 5, 5}, *prep).ok());   // channel mismatch
    CHECK_FALSE(conv2d(out.data(), x.data(), {1, 4, 2, 5}, *prep).ok());   // kernel larger than input
    CHECK_FALSE(conv2d(out.data(), x.data(), {-1, 4, 5, 5}, *prep).ok());
    CHECK_FALSE(conv2d(out.data(), x.data(), {1 << 30, 4, 1 << 30, 5}, *prep).ok());  // overflow
    CHECK(conv2d(out.data(), x.data(), {0, 4, 5, 5}, *prep).ok());         // empty batch
    CHECK_FALSE(conv2d(x.data() + 10, x.data(), {1, 4, 5, 5}, *prep).ok()); // in place
    conv2d_epilogue aliased;
    aliased.residual = out.data() + 3;
    CHECK_FALSE(conv2d(out.data(), x.data(), {1, 4, 5, 5}, *prep, aliased).ok());
    conv2d_epilogue ep;
    ep.act = activation::clip;
    ep.clip_min = 1.0f;
    ep.clip_max = 0.0f;
    CHECK_FALSE(conv2d(out.data(), x.data(), {1, 4, 5, 5}, *prep, ep).ok());
    ep.act = static_cast<activation>(42);
    CHECK_FALSE(conv2d(out.data(), x.data(), {1, 4, 5, 5}, *prep, ep).ok());

    // ConvTranspose: output padding must be below stride or dilation; pads may not empty the output.
    q = p; q.stride_h = q.stride_w = 2; q.output_padding_h = 2;
    auto tp = prepared_conv_transpose2d::prepare(q, 4, 4, w.data(), nullptr);
    REQUIRE(tp.ok());
    CHECK_FALSE(conv_transpose2d(out.data(), x.data(), {1, 4, 3, 3}, *tp).ok());
    q.output_padding_h = 1;
    q.pad_top = q.pad_bottom = 4;
    tp = prepared_conv_transpose2d::prepare(q, 4, 4, w.data(), nullptr);
    REQUIRE(tp.ok());
    CHECK_FALSE(conv_transpose2d(out.data(), x.data(), {1, 4, 2, 2}, *tp).ok());   // 2*1+1+3-8 < 1
    CHECK(conv_transpose2d(out.data(), x.data(), {1, 4, 5, 5}, *tp).ok());        // 8+1+3-8 = 4

    // The reference validates the same way.
    q = p; q.stride_h = 0;
    CHECK_FALSE(ref::conv2d(out.data(), x.data(), {1, 4, 5, 5}, w.data(), nullptr, 4, q).ok());
    CHECK_FALSE(ref::conv2d(out.data(), x.data(), {1, 4, 2, 2}, w.data(), nullptr, 4, p).ok());
  }

  TEST_CASE("output sizes follow the ONNX formulas") {
    conv2d_params p;
    p.kernel_h = 3; p.kernel_w = 2;
    p.stride_h = 2; p.stride_w = 3;
    p.dilation_h = 2;
    p.pad_top = 1; p.pad_bottom = 2; p.pad_left = 0; p.pad_right = 1;
    auto g = conv2d_geometry_of({1, 1, 10, 11}, 1, p);
    REQUIRE(g.ok());
    CHECK(g->out_h == (10 + 1 + 2 - ((3 - 1) * 2 + 1)) / 2 + 1);  // 5
    CHECK(g->out_w == (11 + 0 + 1 - 2) / 3 + 1);                  // 4
    p.output_padding_h = 1;
    g = conv_transpose2d_geometry_of({1, 1, 10, 11}, 1, p);
    REQUIRE(g.ok());
    CHECK(g->out_h == 2 * 9 + 1 + 5 - 3);  // 21
    CHECK(g->out_w == 3 * 10 + 0 + 2 - 1); // 31
  }
}
