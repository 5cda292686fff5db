// Max / average pooling with 1, 2 or 3 spatial dimensions and global pooling, over
// channels-last activations (logical [N, C, S...] stored [N, S..., C]), on kernels/pool.hpp.
//
// 1-D is the 2-D kernel with height 1. 3-D combines 2-D pools of depth slices: the max of
// the slices' maxima; for the average, the mean over the depth taps of the slices' averages
// (every slice of one output shares its height/width window, so this is the box average, with
// count_include_pad's divisor the product of the per-axis counts).
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/kernels/pool.hpp>
#include <tessera/nn/window.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace tessera::nn {

struct pool_params {
  int spatial = 2;  // spatial axes in order (D, H, W), (H, W) or (W)
  std::int64_t kernel[3] = {1, 1, 1};
  std::int64_t stride[3] = {1, 1, 1};
  std::int64_t dilation[3] = {1, 1, 1};
  std::int64_t pad_begin[3] = {0, 0, 0};
  std::int64_t pad_end[3] = {0, 0, 0};
  bool ceil_mode = false;
  bool count_include_pad = false;
};

namespace detail {

inline kernels::pool2d_params pool_params_2d(const pool_params& p) {
  kernels::pool2d_params q;
  window_2d(p, q);
  q.ceil_mode = p.ceil_mode;
  q.count_include_pad = p.count_include_pad;
  return q;
}

inline kernels::image_shape slice_image(const shape_t& s, int spatial) {
  const index_t h = spatial >= 2 ? s[spatial] : 1;
  return {spatial == 3 ? 1 : s[0], s[1], h, s[spatial + 1]};
}

}  // namespace detail

// Logical [N, C, S'...] for a logical input [N, C, S...].
inline expected<shape_t> pool_output_shape(const shape_t& in, const pool_params& p) {
  if (p.spatial < 1 || p.spatial > 3 || in.rank() != p.spatial + 2)
    return make_error(errc::shape_mismatch, "pool: input " + in.str() + " must have rank " + std::to_string(p.spatial + 2));
  kernels::image_shape s = detail::slice_image(in, p.spatial);
  s.batch = in[0];
  TESSERA_ASSIGN_OR_RETURN(const kernels::conv2d_geometry g, kernels::pool2d_geometry_of(s, detail::pool_params_2d(p), "pool"));
  shape_t out = in;
  if (p.spatial >= 2) out[p.spatial] = static_cast<index_t>(g.out_h);
  out[p.spatial + 1] = static_cast<index_t>(g.out_w);
  if (p.spatial == 3) {
    TESSERA_TRY(kernels::detail::check_window("pool", p.kernel[0], 1, p.stride[0], 1, p.dilation[0], 1, p.pad_begin[0], 0,
                                              p.pad_end[0], 0));
    if (in[2] < 1 || in[2] > (index_t{1} << 30)) return make_error(errc::shape_mismatch, "pool: depth out of range");
    TESSERA_ASSIGN_OR_RETURN(out[2], kernels::detail::window_count("pool", "depth", in[2], p.kernel[0], p.stride[0], p.dilation[0],
                                                                   p.pad_begin[0], p.pad_end[0], p.ceil_mode));
    for (index_t od = 0; od < out[2]; ++od) {
      const auto r = kernels::detail::valid_taps(od * p.stride[0] - p.pad_begin[0], static_cast<std::size_t>(p.kernel[0]),
                                                 static_cast<std::size_t>(p.dilation[0]), static_cast<std::size_t>(in[2]));
      if (r.t0 >= r.t1) return make_error(errc::invalid_argument, "pool: a depth window lies entirely in the padding");
    }
  }
  TESSERA_TRY(checked_numel(out));
  return out;
}

// out = MaxPool / AveragePool (is_max) of in, both channels-last.
inline status pool(bool is_max, float* out, const float* in, const shape_t& in_shape, const pool_params& p,
                   runtime::thread_pool* tp, arena& scratch) {
  TESSERA_ASSIGN_OR_RETURN(const shape_t out_shape, pool_output_shape(in_shape, p));
  const kernels::pool2d_params q = detail::pool_params_2d(p);
  auto pool2d = [&](float* o, const float* i, const kernels::image_shape& s) {
    return is_max ? kernels::max_pool2d(o, i, s, q, tp) : kernels::avg_pool2d(o, i, s, q, tp);
  };
  if (p.spatial <= 2) return pool2d(out, in, detail::slice_image(in_shape, p.spatial));
  const index_t N = in_shape[0], D = in_shape[2], OD = out_shape[2];
  const std::size_t C = static_cast<std::size_t>(in_shape[1]);
  const std::size_t in_plane = static_cast<std::size_t>(in_shape[3] * in_shape[4]) * C;
  const std::size_t out_plane = static_cast<std::size_t>(out_shape[3] * out_shape[4]) * C;
  const kernels::image_shape s = detail::slice_image(in_shape, 3);
  const arena_scope scope(scratch);
  TESSERA_ASSIGN_OR_RETURN(float* tmp, scratch.allocate<float>(out_plane));
  for (index_t n = 0; n < N; ++n)
    for (index_t od = 0; od < OD; ++od) {
      float* dst = out + static_cast<std::size_t>(n * OD + od) * out_plane;
      const index_t start = od * p.stride[0] - p.pad_begin[0];
      const auto r = kernels::detail::valid_taps(start, static_cast<std::size_t>(p.kernel[0]), static_cast<std::size_t>(p.dilation[0]),
                                                 static_cast<std::size_t>(D));
      for (std::size_t kd = r.t0; kd < r.t1; ++kd) {
        const index_t id = start + static_cast<index_t>(kd) * p.dilation[0];
        const float* src = in + static_cast<std::size_t>(n * D + id) * in_plane;
        if (kd == r.t0) {
          TESSERA_TRY(pool2d(dst, src, s));
          continue;
        }
        TESSERA_TRY(pool2d(tmp, src, s));
        if (is_max) kernels::detail::row_max_f32(dst, tmp, out_plane);
        else kernels::detail::row_add_f32(dst, tmp, out_plane);
      }
      if (!is_max) {
        const std::size_t count = p.count_include_pad
                                      ? kernels::detail::padded_taps(start, static_cast<std::size_t>(p.kernel[0]),
                                                                     static_cast<std::size_t>(p.dilation[0]),
                                                                     static_cast<std::size_t>(D + p.pad_end[0]))
                                      : r.t1 - r.t0;
        kernels::detail::row_scale_f32(dst, 1.0f / static_cast<float>(count), out_plane);
      }
    }
  return {};
}

// out [N, C] = mean (or max) over the spatial axes of a channels-last [N, C, S...].
inline status global_pool(bool is_max, float* out, const float* in, const shape_t& in_shape, runtime::thread_pool* tp) {
  if (in_shape.rank() < 3) return make_error(errc::shape_mismatch, "global_pool: input " + in_shape.str() + " needs rank >= 3");
  index_t spatial = 1;
  for (int a = 2; a < in_shape.rank(); ++a) spatial *= in_shape[a];
  const kernels::image_shape s{in_shape[0], in_shape[1], 1, spatial};
  return is_max ? kernels::global_max_pool2d(out, in, s, tp) : kernels::global_avg_pool2d(out, in, s, tp);
}

}  // namespace tessera::nn
