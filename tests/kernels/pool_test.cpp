// kernels/pool.hpp (NHWC) against kernels/ref/pool.hpp (NCHW, double), plus layout.hpp.
#include <tessera/kernels/layout.hpp>
#include <tessera/kernels/pool.hpp>
#include <tessera/kernels/ref/pool.hpp>

#include <doctest/doctest.h>

#include "support/harness.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace tessera;
using namespace tessera::kernels;

std::string describe(const image_shape& s, const pool2d_params& p) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "N%lld C%lld H%lld W%lld k%lldx%lld s%lldx%lld d%lldx%lld pad %lld,%lld,%lld,%lld ceil %d incl %d",
                (long long)s.batch, (long long)s.channels, (long long)s.height, (long long)s.width,
                (long long)p.kernel_h, (long long)p.kernel_w, (long long)p.stride_h, (long long)p.stride_w,
                (long long)p.dilation_h, (long long)p.dilation_w, (long long)p.pad_top, (long long)p.pad_left,
                (long long)p.pad_bottom, (long long)p.pad_right, int(p.ceil_mode), int(p.count_include_pad));
  return buf;
}

// Runs the NHWC kernel on converted input and compares with the NCHW reference.
template <class Fast, class Ref>
void check_pool(const image_shape& s, const pool2d_params& p, Fast fast, Ref ref, test::rng& rng) {
  INFO(describe(s, p));
  const auto x = test::random_floats(s.numel(), -2.0, 2.0, rng);
  auto geo = pool2d_geometry_of(s, p);
  REQUIRE(geo.ok());
  const image_shape os{s.batch, s.channels, static_cast<std::int64_t>(geo->out_h),
                       static_cast<std::int64_t>(geo->out_w)};
  std::vector<float> want(os.numel()), x_nhwc(x.size()), got_nhwc(os.numel(), NAN), got(os.numel());
  REQUIRE(ref(want.data(), x.data(), s, p).ok());
  REQUIRE(nchw_to_nhwc(x_nhwc.data(), x.data(), s).ok());
  REQUIRE(fast(got_nhwc.data(), x_nhwc.data(), s, p).ok());
  REQUIRE(nhwc_to_nchw(got.data(), got_nhwc.data(), os).ok());
  test::near_span(got, want, 1e-5, 1e-6);
}

pool2d_params random_params(test::rng& rng, bool allow_dilation) {
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng.next() % static_cast<std::uint64_t>(hi - lo + 1)); };
  pool2d_params p;
  p.kernel_h = pick(1, 4);
  p.kernel_w = pick(1, 4);
  p.stride_h = pick(1, 3);
  p.stride_w = pick(1, 3);
  if (allow_dilation) {
    p.dilation_h = pick(1, 2);
    p.dilation_w = pick(1, 2);
  }
  // Padding below the kernel extent so windows never lie entirely in the padding.
  p.pad_top = pick(0, int(p.kernel_h) - 1);
  p.pad_left = pick(0, int(p.kernel_w) - 1);
  p.pad_bottom = pick(0, int(p.kernel_h) - 1);
  p.pad_right = pick(0, int(p.kernel_w) - 1);
  p.ceil_mode = pick(0, 1) == 1;
  p.count_include_pad = pick(0, 1) == 1;
  return p;
}

image_shape random_shape(test::rng& rng) {
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng.next() % static_cast<std::uint64_t>(hi - lo + 1)); };
  return {pick(1, 2), pick(1, 37), pick(4, 13), pick(4, 13)};
}

}  // namespace

TEST_SUITE("kernels/pool") {
  TEST_CASE("layout conversion round-trips and matches index formulas") {
    test::rng rng(7);
    const image_shape s{2, 5, 3, 7};
    const auto x = test::random_floats(s.numel(), -2.0, 2.0, rng);
    std::vector<float> y(x.size()), z(x.size());
    REQUIRE(nchw_to_nhwc(y.data(), x.data(), s).ok());
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 5; ++c)
        for (int h = 0; h < 3; ++h)
          for (int w = 0; w < 7; ++w) CHECK(y[((n * 3 + h) * 7 + w) * 5 + c] == x[((n * 5 + c) * 3 + h) * 7 + w]);
    REQUIRE(nhwc_to_nchw(z.data(), y.data(), s).ok());
    CHECK(z == x);
    CHECK_FALSE(nchw_to_nhwc(y.data(), y.data(), s).ok());
  }

  TEST_CASE("max pooling matches the reference on random shapes") {
    test::rng rng(11);
    for (int t = 0; t < 60; ++t) {
      auto p = random_params(rng, true);
      const auto s = random_shape(rng);
      if (!pool2d_geometry_of(s, p).ok()) continue;  // e.g. dilated window larger than the input
      check_pool(s, p, [](auto... a) { return max_pool2d(a...); }, [](auto... a) { return ref::max_pool2d(a...); },
                 rng);
    }
  }

  TEST_CASE("average pooling matches the reference on random shapes") {
    test::rng rng(12);
    for (int t = 0; t < 60; ++t) {
      auto p = random_params(rng, true);  // dilated windows too
      const auto s = random_shape(rng);
      if (!pool2d_geometry_of(s, p).ok()) continue;
      check_pool(s, p, [](auto... a) { return avg_pool2d(a...); }, [](auto... a) { return ref::avg_pool2d(a...); },
                 rng);
    }
  }

  TEST_CASE("ceil_mode drops a window that would start in the end padding") {
    // H = 5, k = 2, s = 2, pad_bottom = 1: ceil((5+1-2)/2)+1 = 3 windows starting at 0, 2, 4.
    pool2d_params p;
    p.kernel_h = p.kernel_w = 2;
    p.stride_h = p.stride_w = 2;
    p.ceil_mode = true;
    auto g = pool2d_geometry_of({1, 1, 5, 5}, p);
    REQUIRE(g.ok());
    CHECK(g->out_h == 3);
    // H = 4, k = 2, s = 2, pad_bottom = 1: ceil(3/2)+1 = 3 but the third window starts at 4 = H: dropped.
    p.pad_bottom = p.pad_right = 1;
    g = pool2d_geometry_of({1, 1, 4, 4}, p);
    REQUIRE(g.ok());
    CHECK(g->out_h == 2);
    p.ceil_mode = false;
    g = pool2d_geometry_of({1, 1, 4, 4}, p);
    REQUIRE(g.ok());
    CHECK(g->out_h == 2);
  }

  TEST_CASE("average pooling divisor with and without count_include_pad") {
    // 1x1x2x2 input of ones, 2x2 window, pad 1 on every side, stride 2: each window covers
    // one input element and three padded ones.
    const std::vector<float> x(4, 1.0f);
    pool2d_params p;
    p.kernel_h = p.kernel_w = 2;
    p.stride_h = p.stride_w = 2;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    std::vector<float> out(4);
    REQUIRE(avg_pool2d(out.data(), x.data(), {1, 1, 2, 2}, p).ok());
    for (float v : out) CHECK(v == 1.0f);
    p.count_include_pad = true;
    REQUIRE(avg_pool2d(out.data(), x.data(), {1, 1, 2, 2}, p).ok());
    for (float v : out) CHECK(v == 0.25f);
  }

  TEST_CASE("global pooling matches the reference") {
    test::rng rng(13);
    for (const image_shape s : {image_shape{1, 1, 1, 1}, image_shape{2, 7, 3, 5}, image_shape{1, 37, 9, 9},
                                image_shape{3, 70, 4, 6}, image_shape{1, 960, 7, 7}, image_shape{1, 9, 60, 61}}) {
      INFO("N" << s.batch << " C" << s.channels << " H" << s.height << " W" << s.width);
      const auto x = test::random_floats(s.numel(), -2.0, 2.0, rng);
      std::vector<float> x_nhwc(x.size());
      REQUIRE(nchw_to_nhwc(x_nhwc.data(), x.data(), s).ok());
      const std::size_t nc = static_cast<std::size_t>(s.batch * s.channels);
      std::vector<float> want(nc), got(nc);
      REQUIRE(ref::global_avg_pool2d(want.data(), x.data(), s).ok());
      REQUIRE(global_avg_pool2d(got.data(), x_nhwc.data(), s).ok());
      test::near_span(got, want, 1e-5, 1e-6);
      REQUIRE(ref::global_max_pool2d(want.data(), x.data(), s).ok());
      REQUIRE(global_max_pool2d(got.data(), x_nhwc.data(), s).ok());
      test::near_span(got, want, 0, 0);
    }
  }

  TEST_CASE("bad parameters are errors") {
    std::vector<float> x(64), out(64);
    const image_shape s{1, 1, 8, 8};
    pool2d_params p;
    p.kernel_h = p.kernel_w = 2;
    auto bad = [&](pool2d_params q, image_shape t = {1, 1, 8, 8}) {
      return !max_pool2d(out.data(), x.data(), t, q).ok() && !ref::max_pool2d(out.data(), x.data(), t, q).ok();
    };
    auto q = p; q.stride_h = 0; CHECK(bad(q));
    q = p; q.stride_w = -1; CHECK(bad(q));
    q = p; q.kernel_h = 0; CHECK(bad(q));
    q = p; q.kernel_w = 9; CHECK(bad(q));                      // larger than the input
    q = p; q.pad_top = -1; CHECK(bad(q));
    q = p; q.dilation_h = 0; CHECK(bad(q));
    q = p; q.kernel_h = 3; q.pad_top = 4; CHECK(bad(q));       // first window entirely in padding
    q = p; q.kernel_h = std::int64_t{1} << 40; CHECK(bad(q));  // hostile sizes
    CHECK(bad(p, {1, 0, 8, 8}));
    CHECK(bad(p, {1, 1, -8, 8}));
    CHECK(bad(p, {1 << 30, 1 << 30, 1 << 30, 8}));             // element count overflow
    q = p; q.dilation_h = 2;
    CHECK(avg_pool2d(out.data(), x.data(), s, q).ok());  // dilated averages (ONNX AveragePool-19)
    CHECK(max_pool2d(out.data(), x.data(), s, p).ok());
    CHECK_FALSE(max_pool2d(x.data() + 5, x.data(), s, p).ok());  // in place
    CHECK_FALSE(global_avg_pool2d(out.data(), x.data(), {1, 1, 0, 8}).ok());
  }
}
