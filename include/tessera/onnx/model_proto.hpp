// The structure of an ONNX model (ModelProto and the messages under it), decoded from its
// protobuf bytes without libprotobuf.
//
// Field numbers follow onnx/onnx.proto. Strings and raw tensor data are views into the input,
// which must outlive the decoded model; typed tensor fields are decoded on request. Decoding
// validates what the importer relies on: known data types, non-negative dims, element counts
// that do not overflow and that match the stored data, safe external-data locations.
// Fields tessera does not use (doc strings, sparse tensors, functions, training
// info) are skipped.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/io/protobuf.hpp"

namespace tessera::onnx {

using io::pb::bytes_view;

// TensorProto.DataType.
enum class data_type : std::int32_t {
  undefined = 0, float32 = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7,
  string = 8, boolean = 9, float16 = 10, float64 = 11, uint32 = 12, uint64 = 13, complex64 = 14,
  complex128 = 15, bfloat16 = 16, float8e4m3fn = 17, float8e4m3fnuz = 18, float8e5m2 = 19,
  float8e5m2fnuz = 20, uint4 = 21, int4 = 22, float4e2m1 = 23, float8e8m0 = 24, uint2 = 25, int2 = 26,
};

inline constexpr std::int32_t kMaxDataType = 26;

// Bits per element in raw_data (sub-byte types are packed); 0 for string and undefined.
inline int data_type_bits(data_type t) noexcept {
  switch (t) {
    case data_type::float32: case data_type::int32: case data_type::uint32: return 32;
    case data_type::uint8: case data_type::int8: case data_type::boolean: return 8;
    case data_type::float8e4m3fn: case data_type::float8e4m3fnuz: case data_type::float8e5m2:
    case data_type::float8e5m2fnuz: case data_type::float8e8m0: return 8;
    case data_type::uint16: case data_type::int16: case data_type::float16: case data_type::bfloat16: return 16;
    case data_type::int64: case data_type::uint64: case data_type::float64: case data_type::complex64: return 64;
    case data_type::complex128: return 128;
    case data_type::uint4: case data_type::int4: case data_type::float4e2m1: return 4;
    case data_type::uint2: case data_type::int2: return 2;
    case data_type::string: case data_type::undefined: return 0;
  }
  return 0;
}

// Which typed field of TensorProto holds a data type's values (onnx.proto's comments).
enum class typed_field : std::uint8_t { none, float_data, int32_data, string_data, int64_data, double_data, uint64_data };

inline typed_field typed_field_of(data_type t) noexcept {
  switch (t) {
    case data_type::float32: case data_type::complex64: return typed_field::float_data;
    case data_type::int64: return typed_field::int64_data;
    case data_type::float64: case data_type::complex128: return typed_field::double_data;
    case data_type::uint32: case data_type::uint64: return typed_field::uint64_data;
    case data_type::string: return typed_field::string_data;
    case data_type::undefined: return typed_field::none;
    default: return typed_field::int32_data;  // the 8/16-bit, sub-byte and float8 types
  }
}

// Elements per entry of the typed field: complex numbers take two, packed sub-byte types
// store one byte (two 4-bit or four 2-bit values) per int32 entry.
inline std::uint64_t typed_entries_for(data_type t, std::uint64_t numel) noexcept {
  switch (t) {
    case data_type::complex64: case data_type::complex128: return 2 * numel;
    case data_type::uint4: case data_type::int4: case data_type::float4e2m1: return (numel + 1) / 2;
    case data_type::uint2: case data_type::int2: return (numel + 3) / 4;
    default: return numel;
  }
}

// More elements than any real tensor; keeps numel * bits far from overflowing 64 bits.
inline constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 56;

enum class data_location : std::int32_t { inline_data = 0, external = 1 };

struct external_data_info {
  std::string_view location;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool has_length = false;
  std::string_view checksum;
};

struct tensor_proto {
  std::string_view name;
  std::vector<std::int64_t> dims;
  data_type type = data_type::undefined;
  std::uint64_t numel = 1;
  bytes_view raw_data;
  bool has_raw_data = false;
  io::pb::repeated_scalar float_data{io::pb::scalar_kind::fixed32};
  io::pb::repeated_scalar int32_data{io::pb::scalar_kind::varint};
  io::pb::repeated_scalar int64_data{io::pb::scalar_kind::varint};
  io::pb::repeated_scalar double_data{io::pb::scalar_kind::fixed64};
  io::pb::repeated_scalar uint64_data{io::pb::scalar_kind::varint};
  std::vector<std::string_view> string_data;
  data_location location = data_location::inline_data;
  external_data_info external;
  std::size_t offset = 0;  // where the message starts in the file, for later errors

  bool is_external() const noexcept { return location == data_location::external; }
  // Bytes of the little-endian (packed, for sub-byte types) data: raw_data's size.
  std::uint64_t byte_size() const noexcept { return (numel * static_cast<std::uint64_t>(data_type_bits(type)) + 7) / 8; }

  // The values of a float32 tensor (raw_data or float_data; external data: resolve it first).
  expected<std::vector<float>> floats() const { return values<float>(data_type::float32, float_data, &io::pb::repeated_scalar::floats); }
  // The values of an int64 tensor (shape constants, axes), or an int32 one widened.
  expected<std::vector<std::int64_t>> int64s() const {
    if (type == data_type::int32) {
      TESSERA_ASSIGN_OR_RETURN(auto narrow, values<std::int32_t>(data_type::int32, int32_data, &io::pb::repeated_scalar::int32s));
      return std::vector<std::int64_t>(narrow.begin(), narrow.end());
    }
    return values<std::int64_t>(data_type::int64, int64_data, &io::pb::repeated_scalar::int64s);
  }

 private:
  template <class T>
  expected<std::vector<T>> values(data_type want, const io::pb::repeated_scalar& typed,
                                  std::vector<T> (io::pb::repeated_scalar::*decode)() const) const {
    if (type != want)
      return make_error(errc::invalid_argument, "tensor '" + std::string(name) + "': data type " +
                                                    std::to_string(static_cast<int>(type)) + ", not " + std::to_string(static_cast<int>(want)));
    if (is_external())
      return make_error(errc::unsupported, "tensor '" + std::string(name) + "': external data must be resolved first");
    if (!has_raw_data) return (typed.*decode)();
    std::vector<T> out(static_cast<std::size_t>(numel));  // numel * sizeof(T) == raw_data.size(), checked at parse
    if (!out.empty()) std::memcpy(out.data(), raw_data.data(), out.size() * sizeof(T));
    return out;
  }
};

struct dimension {
  std::int64_t value = 0;
  std::string_view param;
  bool has_value = false;  // neither value nor param: an unknown dim
};

struct value_info_proto {
  std::string_view name;
  bool is_tensor = false;  // a TypeProto.Tensor; sequences, maps and optionals are skipped
  data_type elem_type = data_type::undefined;
  bool has_shape = false;  // no shape: any rank
  std::vector<dimension> shape;
  bool is_initializer = false;  // graph input also given as an initializer: a constant unless fed
};

struct graph_proto;

enum class attribute_type : std::int32_t {
  undefined = 0, float32 = 1, int64 = 2, string = 3, tensor = 4, graph = 5, floats = 6, ints = 7,
  strings = 8, tensors = 9, graphs = 10, sparse_tensor = 11, sparse_tensors = 12, type_proto = 13,
  type_protos = 14,
};

struct attribute_proto {
  std::string_view name;
  attribute_type type = attribute_type::undefined;
  float f = 0;
  std::int64_t i = 0;
  std::string_view s;
  std::vector<tensor_proto> t;  // 0 or 1
  std::vector<graph_proto> g;   // 0 or 1: If/Loop bodies, decoded but not yet imported
  io::pb::repeated_scalar floats{io::pb::scalar_kind::fixed32};
  io::pb::repeated_scalar ints{io::pb::scalar_kind::varint};
  std::vector<std::string_view> strings;
  std::vector<tensor_proto> tensors;
  std::vector<graph_proto> graphs;
};

struct node_proto {
  std::string_view name;
  std::string_view op_type;
  std::string_view domain;
  std::vector<std::string_view> inputs;  // "" marks an omitted optional input
  std::vector<std::string_view> outputs;
  std::vector<attribute_proto> attributes;

  const attribute_proto* find_attribute(std::string_view n) const noexcept {
    for (const auto& a : attributes)
      if (a.name == n) return &a;
    return nullptr;
  }
};

struct graph_proto {
  std::string_view name;
  std::vector<node_proto> nodes;
  std::vector<tensor_proto> initializers;
  std::vector<bool> initializer_is_input;  // per initializer: also listed in inputs
  std::vector<value_info_proto> inputs;
  std::vector<value_info_proto> outputs;
  std::vector<value_info_proto> value_info;
};

struct opset_id {
  std::string_view domain;  // "" is the default ai.onnx domain
  std::int64_t version = 0;
};

// One StringStringEntryProto of ModelProto.metadata_props.
struct metadata_entry {
  std::string_view key, value;
};

struct model_proto {
  std::int64_t ir_version = 0;
  std::vector<opset_id> opset_import;
  std::string_view producer_name;
  std::string_view producer_version;
  std::string_view domain;
  std::int64_t model_version = 0;
  graph_proto graph;
  std::vector<metadata_entry> metadata_props;  // e.g. Ultralytics' "names", "stride", "task"
};

namespace detail {

using io::pb::field;
using io::pb::reader;
using io::pb::wire_type;

inline error at(const field& f, std::string_view what) { return io::pb::wire_error(f.offset, f.number, what); }

inline status read_string(const field& f, std::string_view& out, std::string_view what) {
  TESSERA_TRY(io::pb::expect_wire_type(f, wire_type::length_delimited, what));
  out = f.as_string();
  return {};
}
inline status append_string(const field& f, std::vector<std::string_view>& out, std::string_view what) {
  TESSERA_TRY(read_string(f, out.emplace_back(), what));
  return {};
}
inline status read_int64(const field& f, std::int64_t& out, std::string_view what) {
  TESSERA_TRY(io::pb::expect_wire_type(f, wire_type::varint, what));
  out = f.as_int64();
  return {};
}
inline status read_int32(const field& f, std::int32_t& out, std::string_view what) {
  TESSERA_TRY(io::pb::expect_wire_type(f, wire_type::varint, what));
  out = f.as_int32();
  return {};
}

// Calls on_field(f) for every field of the message in f; on_field returns a status.
template <class OnField>
status for_each_field(const reader& parent, const field& f, OnField&& on_field) {
  TESSERA_ASSIGN_OR_RETURN(reader r, parent.sub(f));
  while (!r.at_end()) {
    TESSERA_ASSIGN_OR_RETURN(field inner, r.next());
    TESSERA_TRY(on_field(r, inner));
  }
  return {};
}

inline bool parse_decimal(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

inline status parse_external_entry(const reader& r, const field& f, external_data_info& ext) {
  std::string_view key, value;
  TESSERA_TRY(for_each_field(r, f, [&](const reader&, const field& e) -> status {
    if (e.number == 1) return read_string(e, key, "external_data.key");
    if (e.number == 2) return read_string(e, value, "external_data.value");
    return {};
  }));
  if (key == "location") {
    ext.location = value;
  } else if (key == "offset" || key == "length") {
    std::uint64_t n = 0;
    if (!parse_decimal(value, n)) return at(f, "external_data " + std::string(key) + " is not a decimal number");
    if (key == "offset") ext.offset = n;
    else ext.length = n, ext.has_length = true;
  } else if (key == "checksum") {
    ext.checksum = value;
  }
  return {};
}

// Element count, data type and data size agree (or the data is external).
inline status validate_tensor(tensor_proto& t, const field& where) {
  const std::string label = "tensor '" + std::string(t.name) + "'";
  const auto code = static_cast<std::int32_t>(t.type);
  if (code <= 0 || code > kMaxDataType) return at(where, label + ": unknown data type " + std::to_string(code));
  std::uint64_t numel = 1;
  for (std::int64_t d : t.dims) {
    if (d < 0) return at(where, label + ": negative dim " + std::to_string(d));
    const auto ud = static_cast<std::uint64_t>(d);
    if (ud != 0 && numel > kMaxElements / ud) return at(where, label + ": element count overflows");
    numel *= ud;
  }
  t.numel = numel;
  const typed_field holder = typed_field_of(t.type);
  const int typed_present = !t.float_data.empty() + !t.int32_data.empty() + !t.int64_data.empty() +
                            !t.double_data.empty() + !t.uint64_data.empty() + !t.string_data.empty();
  if (typed_present + int{t.has_raw_data} + int{t.is_external()} > 1)
    return at(where, label + ": more than one data field");
  if (t.is_external()) {
    if (t.external.location.empty()) return at(where, label + ": external data without a location");
    if (t.type == data_type::string) return at(where, label + ": string tensors cannot be external");
    if (t.external.has_length && t.external.length != t.byte_size())
      return at(where, label + ": external length " + std::to_string(t.external.length) + " != " +
                           std::to_string(t.byte_size()) + " bytes of data");
    return {};
  }
  if (t.has_raw_data) {
    if (t.type == data_type::string) return at(where, label + ": string tensor in raw_data");
    if (t.raw_data.size() != t.byte_size())
      return at(where, label + ": raw_data of " + std::to_string(t.raw_data.size()) + " bytes, " +
                           std::to_string(numel) + " elements need " + std::to_string(t.byte_size()));
    return {};
  }
  std::size_t have = 0;
  typed_field present = typed_field::none;
  if (!t.float_data.empty()) present = typed_field::float_data, have = t.float_data.size();
  if (!t.int32_data.empty()) present = typed_field::int32_data, have = t.int32_data.size();
  if (!t.int64_data.empty()) present = typed_field::int64_data, have = t.int64_data.size();
  if (!t.double_data.empty()) present = typed_field::double_data, have = t.double_data.size();
  if (!t.uint64_data.empty()) present = typed_field::uint64_data, have = t.uint64_data.size();
  if (!t.string_data.empty()) present = typed_field::string_data, have = t.string_data.size();
  const std::uint64_t want = typed_entries_for(t.type, numel);
  if (present == typed_field::none) {
    if (want != 0) return at(where, label + ": no data for " + std::to_string(numel) + " elements");
    return {};
  }
  if (present != holder) return at(where, label + ": data stored in the wrong typed field for data type " + std::to_string(code));
  if (have != want)
    return at(where, label + ": " + std::to_string(have) + " values stored, " + std::to_string(want) + " expected");
  return {};
}

inline status parse_tensor(const reader& parent, const field& f, tensor_proto& t) {
  t.offset = f.offset;
  io::pb::repeated_scalar dims{io::pb::scalar_kind::varint};
  std::int32_t type_code = 0, location_code = 0;
  TESSERA_TRY(for_each_field(parent, f, [&](const reader& r, const field& e) -> status {
    switch (e.number) {
      case 1: return dims.add(e);
      case 2: return read_int32(e, type_code, "TensorProto.data_type");
      case 4: return t.float_data.add(e);
      case 5: return t.int32_data.add(e);
      case 6: return append_string(e, t.string_data, "TensorProto.string_data");
      case 7: return t.int64_data.add(e);
      case 8: return read_string(e, t.name, "TensorProto.name");
      case 9:
        TESSERA_TRY(io::pb::expect_wire_type(e, wire_type::length_delimited, "TensorProto.raw_data"));
        t.raw_data = e.payload;
        t.has_raw_data = true;
        return {};
      case 10: return t.double_data.add(e);
      case 11: return t.uint64_data.add(e);
      case 13: return parse_external_entry(r, e, t.external);
      case 14: return read_int32(e, location_code, "TensorProto.data_location");
      default: return {};
    }
  }));
  t.dims = dims.int64s();
  t.type = static_cast<data_type>(type_code);
  if (location_code != 0 && location_code != 1) return at(f, "TensorProto.data_location " + std::to_string(location_code) + " unknown");
  t.location = static_cast<data_location>(location_code);
  return validate_tensor(t, f);
}

inline status parse_shape(const reader& parent, const field& f, value_info_proto& v) {
  v.has_shape = true;
  return for_each_field(parent, f, [&](const reader& r, const field& e) -> status {
    if (e.number != 1) return {};
    dimension d;
    TESSERA_TRY(for_each_field(r, e, [&](const reader&, const field& x) -> status {
      if (x.number == 1) {
        d.has_value = true;
        d.param = {};  // a oneof: the last one on the wire wins
        return read_int64(x, d.value, "Dimension.dim_value");
      }
      if (x.number == 2) {
        d.has_value = false;
        return read_string(x, d.param, "Dimension.dim_param");
      }
      return {};
    }));
    if (d.has_value && d.value < 0) return at(e, "value_info '" + std::string(v.name) + "': negative dim " + std::to_string(d.value));
    v.shape.push_back(d);
    return {};
  });
}

inline status parse_value_info(const reader& parent, const field& f, value_info_proto& v) {
  return for_each_field(parent, f, [&](const reader& r, const field& e) -> status {
    if (e.number == 1) return read_string(e, v.name, "ValueInfoProto.name");
    if (e.number != 2) return {};
    return for_each_field(r, e, [&](const reader& r2, const field& ty) -> status {
      if (ty.number != 1) return {};  // sequence, map, optional, sparse: not tensors
      v.is_tensor = true;
      return for_each_field(r2, ty, [&](const reader& r3, const field& te) -> status {
        if (te.number == 1) {
          std::int32_t code = 0;
          TESSERA_TRY(read_int32(te, code, "TypeProto.Tensor.elem_type"));
          if (code < 0 || code > kMaxDataType) return at(te, "value_info '" + std::string(v.name) + "': unknown elem_type " + std::to_string(code));
          v.elem_type = static_cast<data_type>(code);
          return {};
        }
        if (te.number == 2) return parse_shape(r3, te, v);
        return {};
      });
    });
  });
}

inline status parse_graph(const reader& parent, const field& f, graph_proto& g);

inline status parse_attribute(const reader& parent, const field& f, attribute_proto& a) {
  std::int32_t type_code = 0;
  TESSERA_TRY(for_each_field(parent, f, [&](const reader& r, const field& e) -> status {
    switch (e.number) {
      case 1: return read_string(e, a.name, "AttributeProto.name");
      case 2:
        TESSERA_TRY(io::pb::expect_wire_type(e, wire_type::fixed32, "AttributeProto.f"));
        a.f = e.as_float();
        return {};
      case 3: return read_int64(e, a.i, "AttributeProto.i");
      case 4: return read_string(e, a.s, "AttributeProto.s");
      case 5: a.t.clear(); TESSERA_TRY(r.charge(e, sizeof(tensor_proto))); return parse_tensor(r, e, a.t.emplace_back());
      case 6: a.g.clear(); TESSERA_TRY(r.charge(e, sizeof(graph_proto))); return parse_graph(r, e, a.g.emplace_back());
      case 7: return a.floats.add(e);
      case 8: return a.ints.add(e);
      case 9: return append_string(e, a.strings, "AttributeProto.strings");
      case 10: TESSERA_TRY(r.charge(e, sizeof(tensor_proto))); return parse_tensor(r, e, a.tensors.emplace_back());
      case 11: TESSERA_TRY(r.charge(e, sizeof(graph_proto))); return parse_graph(r, e, a.graphs.emplace_back());
      case 20: return read_int32(e, type_code, "AttributeProto.type");
      default: return {};
    }
  }));
  if (type_code < 0 || type_code > 14)
    return at(f, "attribute '" + std::string(a.name) + "': unknown type " + std::to_string(type_code));
  a.type = static_cast<attribute_type>(type_code);
  return {};
}

inline status parse_node(const reader& parent, const field& f, node_proto& n) {
  return for_each_field(parent, f, [&](const reader& r, const field& e) -> status {
    switch (e.number) {
      case 1: return append_string(e, n.inputs, "NodeProto.input");
      case 2: return append_string(e, n.outputs, "NodeProto.output");
      case 3: return read_string(e, n.name, "NodeProto.name");
      case 4: return read_string(e, n.op_type, "NodeProto.op_type");
      case 5: TESSERA_TRY(r.charge(e, sizeof(attribute_proto))); return parse_attribute(r, e, n.attributes.emplace_back());
      case 7: return read_string(e, n.domain, "NodeProto.domain");
      default: return {};
    }
  });
}

// Flags the initializers that are also graph inputs (hashing: quadratic matching would let
// a hostile graph of many names stall the loader).
inline void mark_initializer_inputs(graph_proto& g) {
  std::unordered_map<std::string_view, std::size_t> by_name;
  by_name.reserve(g.initializers.size());
  for (std::size_t i = 0; i < g.initializers.size(); ++i) by_name[g.initializers[i].name] = i;
  g.initializer_is_input.assign(g.initializers.size(), false);
  for (auto& in : g.inputs) {
    auto it = by_name.find(in.name);
    if (it == by_name.end()) continue;
    in.is_initializer = true;
    g.initializer_is_input[it->second] = true;
  }
}

inline status parse_graph(const reader& parent, const field& f, graph_proto& g) {
  TESSERA_TRY(for_each_field(parent, f, [&](const reader& r, const field& e) -> status {
    switch (e.number) {
      case 1: TESSERA_TRY(r.charge(e, sizeof(node_proto))); return parse_node(r, e, g.nodes.emplace_back());
      case 2: return read_string(e, g.name, "GraphProto.name");
      case 5: TESSERA_TRY(r.charge(e, sizeof(tensor_proto))); return parse_tensor(r, e, g.initializers.emplace_back());
      case 11: TESSERA_TRY(r.charge(e, sizeof(value_info_proto))); return parse_value_info(r, e, g.inputs.emplace_back());
      case 12: TESSERA_TRY(r.charge(e, sizeof(value_info_proto))); return parse_value_info(r, e, g.outputs.emplace_back());
      case 13: TESSERA_TRY(r.charge(e, sizeof(value_info_proto))); return parse_value_info(r, e, g.value_info.emplace_back());
      default: return {};
    }
  }));
  mark_initializer_inputs(g);
  return {};
}

// Bound on decoded struct bytes per input byte (see parse_top_level).
inline constexpr std::uint64_t kDecodedPerInputByte = 32;

// Runs a parse_* function on the whole input as one message (a file holds its top message
// without a length prefix).
template <class T, class Parse>
expected<T> parse_top_level(bytes_view bytes, int max_depth, Parse&& parse) {
  field whole;
  whole.number = 0;
  whole.type = wire_type::length_delimited;
  whole.payload = bytes;
  reader root(bytes_view{}, 0, -1, max_depth);  // sub() of it is depth 0
  // Nodes, attributes, tensors, graphs and value infos decoded (each 24-380 bytes of struct,
  // from as little as 2 bytes of file): the 536 models of ../shared and the repo need at most
  // 10x their size, a file of empty messages would take 60-190x.
  std::uint64_t budget = std::uint64_t{kDecodedPerInputByte} * bytes.size() + (std::uint64_t{1} << 20);
  root.set_decode_budget(&budget);
  T out;
  TESSERA_TRY(parse(root, whole, out));
  return out;
}

}  // namespace detail

// Decodes a serialized ModelProto. The result views `bytes`: keep them alive.
inline expected<model_proto> parse_model(bytes_view bytes, int max_depth = io::pb::kDefaultMaxDepth) {
  return detail::parse_top_level<model_proto>(bytes, max_depth, [](const io::pb::reader& root, const io::pb::field& whole,
                                                                    model_proto& m) -> status {
    bool has_graph = false;
    TESSERA_TRY(detail::for_each_field(root, whole, [&](const io::pb::reader& r, const io::pb::field& e) -> status {
      switch (e.number) {
        case 1: return detail::read_int64(e, m.ir_version, "ModelProto.ir_version");
        case 2: return detail::read_string(e, m.producer_name, "ModelProto.producer_name");
        case 3: return detail::read_string(e, m.producer_version, "ModelProto.producer_version");
        case 4: return detail::read_string(e, m.domain, "ModelProto.domain");
        case 5: return detail::read_int64(e, m.model_version, "ModelProto.model_version");
        case 7:
          has_graph = true;
          m.graph = graph_proto{};  // a repeated singular message: the last one wins
          return detail::parse_graph(r, e, m.graph);
        case 8: {
          TESSERA_TRY(r.charge(e, sizeof(opset_id)));
          opset_id& id = m.opset_import.emplace_back();
          return detail::for_each_field(r, e, [&](const io::pb::reader&, const io::pb::field& x) -> status {
            if (x.number == 1) return detail::read_string(x, id.domain, "OperatorSetIdProto.domain");
            if (x.number == 2) return detail::read_int64(x, id.version, "OperatorSetIdProto.version");
            return {};
          });
        }
        case 14: {
          TESSERA_TRY(r.charge(e, sizeof(metadata_entry)));
          metadata_entry& kv = m.metadata_props.emplace_back();
          return detail::for_each_field(r, e, [&](const io::pb::reader&, const io::pb::field& x) -> status {
            if (x.number == 1) return detail::read_string(x, kv.key, "StringStringEntryProto.key");
            if (x.number == 2) return detail::read_string(x, kv.value, "StringStringEntryProto.value");
            return {};
          });
        }
        default: return {};
      }
    }));
    if (!has_graph) return make_error(errc::parse_error, "onnx: the model has no graph");
    return {};
  });
}

// Decodes a serialized TensorProto (the conformance suite's input_N.pb / output_N.pb).
inline expected<tensor_proto> parse_tensor(bytes_view bytes, int max_depth = io::pb::kDefaultMaxDepth) {
  return detail::parse_top_level<tensor_proto>(bytes, max_depth, [](const io::pb::reader& root, const io::pb::field& whole,
                                                                     tensor_proto& t) { return detail::parse_tensor(root, whole, t); });
}

// External data. A location must stay inside the model's directory: relative, no "..", no
// drive letters or backslashes (a hostile model must not read /etc/passwd).
inline status check_external_location(std::string_view loc) {
  auto bad = [&](const char* why) { return make_error(errc::invalid_argument, "external data location '" + std::string(loc) + "': " + why); };
  if (loc.empty()) return bad("empty");
  if (loc.front() == '/') return bad("absolute path");
  if (loc.find('\\') != std::string_view::npos || loc.find(':') != std::string_view::npos) return bad("backslash or drive letter");
  if (loc.find('\0') != std::string_view::npos) return bad("NUL byte");
  std::size_t start = 0;
  while (start <= loc.size()) {
    const std::size_t slash = std::min(loc.find('/', start), loc.size());
    if (loc.substr(start, slash - start) == "..") return bad("'..' leaves the model's directory");
    start = slash + 1;
  }
  return {};
}

// Gives the bytes of an external file by its (checked) location; the caller decides how
// (a memory map, a fetched buffer in the browser).
using external_file_fn = std::function<expected<bytes_view>(std::string_view location)>;

// Where a tensor's data lies in its external file of `file_size` bytes.
inline expected<std::uint64_t> external_range_start(const tensor_proto& t, std::uint64_t file_size) {
  const std::string label = "tensor '" + std::string(t.name) + "'";
  if (!t.is_external()) return make_error(errc::invalid_argument, label + ": data is not external");
  TESSERA_TRY(check_external_location(t.external.location));
  const std::uint64_t need = t.byte_size();
  if (t.external.offset > file_size || need > file_size - t.external.offset)
    return make_error(errc::out_of_range, label + ": external range [" + std::to_string(t.external.offset) + ", +" +
                                              std::to_string(need) + ") past the end of '" + std::string(t.external.location) +
                                              "' (" + std::to_string(file_size) + " bytes)");
  return t.external.offset;
}

// The tensor's external data as a view into the caller's file bytes.
inline expected<bytes_view> resolve_external(const tensor_proto& t, const external_file_fn& open_file) {
  TESSERA_TRY(check_external_location(t.external.location));
  TESSERA_ASSIGN_OR_RETURN(bytes_view file, open_file(t.external.location));
  TESSERA_ASSIGN_OR_RETURN(std::uint64_t start, external_range_start(t, file.size()));
  return file.subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(t.byte_size()));
}

// Reads the tensor's external data from base_dir/location: only its range, after checking
// the range against the file's size.
inline expected<std::vector<std::uint8_t>> read_external(const tensor_proto& t, const std::string& base_dir) {
  TESSERA_TRY(check_external_location(t.external.location));
  const std::string path = (base_dir.empty() ? std::string(".") : base_dir) + "/" + std::string(t.external.location);
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) return make_error(errc::io_error, "cannot open '" + path + "'");
  std::vector<std::uint8_t> out;
  auto fail = [&](errc code, std::string msg) -> error {
    std::fclose(fp);
    return make_error(code, std::move(msg));
  };
  if (std::fseek(fp, 0, SEEK_END) != 0) return fail(errc::io_error, "cannot seek in '" + path + "'");
  const long size = std::ftell(fp);
  if (size < 0) return fail(errc::io_error, "cannot size '" + path + "'");
  auto start = external_range_start(t, static_cast<std::uint64_t>(size));
  if (!start.ok()) return fail(start.err().code, start.err().message);
  if (std::fseek(fp, static_cast<long>(*start), SEEK_SET) != 0) return fail(errc::io_error, "cannot seek in '" + path + "'");
  out.resize(static_cast<std::size_t>(t.byte_size()));  // bounded by the file's size, checked above
  if (!out.empty() && std::fread(out.data(), 1, out.size(), fp) != out.size()) return fail(errc::io_error, "short read of '" + path + "'");
  std::fclose(fp);
  return out;
}

}  // namespace tessera::onnx
