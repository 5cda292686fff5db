#include <tessera/simd/simd.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

using namespace tessera;

#ifdef TESSERA_EXPECT_SIMD_ARCH
static_assert(std::string_view(simd::arch::name()) == TESSERA_EXPECT_SIMD_ARCH,
              "this flavour's flags do not select the xsimd architecture scripts/simd_flavours.txt names");
#endif

namespace {
template <class F, class G>
void check_math(F f, G ref, float lo, float hi, double rtol, double atol) {
  // Sizes cover a partial batch, exact batches and a tail.
  for (std::size_t n : {std::size_t{1}, simd::lanes<float> - 1, simd::lanes<float>, simd::lanes<float> + 1, std::size_t{1000}}) {
    if (n == 0) continue;
    std::vector<float> in(n), out(n + 1, -7.0f);
    for (std::size_t i = 0; i < n; ++i) in[i] = lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(n > 1 ? n - 1 : 1);
    simd::transform(out.data(), in.data(), n, f);
    CHECK(out[n] == -7.0f);  // nothing written past the end
    for (std::size_t i = 0; i < n; ++i) {
      const double want = ref(static_cast<double>(in[i]));
      CAPTURE(in[i]);
      CHECK(std::fabs(out[i] - want) <= atol + rtol * std::fabs(want));
    }
  }
}
}  // namespace

TEST_SUITE("simd") {
  TEST_CASE("the selected architecture is reported") {
    MESSAGE("simd arch: " << std::string(simd::arch_name()) << ", f32 lanes: " << simd::lanes<float>);
    CHECK(simd::lanes<float> >= 4);
  }

  TEST_CASE("exp, tanh, erf, sigmoid match double precision") {
    check_math(simd::exp_fn{}, [](double x) { return std::exp(x); }, -80.0f, 80.0f, 4e-7, 1e-37);
    check_math(simd::tanh_fn{}, [](double x) { return std::tanh(x); }, -10.0f, 10.0f, 4e-7, 1e-7);
    check_math(simd::erf_fn{}, [](double x) { return std::erf(x); }, -5.0f, 5.0f, 4e-7, 1e-7);
    check_math(simd::sigmoid_fn{}, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, -100.0f, 100.0f, 4e-7, 1e-37);
  }

  TEST_CASE("the conversion-free exp is accurate to a few ulp over the whole float range") {
    using B = simd::f32;
    double worst_ulp = 0;
    for (int i = 0; i <= 200000; ++i) {
      const float x = -104.5f + 194.0f * static_cast<float>(i) / 200000.0f;
      alignas(64) float in[B::size], out[B::size];
      for (std::size_t l = 0; l < B::size; ++l) in[l] = x;
      simd::exp_f32_poly(B::load_aligned(in)).store_aligned(out);
      const double want = std::exp(static_cast<double>(x));
      CAPTURE(x);
      if (want > 3.4028234663852886e38) {
        REQUIRE(std::isinf(out[0]));
      } else if (want < 1.0e-45) {
        REQUIRE(out[0] >= 0.0f);
        REQUIRE(out[0] <= 1.5e-45f);
      } else {
        const float wantf = static_cast<float>(want);
        const double ulp = std::fabs(static_cast<double>(std::nextafter(wantf, INFINITY)) - wantf);
        const double err = std::fabs(out[0] - want) / ulp;
        // Normal results: a couple of ulp; subnormal ones round once more when scaled.
        REQUIRE(err <= (want < 1.1754943508222875e-38 ? 1.01 : 2.5));
        if (want >= 1.1754943508222875e-38) worst_ulp = std::max(worst_ulp, err);
      }
    }
    MESSAGE("exp_f32_poly worst error on normal results: " << worst_ulp << " ulp");
    alignas(64) float sp[B::size], so[B::size];
    const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 88.7f, 89.0f, -103.0f};
    for (float v : specials) {
      for (std::size_t l = 0; l < B::size; ++l) sp[l] = v;
      simd::exp_f32_poly(B::load_aligned(sp)).store_aligned(so);
      CAPTURE(v);
      if (std::isnan(v)) CHECK(std::isnan(so[0]));
      else if (v == INFINITY || v == 89.0f) CHECK(so[0] == INFINITY);  // e^89 overflows float
      else if (v == -INFINITY) CHECK(so[0] == 0.0f);
      else if (v == 0.0f) CHECK(so[0] == 1.0f);
      else CHECK(std::fabs(so[0] - std::exp(static_cast<double>(v))) <= 3e-7 * std::exp(static_cast<double>(v)) + 1e-44);
    }
  }

  TEST_CASE("select_mask picks a or b per lane, for every combination of d, a and b") {
    // The mask blend of the tree predictor: a cast on SSE/AVX/SIMD128, mask logic on
    // AVX-512 (k registers) and NEON (uint32x4_t masks). Lane l holds combination l % 8.
    using B = simd::f32;
    alignas(64) float dv[B::size], av[B::size], bv[B::size], got[B::size];
    for (std::size_t l = 0; l < B::size; ++l) {
      dv[l] = (l & 1) ? 1.0f : -1.0f;
      av[l] = (l & 2) ? 1.0f : -1.0f;
      bv[l] = (l & 4) ? 1.0f : -1.0f;
    }
    const B zero(0.0f);
    const auto m = simd::select_mask(B::load_aligned(dv) > zero, B::load_aligned(av) > zero, B::load_aligned(bv) > zero);
    xsimd::select(m, B(1.0f), B(0.0f)).store_aligned(got);
    for (std::size_t l = 0; l < B::size; ++l) {
      const bool want = (l & 1) ? (l & 2) != 0 : (l & 4) != 0;
      CAPTURE(l);
      CHECK(got[l] == (want ? 1.0f : 0.0f));
    }
  }

  TEST_CASE("loads and stores with tails never touch memory past n") {
    using B = simd::f32;
    std::vector<float> src(B::size + 3), dst(B::size + 3, 0.0f);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i + 1);
    for (std::size_t n = 0; n < B::size; ++n) {
      std::fill(dst.begin(), dst.end(), 0.0f);
      B v = simd::load_partial<B>(src.data(), n, -1.0f);
      simd::store_partial(dst.data(), v, n);
      for (std::size_t i = 0; i < dst.size(); ++i) CHECK(dst[i] == (i < n ? src[i] : 0.0f));
      alignas(64) float lanes[B::size];
      v.store_aligned(lanes);
      for (std::size_t i = n; i < B::size; ++i) CHECK(lanes[i] == -1.0f);
    }
  }

  TEST_CASE("fma and horizontal reductions") {
    using B = simd::f32;
    alignas(64) float a[B::size], b[B::size], c[B::size];
    for (std::size_t i = 0; i < B::size; ++i) {
      a[i] = static_cast<float>(i) - 2.5f;
      b[i] = 2.0f;
      c[i] = 1.0f;
    }
    const B r = simd::fma(B::load_aligned(a), B::load_aligned(b), B::load_aligned(c));
    float sum = 0, mx = -1e30f, mn = 1e30f;
    for (std::size_t i = 0; i < B::size; ++i) {
      const float v = a[i] * 2.0f + 1.0f;
      sum += v;
      mx = std::max(mx, v);
      mn = std::min(mn, v);
    }
    CHECK(simd::reduce_add(r) == doctest::Approx(sum));
    CHECK(simd::reduce_max(r) == mx);
    CHECK(simd::reduce_min(r) == mn);
  }
}
