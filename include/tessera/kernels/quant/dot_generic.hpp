// Quantization part: the generic dot kernels, one per weight format, compiled on every target
// (the fallback where no ISA-specific kernel is selected, and the shape every kernel has).
//
// A kernel multiplies one weight row of `nb` blocks with NT activation rows at once:
// out[t] = dot(w, a[t]) for t < NT (dot_tile: R weight rows). Decoding a weight block
// (nibbles, high bits, scales) is done once for all NT rows, so the prompt path (NT > 1)
// pays it once per group of tokens.
// Integer codes are multiplied in int32; each block's sum is scaled in float, as ggml does.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/quant/formats.hpp>
#include <tessera/simd/simd.hpp>

#include <cstddef>
#include <cstdint>

namespace tessera::kernels::detail::quant::generic {

template <class Q, class A>
TESSERA_ALWAYS_INLINE int dot_codes(const Q* q, const A* a, int n) {
  int s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<int>(q[i]) * static_cast<int>(a[i]);
  return s;
}

// Q8_0, Q4_0, Q5_0 (symmetric codes) against Q8_0 activations.
template <class Block, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, block_q8_0>
void dot(std::size_t nb, const Block* w, const block_q8_0* const* a, float* out) {
  float acc[NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    std::int8_t q[32];
    codes_of(w[b], q);
    const float dw = half_to_float(w[b].d);
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_0& x = a[t][b];
      acc[t] += dw * half_to_float(x.d) * static_cast<float>(dot_codes(q, x.qs, 32));
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = acc[t];
}

// Q4_1, Q5_1 (codes with a min) against Q8_1: d_w d_a sum(q a) + m_w (d_a sum(a)).
template <class Block, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, block_q8_1>
void dot(std::size_t nb, const Block* w, const block_q8_1* const* a, float* out) {
  float acc[NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    std::uint8_t q[32];
    codes_of(w[b], q);
    const float dw = half_to_float(w[b].d), mw = half_to_float(w[b].m);
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_1& x = a[t][b];
      acc[t] += dw * half_to_float(x.d) * static_cast<float>(dot_codes(q, x.qs, 32)) + mw * half_to_float(x.s);
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = acc[t];
}

// Q4_K, Q5_K against Q8_K: sum_j scale_j sum(q a) - dmin sum_j min_j (sums of a over j).
template <class Block, std::size_t NT>
  requires(std::is_same_v<Block, block_q4_k> || std::is_same_v<Block, block_q5_k>)
void dot(std::size_t nb, const Block* w, const block_q8_k* const* a, float* out) {
  float acc[NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    std::uint8_t q[256];
    codes_of(w[b], q);
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) scale_min_k4(j, w[b].scales, sc[j], mn[j]);
    const float d = half_to_float(w[b].d), dmin = half_to_float(w[b].dmin);
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      int sum = 0, sum_min = 0;
      for (int j = 0; j < 8; ++j) {
        sum += sc[j] * dot_codes(q + 32 * j, x.qs + 32 * j, 32);
        sum_min += mn[j] * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
      }
      acc[t] += x.d * (d * static_cast<float>(sum) - dmin * static_cast<float>(sum_min));
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = acc[t];
}

// Q6_K against Q8_K: sum over 16 sub-blocks of scale_j sum(q a).
template <class Block, std::size_t NT>
  requires std::is_same_v<Block, block_q6_k>
void dot(std::size_t nb, const Block* w, const block_q8_k* const* a, float* out) {
  float acc[NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    std::int8_t q[256];
    codes_of(w[b], q);
    const float d = half_to_float(w[b].d);
    for (std::size_t t = 0; t < NT; ++t) {
      const block_q8_k& x = a[t][b];
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += w[b].scales[j] * dot_codes(q + 16 * j, x.qs + 16 * j, 16);
      acc[t] += d * x.d * static_cast<float>(sum);
    }
  }
  for (std::size_t t = 0; t < NT; ++t) out[t] = acc[t];
}

// Float weights: widened to f32 lanes (exactly) and FMA'd.
template <class B>
TESSERA_ALWAYS_INLINE B load_as_f32(const float* p) { return B::load_unaligned(p); }
template <class B>
TESSERA_ALWAYS_INLINE B load_as_f32(const bf16* p) {
#if defined(__wasm_simd128__)
  if constexpr (B::size == 4) return B(reinterpret_cast<__m128>(wasm_i32x4_shl(wasm_u32x4_load16x4(p), 16)));
#endif
  alignas(64) std::uint32_t bits[B::size];
  for (std::size_t i = 0; i < B::size; ++i) bits[i] = static_cast<std::uint32_t>(p[i].bits) << 16;
  return B::load_aligned(reinterpret_cast<const float*>(bits));
}
// f16 lanes converted one by one (exact; xsimd 8.1 has no half conversion, and its
// AVX-512BW integer shifts do not compile, which rules out the bit-moving version), except
// in WASM, where the one-by-one conversion branches and made F16 generation 10x slower than
// Q8_0's.
template <class B>
TESSERA_ALWAYS_INLINE B load_as_f32(const f16* p) {
#if defined(__wasm_simd128__)
  if constexpr (B::size == 4) return B(reinterpret_cast<__m128>(halves_to_floats(wasm_u32x4_load16x4(p))));
#endif
  alignas(64) float v[B::size];
  for (std::size_t i = 0; i < B::size; ++i) v[i] = half_to_float(p[i]);
  return B::load_aligned(v);
}
template <class T>
TESSERA_ALWAYS_INLINE float to_f32(const T& v) {
  float f = 0.0f;
  dequantize_block(v, &f);
  return f;
}

template <class Block, std::size_t NT>
  requires std::is_same_v<typename format<Block>::act, float>
void dot(std::size_t n, const Block* w, const float* const* a, float* out) {
  using B = simd::batch<float>;
  constexpr std::size_t W = B::size;
  B acc[NT];
  for (std::size_t t = 0; t < NT; ++t) acc[t] = B(0.0f);
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    const B wv = load_as_f32<B>(w + i);
    for (std::size_t t = 0; t < NT; ++t) acc[t] = simd::fma(wv, B::load_unaligned(a[t] + i), acc[t]);
  }
  for (std::size_t t = 0; t < NT; ++t) {
    float s = simd::reduce_add(acc[t]);
    for (std::size_t k = i; k < n; ++k) s += to_f32(w[k]) * a[t][k];
    out[t] = s;
  }
}

// An R x NT tile: out[r * NT + t] = dot(w[r], a[t]).
template <class Block, std::size_t R, std::size_t NT>
void dot_tile(std::size_t nb, const Block* const* w, const typename format<Block>::act* const* a, float* out) {
  for (std::size_t r = 0; r < R; ++r) dot<Block, NT>(nb, w[r], a, out + r * NT);
}

// y[0, n) += alpha * x[0, n) for float-family rows (attention's weighted sum of values).
template <class T>
void axpy(float* y, float alpha, const T* x, std::size_t n) {
  using B = simd::batch<float>;
  constexpr std::size_t W = B::size;
  const B av(alpha);
  std::size_t i = 0;
  for (; i + W <= n; i += W) simd::fma(av, load_as_f32<B>(x + i), B::load_unaligned(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] += alpha * to_f32(x[i]);
}

// y[0, n) += a[0] x[0][0, n) + ... + a[R-1] x[R-1][0, n), in that order: the same roundings
// as R axpy calls, with y kept in registers in between.
template <class T, std::size_t R>
void axpy_rows(float* y, const float* a, const T* const* x, std::size_t n) {
  using B = simd::batch<float>;
  constexpr std::size_t W = B::size;
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    B acc = B::load_unaligned(y + i);
    for (std::size_t r = 0; r < R; ++r) acc = simd::fma(B(a[r]), load_as_f32<B>(x[r] + i), acc);
    acc.store_unaligned(y + i);
  }
  for (; i < n; ++i)
    for (std::size_t r = 0; r < R; ++r) y[i] += a[r] * to_f32(x[r][i]);
}

}  // namespace tessera::kernels::detail::quant::generic
