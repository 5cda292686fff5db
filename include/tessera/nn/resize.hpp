// Resize (nearest, linear, cubic; every ONNX coordinate transformation; antialiased
// downsampling) as separable resampling: one tap table per resized axis, built once per
// plan (no allocation at run time), applied one axis at a time.
//
// Each output coordinate x maps to a source coordinate x' (coordinate mode), whose taps are
// the n input indices nearest x' preferring the lower ones (n = 1 nearest, 2 linear, 4 cubic,
// more when antialiasing widens the filter), with ONNX's coefficients; indices outside the
// input clamp to the edge unless exclude_outside drops them (and renormalizes). Multilinear,
// multicubic and nearest are products of per-axis weights, so resampling axis by axis gives
// the N-d result. tf_crop_and_resize marks coordinates outside the input, whose outputs take
// the extrapolation value.
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/nn/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tessera::nn {

enum class resize_mode : std::uint8_t { nearest, linear, cubic };
enum class resize_coordinates : std::uint8_t {
  half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize, tf_half_pixel_for_nn,
};
enum class nearest_rounding : std::uint8_t { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct resize_params {
  resize_mode mode = resize_mode::nearest;
  resize_coordinates coordinates = resize_coordinates::half_pixel;
  nearest_rounding rounding = nearest_rounding::round_prefer_floor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  float extrapolation_value = 0;
};

// Taps of one axis: output j reads input index[j * taps + t] with weight[j * taps + t].
struct resize_axis {
  index_t in = 0, out = 0;
  int taps = 1;
  bool identity = true;
  bool any_extrapolated = false;
  std::vector<index_t> index;
  std::vector<float> weight;
  std::vector<unsigned char> extrapolated;  // per output (tf_crop_and_resize)
};

namespace detail {

inline double cubic_weight(double x, double A) {  // Keys' kernel, |x| < 2
  x = std::fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

}  // namespace detail

// The taps of one axis. scale: output / input as ONNX defines it (the given scale, or
// out / in for sizes); roi_start/end: the axis' ROI (tf_crop_and_resize only).
inline expected<resize_axis> make_resize_axis(index_t in, index_t out, double scale, double roi_start, double roi_end,
                                             const resize_params& p) {
  resize_axis a;
  a.in = in;
  a.out = out;
  if (in < 1 || out < 0 || !(scale > 0) || !std::isfinite(scale))
    return make_error(errc::invalid_argument, "resize: invalid scale " + std::to_string(scale) + " for extent " + std::to_string(in));
  const bool aa = p.antialias && scale < 1 && p.mode != resize_mode::nearest;
  const double fs = std::min(scale, 1.0);  // antialias filter scale
  int taps = p.mode == resize_mode::nearest ? 2 : p.mode == resize_mode::linear ? 2 : 4;
  int start = p.mode == resize_mode::cubic ? -1 : 0;  // first tap relative to floor(x')
  if (aa) {
    start = p.mode == resize_mode::linear ? static_cast<int>(std::floor(-1 / fs)) + 1 : static_cast<int>(std::floor(-2 / fs)) + 1;
    taps = 2 - 2 * start;
    if (taps > 4096) return make_error(errc::unsupported, "resize: antialias filter too wide");
  }
  a.taps = taps;
  a.index.resize(static_cast<std::size_t>(out) * static_cast<std::size_t>(taps));
  a.weight.resize(a.index.size());
  a.extrapolated.assign(static_cast<std::size_t>(out), 0);
  const double in_d = static_cast<double>(in);
  const double out_w = scale * in_d;  // the reference's (possibly fractional) output width
  std::vector<double> w(static_cast<std::size_t>(taps));
  for (index_t j = 0; j < out; ++j) {
    const double x = static_cast<double>(j);
    double xo = 0;
    switch (p.coordinates) {
      case resize_coordinates::align_corners: xo = out_w == 1 ? 0 : x * (in_d - 1) / (out_w - 1); break;
      case resize_coordinates::asymmetric: xo = x / scale; break;
      case resize_coordinates::tf_crop_and_resize:
        xo = out_w == 1 ? (roi_end - roi_start) * (in_d - 1) / 2 : x * (roi_end - roi_start) * (in_d - 1) / (out_w - 1);
        xo += roi_start * (in_d - 1);
        if (xo < 0 || xo > in_d - 1) {
          a.extrapolated[static_cast<std::size_t>(j)] = 1;
          a.any_extrapolated = true;
        }
        break;
      case resize_coordinates::pytorch_half_pixel: xo = out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
      case resize_coordinates::half_pixel: xo = (x + 0.5) / scale - 0.5; break;
      case resize_coordinates::half_pixel_symmetric: {
        const double adjustment = static_cast<double>(out) / out_w;
        xo = in_d / 2 * (1 - adjustment) + (x + 0.5) / scale - 0.5;
        break;
      }
      case resize_coordinates::tf_half_pixel_for_nn: xo = (x + 0.5) / scale; break;
    }
    const double fl = std::floor(xo);
    const bool integral = xo == fl;
    const double ratio = integral ? 1.0 : xo - fl;
    // Taps: the `taps` indices nearest x', preferring the lower: from ceil(x') - 1 + start.
    const index_t first = static_cast<index_t>(integral ? fl : fl + 1) - 1 + start;
    switch (p.mode) {
      case resize_mode::nearest: {
        bool upper = true;
        if (!integral) {
          switch (p.rounding) {
            case nearest_rounding::round_prefer_floor: upper = ratio > 0.5; break;
            case nearest_rounding::round_prefer_ceil: upper = ratio >= 0.5; break;
            case nearest_rounding::floor: upper = false; break;
            case nearest_rounding::ceil: upper = true; break;
          }
        }
        w[0] = upper ? 0 : 1;
        w[1] = upper ? 1 : 0;
        break;
      }
      case resize_mode::linear:
        if (!aa) {
          w[0] = 1 - ratio;
          w[1] = ratio;
        } else {
          double sum = 0;
          for (int t = 0; t < taps; ++t) sum += w[static_cast<std::size_t>(t)] = std::clamp(1 - std::fabs((start + t - ratio) * fs), 0.0, 1.0);
          for (double& v : w) v /= sum;
        }
        break;
      case resize_mode::cubic:
        if (!aa) {
          for (int t = 0; t < 4; ++t) w[static_cast<std::size_t>(t)] = detail::cubic_weight(ratio - (t - 1), p.cubic_a);
        } else {
          double sum = 0;
          for (int t = 0; t < taps; ++t) sum += w[static_cast<std::size_t>(t)] = detail::cubic_weight((start + t - ratio) * fs, p.cubic_a);
          for (double& v : w) v /= sum;
        }
        break;
    }
    if (p.exclude_outside) {
      double sum = 0;
      for (int t = 0; t < taps; ++t) {
        const index_t idx = first + t;
        if (idx < 0 || idx >= in) w[static_cast<std::size_t>(t)] = 0;
        sum += w[static_cast<std::size_t>(t)];
      }
      if (sum != 0)
        for (double& v : w) v /= sum;
    }
    for (int t = 0; t < taps; ++t) {
      const std::size_t k = static_cast<std::size_t>(j) * static_cast<std::size_t>(taps) + static_cast<std::size_t>(t);
      a.index[k] = std::clamp<index_t>(first + t, 0, in - 1);
      a.weight[k] = static_cast<float>(w[static_cast<std::size_t>(t)]);
    }
  }
  // Identity: same extent, each output one tap of weight 1 on itself.
  a.identity = in == out && !a.any_extrapolated;
  for (index_t j = 0; a.identity && j < out; ++j) {
    float sum_other = 0, self = 0;
    for (int t = 0; t < taps; ++t) {
      const std::size_t k = static_cast<std::size_t>(j * taps + t);
      if (a.index[k] == j) self += a.weight[k];
      else sum_other += std::fabs(a.weight[k]);
    }
    a.identity = self == 1.0f && sum_other == 0.0f;
  }
  return a;
}

// out = in resampled along each axis by its table (axes[i] for axis i of the physical order
// `perm`: in and out are contiguous once permuted by perm). float32.
inline status resize(const any_view& out, const any_view& in, const resize_axis* axes, float extrapolation_value, arena& scratch) {
  if (in.type != elem_type::f32 || out.type != elem_type::f32) return make_error(errc::unsupported, "resize: float32 only");
  int perm[TESSERA_MAX_RANK];
  detail::memory_order(in, perm);
  const any_view pi = in.permuted(perm), po = out.permuted(perm);
  if (!pi.is_contiguous() || !po.is_contiguous()) return make_error(errc::invalid_argument, "resize: tensors must be dense");
  const int r = in.rank();
  if (out.size() == 0) return {};
  const arena_scope scope(scratch);
  shape_t cur = pi.shape;
  const float* src = pi.ptr<const float>();
  int remaining = 0;
  for (int a = 0; a < r; ++a) remaining += !axes[perm[a]].identity;
  if (remaining == 0) return copy(out, in);
  for (int a = r - 1; a >= 0; --a) {
    const resize_axis& ax = axes[perm[a]];
    if (ax.identity) continue;
    shape_t next = cur;
    next[a] = ax.out;
    float* dst = nullptr;
    if (--remaining == 0) {
      dst = po.ptr<float>();
    } else {
      TESSERA_ASSIGN_OR_RETURN(dst, scratch.allocate<float>(static_cast<std::size_t>(std::max<index_t>(1, numel(next)))));
    }
    index_t outer = 1, inner = 1;
    for (int i = 0; i < a; ++i) outer *= cur[i];
    for (int i = a + 1; i < r; ++i) inner *= cur[i];
    const std::size_t T = static_cast<std::size_t>(ax.taps);
    for (index_t o = 0; o < outer; ++o) {
      const float* s = src + o * ax.in * inner;
      float* d = dst + o * ax.out * inner;
      for (index_t j = 0; j < ax.out; ++j) {
        float* drow = d + j * inner;
        if (ax.extrapolated[static_cast<std::size_t>(j)]) {
          std::fill(drow, drow + inner, extrapolation_value);
          continue;
        }
        const index_t* idx = ax.index.data() + static_cast<std::size_t>(j) * T;
        const float* wt = ax.weight.data() + static_cast<std::size_t>(j) * T;
        // Skip zero-weight taps (nearest: one of two): exact copies for nearest.
        std::size_t t0 = 0;
        while (t0 < T && wt[t0] == 0.0f) ++t0;
        if (t0 == T) {
          std::fill(drow, drow + inner, 0.0f);
          continue;
        }
        const float* s0 = s + idx[t0] * inner;
        const float w0 = wt[t0];
        if (w0 == 1.0f) std::memcpy(drow, s0, static_cast<std::size_t>(inner) * sizeof(float));
        else for (index_t i = 0; i < inner; ++i) drow[i] = w0 * s0[i];
        for (std::size_t t = t0 + 1; t < T; ++t) {
          if (wt[t] == 0.0f) continue;
          const float* st = s + idx[t] * inner;
          const float wv = wt[t];
          for (index_t i = 0; i < inner; ++i) drow[i] += wv * st[i];
        }
      }
    }
    cur = next;
    src = dst;
  }
  return {};
}

}  // namespace tessera::nn
