// Scalar references of kernels/activation.hpp: the textbook formula of each activation, in T
// (the tests use double), with the kernels' semantics spelled out: NaN in gives NaN out, a
// value inside clip's range comes back unchanged (relu(-0) = -0), gelu through erfc. The one
// oracle of ref/unary.hpp, of the fused epilogues of ref/gemm.hpp and of the conv tests.
#pragma once

#include <tessera/kernels/epilogue.hpp>

#include <cmath>

namespace tessera::kernels::ref::act {

// std::isless, not <: clang (em++ 3.1.6) folds `x < 0 ? 0 : x` into a max that turns -0 into +0.
template <class T> T relu(T x) { return std::isless(x, T(0)) ? T(0) : x; }  // NaN and -0 come back unchanged
template <class T> T leaky_relu(T x, T alpha) { return x > 0 ? x : alpha * x; }
template <class T> T clip(T x, T lo, T hi) { return std::isless(x, lo) ? lo : std::isgreater(x, hi) ? hi : x; }
template <class T> T sigmoid(T x) { return 1 / (1 + std::exp(-x)); }
template <class T> T silu(T x) { return x / (1 + std::exp(-x)); }
template <class T> T gelu(T x) { return x * T(0.5) * std::erfc(-x / std::sqrt(T(2))); }
// 0.5 x (1 + tanh(u)) as x / (1 + exp(-2u)): the same value without 1 + tanh's cancellation
// for negative u (which would round the tail to 0 even in double).
template <class T> T gelu_tanh(T x) {
  const T u = std::sqrt(2 / T(3.14159265358979323846)) * (x + T(0.044715) * x * x * x);
  return x / (1 + std::exp(-2 * u));
}
template <class T> T softplus(T x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
template <class T> T hardswish(T x) { return x * clip(x + 3, T(0), T(6)) / 6; }
template <class T> T elu(T x, T alpha) { return x > 0 ? x : alpha * std::expm1(x); }
template <class T> T selu(T x, T alpha, T gamma) { return gamma * elu(x, alpha); }
template <class T> T hard_sigmoid(T x, T alpha, T beta) { return clip(alpha * x + beta, T(0), T(1)); }

// The epilogue's activation (clip bounds from the epilogue).
template <class T>
T apply(activation a, T x, float clip_min, float clip_max) {
  switch (a) {
    case activation::none: return x;
    case activation::relu: return relu(x);
    case activation::silu: return silu(x);
    case activation::gelu: return gelu(x);
    case activation::clip: return clip(x, T(clip_min), T(clip_max));
  }
  return x;
}
template <class T>
T apply(const epilogue& ep, T x) { return apply(ep.act, x, ep.clip_min, ep.clip_max); }

}  // namespace tessera::kernels::ref::act
