// Scalar references for 2D convolution and transposed convolution: the test oracle for
// kernels/conv2d.hpp. Straight loops over NCHW tensors, double accumulation, ONNX semantics
// (Conv and ConvTranspose with explicit pads; pads are top, left, bottom, right).
// The fused epilogue (residual, activation) is not part of ONNX Conv: callers apply it.
#pragma once

#include <tessera/kernels/conv_shape.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tessera::kernels::ref {

// out [N, Cout, OH, OW] = Conv(in [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw]) + bias
// (bias: Cout values or null).
inline status conv2d(float* out, const float* in, const image_shape& in_shape, const float* weight,
                     const float* bias, std::int64_t out_channels, const conv2d_params& p) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, conv2d_geometry_of(in_shape, out_channels, p, "ref::conv2d"));
  using i64 = std::int64_t;
  const i64 H = static_cast<i64>(g.in_h), W = static_cast<i64>(g.in_w);
  for (std::size_t n = 0; n < g.batch; ++n)
    for (std::size_t oc = 0; oc < g.out_c; ++oc) {
      const std::size_t grp = oc / g.out_cg;
      for (std::size_t oy = 0; oy < g.out_h; ++oy)
        for (std::size_t ox = 0; ox < g.out_w; ++ox) {
          double acc = bias ? static_cast<double>(bias[oc]) : 0.0;
          for (std::size_t ci = 0; ci < g.in_cg; ++ci) {
            const std::size_t c = grp * g.in_cg + ci;
            for (std::size_t ky = 0; ky < g.kh; ++ky) {
              const i64 iy = static_cast<i64>(oy * g.sh + ky * g.dh) - static_cast<i64>(g.pt);
              if (iy < 0 || iy >= H) continue;
              for (std::size_t kx = 0; kx < g.kw; ++kx) {
                const i64 ix = static_cast<i64>(ox * g.sw + kx * g.dw) - static_cast<i64>(g.pl);
                if (ix < 0 || ix >= W) continue;
                const double x = in[((n * g.in_c + c) * g.in_h + static_cast<std::size_t>(iy)) * g.in_w +
                                    static_cast<std::size_t>(ix)];
                const double w = weight[((oc * g.in_cg + ci) * g.kh + ky) * g.kw + kx];
                acc += x * w;
              }
            }
          }
          out[((n * g.out_c + oc) * g.out_h + oy) * g.out_w + ox] = static_cast<float>(acc);
        }
    }
  return {};
}

// out [N, Cout, OH, OW] = ConvTranspose(in [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw]) + bias.
// Written as the scatter that defines it: every input pixel adds weight * x into the output
// positions oy = iy * stride - pad_top + ky * dilation (and likewise for x).
inline status conv_transpose2d(float* out, const float* in, const image_shape& in_shape, const float* weight,
                               const float* bias, std::int64_t out_channels, const conv2d_params& p) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g,
                           conv_transpose2d_geometry_of(in_shape, out_channels, p, "ref::conv_transpose2d"));
  using i64 = std::int64_t;
  const i64 OH = static_cast<i64>(g.out_h), OW = static_cast<i64>(g.out_w);
  std::vector<double> acc(g.out_c * g.out_h * g.out_w);
  for (std::size_t n = 0; n < g.batch; ++n) {
    for (std::size_t oc = 0; oc < g.out_c; ++oc)
      for (std::size_t i = 0; i < g.out_h * g.out_w; ++i) acc[oc * g.out_h * g.out_w + i] = bias ? bias[oc] : 0.0;
    for (std::size_t c = 0; c < g.in_c; ++c) {
      const std::size_t grp = c / g.in_cg;
      for (std::size_t iy = 0; iy < g.in_h; ++iy)
        for (std::size_t ix = 0; ix < g.in_w; ++ix) {
          const double x = in[((n * g.in_c + c) * g.in_h + iy) * g.in_w + ix];
          for (std::size_t co = 0; co < g.out_cg; ++co) {
            const std::size_t oc = grp * g.out_cg + co;
            for (std::size_t ky = 0; ky < g.kh; ++ky) {
              const i64 oy = static_cast<i64>(iy * g.sh + ky * g.dh) - static_cast<i64>(g.pt);
              if (oy < 0 || oy >= OH) continue;
              for (std::size_t kx = 0; kx < g.kw; ++kx) {
                const i64 ox = static_cast<i64>(ix * g.sw + kx * g.dw) - static_cast<i64>(g.pl);
                if (ox < 0 || ox >= OW) continue;
                const double w = weight[((c * g.out_cg + co) * g.kh + ky) * g.kw + kx];
                acc[(oc * g.out_h + static_cast<std::size_t>(oy)) * g.out_w + static_cast<std::size_t>(ox)] += x * w;
              }
            }
          }
        }
    }
    for (std::size_t i = 0; i < acc.size(); ++i) out[n * acc.size() + i] = static_cast<float>(acc[i]);
  }
  return {};
}

}  // namespace tessera::kernels::ref
