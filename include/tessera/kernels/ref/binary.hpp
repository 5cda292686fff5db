// Scalar references of kernels/binary.hpp: NumPy broadcasting by multi-index, element by
// element, evaluated in T (tests use T = double).
#pragma once

#include <tessera/kernels/ref/common.hpp>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace tessera::kernels::ref {

template <class T, class F>
status zip(TensorView<T> out, TensorView<const T> a, TensorView<const T> b, F f) {
  auto s = broadcast_shapes(a.shape(), b.shape());
  if (!s.ok()) return s.err();
  if (*s != out.shape()) return detail::mismatch("ref::zip", out.shape(), *s);
  const int r = out.rank();
  std::vector<T> vals;
  detail::for_each_index(out.shape(), [&](const index_t* i) { vals.push_back(f(detail::at(a, i, r), detail::at(b, i, r))); });
  std::size_t k = 0;
  detail::for_each_index(out.shape(), [&](const index_t* i) { detail::at(out, i, r) = vals[k++]; });
  return {};
}

#define TESSERA_REF_BINARY_(name, expr)                                                                              \
  template <class T>                                                                                                 \
  status name(TensorView<T> out, std::type_identity_t<TensorView<const T>> a, std::type_identity_t<TensorView<const T>> b) { \
    return zip(out, a, b, [](T x, T y) -> T { return expr; });                                                       \
  }
TESSERA_REF_BINARY_(add, x + y)
TESSERA_REF_BINARY_(sub, x - y)
TESSERA_REF_BINARY_(mul, x * y)
TESSERA_REF_BINARY_(div, x / y)
TESSERA_REF_BINARY_(maximum, (std::isnan(x) || std::isnan(y)) ? x + y : std::max(x, y))
TESSERA_REF_BINARY_(minimum, (std::isnan(x) || std::isnan(y)) ? x + y : std::min(x, y))
TESSERA_REF_BINARY_(pow, std::pow(x, y))
#undef TESSERA_REF_BINARY_

}  // namespace tessera::kernels::ref
