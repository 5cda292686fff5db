// Eigen interop (opt-in; not part of <tessera/tessera.hpp>): view a tensor as an
// Eigen::Map without copying, and an Eigen matrix as a tensor view.
//
// Under Emscripten, Eigen 3.4's SSE path includes x86-only headers, so Eigen is compiled
// without explicit vectorization there (EIGEN_DONT_VECTORIZE, defined here before Eigen is
// included). In WASM builds Eigen is an oracle and an interop format, not a speed path.
#pragma once

#if defined(__EMSCRIPTEN__) && !defined(EIGEN_DONT_VECTORIZE)
#define EIGEN_DONT_VECTORIZE
#endif

#include <tessera/core/tensor.hpp>

#include <Eigen/Core>

#include <type_traits>

namespace tessera::eigen {

template <class T>
using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
using dynamic_stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;

// Row-major map with the view's own strides (const-ness follows T).
template <class T>
using matrix_map = Eigen::Map<std::conditional_t<std::is_const_v<T>, const matrix<std::remove_const_t<T>>,
                                                 matrix<std::remove_const_t<T>>>,
                              Eigen::Unaligned, dynamic_stride>;
template <class T>
using vector_map = Eigen::Map<std::conditional_t<std::is_const_v<T>, const vector<std::remove_const_t<T>>,
                                                 vector<std::remove_const_t<T>>>,
                              Eigen::Unaligned, Eigen::InnerStride<Eigen::Dynamic>>;

// A rank-2 view as a matrix (rows = dim 0). Transposed and sliced views work; negative or
// zero (broadcast) strides are refused, Eigen does not support them.
template <class T>
expected<matrix_map<T>> as_matrix(const TensorView<T>& v) {
  if (v.rank() != 2) return make_error(errc::invalid_argument, "as_matrix: rank " + std::to_string(v.rank()) + " view, want 2");
  const index_t rs = v.dim(0) > 1 ? v.stride(0) : v.dim(1);
  const index_t cs = v.dim(1) > 1 ? v.stride(1) : 1;
  if (rs <= 0 || cs <= 0) return make_error(errc::invalid_argument, "as_matrix: non-positive stride");
  return matrix_map<T>(v.data(), v.dim(0), v.dim(1), dynamic_stride(rs, cs));
}

// A rank-1 view as a column vector.
template <class T>
expected<vector_map<T>> as_vector(const TensorView<T>& v) {
  if (v.rank() != 1) return make_error(errc::invalid_argument, "as_vector: rank " + std::to_string(v.rank()) + " view, want 1");
  const index_t s = v.dim(0) > 1 ? v.stride(0) : 1;
  if (s <= 0) return make_error(errc::invalid_argument, "as_vector: non-positive stride");
  return vector_map<T>(v.data(), v.dim(0), Eigen::InnerStride<Eigen::Dynamic>(s));
}

// A tensor view of an Eigen dense object with direct access (Matrix, Map, Block), shape
// [rows, cols] in either storage order.
template <class Derived>
auto view_of(Eigen::DenseBase<Derived>& m) {
  using scalar = typename Derived::Scalar;
  auto& d = m.derived();
  return TensorView<scalar>(d.data(), shape_t{d.rows(), d.cols()}, strides_t{d.rowStride(), d.colStride()});
}
template <class Derived>
auto view_of(const Eigen::DenseBase<Derived>& m) {
  using scalar = typename Derived::Scalar;
  const auto& d = m.derived();
  return TensorView<const scalar>(d.data(), shape_t{d.rows(), d.cols()}, strides_t{d.rowStride(), d.colStride()});
}

// An owning copy of any Eigen expression as a [rows, cols] tensor.
template <class Derived>
expected<Tensor<typename Derived::Scalar>> to_tensor(const Eigen::DenseBase<Derived>& expr) {
  using scalar = typename Derived::Scalar;
  TESSERA_ASSIGN_OR_RETURN(auto t, Tensor<scalar>::empty(shape_t{expr.rows(), expr.cols()}));
  matrix_map<scalar>(t.data(), expr.rows(), expr.cols(), dynamic_stride(expr.cols() > 0 ? expr.cols() : 1, 1)) = expr;
  return t;
}

}  // namespace tessera::eigen
