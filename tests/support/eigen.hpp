// Eigen for tests that compare against it. Eigen's SSE path does not compile under em++, so
// WASM builds use its scalar path (every test TU that includes Eigen comes through here, so
// the setting is the same in the whole binary).
#pragma once

#if __has_include(<Eigen/Core>)
#if defined(__EMSCRIPTEN__) && !defined(EIGEN_DONT_VECTORIZE)
#define EIGEN_DONT_VECTORIZE
#endif
#include <Eigen/Core>
#include <tessera/eigen.hpp>  // tessera::eigen::matrix<T> and the tensor <-> Eigen maps
#define TESSERA_TEST_HAVE_EIGEN 1
#else
#define TESSERA_TEST_HAVE_EIGEN 0
#endif
