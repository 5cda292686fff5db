// Element-wise layers over type-erased views: unary maps, binary ops with NumPy broadcasting,
// Where, Cast and PRelu.
//
// float32 and float64 go through the SIMD kernels (kernels/unary.hpp, binary.hpp) with the
// functors of kernels/activation.hpp, so a fused activation gives the unfused bits. The
// integer and bool tensors of a graph (shape arithmetic, masks, the odd uint8 image) take a
// scalar path here: integer arithmetic wraps (two's complement), division truncates toward
// zero and a division by zero gives 0 rather than trapping.
//
// Views may have any strides (channels-last activations, broadcast operands): every operand
// is broadcast to the output's shape, then all are visited in the output's memory order, so
// a channels-last output is written sequentially and the kernels see contiguous rows.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/binary.hpp>
#include <tessera/kernels/elementwise.hpp>
#include <tessera/kernels/unary.hpp>
#include <tessera/nn/tensor.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

namespace tessera::nn {

enum class unary_op : std::uint8_t {
  identity, relu, leaky_relu, sigmoid, tanh, hard_sigmoid, hard_swish, gelu, gelu_tanh, elu, selu, celu, softplus,
  softsign, erf, exp, log, sqrt, abs, neg, reciprocal, floor, ceil, round, sign, logical_not, clip,
};

// alpha/beta/gamma by op: leaky_relu alpha; elu/celu alpha; selu alpha, gamma; hard_sigmoid
// alpha, beta; clip lo = alpha, hi = beta.
struct unary_params {
  unary_op op = unary_op::identity;
  float alpha = 0, beta = 0, gamma = 0;
};

enum class binary_op : std::uint8_t {
  add, sub, mul, div, pow, max, min, mod, fmod, prelu,
  equal, less, greater, less_equal, greater_equal, logical_and, logical_or, logical_xor,
};

inline bool is_comparison(binary_op op) noexcept { return op >= binary_op::equal; }

namespace detail {

// Views permuted so the output is walked in memory order (all views share out's shape).
template <int N>
void to_memory_order(any_view (&v)[N]) {
  int perm[TESSERA_MAX_RANK];
  memory_order(v[0], perm);
  for (int k = 0; k < N; ++k) v[k] = v[k].permuted(perm);
}

inline expected<any_view> broadcast_view(const any_view& v, const shape_t& target, const char* op) {
  if (v.rank() > target.rank())
    return make_error(errc::shape_mismatch, std::string(op) + ": cannot broadcast " + v.shape.str() + " to " + target.str());
  any_view b = v;
  b.shape = target;
  b.strides = dims::filled(target.rank(), 0);
  const int off = target.rank() - v.rank();
  for (int i = 0; i < v.rank(); ++i) {
    if (v.shape[i] == target[i + off]) b.strides[i + off] = v.strides[i];
    else if (v.shape[i] != 1)
      return make_error(errc::shape_mismatch, std::string(op) + ": cannot broadcast " + v.shape.str() + " to " + target.str());
  }
  return b;
}

// fn(o_ptr, a_ptr, ...) per element over N views of one shape (typed pointers chosen by the caller).
template <int N, class Row>
void for_each_element_row(any_view (&v)[N], Row&& row) {
  to_memory_order(v);
  const strides_t* st[N];
  for (int k = 0; k < N; ++k) st[k] = &v[k].strides;
  const auto l = kernels::detail::coalesce<N>(v[0].shape, st);
  index_t s[N];
  for (int k = 0; k < N; ++k) s[k] = l.inner_stride(k);
  kernels::detail::for_each_row(l, [&](const index_t* off) { row(off, s, l.inner()); });
}

template <class T>
inline T from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, f16> || std::is_same_v<T, bf16>) {
    return T(static_cast<float>(v));
  } else {
    // Saturating, NaN to 0: a float outside the integer's range must not be undefined behaviour.
    if (v != v) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// Element conversion with ONNX Cast semantics: float to integer truncates toward zero
// (saturating, NaN to 0); integer to integer keeps the low bits; to bool is "!= 0".
template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return to_double(v) != 0;
  } else if constexpr (std::is_same_v<To, f16> || std::is_same_v<To, bf16>) {
    if constexpr (std::is_same_v<From, f16> || std::is_same_v<From, bf16>) return To(static_cast<float>(v));
    else if constexpr (std::is_same_v<From, double>) return To(static_cast<float>(v));
    else return To(static_cast<float>(v));
  } else if constexpr (std::is_same_v<From, f16> || std::is_same_v<From, bf16>) {
    return convert<To>(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_floating_point_v<From>) {
    return from_double<To>(std::trunc(static_cast<double>(v)));
  } else {
    return static_cast<To>(v);  // integer to integer (or bool): modular, well defined since C++20
  }
}

// Integer arithmetic in the unsigned type: wraps instead of overflowing (no UB).
template <class T, class F>
inline T wrapping(T a, T b, F f) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(f(static_cast<U>(a), static_cast<U>(b)));
}

template <class T>
inline T int_binary(binary_op op, T a, T b) {
  switch (op) {
    case binary_op::add: return wrapping(a, b, [](auto x, auto y) { return x + y; });
    case binary_op::sub: return wrapping(a, b, [](auto x, auto y) { return x - y; });
    case binary_op::mul: return wrapping(a, b, [](auto x, auto y) { return x * y; });
    case binary_op::div:
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return wrapping(T(0), a, [](auto x, auto y) { return x - y; });  // MIN / -1 wraps
      return static_cast<T>(a / b);
    case binary_op::mod:  // the sign of the divisor (Python's %)
    case binary_op::fmod: {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return T(0);
        T r = static_cast<T>(a % b);
        if (op == binary_op::mod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
        return r;
      } else {
        return static_cast<T>(a % b);
      }
    }
    case binary_op::max: return a > b ? a : b;
    case binary_op::min: return a < b ? a : b;
    case binary_op::pow: {
      if constexpr (std::is_signed_v<T>)
        if (b < 0) return a == 1 ? T(1) : a == T(-1) ? ((b % 2) ? T(-1) : T(1)) : T(0);
      T r = 1, base = a;
      for (auto e = b; e > 0; e /= 2) {  // square and multiply, wrapping
        if (e % 2) r = wrapping(r, base, [](auto x, auto y) { return x * y; });
        base = wrapping(base, base, [](auto x, auto y) { return x * y; });
      }
      return r;
    }
    case binary_op::prelu: return a > 0 ? a : wrapping(a, b, [](auto x, auto y) { return x * y; });
    default: return T(0);
  }
}

template <class T>
inline bool compare(binary_op op, T x, T y) {
  using C = std::conditional_t<std::is_same_v<T, f16> || std::is_same_v<T, bf16>, float, T>;
  const C a = static_cast<C>(x), b = static_cast<C>(y);
  switch (op) {
    case binary_op::equal: return a == b;
    case binary_op::less: return a < b;
    case binary_op::greater: return a > b;
    case binary_op::less_equal: return a <= b;
    case binary_op::greater_equal: return a >= b;
    case binary_op::logical_and: return a && b;
    case binary_op::logical_or: return a || b;
    case binary_op::logical_xor: return bool(a) != bool(b);
    default: return false;
  }
}

// x for x > 0, slope * x otherwise (PRelu with a per-element slope).
struct prelu_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& x, const V& slope) const {
    return kernels::lanes::select(x > V(0), x, x * slope);
  }
};
// fmod: the sign of the dividend (C's fmod); mod with floats: the sign of the divisor.
struct fmod_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { using std::fmod; using xsimd::fmod; return fmod(a, b); }
};
struct mod_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const {
    using std::fmod; using xsimd::fmod;
    const V r = fmod(a, b);
    return kernels::lanes::select((r != V(0)) & ((r < V(0)) != (b < V(0))), r + b, r);
  }
};

// A binary functor followed by an activation (relu/clip only: exact on scalars and batches).
template <class F, class A>
struct then_fn {
  F f;
  A act;
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return act(f(a, b)); }
};

// Fused: the activation in the same pass (what the Add+activation fusion of residual blocks
// produces). Every other op applies it as a second pass over the output, with the same values
// (relu and clip are exact): each fused pair is another SIMD instantiation of the kernel, in
// every translation unit holding the ops.
template <class F>
inline constexpr bool fuses_in_one_pass = std::is_same_v<F, kernels::add_fn> || std::is_same_v<F, kernels::sub_fn> ||
                                          std::is_same_v<F, kernels::mul_fn>;

template <class T, class F>
status float_binary_with(const any_view& out, const any_view& a, const any_view& b, F f, kernels::activation act,
                         float clip_min, float clip_max) {
  any_view v[3] = {out, a, b};
  to_memory_order(v);
  const TensorView<T> o = v[0].as<T>();
  const TensorView<const T> x = v[1].as<const T>(), y = v[2].as<const T>();
  const kernels::clip_fn<T> clip{static_cast<T>(clip_min), static_cast<T>(clip_max)};
  if constexpr (fuses_in_one_pass<F>) {
    if (act == kernels::activation::relu) return kernels::zip(o, x, y, then_fn<F, kernels::relu_fn>{f, {}});
    if (act == kernels::activation::clip) return kernels::zip(o, x, y, then_fn<F, kernels::clip_fn<T>>{f, clip});
    return kernels::zip(o, x, y, f);
  } else {
    TESSERA_TRY(kernels::zip(o, x, y, f));
    if (act == kernels::activation::relu) return kernels::map(o, o, kernels::relu_fn{}, "relu");
    if (act == kernels::activation::clip) return kernels::map(o, o, clip, "clip");
    return {};
  }
}

template <class T>
status float_binary(const any_view& out, const any_view& a, const any_view& b, binary_op op, kernels::activation act,
                    float lo, float hi) {
  switch (op) {
    case binary_op::add: return float_binary_with<T>(out, a, b, kernels::add_fn{}, act, lo, hi);
    case binary_op::sub: return float_binary_with<T>(out, a, b, kernels::sub_fn{}, act, lo, hi);
    case binary_op::mul: return float_binary_with<T>(out, a, b, kernels::mul_fn{}, act, lo, hi);
    case binary_op::div: return float_binary_with<T>(out, a, b, kernels::div_fn{}, act, lo, hi);
    case binary_op::pow: return float_binary_with<T>(out, a, b, kernels::pow_fn{}, act, lo, hi);
    case binary_op::max: return float_binary_with<T>(out, a, b, kernels::maximum_fn{}, act, lo, hi);
    case binary_op::min: return float_binary_with<T>(out, a, b, kernels::minimum_fn{}, act, lo, hi);
    case binary_op::mod: return float_binary_with<T>(out, a, b, mod_fn{}, act, lo, hi);
    case binary_op::fmod: return float_binary_with<T>(out, a, b, fmod_fn{}, act, lo, hi);
    case binary_op::prelu: return float_binary_with<T>(out, a, b, prelu_fn{}, act, lo, hi);
    default: break;
  }
  return make_error(errc::invalid_argument, "binary: not an arithmetic op");
}

}  // namespace detail

// out = op(a, b) with NumPy broadcasting. a and b share a type; comparisons and logical ops
// write bool, the others a's type. `act` (relu or clip) is applied to float results.
inline status binary(const any_view& out, const any_view& a, const any_view& b, binary_op op,
                     kernels::activation act = kernels::activation::none, float clip_min = 0, float clip_max = 0) {
  if (a.type != b.type)
    return make_error(errc::invalid_argument, std::string("binary: operand types differ (") + elem_name(a.type) + ", " +
                                                  elem_name(b.type) + ")");
  const elem_type want = is_comparison(op) ? elem_type::boolean : a.type;
  if (out.type != want) return make_error(errc::invalid_argument, std::string("binary: output must be ") + elem_name(want));
  TESSERA_ASSIGN_OR_RETURN(const any_view ab, detail::broadcast_view(a, out.shape, "binary"));
  TESSERA_ASSIGN_OR_RETURN(const any_view bb, detail::broadcast_view(b, out.shape, "binary"));
  if (out.size() == 0) return {};
  if (!is_comparison(op) && (a.type == elem_type::f32 || a.type == elem_type::f64)) {
    return a.type == elem_type::f32 ? detail::float_binary<float>(out, ab, bb, op, act, clip_min, clip_max)
                                    : detail::float_binary<double>(out, ab, bb, op, act, clip_min, clip_max);
  }
  if (act != kernels::activation::none)
    return make_error(errc::unsupported, "binary: a fused activation needs float operands");
  return visit_elem(a.type, [&](auto tag) -> status {
    using T = typename decltype(tag)::type;
    any_view v[3] = {out, ab, bb};
    if (is_comparison(op)) {
      detail::for_each_element_row(v, [&](const index_t* off, const index_t* s, index_t n) {
        bool* o = v[0].ptr<bool>() + off[0];
        const T* x = v[1].ptr<const T>() + off[1];
        const T* y = v[2].ptr<const T>() + off[2];
        for (index_t i = 0; i < n; ++i) o[i * s[0]] = detail::compare(op, x[i * s[1]], y[i * s[2]]);
      });
      return {};
    }
    if constexpr (std::is_same_v<T, bool>) {
      return make_error(errc::unsupported, "binary: arithmetic on bool tensors");
    } else if constexpr (std::is_integral_v<T>) {
      detail::for_each_element_row(v, [&](const index_t* off, const index_t* s, index_t n) {
        T* o = v[0].ptr<T>() + off[0];
        const T* x = v[1].ptr<const T>() + off[1];
        const T* y = v[2].ptr<const T>() + off[2];
        for (index_t i = 0; i < n; ++i) o[i * s[0]] = detail::int_binary(op, x[i * s[1]], y[i * s[2]]);
      });
      return {};
    } else {
      return make_error(errc::unsupported, std::string("binary: arithmetic on ") + elem_name(a.type));
    }
  });
}

// out = base ** exponent for operands of different types (ONNX Pow): computed in double,
// written in the base's type.
inline status pow_mixed(const any_view& out, const any_view& base, const any_view& exponent) {
  if (out.type != base.type) return make_error(errc::invalid_argument, "pow: the output has the base's type");
  TESSERA_ASSIGN_OR_RETURN(const any_view ab, detail::broadcast_view(base, out.shape, "pow"));
  TESSERA_ASSIGN_OR_RETURN(const any_view eb, detail::broadcast_view(exponent, out.shape, "pow"));
  if (out.size() == 0) return {};
  return visit_elem(base.type, [&](auto tb) -> status {
    using TB = typename decltype(tb)::type;
    return visit_elem(exponent.type, [&](auto te) -> status {
      using TE = typename decltype(te)::type;
      any_view v[3] = {out, ab, eb};
      detail::for_each_element_row(v, [&](const index_t* off, const index_t* s, index_t n) {
        TB* o = v[0].ptr<TB>() + off[0];
        const TB* x = v[1].ptr<const TB>() + off[1];
        const TE* y = v[2].ptr<const TE>() + off[2];
        for (index_t i = 0; i < n; ++i)
          o[i * s[0]] = detail::from_double<TB>(std::pow(to_double(x[i * s[1]]), to_double(y[i * s[2]])));
      });
      return {};
    });
  });
}

// out = op(in), same shapes. float32/float64 for every op; integers for identity, relu,
// abs, neg, sign and clip; bool for identity and logical_not.
inline status unary(const any_view& out, const any_view& in, const unary_params& p) {
  if (out.type != in.type || out.shape != in.shape)
    return make_error(errc::shape_mismatch, "unary: output " + out.shape.str() + " " + elem_name(out.type) + " != input " +
                                                in.shape.str() + " " + elem_name(in.type));
  if (out.size() == 0) return {};
  if (p.op == unary_op::identity) return copy(out, in);
  any_view v[2] = {out, in};
  if (in.type == elem_type::f32 || in.type == elem_type::f64) {
    return visit_elem(in.type, [&](auto tag) -> status {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        detail::to_memory_order(v);
        const TensorView<T> o = v[0].as<T>();
        const TensorView<const T> x = v[1].as<const T>();
        const T a = static_cast<T>(p.alpha), b = static_cast<T>(p.beta), g = static_cast<T>(p.gamma);
        namespace k = kernels;
        switch (p.op) {
          case unary_op::relu: return k::relu(o, x);
          case unary_op::leaky_relu: return k::leaky_relu(o, x, a);
          case unary_op::sigmoid: return k::sigmoid(o, x);
          case unary_op::tanh: return k::tanh(o, x);
          case unary_op::hard_sigmoid: return k::hard_sigmoid(o, x, a, b);
          case unary_op::hard_swish: return k::hardswish(o, x);
          case unary_op::gelu: return k::gelu(o, x);
          case unary_op::gelu_tanh: return k::gelu_tanh(o, x);
          case unary_op::elu: return k::elu(o, x, a);
          case unary_op::selu: return k::selu(o, x, a, g);
          case unary_op::celu:  // alpha * elu(x / alpha, 1)
            if (!(a != 0) || !std::isfinite(a)) return make_error(errc::invalid_argument, "celu: alpha must be finite and non-zero");
            return k::map(o, x, [a](const auto& t) {
              using V = std::decay_t<decltype(t)>;
              return V(a) * k::elu_fn<T>{T(1)}(t / V(a));
            }, "celu");
          case unary_op::softplus: return k::softplus(o, x);
          case unary_op::softsign:
            return k::map(o, x, [](const auto& t) {
              using V = std::decay_t<decltype(t)>;
              return t / (V(1) + k::abs_fn{}(t));
            }, "softsign");
          case unary_op::erf: return k::erf(o, x);
          case unary_op::exp: return k::exp(o, x);
          case unary_op::log: return k::log(o, x);
          case unary_op::sqrt: return k::sqrt(o, x);
          case unary_op::abs: return k::abs(o, x);
          case unary_op::neg: return k::neg(o, x);
          case unary_op::reciprocal: return k::reciprocal(o, x);
          case unary_op::floor: return k::floor(o, x);
          case unary_op::ceil: return k::ceil(o, x);
          case unary_op::round: return k::round(o, x);
          case unary_op::sign:
            return k::map(o, x, [](const auto& t) {
              using V = std::decay_t<decltype(t)>;
              return k::lanes::select(t > V(0), V(1), k::lanes::select(t < V(0), V(-1), t));  // keeps 0, -0 and NaN
            }, "sign");
          case unary_op::clip: return k::clip(o, x, a, b);
          default: break;
        }
      }
      return make_error(errc::unsupported, "unary: op not defined on floats");
    });
  }
  return visit_elem(in.type, [&](auto tag) -> status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      if (p.op != unary_op::logical_not) return make_error(errc::unsupported, "unary: op not defined on bool");
      detail::for_each_element_row(v, [&](const index_t* off, const index_t* s, index_t n) {
        bool* o = v[0].ptr<bool>() + off[0];
        const bool* x = v[1].ptr<const bool>() + off[1];
        for (index_t i = 0; i < n; ++i) o[i * s[0]] = !x[i * s[1]];
      });
      return {};
    } else if constexpr (std::is_integral_v<T>) {
      const unary_op op = p.op;
      if (op != unary_op::relu && op != unary_op::abs && op != unary_op::neg && op != unary_op::sign && op != unary_op::clip)
        return make_error(errc::unsupported, std::string("unary: op not defined on ") + elem_name(in.type));
      const T lo = detail::from_double<T>(std::ceil(double(p.alpha))), hi = detail::from_double<T>(std::floor(double(p.beta)));
      detail::for_each_element_row(v, [&](const index_t* off, const index_t* s, index_t n) {
        T* o = v[0].ptr<T>() + off[0];
        const T* x = v[1].ptr<const T>() + off[1];
        for (index_t i = 0; i < n; ++i) {
          const T e = x[i * s[1]];
          T r = e;
          if (op == unary_op::relu) r = e > 0 ? e : T(0);
          else if (op == unary_op::abs) r = e < 0 ? detail::wrapping(T(0), e, [](auto a, auto b) { return a - b; }) : e;
          else if (op == unary_op::neg) r = detail::wrapping(T(0), e, [](auto a, auto b) { return a - b; });
          else if (op == unary_op::sign) r = e > 0 ? T(1) : e < 0 ? static_cast<T>(-1) : T(0);
          else r = e < lo ? lo : e > hi ? hi : e;
          o[i * s[0]] = r;
        }
      });
      return {};
    } else {
      return make_error(errc::unsupported, std::string("unary: ") + elem_name(in.type) + " is not supported");
    }
  });
}

// out = cond ? x : y with broadcasting; x, y and out share a type.
inline status where(const any_view& out, const any_view& cond, const any_view& x, const any_view& y) {
  if (cond.type != elem_type::boolean) return make_error(errc::invalid_argument, "where: the condition must be bool");
  if (x.type != y.type || out.type != x.type) return make_error(errc::invalid_argument, "where: x, y and the output must share a type");
  TESSERA_ASSIGN_OR_RETURN(const any_view cb, detail::broadcast_view(cond, out.shape, "where"));
  TESSERA_ASSIGN_OR_RETURN(const any_view xb, detail::broadcast_view(x, out.shape, "where"));
  TESSERA_ASSIGN_OR_RETURN(const any_view yb, detail::broadcast_view(y, out.shape, "where"));
  if (out.size() == 0) return {};
  auto run = [&](auto word) {
    using W = decltype(word);
    any_view v[4] = {out, cb, xb, yb};
    detail::for_each_element_row(v, [&](const index_t* off, const index_t* s, index_t n) {
      W* o = v[0].ptr<W>() + off[0];
      const bool* c = v[1].ptr<const bool>() + off[1];
      const W* a = v[2].ptr<const W>() + off[2];
      const W* b = v[3].ptr<const W>() + off[3];
      for (index_t i = 0; i < n; ++i) o[i * s[0]] = c[i * s[1]] ? a[i * s[2]] : b[i * s[3]];
    });
  };
  switch (elem_size(out.type)) {
    case 1: run(std::uint8_t{}); break;
    case 2: run(std::uint16_t{}); break;
    case 4: run(std::uint32_t{}); break;
    default: run(std::uint64_t{}); break;
  }
  return {};
}

// out = in converted to out's type (ONNX Cast semantics, see detail::convert).
inline status cast(const any_view& out, const any_view& in) {
  if (out.shape != in.shape) return make_error(errc::shape_mismatch, "cast: output " + out.shape.str() + " != input " + in.shape.str());
  if (out.size() == 0) return {};
  if (out.type == in.type) return copy(out, in);
  visit_elem(in.type, [&](auto ti) {
    using TI = typename decltype(ti)::type;
    visit_elem(out.type, [&](auto to) {
      using TO = typename decltype(to)::type;
      any_view v[2] = {out, in};
      detail::for_each_element_row(v, [&](const index_t* off, const index_t* s, index_t n) {
        TO* o = v[0].ptr<TO>() + off[0];
        const TI* x = v[1].ptr<const TI>() + off[1];
        for (index_t i = 0; i < n; ++i) o[i * s[0]] = detail::convert<TO>(x[i * s[1]]);
      });
    });
  });
  return {};
}

}  // namespace tessera::nn
