// The tables of an ONNX model compiled into a program (tessera/onnx/compiled.hpp loads them,
// tessera/onnx/compiled_writer.hpp writes them).
#pragma once

#include <cstdint>
#include <span>

namespace tessera::onnx::compiled {

// ---- the tables a generated header holds -------------------------------------------------
// Byte ranges point into the header's one data array (NAME_data); index ranges into its
// other arrays. Every table is constexpr: the program's image holds them as they are.
struct byte_range {
  std::uint64_t offset = 0, size = 0;
};
struct index_range {
  std::uint32_t first = 0, count = 0;
};
struct tensor_entry {
  const char* name;
  std::int32_t data_type;
  index_range dims;  // into dims
  byte_range data;   // little-endian, as TensorProto.raw_data
};
struct attribute_entry {
  const char* name;
  std::int32_t type;  // onnx::attribute_type
  float f;
  std::int64_t i;
  byte_range bytes;       // s; ints as packed varints; floats as packed fixed32
  index_range tensors;    // t (one) or tensors, into tensors
  index_range strings;    // into string_ranges
};
struct node_entry {
  const char* name;
  const char* op_type;
  index_range inputs, outputs;  // into value_names ("" is an omitted optional input)
  index_range attributes;
};
struct io_entry {
  const char* name;
  std::int32_t elem_type;
  bool has_shape;
  index_range dims;  // into dims; -1: unknown
};
struct model_tables {
  std::int64_t ir_version, opset;
  const char* producer;
  std::span<const unsigned char> data;
  std::span<const std::int64_t> dims;
  std::span<const char* const> value_names;
  std::span<const byte_range> string_ranges;
  std::span<const tensor_entry> initializers, tensors;
  std::span<const attribute_entry> attributes;
  std::span<const node_entry> nodes;
  std::span<const io_entry> inputs, outputs;
  std::span<const char* const> metadata;  // key, value, key, value...
};

}  // namespace tessera::onnx::compiled
