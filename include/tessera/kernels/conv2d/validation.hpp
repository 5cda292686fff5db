// Conv part: argument checks shared by Conv and ConvTranspose, as error values.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/kernels/conv2d/fused_epilogue.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/layout.hpp>

#include <cstdint>
#include <string>

namespace tessera::kernels::detail {

// Checks parameters that do not depend on the input size (at prepare time).
inline status check_conv_params(const conv2d_params& p, std::int64_t in_c, std::int64_t out_c, const char* op) {
  TESSERA_TRY(check_range(op, "in_channels", in_c, 1));
  TESSERA_TRY(check_range(op, "out_channels", out_c, 1));
  TESSERA_TRY(check_range(op, "groups", p.groups, 1));
  TESSERA_TRY(check_window(op, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.pad_top,
                           p.pad_left, p.pad_bottom, p.pad_right));
  TESSERA_TRY(check_groups(op, in_c, out_c, p.groups));
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  if (!count_fits(u(out_c), u(in_c / p.groups), u(p.kernel_h), u(p.kernel_w)) ||
      !count_fits(u(in_c), u(out_c / p.groups), u(p.kernel_h), u(p.kernel_w)))
    return make_error(errc::out_of_range, std::string(op) + ": weight element count overflows");
  return {};
}

inline status check_conv_buffers(float* out, const float* in, const conv2d_geometry& g, const conv2d_epilogue& ep,
                                 const char* op) {
  if (!out || !in) return make_error(errc::invalid_argument, std::string(op) + ": null tensor");
  if (overlaps(out, g.out_size(), in, g.in_size()))
    return make_error(errc::invalid_argument, std::string(op) + ": output overlaps the input (no in-place convolution)");
  if (ep.residual && overlaps(out, g.out_size(), ep.residual, g.out_size()))
    return make_error(errc::invalid_argument, std::string(op) + ": residual overlaps the output");
  return {};
}

}  // namespace tessera::kernels::detail
