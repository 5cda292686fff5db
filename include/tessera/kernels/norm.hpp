// Normalizations over the last axis of x (shape [..., N]), gamma and beta of shape [N]:
//
//   kernels::layer_norm(out, x, gamma, beta, eps);  // (x - mean) / sqrt(var + eps) * gamma + beta
//   kernels::rms_norm(out, x, gamma, eps);          // x / sqrt(mean(x^2) + eps) * gamma  (llama)
//
// out.shape() == x.shape(); in place allowed; eps must be finite and >= 0. var is the biased
// (population) variance, as in PyTorch's LayerNorm.
//
// Statistics are computed the stable way, in two passes: the mean, then the mean of squared
// deviations from it (never E[x^2] - E[x]^2, which cancels catastrophically for rows with a
// large offset). Each pass is a SIMD sum with block partials in T combined in double (see
// reduce.hpp). Deviations are measured from the row's first element and the mean deviation
// is kept as two T terms, so rows like 1e4 + small noise keep their relative accuracy in f32
// and f64. 1/sqrt(var + eps) is taken in double. Rows that are not packed in memory (strided
// views) go through a scratch row; non-contiguous gamma/beta are packed once.
//
// A constant row with eps == 0 divides 0 by 0 and gives NaN, as the formula says.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/elementwise.hpp>
#include <tessera/kernels/reduce.hpp>
#include <tessera/simd/simd.hpp>

#include <cmath>
#include <string>
#include <type_traits>

namespace tessera::kernels {

namespace detail {

template <class T>
status check_norm_param(const TensorView<const T>& p, index_t n, const char* op, const char* what) {
  if (p.rank() != 1 || p.dim(0) != n)
    return make_error(errc::shape_mismatch, op_prefix(op) + what + " " + p.shape().str() + " must be [" + std::to_string(n) +
                                                "] (the last extent of the input)");
  return {};
}

// A packed view of a parameter vector: itself when contiguous, otherwise a copy in `store`.
template <class T>
status pack_param(TensorView<const T>& p, Tensor<T>& store) {
  if (p.is_contiguous()) return {};
  TESSERA_ASSIGN_OR_RETURN(store, Tensor<T>::copy_of(p));
  p = store.view();
  return {};
}

template <class T>
status check_norm(const TensorView<T>& out, const TensorView<const T>& in, double eps, const char* op) {
  if (out.shape() != in.shape())
    return make_error(errc::shape_mismatch, op_prefix(op) + "output " + out.shape().str() + " != input " + in.shape().str());
  if (in.rank() == 0) return make_error(errc::invalid_argument, op_prefix(op) + "needs a tensor of rank >= 1");
  if (!(eps >= 0) || !std::isfinite(eps))
    return make_error(errc::invalid_argument, op_prefix(op) + "eps must be finite and >= 0");
  return check_output(out, op);
}

template <class T>
void layer_norm_row(T* out, const T* x, index_t n, const T* gamma, const T* beta, double eps) {
  using B = simd::batch<T>;
  // Deviations are taken from the row's first element (shift), whose subtraction is exact for
  // values near it; the mean deviation dm is small, so T(dm) plus its residual carry the mean
  // to well below one ulp of the data even when the row has a large common offset.
  const T shift = x[0];
  const B sv(shift);
  const double dm = sum_contig(x, n, [&](const B& v) { return v - sv; }) / static_cast<double>(n);
  const T hi = static_cast<T>(dm), lo = static_cast<T>(dm - static_cast<double>(hi));
  const B hv(hi), lv(lo);
  const auto centered = [&](const B& v) { return ((v - sv) - hv) - lv; };
  const double var = sum_contig(x, n, [&](const B& v) { const B d = centered(v); return d * d; }) / static_cast<double>(n);
  const B rstd(static_cast<T>(1.0 / std::sqrt(var + eps)));
  constexpr index_t W = static_cast<index_t>(B::size);
  index_t i = 0;
  for (; i + W <= n; i += W) {
    const B d = centered(simd::load_unaligned<B>(x + i));
    simd::store_unaligned(out + i, simd::fma(d * rstd, simd::load_unaligned<B>(gamma + i), simd::load_unaligned<B>(beta + i)));
  }
  if (i < n) {
    const std::size_t rest = static_cast<std::size_t>(n - i);
    const B d = centered(simd::load_partial<B>(x + i, rest));
    simd::store_partial(out + i, simd::fma(d * rstd, simd::load_partial<B>(gamma + i, rest), simd::load_partial<B>(beta + i, rest)),
                        rest);
  }
}

template <class T>
void rms_norm_row(T* out, const T* x, index_t n, const T* gamma, double eps) {
  using B = simd::batch<T>;
  const double ms = sum_contig(x, n, [](const B& v) { return v * v; }) / static_cast<double>(n);
  const B scale(static_cast<T>(1.0 / std::sqrt(ms + eps)));
  constexpr index_t W = static_cast<index_t>(B::size);
  index_t i = 0;
  for (; i + W <= n; i += W)
    simd::store_unaligned(out + i, simd::load_unaligned<B>(x + i) * scale * simd::load_unaligned<B>(gamma + i));
  if (i < n) {
    const std::size_t rest = static_cast<std::size_t>(n - i);
    simd::store_partial(out + i, simd::load_partial<B>(x + i, rest) * scale * simd::load_partial<B>(gamma + i, rest), rest);
  }
}

}  // namespace detail

template <class T>
status layer_norm(TensorView<T> out, std::type_identity_t<TensorView<const T>> in,
                  std::type_identity_t<TensorView<const T>> gamma, std::type_identity_t<TensorView<const T>> beta,
                  double eps = 1e-5) {
  static_assert(std::is_floating_point_v<T>, "layer_norm takes float or double views");
  TESSERA_TRY(detail::check_norm(out, in, eps, "layer_norm"));
  const index_t n = in.dim(-1);
  TESSERA_TRY(detail::check_norm_param(gamma, n, "layer_norm", "gamma"));
  TESSERA_TRY(detail::check_norm_param(beta, n, "layer_norm", "beta"));
  if (out.size() == 0) return {};
  Tensor<T> g_store, b_store;
  TESSERA_TRY(detail::pack_param(gamma, g_store));
  TESSERA_TRY(detail::pack_param(beta, b_store));
  // gamma/beta overlapping `out` would change under our writes: read them from copies.
  if (detail::may_overlap(out, gamma) && g_store.size() == 0) {
    TESSERA_ASSIGN_OR_RETURN(g_store, Tensor<T>::copy_of(gamma));
    gamma = g_store.view();
  }
  if (detail::may_overlap(out, beta) && b_store.size() == 0) {
    TESSERA_ASSIGN_OR_RETURN(b_store, Tensor<T>::copy_of(beta));
    beta = b_store.view();
  }
  const T* g = gamma.data();
  const T* b = beta.data();
  return detail::for_each_packed_row(out, in, in.rank() - 1,
                                     [&](T* o, const T* x, index_t len) { detail::layer_norm_row(o, x, len, g, b, eps); });
}

template <class T>
status rms_norm(TensorView<T> out, std::type_identity_t<TensorView<const T>> in,
                std::type_identity_t<TensorView<const T>> gamma, double eps = 1e-6) {
  static_assert(std::is_floating_point_v<T>, "rms_norm takes float or double views");
  TESSERA_TRY(detail::check_norm(out, in, eps, "rms_norm"));
  const index_t n = in.dim(-1);
  TESSERA_TRY(detail::check_norm_param(gamma, n, "rms_norm", "gamma"));
  if (out.size() == 0) return {};
  Tensor<T> g_store;
  TESSERA_TRY(detail::pack_param(gamma, g_store));
  if (detail::may_overlap(out, gamma) && g_store.size() == 0) {
    TESSERA_ASSIGN_OR_RETURN(g_store, Tensor<T>::copy_of(gamma));
    gamma = g_store.view();
  }
  const T* g = gamma.data();
  return detail::for_each_packed_row(out, in, in.rank() - 1,
                                     [&](T* o, const T* x, index_t len) { detail::rms_norm_row(o, x, len, g, eps); });
}

}  // namespace tessera::kernels
