// Conv part: what Conv and ConvTranspose weights prepared at load have in common: the
// parameters, the channel counts, one packed GEMM B per group and an optional bias.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/conv2d/validation.hpp>
#include <tessera/kernels/conv_shape.hpp>
#include <tessera/kernels/gemm.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera::kernels::detail {

class prepared_conv_weights {
 public:
  const conv2d_params& params() const noexcept { return p_; }
  std::size_t in_channels() const noexcept { return in_c_; }
  std::size_t out_channels() const noexcept { return out_c_; }
  // One packed B per group (GEMM paths) or per Winograd tile position, and the bias (out_channels values) or null.
  const packed_b_f32& packed(std::size_t group) const noexcept { return packed_[group]; }
  const float* bias() const noexcept { return bias_.size() ? bias_.data() : nullptr; }

 protected:
  // Checks what does not depend on the input and records it.
  status init(const conv2d_params& p, std::int64_t in_channels, std::int64_t out_channels, const float* weight,
              const char* op) {
    TESSERA_TRY(check_conv_params(p, in_channels, out_channels, op));
    if (!weight) return make_error(errc::invalid_argument, std::string(op) + ": null weight");
    p_ = p;
    in_c_ = static_cast<std::size_t>(in_channels);
    out_c_ = static_cast<std::size_t>(out_channels);
    return {};
  }

  // Copies out_channels bias values; with `zeros_if_null`, a missing bias becomes zeros.
  status set_bias(const float* bias, bool zeros_if_null) {
    if (!bias && !zeros_if_null) return {};
    TESSERA_TRY(bias_.allocate_zeroed(out_c_));
    if (bias) std::copy(bias, bias + out_c_, bias_.data());
    return {};
  }

  // Packs one K x N matrix B per group; fill(group, B) writes it row-major.
  template <class Fill>
  status pack_groups(std::size_t K, std::size_t N, Fill&& fill) {
    return pack_matrices(static_cast<std::size_t>(p_.groups), K, N, fill);
  }

  // Packs `count` K x N matrices (groups, or Winograd's tile positions); fill(i, B) writes the
  // i-th row-major. packed(i) reads them.
  template <class Fill>
  status pack_matrices(std::size_t count, std::size_t K, std::size_t N, Fill&& fill) {
    aligned_buffer<float> b;
    TESSERA_TRY(b.allocate(K * N, first_touch::now));
    packed_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      fill(i, b.data());
      TESSERA_ASSIGN_OR_RETURN(auto packed,
                               packed_b_f32::pack(K, N, b.data(), static_cast<std::ptrdiff_t>(N), transpose::no));
      packed_.push_back(std::move(packed));
    }
    return {};
  }

  // The same when group g's B is the transpose of the N x K rows at w + g * N * K.
  status pack_groups_transposed(std::size_t K, std::size_t N, const float* w) {
    const std::size_t G = static_cast<std::size_t>(p_.groups);
    packed_.reserve(G);
    for (std::size_t grp = 0; grp < G; ++grp) {
      TESSERA_ASSIGN_OR_RETURN(auto packed, packed_b_f32::pack(K, N, w + grp * N * K, static_cast<std::ptrdiff_t>(K), transpose::yes));
      packed_.push_back(std::move(packed));
    }
    return {};
  }

  status check_input_channels(const image_shape& in, const char* op) const {
    if (in.channels == static_cast<std::int64_t>(in_c_)) return {};
    return make_error(errc::shape_mismatch, std::string(op) + ": input has " + std::to_string(in.channels) +
                                                " channels, weights expect " + std::to_string(in_c_));
  }

  conv2d_params p_;
  std::size_t in_c_ = 0, out_c_ = 0;

 private:
  std::vector<packed_b_f32> packed_;
  aligned_buffer<float> bias_;
};

}  // namespace tessera::kernels::detail
