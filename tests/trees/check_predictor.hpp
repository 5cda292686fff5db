// The fast predictor against the reference interpreter on the same rows: margins and
// transformed outputs bit for bit (any NaN matches any NaN), float outputs the double ones
// rounded. Shared by the predictor's tests.
#pragma once

#include <doctest/doctest.h>

#include <tessera/runtime/thread_pool.hpp>
#include <tessera/trees/predict.hpp>
#include <tessera/trees/predict_ref.hpp>

#include <cmath>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace tessera::trees::testing {

// Bitwise equality (-0.0 and 0.0 differ); any NaN matches any NaN.
inline bool same_bits_or_nan(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}

template <class In>
inline void check_against_reference(const forest& f, const predictor& p, const std::vector<In>& rows, std::size_t n_rows,
                                    runtime::thread_pool* pool, const std::string& what) {
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  const std::size_t k = static_cast<std::size_t>(f.num_outputs);
  const std::size_t kt = static_cast<std::size_t>(f.num_transformed_outputs());
  const std::span<const In> x(rows.data(), n_rows * nf);
  std::vector<double> ref_m(n_rows * k), ref_p(n_rows * kt), fast_m(n_rows * k), fast_p(n_rows * kt);
  REQUIRE(ref::predict_margin_rows(std::span<double>(ref_m), f, x, n_rows).ok());
  REQUIRE(ref::predict_rows(std::span<double>(ref_p), f, x, n_rows).ok());
  REQUIRE(p.predict_margin(std::span<double>(fast_m), x, nf, pool).ok());
  REQUIRE(p.predict(std::span<double>(fast_p), x, nf, pool).ok());
  for (std::size_t i = 0; i < fast_m.size(); ++i)
    if (!same_bits_or_nan(fast_m[i], ref_m[i])) {
      FAIL_CHECK(what << ": margin " << i << " (row " << i / k << "): fast " << fast_m[i] << " != ref " << ref_m[i]);
      break;
    }
  for (std::size_t i = 0; i < fast_p.size(); ++i)
    if (!same_bits_or_nan(fast_p[i], ref_p[i])) {
      FAIL_CHECK(what << ": prediction " << i << ": fast " << fast_p[i] << " != ref " << ref_p[i]);
      break;
    }
  // Float outputs are the double ones rounded.
  std::vector<float> fast_f(n_rows * kt);
  REQUIRE(p.predict(std::span<float>(fast_f), x, nf, pool).ok());
  for (std::size_t i = 0; i < fast_f.size(); ++i)
    if (fast_f[i] != static_cast<float>(ref_p[i]) && !(std::isnan(fast_f[i]) && std::isnan(ref_p[i]))) {
      FAIL_CHECK(what << ": float prediction " << i << " differs");
      break;
    }
}

}  // namespace tessera::trees::testing
