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
#include <tessera/runtime/thread_pool.hpp>

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
        data_(std::move(o.data_)), view_(std::exchange(o.view_, nullptr)) {}
  packed_b_f32& operator=(packed_b_f32&& o) noexcept {
    if (this != &o) {
      k_ = std::exchange(o.k_, 0);
      n_ = std::exchange(o.n_, 0);
      n_pad_ = std::exchange(o.n_pad_, 0);
      data_ = std::move(o.data_);
      view_ = std::exchange(o.view_, nullptr);
    }
    return *this;
  }

  static expected<packed_b_f32> pack(std::size_t K, std::size_t N, const float* B, std::ptrdiff_t ldb,
                                     transpose trans_b) {
    TESSERA_ASSIGN_OR_RETURN(packed_b_f32 p, sized(K, N, B, ldb, trans_b, "packed_b_f32::pack"));
    const std::size_t total = p.n_pad_ * K;
    if (total == 0) return p;
    if (!p.data_.allocate(total, first_touch::now))
      return make_error(errc::out_of_memory, "packed_b_f32::pack: cannot allocate " + std::to_string(total) + " floats");
    p.fill(p.data_.data(), B, ldb, trans_b, nullptr);
    return p;
  }

  // Floats that pack_into needs for a K x N matrix.
  static std::size_t storage_floats(std::size_t K, std::size_t N) {
    return detail::gemm::round_up(N, detail::gemm::config::NR) * K;
  }
  // Packs into the caller's storage (storage_floats(K, N) floats, TESSERA_ALIGNMENT-aligned,
  // e.g. from an arena), which must outlive the result: for a B packed once per call. The
  // pool, if given, packs the KC blocks in parallel.
  static expected<packed_b_f32> pack_into(float* storage, std::size_t K, std::size_t N, const float* B, std::ptrdiff_t ldb,
                                          transpose trans_b, runtime::thread_pool* pool = nullptr) {
    TESSERA_ASSIGN_OR_RETURN(packed_b_f32 p, sized(K, N, B, ldb, trans_b, "packed_b_f32::pack_into"));
    if (p.n_pad_ * K == 0) return p;
    p.view_ = storage;
    p.fill(storage, B, ldb, trans_b, pool);
    return p;
  }

  std::size_t rows() const { return k_; }
  std::size_t cols() const { return n_; }
  bool empty() const { return data() == nullptr; }
  // Panel layout (for kernels): the kc-block starting at row pc begins at data() + pc * padded_cols(),
  // and holds padded_cols() / panel_width() panels of kc x panel_width() floats each.
  const float* data() const { return view_ ? view_ : data_.data(); }
  std::size_t padded_cols() const { return n_pad_; }
  static constexpr std::size_t panel_width() { return detail::gemm::config::NR; }
  static constexpr std::size_t block_rows() { return detail::gemm::config::KC; }

 private:
  static expected<packed_b_f32> sized(std::size_t K, std::size_t N, const float* B, std::ptrdiff_t ldb, transpose trans_b,
                                      const char* who) {
    TESSERA_TRY(detail::gemm::check_sizes(who, 1, N, K));
    TESSERA_TRY(trans_b == transpose::no ? detail::gemm::check_matrix(who, "B", K, N, B, ldb)
                                         : detail::gemm::check_matrix(who, "B", N, K, B, ldb));
    packed_b_f32 p;
    p.k_ = K;
    p.n_ = N;
    p.n_pad_ = detail::gemm::round_up(N, detail::gemm::config::NR);
    if (detail::gemm::mul_overflows(p.n_pad_, K)) return make_error(errc::invalid_argument, std::string(who) + ": packed size overflows");
    return p;
  }
  // Every KC block of B's rows into its panels, the blocks split over `pool` if given.
  void fill(float* dst, const float* B, std::ptrdiff_t ldb, transpose trans_b, runtime::thread_pool* pool) const {
    using cfg = detail::gemm::config;
    const auto block = [&](std::size_t b, std::size_t) {
      const std::size_t pc = b * cfg::KC, kc = std::min(cfg::KC, k_ - pc);
      detail::gemm::pack_b<cfg::NR>(B, ldb, trans_b, pc, kc, 0, n_, 0, n_pad_ / cfg::NR, dst + pc * n_pad_);
    };
    const std::size_t blocks = (k_ + cfg::KC - 1) / cfg::KC;
    if (pool) pool->run(blocks, block);
    else
      for (std::size_t b = 0; b < blocks; ++b) block(b, 0);
  }

  std::size_t k_ = 0, n_ = 0, n_pad_ = 0;
  aligned_buffer<float> data_;
  const float* view_ = nullptr;  // pack_into's storage
};

}  // namespace tessera::kernels
