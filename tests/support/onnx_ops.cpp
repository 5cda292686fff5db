// The ONNX op implementations, compiled once for the tests, examples and benchmarks of a build
// (the target tessera_onnx_ops in cmake/tessera_targets.cmake; onnx/registry.hpp).
#define TESSERA_ONNX_OPS_DEFINE
#include <tessera/onnx/registry.hpp>
