// Conv part: prepared_conv2d (public), a Conv node's weights prepared once at load for the
// NHWC kernels, and the choice of algorithm.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/conv2d/prepared_weights.hpp>
#include <tessera/kernels/conv2d/scratch.hpp>
#include <tessera/kernels/conv2d/winograd.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/gemm.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera::kernels {

enum class conv2d_algorithm : int { automatic, gemm_1x1, im2col_gemm, depthwise, winograd_3x3 };

inline const char* conv2d_algorithm_name(conv2d_algorithm a) noexcept {
  switch (a) {
    case conv2d_algorithm::automatic: return "automatic";
    case conv2d_algorithm::gemm_1x1: return "gemm_1x1";
    case conv2d_algorithm::im2col_gemm: return "im2col_gemm";
    case conv2d_algorithm::depthwise: return "depthwise";
    case conv2d_algorithm::winograd_3x3: return "winograd_3x3";
  }
  return "unknown";
}

// Weights of one Conv node, prepared for the NHWC kernels.
class prepared_conv2d : public detail::prepared_conv_weights {
 public:
  // weight: ONNX/PyTorch OIHW [out_channels, in_channels/groups, kernel_h, kernel_w];
  // bias: out_channels values or null. `algo` forces a path (tests, benchmarks); automatic
  // picks depthwise, then gemm_1x1, then winograd_3x3 (3x3, stride 1, no dilation, one group,
  // enough channels for its GEMMs), then im2col_gemm.
  static expected<prepared_conv2d> prepare(const conv2d_params& p, std::int64_t in_channels,
                                           std::int64_t out_channels, const float* weight, const float* bias,
                                           conv2d_algorithm algo = conv2d_algorithm::automatic) {
    constexpr const char* op = "prepare_conv2d";
    prepared_conv2d w;
    TESSERA_TRY(w.init(p, in_channels, out_channels, weight, op));
    const std::size_t G = static_cast<std::size_t>(p.groups), icg = w.in_c_ / G, ocg = w.out_c_ / G;
    const std::size_t kh = static_cast<std::size_t>(p.kernel_h), kw = static_cast<std::size_t>(p.kernel_w);
    const bool depthwise_ok = G == w.in_c_ && G == w.out_c_;
    const bool pointwise_ok = kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                              p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
    const bool winograd_ok = kh == 3 && kw == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 &&
                             p.dilation_w == 1 && G == 1;
    // Its GEMMs have K = Cin and N = Cout: with few channels the transforms cost more than
    // the multiply-adds they save.
    const bool winograd_pays = winograd_ok && w.in_c_ >= kWinogradMinChannels && w.out_c_ >= kWinogradMinChannels;
    if (algo == conv2d_algorithm::automatic)
      algo = depthwise_ok ? conv2d_algorithm::depthwise
             : pointwise_ok ? conv2d_algorithm::gemm_1x1
             : winograd_pays ? conv2d_algorithm::winograd_3x3
                             : conv2d_algorithm::im2col_gemm;
    if (algo == conv2d_algorithm::depthwise && !depthwise_ok)
      return make_error(errc::unsupported, std::string(op) + ": depthwise needs groups == in_channels == out_channels");
    if (algo == conv2d_algorithm::gemm_1x1 && !pointwise_ok)
      return make_error(errc::unsupported, std::string(op) + ": gemm_1x1 needs a 1x1 kernel, stride 1, no padding");
    if (algo == conv2d_algorithm::winograd_3x3 && !winograd_ok)
      return make_error(errc::unsupported, std::string(op) + ": winograd_3x3 needs a 3x3 kernel, stride 1, no dilation, one group");
    w.algo_ = algo;
    // The depthwise kernel always adds a bias (zeros when there is none).
    TESSERA_TRY(w.set_bias(bias, algo == conv2d_algorithm::depthwise));
    if (algo == conv2d_algorithm::depthwise) {
      // [kh][kw][C]: one contiguous channel row per tap.
      const std::size_t C = w.in_c_;
      TESSERA_TRY(w.dw_weight_.allocate(kh * kw * C, first_touch::now));
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t t = 0; t < kh * kw; ++t) w.dw_weight_[t * C + c] = weight[c * kh * kw + t];
      return w;
    }
    if (algo == conv2d_algorithm::winograd_3x3) {
      // Position p's B[ci][co] = U[co][ci][p], U = G g G^T of filter (co, ci).
      const std::size_t C = w.in_c_, K = w.out_c_;
      aligned_buffer<float> u;
      TESSERA_TRY(u.allocate(K * C * detail::winograd_positions, first_touch::now));
      for (std::size_t f = 0; f < K * C; ++f) detail::winograd_filter(weight + f * 9, u.data() + f * detail::winograd_positions);
      TESSERA_TRY(w.pack_matrices(detail::winograd_positions, C, K, [&](std::size_t pos, float* b) {
        for (std::size_t ci = 0; ci < C; ++ci)
          for (std::size_t co = 0; co < K; ++co) b[ci * K + co] = u[(co * C + ci) * detail::winograd_positions + pos];
      }));
      return w;
    }
    // 1x1: B[ci][co] = W[g*ocg + co][ci] is the group's weight rows transposed, packed as they
    // lie (no reordered copy to write first).
    if (kh * kw == 1) {
      TESSERA_TRY(w.pack_groups_transposed(icg, ocg, weight));
      return w;
    }
    // Per group: B[(ky*kw + kx)*icg + ci][co] = W[g*ocg + co][ci][ky][kx].
    TESSERA_TRY(w.pack_groups(kh * kw * icg, ocg, [&](std::size_t grp, float* b) {
      for (std::size_t co = 0; co < ocg; ++co)
        for (std::size_t ci = 0; ci < icg; ++ci)
          for (std::size_t t = 0; t < kh * kw; ++t)
            b[(t * icg + ci) * ocg + co] = weight[(((grp * ocg + co) * icg + ci) * kh * kw) + t];
    }));
    return w;
  }

  conv2d_algorithm algorithm() const noexcept { return algo_; }
  // Depthwise weights, [kh][kw][C] (the GEMM paths read packed(group)).
  const float* depthwise_weights() const noexcept { return dw_weight_.data(); }

  // Validated sizes for an input; the output is [batch, out_h, out_w, out_channels].
  expected<conv2d_geometry> geometry(const image_shape& in) const {
    TESSERA_TRY(check_input_channels(in, "conv2d"));
    return conv2d_geometry_of(in, static_cast<std::int64_t>(out_c_), p_);
  }

  // Scratch floats a call on `in` uses (0 for the paths without scratch).
  std::size_t workspace_floats(const conv2d_geometry& g) const noexcept {
    if (algo_ == conv2d_algorithm::winograd_3x3)  // on one thread
      return detail::plan_winograd(g, detail::winograd_tiles_of(g), 1).scratch_floats;
    if (algo_ != conv2d_algorithm::im2col_gemm) return 0;
    const std::size_t K = g.kh * g.kw * g.in_cg;
    return lines_per_tile(g) * g.out_w * K;
  }

  // Output lines per im2col tile (the tile holds their patches).
  static std::size_t lines_per_tile(const conv2d_geometry& g) noexcept {
    return detail::scratch_lines_per_tile(g.batch * g.out_h, g.out_w * g.kh * g.kw * g.in_cg);
  }

 private:
  static constexpr std::size_t kWinogradMinChannels = 16;
  conv2d_algorithm algo_ = conv2d_algorithm::im2col_gemm;
  aligned_buffer<float> dw_weight_;  // depthwise: [kh][kw][C]
};

}  // namespace tessera::kernels
