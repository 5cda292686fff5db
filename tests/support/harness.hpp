// Shared helpers of tessera's tests: reproducible random tensors, tail sizes, double copies,
// and one closeness check (CHECK_TENSOR_NEAR / CHECK_NEAR_SPAN) that reports the first
// mismatching index. Tolerances always go through these macros, never ad-hoc fabs checks.
#pragma once

#include <doctest/doctest.h>

#include <tessera/core/tensor.hpp>
#include <tessera/kernels/ref/common.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tessera::test {

inline constexpr std::uint64_t default_seed = 0x7e55e7a2026ull;

#ifdef TESSERA_SOURCE_DIR  // targets linked to tessera_source_dir: a path inside the checkout
inline std::string source_path(std::string_view rel) { return std::string(TESSERA_SOURCE_DIR) + "/" + std::string(rel); }
#endif

// splitmix64: the same stream natively and under WASM (std::uniform_real_distribution is not
// specified bit-for-bit, and libstdc++ and Emscripten's libc++ differ).
class rng {
 public:
  explicit rng(std::uint64_t seed = default_seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_;
};

// Unwraps an expected in a test: a failure fails the test loudly instead of aborting later.
template <class T>
T must(expected<T> e) {
  if (!e.ok()) {
    std::fprintf(stderr, "test setup failed: %s\n", e.what().c_str());
    std::abort();
  }
  return std::move(e).value();
}

template <class T>
void fill_random(TensorView<T> v, double lo, double hi, rng& g) {
  T* p = v.data();
  for_each_offset(v, [&](index_t off) { p[off] = static_cast<T>(g.uniform(lo, hi)); });
}

template <class T>
Tensor<T> random_tensor(const shape_t& shape, double lo, double hi, rng& g) {
  Tensor<T> t = must(Tensor<T>::empty(shape));
  fill_random(t.view(), lo, hi, g);
  return t;
}

inline std::vector<float> random_floats(std::size_t n, double lo, double hi, rng& g) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(g.uniform(lo, hi));
  return v;
}

// {1, lanes-1, lanes, lanes+1, 2*lanes+3, large} for the default arch's batch of T (sorted,
// without duplicates or zeros).
template <class T>
std::vector<index_t> tail_sizes(index_t large = 1037) {
  const index_t L = static_cast<index_t>(simd::lanes<T>);
  std::vector<index_t> s;
  for (index_t n : {index_t{1}, L - 1, L, L + 1, 2 * L + 3, 4 * L + 1, large})
    if (n > 0 && std::find(s.begin(), s.end(), n) == s.end()) s.push_back(n);
  std::sort(s.begin(), s.end());
  return s;
}

// Any element (float, double, f16, bf16, integers) as a double.
template <class T>
double as_double(const T& x) {
  if constexpr (std::is_arithmetic_v<T>) return static_cast<double>(x);
  else return static_cast<double>(static_cast<float>(x));
}

template <class T>
TensorView<const std::remove_const_t<T>> cview(const TensorView<T>& v) { return v; }
template <class T>
TensorView<const T> cview(const Tensor<T>& t) { return t.view(); }

// A contiguous double copy of any view (the input of the double references).
template <class V>
Tensor<double> to_double(const V& v_in) {
  const auto v = cview(v_in);
  Tensor<double> t = must(Tensor<double>::empty(v.shape()));
  double* out = t.data();
  const auto* in = v.data();
  for_each_offset(v, [&](index_t off) { *out++ = as_double(in[off]); });
  return t;
}

struct compare_result {
  bool ok = true;
  std::string message;
};

inline bool near_value(double a, double e, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(e)) return std::isnan(a) && std::isnan(e);
  if (std::isinf(a) || std::isinf(e)) return a == e;
  return std::fabs(a - e) <= atol + rtol * std::fabs(e);
}

inline std::string index_str(const index_t* idx, int rank) {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) {
    if (i) s += ',';
    s += std::to_string(idx[i]);  // appended piecewise: gcc 12 warns (-Wrestrict) on "," + string
  }
  return s + "]";
}

// Element-wise |actual - expected| <= atol + rtol * |expected|; NaN matches NaN, inf matches
// the same inf. On failure the message names the first mismatching index and the count.
template <class VA, class VE>
compare_result compare(const VA& actual_in, const VE& expected_in, double rtol, double atol) {
  const auto a = cview(actual_in);
  const auto e = cview(expected_in);
  compare_result r;
  if (a.shape() != e.shape()) {
    r.ok = false;
    r.message = "shape " + a.shape().str() + " != expected " + e.shape().str();
    return r;
  }
  index_t bad = 0, total = 0;
  kernels::ref::detail::for_each_index(a.shape(), [&](const index_t* idx) {
    ++total;
    const double av = as_double(kernels::ref::detail::at(a, idx, a.rank()));
    const double ev = as_double(kernels::ref::detail::at(e, idx, e.rank()));
    if (near_value(av, ev, rtol, atol)) return;
    if (bad++ == 0) {
      char buf[256];
      std::snprintf(buf, sizeof buf, " actual=%.9g expected=%.9g |diff|=%.3g (rtol=%.2g atol=%.2g)", av, ev, std::fabs(av - ev),
                    rtol, atol);
      r.message = "first mismatch at " + index_str(idx, a.rank()) + buf;
    }
  });
  if (bad) {
    r.ok = false;
    r.message = std::to_string(bad) + " of " + std::to_string(total) + " elements differ; " + r.message + " shape " +
                a.shape().str();
  }
  return r;
}

template <class T>
struct tolerance {
  double rtol, atol;
};
// Defaults for element-wise kernels against a double reference.
template <class T>
constexpr tolerance<T> default_tolerance() {
  if constexpr (std::is_same_v<T, float>) return {2e-6, 1e-6};
  else return {1e-11, 1e-13};  // xsimd's f64 erf/erfc are good to ~1e-12 relative
}

// CHECK_NEAR_SPAN (below) as a function for float vectors that also tells the caller whether it held.
inline bool near_span(const std::vector<float>& got, const std::vector<float>& want, double rtol, double atol) {
  REQUIRE(got.size() == want.size());
  const index_t n = static_cast<index_t>(got.size());
  const auto cmp = compare(TensorView<const float>(got.data(), {n}), TensorView<const float>(want.data(), {n}), rtol, atol);
  CHECK_MESSAGE(cmp.ok, cmp.message);
  return cmp.ok;
}

}  // namespace tessera::test

// Closeness of two tensors or views (any element types), with the first mismatch reported.
#define CHECK_TENSOR_NEAR(actual, expected, rtol, atol)                                     \
  do {                                                                                      \
    const auto tessera_cmp_ = ::tessera::test::compare((actual), (expected), (rtol), (atol)); \
    CHECK_MESSAGE(tessera_cmp_.ok, tessera_cmp_.message);                                   \
  } while (0)

// Closeness of two contiguous ranges (vectors, spans, arrays) of equal length.
#define CHECK_NEAR_SPAN(actual, expected, rtol, atol)                                                              \
  do {                                                                                                             \
    const auto& tessera_a_ = (actual);                                                                             \
    const auto& tessera_e_ = (expected);                                                                           \
    const ::tessera::index_t tessera_n_ = static_cast<::tessera::index_t>(std::size(tessera_a_));                  \
    REQUIRE(std::size(tessera_a_) == std::size(tessera_e_));                                                       \
    CHECK_TENSOR_NEAR(::tessera::TensorView<const std::remove_cv_t<std::remove_reference_t<decltype(*std::data(tessera_a_))>>>( \
                          std::data(tessera_a_), {tessera_n_}),                                                    \
                      ::tessera::TensorView<const std::remove_cv_t<std::remove_reference_t<decltype(*std::data(tessera_e_))>>>( \
                          std::data(tessera_e_), {tessera_n_}),                                                    \
                      (rtol), (atol));                                                                             \
  } while (0)
