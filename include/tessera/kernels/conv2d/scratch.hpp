// Conv part: the bounded scratch of the GEMM paths (im2col patches, ConvTranspose columns),
// taken from an arena under the one scratch policy (core/arena.hpp): the caller's arena (a
// model's planned workspace) or else the calling thread's thread_arena(), inside an
// arena_scope the conv opens, so a repeated call allocates nothing.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>

#include <algorithm>
#include <cstddef>
#include <string>

namespace tessera::kernels::detail {

// Target size of one im2col / column tile in floats (2 MiB): big enough for GEMM tiles with
// hundreds of rows, small enough to stay in L2/L3 between the gather and the GEMM.
inline constexpr std::size_t conv_scratch_floats = std::size_t{1} << 19;

// Lines (rows of `line_floats` scratch floats each) per scratch tile: as many as fit in
// conv_scratch_floats, at least 1, at most `lines`.
inline std::size_t scratch_lines_per_tile(std::size_t lines, std::size_t line_floats) noexcept {
  return std::min(lines, std::max<std::size_t>(1, conv_scratch_floats / std::max<std::size_t>(1, line_floats)));
}

// n floats from `a` (aligned to TESSERA_ALIGNMENT), or out_of_memory naming the op.
inline expected<float*> conv_scratch(arena& a, std::size_t n, const char* op) {
  expected<float*> p = a.allocate<float>(n);
  if (!p) return make_error(errc::out_of_memory, std::string(op) + ": cannot allocate its scratch: " + p.err().message);
  return p;
}

}  // namespace tessera::kernels::detail
