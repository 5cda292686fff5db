// Scalar references for 2D pooling: the test oracle for kernels/pool.hpp. NCHW, double
// accumulation, ONNX MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool semantics
// (explicit pads top, left, bottom, right; padded positions never win a max).
//
// Average pooling with count_include_pad divides by the taps of the window inside the padded
// input [-pad_begin, in + pad_end) (the extra ceil_mode positions beyond the end padding are
// not counted), as PyTorch, ONNX Runtime and ONNX's reference do (with dilation: the taps,
// not the span); without it, by the number of input elements.
#pragma once

#include <tessera/kernels/conv_shape.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace tessera::kernels::ref {

inline status max_pool2d(float* out, const float* in, const image_shape& in_shape, const pool2d_params& p) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, pool2d_geometry_of(in_shape, p, "ref::max_pool2d"));
  using i64 = std::int64_t;
  for (std::size_t nc = 0; nc < g.batch * g.in_c; ++nc)
    for (std::size_t oy = 0; oy < g.out_h; ++oy)
      for (std::size_t ox = 0; ox < g.out_w; ++ox) {
        double m = -std::numeric_limits<double>::infinity();
        for (std::size_t ky = 0; ky < g.kh; ++ky) {
          const i64 iy = static_cast<i64>(oy * g.sh + ky * g.dh) - static_cast<i64>(g.pt);
          if (iy < 0 || iy >= static_cast<i64>(g.in_h)) continue;
          for (std::size_t kx = 0; kx < g.kw; ++kx) {
            const i64 ix = static_cast<i64>(ox * g.sw + kx * g.dw) - static_cast<i64>(g.pl);
            if (ix < 0 || ix >= static_cast<i64>(g.in_w)) continue;
            m = std::max(m, static_cast<double>(in[(nc * g.in_h + static_cast<std::size_t>(iy)) * g.in_w +
                                                   static_cast<std::size_t>(ix)]));
          }
        }
        out[(nc * g.out_h + oy) * g.out_w + ox] = static_cast<float>(m);
      }
  return {};
}

inline status avg_pool2d(float* out, const float* in, const image_shape& in_shape, const pool2d_params& p) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, pool2d_geometry_of(in_shape, p, "ref::avg_pool2d"));
  using i64 = std::int64_t;
  const i64 H = static_cast<i64>(g.in_h), W = static_cast<i64>(g.in_w);
  for (std::size_t nc = 0; nc < g.batch * g.in_c; ++nc)
    for (std::size_t oy = 0; oy < g.out_h; ++oy)
      for (std::size_t ox = 0; ox < g.out_w; ++ox) {
        const i64 y0 = static_cast<i64>(oy * g.sh) - static_cast<i64>(g.pt);
        const i64 x0 = static_cast<i64>(ox * g.sw) - static_cast<i64>(g.pl);
        double sum = 0;
        i64 count = 0, padded = 0;
        for (std::size_t ky = 0; ky < g.kh; ++ky)
          for (std::size_t kx = 0; kx < g.kw; ++kx) {
            const i64 iy = y0 + static_cast<i64>(ky * g.dh), ix = x0 + static_cast<i64>(kx * g.dw);
            if (iy < H + static_cast<i64>(g.pb) && ix < W + static_cast<i64>(g.pr)) ++padded;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            sum += in[(nc * g.in_h + static_cast<std::size_t>(iy)) * g.in_w + static_cast<std::size_t>(ix)];
            ++count;
          }
        if (p.count_include_pad) count = padded;
        out[(nc * g.out_h + oy) * g.out_w + ox] = static_cast<float>(sum / static_cast<double>(count));
      }
  return {};
}

// out [N, C] (= [N, C, 1, 1]).
inline status global_avg_pool2d(float* out, const float* in, const image_shape& in_shape) {
  TESSERA_TRY(kernels::detail::check_input("ref::global_avg_pool2d", in_shape));
  const std::size_t nc = static_cast<std::size_t>(in_shape.batch * in_shape.channels);
  const std::size_t hw = static_cast<std::size_t>(in_shape.height * in_shape.width);
  for (std::size_t i = 0; i < nc; ++i) {
    double sum = 0;
    for (std::size_t j = 0; j < hw; ++j) sum += in[i * hw + j];
    out[i] = static_cast<float>(sum / static_cast<double>(hw));
  }
  return {};
}

inline status global_max_pool2d(float* out, const float* in, const image_shape& in_shape) {
  TESSERA_TRY(kernels::detail::check_input("ref::global_max_pool2d", in_shape));
  const std::size_t nc = static_cast<std::size_t>(in_shape.batch * in_shape.channels);
  const std::size_t hw = static_cast<std::size_t>(in_shape.height * in_shape.width);
  for (std::size_t i = 0; i < nc; ++i) {
    float m = in[i * hw];
    for (std::size_t j = 1; j < hw; ++j) m = std::max(m, in[i * hw + j]);
    out[i] = m;
  }
  return {};
}

}  // namespace tessera::kernels::ref
