// Element-wise unary kernels over views: out[i] = f(in[i]).
//
//   tessera::kernels::gelu(out, in);            // out.shape() must equal in.shape()
//   tessera::kernels::clip(x, x, -1.0f, 1.0f);  // in place: out may be exactly `in`
//   tessera::kernels::map(out, in, my_fn{});    // any functor callable on T and simd::batch<T>
//
// Each op is ONE functor body that serves both scalar T and simd::batch<T> (MLX style); the
// activations (relu, silu, gelu, clip, ...) are those of activation.hpp, the same functors
// the fused GEMM/conv epilogues apply. The kernels call them on batches only, so every path
// gives the same bits for the same element. Paths:
//   - both views contiguous: one SIMD loop over all elements (partial batch for the tail);
//   - otherwise the views are coalesced and walked row by row; a row whose elements are
//     adjacent in both views runs the SIMD loop, any other row is gathered into batches.
// Shapes must match exactly (no broadcasting: use binary.hpp for that). An output that
// overlaps its input other than element-for-element reads from a copy of the input.
//
// NaN: every op maps NaN to NaN (see activation.hpp for the activations' semantics).
// Transcendentals are xsimd's (a few ulp in f32); rsqrt and reciprocal are full-precision
// divisions, not the ~12-bit hardware estimates.
//
// cast(out, in) converts between f32 and f16, bf16, i8, i32 (and f64); see its comment.
#pragma once

#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/elementwise.hpp>
#include <tessera/simd/simd.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace tessera::kernels {

// ---- functors: V is T or simd::batch<T> ----------------------------------------------------
struct neg_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return -x; }
};
struct abs_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { using std::abs; using xsimd::abs; return abs(x); }
};
struct square_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return x * x; }
};
struct exp_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return simd::exp(x); }
};
struct log_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return simd::log_fn{}(x); }
};
struct sqrt_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return simd::sqrt_fn{}(x); }
};
struct rsqrt_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return V(1) / simd::sqrt_fn{}(x); }
};
struct reciprocal_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return V(1) / x; }
};
struct tanh_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return simd::tanh(x); }
};
struct erf_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return simd::erf(x); }
};
// Rounding to integral values: floor, ceil, and round half to even (ONNX Round, NumPy's rint).
struct floor_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { using std::floor; using xsimd::floor; return floor(x); }
};
struct ceil_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { using std::ceil; using xsimd::ceil; return ceil(x); }
};
struct round_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { using std::nearbyint; using xsimd::nearbyint; return nearbyint(x); }
};
// The activations (sigmoid, relu, leaky_relu, clip, silu, gelu, gelu_tanh, softplus,
// hardswish, elu, selu, hard_sigmoid) are in activation.hpp.

namespace detail {

// A strided row is gathered into batches too: f on scalars would be <cmath>'s math, which
// rounds differently from the batch path, and a result would depend on the view's layout.
template <class T, class F>
TESSERA_ALWAYS_INLINE void map_row(T* out, index_t os, const T* in, index_t is, index_t n, const F& f) {
  if (os == 1 && is == 1) {
    simd::transform(out, in, static_cast<std::size_t>(n), f);
    return;
  }
  using B = simd::batch<T>;
  constexpr index_t L = static_cast<index_t>(B::size);
  alignas(TESSERA_ALIGNMENT) T buf[B::size];
  index_t i = 0;
  for (; i + L <= n; i += L) {  // fixed trip counts: the copies unroll
    for (index_t j = 0; j < L; ++j) buf[j] = in[(i + j) * is];
    f(B::load_aligned(buf)).store_aligned(buf);
    for (index_t j = 0; j < L; ++j) out[(i + j) * os] = buf[j];
  }
  if (i < n) {
    for (index_t j = 0; j < L; ++j) buf[j] = i + j < n ? in[(i + j) * is] : T(0);
    f(B::load_aligned(buf)).store_aligned(buf);
    for (index_t j = 0; i + j < n; ++j) out[(i + j) * os] = buf[j];
  }
}

}  // namespace detail

// out = f(in) element-wise for any functor f callable on T and on simd::batch<T>.
template <class T, class F>
status map(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, F f, const char* op = "map") {
  static_assert(std::is_floating_point_v<T>, "unary kernels take float or double views (cast others first)");
  if (out.shape() != in.shape())
    return make_error(errc::shape_mismatch, detail::op_prefix(op) + "output " + out.shape().str() + " != input " + in.shape().str());
  TESSERA_TRY(detail::check_output(out, op));
  if (out.size() == 0) return {};
  Tensor<T> scratch;
  TESSERA_TRY(detail::unalias(out, in, scratch));
  if (out.is_contiguous() && in.is_contiguous()) {
    simd::transform(out.data(), in.data(), static_cast<std::size_t>(out.size()), f);
    return {};
  }
  const strides_t* st[2] = {&out.strides(), &in.strides()};
  const auto l = detail::coalesce<2>(out.shape(), st);
  const index_t n = l.inner(), os = l.inner_stride(0), is = l.inner_stride(1);
  T* o = out.data();
  const T* x = in.data();
  detail::for_each_row(l, [&](const index_t* off) { detail::map_row(o + off[0], os, x + off[1], is, n, f); });
  return {};
}

#define TESSERA_UNARY_OP_(name)                                                                  \
  template <class T>                                                                             \
  status name(TensorView<T> out, std::type_identity_t<TensorView<const T>> in) {                 \
    return map(out, in, name##_fn{}, #name);                                                     \
  }
TESSERA_UNARY_OP_(neg)
TESSERA_UNARY_OP_(abs)
TESSERA_UNARY_OP_(square)
TESSERA_UNARY_OP_(exp)
TESSERA_UNARY_OP_(log)
TESSERA_UNARY_OP_(sqrt)
TESSERA_UNARY_OP_(rsqrt)
TESSERA_UNARY_OP_(reciprocal)
TESSERA_UNARY_OP_(tanh)
TESSERA_UNARY_OP_(erf)
TESSERA_UNARY_OP_(sigmoid)
TESSERA_UNARY_OP_(relu)
TESSERA_UNARY_OP_(silu)
TESSERA_UNARY_OP_(gelu)
TESSERA_UNARY_OP_(gelu_tanh)
TESSERA_UNARY_OP_(softplus)
TESSERA_UNARY_OP_(hardswish)
TESSERA_UNARY_OP_(floor)
TESSERA_UNARY_OP_(ceil)
TESSERA_UNARY_OP_(round)
#undef TESSERA_UNARY_OP_

// max(x, 0) + alpha * min(x, 0) for alpha in any finite value.
template <class T>
status leaky_relu(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, std::type_identity_t<T> alpha) {
  if (!std::isfinite(alpha)) return make_error(errc::invalid_argument, "leaky_relu: alpha must be finite");
  return map(out, in, leaky_relu_fn<T>{alpha}, "leaky_relu");
}

// min(max(x, lo), hi); needs lo <= hi (infinite bounds are fine, NaN bounds are not).
template <class T>
status clip(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, std::type_identity_t<T> lo,
            std::type_identity_t<T> hi) {
  if (!(lo <= hi)) return make_error(errc::invalid_argument, "clip: need lo <= hi (and neither NaN)");
  return map(out, in, clip_fn<T>{lo, hi}, "clip");
}

// alpha (e^x - 1) for x <= 0, x otherwise; alpha finite.
template <class T>
status elu(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, std::type_identity_t<T> alpha) {
  if (!std::isfinite(alpha)) return make_error(errc::invalid_argument, "elu: alpha must be finite");
  return map(out, in, elu_fn<T>{alpha}, "elu");
}

// gamma * elu(x, alpha); both finite.
template <class T>
status selu(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, std::type_identity_t<T> alpha,
            std::type_identity_t<T> gamma) {
  if (!std::isfinite(alpha) || !std::isfinite(gamma)) return make_error(errc::invalid_argument, "selu: alpha and gamma must be finite");
  return map(out, in, selu_fn<T>{alpha, gamma}, "selu");
}

// max(0, min(1, alpha x + beta)); both finite.
template <class T>
status hard_sigmoid(TensorView<T> out, std::type_identity_t<TensorView<const T>> in, std::type_identity_t<T> alpha,
                    std::type_identity_t<T> beta) {
  if (!std::isfinite(alpha) || !std::isfinite(beta))
    return make_error(errc::invalid_argument, "hard_sigmoid: alpha and beta must be finite");
  return map(out, in, hard_sigmoid_fn<T>{alpha, beta}, "hard_sigmoid");
}

// ---- cast ----------------------------------------------------------------------------------
// Element conversion, one element at a time:
//   f32 -> f16, bf16 : round to nearest even; overflow gives +-inf; NaN stays NaN.
//   f32 -> i8, i32   : round to nearest, ties to even; saturate to the type's range
//                      (+-inf saturate too); NaN becomes 0.
//   f64 -> f32       : round to nearest even (IEEE).
//   f16, bf16, i8 -> f32, f32 -> f64 : exact.   i32 -> f32 : round to nearest even.
// Same-shape views only; out may alias in exactly when the element sizes match.
namespace detail {

template <class Int>
TESSERA_ALWAYS_INLINE Int saturate_round(float v) {
  if (v != v) return Int(0);
  const float r = std::nearbyint(v);  // default rounding mode: nearest, ties to even
  constexpr float hi_excl = static_cast<float>(std::numeric_limits<Int>::max()) + 1.0f;  // a power of two: exact
  constexpr float lo_incl = static_cast<float>(std::numeric_limits<Int>::min());
  if (r >= hi_excl) return std::numeric_limits<Int>::max();
  if (r < lo_incl) return std::numeric_limits<Int>::min();
  return static_cast<Int>(r);
}

template <class To, class From>
TESSERA_ALWAYS_INLINE To convert(const From& v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, float>) {
    if constexpr (std::is_same_v<From, double>) return static_cast<float>(v);
    else return to_float(v);
  } else if constexpr (std::is_same_v<From, float>) {
    if constexpr (std::is_same_v<To, f16> || std::is_same_v<To, bf16>) return To(v);
    else if constexpr (std::is_same_v<To, double>) return static_cast<double>(v);
    else return saturate_round<To>(v);
  } else {
    static_assert(sizeof(To) == 0, "cast: one side must be f32 (convert through f32)");
  }
}

template <class T>
inline constexpr bool castable_v = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, f16> ||
                                   std::is_same_v<T, bf16> || std::is_same_v<T, std::int8_t> ||
                                   std::is_same_v<T, std::int32_t>;

}  // namespace detail

template <class To, class From>
status cast(TensorView<To> out, TensorView<From> in_view) {
  using F = std::remove_const_t<From>;
  static_assert(detail::castable_v<To> && detail::castable_v<F>, "cast: unsupported element type");
  TensorView<const F> in = in_view;
  if (out.shape() != in.shape())
    return make_error(errc::shape_mismatch, "cast: output " + out.shape().str() + " != input " + in.shape().str());
  TESSERA_TRY(detail::check_output(out, "cast"));
  if (out.size() == 0) return {};
  Tensor<F> scratch;
  if (detail::may_overlap(out, in) && !detail::same_elements(out, in)) {
    TESSERA_ASSIGN_OR_RETURN(scratch, Tensor<F>::copy_of(in));
    in = scratch.view();
  }
  const strides_t* st[2] = {&out.strides(), &in.strides()};
  const auto l = detail::coalesce<2>(out.shape(), st);
  const index_t n = l.inner(), os = l.inner_stride(0), is = l.inner_stride(1);
  To* o = out.data();
  const F* x = in.data();
  detail::for_each_row(l, [&](const index_t* off) {
    To* orow = o + off[0];
    const F* xrow = x + off[1];
    if (os == 1 && is == 1) {
      for (index_t i = 0; i < n; ++i) orow[i] = detail::convert<To>(xrow[i]);  // vectorizer-friendly
    } else {
      for (index_t i = 0; i < n; ++i) orow[i * os] = detail::convert<To>(xrow[i * is]);
    }
  });
  return {};
}

}  // namespace tessera::kernels
