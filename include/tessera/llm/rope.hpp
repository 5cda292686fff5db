// Rotary position embeddings (RoPE, Su et al. 2021): dimension pair i of a head is rotated by
// theta_i = pos * base^(-2i / n_rot) / factor_i, with the pairs either adjacent (normal:
// x[2i], x[2i+1]) or halves apart (NeoX: x[i], x[i + n_rot/2]); dimensions past n_rot pass
// through. Scaling as ggml applies it: linear interpolation multiplies theta by freq_scale;
// YaRN (Peng et al. 2023) blends interpolated and extrapolated theta per pair along a ramp
// between the "correction dimensions" of beta_fast and beta_slow, and scales cos and sin by
// 1 + 0.1 ln(1/freq_scale); attn_factor scales them too. Angles are computed in double.
//
//   llm::rope_angles(cs, pos, rope, base, scale, factors);  // once per position and setting
//   llm::apply_rope(x, n_heads, head_dim, rope.n_rot, rope.style, cs);
#pragma once

#include <tessera/llm/config.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace tessera::llm {

// cs[2i] = cos(theta_i) * mscale, cs[2i + 1] = sin(theta_i) * mscale for i < n_rot / 2.
// freq_scale is 1 / the scaling factor (1: none); factors (n_rot / 2 divisors) may be null.
inline void rope_angles(float* cs, std::uint32_t pos, const rope_config& r, float freq_base, float freq_scale, const float* factors) {
  const std::uint32_t half = r.n_rot / 2;
  const bool yarn = r.scaling == rope_scaling::yarn && freq_scale != 1.0f;
  double low = 0, high = 0, mscale = r.attn_factor;
  if (yarn) {
    // The pair index whose wavelength spans n_rot_turns turns of the original context.
    const auto corr_dim = [&](double turns) {
      return r.n_rot * std::log(r.original_context / (turns * 2 * 3.14159265358979323846)) / (2 * std::log(static_cast<double>(freq_base)));
    };
    low = std::max(0.0, std::floor(corr_dim(r.beta_fast)));
    high = std::min(static_cast<double>(r.n_rot) - 1, std::ceil(corr_dim(r.beta_slow)));
    mscale *= 1.0 + 0.1 * std::log(1.0 / freq_scale);
  }
  for (std::uint32_t i = 0; i < half; ++i) {
    double theta_extrap = pos * std::pow(static_cast<double>(freq_base), -2.0 * i / r.n_rot);
    if (factors) theta_extrap /= factors[i];
    double theta = freq_scale * theta_extrap;
    if (yarn) {
      const double ramp = 1.0 - std::min(1.0, std::max(0.0, (i - low) / std::max(0.001, high - low)));
      theta = theta * (1 - ramp) + theta_extrap * ramp;
    }
    cs[2 * i] = static_cast<float>(std::cos(theta) * mscale);
    cs[2 * i + 1] = static_cast<float>(std::sin(theta) * mscale);
  }
}

// Rotates the first n_rot dimensions of each of n_heads heads (head_dim apart) in place.
inline void apply_rope(float* x, std::uint32_t n_heads, std::uint32_t head_dim, std::uint32_t n_rot, rope_style style, const float* cs) {
  const std::uint32_t half = n_rot / 2;
  for (std::uint32_t h = 0; h < n_heads; ++h) {
    float* v = x + std::size_t{h} * head_dim;
    for (std::uint32_t i = 0; i < half; ++i) {
      const std::uint32_t a = style == rope_style::normal ? 2 * i : i;
      const std::uint32_t b = style == rope_style::normal ? 2 * i + 1 : i + half;
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace tessera::llm
