// Type-erased tensors for the layers and graph runtimes above the kernels.
//
// The kernels are templated on their element type; a model graph is not: its tensors are
// float32 activations beside int64 shape constants, bool masks and the odd uint8 image.
// `any_view` is a TensorView whose element type is a runtime value (elem_type), `tensor` an
// owned, aligned buffer of one. visit_elem() turns the runtime type back into a C++ type
// once per call, so a layer branches on the type once, never per element.
//
// Strides are in elements and may describe any layout: a channels-last activation is a
// logical [N, C, H, W] view with strides [H*W*C, 1, W*C, C]. copy() moves elements between
// two views of one shape whatever their strides (the body of Transpose, Slice, Concat,
// Expand and of every layout change).
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/elementwise.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

namespace tessera::nn {

// The element types a model graph may hold.
enum class elem_type : std::uint8_t { f32, f64, f16, bf16, i8, u8, i16, u16, i32, u32, i64, u64, boolean };
inline constexpr int elem_type_count = 13;

inline constexpr std::size_t elem_size(elem_type t) noexcept {
  switch (t) {
    case elem_type::f64: case elem_type::i64: case elem_type::u64: return 8;
    case elem_type::f32: case elem_type::i32: case elem_type::u32: return 4;
    case elem_type::f16: case elem_type::bf16: case elem_type::i16: case elem_type::u16: return 2;
    case elem_type::i8: case elem_type::u8: case elem_type::boolean: return 1;
  }
  return 1;
}

inline constexpr const char* elem_name(elem_type t) noexcept {
  switch (t) {
    case elem_type::f32: return "float32";
    case elem_type::f64: return "float64";
    case elem_type::f16: return "float16";
    case elem_type::bf16: return "bfloat16";
    case elem_type::i8: return "int8";
    case elem_type::u8: return "uint8";
    case elem_type::i16: return "int16";
    case elem_type::u16: return "uint16";
    case elem_type::i32: return "int32";
    case elem_type::u32: return "uint32";
    case elem_type::i64: return "int64";
    case elem_type::u64: return "uint64";
    case elem_type::boolean: return "bool";
  }
  return "?";
}

inline constexpr bool is_float(elem_type t) noexcept {
  return t == elem_type::f32 || t == elem_type::f64 || t == elem_type::f16 || t == elem_type::bf16;
}

template <class T> struct elem_of_t;
template <> struct elem_of_t<float> { static constexpr elem_type value = elem_type::f32; };
template <> struct elem_of_t<double> { static constexpr elem_type value = elem_type::f64; };
template <> struct elem_of_t<f16> { static constexpr elem_type value = elem_type::f16; };
template <> struct elem_of_t<bf16> { static constexpr elem_type value = elem_type::bf16; };
template <> struct elem_of_t<std::int8_t> { static constexpr elem_type value = elem_type::i8; };
template <> struct elem_of_t<std::uint8_t> { static constexpr elem_type value = elem_type::u8; };
template <> struct elem_of_t<std::int16_t> { static constexpr elem_type value = elem_type::i16; };
template <> struct elem_of_t<std::uint16_t> { static constexpr elem_type value = elem_type::u16; };
template <> struct elem_of_t<std::int32_t> { static constexpr elem_type value = elem_type::i32; };
template <> struct elem_of_t<std::uint32_t> { static constexpr elem_type value = elem_type::u32; };
template <> struct elem_of_t<std::int64_t> { static constexpr elem_type value = elem_type::i64; };
template <> struct elem_of_t<std::uint64_t> { static constexpr elem_type value = elem_type::u64; };
template <> struct elem_of_t<bool> { static constexpr elem_type value = elem_type::boolean; };
template <class T>
inline constexpr elem_type elem_of = elem_of_t<std::remove_cv_t<T>>::value;

template <class T> struct type_tag { using type = T; };

// f(type_tag<T>{}) with T the C++ type of `t`.
template <class F>
decltype(auto) visit_elem(elem_type t, F&& f) {
  switch (t) {
    case elem_type::f64: return f(type_tag<double>{});
    case elem_type::f16: return f(type_tag<f16>{});
    case elem_type::bf16: return f(type_tag<bf16>{});
    case elem_type::i8: return f(type_tag<std::int8_t>{});
    case elem_type::u8: return f(type_tag<std::uint8_t>{});
    case elem_type::i16: return f(type_tag<std::int16_t>{});
    case elem_type::u16: return f(type_tag<std::uint16_t>{});
    case elem_type::i32: return f(type_tag<std::int32_t>{});
    case elem_type::u32: return f(type_tag<std::uint32_t>{});
    case elem_type::i64: return f(type_tag<std::int64_t>{});
    case elem_type::u64: return f(type_tag<std::uint64_t>{});
    case elem_type::boolean: return f(type_tag<bool>{});
    case elem_type::f32: break;
  }
  return f(type_tag<float>{});
}

// Any element as double / from double (the arithmetic of the non-float paths and of casts).
template <class T>
inline double to_double(T v) {
  if constexpr (std::is_same_v<T, f16> || std::is_same_v<T, bf16>) return static_cast<double>(static_cast<float>(v));
  else return static_cast<double>(v);
}

// A strided view of elements of a runtime type. `data` points at element [0, ..., 0].
struct any_view {
  void* data = nullptr;
  elem_type type = elem_type::f32;
  shape_t shape;
  strides_t strides;

  any_view() = default;
  any_view(void* d, elem_type t, const shape_t& s) : data(d), type(t), shape(s), strides(contiguous_strides(s)) {}
  any_view(void* d, elem_type t, const shape_t& s, const strides_t& st) : data(d), type(t), shape(s), strides(st) {}
  template <class T>
  any_view(const TensorView<T>& v)  // NOLINT: a typed view converts implicitly
      : data(const_cast<std::remove_const_t<T>*>(v.data())), type(elem_of<T>), shape(v.shape()), strides(v.strides()) {}

  int rank() const noexcept { return shape.rank(); }
  index_t size() const noexcept { return numel(shape); }
  std::size_t bytes() const noexcept { return static_cast<std::size_t>(size()) * elem_size(type); }
  bool is_contiguous() const noexcept {
    if (size() == 0) return true;
    index_t expected = 1;
    for (int i = rank() - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected = saturating_mul(expected, shape[i]);
    }
    return true;
  }
  // The typed view; the caller has checked `type`.
  template <class T>
  TensorView<T> as() const noexcept {
    return TensorView<T>(static_cast<T*>(data), shape, strides);
  }
  template <class T>
  T* ptr() const noexcept { return static_cast<T*>(data); }
  // A view of the same elements with axis i of the result being axis perm[i] of this one.
  any_view permuted(const int* perm) const {
    any_view v = *this;
    for (int i = 0; i < rank(); ++i) {
      v.shape[i] = shape[perm[i]];
      v.strides[i] = strides[perm[i]];
    }
    return v;
  }
};

// An owned, contiguous, aligned buffer of elements of a runtime type.
class tensor {
 public:
  tensor() = default;
  static expected<tensor> empty(elem_type t, const shape_t& s) {
    TESSERA_ASSIGN_OR_RETURN(const index_t n, checked_numel(s));
    tensor out;
    out.type_ = t;
    out.shape_ = s;
    TESSERA_TRY(out.storage_.allocate(static_cast<std::size_t>(n) * elem_size(t), first_touch::now));
    return out;
  }
  static expected<tensor> zeros(elem_type t, const shape_t& s) {
    TESSERA_ASSIGN_OR_RETURN(tensor out, empty(t, s));
    if (out.bytes()) std::memset(out.data(), 0, out.bytes());
    return out;
  }
  template <class T>
  static expected<tensor> from_values(const shape_t& s, const T* values) {
    TESSERA_ASSIGN_OR_RETURN(tensor out, empty(elem_of<T>, s));
    if (out.bytes()) std::memcpy(out.data(), values, out.bytes());
    return out;
  }

  elem_type type() const noexcept { return type_; }
  const shape_t& shape() const noexcept { return shape_; }
  int rank() const noexcept { return shape_.rank(); }
  index_t size() const noexcept { return numel(shape_); }
  std::size_t bytes() const noexcept { return static_cast<std::size_t>(size()) * elem_size(type_); }
  void* data() noexcept { return storage_.data(); }
  const void* data() const noexcept { return storage_.data(); }
  template <class T> T* ptr() noexcept { return static_cast<T*>(data()); }
  template <class T> const T* ptr() const noexcept { return static_cast<const T*>(data()); }
  any_view view() const noexcept { return any_view(const_cast<void*>(data()), type_, shape_); }
  // Same bytes, another shape of the same element count (Reshape of a constant).
  void reshape(const shape_t& s) noexcept { shape_ = s; }

 private:
  elem_type type_ = elem_type::f32;
  shape_t shape_;
  aligned_buffer<unsigned char> storage_;
};

namespace detail {

template <std::size_t Bytes> struct word_of;
template <> struct word_of<1> { using type = std::uint8_t; };
template <> struct word_of<2> { using type = std::uint16_t; };
template <> struct word_of<4> { using type = std::uint32_t; };
template <> struct word_of<8> { using type = std::uint64_t; };

template <class W>
void copy_rows(W* dst, const W* src, const kernels::detail::nd_layout<2>& l) {
  const index_t n = l.inner(), sd = l.inner_stride(0), ss = l.inner_stride(1);
  kernels::detail::for_each_row(l, [&](const index_t* off) {
    W* d = dst + off[0];
    const W* s = src + off[1];
    if (sd == 1 && ss == 1) {
      std::memcpy(d, s, static_cast<std::size_t>(n) * sizeof(W));
    } else if (ss == 0) {
      const W v = *s;
      for (index_t i = 0; i < n; ++i) d[i * sd] = v;
    } else {
      for (index_t i = 0; i < n; ++i) d[i * sd] = s[i * ss];
    }
  });
}

// Axis order that walks `v` in increasing memory order (largest stride first), so a copy
// writes its destination sequentially whatever the destination's layout.
inline void memory_order(const any_view& v, int* perm) {
  const int r = v.rank();
  auto mag = [&](int a) { return v.strides[a] < 0 ? -v.strides[a] : v.strides[a]; };
  // Stable insertion sort (rank <= 8; std::stable_sort would allocate a buffer).
  for (int i = 0; i < r; ++i) {
    int j = i;
    while (j > 0 && mag(perm[j - 1]) < mag(i)) {
      perm[j] = perm[j - 1];
      --j;
    }
    perm[j] = i;
  }
}

}  // namespace detail

// dst = src element by element: same type and shape, any strides (src may broadcast with
// stride 0; dst must not). The views must not overlap unless they are the same elements.
inline status copy(const any_view& dst, const any_view& src) {
  if (dst.type != src.type)
    return make_error(errc::invalid_argument, std::string("copy: ") + elem_name(src.type) + " into " + elem_name(dst.type));
  if (dst.shape != src.shape)
    return make_error(errc::shape_mismatch, "copy: shape " + src.shape.str() + " into " + dst.shape.str());
  if (dst.size() == 0 || dst.data == src.data) return {};
  int perm[TESSERA_MAX_RANK];
  detail::memory_order(dst, perm);
  const any_view d = dst.permuted(perm), s = src.permuted(perm);
  const strides_t* st[2] = {&d.strides, &s.strides};
  const auto l = kernels::detail::coalesce<2>(d.shape, st);
  switch (elem_size(dst.type)) {
    case 1: detail::copy_rows(static_cast<std::uint8_t*>(d.data), static_cast<const std::uint8_t*>(s.data), l); break;
    case 2: detail::copy_rows(static_cast<std::uint16_t*>(d.data), static_cast<const std::uint16_t*>(s.data), l); break;
    case 4: detail::copy_rows(static_cast<std::uint32_t*>(d.data), static_cast<const std::uint32_t*>(s.data), l); break;
    default: detail::copy_rows(static_cast<std::uint64_t*>(d.data), static_cast<const std::uint64_t*>(s.data), l); break;
  }
  return {};
}

// Fills every element of `dst` with `value` converted to its type.
inline void fill(const any_view& dst, double value) {
  if (dst.size() == 0) return;
  visit_elem(dst.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v;
    if constexpr (std::is_same_v<T, f16> || std::is_same_v<T, bf16>) v = T(static_cast<float>(value));
    else if constexpr (std::is_same_v<T, bool>) v = value != 0;
    else v = static_cast<T>(value);
    T* p = static_cast<T*>(dst.data);
    for_each_offset(dst.as<T>(), [&](index_t off) { p[off] = v; });
  });
}

// The logical view of a channels-last buffer: logical [N, C, S...] (rank >= 3) stored as
// [N, S..., C].
inline strides_t channels_last_strides(const shape_t& s) {
  strides_t st = dims::filled(s.rank(), 1);
  if (s.rank() < 3) return contiguous_strides(s);
  const index_t C = s[1];
  index_t acc = C > 0 ? C : 1;
  for (int i = s.rank() - 1; i >= 2; --i) {
    st[i] = acc;
    acc = saturating_mul(acc, s[i] > 0 ? s[i] : 1);
  }
  st[1] = 1;
  st[0] = acc;
  return st;
}

// Reads an integer tensor (int32/int64/uint8/bool...) as int64 values: shape inputs, axes, indices.
inline void read_int64s(const any_view& v, std::int64_t* out) {
  index_t k = 0;
  visit_elem(v.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(v.data);
    for_each_offset(v.as<const T>(), [&](index_t off) {
      if constexpr (std::is_same_v<T, f16> || std::is_same_v<T, bf16>) out[k++] = static_cast<std::int64_t>(static_cast<float>(p[off]));
      else out[k++] = static_cast<std::int64_t>(p[off]);
    });
  });
}

}  // namespace tessera::nn
