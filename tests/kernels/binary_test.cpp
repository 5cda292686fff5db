// Tests of include/tessera/kernels/binary.hpp: every TESSERA_BINARY_KERNEL of op_list.def
// against kernels/ref/binary.hpp (in double) on tail sizes, every broadcasting pattern the
// fast paths special-case (scalar, row, column, outer), strided and transposed views, in
// place, overlapping operands, bad shapes; and broadcasting add against Eigen.
#include "support/eigen.hpp"
#include "support/harness.hpp"

#include <tessera/kernels/binary.hpp>
#include <tessera/kernels/ref/binary.hpp>
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

// Kernels come in as function pointers, so the body below is compiled once per element type,
// not once per kernel (it was 10 copies, most of this file's compile time).
template <class T>
using binary_kernel = status (*)(TensorView<T>, TensorView<const T>, TensorView<const T>);

template <class T>
void check_binary(const std::string& name, binary_kernel<T> kernel, binary_kernel<double> ref, double alo, double ahi,
                  double blo, double bhi) {
  INFO(name << " on " << simd::arch_name());
  const auto tol = test::default_tolerance<T>();
  const double rtol = tol.rtol * 4, atol = tol.atol;  // pow: exp(b log a) loses a few ulp more
  auto expect = [&](TensorView<const T> a, TensorView<const T> b) {
    Tensor<double> ad = test::to_double(a), bd = test::to_double(b);
    Tensor<double> yd = must(Tensor<double>::empty(must(broadcast_shapes(a.shape(), b.shape()))));
    REQUIRE(ref(yd.view(), ad.view(), bd.view()).ok());
    return yd;
  };
  // Runs one broadcasting case: a of shape sa, b of shape sb.
  test::rng g;
  auto run_case = [&](const shape_t& sa, const shape_t& sb) {
    CAPTURE(sa.str());
    CAPTURE(sb.str());
    Tensor<T> a = test::random_tensor<T>(sa, alo, ahi, g);
    Tensor<T> b = test::random_tensor<T>(sb, blo, bhi, g);
    const shape_t so = must(broadcast_shapes(sa, sb));
    Tensor<T> y = must(Tensor<T>::full(so, T(-777)));
    REQUIRE(kernel(y.view(), a.view(), b.view()).ok());
    CHECK_TENSOR_NEAR(y, expect(a.view(), b.view()), rtol, atol);
    // In place into whichever operand has the output's shape.
    if (sa == so) {
      Tensor<T> a2 = must(a.clone());
      REQUIRE(kernel(a2.view(), a2.view(), b.view()).ok());
      CHECK_TENSOR_NEAR(a2, expect(a.view(), b.view()), rtol, atol);
    }
    if (sb == so) {
      Tensor<T> b2 = must(b.clone());
      REQUIRE(kernel(b2.view(), a.view(), b2.view()).ok());
      CHECK_TENSOR_NEAR(b2, expect(a.view(), b.view()), rtol, atol);
    }
  };
  for (index_t n : test::tail_sizes<T>()) {
    CAPTURE(n);
    run_case({n}, {n});            // same shape, contiguous
    run_case({3, n}, {n});         // row vector
    run_case({3, n}, {3, 1});      // column vector (a scalar per row)
    run_case({3, n}, {});          // scalar b
    run_case({}, {3, n});          // scalar a
    run_case({n, 1}, {1, 3});      // outer product shape
    run_case({2, 1, n}, {1, 3, 1});  // 3-d outer broadcast
    run_case({1}, {1});

    // Transposed a, strided output.
    Tensor<T> a = test::random_tensor<T>({n, 3}, alo, ahi, g);
    Tensor<T> b = test::random_tensor<T>({3, n}, blo, bhi, g);
    TensorView<const T> at = must(TensorView<const T>(a.view()).transpose());
    Tensor<T> wide = must(Tensor<T>::full({3, 2 * n}, T(-777)));
    TensorView<T> ys = must(wide.view().slice(1, 1, 2 * n, 2));
    REQUIRE(kernel(ys, at, b.view()).ok());
    CHECK_TENSOR_NEAR(ys, expect(at, b.view()), rtol, atol);
    for (index_t r = 0; r < 3; ++r)
      for (index_t j = 0; j < 2 * n; j += 2) REQUIRE(wide(r, j) == T(-777));

    // out = a while b is a row *of a*: b must be read as it was before any write.
    Tensor<T> m = test::random_tensor<T>({4, n}, alo, ahi, g);
    if (blo > 0)  // b's domain (div, pow): rescale so the row used as b stays inside it
      REQUIRE(kr::map(m.view(), TensorView<const T>(m.view()), [&](T v) { return T(blo + (bhi - blo) * (v - alo) / (ahi - alo)); }).ok());
    const Tensor<double> want = expect(m.view(), must(TensorView<const T>(m.view()).select(0, 2)));
    TensorView<const T> row2 = must(TensorView<const T>(m.view()).select(0, 2));
    REQUIRE(kernel(m.view(), m.view(), row2).ok());
    CHECK_TENSOR_NEAR(m, want, rtol, atol);

    // Shifted overlap of same-shape contiguous operands (the fast path must not take it).
    Tensor<T> buf = test::random_tensor<T>({n + 1}, blo, bhi, g);
    TensorView<T> lo_v = must(buf.view().slice(0, 0, n)), hi_v = must(buf.view().slice(0, 1, n + 1));
    const Tensor<double> want_shift = expect(hi_v, lo_v);
    REQUIRE(kernel(lo_v, hi_v, lo_v).ok());
    CHECK_TENSOR_NEAR(lo_v, want_shift, rtol, atol);
  }
  // Errors: incompatible shapes, wrong output shape, broadcast output.
  Tensor<T> a = must(Tensor<T>::zeros({3, 4})), b = must(Tensor<T>::zeros({5})), o = must(Tensor<T>::zeros({3, 4}));
  const status s1 = kernel(o.view(), a.view(), b.view());
  CHECK(s1.code() == errc::shape_mismatch);
  CHECK(s1.message().find("[3,4]") != std::string::npos);
  Tensor<T> b4 = must(Tensor<T>::zeros({4}));
  Tensor<T> o_bad = must(Tensor<T>::zeros({4, 4}));
  CHECK(kernel(o_bad.view(), a.view(), b4.view()).code() == errc::shape_mismatch);
  Tensor<T> o_small = must(Tensor<T>::zeros({4}));
  CHECK(kernel(o_small.view(), a.view(), b4.view()).code() == errc::shape_mismatch);  // no broadcasting into out
  TensorView<T> o_b = must(TensorView<T>(o.data(), {1, 4}).broadcast_to({3, 4}));
  CHECK(kernel(o_b, a.view(), b4.view()).code() == errc::invalid_argument);
  // Empty broadcast result.
  Tensor<T> e = must(Tensor<T>::zeros({0, 4})), eo = must(Tensor<T>::zeros({0, 4}));
  CHECK(kernel(eo.view(), e.view(), b4.view()).ok());
}

}  // namespace

TEST_SUITE("kernels/binary") {

TEST_CASE("every registered binary kernel matches the double reference with broadcasting") {
  int kernels_run = 0;
#define TESSERA_BINARY_KERNEL(name, T, fn, alo, ahi, blo, bhi)                                                       \
  check_binary<T>(                                                                                                   \
      #name, [](TensorView<T> o, TensorView<const T> a, TensorView<const T> b) { return k::fn(o, a, b); },           \
      [](TensorView<double> o, TensorView<const double> a, TensorView<const double> b) { return kr::fn(o, a, b); }, \
      alo, ahi, blo, bhi);                                                                                           \
  ++kernels_run;
#include <tessera/kernels/op_list.def>
  CHECK(kernels_run == int(reg::count(reg::family::binary)));
}

TEST_CASE("maximum and minimum propagate NaN from either side") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float a[11] = {nan, 1, 2, nan, 5, 6, 7, 8, 9, 10, nan};
  float b[11] = {1, nan, 3, nan, 4, 7, 6, 9, 8, nan, 0};
  float y[11];
  REQUIRE(k::maximum(TensorView<float>(y, {11}), TensorView<const float>(a, {11}), TensorView<const float>(b, {11})).ok());
  const bool nan_at[11] = {true, true, false, true, false, false, false, false, false, true, true};
  for (int i = 0; i < 11; ++i) CHECK(std::isnan(y[i]) == nan_at[i]);
  CHECK(y[2] == 3);
  CHECK(y[4] == 5);
  REQUIRE(k::minimum(TensorView<float>(y, {11}), TensorView<const float>(a, {11}), TensorView<const float>(b, {11})).ok());
  for (int i = 0; i < 11; ++i) CHECK(std::isnan(y[i]) == nan_at[i]);
  CHECK(y[2] == 2);
  CHECK(y[4] == 4);
}

#if TESSERA_TEST_HAVE_EIGEN
TEST_CASE("broadcast add and mul agree with Eigen rowwise / colwise expressions") {
  test::rng g;
  const index_t M = 37, N = 53;
  Tensor<float> x = test::random_tensor<float>({M, N}, -2, 2, g);
  Tensor<float> row = test::random_tensor<float>({N}, -2, 2, g);
  Tensor<float> col = test::random_tensor<float>({M, 1}, -2, 2, g);
  using Mat = eigen::matrix<float>;
  Eigen::Map<const Mat> X(x.data(), M, N);
  Eigen::Map<const Eigen::RowVectorXf> R(row.data(), N);
  Eigen::Map<const Eigen::VectorXf> C(col.data(), M);
  Mat want_add = X.rowwise() + R;
  Mat want_mul = X.array().colwise() * C.array();
  Tensor<float> y = must(Tensor<float>::empty({M, N}));
  REQUIRE(k::add(y.view(), x.view(), row.view()).ok());
  CHECK_TENSOR_NEAR(y, TensorView<const float>(want_add.data(), {M, N}), 0.0, 0.0);
  REQUIRE(k::mul(y.view(), x.view(), col.view()).ok());
  CHECK_TENSOR_NEAR(y, TensorView<const float>(want_mul.data(), {M, N}), 0.0, 0.0);
}
#endif

}  // TEST_SUITE
