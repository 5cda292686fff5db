// tessera::simd: a thin layer over xsimd. One code path compiles to AVX-512, AVX2+FMA,
// SSE4.2, NEON and (through Emscripten's SSE headers, -msimd128 -msse4.2) WASM SIMD128.
//
// The architecture is chosen at compile time (xsimd::default_arch, the best one the
// compiler flags enable). Kernels are templated on the batch type, so a scalar fallback and
// tests over several widths use the same body.
#pragma once

#include <tessera/config.hpp>

#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace tessera::simd {

using arch = xsimd::default_arch;

template <class T, class Arch = arch>
using batch = xsimd::batch<T, Arch>;

using f32 = batch<float>;
using f64 = batch<double>;
using i32 = batch<std::int32_t>;

// Lanes of T in one register of the default architecture.
template <class T>
inline constexpr std::size_t lanes = batch<T>::size;

inline const char* arch_name() { return arch::name(); }

// ---- loads and stores ---------------------------------------------------------------
template <class B, class T>
TESSERA_ALWAYS_INLINE B load_unaligned(const T* p) { return B::load_unaligned(p); }
template <class B, class T>
TESSERA_ALWAYS_INLINE B load_aligned(const T* p) { return B::load_aligned(p); }
template <class B, class T>
TESSERA_ALWAYS_INLINE void store_unaligned(T* p, const B& v) { v.store_unaligned(p); }
template <class B, class T>
TESSERA_ALWAYS_INLINE void store_aligned(T* p, const B& v) { v.store_aligned(p); }

// Loads n < B::size elements and fills the rest with `fill` (a tail of a loop). Goes through
// a stack buffer: never reads past p + n.
template <class B, class T>
TESSERA_ALWAYS_INLINE B load_partial(const T* p, std::size_t n, T fill = T(0)) {
  alignas(64) T buf[B::size];
  for (std::size_t i = 0; i < B::size; ++i) buf[i] = i < n ? p[i] : fill;
  return B::load_aligned(buf);
}

// Stores the first n < B::size lanes; never writes past p + n.
template <class B, class T>
TESSERA_ALWAYS_INLINE void store_partial(T* p, const B& v, std::size_t n) {
  alignas(64) T buf[B::size];
  v.store_aligned(buf);
  for (std::size_t i = 0; i < n; ++i) p[i] = buf[i];
}

// ---- arithmetic -----------------------------------------------------------------------
// a * b + c, fused where the architecture has FMA.
template <class B>
TESSERA_ALWAYS_INLINE B fma(const B& a, const B& b, const B& c) { return xsimd::fma(a, b, c); }

// Horizontal reductions (xsimd 8.1 has hadd only; max/min go through memory, which costs a
// few cycles once per loop and keeps one portable body).
template <class B>
TESSERA_ALWAYS_INLINE typename B::value_type reduce_add(const B& v) { return xsimd::hadd(v); }
template <class B>
TESSERA_ALWAYS_INLINE typename B::value_type reduce_max(const B& v) {
  alignas(64) typename B::value_type buf[B::size];
  v.store_aligned(buf);
  auto m = buf[0];
  for (std::size_t i = 1; i < B::size; ++i) m = buf[i] > m ? buf[i] : m;
  return m;
}
template <class B>
TESSERA_ALWAYS_INLINE typename B::value_type reduce_min(const B& v) {
  alignas(64) typename B::value_type buf[B::size];
  v.store_aligned(buf);
  auto m = buf[0];
  for (std::size_t i = 1; i < B::size; ++i) m = buf[i] < m ? buf[i] : m;
  return m;
}

// ---- math: the same functor serves scalars and batches (MLX style) ---------------------
// For scalars these are the <cmath> functions; for batches, xsimd's vector versions.
struct exp_fn {
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const { using std::exp; using xsimd::exp; return exp(x); }
};
struct tanh_fn {
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const { using std::tanh; using xsimd::tanh; return tanh(x); }
};
struct erf_fn {
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const { using std::erf; using xsimd::erf; return erf(x); }
};
struct log_fn {
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const { using std::log; using xsimd::log; return log(x); }
};
struct sqrt_fn {
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const { using std::sqrt; using xsimd::sqrt; return sqrt(x); }
};
// 1 / (1 + exp(-x)): saturates cleanly at both ends (exp overflow gives inf -> 0).
struct sigmoid_fn {
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const {
    using std::exp; using xsimd::exp;
    return T(1) / (T(1) + exp(-x));
  }
};

template <class T> TESSERA_ALWAYS_INLINE T exp(const T& x) { return exp_fn{}(x); }
template <class T> TESSERA_ALWAYS_INLINE T tanh(const T& x) { return tanh_fn{}(x); }
template <class T> TESSERA_ALWAYS_INLINE T erf(const T& x) { return erf_fn{}(x); }
template <class T> TESSERA_ALWAYS_INLINE T sigmoid(const T& x) { return sigmoid_fn{}(x); }

// Applies f to n elements: full batches, then one partial batch. `f` takes and returns
// either a batch or a scalar of T (see the functors above).
template <class T, class F>
inline void transform(T* out, const T* in, std::size_t n, F f) {
  using B = batch<T>;
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) store_unaligned(out + i, f(load_unaligned<B>(in + i)));
  if (i < n) store_partial(out + i, f(load_partial<B>(in + i, n - i)), n - i);
}

}  // namespace tessera::simd
