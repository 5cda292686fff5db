// GEMM part: where the GEMM's temporaries come from (packing buffers, copied A rows, the edge
// panel of an unpacked B). The one scratch policy: the thread_arena() of the thread that packs,
// inside an arena_scope the caller opens on that arena, so everything is released when the
// scope ends. Scopes nest LIFO, so a caller (a conv layer) may hold memory of the same arena
// around the GEMM call; a thread-pool worker packs into its own thread_arena(). A thread that
// repeats a workload grows its arena on the first run only.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>

#include <cstddef>
#include <string>

namespace tessera::kernels::detail::gemm {

// n floats aligned to TESSERA_ALIGNMENT from the calling thread's arena, or out_of_memory.
inline expected<float*> scratch_floats(std::size_t n, const char* what) {
  expected<float*> p = thread_arena().allocate<float>(n);
  if (!p) return make_error(errc::out_of_memory, std::string("gemm_f32: cannot allocate ") + what + ": " + p.err().message);
  return p;
}

}  // namespace tessera::kernels::detail::gemm
