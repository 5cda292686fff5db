// Activation layout conversion at the edges of a network: the conv and pooling kernels
// work on NHWC (channels innermost, so one SIMD register holds neighbouring channels of one
// pixel); models and users often hold NCHW (ONNX, PyTorch).
//
// Both directions are one transpose of a [rows, cols] matrix per image (NCHW -> NHWC is
// [C, H*W] -> [H*W, C]), done in small square tiles so reads and writes both stay in cache.
#pragma once

#include <tessera/kernels/conv_shape.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cstddef>

namespace tessera::kernels {

namespace detail {
// out[c * rows + r] = in[r * cols + c] for one [rows, cols] matrix, tiled.
inline void transpose_tile_f32(float* out, const float* in, std::size_t rows, std::size_t cols, std::size_t r0,
                               std::size_t r1) {
  constexpr std::size_t tile = 32;
  for (std::size_t rb = r0; rb < r1; rb += tile)
    for (std::size_t cb = 0; cb < cols; cb += tile) {
      const std::size_t re = std::min(rb + tile, r1), ce = std::min(cb + tile, cols);
      for (std::size_t c = cb; c < ce; ++c)
        for (std::size_t r = rb; r < re; ++r) out[c * rows + r] = in[r * cols + c];
    }
}

inline status layout_convert(float* out, const float* in, const image_shape& s, bool to_nhwc,
                             runtime::thread_pool* pool, const char* op) {
  TESSERA_TRY(detail::check_input(op, s));
  if (out == in) return make_error(errc::invalid_argument, std::string(op) + ": cannot convert in place");
  const std::size_t c = static_cast<std::size_t>(s.channels);
  const std::size_t hw = static_cast<std::size_t>(s.height * s.width);
  // NCHW -> NHWC reads [C, HW] rows; NHWC -> NCHW reads [HW, C] rows.
  const std::size_t rows = to_nhwc ? c : hw, cols = to_nhwc ? hw : c;
  runtime::thread_pool& tp = runtime::pool_or_default(pool);
  for (std::size_t n = 0; n < static_cast<std::size_t>(s.batch); ++n) {
    const float* src = in + n * c * hw;
    float* dst = out + n * c * hw;
    runtime::parallel_for(tp, 0, rows, std::max<std::size_t>(32, 16384 / std::max<std::size_t>(cols, 1)),
                          [&](std::size_t r0, std::size_t r1) { transpose_tile_f32(dst, src, rows, cols, r0, r1); });
  }
  return {};
}
}  // namespace detail

// out [N, H, W, C] from in [N, C, H, W]. `s` holds the logical sizes. No aliasing.
inline status nchw_to_nhwc(float* out, const float* in, const image_shape& s, runtime::thread_pool* pool = nullptr) {
  return detail::layout_convert(out, in, s, true, pool, "nchw_to_nhwc");
}

// out [N, C, H, W] from in [N, H, W, C]. No aliasing.
inline status nhwc_to_nchw(float* out, const float* in, const image_shape& s, runtime::thread_pool* pool = nullptr) {
  return detail::layout_convert(out, in, s, false, pool, "nhwc_to_nchw");
}

}  // namespace tessera::kernels
