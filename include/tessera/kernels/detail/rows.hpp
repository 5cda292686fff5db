// Row helpers shared by the NHWC kernels (pooling, ConvTranspose's col2im): one contiguous
// row of n floats combined into an accumulator row, full SIMD batches then a scalar tail
// (max, add and scale round the same in a lane and in a scalar).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <cstddef>

namespace tessera::kernels::detail {

inline void row_max_f32(float* TESSERA_RESTRICT acc, const float* TESSERA_RESTRICT x, std::size_t n) {
  using B = simd::f32;
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size)
    xsimd::max(B::load_unaligned(acc + i), B::load_unaligned(x + i)).store_unaligned(acc + i);
  for (; i < n; ++i) acc[i] = std::max(acc[i], x[i]);
}

inline void row_add_f32(float* TESSERA_RESTRICT acc, const float* TESSERA_RESTRICT x, std::size_t n) {
  using B = simd::f32;
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size)
    (B::load_unaligned(acc + i) + B::load_unaligned(x + i)).store_unaligned(acc + i);
  for (; i < n; ++i) acc[i] += x[i];
}

inline void row_scale_f32(float* acc, float s, std::size_t n) {
  using B = simd::f32;
  std::size_t i = 0;
  const B sv(s);
  for (; i + B::size <= n; i += B::size) (B::load_unaligned(acc + i) * sv).store_unaligned(acc + i);
  for (; i < n; ++i) acc[i] *= s;
}

}  // namespace tessera::kernels::detail
