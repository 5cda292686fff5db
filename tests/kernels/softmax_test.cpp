// Tests of include/tessera/kernels/softmax.hpp: every TESSERA_SOFTMAX_KERNEL of op_list.def
// against kernels/ref/softmax.hpp (in double) along every axis, on tail sizes, in place, on
// transposed views, with extreme and special values; and softmax against Eigen.
#include "support/eigen.hpp"
#include "support/harness.hpp"

#include <tessera/kernels/ref/softmax.hpp>
#include <tessera/kernels/softmax.hpp>
#include <tessera/kernels/registry.hpp>  // the derived count of each family

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace tessera;
namespace k = tessera::kernels;
namespace kr = tessera::kernels::ref;
namespace reg = tessera::kernels::registry;
using test::must;

namespace {

template <class T, class Kernel, class Ref>
void check_softmax(const std::string& name, Kernel kernel, Ref ref) {
  INFO(name << " on " << simd::arch_name());
  const double rtol = std::is_same_v<T, float> ? 1e-5 : 1e-12, atol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  test::rng g;
  auto expect = [&](TensorView<const T> x, int axis) {
    Tensor<double> xd = test::to_double(x);
    Tensor<double> yd = must(Tensor<double>::empty(x.shape()));
    REQUIRE(ref(yd.view(), xd.view(), axis).ok());
    return yd;
  };
  for (index_t n : test::tail_sizes<T>()) {
    CAPTURE(n);
    // Logits with a spread like a language model's (and an offset that overflows a naive exp).
    Tensor<T> x = test::random_tensor<T>({3, n}, 80, 100, g);
    for (int axis : {-1, 1, 0}) {
      CAPTURE(axis);
      Tensor<T> y = must(Tensor<T>::full({3, n}, T(-777)));
      REQUIRE(kernel(y.view(), x.view(), axis).ok());
      CHECK_TENSOR_NEAR(y, expect(x.view(), axis), rtol, atol);
    }
    // In place, along rows and down columns.
    for (int axis : {-1, 0}) {
      Tensor<T> z = must(x.clone());
      REQUIRE(kernel(z.view(), z.view(), axis).ok());
      CHECK_TENSOR_NEAR(z, expect(x.view(), axis), rtol, atol);
    }
    // Transposed input and a strided output along the softmax axis.
    Tensor<T> xt_store = test::random_tensor<T>({n, 4}, -5, 5, g);
    TensorView<const T> xt = must(TensorView<const T>(xt_store.view()).transpose());
    Tensor<T> wide = must(Tensor<T>::full({4, 2 * n}, T(-777)));
    TensorView<T> ys = must(wide.view().slice(1, 0, 2 * n, 2));
    REQUIRE(kernel(ys, xt, -1).ok());
    CHECK_TENSOR_NEAR(ys, expect(xt, -1), rtol, atol);
    for (index_t r = 0; r < 4; ++r)
      for (index_t j = 1; j < 2 * n; j += 2) REQUIRE(wide(r, j) == T(-777));
    // 3-d, middle axis.
    Tensor<T> x3 = test::random_tensor<T>({2, n, 3}, -10, 10, g);
    Tensor<T> y3 = must(Tensor<T>::empty({2, n, 3}));
    REQUIRE(kernel(y3.view(), x3.view(), 1).ok());
    CHECK_TENSOR_NEAR(y3, expect(x3.view(), 1), rtol, atol);
  }
  // Errors.
  Tensor<T> a = must(Tensor<T>::zeros({2, 3})), b = must(Tensor<T>::zeros({3, 2}));
  CHECK(kernel(b.view(), a.view(), -1).code() == errc::shape_mismatch);
  CHECK(kernel(a.view(), a.view(), 2).code() == errc::invalid_argument);
  Tensor<T> s = must(Tensor<T>::zeros({}));
  CHECK(kernel(s.view(), s.view(), -1).code() == errc::invalid_argument);  // rank 0 has no axis
  Tensor<T> e = must(Tensor<T>::zeros({0, 3}));
  CHECK(kernel(e.view(), e.view(), -1).ok());
}

}  // namespace

TEST_SUITE("kernels/softmax") {

TEST_CASE("every registered softmax kernel matches the double reference") {
  int kernels_run = 0;
#define TESSERA_SOFTMAX_KERNEL(name, T, fn)                                                                  \
  check_softmax<T>(                                                                                          \
      #name, [](TensorView<T> o, TensorView<const T> i, int ax) { return k::fn(o, i, ax); },                 \
      [](TensorView<double> o, TensorView<const double> i, int ax) { return kr::fn(o, i, ax); });            \
  ++kernels_run;
#include <tessera/kernels/op_list.def>
  CHECK(kernels_run == int(reg::count(reg::family::softmax)));
}

TEST_CASE("softmax is stable for huge logits and follows PyTorch on special values") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  float x[2] = {1000.0f, 1000.0f}, y[2];
  REQUIRE(k::softmax(TensorView<float>(y, {2}), TensorView<const float>(x, {2})).ok());
  CHECK(y[0] == 0.5f);
  CHECK(y[1] == 0.5f);
  REQUIRE(k::log_softmax(TensorView<float>(y, {2}), TensorView<const float>(x, {2})).ok());
  CHECK(y[0] == doctest::Approx(-std::log(2.0f)));
  // A masked row: -inf gets probability 0 / log-probability -inf.
  float m[4] = {0.0f, -inf, 0.0f, -inf}, p[4];
  REQUIRE(k::softmax(TensorView<float>(p, {4}), TensorView<const float>(m, {4})).ok());
  CHECK(p[0] == 0.5f);
  CHECK(p[1] == 0.0f);
  REQUIRE(k::log_softmax(TensorView<float>(p, {4}), TensorView<const float>(m, {4})).ok());
  CHECK(p[1] == -inf);
  CHECK(p[2] == doctest::Approx(-std::log(2.0f)));
  // NaN anywhere, or an all -inf row: all NaN.
  float bad[2][3] = {{1.0f, nan, 2.0f}, {-inf, -inf, -inf}};
  float out[2][3];
  REQUIRE(k::softmax(TensorView<float>(&out[0][0], {2, 3}), TensorView<const float>(&bad[0][0], {2, 3})).ok());
  for (auto& row : out)
    for (float v : row) CHECK(std::isnan(v));
  // The same down columns (softmax over axis 0 runs W columns per vector): one column per
  // case, a full vector of them and a tail, each column checked against its row twin.
  for (index_t cols : {index_t(3), index_t(simd::batch<float>::size + 5)}) {
    CAPTURE(cols);
    const float rows_in[4][3] = {{1.0f, 0.0f, -inf}, {nan, -inf, -inf}, {2.0f, 0.0f, -inf}, {0.5f, -inf, -inf}};
    std::vector<float> col(4 * static_cast<std::size_t>(cols)), got(col.size());
    for (index_t r = 0; r < 4; ++r)
      for (index_t c = 0; c < cols; ++c) col[static_cast<std::size_t>(r * cols + c)] = rows_in[r][c % 3];
    for (bool log : {false, true}) {
      const TensorView<float> o(got.data(), {4, cols});
      const TensorView<const float> i(col.data(), {4, cols});
      REQUIRE((log ? k::log_softmax(o, i, 0) : k::softmax(o, i, 0)).ok());
      for (index_t c = 0; c < cols; ++c) {
        float column[4], want[4];
        for (index_t r = 0; r < 4; ++r) column[r] = col[static_cast<std::size_t>(r * cols + c)];
        REQUIRE((log ? k::log_softmax(TensorView<float>(want, {4}), TensorView<const float>(column, {4}))
                     : k::softmax(TensorView<float>(want, {4}), TensorView<const float>(column, {4}))).ok());
        for (index_t r = 0; r < 4; ++r) {
          const float v = got[static_cast<std::size_t>(r * cols + c)];
          CHECK((std::isnan(want[r]) ? std::isnan(v) : std::isinf(want[r]) ? v == want[r] : v == doctest::Approx(want[r]).epsilon(1e-6)));
        }
      }
    }
  }
  {  // a column longer than one reduce block sums to 1
    const index_t rows = 5000, cols = 7;
    std::vector<float> x(static_cast<std::size_t>(rows * cols)), y(x.size());
    test::rng gc;
    for (float& v : x) v = static_cast<float>(gc.uniform(-20, 20));
    REQUIRE(k::softmax(TensorView<float>(y.data(), {rows, cols}), TensorView<const float>(x.data(), {rows, cols}), 0).ok());
    for (index_t c = 0; c < cols; ++c) {
      double total = 0;
      for (index_t r = 0; r < rows; ++r) total += y[static_cast<std::size_t>(r * cols + c)];
      CHECK(std::fabs(total - 1.0) < 1e-5);
    }
  }
  // Rows sum to 1 for a long row.
  std::vector<float> big(100003);
  test::rng g;
  for (float& v : big) v = static_cast<float>(g.uniform(-20, 20));
  std::vector<float> pb(big.size());
  const index_t n = static_cast<index_t>(big.size());
  REQUIRE(k::softmax(TensorView<float>(pb.data(), {n}), TensorView<const float>(big.data(), {n})).ok());
  double total = 0;
  for (float v : pb) total += v;
  CHECK(std::fabs(total - 1.0) < 1e-5);
}

#if TESSERA_TEST_HAVE_EIGEN
TEST_CASE("softmax agrees with an Eigen expression") {
  test::rng g;
  const index_t M = 9, N = 301;
  Tensor<float> x = test::random_tensor<float>({M, N}, -8, 8, g);
  using Mat = eigen::matrix<double>;
  Mat X = Eigen::Map<const eigen::matrix<float>>(x.data(), M, N).cast<double>();
  Mat E = (X.colwise() - X.rowwise().maxCoeff()).array().exp().matrix();
  Mat P = E.array().colwise() / E.rowwise().sum().array();
  Tensor<float> y = must(Tensor<float>::empty({M, N}));
  REQUIRE(k::softmax(y.view(), x.view()).ok());
  CHECK_TENSOR_NEAR(y, TensorView<const double>(P.data(), {M, N}), 1e-5, 1e-7);
}
#endif

}  // TEST_SUITE
