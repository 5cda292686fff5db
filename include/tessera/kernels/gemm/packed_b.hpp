// GEMM part: packed_b_f32, weights packed once into the micro-kernel's panel layout (a public
// type: reach it through <tessera/kernels/gemm.hpp>).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/gemm/config.hpp>
#include <tessera/kernels/gemm/pack.hpp>
#include <tessera/kernels/gemm/validation.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

namespace tessera::kernels {

// B (K x N, or its transpose) packed once into the micro-kernel's panel layout: for each KC
// block of rows, ceil(N / NR) panels of kc x NR floats (zero-padded). The layout belongs to
// the build's architecture: pack in the same program that multiplies.
class packed_b_f32 {
 public:
  packed_b_f32() = default;
  // Not defaulted: a moved-from object must become empty (0 x 0), not keep its sizes with
  // no data (gemm_f32 would then read through a null panel pointer).
  packed_b_f32(packed_b_f32&& o) noexcept
      : k_(std::exchange(o.k_, 0)), n_(std::exchange(o.n_, 0)), n_pad_(std::exchange(o.n_pad_, 0)),
        data_(std::move(o.data_)) {}
  packed_b_f32& operator=(packed_b_f32&& o) noexcept {
    if (this != &o) {
      k_ = std::exchange(o.k_, 0);
      n_ = std::exchange(o.n_, 0);
      n_pad_ = std::exchange(o.n_pad_, 0);
      data_ = std::move(o.data_);
    }
    return *this;
  }

  static expected<packed_b_f32> pack(std::size_t K, std::size_t N, const float* B, std::ptrdiff_t ldb,
                                     transpose trans_b) {
    using cfg = detail::gemm::config;
    constexpr const char* who = "packed_b_f32::pack";
    TESSERA_TRY(detail::gemm::check_sizes(who, 1, N, K));
    TESSERA_TRY(trans_b == transpose::no ? detail::gemm::check_matrix(who, "B", K, N, B, ldb)
                                         : detail::gemm::check_matrix(who, "B", N, K, B, ldb));
    packed_b_f32 p;
    p.k_ = K;
    p.n_ = N;
    p.n_pad_ = detail::gemm::round_up(N, cfg::NR);
    if (detail::gemm::mul_overflows(p.n_pad_, K))
      return make_error(errc::invalid_argument, std::string(who) + ": packed size overflows");
    const std::size_t total = p.n_pad_ * K;
    if (total == 0) return p;
    if (!p.data_.allocate(total, first_touch::now))
      return make_error(errc::out_of_memory, std::string(who) + ": cannot allocate " + std::to_string(total) + " floats");
    for (std::size_t pc = 0; pc < K; pc += cfg::KC) {
      const std::size_t kc = std::min(cfg::KC, K - pc);
      detail::gemm::pack_b<cfg::NR>(B, ldb, trans_b, pc, kc, 0, N, 0, p.n_pad_ / cfg::NR, p.data_.data() + pc * p.n_pad_);
    }
    return p;
  }

  std::size_t rows() const { return k_; }
  std::size_t cols() const { return n_; }
  bool empty() const { return data_.empty(); }
  // Panel layout (for kernels): the kc-block starting at row pc begins at data() + pc * padded_cols(),
  // and holds padded_cols() / panel_width() panels of kc x panel_width() floats each.
  const float* data() const { return data_.data(); }
  std::size_t padded_cols() const { return n_pad_; }
  static constexpr std::size_t panel_width() { return detail::gemm::config::NR; }
  static constexpr std::size_t block_rows() { return detail::gemm::config::KC; }

 private:
  std::size_t k_ = 0, n_ = 0, n_pad_ = 0;
  aligned_buffer<float> data_;
};

}  // namespace tessera::kernels
