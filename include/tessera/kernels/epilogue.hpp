// Types shared by the GEMM/GEMV kernels, their scalar references and the layers on top:
// operand transposition and the fused epilogue (bias, residual, activation) that a kernel
// applies to each output tile while it is still in registers or L1.
#pragma once

#include <tessera/core/error.hpp>

#include <cmath>
#include <cstddef>
#include <string>

namespace tessera::kernels {

enum class activation : int { none, relu, silu, gelu, clip };  // gelu = exact erf form
enum class transpose : int { no, yes };

// out = act(alpha * op(A) op(B) + beta * C + bias + residual), in this order.
// `residual` must not overlap C (the kernels may write C before reading all of residual).
struct epilogue {
  const float* bias = nullptr;          // length N (one per output column), or null
  const float* residual = nullptr;      // M x N with leading dimension ld_residual, or null
  std::ptrdiff_t ld_residual = 0;
  activation act = activation::none;
  float clip_min = -INFINITY, clip_max = INFINITY;  // for activation::clip (ReLU6 = clip 0..6)
};

inline const char* activation_name(activation a) noexcept {
  switch (a) {
    case activation::none: return "none";
    case activation::relu: return "relu";
    case activation::silu: return "silu";
    case activation::gelu: return "gelu";
    case activation::clip: return "clip";
  }
  return "unknown";
}

namespace detail {

// Checks the parts of an epilogue that do not depend on pointers being valid for M x N
// (those are checked by the caller, which knows M and N).
inline status validate_epilogue(const epilogue& ep, const char* who) {
  switch (ep.act) {
    case activation::none: case activation::relu: case activation::silu: case activation::gelu: break;
    case activation::clip:
      if (std::isnan(ep.clip_min) || std::isnan(ep.clip_max) || ep.clip_min > ep.clip_max)
        return make_error(errc::invalid_argument, std::string(who) + ": clip bounds must satisfy clip_min <= clip_max");
      break;
    default:
      return make_error(errc::invalid_argument, std::string(who) + ": unknown activation");
  }
  return {};
}

}  // namespace detail
}  // namespace tessera::kernels
