// Quantized weights (the GGUF/ggml block formats) and their products with f32 activations.
//
//   kernels::quantize_row(dtype::q4_k, x, bytes, n);     // f32 -> blocks (ggml's reference schemes)
//   kernels::dequantize_row(dtype::q4_k, bytes, y, n);   // blocks -> f32
//   auto W = kernels::make_quant_matrix(dtype::q4_0, N, K, bytes);   // a view, validated
//   kernels::matvec(y, *W, x);                          // y[N] = W x        (generation)
//   kernels::matmul(Y, N, *W, X, K, M);                 // Y[M,N] = X[M,K] W^T (prompt)
//
// Weight formats: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k. Products
// never dequantize a matrix by default: the activations are quantized the way ggml quantizes
// them (Q8_0 for q8_0/q4_0/q5_0, Q8_1 for q4_1/q5_1, Q8_K for the K-quants; float types take
// f32) into scratch from the caller's arena (else thread_arena()), then each weight row is
// multiplied block by block in integers; matmul reads each weight row once per group of
// tokens and a chunk of rows stays in cache while all tokens pass over it. matmul's
// quant_matmul::f32_panels instead runs 32 rows or more (a prompt) as f32 products of
// dequantized weight panels through gemm_f32. Both split the output rows over the pool's
// threads.
//
// Kernel names (quant_dot_kernel_name): <weight>_<activation>_dot__<isa>, e.g.
// "q4_k_q8_k_dot__avx2"; the isa is avx2 (AVX2 and AVX-512 builds), wasm_simd128 or neon, or
// generic where the build has no kernel for the format (dispatch.hpp's has_isa_kernel).
#pragma once

#define TESSERA_PUBLIC_FRONT
#include <tessera/config.hpp>
#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <tessera/kernels/quant/formats.hpp>
#include <tessera/kernels/quant/quantize.hpp>
#include <tessera/kernels/quant/dispatch.hpp>
#include <tessera/kernels/quant/driver.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace tessera::kernels {

// Whether t can be a weight of matvec/matmul (and quantize_row/dequantize_row target).
inline bool is_weight_type(dtype t) {
  return detail::quant::visit_weight_type(t, [](auto) {});
}

// The activation format products with weights of type t use (f32 for the float types).
inline dtype activation_type(dtype t) {
  switch (t) {
    case dtype::q8_0: case dtype::q4_0: case dtype::q5_0: return dtype::q8_0;
    case dtype::q4_1: case dtype::q5_1: return dtype::q8_1;
    case dtype::q4_k: case dtype::q5_k: case dtype::q6_k: return dtype::q8_k;
    default: return dtype::f32;
  }
}

inline std::string quant_dot_kernel_name(dtype weight) {
  bool isa = false;
  detail::quant::visit_weight_type(weight, [&](auto block) { isa = detail::quant::has_isa_kernel<decltype(block)>; });
  return std::string(dtype_name(weight)) + "_" + dtype_name(activation_type(weight)) + "_dot__" + (isa ? detail::quant::dot_isa : "generic");
}

// Bytes of a row of n values of type t: an error unless t is a weight or activation format
// and n a whole number of its blocks.
inline expected<std::size_t> quant_row_bytes(dtype t, std::size_t n) {
  const dtype_traits tr = traits_of(t);
  const bool known = is_weight_type(t) || t == dtype::q8_1 || t == dtype::q8_k;
  if (!known) return make_error(errc::unsupported, std::string("quant: ") + tr.name + " is not a quantizable type");
  if (n % tr.block_elements != 0)
    return make_error(errc::invalid_argument, std::string("quant: a row of ") + std::to_string(n) + " values is not a whole number of " +
                                                  tr.name + " blocks of " + std::to_string(tr.block_elements));
  return n / tr.block_elements * tr.block_bytes;
}

namespace detail::quant {
// Calls fn(Block{}) for any type quant_row_bytes accepts (weights and the activation formats).
template <class Fn>
void visit_row_type(dtype t, Fn&& fn) {
  if (t == dtype::q8_1) fn(block_q8_1{});
  else if (t == dtype::q8_k) fn(block_q8_k{});
  else visit_weight_type(t, fn);
}
}  // namespace detail::quant

// y[0, n) = the values of n elements of type t at src.
inline status dequantize_row(dtype t, const void* src, float* y, std::size_t n) {
  TESSERA_ASSIGN_OR_RETURN(const std::size_t bytes, quant_row_bytes(t, n));
  (void)bytes;
  namespace q = detail::quant;
  const auto run = [&](auto block) {
    using B = decltype(block);
    q::dequantize_blocks(static_cast<const B*>(src), y, n / q::elements_of<B>);
  };
  q::visit_row_type(t, run);
  return {};
}

// dst = x[0, n) quantized to type t (ggml's reference scheme; float types round to nearest even).
inline status quantize_row(dtype t, const float* x, void* dst, std::size_t n) {
  TESSERA_ASSIGN_OR_RETURN(const std::size_t bytes, quant_row_bytes(t, n));
  (void)bytes;
  namespace q = detail::quant;
  const auto run = [&](auto block) {
    using B = decltype(block);
    B* out = static_cast<B*>(dst);
    if constexpr (std::is_same_v<B, float>) for (std::size_t i = 0; i < n; ++i) out[i] = x[i];
    else if constexpr (std::is_same_v<B, f16> || std::is_same_v<B, bf16>) for (std::size_t i = 0; i < n; ++i) out[i] = B(x[i]);
    else q::quantize_blocks(x, out, n / B::elements);
  };
  q::visit_row_type(t, run);
  return {};
}

// A row-major matrix of `rows` x `cols` values of a weight type, as a view of its bytes
// (rows of row_bytes each, the GGUF layout: a ggml tensor with ne0 = cols, ne1 = rows).
// row_group > 0: regrouped by regroup() below for this build's kernels: the first
// rows / row_group * row_group rows are stored in groups of row_group rows (see
// kernels/quant/interleaved.hpp), the others as plain rows after them; row() is then not
// meaningful. row_bytes stays a plain row's size.
struct quant_matrix {
  dtype type = dtype::f32;
  std::size_t rows = 0, cols = 0;
  std::size_t row_bytes = 0;
  const std::uint8_t* data = nullptr;
  std::size_t row_group = 0;

  const std::uint8_t* row(std::size_t r) const { return data + r * row_bytes; }
};

inline expected<quant_matrix> make_quant_matrix(dtype t, std::size_t rows, std::size_t cols, std::span<const std::uint8_t> bytes) {
  if (!is_weight_type(t)) return make_error(errc::unsupported, std::string("quant_matrix: ") + dtype_name(t) + " is not a weight type");
  TESSERA_ASSIGN_OR_RETURN(const std::size_t row_bytes, quant_row_bytes(t, cols));
  if (rows != 0 && row_bytes > bytes.size() / rows)
    return make_error(errc::shape_mismatch, "quant_matrix: " + std::to_string(rows) + " x " + std::to_string(cols) + " " + dtype_name(t) +
                                                " needs " + std::to_string(row_bytes) + " bytes per row; " + std::to_string(bytes.size()) +
                                                " bytes given");
  if (rows * row_bytes != bytes.size())
    return make_error(errc::shape_mismatch, "quant_matrix: " + std::to_string(rows) + " x " + std::to_string(cols) + " " + dtype_name(t) +
                                                " is " + std::to_string(rows * row_bytes) + " bytes, not " + std::to_string(bytes.size()));
  return quant_matrix{t, rows, cols, row_bytes, bytes.data()};
}

// Whether regroup() lays matrices of type t out anew in this build: where its kernels read
// rows in groups, for Q4_0, Q4_K, Q5_K, Q6_K and Q8_0 on x86 with AVX2 or AVX-512 and every
// quantized format in WebAssembly; there generation runs 1.2-2x faster. Elsewhere matrices
// stay as they are.
inline bool regrouping_pays(dtype t) {
  namespace q = detail::quant;
  if constexpr (q::interleaved::kGroupRows == 0) return false;
  bool pays = false;
  q::visit_weight_type(t, [&](auto block) { pays = q::interleaved::regrouped<decltype(block)>; });
  return pays;
}
// Whether regroup_in_place can lay them out in their own bytes (WASM: groups keep whole
// blocks, so a model that owns its file's bytes needs no second copy).
inline bool regroups_in_place(dtype t) { return detail::quant::interleaved::kRegroupsInPlace && regrouping_pays(t); }

// A matrix regrouped for this build's kernels and the storage it lives in.
struct regrouped_matrix {
  aligned_buffer<std::uint8_t> storage;
  quant_matrix matrix;  // a view of storage (row_group > 0)
};

namespace detail::quant {
inline status check_regroupable(const quant_matrix& W, const char* who) {
  if (!regrouping_pays(W.type) || W.row_group != 0)
    return make_error(errc::unsupported, std::string(who) + ": " + dtype_name(W.type) + " matrices are not regrouped in this build");
  TESSERA_ASSIGN_OR_RETURN(const std::size_t row_bytes, quant_row_bytes(W.type, W.cols));
  if (row_bytes != W.row_bytes || (W.rows != 0 && !W.data)) return make_error(errc::invalid_argument, std::string(who) + ": not a matrix of whole rows");
  return {};
}
}  // namespace detail::quant

// W's rows copied into groups (kernels/quant/interleaved.hpp): the same values, products
// within float rounding of W's (exactly the same integer sums, scaled in another order; in
// WASM the same bits). Only for types where regrouping_pays; the rows left over after whole
// groups stay plain.
inline expected<regrouped_matrix> regroup(const quant_matrix& W, runtime::thread_pool* pool = nullptr) {
  namespace q = detail::quant;
  TESSERA_TRY(q::check_regroupable(W, "regroup"));
  regrouped_matrix out;
  status st;
  q::visit_weight_type(W.type, [&](auto block) {
    using B = decltype(block);
    if constexpr (q::interleaved::regrouped<B>) {
      st = out.storage.allocate(q::interleaved::regrouped_bytes<B>(W.rows, W.cols));
      if (!st.ok()) return;
      q::interleaved::regroup_rows<B>(W.data, W.rows, W.cols, out.storage.data(), runtime::pool_or_default(pool));
      out.matrix = W;
      out.matrix.data = out.storage.data();
      out.matrix.row_group = q::interleaved::kGroupRows;
    }
  });
  TESSERA_TRY(st);
  return out;
}

// regroup() in W's own bytes, which `bytes` (W.data, writable) must be, where
// regroups_in_place(W.type); W then views the groups. Anything else reading those bytes as
// rows (another view of them) reads the groups.
inline status regroup_in_place(quant_matrix& W, std::span<std::uint8_t> bytes, runtime::thread_pool* pool = nullptr) {
  namespace q = detail::quant;
  TESSERA_TRY(q::check_regroupable(W, "regroup_in_place"));
  if (!regroups_in_place(W.type))
    return make_error(errc::unsupported, std::string("regroup_in_place: ") + dtype_name(W.type) + " matrices are not regrouped in place in this build");
  if (bytes.data() != W.data || bytes.size() != W.rows * W.row_bytes)
    return make_error(errc::invalid_argument, "regroup_in_place: the bytes given are not the matrix's");
  q::visit_weight_type(W.type, [&](auto block) {
    using B = decltype(block);
    if constexpr (q::interleaved::kRegroupsInPlace && q::interleaved::regrouped<B>)
      q::interleaved::regroup_rows_in_place<B>(bytes.data(), W.rows, W.cols, runtime::pool_or_default(pool));
  });
  W.row_group = q::interleaved::kGroupRows;
  return {};
}

// How matmul multiplies.
//   integer     the activations quantized as ggml does, products in integers: a row's result
//               does not depend on how many rows come with it (a prompt fed in any batches
//               equals token-by-token decoding), natively and in WASM alike;
//   f32_panels  from 32 rows on, f32 products of dequantized weight panels through gemm_f32:
//               about 2x faster prompts natively, 1.1-1.6x in WASM, but the results then
//               depend on the batching (they differ from the integer path by the activations'
//               quantization) and on the build (FMA or not). Fewer rows take the integer path.
enum class quant_matmul { integer, f32_panels };

// y[W.rows] = W x[W.cols].
inline status matvec(float* y, const quant_matrix& W, const float* x, runtime::thread_pool* pool = nullptr, arena* scratch = nullptr) {
  return detail::quant::run_product(y, W.rows, W, x, W.cols, 1, pool, scratch);
}

// Y[M, W.rows] (row stride ldy) = X[M, W.cols] (row stride ldx) W^T. `how`: see quant_matmul.
inline status matmul(float* Y, std::size_t ldy, const quant_matrix& W, const float* X, std::size_t ldx, std::size_t M,
                     runtime::thread_pool* pool = nullptr, arena* scratch = nullptr, quant_matmul how = quant_matmul::integer) {
  return detail::quant::run_product(Y, ldy, W, X, ldx, M, pool, scratch, how == quant_matmul::f32_panels);
}

// Float-family rows (T = float, f16, bf16) against f32 values, for callers that keep their own
// rows in these types (an LLM's KV cache): dot(w, x) and y += alpha * x.
template <class T>
  requires(std::is_same_v<T, float> || std::is_same_v<T, f16> || std::is_same_v<T, bf16>)
float dot_row(const T* w, const float* x, std::size_t n) {
  const float* rows[1] = {x};
  const T* weights[1] = {w};
  float out = 0.0f;
  detail::quant::dot_kernel<T, 1, 1>(n, weights, rows, &out);
  return out;
}
template <class T>
  requires(std::is_same_v<T, float> || std::is_same_v<T, f16> || std::is_same_v<T, bf16>)
void axpy_row(float* y, float alpha, const T* x, std::size_t n) {
  detail::quant::generic::axpy(y, alpha, x, n);
}
// Both for 4 rows at once, with the same results as 4 calls (in w's / x's order): out[i] =
// dot(w[i], x); y += alpha[0] x[0] + ... + alpha[3] x[3].
template <class T>
  requires(std::is_same_v<T, float> || std::is_same_v<T, f16> || std::is_same_v<T, bf16>)
void dot_rows4(const T* const* w, const float* x, std::size_t n, float* out) {
  const float* rows[1] = {x};
  detail::quant::dot_kernel<T, 4, 1>(n, w, rows, out);
}
template <class T>
  requires(std::is_same_v<T, float> || std::is_same_v<T, f16> || std::is_same_v<T, bf16>)
void axpy_rows4(float* y, const float* alpha, const T* const* x, std::size_t n) {
  detail::quant::generic::axpy_rows<T, 4>(y, alpha, x, n);
}

}  // namespace tessera::kernels
