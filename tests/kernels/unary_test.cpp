// Tests of include/tessera/kernels/unary.hpp: every TESSERA_UNARY_KERNEL and
// TESSERA_CAST_KERNEL of op_list.def against kernels/ref/unary.hpp (in double), on tail
// sizes, in place, on strided / transposed / broadcast / overlapping views, and bad shapes.
#include "support/harness.hpp"

#include <tessera/kernels/ref/unary.hpp>
#include <tessera/kernels/unary.hpp>
#include <tessera/kernels/registry.hpp>  // the derived count of each family

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

using namespace tessera;
namespace k = tessera::kernels;
namespace kr = tessera::kernels::ref;
namespace reg = tessera::kernels::registry;
using test::must;

namespace {

// Kernels come in as function pointers, so the checking body is compiled once per element
// type rather than once per registered kernel (most of this file's compile time otherwise).
template <class T>
void check_unary(const std::string& name, status (*kernel)(TensorView<T>, TensorView<const T>),
                 status (*ref)(TensorView<double>, TensorView<const double>), double lo, double hi) {
  INFO(name << " on " << simd::arch_name());
  const auto tol = test::default_tolerance<T>();
  // Reference output (double) for an input view of T.
  auto expect = [&](TensorView<const T> in) {
    Tensor<double> xd = test::to_double(in);
    Tensor<double> yd = must(Tensor<double>::empty(in.shape()));
    REQUIRE(ref(yd.view(), xd.view()).ok());
    return yd;
  };
  test::rng g;
  for (index_t n : test::tail_sizes<T>()) {
    CAPTURE(n);
    Tensor<T> x = test::random_tensor<T>({n}, lo, hi, g);
    Tensor<T> y = must(Tensor<T>::full({n}, T(-777)));
    REQUIRE(kernel(y.view(), x.view()).ok());
    const Tensor<double> want = expect(x.view());
    CHECK_TENSOR_NEAR(y, want, tol.rtol, tol.atol);

    // In place: out is the input.
    Tensor<T> z = must(x.clone());
    REQUIRE(kernel(z.view(), z.view()).ok());
    CHECK_TENSOR_NEAR(z, want, tol.rtol, tol.atol);

    // Transposed input [3, n] (strides 1, 3) into a contiguous output.
    Tensor<T> x2 = test::random_tensor<T>({n, 3}, lo, hi, g);
    TensorView<const T> xt = must(TensorView<const T>(x2.view()).transpose());
    Tensor<T> y2 = must(Tensor<T>::empty({3, n}));
    REQUIRE(kernel(y2.view(), xt).ok());
    CHECK_TENSOR_NEAR(y2, expect(xt), tol.rtol, tol.atol);

    // Contiguous input into a strided output (every other element of a wider buffer).
    Tensor<T> wide = must(Tensor<T>::full({3, 2 * n}, T(-777)));
    TensorView<T> ys = must(wide.view().slice(1, 0, 2 * n, 2));
    Tensor<T> x3 = test::random_tensor<T>({3, n}, lo, hi, g);
    REQUIRE(kernel(ys, x3.view()).ok());
    CHECK_TENSOR_NEAR(ys, expect(x3.view()), tol.rtol, tol.atol);
    for (index_t r = 0; r < 3; ++r)  // the gaps are untouched
      for (index_t j = 1; j < 2 * n; j += 2) REQUIRE(wide(r, j) == T(-777));

    // A broadcast (stride-0) input view.
    TensorView<const T> xb = must(TensorView<const T>(x.view()).broadcast_to({4, n}));
    Tensor<T> yb = must(Tensor<T>::empty({4, n}));
    REQUIRE(kernel(yb.view(), xb).ok());
    CHECK_TENSOR_NEAR(yb, expect(xb), tol.rtol, tol.atol);

    // Output shifted by one element over the input: must act as if the input was read first.
    Tensor<T> buf = test::random_tensor<T>({n + 1}, lo, hi, g);
    TensorView<T> in_v = must(buf.view().slice(0, 0, n));
    TensorView<T> out_v = must(buf.view().slice(0, 1, n + 1));
    const Tensor<double> want_shift = expect(in_v);
    REQUIRE(kernel(out_v, in_v).ok());
    CHECK_TENSOR_NEAR(out_v, want_shift, tol.rtol, tol.atol);
  }
  // Rank 0 and empty tensors.
  Tensor<T> s = must(Tensor<T>::full({}, T(0.5 * (lo + hi) + 0.25)));
  Tensor<T> so = must(Tensor<T>::empty({}));
  REQUIRE(kernel(so.view(), s.view()).ok());
  CHECK_TENSOR_NEAR(so, expect(s.view()), tol.rtol, tol.atol);
  Tensor<T> e = must(Tensor<T>::empty({0, 5}));
  Tensor<T> eo = must(Tensor<T>::empty({0, 5}));
  CHECK(kernel(eo.view(), e.view()).ok());
  // Bad shapes and a broadcast output are errors, not UB.
  Tensor<T> a = must(Tensor<T>::zeros({4}));
  Tensor<T> b = must(Tensor<T>::zeros({5}));
  const status bad = kernel(b.view(), a.view());
  CHECK(bad.code() == errc::shape_mismatch);
  CHECK(bad.message().find("[4]") != std::string::npos);
  TensorView<T> bo = must(TensorView<T>(a.data(), {1}).broadcast_to({4}));
  CHECK(kernel(bo, TensorView<const T>(b.data(), {4})).code() == errc::invalid_argument);
}

}  // namespace

TEST_SUITE("kernels/unary") {

TEST_CASE("every registered unary kernel matches the double reference") {
  int kernels_run = 0;
#define TESSERA_UNARY_KERNEL(name, T, fn, lo, hi, ...)                                                                   \
  check_unary<T>(                                                                                                        \
      #name, [](TensorView<T> o, TensorView<const T> i) { return k::fn(o, i __VA_OPT__(, ) __VA_ARGS__); },              \
      [](TensorView<double> o, TensorView<const double> i) { return kr::fn(o, i __VA_OPT__(, ) __VA_ARGS__); }, lo, hi); \
  ++kernels_run;
#include <tessera/kernels/op_list.def>
  CHECK(kernels_run == int(reg::count(reg::family::unary)));
}

TEST_CASE("NaN propagates through every activation, and special values are right") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  float x[10] = {nan, inf, -inf, 0.0f, -0.0f, 1.0f, -1.0f, 100.0f, -100.0f, nan};
  float y[10];
  const TensorView<const float> in(x, {10});
  const TensorView<float> out(y, {10});
  REQUIRE(k::relu(out, in).ok());
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == inf);
  CHECK(y[2] == 0.0f);
  CHECK(y[8] == 0.0f);
  REQUIRE(k::clip(out, in, -1.0f, 2.0f).ok());
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == 2.0f);
  CHECK(y[2] == -1.0f);
  CHECK(y[7] == 2.0f);
  REQUIRE(k::sigmoid(out, in).ok());
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == 1.0f);
  CHECK(y[2] == 0.0f);
  CHECK(y[3] == 0.5f);
  REQUIRE(k::softplus(out, in).ok());
  CHECK(y[7] == doctest::Approx(100.0f));  // no overflow to inf for large x
  CHECK(y[8] >= 0.0f);
  CHECK(y[8] < 1e-30f);
  REQUIRE(k::silu(out, in).ok());
  CHECK(std::fabs(y[8]) < 1e-30f);  // -100 / (1 + e^100): tiny, not NaN
  CHECK(std::isnan(y[9]));
  REQUIRE(k::hardswish(out, in).ok());
  CHECK(std::isnan(y[9]));
  REQUIRE(k::gelu(out, in).ok());
  CHECK(y[1] == inf);
  CHECK(y[3] == 0.0f);
}

TEST_CASE("parameter errors") {
  float x[4] = {1, 2, 3, 4};
  const TensorView<float> v(x, {4});
  CHECK(k::clip(v, v, 2.0f, 1.0f).code() == errc::invalid_argument);
  CHECK(k::clip(v, v, std::numeric_limits<float>::quiet_NaN(), 1.0f).code() == errc::invalid_argument);
  CHECK(k::leaky_relu(v, v, std::numeric_limits<float>::infinity()).code() == errc::invalid_argument);
  CHECK(x[0] == 1.0f);  // untouched after an error
}

namespace {
struct affine {
  float a, b;
  template <class V> V operator()(const V& x) const { return x * V(a) + V(b); }
};
}  // namespace

TEST_CASE("map takes any functor with one body for scalars and batches") {
  test::rng g;
  Tensor<float> x = test::random_tensor<float>({7, 13}, -1, 1, g);
  Tensor<float> y = must(Tensor<float>::empty({13, 7}));
  REQUIRE(k::map(y.view(), must(TensorView<const float>(x.view()).transpose()), affine{2.0f, -1.0f}).ok());
  for (index_t i = 0; i < 7; ++i)
    for (index_t j = 0; j < 13; ++j) REQUIRE(y(j, i) == x(i, j) * 2.0f - 1.0f);
}

// ---- cast ---------------------------------------------------------------------------------

namespace {
template <class To, class From>
void check_cast(const std::string& name) {
  INFO(name);
  test::rng g;
  for (index_t n : test::tail_sizes<float>()) {
    CAPTURE(n);
    // Values that exercise rounding and saturation of every target type.
    Tensor<float> src = test::random_tensor<float>({n}, -300.0, 300.0, g);
    Tensor<From> x = must(Tensor<From>::empty({n}));
    REQUIRE(kr::cast(x.view(), TensorView<const float>(src.view())).ok());
    Tensor<To> y = must(Tensor<To>::empty({n}));
    REQUIRE(k::cast(y.view(), x.view()).ok());
    Tensor<To> want = must(Tensor<To>::empty({n}));
    REQUIRE(kr::cast(want.view(), TensorView<const From>(x.view())).ok());
    CHECK_TENSOR_NEAR(y, want, 0.0, 0.0);  // casts are exact functions: bit-for-bit
    // Strided (reversed by transposing a [n, 2] view and taking row 1).
    Tensor<From> x2 = must(Tensor<From>::empty({n, 2}));
    Tensor<float> src2 = test::random_tensor<float>({n, 2}, -300.0, 300.0, g);
    REQUIRE(kr::cast(x2.view(), TensorView<const float>(src2.view())).ok());
    TensorView<From> col = must(must(x2.view().transpose()).select(0, 1));
    Tensor<To> y2 = must(Tensor<To>::empty({n}));
    REQUIRE(k::cast(y2.view(), col).ok());
    Tensor<To> want2 = must(Tensor<To>::empty({n}));
    REQUIRE(kr::cast(want2.view(), TensorView<const From>(col)).ok());
    CHECK_TENSOR_NEAR(y2, want2, 0.0, 0.0);
  }
  Tensor<From> a = must(Tensor<From>::empty({3}));
  Tensor<To> b = must(Tensor<To>::empty({4}));
  CHECK(k::cast(b.view(), a.view()).code() == errc::shape_mismatch);
}
}  // namespace

TEST_CASE("every registered cast matches the reference bit for bit") {
  int kernels_run = 0;
#define TESSERA_CAST_KERNEL(name, To, From) \
  check_cast<To, From>(#name);              \
  ++kernels_run;
#include <tessera/kernels/op_list.def>
  CHECK(kernels_run == int(reg::count(reg::family::cast)));
}

TEST_CASE("cast rounds half to even, saturates, and maps NaN to 0") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  float x[12] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 127.4f, 127.5f, -128.6f, 1e10f, -inf, nan, 3e9f};
  std::int8_t q[12];
  REQUIRE(k::cast(TensorView<std::int8_t>(q, {12}), TensorView<const float>(x, {12})).ok());
  const int want8[12] = {0, 2, 2, 0, -2, 127, 127, -128, 127, -128, 0, 127};
  for (int i = 0; i < 12; ++i) CHECK(int(q[i]) == want8[i]);
  std::int32_t w[12];
  REQUIRE(k::cast(TensorView<std::int32_t>(w, {12}), TensorView<const float>(x, {12})).ok());
  CHECK(w[2] == 2);
  CHECK(w[6] == 128);
  CHECK(w[8] == std::numeric_limits<std::int32_t>::max());
  CHECK(w[9] == std::numeric_limits<std::int32_t>::min());
  CHECK(w[10] == 0);
  CHECK(w[11] == std::numeric_limits<std::int32_t>::max());
  f16 h[3];
  float big[3] = {65504.0f, 65520.0f, nan};
  REQUIRE(k::cast(TensorView<f16>(h, {3}), TensorView<const float>(big, {3})).ok());
  CHECK(static_cast<float>(h[0]) == 65504.0f);
  CHECK(std::isinf(static_cast<float>(h[1])));
  CHECK(std::isnan(static_cast<float>(h[2])));
}

}  // TEST_SUITE
