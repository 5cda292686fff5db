// Element-wise binary kernels with NumPy broadcasting: out = f(a, b).
//
//   tessera::kernels::add(out, a, b);   // out.shape() == broadcast_shapes(a, b), exactly
//   tessera::kernels::mul(x, x, scale); // in place; `scale` may be [], [N], [M,1], ...
//   tessera::kernels::zip(out, a, b, my_fn{});  // any functor on (T, T) and (batch, batch)
//
// Paths, from fastest:
//   - a, b and out contiguous with one shape: one SIMD loop;
//   - otherwise a and b are broadcast to out's shape (stride 0 where stretched), the three
//     views are coalesced, and each innermost row runs SIMD when every operand is either
//     adjacent (stride 1) or a broadcast scalar (stride 0) along the row -- which covers
//     tensor-with-scalar, row vectors ([M,N] op [N]) and column vectors ([M,N] op [M,1],
//     the scalar-per-row case) -- and the same functor on scalars otherwise.
// An output that overlaps an input other than element-for-element (for example out = a with
// b a row of a) reads from a copy of that input (NumPy semantics).
//
// maximum/minimum are element-wise (NumPy's names; reduce.hpp's max/min reduce an axis) and
// propagate NaN like NumPy's, the arithmetic ops are IEEE.
// pow is xsimd's (and std::pow on scalars): a negative base with a non-integer exponent is NaN.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/elementwise.hpp>
#include <tessera/simd/simd.hpp>

#include <cmath>
#include <type_traits>

namespace tessera::kernels {

struct add_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return a + b; }
};
struct sub_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return a - b; }
};
struct mul_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return a * b; }
};
struct div_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return a / b; }
};
struct maximum_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return lanes::max(a, b); }
};
struct minimum_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const { return lanes::min(a, b); }
};
struct pow_fn {
  template <class V> TESSERA_ALWAYS_INLINE V operator()(const V& a, const V& b) const {
    using std::pow; using xsimd::pow;
    return pow(a, b);
  }
};

namespace detail {

// One row of n outputs; sa/sb are 0 (broadcast scalar) or 1 for the SIMD cases.
template <class T, class F>
void zip_row(T* o, index_t so, const T* a, index_t sa, const T* b, index_t sb, index_t n, const F& f) {
  using B = simd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  const bool simd_ok = so == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1);
  if (!simd_ok) {
    for (index_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb]);
    return;
  }
  const auto load = [](const T* p, index_t s, index_t i, index_t count) -> B {
    if (s == 0) return B(p[0]);
    if (count == W) return simd::load_unaligned<B>(p + i);
    return simd::load_partial<B>(p + i, static_cast<std::size_t>(count), T(1));
  };
  index_t i = 0;
  if (sa == 1 && sb == 1) {  // the common case gets a branch-free loop
    for (; i + W <= n; i += W) simd::store_unaligned(o + i, f(simd::load_unaligned<B>(a + i), simd::load_unaligned<B>(b + i)));
  } else if (sa == 1) {
    const B bv(b[0]);
    for (; i + W <= n; i += W) simd::store_unaligned(o + i, f(simd::load_unaligned<B>(a + i), bv));
  } else if (sb == 1) {
    const B av(a[0]);
    for (; i + W <= n; i += W) simd::store_unaligned(o + i, f(av, simd::load_unaligned<B>(b + i)));
  } else {
    const B v = f(B(a[0]), B(b[0]));
    for (; i + W <= n; i += W) simd::store_unaligned(o + i, v);
  }
  if (i < n) {
    const index_t rest = n - i;
    simd::store_partial(o + i, f(load(a, sa, i, rest), load(b, sb, i, rest)), static_cast<std::size_t>(rest));
  }
}

}  // namespace detail

// out = f(a, b) with broadcasting, for any functor callable on T and simd::batch<T>.
template <class T, class F>
status zip(TensorView<T> out, std::type_identity_t<TensorView<const T>> a, std::type_identity_t<TensorView<const T>> b, F f,
           const char* op = "zip") {
  static_assert(std::is_floating_point_v<T>, "binary kernels take float or double views");
  auto bs = broadcast_shapes(a.shape(), b.shape());
  if (!bs.ok()) return make_error(errc::shape_mismatch, detail::op_prefix(op) + bs.err().message);
  if (out.shape() != *bs)
    return make_error(errc::shape_mismatch, detail::op_prefix(op) + "output " + out.shape().str() +
                                                " != broadcast shape " + bs->str() + " of " + a.shape().str() +
                                                " and " + b.shape().str());
  TESSERA_TRY(detail::check_output(out, op));
  if (out.size() == 0) return {};
  T* o = out.data();
  if (a.shape() == out.shape() && b.shape() == out.shape() && out.is_contiguous() && a.is_contiguous() &&
      b.is_contiguous()) {
    // Contiguous views of one shape overlap either element-for-element (same pointer) or in
    // a shifted way; only the latter needs the general path's copy.
    const bool a_ok = a.data() == o || !detail::may_overlap(out, a);
    const bool b_ok = b.data() == o || !detail::may_overlap(out, b);
    if (a_ok && b_ok) {
      detail::zip_row(o, 1, a.data(), 1, b.data(), 1, out.size(), f);
      return {};
    }
  }
  TensorView<const T> ab = *a.broadcast_to(out.shape());  // cannot fail: shapes checked above
  TensorView<const T> bb = *b.broadcast_to(out.shape());
  Tensor<T> scratch_a, scratch_b;
  TESSERA_TRY(detail::unalias(out, ab, scratch_a));
  TESSERA_TRY(detail::unalias(out, bb, scratch_b));
  const strides_t* st[3] = {&out.strides(), &ab.strides(), &bb.strides()};
  const auto l = detail::coalesce<3>(out.shape(), st);
  const index_t n = l.inner(), so = l.inner_stride(0), sa = l.inner_stride(1), sb = l.inner_stride(2);
  const T* pa = ab.data();
  const T* pb = bb.data();
  detail::for_each_row(l, [&](const index_t* off) { detail::zip_row(o + off[0], so, pa + off[1], sa, pb + off[2], sb, n, f); });
  return {};
}

#define TESSERA_BINARY_OP_(name)                                                                       \
  template <class T>                                                                                   \
  status name(TensorView<T> out, std::type_identity_t<TensorView<const T>> a,                          \
              std::type_identity_t<TensorView<const T>> b) {                                           \
    return zip(out, a, b, name##_fn{}, #name);                                                         \
  }
TESSERA_BINARY_OP_(add)
TESSERA_BINARY_OP_(sub)
TESSERA_BINARY_OP_(mul)
TESSERA_BINARY_OP_(div)
TESSERA_BINARY_OP_(maximum)
TESSERA_BINARY_OP_(minimum)
TESSERA_BINARY_OP_(pow)
#undef TESSERA_BINARY_OP_

}  // namespace tessera::kernels
