// The one definition of every activation. Each is one functor body serving T and
// simd::batch<T> (MLX style). The element-wise kernels (unary.hpp) and every fused epilogue
// (GEMM/GEMV tiles, conv2d, depthwise, conv_transpose2d) call these same functors, and always
// on batches (a tail is a partial batch, never a scalar loop: <cmath> and xsimd's vector math
// round differently), so fusing an activation into a kernel never changes a bit of its result.
//
// Semantics (NumPy/PyTorch; ELU, SELU and HardSigmoid as ONNX defines them):
//  - NaN in, NaN out, for every activation: relu, clip, leaky_relu and hardswish included
//    (a hardware max/min with the operands the other way round would return the bound);
//  - a value inside clip's range comes back unchanged, signed zeros too: relu(-0) = -0 and
//    clip(-0, 0, 6) = -0 (NumPy's maximum/minimum; the bounds only replace values beyond them);
//  - infinities follow the formula: relu, clip, sigmoid, softplus and gelu(+inf) reach their
//    limits; silu, gelu, gelu_tanh and hardswish at -inf evaluate -inf * 0 = NaN (as PyTorch);
//  - gelu is the exact x Phi(x), through erfc (no cancellation of 1 + erf in the negative
//    tail); silu, gelu_tanh and softplus are written so that large |x| saturates to x or -0
//    (or 0) without overflow.
// The scalar reference of each is in kernels/ref/activation.hpp.
//
//   kernels::with_activation(ep, [&](const auto& act) { ... act(batch) ... });
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/lanes.hpp>
#include <tessera/simd/simd.hpp>

#include <cmath>

namespace tessera::kernels {

// ---- functors: V is T or simd::batch<T> ----------------------------------------------------
// activation::none.
struct identity_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return x; }
};
struct relu_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return simd::bound_max(x, V(0)); }
};
template <class T>
struct leaky_relu_fn {
  T alpha;
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return lanes::select(x > V(0), x, x * V(alpha)); }
};
// min(max(x, lo), hi); needs lo <= hi (ReLU6 = clip 0..6).
template <class T>
struct clip_fn {
  T lo, hi;
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return simd::bound_min(simd::bound_max(x, V(lo)), V(hi)); }
};
using sigmoid_fn = simd::sigmoid_fn;
// x * sigmoid(x), as the product ONNX exports spell out (Mul(x, Sigmoid(x))), so the importer's
// SiLU fusion keeps the unfused graph's bits. It saturates: for large -x sigmoid's exp overflows
// to inf, sigmoid gives 0 and a finite x times 0 is -0; for large x sigmoid rounds to 1.
struct silu_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return x * sigmoid_fn{}(x); }
};
// Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), evaluated as 0.5 x erfc(-x / sqrt 2):
// the same value without the cancellation of 1 + erf(.) in the negative tail. The abs: xsimd's
// erfc returns -0 for huge arguments, which would make gelu(-huge) +0 instead of -0.
struct gelu_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const {
    using std::abs; using xsimd::abs; using std::erfc; using xsimd::erfc;
    return V(0.5) * x * abs(erfc(x * V(-0.70710678118654752440)));
  }
};
// The tanh approximation (GPT-2, "gelu_pytorch_tanh"): 0.5 x (1 + tanh(u)) with
// u = sqrt(2/pi) (x + 0.044715 x^3), evaluated through the identity 0.5 (1 + tanh(u)) =
// 1 / (1 + exp(-2u)): one exp and a division instead of xsimd's slower tanh (3x faster),
// and it saturates to x or -0 for large |x|.
struct gelu_tanh_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const {
    const V minus_two_u = V(-1.5957691216057307118) * (x + V(0.044715) * x * x * x);
    return x / (V(1) + simd::exp(minus_two_u));
  }
};
// log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): no overflow for large x.
struct softplus_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const {
    using std::abs; using xsimd::abs; using std::log1p; using xsimd::log1p;
    return simd::bound_max(x, V(0)) + log1p(simd::exp(-abs(x)));
  }
};
// x * relu6(x + 3) / 6 (MobileNetV3). The factor relu6(x + 3) / 6 in [0, 1] is formed first,
// so huge |x| cannot overflow, and x >= 3 gives x exactly (6 * (1/6) rounds to 1).
struct hardswish_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const {
    return x * (simd::bound_min(simd::bound_max(x + V(3), V(0)), V(6)) * V(1.0 / 6.0));
  }
};

// x for x > 0, alpha (e^x - 1) otherwise (ELU; SELU scales both sides by gamma). expm1 keeps
// the small negative tail accurate; its overflow for large x is never selected.
template <class T>
struct elu_fn {
  T alpha;
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const {
    using std::expm1; using xsimd::expm1;
    return lanes::select(x > V(0), x, V(alpha) * expm1(x));
  }
};
template <class T>
struct selu_fn {
  T alpha, gamma;
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const { return V(gamma) * elu_fn<T>{alpha}(x); }
};
// max(0, min(1, alpha x + beta)); NaN stays NaN (the bounds are never NaN).
template <class T>
struct hard_sigmoid_fn {
  T alpha, beta;
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x) const {
    return simd::bound_min(simd::bound_max(V(alpha) * x + V(beta), V(0)), V(1));
  }
};

// ---- the epilogue's activation as a functor --------------------------------------------
// Calls f(fn) with the functor of `act` as a compile-time type, so a kernel branches on the
// activation once per call, not per element. Clip bounds are used by activation::clip only.
template <class F>
TESSERA_ALWAYS_INLINE void with_activation(activation act, float clip_min, float clip_max, F&& f) {
  switch (act) {
    case activation::relu: f(relu_fn{}); return;
    case activation::silu: f(silu_fn{}); return;
    case activation::gelu: f(gelu_fn{}); return;
    case activation::clip: f(clip_fn<float>{clip_min, clip_max}); return;
    case activation::none: break;
  }
  f(identity_fn{});
}
template <class F>
TESSERA_ALWAYS_INLINE void with_activation(const epilogue& ep, F&& f) {
  with_activation(ep.act, ep.clip_min, ep.clip_max, static_cast<F&&>(f));
}

}  // namespace tessera::kernels
