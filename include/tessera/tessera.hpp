// tessera: the light umbrella header. Core tensors, SIMD layer, thread pool and the kernels
// (element-wise, reductions, softmax, norms, GEMM/GEMV, convolutions, pooling). Heavier
// features have their own umbrellas:
// <tessera/trees.hpp> (gradient-boosted trees and their loaders), <tessera/eigen.hpp>
// (Eigen interop).
#pragma once

#include <tessera/config.hpp>
#include <tessera/version.hpp>
#include <tessera/fwd.hpp>

#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/core/tensor.hpp>

#include <tessera/simd/simd.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <tessera/kernels/unary.hpp>
#include <tessera/kernels/binary.hpp>
#include <tessera/kernels/reduce.hpp>
#include <tessera/kernels/softmax.hpp>
#include <tessera/kernels/norm.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/kernels/gemv.hpp>
#include <tessera/kernels/conv2d.hpp>
#include <tessera/kernels/pool.hpp>
#include <tessera/kernels/layout.hpp>
