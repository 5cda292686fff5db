// Tests of include/tessera/kernels/norm.hpp: every TESSERA_LAYER_NORM_KERNEL and
// TESSERA_RMS_NORM_KERNEL of op_list.def against kernels/ref/norm.hpp (in double) on tail
// sizes, in place, strided views and parameters, rows with a large offset (stability), bad
// shapes and eps; and layer_norm / rms_norm against Eigen.
#include "support/eigen.hpp"
#include "support/harness.hpp"

#include <tessera/kernels/norm.hpp>
#include <tessera/kernels/ref/norm.hpp>
#include <tessera/kernels/ref/unary.hpp>  // ref::map to shape test data
#include <tessera/kernels/registry.hpp>  // the derived count of each family

#include <cmath>
#include <limits>
#include <string>

using namespace tessera;
namespace k = tessera::kernels;
namespace kr = tessera::kernels::ref;
namespace reg = tessera::kernels::registry;
using test::must;

namespace {

// call(out, in, gamma, beta, eps) for both families (rms_norm ignores beta).
// Kernels come in as function pointers, so the checking body is compiled once per element
// type rather than once per registered kernel (most of this file's compile time otherwise).
template <class T>
using norm_kernel = status (*)(TensorView<T>, TensorView<const T>, TensorView<const T>, TensorView<const T>, double);

template <class T>
void check_norm(const std::string& name, norm_kernel<T> kernel, norm_kernel<double> ref) {
  INFO(name << " on " << simd::arch_name());
  const double rtol = std::is_same_v<T, float> ? 1e-5 : 1e-12, atol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  test::rng g;
  auto expect = [&](TensorView<const T> x, TensorView<const T> gamma, TensorView<const T> beta, double eps) {
    Tensor<double> xd = test::to_double(x), gd = test::to_double(gamma), bd = test::to_double(beta);
    Tensor<double> yd = must(Tensor<double>::empty(x.shape()));
    REQUIRE(ref(yd.view(), xd.view(), gd.view(), bd.view(), eps).ok());
    return yd;
  };
  for (index_t n : test::tail_sizes<T>()) {
    CAPTURE(n);
    Tensor<T> x = test::random_tensor<T>({3, n}, -3, 5, g);
    Tensor<T> gamma = test::random_tensor<T>({n}, 0.5, 1.5, g);
    Tensor<T> beta = test::random_tensor<T>({n}, -1, 1, g);
    for (double eps : {1e-5, 1e-6, 0.5}) {
      CAPTURE(eps);
      Tensor<T> y = must(Tensor<T>::full({3, n}, T(-777)));
      REQUIRE(kernel(y.view(), x.view(), gamma.view(), beta.view(), eps).ok());
      CHECK_TENSOR_NEAR(y, expect(x.view(), gamma.view(), beta.view(), eps), rtol, atol);
    }
    // In place.
    Tensor<T> z = must(x.clone());
    REQUIRE(kernel(z.view(), z.view(), gamma.view(), beta.view(), 1e-5).ok());
    CHECK_TENSOR_NEAR(z, expect(x.view(), gamma.view(), beta.view(), 1e-5), rtol, atol);
    // Transposed input, strided output, strided gamma/beta.
    Tensor<T> xs = test::random_tensor<T>({n, 4}, -3, 3, g);
    TensorView<const T> xt = must(TensorView<const T>(xs.view()).transpose());
    Tensor<T> wide = must(Tensor<T>::full({4, 2 * n}, T(-777)));
    TensorView<T> ys = must(wide.view().slice(1, 0, 2 * n, 2));
    Tensor<T> gb = test::random_tensor<T>({2, n}, 0.5, 1.5, g);
    TensorView<const T> gcol = must(must(TensorView<const T>(gb.view()).transpose()).select(1, 1));  // row 1 of gb
    TensorView<const T> gstr = must(TensorView<const T>(xs.view()).select(1, 2));  // a column: stride 4
    REQUIRE(kernel(ys, xt, gstr, gcol, 1e-5).ok());
    CHECK_TENSOR_NEAR(ys, expect(xt, gstr, gcol, 1e-5), rtol, atol);
    for (index_t r = 0; r < 4; ++r)
      for (index_t j = 1; j < 2 * n; j += 2) REQUIRE(wide(r, j) == T(-777));
    // A large common offset: E[x^2] - E[x]^2 would cancel catastrophically here.
    Tensor<T> off = test::random_tensor<T>({2, n}, -1, 1, g);
    REQUIRE(kr::map(off.view(), TensorView<const T>(off.view()), [](T v) { return T(1e4) + v; }).ok());
    Tensor<T> yo = must(Tensor<T>::empty({2, n}));
    REQUIRE(kernel(yo.view(), off.view(), gamma.view(), beta.view(), 1e-5).ok());
    CHECK_TENSOR_NEAR(yo, expect(off.view(), gamma.view(), beta.view(), 1e-5), rtol * 10, atol * 10);
  }
  // Errors: gamma of the wrong length, output shape, eps, rank 0.
  Tensor<T> x = must(Tensor<T>::zeros({2, 5})), g5 = must(Tensor<T>::full({5}, T(1))), g4 = must(Tensor<T>::full({4}, T(1)));
  Tensor<T> y = must(Tensor<T>::zeros({2, 5})), y2 = must(Tensor<T>::zeros({5, 2}));
  CHECK(kernel(y.view(), x.view(), g4.view(), g5.view(), 1e-5).code() == errc::shape_mismatch);
  CHECK(kernel(y2.view(), x.view(), g5.view(), g5.view(), 1e-5).code() == errc::shape_mismatch);
  CHECK(kernel(y.view(), x.view(), g5.view(), g5.view(), -1.0).code() == errc::invalid_argument);
  CHECK(kernel(y.view(), x.view(), g5.view(), g5.view(), std::numeric_limits<double>::quiet_NaN()).code() ==
        errc::invalid_argument);
  Tensor<T> s = must(Tensor<T>::zeros({}));
  CHECK(kernel(s.view(), s.view(), g5.view(), g5.view(), 1e-5).code() == errc::invalid_argument);
  Tensor<T> e = must(Tensor<T>::zeros({3, 0})), g0 = must(Tensor<T>::zeros({0}));
  CHECK(kernel(e.view(), e.view(), g0.view(), g0.view(), 1e-5).ok());
}

}  // namespace

TEST_SUITE("kernels/norm") {

TEST_CASE("every registered normalization matches the double reference") {
  int kernels_run = 0;
#define TESSERA_LAYER_NORM_KERNEL(name, T, fn)                                                                       \
  check_norm<T>(                                                                                                     \
      #name,                                                                                                         \
      [](TensorView<T> o, TensorView<const T> i, TensorView<const T> g, TensorView<const T> b, double eps) {         \
        return k::fn(o, i, g, b, eps);                                                                               \
      },                                                                                                             \
      [](TensorView<double> o, TensorView<const double> i, TensorView<const double> g, TensorView<const double> b,   \
         double eps) { return kr::fn(o, i, g, b, eps); });                                                           \
  ++kernels_run;
#define TESSERA_RMS_NORM_KERNEL(name, T, fn)                                                                         \
  check_norm<T>(                                                                                                     \
      #name,                                                                                                         \
      [](TensorView<T> o, TensorView<const T> i, TensorView<const T> g, TensorView<const T>, double eps) {           \
        return k::fn(o, i, g, eps);                                                                                  \
      },                                                                                                             \
      [](TensorView<double> o, TensorView<const double> i, TensorView<const double> g, TensorView<const double>,     \
         double eps) { return kr::fn(o, i, g, eps); });                                                              \
  ++kernels_run;
#include <tessera/kernels/op_list.def>
  CHECK(kernels_run == int(reg::count(reg::family::layer_norm) + reg::count(reg::family::rms_norm)));
}

TEST_CASE("layer_norm of a constant row is beta; rms_norm matches llama's formula") {
  float x[5] = {3, 3, 3, 3, 3}, g[5] = {1, 2, 3, 4, 5}, b[5] = {-1, 0, 1, 2, 3}, y[5];
  REQUIRE(k::layer_norm(TensorView<float>(y, {1, 5}), TensorView<const float>(x, {1, 5}), TensorView<const float>(g, {5}),
                        TensorView<const float>(b, {5}), 1e-5)
              .ok());
  for (int i = 0; i < 5; ++i) CHECK(y[i] == b[i]);
  float r[4] = {1, -2, 3, -4}, w[4] = {1, 1, 2, 0.5f}, o[4];
  REQUIRE(k::rms_norm(TensorView<float>(o, {4}), TensorView<const float>(r, {4}), TensorView<const float>(w, {4}), 1e-6).ok());
  const double ss = (1 + 4 + 9 + 16) / 4.0, inv = 1 / std::sqrt(ss + 1e-6);
  for (int i = 0; i < 4; ++i) CHECK(o[i] == doctest::Approx(r[i] * inv * w[i]).epsilon(1e-6));
}

#if TESSERA_TEST_HAVE_EIGEN
TEST_CASE("layer_norm and rms_norm agree with Eigen expressions") {
  test::rng g;
  const index_t M = 7, N = 129;
  Tensor<float> x = test::random_tensor<float>({M, N}, -4, 4, g);
  Tensor<float> gamma = test::random_tensor<float>({N}, 0.5, 1.5, g), beta = test::random_tensor<float>({N}, -1, 1, g);
  using Mat = eigen::matrix<double>;
  const Mat X = Eigen::Map<const eigen::matrix<float>>(x.data(), M, N).cast<double>();
  const Eigen::RowVectorXd G = Eigen::Map<const Eigen::RowVectorXf>(gamma.data(), N).cast<double>();
  const Eigen::RowVectorXd B = Eigen::Map<const Eigen::RowVectorXf>(beta.data(), N).cast<double>();
  const double eps = 1e-5;
  const Mat C = X.colwise() - X.rowwise().mean();
  const Eigen::VectorXd rstd = ((C.array().square().rowwise().sum() / double(N)) + eps).rsqrt();
  const Mat LN = ((C.array().colwise() * rstd.array()).rowwise() * G.array()).rowwise() + B.array();
  const Eigen::VectorXd rms = ((X.array().square().rowwise().sum() / double(N)) + eps).rsqrt();
  const Mat RN = (X.array().colwise() * rms.array()).rowwise() * G.array();
  Tensor<float> y = must(Tensor<float>::empty({M, N}));
  REQUIRE(k::layer_norm(y.view(), x.view(), gamma.view(), beta.view(), eps).ok());
  CHECK_TENSOR_NEAR(y, TensorView<const double>(LN.data(), {M, N}), 1e-5, 2e-6);
  REQUIRE(k::rms_norm(y.view(), x.view(), gamma.view(), eps).ok());
  CHECK_TENSOR_NEAR(y, TensorView<const double>(RN.data(), {M, N}), 1e-5, 2e-6);
}
#endif

}  // TEST_SUITE
