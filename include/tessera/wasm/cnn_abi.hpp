// The CNN family's generic module (the package's cnn-simd): an ONNX model from streamed bytes,
// parsed by tessera's protobuf reader and built from every op of onnx/ops.def, then run,
// detected on, described and freed by the ABI of wasm/cnn_session_abi.hpp.
//
//   tessera_cnn_load(bytes)                     -> model (consumes the byte buffer)
//   ... and every export of cnn_session_abi.hpp
#pragma once

#include <memory>

#include "tessera/onnx/session.hpp"
#include "tessera/wasm/abi.hpp"
#include "tessera/wasm/cnn_session_abi.hpp"

namespace tessera::wasm {

inline status load_cnn_model(std::unique_ptr<byte_buffer> bytes, std::unique_ptr<cnn_model>& out) {
  if (!bytes) return make_error(errc::invalid_argument, "cnn_load: no model bytes");
  TESSERA_ASSIGN_OR_RETURN(std::shared_ptr<const onnx::model> model, onnx::model::load(bytes->bytes, cnn_load_options()));
  bytes.reset();  // the model holds what it needs of the file
  return make_cnn_model(std::move(model), out);
}

}  // namespace tessera::wasm

// Loads an ONNX model from the streamed bytes, which it frees (whether or not the load
// succeeds), and makes its session. Null on failure (error slot set).
TESSERA_WASM_EXPORT tessera::wasm::cnn_model* tessera_cnn_load(tessera::wasm::byte_buffer* bytes) {
  return tessera::wasm::load_from_bytes<tessera::wasm::cnn_model>(bytes, tessera::wasm::load_cnn_model);
}
