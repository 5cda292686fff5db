// Parameters, output sizes and validation shared by the 2D convolution and pooling kernels
// (kernels/conv2d.hpp, kernels/pool.hpp) and their scalar references (kernels/ref/).
//
// Parameters are int64 because that is what model files carry (ONNX attributes): a negative
// stride from a hostile file must become an error here, not a huge size_t later. Every public
// conv/pool entry validates through these functions first; the kernels behind them only see
// sizes that passed, so their index arithmetic cannot overflow.
//
// Size rules follow the ONNX operators:
//   Conv / pooling:  out = floor((in + pad_begin + pad_end - ((k - 1) * dilation + 1)) / stride) + 1
//                    (pooling with ceil_mode rounds up, then drops a last window that would
//                     start inside the end padding)
//   ConvTranspose:   out = stride * (in - 1) + output_padding + ((k - 1) * dilation + 1)
//                          - pad_begin - pad_end
#pragma once

#include <tessera/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera::kernels {

// Logical NCHW dimensions of an activation tensor. Whether memory is NCHW or NHWC is a
// property of the function that takes it (the fast kernels use NHWC, the references NCHW).
struct image_shape {
  std::int64_t batch = 1;
  std::int64_t channels = 1;
  std::int64_t height = 1;
  std::int64_t width = 1;

  std::int64_t numel() const noexcept { return batch * channels * height * width; }
};

struct conv2d_params {
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int64_t groups = 1;
  // ConvTranspose only: extra rows/columns at the bottom/right of the output.
  std::int64_t output_padding_h = 0, output_padding_w = 0;
};

struct pool2d_params {
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t dilation_h = 1, dilation_w = 1;  // max pooling only; average pooling needs 1
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;
  bool count_include_pad = false;  // average pooling only
};

// Validated sizes. Produced only by the *_geometry functions below.
struct conv2d_geometry {
  std::size_t batch = 0, in_c = 0, in_h = 0, in_w = 0;
  std::size_t out_c = 0, out_h = 0, out_w = 0;
  std::size_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::size_t pt = 0, pl = 0, pb = 0, pr = 0;
  std::size_t groups = 1, in_cg = 0, out_cg = 0;  // channels per group
  std::size_t in_size() const { return batch * in_c * in_h * in_w; }
  std::size_t out_size() const { return batch * out_c * out_h * out_w; }
};

namespace detail {

// Any single parameter or dimension above this is rejected; products of two such values
// then fit comfortably in int64, and element counts are checked separately below.
inline constexpr std::int64_t conv_dim_limit = std::int64_t{1} << 30;
// Largest element count of any tensor we index (bytes must fit in ptrdiff_t).
inline constexpr std::uint64_t conv_elem_limit = static_cast<std::uint64_t>(PTRDIFF_MAX) / 8;

inline status check_range(const char* op, const char* what, std::int64_t v, std::int64_t lo) {
  if (v < lo || v > conv_dim_limit)
    return make_error(errc::invalid_argument, std::string(op) + ": " + what + " = " + std::to_string(v) +
                                                  " out of range [" + std::to_string(lo) + ", 2^30]");
  return {};
}

// a*b*c*d <= conv_elem_limit, without overflow on the way.
inline bool count_fits(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  std::uint64_t acc = 1;
  for (std::uint64_t v : {a, b, c, d}) {
    if (v != 0 && acc > conv_elem_limit / v) return false;
    acc *= v;
  }
  return true;
}

// True when [a, a + na) and [b, b + nb) share memory (floats).
inline bool overlaps(const float* a, std::size_t na, const float* b, std::size_t nb) {
  const auto ua = reinterpret_cast<std::uintptr_t>(a), ub = reinterpret_cast<std::uintptr_t>(b);
  return ua < ub + nb * sizeof(float) && ub < ua + na * sizeof(float);
}

inline status check_input(const char* op, const image_shape& s) {
  TESSERA_TRY(check_range(op, "batch", s.batch, 0));
  TESSERA_TRY(check_range(op, "channels", s.channels, 1));
  TESSERA_TRY(check_range(op, "height", s.height, 1));
  TESSERA_TRY(check_range(op, "width", s.width, 1));
  if (!count_fits(static_cast<std::uint64_t>(s.batch), static_cast<std::uint64_t>(s.channels),
                  static_cast<std::uint64_t>(s.height), static_cast<std::uint64_t>(s.width)))
    return make_error(errc::out_of_range, std::string(op) + ": input element count overflows");
  return {};
}

inline status check_window(const char* op, std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                           std::int64_t dh, std::int64_t dw, std::int64_t pt, std::int64_t pl, std::int64_t pb,
                           std::int64_t pr) {
  TESSERA_TRY(check_range(op, "kernel_h", kh, 1));
  TESSERA_TRY(check_range(op, "kernel_w", kw, 1));
  TESSERA_TRY(check_range(op, "stride_h", sh, 1));
  TESSERA_TRY(check_range(op, "stride_w", sw, 1));
  TESSERA_TRY(check_range(op, "dilation_h", dh, 1));
  TESSERA_TRY(check_range(op, "dilation_w", dw, 1));
  TESSERA_TRY(check_range(op, "pad_top", pt, 0));
  TESSERA_TRY(check_range(op, "pad_left", pl, 0));
  TESSERA_TRY(check_range(op, "pad_bottom", pb, 0));
  TESSERA_TRY(check_range(op, "pad_right", pr, 0));
  return {};
}

// floor/ceil((in + pads - extent) / stride) + 1, or an error when the window does not fit.
inline expected<std::int64_t> window_count(const char* op, const char* axis, std::int64_t in, std::int64_t k,
                                           std::int64_t s, std::int64_t d, std::int64_t pad_begin,
                                           std::int64_t pad_end, bool ceil_mode) {
  const std::int64_t extent = (k - 1) * d + 1;
  const std::int64_t span = in + pad_begin + pad_end - extent;
  if (span < 0)
    return make_error(errc::shape_mismatch, std::string(op) + ": " + axis + ": kernel extent " +
                                                std::to_string(extent) + " exceeds padded input " +
                                                std::to_string(in + pad_begin + pad_end));
  std::int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  // A window that would start in the end padding is dropped (ONNX / PyTorch ceil_mode rule).
  if (ceil_mode && (out - 1) * s >= in + pad_begin) --out;
  return out;
}

inline void fill_common(conv2d_geometry& g, const image_shape& in, std::int64_t kh, std::int64_t kw,
                        std::int64_t sh, std::int64_t sw, std::int64_t dh, std::int64_t dw, std::int64_t pt,
                        std::int64_t pl, std::int64_t pb, std::int64_t pr) {
  auto z = [](std::int64_t v) { return static_cast<std::size_t>(v); };
  g.batch = z(in.batch); g.in_c = z(in.channels); g.in_h = z(in.height); g.in_w = z(in.width);
  g.kh = z(kh); g.kw = z(kw); g.sh = z(sh); g.sw = z(sw); g.dh = z(dh); g.dw = z(dw);
  g.pt = z(pt); g.pl = z(pl); g.pb = z(pb); g.pr = z(pr);
}

// The geometry both Conv and ConvTranspose end with, once their shapes are validated.
inline conv2d_geometry make_geometry(const image_shape& in, const conv2d_params& p, std::int64_t out_channels,
                                     std::int64_t oh, std::int64_t ow) {
  conv2d_geometry g;
  fill_common(g, in, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_top,
              p.pad_left, p.pad_bottom, p.pad_right);
  g.out_c = static_cast<std::size_t>(out_channels);
  g.out_h = static_cast<std::size_t>(oh);
  g.out_w = static_cast<std::size_t>(ow);
  g.groups = static_cast<std::size_t>(p.groups);
  g.in_cg = g.in_c / g.groups;
  g.out_cg = g.out_c / g.groups;
  return g;
}

// Both channel counts must be multiples of `groups` (groups >= 1, checked before).
inline status check_groups(const char* op, std::int64_t in_c, std::int64_t out_c, std::int64_t groups) {
  if (in_c % groups != 0 || out_c % groups != 0)
    return make_error(errc::shape_mismatch, std::string(op) + ": channels " + std::to_string(in_c) + " -> " +
                                                std::to_string(out_c) + " not divisible by groups " +
                                                std::to_string(groups));
  return {};
}

}  // namespace detail

// Conv: input [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw].
inline expected<conv2d_geometry> conv2d_geometry_of(const image_shape& in, std::int64_t out_channels,
                                                    const conv2d_params& p, const char* op = "conv2d") {
  TESSERA_TRY(detail::check_input(op, in));
  TESSERA_TRY(detail::check_range(op, "out_channels", out_channels, 1));
  TESSERA_TRY(detail::check_range(op, "groups", p.groups, 1));
  TESSERA_TRY(detail::check_window(op, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w,
                                   p.pad_top, p.pad_left, p.pad_bottom, p.pad_right));
  TESSERA_TRY(detail::check_groups(op, in.channels, out_channels, p.groups));
  TESSERA_ASSIGN_OR_RETURN(std::int64_t oh, detail::window_count(op, "height", in.height, p.kernel_h, p.stride_h,
                                                                 p.dilation_h, p.pad_top, p.pad_bottom, false));
  TESSERA_ASSIGN_OR_RETURN(std::int64_t ow, detail::window_count(op, "width", in.width, p.kernel_w, p.stride_w,
                                                                 p.dilation_w, p.pad_left, p.pad_right, false));
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  if (!detail::count_fits(u(in.batch), u(out_channels), u(oh), u(ow)) ||
      !detail::count_fits(u(out_channels), u(in.channels / p.groups), u(p.kernel_h), u(p.kernel_w)) ||
      !detail::count_fits(u(in.batch), u(oh), u(ow), u(p.kernel_h * p.kernel_w)))
    return make_error(errc::out_of_range, std::string(op) + ": output or weight element count overflows");
  return detail::make_geometry(in, p, out_channels, oh, ow);
}

// ConvTranspose: input [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw].
inline expected<conv2d_geometry> conv_transpose2d_geometry_of(const image_shape& in, std::int64_t out_channels,
                                                              const conv2d_params& p,
                                                              const char* op = "conv_transpose2d") {
  TESSERA_TRY(detail::check_input(op, in));
  TESSERA_TRY(detail::check_range(op, "out_channels", out_channels, 1));
  TESSERA_TRY(detail::check_range(op, "groups", p.groups, 1));
  TESSERA_TRY(detail::check_window(op, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w,
                                   p.pad_top, p.pad_left, p.pad_bottom, p.pad_right));
  TESSERA_TRY(detail::check_range(op, "output_padding_h", p.output_padding_h, 0));
  TESSERA_TRY(detail::check_range(op, "output_padding_w", p.output_padding_w, 0));
  // As in PyTorch: output padding only selects among the output sizes that map to the same
  // input size, so it must be smaller than the stride or the dilation.
  if ((p.output_padding_h >= p.stride_h && p.output_padding_h >= p.dilation_h) ||
      (p.output_padding_w >= p.stride_w && p.output_padding_w >= p.dilation_w))
    return make_error(errc::invalid_argument, std::string(op) + ": output_padding must be smaller than stride or dilation");
  TESSERA_TRY(detail::check_groups(op, in.channels, out_channels, p.groups));
  const std::int64_t oh = p.stride_h * (in.height - 1) + p.output_padding_h + (p.kernel_h - 1) * p.dilation_h + 1 -
                          p.pad_top - p.pad_bottom;
  const std::int64_t ow = p.stride_w * (in.width - 1) + p.output_padding_w + (p.kernel_w - 1) * p.dilation_w + 1 -
                          p.pad_left - p.pad_right;
  if (oh < 1 || ow < 1)
    return make_error(errc::shape_mismatch, std::string(op) + ": padding leaves an empty output (" +
                                                std::to_string(oh) + " x " + std::to_string(ow) + ")");
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  if (!detail::count_fits(u(in.batch), u(out_channels), u(oh), u(ow)) ||
      !detail::count_fits(u(in.channels), u(out_channels / p.groups), u(p.kernel_h), u(p.kernel_w)) ||
      !detail::count_fits(u(in.batch), u(in.height), u(in.width), u(p.kernel_h * p.kernel_w)))
    return make_error(errc::out_of_range, std::string(op) + ": output or weight element count overflows");
  return detail::make_geometry(in, p, out_channels, oh, ow);
}

// Max/average pooling: output [N, C, out_h, out_w]. Every output window must cover at least
// one input element (otherwise max is undefined and the average divides by zero).
inline expected<conv2d_geometry> pool2d_geometry_of(const image_shape& in, const pool2d_params& p,
                                                    const char* op = "pool2d") {
  TESSERA_TRY(detail::check_input(op, in));
  TESSERA_TRY(detail::check_window(op, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w,
                                   p.pad_top, p.pad_left, p.pad_bottom, p.pad_right));
  TESSERA_ASSIGN_OR_RETURN(std::int64_t oh, detail::window_count(op, "height", in.height, p.kernel_h, p.stride_h,
                                                                 p.dilation_h, p.pad_top, p.pad_bottom, p.ceil_mode));
  TESSERA_ASSIGN_OR_RETURN(std::int64_t ow, detail::window_count(op, "width", in.width, p.kernel_w, p.stride_w,
                                                                 p.dilation_w, p.pad_left, p.pad_right, p.ceil_mode));
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  if (!detail::count_fits(u(in.batch), u(in.channels), u(oh), u(ow)))
    return make_error(errc::out_of_range, std::string(op) + ": output element count overflows");
  // Empty windows, per axis (a 2D window is empty iff its rows or its columns are). Only a
  // window starting outside the input can be empty, so the scan is O(1) per border output.
  auto axis_ok = [](std::int64_t out, std::int64_t in_len, std::int64_t k, std::int64_t s, std::int64_t d,
                    std::int64_t pad) {
    auto nonempty = [&](std::int64_t o) {
      const std::int64_t start = o * s - pad;
      const std::int64_t t0 = start >= 0 ? 0 : (-start + d - 1) / d;  // first tap at or after 0
      return t0 < k && start + t0 * d < in_len;
    };
    for (std::int64_t o = 0; o < out && o * s < pad; ++o)
      if (!nonempty(o)) return false;
    for (std::int64_t o = out - 1; o >= 0 && o * s - pad >= in_len; --o)
      if (!nonempty(o)) return false;
    return true;
  };
  if (!axis_ok(oh, in.height, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top) ||
      !axis_ok(ow, in.width, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left))
    return make_error(errc::invalid_argument, std::string(op) + ": an output window lies entirely in the padding");
  conv2d_geometry g;
  detail::fill_common(g, in, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_top,
                      p.pad_left, p.pad_bottom, p.pad_right);
  g.out_c = g.in_c;
  g.out_h = static_cast<std::size_t>(oh);
  g.out_w = static_cast<std::size_t>(ow);
  g.groups = g.in_c;
  g.in_cg = g.out_cg = 1;
  return g;
}

}  // namespace tessera::kernels
