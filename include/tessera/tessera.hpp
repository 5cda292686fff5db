// tessera: the light umbrella header. Core tensors, SIMD layer, thread pool and the
// element-wise / normalization kernels. Heavier features have their own umbrellas:
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
