// The ONNX op table: onnx/ops.def expanded into one constexpr array of {op type, opset range,
// builder}. find_op() is the importer's only way from an op type to its implementation.
//
// The op implementations are most of the ONNX importer's compile time (every kernel each op
// can dispatch to). A program with several translation units that load ONNX models can
// compile them once: define TESSERA_ONNX_OPS_EXTERN in every translation unit (then this
// header only declares find_op and registered_ops), and in exactly one of them also define
// TESSERA_ONNX_OPS_DEFINE before including it:
//
//   // onnx_ops.cpp, compiled with -DTESSERA_ONNX_OPS_EXTERN like the rest of the program
//   #define TESSERA_ONNX_OPS_DEFINE
//   #include <tessera/onnx/registry.hpp>
//
// Without TESSERA_ONNX_OPS_EXTERN (the default) everything is inline, header-only.
#pragma once

#ifndef TESSERA_PUBLIC_FRONT
#define TESSERA_PUBLIC_FRONT
#endif

#include <tessera/core/error.hpp>
#include <tessera/onnx/attributes.hpp>
#include <tessera/onnx/op.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#if !defined(TESSERA_ONNX_OPS_EXTERN) || defined(TESSERA_ONNX_OPS_DEFINE)
#include <tessera/onnx/ops/common.hpp>
#include <tessera/onnx/ops/conv.hpp>
#include <tessera/onnx/ops/elementwise.hpp>
#include <tessera/onnx/ops/linear.hpp>
#include <tessera/onnx/ops/norm.hpp>
#include <tessera/onnx/ops/pool.hpp>
#include <tessera/onnx/ops/reduce.hpp>
#include <tessera/onnx/ops/resize.hpp>
#include <tessera/onnx/ops/shape.hpp>
#endif

namespace tessera::onnx {

using op_builder = expected<std::unique_ptr<op>> (*)(const build_ctx&);

struct op_entry {
  std::string_view type;
  int first_opset, last_opset;
  op_builder build;
};

// How the importer finds an op type's entry: find_op (every op), or a compiled-in model's
// own table of the ops it uses (onnx/compiled.hpp), so that its program carries no other.
using op_lookup = const op_entry* (*)(std::string_view type) noexcept;

#if defined(TESSERA_ONNX_OPS_EXTERN) && !defined(TESSERA_ONNX_OPS_DEFINE)

// Defined in the one translation unit that defines TESSERA_ONNX_OPS_DEFINE.
const op_entry* find_op(std::string_view type) noexcept;
std::span<const op_entry> registered_ops() noexcept;

#else

#ifdef TESSERA_ONNX_OPS_EXTERN
#define TESSERA_ONNX_OPS_LINKAGE  // the one out-of-line definition
#else
#define TESSERA_ONNX_OPS_LINKAGE inline
#endif

namespace detail {
inline constexpr op_entry op_table[] = {
#define TESSERA_ONNX_OP(type, first, last, builder, arg) \
  {#type, first, last, [](const build_ctx& b) { return ops::builder(b, arg); }},
#include <tessera/onnx/ops.def>
#undef TESSERA_ONNX_OP
};
}  // namespace detail

TESSERA_ONNX_OPS_LINKAGE std::span<const op_entry> registered_ops() noexcept { return detail::op_table; }

TESSERA_ONNX_OPS_LINKAGE const op_entry* find_op(std::string_view type) noexcept {
  for (const op_entry& e : detail::op_table)
    if (e.type == type) return &e;
  return nullptr;
}

#undef TESSERA_ONNX_OPS_LINKAGE
#endif

}  // namespace tessera::onnx
