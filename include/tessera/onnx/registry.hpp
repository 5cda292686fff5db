// The ONNX op table: onnx/ops.def expanded into one constexpr array of {op type, opset range,
// builder}. find_op() is the importer's only way from an op type to its implementation.
#pragma once

#ifndef TESSERA_PUBLIC_FRONT
#define TESSERA_PUBLIC_FRONT
#endif

#include <tessera/core/error.hpp>
#include <tessera/onnx/attributes.hpp>
#include <tessera/onnx/op.hpp>

#include <tessera/onnx/ops/common.hpp>
#include <tessera/onnx/ops/conv.hpp>
#include <tessera/onnx/ops/elementwise.hpp>
#include <tessera/onnx/ops/linear.hpp>
#include <tessera/onnx/ops/norm.hpp>
#include <tessera/onnx/ops/pool.hpp>
#include <tessera/onnx/ops/reduce.hpp>
#include <tessera/onnx/ops/resize.hpp>
#include <tessera/onnx/ops/shape.hpp>

#include <cstddef>
#include <memory>
#include <string_view>

namespace tessera::onnx {

using op_builder = expected<std::unique_ptr<op>> (*)(const build_ctx&);

struct op_entry {
  std::string_view type;
  int first_opset, last_opset;
  op_builder build;
};

inline constexpr op_entry op_table[] = {
#define TESSERA_ONNX_OP(type, first, last, builder, arg) \
  {#type, first, last, [](const build_ctx& b) { return ops::builder(b, arg); }},
#include <tessera/onnx/ops.def>
#undef TESSERA_ONNX_OP
};
inline constexpr std::size_t op_count = sizeof(op_table) / sizeof(op_table[0]);

inline const op_entry* find_op(std::string_view type) noexcept {
  for (const op_entry& e : op_table)
    if (e.type == type) return &e;
  return nullptr;
}

}  // namespace tessera::onnx
