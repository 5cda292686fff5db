// f32 matrix-vector product y = W x with W stored row-major N x K (one output per row of W, a
// dot product over contiguous K). This is the shape of LLM decoding (one token at a time), so
// it never packs W: it streams W once, 8 rows at a time against one x, and splits N across
// threads. gemm_f32 takes the same path for M <= 8 rows with a transposed B, and an
// axpy-style path for M <= 8 with a non-transposed or prepacked B (see gemm.hpp).
#pragma once

#include <tessera/kernels/gemm.hpp>

namespace tessera::kernels {

// y[N] = epilogue(alpha * W[N,K] x[K] + beta * y). The epilogue's bias and residual are
// vectors of length N (ld_residual is not used). beta == 0 never reads y.
inline status gemv_f32(std::size_t N, std::size_t K, float alpha, const float* W, std::ptrdiff_t ldw, const float* x,
                       float beta, float* y, const epilogue& ep = {}, runtime::thread_pool* pool = nullptr) {
  namespace d = detail::gemm;
  constexpr const char* who = "gemv_f32";
  TESSERA_TRY(d::check_sizes(who, 1, N, K));
  if (N != 0 && K != 0 && alpha != 0.0f) {
    TESSERA_TRY(d::check_matrix(who, "W", N, K, W, ldw));
    TESSERA_TRY(d::check_matrix(who, "x", 1, K, x, d::sp(K)));
  }
  TESSERA_TRY(d::check_matrix(who, "y", 1, N, y, d::sp(N)));
  epilogue e = ep;
  e.ld_residual = d::sp(N);
  TESSERA_TRY(d::check_epilogue(who, 1, N, e));
  // As a GEMM: A = x^T (1 x K), B = W^T (op(B) = W^T is K x N), C = y^T (1 x N).
  const d::operands o{1, N, K, alpha, x, d::sp(K), transpose::no, W, ldw, transpose::yes, nullptr, beta, y, d::sp(N), &e};
  return d::run_gemm(o, pool);
}

// y[N] = epilogue(x[K] B) with B prepacked (K x N): the same panels a GEMM uses.
inline status gemv_f32(const packed_b_f32& B, const float* x, float* y, const epilogue& ep = {},
                       runtime::thread_pool* pool = nullptr) {
  epilogue e = ep;
  e.ld_residual = detail::gemm::sp(B.cols());
  return gemm_f32(1, x, detail::gemm::sp(B.rows()), B, y, detail::gemm::sp(B.cols()), e, pool);
}

}  // namespace tessera::kernels
