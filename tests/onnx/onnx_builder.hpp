// Hand-built ONNX models for the importer's tests: nodes, initializers and value infos written
// as protobuf bytes (tests/support/protobuf_writer.hpp, field numbers from onnx.proto), so a
// test can make exactly the broken graph it needs without Python.
#pragma once

#include "support/protobuf_writer.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tessera::test {

struct onnx_attr {
  std::string name;
  enum kind { i, f, ints, s } k = i;
  std::int64_t iv = 0;
  float fv = 0;
  std::vector<std::int64_t> list;
  std::string sv;
};
inline onnx_attr attr_int(std::string n, std::int64_t v) { return {std::move(n), onnx_attr::i, v, 0, {}, {}}; }
inline onnx_attr attr_float(std::string n, float v) { return {std::move(n), onnx_attr::f, 0, v, {}, {}}; }
inline onnx_attr attr_ints(std::string n, std::vector<std::int64_t> v) { return {std::move(n), onnx_attr::ints, 0, 0, std::move(v), {}}; }
inline onnx_attr attr_string(std::string n, std::string v) { return {std::move(n), onnx_attr::s, 0, 0, {}, std::move(v)}; }

class onnx_model_builder {
 public:
  explicit onnx_model_builder(int opset = 13) : opset_(opset) {}

  onnx_model_builder& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out, std::vector<onnx_attr> attrs = {},
                           const std::string& name = "") {
    pb_writer n;
    for (const auto& s : in) n.string_field(1, s);
    for (const auto& s : out) n.string_field(2, s);
    n.string_field(3, name.empty() ? op + "_" + std::to_string(count_++) : name);
    n.string_field(4, op);
    for (const auto& a : attrs) {
      pb_writer w;
      w.string_field(1, a.name);
      switch (a.k) {
        case onnx_attr::i: w.int_field(3, a.iv).int_field(20, 2); break;
        case onnx_attr::f: w.float_field(2, a.fv).int_field(20, 1); break;
        case onnx_attr::s: w.string_field(4, a.sv).int_field(20, 3); break;
        case onnx_attr::ints: {
          pb_writer packed;
          for (auto v : a.list) packed.varint(static_cast<std::uint64_t>(v));
          w.message(8, packed).int_field(20, 7);
          break;
        }
      }
      n.message(5, w);
    }
    graph_.message(1, n);
    return *this;
  }
  onnx_model_builder& initializer(const std::string& name, std::vector<std::int64_t> dims, const std::vector<float>& values) {
    pb_writer t;
    for (auto d : dims) t.int_field(1, d);
    t.int_field(2, 1).string_field(8, name);
    t.bytes_field(9, {reinterpret_cast<const std::uint8_t*>(values.data()), values.size() * 4});
    graph_.message(5, t);
    return *this;
  }
  onnx_model_builder& initializer_i64(const std::string& name, std::vector<std::int64_t> dims, const std::vector<std::int64_t>& values) {
    pb_writer t;
    for (auto d : dims) t.int_field(1, d);
    t.int_field(2, 7).string_field(8, name);
    t.bytes_field(9, {reinterpret_cast<const std::uint8_t*>(values.data()), values.size() * 8});
    graph_.message(5, t);
    return *this;
  }
  // dims: -1 for a symbolic dim named "N".
  onnx_model_builder& input(const std::string& name, std::vector<std::int64_t> dims, int elem_type = 1) {
    graph_.message(11, value_info(name, dims, elem_type));
    return *this;
  }
  onnx_model_builder& output(const std::string& name, std::vector<std::int64_t> dims = {}, int elem_type = 1) {
    graph_.message(12, value_info(name, dims, elem_type));
    return *this;
  }
  std::vector<std::uint8_t> bytes() const {
    pb_writer m, opset;
    m.int_field(1, 8);
    opset.string_field(1, "").int_field(2, opset_);
    m.message(8, opset);
    pb_writer g = graph_;
    g.string_field(2, "test");
    m.message(7, g);
    return m.b;
  }

 private:
  static pb_writer value_info(const std::string& name, const std::vector<std::int64_t>& dims, int elem_type) {
    pb_writer shape, tensor, type, vi;
    for (auto d : dims) {
      pb_writer dim;
      if (d >= 0) dim.int_field(1, d);
      else dim.string_field(2, "N");
      shape.message(1, dim);
    }
    tensor.int_field(1, elem_type);
    if (!dims.empty()) tensor.message(2, shape);
    type.message(1, tensor);
    vi.string_field(1, name).message(2, type);
    return vi;
  }
  int opset_;
  int count_ = 0;
  pb_writer graph_;
};

}  // namespace tessera::test
