// 2D max / average pooling and global pooling over NHWC activations, vectorized over
// channels: each window tap is one contiguous row of C floats, combined into the output row
// (which stays in L1) with full SIMD batches and one partial batch for the tail.
//
// Semantics are ONNX MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool (see
// kernels/ref/pool.hpp, the oracle, for the count_include_pad divisor and ceil_mode rule).
// Max pooling follows the hardware max for NaN inputs (not NaN-propagating).
#pragma once

#ifndef TESSERA_PUBLIC_FRONT
#define TESSERA_PUBLIC_FRONT
#endif

#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/detail/rows.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>


namespace tessera::kernels {

namespace detail {

// Valid taps [t0, t1) of a window starting at `start` with k taps `d` apart over [0, len).
struct tap_range {
  std::size_t t0, t1;
};
inline tap_range valid_taps(std::int64_t start, std::size_t k, std::size_t d, std::size_t len) {
  const std::int64_t di = static_cast<std::int64_t>(d);
  std::int64_t t0 = start >= 0 ? 0 : (-start + di - 1) / di;
  const std::int64_t last = static_cast<std::int64_t>(len) - 1 - start;  // t*d <= last
  std::int64_t t1 = last < 0 ? 0 : last / di + 1;
  t1 = std::min<std::int64_t>(t1, static_cast<std::int64_t>(k));
  if (t0 > t1) t0 = t1;
  return {static_cast<std::size_t>(t0), static_cast<std::size_t>(t1)};
}

// Taps of a window starting at `start` (>= -pad_begin) that lie before `padded_end`
// (in + pad_end): count_include_pad's divisor. ceil_mode's extra positions are not counted.
inline std::size_t padded_taps(std::int64_t start, std::size_t k, std::size_t d, std::size_t padded_end) {
  const std::int64_t room = static_cast<std::int64_t>(padded_end) - 1 - start;
  if (room < 0) return 0;
  return std::min<std::size_t>(k, static_cast<std::size_t>(room) / d + 1);
}

// One body for max and average pooling: out row = combine over the valid taps, then (for
// the average) a scale by 1/divisor.
inline status check_pool_buffers(float* out, const float* in, const conv2d_geometry& g, const char* op) {
  if (!out || !in) return make_error(errc::invalid_argument, std::string(op) + ": null tensor");
  if (overlaps(out, g.out_size(), in, g.in_size()))
    return make_error(errc::invalid_argument, std::string(op) + ": output overlaps the input");
  return {};
}

template <bool IsMax>
void pool2d_nhwc(float* out, const float* in, const conv2d_geometry& g, bool count_include_pad,
                 runtime::thread_pool& tp) {
  const std::size_t C = g.in_c;
  const std::size_t lines = g.batch * g.out_h;
  const std::size_t work_per_line = std::max<std::size_t>(1, g.out_w * g.kh * g.kw * C);
  runtime::parallel_for(tp, 0, lines, std::max<std::size_t>(1, 65536 / work_per_line), [&](std::size_t l0, std::size_t l1) {
    for (std::size_t line = l0; line < l1; ++line) {
      const std::size_t n = line / g.out_h, oy = line % g.out_h;
      const std::int64_t y0 = static_cast<std::int64_t>(oy * g.sh) - static_cast<std::int64_t>(g.pt);
      const tap_range ry = valid_taps(y0, g.kh, g.dh, g.in_h);
      const float* img = in + n * g.in_h * g.in_w * C;
      for (std::size_t ox = 0; ox < g.out_w; ++ox) {
        const std::int64_t x0 = static_cast<std::int64_t>(ox * g.sw) - static_cast<std::int64_t>(g.pl);
        const tap_range rx = valid_taps(x0, g.kw, g.dw, g.in_w);
        float* o = out + (line * g.out_w + ox) * C;
        bool first = true;
        for (std::size_t ky = ry.t0; ky < ry.t1; ++ky) {
          const std::size_t iy = static_cast<std::size_t>(y0 + static_cast<std::int64_t>(ky * g.dh));
          for (std::size_t kx = rx.t0; kx < rx.t1; ++kx) {
            const std::size_t ix = static_cast<std::size_t>(x0 + static_cast<std::int64_t>(kx * g.dw));
            const float* x = img + (iy * g.in_w + ix) * C;
            if (first) std::memcpy(o, x, C * sizeof(float));
            else if constexpr (IsMax) row_max_f32(o, x, C);
            else row_add_f32(o, x, C);
            first = false;
          }
        }
        // Geometry validation guarantees every window has a tap, so `first` is false here.
        if constexpr (!IsMax) {
          std::size_t count = (ry.t1 - ry.t0) * (rx.t1 - rx.t0);
          if (count_include_pad)  // the taps inside the padded input [-pad_begin, in + pad_end)
            count = padded_taps(y0, g.kh, g.dh, g.in_h + g.pb) * padded_taps(x0, g.kw, g.dw, g.in_w + g.pr);
          row_scale_f32(o, 1.0f / static_cast<float>(count), C);
        }
      }
    }
  });
}

template <bool IsMax>
void global_pool_nhwc(float* out, const float* in, const image_shape& s, runtime::thread_pool& tp) {
  const std::size_t C = static_cast<std::size_t>(s.channels);
  const std::size_t hw = static_cast<std::size_t>(s.height * s.width);
  const std::size_t N = static_cast<std::size_t>(s.batch);
  // Channel blocks of 64 are the parallel unit; averages sum 64 pixels in float, then add
  // the partial sums in double so large images keep full float accuracy.
  constexpr std::size_t cblock = 64, pblock = 64;
  const std::size_t nblocks = (C + cblock - 1) / cblock;
  runtime::parallel_for(tp, 0, N * nblocks, std::max<std::size_t>(1, 4096 / std::max<std::size_t>(hw, 1)),
                        [&](std::size_t b0, std::size_t b1) {
    float part[cblock];
    double total[cblock];
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t n = b / nblocks, c0 = (b % nblocks) * cblock, nc = std::min(cblock, C - c0);
      const float* img = in + n * hw * C + c0;
      float* o = out + n * C + c0;
      if constexpr (IsMax) {
        std::memcpy(o, img, nc * sizeof(float));
        for (std::size_t p = 1; p < hw; ++p) row_max_f32(o, img + p * C, nc);
      } else {
        std::fill(total, total + nc, 0.0);
        for (std::size_t p0 = 0; p0 < hw; p0 += pblock) {
          const std::size_t p1 = std::min(hw, p0 + pblock);
          std::memcpy(part, img + p0 * C, nc * sizeof(float));
          for (std::size_t p = p0 + 1; p < p1; ++p) row_add_f32(part, img + p * C, nc);
          for (std::size_t c = 0; c < nc; ++c) total[c] += part[c];
        }
        for (std::size_t c = 0; c < nc; ++c) o[c] = static_cast<float>(total[c] / static_cast<double>(hw));
      }
    }
  });
}

}  // namespace detail

// out [N, OH, OW, C] = MaxPool(in [N, H, W, C]). Output sizes: pool2d_geometry_of.
inline status max_pool2d(float* out, const float* in, const image_shape& in_shape, const pool2d_params& p,
                         runtime::thread_pool* pool = nullptr) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, pool2d_geometry_of(in_shape, p, "max_pool2d"));
  TESSERA_TRY(detail::check_pool_buffers(out, in, g, "max_pool2d"));
  detail::pool2d_nhwc<true>(out, in, g, false, runtime::pool_or_default(pool));
  return {};
}

// out [N, OH, OW, C] = AveragePool(in [N, H, W, C]).
inline status avg_pool2d(float* out, const float* in, const image_shape& in_shape, const pool2d_params& p,
                         runtime::thread_pool* pool = nullptr) {
  TESSERA_ASSIGN_OR_RETURN(const conv2d_geometry g, pool2d_geometry_of(in_shape, p, "avg_pool2d"));
  TESSERA_TRY(detail::check_pool_buffers(out, in, g, "avg_pool2d"));
  detail::pool2d_nhwc<false>(out, in, g, p.count_include_pad, runtime::pool_or_default(pool));
  return {};
}

// out [N, C] = mean over H, W of in [N, H, W, C].
inline status global_avg_pool2d(float* out, const float* in, const image_shape& in_shape,
                                runtime::thread_pool* pool = nullptr) {
  TESSERA_TRY(detail::check_input("global_avg_pool2d", in_shape));
  if (!out || !in) return make_error(errc::invalid_argument, "global_avg_pool2d: null tensor");
  detail::global_pool_nhwc<false>(out, in, in_shape, runtime::pool_or_default(pool));
  return {};
}

// out [N, C] = max over H, W of in [N, H, W, C].
inline status global_max_pool2d(float* out, const float* in, const image_shape& in_shape,
                                runtime::thread_pool* pool = nullptr) {
  TESSERA_TRY(detail::check_input("global_max_pool2d", in_shape));
  if (!out || !in) return make_error(errc::invalid_argument, "global_max_pool2d: null tensor");
  detail::global_pool_nhwc<true>(out, in, in_shape, runtime::pool_or_default(pool));
  return {};
}

}  // namespace tessera::kernels
