// Reading a node's attributes (typed, with defaults) and its constant tensors as nn::tensor.
//
// Every getter checks the attribute's declared type, so a model that stores `axis` as a float
// gets an error naming the attribute instead of a silently wrong value. Errors here carry no
// node name: the importer prefixes every error of a node with its op type and name.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/onnx/model_proto.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::onnx {

using nn::any_view;
using nn::elem_type;

// The element type of an ONNX data type, or an error for the types tessera does not compute
// with (strings, complex, float8/float4 and the packed sub-byte integers).
inline expected<elem_type> elem_type_of(data_type t) {
  switch (t) {
    case data_type::float32: return elem_type::f32;
    case data_type::float64: return elem_type::f64;
    case data_type::float16: return elem_type::f16;
    case data_type::bfloat16: return elem_type::bf16;
    case data_type::int8: return elem_type::i8;
    case data_type::uint8: return elem_type::u8;
    case data_type::int16: return elem_type::i16;
    case data_type::uint16: return elem_type::u16;
    case data_type::int32: return elem_type::i32;
    case data_type::uint32: return elem_type::u32;
    case data_type::int64: return elem_type::i64;
    case data_type::uint64: return elem_type::u64;
    case data_type::boolean: return elem_type::boolean;
    default: break;
  }
  return make_error(errc::unsupported, "data type " + std::to_string(static_cast<int>(t)) + " is not supported");
}

inline data_type data_type_of(elem_type t) {
  switch (t) {
    case elem_type::f32: return data_type::float32;
    case elem_type::f64: return data_type::float64;
    case elem_type::f16: return data_type::float16;
    case elem_type::bf16: return data_type::bfloat16;
    case elem_type::i8: return data_type::int8;
    case elem_type::u8: return data_type::uint8;
    case elem_type::i16: return data_type::int16;
    case elem_type::u16: return data_type::uint16;
    case elem_type::i32: return data_type::int32;
    case elem_type::u32: return data_type::uint32;
    case elem_type::i64: return data_type::int64;
    case elem_type::u64: return data_type::uint64;
    case elem_type::boolean: return data_type::boolean;
  }
  return data_type::undefined;
}

// Dims of a TensorProto as a shape (rank and extents were validated by the decoder).
inline expected<shape_t> shape_of(const tensor_proto& t) {
  if (t.dims.size() > static_cast<std::size_t>(TESSERA_MAX_RANK))
    return make_error(errc::unsupported, "tensor '" + std::string(t.name) + "': rank " + std::to_string(t.dims.size()) +
                                             " exceeds " + std::to_string(TESSERA_MAX_RANK));
  shape_t s;
  for (std::int64_t d : t.dims) s.push_back(d);
  TESSERA_TRY(checked_numel(s));
  return s;
}

// The values of a TensorProto (inline data; external data already resolved into `external`)
// as an owned tensor. Typed fields follow onnx.proto: 8/16-bit types and bool in int32_data,
// float16/bfloat16 as their bit patterns there, uint32/uint64 in uint64_data.
inline expected<nn::tensor> to_tensor(const tensor_proto& t, bytes_view external = {}) {
  TESSERA_ASSIGN_OR_RETURN(const elem_type et, elem_type_of(t.type));
  TESSERA_ASSIGN_OR_RETURN(const shape_t s, shape_of(t));
  TESSERA_ASSIGN_OR_RETURN(nn::tensor out, nn::tensor::empty(et, s));
  const std::size_t n = static_cast<std::size_t>(out.size());
  if (t.is_external() || t.has_raw_data) {
    const bytes_view raw = t.is_external() ? external : t.raw_data;
    if (raw.size() != out.bytes())
      return make_error(errc::parse_error, "tensor '" + std::string(t.name) + "': " + std::to_string(raw.size()) +
                                               " data bytes, " + std::to_string(out.bytes()) + " expected");
    if (n) std::memcpy(out.data(), raw.data(), out.bytes());  // little-endian on every target
    return out;
  }
  if (n == 0) return out;
  auto put = [&](auto&& values) {
    nn::visit_elem(et, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = out.ptr<T>();
      for (std::size_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<T, f16> || std::is_same_v<T, bf16>)
          p[i] = T::from_bits(static_cast<std::uint16_t>(values[i]));
        else if constexpr (std::is_same_v<T, bool>)
          p[i] = values[i] != 0;
        else
          p[i] = static_cast<T>(values[i]);
      }
    });
  };
  switch (typed_field_of(t.type)) {
    case typed_field::float_data: put(t.float_data.floats()); break;
    case typed_field::double_data: put(t.double_data.doubles()); break;
    case typed_field::int64_data: put(t.int64_data.int64s()); break;
    case typed_field::uint64_data: put(t.uint64_data.uint64s()); break;
    case typed_field::int32_data: put(t.int32_data.int32s()); break;
    default: return make_error(errc::unsupported, "tensor '" + std::string(t.name) + "': no typed data field");
  }
  return out;
}

// A node's attributes, typed. `required` getters fail when the attribute is absent.
class node_attributes {
 public:
  explicit node_attributes(const node_proto& n) : node_(n) {}

  const attribute_proto* find(std::string_view name) const { return node_.find_attribute(name); }
  bool has(std::string_view name) const { return find(name) != nullptr; }

  expected<std::int64_t> get_int(std::string_view name, std::int64_t def) const {
    const attribute_proto* a = find(name);
    if (!a) return def;
    TESSERA_TRY(check(*a, attribute_type::int64, "an int"));
    return a->i;
  }
  expected<std::int64_t> require_int(std::string_view name) const {
    if (!has(name)) return missing(name);
    return get_int(name, 0);
  }
  expected<float> get_float(std::string_view name, float def) const {
    const attribute_proto* a = find(name);
    if (!a) return def;
    TESSERA_TRY(check(*a, attribute_type::float32, "a float"));
    return a->f;
  }
  expected<std::string> get_string(std::string_view name, std::string_view def) const {
    const attribute_proto* a = find(name);
    if (!a) return std::string(def);
    TESSERA_TRY(check(*a, attribute_type::string, "a string"));
    return std::string(a->s);
  }
  // Absent: nullopt. An empty list is a list.
  expected<std::optional<std::vector<std::int64_t>>> get_ints(std::string_view name) const {
    const attribute_proto* a = find(name);
    if (!a) return std::optional<std::vector<std::int64_t>>{};
    TESSERA_TRY(check(*a, attribute_type::ints, "a list of ints"));
    return std::optional<std::vector<std::int64_t>>(a->ints.int64s());
  }
  expected<std::optional<std::vector<float>>> get_floats(std::string_view name) const {
    const attribute_proto* a = find(name);
    if (!a) return std::optional<std::vector<float>>{};
    TESSERA_TRY(check(*a, attribute_type::floats, "a list of floats"));
    return std::optional<std::vector<float>>(a->floats.floats());
  }
  const tensor_proto* get_tensor(std::string_view name) const {
    const attribute_proto* a = find(name);
    return a && a->type == attribute_type::tensor && !a->t.empty() ? &a->t[0] : nullptr;
  }

 private:
  static status check(const attribute_proto& a, attribute_type want, const char* what) {
    // Some exporters leave `type` unset (0) for old files; accept the field that is present.
    if (a.type == want || a.type == attribute_type::undefined) return {};
    return make_error(errc::invalid_argument, "attribute '" + std::string(a.name) + "' must be " + what +
                                                  " (attribute type " + std::to_string(static_cast<int>(a.type)) + ")");
  }
  static error missing(std::string_view name) {
    return make_error(errc::invalid_argument, "required attribute '" + std::string(name) + "' is missing");
  }
  const node_proto& node_;
};

// What an op's builder sees: the node, its attributes and the opset of its domain.
struct build_ctx {
  const node_proto& node;
  int opset;
  node_attributes attrs;
  build_ctx(const node_proto& n, int version) : node(n), opset(version), attrs(n) {}
};

}  // namespace tessera::onnx
