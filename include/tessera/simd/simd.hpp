// tessera::simd: a thin layer over xsimd. One code path compiles to AVX-512, AVX2+FMA,
// SSE4.2, NEON and (through Emscripten's SSE headers, -msimd128 -msse4.2) WASM SIMD128.
//
// The architecture is chosen at compile time (xsimd::default_arch, the best one the
// compiler flags enable). Kernels are templated on the batch type, so a scalar fallback and
// tests over several widths use the same body.
#pragma once

#include <tessera/config.hpp>

// Without optimization GCC defines the AVX-512 blends as macros whose C casts reject the
// batch classes xsimd 8.1 passes them (its avx512bw select names the 8- and 16-bit blends for
// every integer width, so log, pow, ... on int32/int64 lanes fail at -O0). The inline
// functions GCC declares only when optimizing; declared here otherwise, so the batches convert.
#if defined(__AVX512BW__) && !defined(__OPTIMIZE__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#undef _mm512_mask_blend_epi8
#undef _mm512_mask_blend_epi16
inline __m512i _mm512_mask_blend_epi8(__mmask64 u, __m512i a, __m512i w) {
  return (__m512i)__builtin_ia32_blendmb_512_mask((__v64qi)a, (__v64qi)w, u);
}
inline __m512i _mm512_mask_blend_epi16(__mmask32 u, __m512i a, __m512i w) {
  return (__m512i)__builtin_ia32_blendmw_512_mask((__v32hi)a, (__v32hi)w, u);
}
#endif

#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

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

// ---- masks ------------------------------------------------------------------------------
// Lane-wise d ? a : b between masks. Where masks live in the value registers (SSE, AVX,
// SIMD128 through Emscripten's SSE headers) one blend does it; elsewhere (AVX-512 k registers,
// NEON's uint32x4_t masks beside float32x4_t values) plain mask logic. A template on the arch,
// so only the branch that fits is ever instantiated.
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch_bool<T, A> select_mask(const xsimd::batch_bool<T, A>& d,
                                                          const xsimd::batch_bool<T, A>& a,
                                                          const xsimd::batch_bool<T, A>& b) {
  using M = xsimd::batch_bool<T, A>;
  using V = xsimd::batch<T, A>;
  using R = typename V::register_type;
  // (Not std::is_same on the register types: GCC drops their vector attributes as template
  // arguments, with a warning.)
  if constexpr (requires(const M& m) { static_cast<R>(m); }) {
    return M(static_cast<R>(xsimd::select(d, V(static_cast<R>(a)), V(static_cast<R>(b)))));
  } else {
    return (d & a) | (~d & b);
  }
}

// ---- bounds ------------------------------------------------------------------------------
// max(x, b) / min(x, b) for a bound b that is never NaN (a constant, a validated clip bound):
// x unless b lies strictly beyond it, so a NaN x stays NaN and a tie returns x
// (bound_max(-0, +0) = -0, as NumPy's maximum). That is exactly x86's maxps(b, x) /
// minps(b, x), which return the second operand on NaN and on ties: one instruction (also
// under Emscripten, whose SSE shim keeps those semantics); elsewhere a compare and a blend.
template <class A>
inline constexpr bool x86_minmax_v = std::is_base_of_v<xsimd::sse2, A> || std::is_base_of_v<xsimd::avx, A> ||
                                     std::is_base_of_v<xsimd::avx512f, A>;

// Scalars through std::isless/isgreater: clang folds `x < 0 ? 0 : x` into a max that loses -0.
template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
TESSERA_ALWAYS_INLINE T bound_max(const T& x, const T& b) { return std::isless(x, b) ? b : x; }
template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
TESSERA_ALWAYS_INLINE T bound_min(const T& x, const T& b) { return std::isgreater(x, b) ? b : x; }
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch<T, A> bound_max(const xsimd::batch<T, A>& x, const xsimd::batch<T, A>& b) {
  if constexpr (std::is_floating_point_v<T> && x86_minmax_v<A>) return xsimd::max(b, x);
  else return xsimd::select(x < b, b, x);
}
template <class T, class A>
TESSERA_ALWAYS_INLINE xsimd::batch<T, A> bound_min(const xsimd::batch<T, A>& x, const xsimd::batch<T, A>& b) {
  if constexpr (std::is_floating_point_v<T> && x86_minmax_v<A>) return xsimd::min(b, x);
  else return xsimd::select(x > b, b, x);
}

// ---- arithmetic -----------------------------------------------------------------------
// a * b + c, fused where the architecture has FMA.
template <class B>
TESSERA_ALWAYS_INLINE B fma(const B& a, const B& b, const B& c) { return xsimd::fma(a, b, c); }

// Horizontal reductions (xsimd 8.1 has hadd only; max/min go through memory, which costs a
// few cycles once per loop and keeps one portable body). max/min propagate NaN, as NumPy.
template <class B>
TESSERA_ALWAYS_INLINE typename B::value_type reduce_add(const B& v) { return xsimd::hadd(v); }
template <class B>
TESSERA_ALWAYS_INLINE typename B::value_type reduce_max(const B& v) {
  alignas(64) typename B::value_type buf[B::size];
  v.store_aligned(buf);
  auto m = buf[0];
  for (std::size_t i = 1; i < B::size; ++i) m = (m != m || buf[i] <= m) ? m : buf[i];  // NaN wins
  return m;
}
template <class B>
TESSERA_ALWAYS_INLINE typename B::value_type reduce_min(const B& v) {
  alignas(64) typename B::value_type buf[B::size];
  v.store_aligned(buf);
  auto m = buf[0];
  for (std::size_t i = 1; i < B::size; ++i) m = (m != m || buf[i] >= m) ? m : buf[i];  // NaN wins
  return m;
}

// ---- math: the same functor serves scalars and batches (MLX style) ---------------------
// For scalars these are the <cmath> functions; for batches, xsimd's vector versions.

// exp of a float batch without float->int conversions: 2^n is built by integer adds and a
// shift on the bits of a rounded value. Under Emscripten, xsimd's exp goes through
// _mm_cvtps_epi32, which the SSE shim of Emscripten 3.1.6 emulates one lane at a time; this
// version runs about 10x faster there. Range reduction is Cody-Waite (ln 2 split in two),
// the polynomial is a degree-6 fit of e^r on [-ln2/2, ln2/2] (Cephes' expf coefficients);
// max error ~1-2 ulp over the normal range. Subnormal results come from scaling in two
// steps; x > 88.72 gives inf, x < -103.97 gives 0, NaN stays NaN.
template <class A>
TESSERA_ALWAYS_INLINE xsimd::batch<float, A> exp_f32_poly(const xsimd::batch<float, A>& x_in) {
  using B = xsimd::batch<float, A>;
  using I = xsimd::batch<std::int32_t, A>;
  const B x = xsimd::min(xsimd::max(x_in, B(-104.0f)), B(89.0f));  // NaN handled at the end
  // n = round(x / ln2) by the 1.5 * 2^23 trick: the sum's low mantissa bits hold n.
  const B magic(12582912.0f);
  const B t = xsimd::fma(x, B(1.44269504088896341f), magic);
  const B n = t - magic;
  const I ni = xsimd::bitwise_cast<I>(t) - xsimd::bitwise_cast<I>(magic);
  B r = xsimd::fnma(n, B(0.693359375f), x);  // x - n * ln2_hi (exact product)
  r = xsimd::fnma(n, B(-2.12194440e-4f), r);  // - n * ln2_lo
  B p(1.9875691500e-4f);
  p = xsimd::fma(p, r, B(1.3981999507e-3f));
  p = xsimd::fma(p, r, B(8.3334519073e-3f));
  p = xsimd::fma(p, r, B(4.1665795894e-2f));
  p = xsimd::fma(p, r, B(1.6666665459e-1f));
  p = xsimd::fma(p, r, B(5.0000001201e-1f));
  p = xsimd::fma(p * r, r, r) + B(1.0f);
  // 2^n as two factors 2^(n/2) * 2^(n - n/2), each a normal float for n in [-150, 128].
  const I n1 = ni >> 1;
  const I n2 = ni - n1;
  const B s1 = xsimd::bitwise_cast<B>((n1 + I(127)) << 23);
  const B s2 = xsimd::bitwise_cast<B>((n2 + I(127)) << 23);
  B result = p * s1 * s2;
  result = xsimd::select(x_in > B(88.72283935546875f), B(std::numeric_limits<float>::infinity()), result);
  result = xsimd::select(x_in < B(-103.972084045410f), B(0.0f), result);
  return xsimd::select(xsimd::isnan(x_in), x_in, result);
}

template <class T> struct is_f32_batch : std::false_type {};
template <class A> struct is_f32_batch<xsimd::batch<float, A>> : std::true_type {};

struct exp_fn {
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const {
#if TESSERA_WASM
    if constexpr (is_f32_batch<T>::value) return exp_f32_poly(x);
    else
#endif
    { using std::exp; using xsimd::exp; return exp(x); }
  }
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
  template <class T> TESSERA_ALWAYS_INLINE T operator()(const T& x) const { return T(1) / (T(1) + exp_fn{}(-x)); }
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
