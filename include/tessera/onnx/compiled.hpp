// ONNX models compiled into a program: `tessera-onnx compile --model M.onnx --name NAME >
// NAME.hpp` writes a header holding the graph as constexpr tables (nodes, attributes, value
// names, the inputs' static shapes) and every weight as embedded bytes. The program includes
// it and calls NAME_load():
//
//     #include "digits.hpp"
//     auto model = digits_load();                  // tessera::onnx::model, planned at load
//     auto session = tessera::onnx::session::create(*model);
//
// What such a program carries: the ops the model uses and no other (NAME_ops selects the
// entries of ops.def at compile time; no builder of another op is referenced), and no
// protobuf parser (the tables become the importer's ModelProto directly). The importer, its
// folding and fusions and the planner are the runtime path's, so results are bit-identical
// to onnx::model::load on the file, which tests/onnx/compiled_test.cpp checks.
//
// write_compiled_header() (onnx/compiled_writer.hpp) is deterministic, so a generated header
// can be committed and checked by regenerating it.
#pragma once

#ifndef TESSERA_PUBLIC_FRONT  // the op implementations are private parts of this front too
#define TESSERA_PUBLIC_FRONT
#endif

#include <tessera/core/error.hpp>
#include <tessera/io/protobuf.hpp>
#include <tessera/onnx/compiled_tables.hpp>
#include <tessera/onnx/model_proto.hpp>
#include <tessera/onnx/ops/common.hpp>
#include <tessera/onnx/ops/conv.hpp>
#include <tessera/onnx/ops/elementwise.hpp>
#include <tessera/onnx/ops/linear.hpp>
#include <tessera/onnx/ops/norm.hpp>
#include <tessera/onnx/ops/pool.hpp>
#include <tessera/onnx/ops/reduce.hpp>
#include <tessera/onnx/ops/resize.hpp>
#include <tessera/onnx/ops/shape.hpp>
#include <tessera/onnx/registry.hpp>
#include <tessera/onnx/session.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

namespace tessera::onnx::compiled {

// ---- the op subset ---------------------------------------------------------------------
namespace detail {
// Declared only: reaching it in a constant expression stops the compilation with its name.
void a_compiled_model_names_an_op_type_this_tessera_does_not_have();

template <const auto& Types>
constexpr bool lists(std::string_view type) {
  for (std::string_view t : Types)
    if (t == type) return true;
  return false;
}
}  // namespace detail

// The op table of a compiled model: the entries of ops.def whose type `Types` (a constexpr
// array of op type names) lists. The other entries are discarded statements of this
// template, so their builders are never referenced and never reach the program.
template <const auto& Types>
struct op_subset {
  static constexpr std::size_t count = std::size(Types);
  static constexpr std::array<op_entry, count> make() {
    std::array<op_entry, count> out{};
    std::size_t k = 0;
#define TESSERA_ONNX_OP(type, first, last, builder, arg)                                                  \
  if constexpr (detail::lists<Types>(#type))                                                             \
    out[k++] = op_entry{#type, first, last, [](const build_ctx& b) { return ops::builder(b, arg); }};
#include <tessera/onnx/ops.def>
#undef TESSERA_ONNX_OP
    if (k != count) detail::a_compiled_model_names_an_op_type_this_tessera_does_not_have();
    return out;
  }
  static constexpr std::array<op_entry, count> table = make();
  static const op_entry* find(std::string_view type) noexcept {
    for (const op_entry& e : table)
      if (e.type == type) return &e;
    return nullptr;
  }
};

// ---- tables -> ModelProto -> model -----------------------------------------------------
namespace detail {

inline std::string_view view_of(const model_tables& m, byte_range r) {
  return {reinterpret_cast<const char*>(m.data.data() + r.offset), static_cast<std::size_t>(r.size)};
}

inline expected<tensor_proto> tensor_of(const model_tables& m, const tensor_entry& e) {
  tensor_proto t;
  t.name = e.name;
  t.type = static_cast<data_type>(e.data_type);
  t.dims.assign(m.dims.begin() + e.dims.first, m.dims.begin() + e.dims.first + e.dims.count);
  t.raw_data = bytes_view(m.data.data() + e.data.offset, static_cast<std::size_t>(e.data.size));
  t.has_raw_data = true;
  TESSERA_TRY(onnx::detail::validate_tensor(t, io::pb::field{}));
  return t;
}

inline status packed(io::pb::repeated_scalar& dst, std::uint32_t number, bytes_view payload) {
  if (payload.empty()) return {};
  io::pb::field f;
  f.number = number;
  f.type = io::pb::wire_type::length_delimited;
  f.payload = payload;
  return dst.add(f);
}

inline expected<model_proto> proto_of(const model_tables& m) {
  model_proto p;
  p.ir_version = m.ir_version;
  p.opset_import.push_back({"", m.opset});
  p.producer_name = m.producer;
  for (std::size_t i = 0; i + 1 < m.metadata.size(); i += 2) p.metadata_props.push_back({m.metadata[i], m.metadata[i + 1]});
  graph_proto& g = p.graph;
  for (const tensor_entry& e : m.initializers) {
    TESSERA_ASSIGN_OR_RETURN(tensor_proto t, tensor_of(m, e));
    g.initializers.push_back(std::move(t));
    g.initializer_is_input.push_back(false);
  }
  const auto io_of = [&](const io_entry& e) {
    value_info_proto v;
    v.name = e.name;
    v.is_tensor = true;
    v.elem_type = static_cast<data_type>(e.elem_type);
    v.has_shape = e.has_shape;
    for (std::uint32_t k = 0; k < e.dims.count; ++k) {
      const std::int64_t d = m.dims[e.dims.first + k];
      v.shape.push_back(d >= 0 ? dimension{d, {}, true} : dimension{});
    }
    return v;
  };
  for (const io_entry& e : m.inputs) g.inputs.push_back(io_of(e));
  for (const io_entry& e : m.outputs) g.outputs.push_back(io_of(e));
  for (const node_entry& n : m.nodes) {
    node_proto np;
    np.name = n.name;
    np.op_type = n.op_type;
    for (std::uint32_t k = 0; k < n.inputs.count; ++k) np.inputs.emplace_back(m.value_names[n.inputs.first + k]);
    for (std::uint32_t k = 0; k < n.outputs.count; ++k) np.outputs.emplace_back(m.value_names[n.outputs.first + k]);
    for (std::uint32_t k = 0; k < n.attributes.count; ++k) {
      const attribute_entry& e = m.attributes[n.attributes.first + k];
      attribute_proto a;
      a.name = e.name;
      a.type = static_cast<attribute_type>(e.type);
      a.f = e.f;
      a.i = e.i;
      const bytes_view payload(m.data.data() + e.bytes.offset, static_cast<std::size_t>(e.bytes.size));
      if (a.type == attribute_type::string) a.s = view_of(m, e.bytes);
      if (a.type == attribute_type::ints) TESSERA_TRY(packed(a.ints, 8, payload));
      if (a.type == attribute_type::floats) TESSERA_TRY(packed(a.floats, 7, payload));
      for (std::uint32_t s = 0; s < e.strings.count; ++s) a.strings.push_back(view_of(m, m.string_ranges[e.strings.first + s]));
      for (std::uint32_t t = 0; t < e.tensors.count; ++t) {
        TESSERA_ASSIGN_OR_RETURN(tensor_proto tp, tensor_of(m, m.tensors[e.tensors.first + t]));
        (a.type == attribute_type::tensor ? a.t : a.tensors).push_back(std::move(tp));
      }
      np.attributes.push_back(std::move(a));
    }
    g.nodes.push_back(std::move(np));
  }
  return p;
}

}  // namespace detail

// A compiled model's tables as an onnx::model, with the ops of `Types` only (what NAME_load()
// calls). The load options' limits apply as for a file.
template <const auto& Types>
expected<std::shared_ptr<const model>> load(const model_tables& tables, const load_options& opt = {}) {
  TESSERA_ASSIGN_OR_RETURN(const model_proto proto, detail::proto_of(tables));
  return model::from_proto(proto, opt, &op_subset<Types>::find);
}

}  // namespace tessera::onnx::compiled
