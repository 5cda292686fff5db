// Tests of include/tessera/kernels/reduce.hpp: every TESSERA_REDUCE_KERNEL and
// TESSERA_ARG_REDUCE_KERNEL of op_list.def against kernels/ref/reduce.hpp (in double) over
// every axis of several shapes (row path, column path, strided path), keepdims outputs, the
// all-axes form, NaN, accuracy on long rows, bad shapes; and sums against Eigen.
#include "support/eigen.hpp"
#include "support/harness.hpp"

#include <tessera/kernels/reduce.hpp>
#include <tessera/kernels/ref/reduce.hpp>
#include <tessera/kernels/ref/unary.hpp>  // ref::map to shape test data
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

// Shapes and axes that reach each path of the reduce driver.
struct reduce_case {
  shape_t shape;
  int axis;
  bool transpose;  // reduce a transposed view of a tensor of the transposed shape
};

std::vector<reduce_case> cases_for(index_t n) {
  return {{{n}, 0, false},    {{5, n}, 1, false}, {{5, n}, 0, false}, {{5, n}, -1, false}, {{n, 5}, 0, false},
          {{n, 5}, 1, false}, {{3, n, 4}, 1, false}, {{3, n, 4}, 2, false}, {{3, 2, n}, 0, false},
          {{n, 5}, 1, true},  {{5, n}, 0, true},  {{n, 17}, 0, false}};
}

// A view of `t` with the given logical shape: t itself, or the transpose of a tensor
// allocated with the last two extents swapped.
template <class T>
TensorView<const T> logical_view(const Tensor<T>& t, bool transpose) {
  return transpose ? must(t.view().transpose()) : t.view();
}

template <class T>
shape_t storage_shape(shape_t s, bool transpose) {
  if (transpose) std::swap(s[s.rank() - 2], s[s.rank() - 1]);
  return s;
}

// sum: error bound grows with the row length; mean: with the values; max/min: exact.
template <class T>
double reduce_atol(const std::string& name, index_t R) {
  const double unit = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  if (name.find("sum") != std::string::npos) return unit * static_cast<double>(R > 0 ? R : 1);
  if (name.find("mean") != std::string::npos) return unit;
  return 0.0;
}

// Kernels come in as function pointers, so the checking body is compiled once per element
// type rather than once per registered kernel (most of this file's compile time otherwise).
template <class Out, class In>
using reduce_kernel = status (*)(TensorView<Out>, TensorView<const In>, int);
template <class Out, class In>
using reduce_all_kernel = status (*)(TensorView<Out>, TensorView<const In>);

template <class T>
void check_reduce(const std::string& name, reduce_kernel<T, T> kernel, reduce_all_kernel<T, T> kernel_all,
                  reduce_kernel<double, double> ref, reduce_all_kernel<double, double> ref_all) {
  INFO(name << " on " << simd::arch_name());
  test::rng g;
  for (index_t n : test::tail_sizes<T>()) {
    for (const reduce_case& c : cases_for(n)) {
      CAPTURE(n);
      CAPTURE(c.shape.str());
      CAPTURE(c.axis);
      CAPTURE(c.transpose);
      Tensor<T> storage = test::random_tensor<T>(storage_shape<T>(c.shape, c.transpose), -1, 1, g);
      TensorView<const T> x = logical_view(storage, c.transpose);
      REQUIRE(x.shape() == c.shape);
      const index_t R = x.dim(c.axis);
      const double atol = reduce_atol<T>(name, R);
      Tensor<double> xd = test::to_double(x);
      for (bool keepdims : {false, true}) {
        CAPTURE(keepdims);
        const shape_t os = must(k::reduced_shape(c.shape, c.axis, keepdims));
        Tensor<T> y = must(Tensor<T>::full(os, T(-777)));
        REQUIRE(kernel(y.view(), x, c.axis).ok());
        Tensor<double> want = must(Tensor<double>::empty(os));
        REQUIRE(ref(want.view(), xd.view(), c.axis).ok());
        CHECK_TENSOR_NEAR(y, want, 0.0, atol);
      }
      // All axes, into a [] and a [1, 1] output.
      Tensor<T> s0 = must(Tensor<T>::empty({}));
      REQUIRE(kernel_all(s0.view(), x).ok());
      Tensor<double> w0 = must(Tensor<double>::empty({}));
      REQUIRE(ref_all(w0.view(), xd.view()).ok());
      CHECK_TENSOR_NEAR(s0, w0, 0.0, reduce_atol<T>(name, x.size()));
      Tensor<T> s11 = must(Tensor<T>::empty({1, 1}));
      REQUIRE(kernel_all(s11.view(), x).ok());
      CHECK(*s11.data() == *s0.data());
    }
  }
  // Errors.
  Tensor<T> x = must(Tensor<T>::zeros({4, 6}));
  Tensor<T> y6 = must(Tensor<T>::zeros({6})), y4 = must(Tensor<T>::zeros({4})), y14 = must(Tensor<T>::zeros({1, 4}));
  CHECK(kernel(y6.view(), x.view(), 0).ok());
  CHECK(kernel(y4.view(), x.view(), 1).ok());
  CHECK(kernel(y4.view(), x.view(), 0).code() == errc::shape_mismatch);
  CHECK(kernel(y14.view(), x.view(), 1).code() == errc::shape_mismatch);  // keepdims needs [4, 1]
  CHECK(kernel(y6.view(), x.view(), 2).code() == errc::invalid_argument);
  CHECK(kernel(y6.view(), x.view(), -3).code() == errc::invalid_argument);
  CHECK(kernel_all(y4.view(), x.view()).code() == errc::shape_mismatch);
  // Reducing into a view of the input itself: must read the input first.
  Tensor<T> self = test::random_tensor<T>({3, 9}, -1, 1, g);
  Tensor<double> sd = test::to_double(self.view());
  Tensor<double> want_self = must(Tensor<double>::empty({9}));
  REQUIRE(ref(want_self.view(), sd.view(), 0).ok());
  TensorView<T> row0 = must(self.view().select(0, 0));
  REQUIRE(kernel(row0, self.view(), 0).ok());
  CHECK_TENSOR_NEAR(row0, want_self, 0.0, reduce_atol<T>(name, 3));
}

template <class T>
void check_arg_reduce(const std::string& name, reduce_kernel<index_t, T> kernel, reduce_all_kernel<index_t, T> kernel_all,
                      reduce_kernel<index_t, double> ref, reduce_all_kernel<index_t, double> ref_all) {
  INFO(name << " on " << simd::arch_name());
  test::rng g;
  for (index_t n : test::tail_sizes<T>()) {
    for (const reduce_case& c : cases_for(n)) {
      CAPTURE(n);
      CAPTURE(c.shape.str());
      CAPTURE(c.axis);
      // Few distinct values so that ties (first index wins) are common.
      Tensor<T> storage = test::random_tensor<T>(storage_shape<T>(c.shape, c.transpose), -3, 3, g);
      REQUIRE(kr::map(storage.view(), TensorView<const T>(storage.view()), [](T v) { return std::round(v); }).ok());
      TensorView<const T> x = logical_view(storage, c.transpose);
      Tensor<double> xd = test::to_double(x);
      const shape_t os = must(k::reduced_shape(c.shape, c.axis, false));
      Tensor<index_t> y = must(Tensor<index_t>::full(os, -1));
      REQUIRE(kernel(y.view(), x, c.axis).ok());
      Tensor<index_t> want = must(Tensor<index_t>::empty(os));
      REQUIRE(ref(want.view(), TensorView<const double>(xd.view()), c.axis).ok());
      CHECK_TENSOR_NEAR(y, want, 0.0, 0.0);
      Tensor<index_t> a0 = must(Tensor<index_t>::empty({})), w0 = must(Tensor<index_t>::empty({}));
      REQUIRE(kernel_all(a0.view(), x).ok());
      REQUIRE(ref_all(w0.view(), TensorView<const double>(xd.view())).ok());
      CHECK(*a0.data() == *w0.data());
    }
  }
  Tensor<T> e = must(Tensor<T>::zeros({3, 0}));
  Tensor<index_t> o3 = must(Tensor<index_t>::zeros({3}));
  CHECK(kernel(o3.view(), e.view(), 1).code() == errc::invalid_argument);
}

}  // namespace

TEST_SUITE("kernels/reduce") {

TEST_CASE("every registered reduction matches the double reference on every path") {
  int kernels_run = 0;
#define TESSERA_REDUCE_KERNEL(name, T, fn)                                                              \
  check_reduce<T>(                                                                                      \
      #name, [](TensorView<T> o, TensorView<const T> i, int ax) { return k::fn(o, i, ax); },            \
      [](TensorView<T> o, TensorView<const T> i) { return k::fn(o, i); },                               \
      [](TensorView<double> o, TensorView<const double> i, int ax) { return kr::fn(o, i, ax); },        \
      [](TensorView<double> o, TensorView<const double> i) { return kr::fn(o, i); });                   \
  ++kernels_run;
#define TESSERA_ARG_REDUCE_KERNEL(name, T, fn)                                                          \
  check_arg_reduce<T>(                                                                                  \
      #name, [](TensorView<index_t> o, TensorView<const T> i, int ax) { return k::fn(o, i, ax); },      \
      [](TensorView<index_t> o, TensorView<const T> i) { return k::fn(o, i); },                         \
      [](TensorView<index_t> o, TensorView<const double> i, int ax) { return kr::fn(o, i, ax); },       \
      [](TensorView<index_t> o, TensorView<const double> i) { return kr::fn(o, i); });                  \
  ++kernels_run;
#include <tessera/kernels/op_list.def>
  CHECK(kernels_run == int(reg::count(reg::family::reduce) + reg::count(reg::family::arg_reduce)));
}

TEST_CASE("long f32 sums keep their accuracy") {
  // 2^24 + 7 ones (a broadcast view: no memory): a running f32 total would stop at 2^24.
  const float one = 1.0f;
  const index_t n = (index_t{1} << 24) + 7;
  TensorView<const float> ones = must(TensorView<const float>(&one, {1}).broadcast_to({n}));
  float s = 0;
  REQUIRE(k::sum(TensorView<float>(&s, {}), ones).ok());
  CHECK(s == 16777223.0f);
  // A million contiguous 0.1f (identical terms: the worst case for biased rounding).
  std::vector<float> v(1000003, 0.1f);
  REQUIRE(k::sum(TensorView<float>(&s, {}), TensorView<const float>(v.data(), {static_cast<index_t>(v.size())})).ok());
  const double exact = static_cast<double>(0.1f) * static_cast<double>(v.size());
  CHECK(std::fabs(s - exact) <= 2e-6 * exact);
  float naive = 0;  // what the check guards against: a running f32 total is ~1e-2 off
  for (float f : v) naive += f;
  CHECK(std::fabs(naive - exact) > 1e-3 * exact);
  // Column path over many rows.
  std::vector<float> tall(3 * 70001, 0.1f);
  float cols[3];
  REQUIRE(k::sum(TensorView<float>(cols, {3}), TensorView<const float>(tall.data(), {70001, 3}), 0).ok());
  for (float c : cols) CHECK(std::fabs(c - static_cast<double>(0.1f) * 70001) <= 2e-6 * 7000.1);
}

TEST_CASE("NaN propagates through max/min and argmax points at the first NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v(37, 1.0f);
  v[20] = nan;
  v[30] = nan;
  v[5] = 9.0f;
  const TensorView<const float> x(v.data(), {37});
  float m = 0;
  REQUIRE(k::max(TensorView<float>(&m, {}), x).ok());
  CHECK(std::isnan(m));
  REQUIRE(k::min(TensorView<float>(&m, {}), x, 0).ok());
  CHECK(std::isnan(m));
  index_t i = -1;
  REQUIRE(k::argmax(TensorView<index_t>(&i, {}), x, 0).ok());
  CHECK(i == 20);
  REQUIRE(k::argmin(TensorView<index_t>(&i, {}), x).ok());
  CHECK(i == 20);
  float s = 0;
  REQUIRE(k::sum(TensorView<float>(&s, {}), x).ok());
  CHECK(std::isnan(s));
  // Empty: sum 0, mean NaN, max an error.
  const TensorView<const float> e(v.data(), {0});
  REQUIRE(k::sum(TensorView<float>(&s, {}), e).ok());
  CHECK(s == 0.0f);
  REQUIRE(k::mean(TensorView<float>(&s, {}), e).ok());
  CHECK(std::isnan(s));
  CHECK(k::max(TensorView<float>(&s, {}), e).code() == errc::invalid_argument);
  // Infinities.
  v.assign(40, 1.0f);
  v[33] = std::numeric_limits<float>::infinity();
  REQUIRE(k::sum(TensorView<float>(&s, {}), TensorView<const float>(v.data(), {40})).ok());
  CHECK(s == std::numeric_limits<float>::infinity());
}

#if TESSERA_TEST_HAVE_EIGEN
TEST_CASE("row and column sums, max and mean agree with Eigen") {
  test::rng g;
  const index_t M = 129, N = 67;
  Tensor<float> x = test::random_tensor<float>({M, N}, -1, 1, g);
  using Mat = eigen::matrix<float>;
  Eigen::Map<const Mat> X(x.data(), M, N);
  const Eigen::VectorXd row_sums = X.cast<double>().rowwise().sum();
  const Eigen::RowVectorXd col_sums = X.cast<double>().colwise().sum();
  const Eigen::VectorXf row_max = X.rowwise().maxCoeff();
  Tensor<float> rs = must(Tensor<float>::empty({M})), cs = must(Tensor<float>::empty({N})), rm = must(Tensor<float>::empty({M}));
  REQUIRE(k::sum(rs.view(), x.view(), 1).ok());
  REQUIRE(k::sum(cs.view(), x.view(), 0).ok());
  REQUIRE(k::max(rm.view(), x.view(), -1).ok());
  CHECK_TENSOR_NEAR(rs, TensorView<const double>(row_sums.data(), {M}), 0.0, 1e-5);
  CHECK_TENSOR_NEAR(cs, TensorView<const double>(col_sums.data(), {N}), 0.0, 1e-5);
  CHECK_TENSOR_NEAR(rm, TensorView<const float>(row_max.data(), {M}), 0.0, 0.0);
  float mean = 0;
  REQUIRE(k::mean(TensorView<float>(&mean, {}), x.view()).ok());
  CHECK(std::fabs(mean - X.cast<double>().mean()) < 1e-7);
}
#endif

}  // TEST_SUITE
