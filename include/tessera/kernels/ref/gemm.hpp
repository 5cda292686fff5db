// Scalar references of gemm_f32 and gemv_f32: the test oracle. Accumulates in double,
// applies the epilogue in double (activations from ref/activation.hpp) and rounds once. No
// validation: callers pass valid shapes.
#pragma once

#include <tessera/kernels/epilogue.hpp>
#include <tessera/kernels/ref/activation.hpp>

#include <cstddef>

namespace tessera::kernels::ref {

// C[M,N] = epilogue(alpha * op(A) op(B) + beta * C); beta == 0 ignores C (NaN included), and
// alpha == 0 ignores A and B, as in BLAS.
inline void gemm_f32(std::size_t M, std::size_t N, std::size_t K, float alpha, const float* A,
                     std::ptrdiff_t lda, transpose trans_a, const float* B, std::ptrdiff_t ldb,
                     transpose trans_b, float beta, float* C, std::ptrdiff_t ldc, const epilogue& ep = {}) {
  auto a = [&](std::size_t i, std::size_t k) -> double {
    return trans_a == transpose::no ? A[static_cast<std::ptrdiff_t>(i) * lda + static_cast<std::ptrdiff_t>(k)]
                                    : A[static_cast<std::ptrdiff_t>(k) * lda + static_cast<std::ptrdiff_t>(i)];
  };
  auto b = [&](std::size_t k, std::size_t j) -> double {
    return trans_b == transpose::no ? B[static_cast<std::ptrdiff_t>(k) * ldb + static_cast<std::ptrdiff_t>(j)]
                                    : B[static_cast<std::ptrdiff_t>(j) * ldb + static_cast<std::ptrdiff_t>(k)];
  };
  for (std::size_t i = 0; i < M; ++i) {
    for (std::size_t j = 0; j < N; ++j) {
      double acc = 0;
      if (alpha != 0.0f)
        for (std::size_t k = 0; k < K; ++k) acc += a(i, k) * b(k, j);
      float& c = C[static_cast<std::ptrdiff_t>(i) * ldc + static_cast<std::ptrdiff_t>(j)];
      double x = static_cast<double>(alpha) * acc;
      if (beta != 0.0f) x += static_cast<double>(beta) * c;
      if (ep.bias) x += ep.bias[j];
      if (ep.residual) x += ep.residual[static_cast<std::ptrdiff_t>(i) * ep.ld_residual + static_cast<std::ptrdiff_t>(j)];
      c = static_cast<float>(act::apply(ep, x));
    }
  }
}

// y[N] = epilogue(alpha * W[N,K] x[K] + beta * y); W row-major with leading dimension ldw.
// The epilogue's residual is a vector of length N here (ld_residual is not used).
inline void gemv_f32(std::size_t N, std::size_t K, float alpha, const float* W, std::ptrdiff_t ldw,
                     const float* x, float beta, float* y, const epilogue& ep = {}) {
  for (std::size_t n = 0; n < N; ++n) {
    double acc = 0;
    if (alpha != 0.0f)
      for (std::size_t k = 0; k < K; ++k) acc += static_cast<double>(W[static_cast<std::ptrdiff_t>(n) * ldw + static_cast<std::ptrdiff_t>(k)]) * x[k];
    double v = static_cast<double>(alpha) * acc;
    if (beta != 0.0f) v += static_cast<double>(beta) * y[n];
    if (ep.bias) v += ep.bias[n];
    if (ep.residual) v += ep.residual[n];
    y[n] = static_cast<float>(act::apply(ep, v));
  }
}

}  // namespace tessera::kernels::ref
