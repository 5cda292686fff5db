// GEMM part: argument checks of the public entry points (sizes whose products overflow,
// matrices that do not fit their leading dimension, epilogues), as error values.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/gemm/config.hpp>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>

namespace tessera::kernels::detail::gemm {

inline bool mul_overflows(std::size_t a, std::size_t b) {
  constexpr std::size_t lim = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());
  return a != 0 && b > lim / a;
}

// A rows x cols matrix at p with leading dimension ld (elements).
inline status check_matrix(const char* who, const char* what, std::size_t rows, std::size_t cols, const void* p,
                           std::ptrdiff_t ld) {
  if (rows == 0 || cols == 0) return {};
  auto fail = [&](const std::string& m) {
    return make_error(errc::invalid_argument, std::string(who) + ": " + what + ": " + m);
  };
  if (p == nullptr) return fail("null pointer for a " + std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
  if (ld < 0 || static_cast<std::size_t>(ld) < cols)
    return fail("leading dimension " + std::to_string(ld) + " < " + std::to_string(cols) + " columns");
  if (mul_overflows(rows - 1, static_cast<std::size_t>(ld)) ||
      (rows - 1) * static_cast<std::size_t>(ld) >
          static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) - cols)
    return fail("extent overflows");
  return {};
}

inline status check_sizes(const char* who, std::size_t M, std::size_t N, std::size_t K) {
  if (mul_overflows(M, N) || mul_overflows(M, K) || mul_overflows(K, N))
    return make_error(errc::invalid_argument, std::string(who) + ": " + std::to_string(M) + "x" + std::to_string(N) +
                                                  "x" + std::to_string(K) + " overflows");
  return {};
}

inline status check_epilogue(const char* who, std::size_t M, std::size_t N, const epilogue& ep) {
  TESSERA_TRY(validate_epilogue(ep, who));
  if (M == 0 || N == 0) return {};
  if (ep.residual) TESSERA_TRY(check_matrix(who, "residual", M, N, ep.residual, M == 1 ? std::max<std::ptrdiff_t>(ep.ld_residual, sp(N)) : ep.ld_residual));
  return {};
}

}  // namespace tessera::kernels::detail::gemm
