// Tensor<T> (owning, aligned) and TensorView<T> (non-owning: pointer + shape + strides).
//
// Views are cheap values. reshape, slice, transpose, permute and broadcast_to return new
// views over the same memory; they check their arguments and return an error rather than
// build a view that could index out of bounds. Kernels take views and use the contiguous
// fast path when `is_contiguous()`.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>

#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

namespace tessera {

template <class T>
class TensorView {
 public:
  using value_type = std::remove_cv_t<T>;
  using element_type = T;

  TensorView() = default;
  // A contiguous row-major view. The caller vouches that `data` holds numel(shape) elements.
  TensorView(T* data, const shape_t& shape) : data_(data), shape_(shape), strides_(contiguous_strides(shape)) {}
  TensorView(T* data, const shape_t& shape, const strides_t& strides) : data_(data), shape_(shape), strides_(strides) {}
  // TensorView<T> -> TensorView<const T>
  template <class U, std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>, int> = 0>
  TensorView(const TensorView<U>& o) : data_(o.data()), shape_(o.shape()), strides_(o.strides()) {}  // NOLINT

  T* data() const noexcept { return data_; }
  const shape_t& shape() const noexcept { return shape_; }
  const strides_t& strides() const noexcept { return strides_; }
  int rank() const noexcept { return shape_.rank(); }
  index_t dim(int axis) const noexcept { return shape_[axis < 0 ? axis + rank() : axis]; }
  index_t stride(int axis) const noexcept { return strides_[axis < 0 ? axis + rank() : axis]; }
  index_t size() const noexcept { return numel(shape_); }
  bool empty() const noexcept { return size() == 0; }
  dtype type() const noexcept { return dtype_of<value_type>; }

  // Row-major with no gaps (extent-1 axes may have any stride).
  bool is_contiguous() const noexcept {
    index_t expected_stride = 1;
    for (int i = rank() - 1; i >= 0; --i) {
      if (shape_[i] != 1 && strides_[i] != expected_stride) return false;
      expected_stride = saturating_mul(expected_stride, shape_[i]);
    }
    return true;
  }

  // Element access without bounds checks (the hot path); at() checks.
  template <class... I>
  T& operator()(I... idx) const noexcept {
    static_assert(sizeof...(I) <= TESSERA_MAX_RANK);
    const index_t ii[] = {static_cast<index_t>(idx)...};
    index_t off = 0;
    for (std::size_t k = 0; k < sizeof...(I); ++k) off += ii[k] * strides_[static_cast<int>(k)];
    return data_[off];
  }
  expected<T*> at(std::initializer_list<index_t> idx) const {
    if (static_cast<int>(idx.size()) != rank())
      return make_error(errc::invalid_argument, "at(): " + std::to_string(idx.size()) + " indices for rank " + std::to_string(rank()));
    index_t off = 0;
    int k = 0;
    for (index_t i : idx) {
      if (i < 0 || i >= shape_[k])
        return make_error(errc::out_of_range, "at(): index " + std::to_string(i) + " out of range for axis " +
                                                  std::to_string(k) + " of " + shape_.str());
      off += i * strides_[k++];
    }
    return data_ + off;
  }

  // Same elements, new shape. One extent may be -1 (inferred). Needs a contiguous view.
  expected<TensorView> reshape(shape_t new_shape) const {
    if (!is_contiguous()) return make_error(errc::invalid_argument, "reshape of a non-contiguous view " + shape_.str());
    int infer = -1;
    index_t known = 1;
    for (int i = 0; i < new_shape.rank(); ++i) {
      if (new_shape[i] == -1) {
        if (infer >= 0) return make_error(errc::invalid_argument, "reshape: more than one -1 in " + new_shape.str());
        infer = i;
      } else if (new_shape[i] < 0) {
        return make_error(errc::invalid_argument, "reshape: negative extent in " + new_shape.str());
      } else {
        if (new_shape[i] != 0 && known > max_tensor_elements / new_shape[i])
          return make_error(errc::invalid_argument, "reshape: " + new_shape.str() + " too large");
        known *= new_shape[i];
      }
    }
    if (infer >= 0) {
      if (known == 0 || size() % known != 0)
        return make_error(errc::shape_mismatch, "reshape: cannot infer -1 in " + new_shape.str() + " from " + shape_.str());
      new_shape[infer] = size() / known;
      known *= new_shape[infer];
    }
    if (known != size() || new_shape.rank() > TESSERA_MAX_RANK)
      return make_error(errc::shape_mismatch, "reshape: " + shape_.str() + " has " + std::to_string(size()) +
                                                  " elements, " + new_shape.str() + " needs " + std::to_string(known));
    return TensorView(data_, new_shape);
  }

  // Elements [begin, end) with a positive step along one axis.
  expected<TensorView> slice(int axis, index_t begin, index_t end, index_t step = 1) const {
    TESSERA_TRY(check_axis(axis, "slice"));
    if (axis < 0) axis += rank();
    if (step <= 0) return make_error(errc::invalid_argument, "slice: step must be positive");
    if (begin < 0 || end < begin || end > shape_[axis])
      return make_error(errc::out_of_range, "slice: [" + std::to_string(begin) + ", " + std::to_string(end) +
                                                ") out of range for axis " + std::to_string(axis) + " of " + shape_.str());
    TensorView v = *this;
    v.data_ = data_ + (end > begin ? begin * strides_[axis] : 0);
    v.shape_[axis] = end > begin ? (end - begin - 1) / step + 1 : 0;  // ceil, even for a step near INT64_MAX
    // One element along the axis: its stride is never applied (and step * stride may not fit).
    v.strides_[axis] = v.shape_[axis] > 1 ? strides_[axis] * step : strides_[axis];
    return v;
  }

  // Drops axis `axis` by fixing its index (a rank-1-lower view).
  expected<TensorView> select(int axis, index_t index) const {
    TESSERA_TRY(check_axis(axis, "select"));
    if (axis < 0) axis += rank();
    if (index < 0 || index >= shape_[axis])
      return make_error(errc::out_of_range, "select: index " + std::to_string(index) + " out of range for " + shape_.str());
    TensorView v;
    v.data_ = data_ + index * strides_[axis];
    for (int i = 0; i < rank(); ++i)
      if (i != axis) { v.shape_.push_back(shape_[i]); v.strides_.push_back(strides_[i]); }
    return v;
  }

  expected<TensorView> permute(std::initializer_list<int> perm) const {
    dims p;
    for (int a : perm) p.push_back(a);
    return permute(p);
  }
  // Axis i of the result is axis perm[i] of this view.
  expected<TensorView> permute(const dims& perm) const {
    if (perm.rank() != rank()) return make_error(errc::invalid_argument, "permute: " + perm.str() + " for rank " + std::to_string(rank()));
    bool seen[TESSERA_MAX_RANK] = {};
    TensorView v = *this;
    for (int i = 0; i < rank(); ++i) {
      const index_t a = perm[i];
      if (a < 0 || a >= rank() || seen[a]) return make_error(errc::invalid_argument, "permute: " + perm.str() + " is not a permutation");
      seen[a] = true;
      v.shape_[i] = shape_[static_cast<int>(a)];
      v.strides_[i] = strides_[static_cast<int>(a)];
    }
    return v;
  }

  // Swaps two axes (default: the last two, the matrix transpose).
  expected<TensorView> transpose(int a = -2, int b = -1) const {
    TESSERA_TRY(check_axis(a, "transpose"));
    TESSERA_TRY(check_axis(b, "transpose"));
    if (a < 0) a += rank();
    if (b < 0) b += rank();
    TensorView v = *this;
    std::swap(v.shape_[a], v.shape_[b]);
    std::swap(v.strides_[a], v.strides_[b]);
    return v;
  }

  // A read view with extent-1 (or missing leading) axes stretched to `target` (stride 0).
  expected<TensorView> broadcast_to(const shape_t& target) const {
    if (target.rank() < rank() || target.rank() > TESSERA_MAX_RANK)
      return make_error(errc::shape_mismatch, "cannot broadcast " + shape_.str() + " to " + target.str());
    TensorView v;
    v.data_ = data_;
    v.shape_ = target;
    v.strides_ = dims::filled(target.rank(), 0);
    const int off = target.rank() - rank();
    for (int i = 0; i < rank(); ++i) {
      if (shape_[i] == target[i + off]) v.strides_[i + off] = strides_[i];
      else if (shape_[i] != 1) return make_error(errc::shape_mismatch, "cannot broadcast " + shape_.str() + " to " + target.str());
    }
    return v;
  }

 private:
  status check_axis(int axis, const char* op) const {
    if (axis < -rank() || axis >= rank())
      return make_error(errc::invalid_argument, std::string(op) + ": axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank()));
    return {};
  }

  T* data_ = nullptr;
  shape_t shape_;
  strides_t strides_;
};

// Calls fn(offset) for each element of a view in row-major order (offset in elements from
// data()). The generic strided walk; kernels special-case the contiguous case.
template <class T, class F>
void for_each_offset(const TensorView<T>& v, F&& fn) {
  const int r = v.rank();
  if (v.size() == 0) return;
  if (r == 0) { fn(index_t{0}); return; }
  index_t idx[TESSERA_MAX_RANK] = {};
  index_t off = 0;
  const index_t inner = v.dim(r - 1), inner_stride = v.stride(r - 1);
  for (;;) {
    for (index_t i = 0; i < inner; ++i) fn(off + i * inner_stride);
    int ax = r - 2;
    for (; ax >= 0; --ax) {
      off += v.stride(ax);
      if (++idx[ax] < v.dim(ax)) break;
      off -= idx[ax] * v.stride(ax);
      idx[ax] = 0;
    }
    if (ax < 0) return;
  }
}

// Owning, contiguous, TESSERA_ALIGNMENT-aligned tensor. Move-only; copy with clone().
template <class T>
class Tensor {
 public:
  using value_type = T;

  Tensor() = default;

  // Uninitialised storage of the given shape, or an error for a bad/oversized shape.
  static expected<Tensor> empty(const shape_t& shape) {
    TESSERA_ASSIGN_OR_RETURN(const index_t n, checked_numel(shape));
    Tensor t;
    TESSERA_TRY(t.buffer_.allocate(static_cast<std::size_t>(n)));
    t.shape_ = shape;
    return t;
  }
  static expected<Tensor> zeros(const shape_t& shape) {
    TESSERA_ASSIGN_OR_RETURN(Tensor t, empty(shape));
    if (t.size()) std::memset(static_cast<void*>(t.data()), 0, static_cast<std::size_t>(t.size()) * sizeof(T));
    return t;
  }
  static expected<Tensor> full(const shape_t& shape, T value) {
    TESSERA_ASSIGN_OR_RETURN(Tensor t, empty(shape));
    for (index_t i = 0; i < t.size(); ++i) t.data()[i] = value;
    return t;
  }
  // A contiguous copy of any view (strided or broadcast).
  static expected<Tensor> copy_of(const TensorView<const T>& src) {
    TESSERA_ASSIGN_OR_RETURN(Tensor t, empty(src.shape()));
    T* out = t.data();
    if (src.is_contiguous()) {
      if (t.size()) std::memcpy(static_cast<void*>(out), src.data(), static_cast<std::size_t>(t.size()) * sizeof(T));
    } else {
      const T* in = src.data();
      for_each_offset(src, [&](index_t off) { *out++ = in[off]; });
    }
    return t;
  }
  expected<Tensor> clone() const { return copy_of(view()); }

  T* data() noexcept { return buffer_.data(); }
  const T* data() const noexcept { return buffer_.data(); }
  const shape_t& shape() const noexcept { return shape_; }
  int rank() const noexcept { return shape_.rank(); }
  index_t dim(int axis) const noexcept { return shape_[axis < 0 ? axis + rank() : axis]; }
  index_t size() const noexcept { return static_cast<index_t>(buffer_.size()); }
  dtype type() const noexcept { return dtype_of<T>; }

  TensorView<T> view() noexcept { return TensorView<T>(data(), shape_); }
  TensorView<const T> view() const noexcept { return TensorView<const T>(data(), shape_); }
  operator TensorView<T>() noexcept { return view(); }              // NOLINT
  operator TensorView<const T>() const noexcept { return view(); }  // NOLINT

  template <class... I>
  T& operator()(I... idx) noexcept { return view()(idx...); }
  template <class... I>
  const T& operator()(I... idx) const noexcept { return view()(idx...); }

 private:
  aligned_buffer<T> buffer_;
  shape_t shape_;
};

}  // namespace tessera
