// Output transforms: margins -> predictions, with the numerics of the library that trained
// the model. XGBoost (accum_type::f32) works in float with expf and a double softmax sum;
// LightGBM (accum_type::f64) works in double. Both the reference interpreter and the fast
// predictors call these, so a transformed output depends only on the margins.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "tessera/core/error.hpp"
#include "tessera/trees/forest.hpp"

namespace tessera::trees {

// XGBoost 1.7 common::Sigmoid: 1 / (1 + expf(-x)), every step in float.
inline float sigmoid_f32(float x) noexcept {
  const float e = std::exp(-x);  // std::exp(float) is expf
  const float d = 1.0f + e;
  return 1.0f / d;
}

// LightGBM: 1 / (1 + exp(-scale * x)) in double.
inline double sigmoid_f64(double x, double scale = 1.0) noexcept {
  return 1.0 / (1.0 + std::exp(-scale * x));
}

// XGBoost 1.7 common::Softmax: float max, expf(x - max), sum in double, divide by the sum
// rounded to float. In place, on float values held as T (float, or double holding floats:
// then a row's margins need no float copy, so no buffer however many classes).
template <class T>
inline void softmax_f32(std::span<T> v) noexcept {
  if (v.empty()) return;
  float wmax = static_cast<float>(v[0]);
  for (std::size_t i = 1; i < v.size(); ++i) wmax = std::fmax(static_cast<float>(v[i]), wmax);
  double wsum = 0.0;
  for (T& x : v) {
    const float e = std::exp(static_cast<float>(x) - wmax);
    x = e;
    wsum += e;
  }
  const float s = static_cast<float>(wsum);
  for (T& x : v) x = static_cast<float>(x) / s;
}

// LightGBM Common::Softmax in double. In place.
inline void softmax_f64(std::span<double> v) noexcept {
  if (v.empty()) return;
  double wmax = v[0];
  for (std::size_t i = 1; i < v.size(); ++i) wmax = v[i] > wmax ? v[i] : wmax;
  double wsum = 0.0;
  for (double& x : v) {
    x = std::exp(x - wmax);
    wsum += x;
  }
  for (double& x : v) x /= wsum;
}

// Index of the first largest value (XGBoost's FindMaxIndex; NaN never wins).
template <class T>
inline std::size_t argmax_first(std::span<const T> v) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

// Applies the forest's output transform to one row of margins (size num_outputs) and writes
// num_transformed_outputs() values to `out`. Margins of an f32 forest must be float-exact
// (as the interpreters produce them). `out` may alias `margins` when the sizes match.
inline status transform_margins(std::span<double> out, const forest& f, std::span<const double> margins) {
  const std::size_t k = static_cast<std::size_t>(f.num_outputs);
  if (margins.size() != k)
    return make_error(errc::shape_mismatch, "transform_margins: got " + std::to_string(margins.size()) +
                                                " margins, the forest has " + std::to_string(k) + " outputs");
  if (out.size() != static_cast<std::size_t>(f.num_transformed_outputs()))
    return make_error(errc::shape_mismatch, "transform_margins: output span has " + std::to_string(out.size()) +
                                                " values, expected " + std::to_string(f.num_transformed_outputs()));
  const bool f32 = f.accumulate == accum_type::f32;
  switch (f.objective.transform) {
    case output_transform::identity:
      for (std::size_t i = 0; i < k; ++i) out[i] = margins[i];
      break;
    case output_transform::sigmoid:
      for (std::size_t i = 0; i < k; ++i) {
        if (f32) {
          const float scaled = f.objective.sigmoid_scale == 1.0
                                   ? static_cast<float>(margins[i])
                                   : static_cast<float>(margins[i]) * static_cast<float>(f.objective.sigmoid_scale);
          out[i] = sigmoid_f32(scaled);
        } else {
          out[i] = sigmoid_f64(margins[i], f.objective.sigmoid_scale);
        }
      }
      break;
    case output_transform::softmax:
      if (f32) {
        for (std::size_t i = 0; i < k; ++i) out[i] = static_cast<float>(margins[i]);
        softmax_f32(out.first(k));
      } else {
        for (std::size_t i = 0; i < k; ++i) out[i] = margins[i];
        softmax_f64(out.first(k));
      }
      break;
    case output_transform::argmax:
      out[0] = static_cast<double>(argmax_first(margins));
      break;
    case output_transform::exp:
      for (std::size_t i = 0; i < k; ++i)
        out[i] = f32 ? static_cast<double>(std::exp(static_cast<float>(margins[i]))) : std::exp(margins[i]);
      break;
    case output_transform::signed_square:
      for (std::size_t i = 0; i < k; ++i) {
        const double m = margins[i];
        const double sign = m > 0 ? 1.0 : (m < 0 ? -1.0 : 0.0);
        out[i] = sign * m * m;
      }
      break;
    default:
      return make_error(errc::unsupported, "transform_margins: unknown output transform");
  }
  return {};
}

}  // namespace tessera::trees
