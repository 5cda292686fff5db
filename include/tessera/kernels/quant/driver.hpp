// Quantization part: the matrix-vector / matrix-matrix driver. Quantizes the activations once
// into scratch, then walks the weight rows in chunks that stay in cache (kChunkBytes) while
// every group of kTileTokens tokens passes over them, so the weights stream from memory once
// per call; output rows are split over the pool's threads.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/kernels/quant/dispatch.hpp>
#include <tessera/kernels/quant/formats.hpp>
#include <tessera/kernels/quant/interleaved.hpp>
#include <tessera/kernels/quant/quantize.hpp>
#include <tessera/runtime/first_failure.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>

namespace tessera::kernels::detail::quant {

inline constexpr std::size_t kTileTokens = 4;          // activation rows per dot-kernel call
inline constexpr std::size_t kChunkBytes = 32 * 1024;  // weight rows revisited by every token group
inline constexpr std::size_t kGrainBytes = 16 * 1024;  // least weight bytes a thread takes
inline constexpr std::size_t kPrefetchBytes = 4096;  // how far ahead generation requests weight bytes

// Asks for bytes [from, to) of data moved kPrefetchBytes ahead (clipped to `end`) to be
// brought into cache, one request per line. Offsets: never a pointer past the end.
TESSERA_ALWAYS_INLINE void prefetch_ahead(const std::uint8_t* data, std::size_t from, std::size_t to, std::size_t end) {
  const std::size_t last = std::min(to + kPrefetchBytes, end);
  for (std::size_t off = from + kPrefetchBytes; off < last; off += 64) __builtin_prefetch(data + off);
}

// With f32_panels (kernels::quant_matmul), products of at least kPanelMinTokens rows (prompts):
// each panel of weight rows is dequantized to f32 once and multiplied by gemm_f32, which runs
// near the FMA peak where the integer dot tiles reach half of it (natively; in WASM they are
// closer). The panel is the GEMM's A (packed from its rows, cheaply) and the tokens, packed
// once per call, its B: the transposed product, [rows x tokens], then goes into Y's columns.
// Below kPanelMinTokens the dequantization and the packing of each panel, paid whatever the
// token count, cost more than they save (measured natively at 16, 32 and 64 tokens on each
// format: at 32, 1.4-2.1x the integer tiles' speed; at 16, 0.7-1.5x).
inline constexpr std::size_t kPanelMinTokens = 32;
inline constexpr std::size_t kPanelFloats = std::size_t{1} << 17;  // 512 KB of f32 weights: in L2

template <class Block, class Matrix>
status product_by_panels(float* Y, std::size_t ldy, const Matrix& W, const float* X, std::size_t ldx, std::size_t M,
                         runtime::thread_pool& pool, arena& scratch) {
  const std::size_t N = W.rows, K = W.cols, nb = K / elements_of<Block>;
  constexpr std::size_t MR = gemm::config::MR;
  constexpr bool dequantize = !std::is_same_v<Block, float>;
  const std::size_t threads = runtime::in_parallel_region() ? 1 : pool.num_threads();  // run()'s thread indices
  // Panels of whole register tiles within kPanelFloats, as many as a multiple of the threads
  // (5 panels on 2 threads would leave one idle a fifth of the time).
  const std::size_t max_rows = std::max(MR, kPanelFloats / std::max<std::size_t>(1, K) / MR * MR);
  const std::size_t panels_wanted = ((N + max_rows - 1) / max_rows + threads - 1) / threads * threads;
  const std::size_t rows = std::min(N, ((N + panels_wanted - 1) / panels_wanted + MR - 1) / MR * MR);
  const std::size_t panels = (N + rows - 1) / rows;
  const std::size_t per_thread = (dequantize ? rows * K : 0) + rows * M;  // the panel, its product
  arena_scope scope(scratch);
  TESSERA_ASSIGN_OR_RETURN(float* tokens_storage, scratch.allocate<float>(packed_b_f32::storage_floats(K, M)));
  TESSERA_ASSIGN_OR_RETURN(float* buffers, scratch.allocate<float>(threads * per_thread));
  TESSERA_ASSIGN_OR_RETURN(const packed_b_f32 tokens,
                           packed_b_f32::pack_into(tokens_storage, K, M, X, static_cast<std::ptrdiff_t>(ldx), transpose::yes, &pool));
  runtime::first_failure failure;
  pool.run(panels, [&](std::size_t p, std::size_t thread) {
    const std::size_t n0 = p * rows, n = std::min(rows, N - n0);
    float* product = buffers + thread * per_thread;
    const float* A = reinterpret_cast<const float*>(W.row(n0));
    if constexpr (dequantize) {
      float* panel = product + rows * M;
      if constexpr (!interleaved::kOutrunPanels && interleaved::regrouped<Block>) {
        if (W.row_group != 0) interleaved::dequantize_rows<Block>(W.data, N, nb, n0, n, panel);
      }
      if (W.row_group == 0) dequantize_blocks(reinterpret_cast<const Block*>(W.row(n0)), panel, n * nb);  // the rows are contiguous
      A = panel;
    }
    const status st = gemm_f32(n, A, static_cast<std::ptrdiff_t>(K), tokens, product, static_cast<std::ptrdiff_t>(M), {}, &pool);
    if (!st.ok()) {
      failure.record(st);
      return;
    }
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t r = 0; r < n; ++r) Y[m * ldy + n0 + r] = product[r * M + m];
  });
  return failure.take();
}

// The M activation rows in Block's activation format (quantized into scratch, or X itself for
// the float types), `stride` Act units apart.
template <class Block>
struct activations {
  using Act = typename format<Block>::act;
  const Act* rows = nullptr;
  std::size_t stride = 0;
};
template <class Block>
expected<activations<Block>> quantize_activations(const float* X, std::size_t ldx, std::size_t K, std::size_t M, runtime::thread_pool& pool,
                                                  arena& scratch) {
  using Act = typename format<Block>::act;
  if constexpr (std::is_same_v<Act, float>) {
    return activations<Block>{X, ldx};
  } else {
    const std::size_t act_blocks = K / Act::elements;
    TESSERA_ASSIGN_OR_RETURN(Act * buf, scratch.allocate<Act>(M * act_blocks));
    runtime::parallel_for(pool, 0, M, 8, [&](std::size_t m0, std::size_t m1) {
      for (std::size_t m = m0; m < m1; ++m) quantize_blocks(X + m * ldx, buf + m * act_blocks, act_blocks);
    });
    return activations<Block>{buf, act_blocks};
  }
}

template <class Block, class Matrix>
status product(float* Y, std::size_t ldy, const Matrix& W, const float* X, std::size_t ldx, std::size_t M,
               runtime::thread_pool& pool, arena& scratch) {
  using Act = typename format<Block>::act;
  const std::size_t N = W.rows, K = W.cols;
  const std::size_t nb = K / elements_of<Block>;
  arena_scope scope(scratch);
  TESSERA_ASSIGN_OR_RETURN(const activations<Block> quantized, quantize_activations<Block>(X, ldx, K, M, pool, scratch));
  const Act* act = quantized.rows;
  const std::size_t act_stride = quantized.stride;
  const std::size_t row_bytes = std::max<std::size_t>(1, W.row_bytes);
  const std::size_t chunk_rows = std::max<std::size_t>(1, kChunkBytes / row_bytes);
  const std::size_t grain = std::max<std::size_t>(1, kGrainBytes / (row_bytes * std::max<std::size_t>(1, M)));
  const auto row = [&](std::size_t n) { return reinterpret_cast<const Block*>(W.row(n)); };
  // Y[m + t, n + r] for an R x NT tile of weight rows n.. and activation rows m..
  const auto tile = [&]<std::size_t R, std::size_t NT>(std::size_t n, std::size_t m) {
    const Block* w[R];
    const Act* x[NT];
    for (std::size_t r = 0; r < R; ++r) w[r] = row(n + r);
    for (std::size_t t = 0; t < NT; ++t) x[t] = act + (m + t) * act_stride;
    float out[R * NT];
    dot_kernel<Block, R, NT>(nb, w, x, out);
    for (std::size_t t = 0; t < NT; ++t)
      for (std::size_t r = 0; r < R; ++r) Y[(m + t) * ldy + n + r] = out[r * NT + t];
  };
  runtime::parallel_for(pool, 0, N, grain, [&](std::size_t n0, std::size_t n1) {
    for (std::size_t c0 = n0; c0 < n1; c0 += chunk_rows) {
      const std::size_t c1 = std::min(n1, c0 + chunk_rows);
      std::size_t m = 0;
      // Groups of tokens: 2 weight rows x kTileTokens tokens per kernel call.
      for (; m + kTileTokens <= M; m += kTileTokens) {
        std::size_t n = c0;
        for (; n + 2 <= c1; n += 2) tile.template operator()<2, kTileTokens>(n, m);
        for (; n < c1; ++n) tile.template operator()<1, kTileTokens>(n, m);
      }
      // Single tokens (generation): 4 weight rows per call share the activations' loads.
      // The rows are short (a few hundred bytes each) and read as 4 interleaved streams, which
      // hardware prefetchers follow poorly: the next tiles' bytes are requested ahead.
      for (; m < M; ++m) {
        std::size_t n = c0;
        for (; n + 4 <= c1; n += 4) {
          prefetch_ahead(W.data, n * W.row_bytes, (n + 4) * W.row_bytes, n1 * W.row_bytes);
          tile.template operator()<4, 1>(n, m);
        }
        for (; n < c1; ++n) tile.template operator()<1, 1>(n, m);
      }
    }
  });
  return {};
}

#if TESSERA_QUANT_AVX2 || TESSERA_QUANT_WASM
// product() for a regrouped matrix: G rows per kernel call, each group's blocks one sequence.
template <class Block, class Matrix>
status product_grouped(float* Y, std::size_t ldy, const Matrix& W, const float* X, std::size_t ldx, std::size_t M,
                       runtime::thread_pool& pool, arena& scratch) {
  constexpr std::size_t G = interleaved::kGroupRows, NT = interleaved::kTileTokens;
  using Group = interleaved::stored_group<Block>;
  using Act = typename format<Block>::act;
  const std::size_t K = W.cols, nb = K / elements_of<Block>, groups = W.rows / G;
  const std::size_t group_bytes = nb * sizeof(Group);
  arena_scope scope(scratch);
  TESSERA_ASSIGN_OR_RETURN(const activations<Block> act, quantize_activations<Block>(X, ldx, K, M, pool, scratch));
  // Q4_0's offset of 8 (and Q8_0's 128, with VNNI) comes in through each activation block's
  // sum of codes.
  std::int32_t* sums = nullptr;
  if constexpr (interleaved::kActivationSums && std::is_same_v<Act, block_q8_0>) {
    TESSERA_ASSIGN_OR_RETURN(sums, scratch.allocate<std::int32_t>(M * nb));
    for (std::size_t i = 0; i < M * nb; ++i) {
      std::int32_t s = 0;
      for (const std::int8_t q : act.rows[i].qs) s += q;
      sums[i] = s;
    }
  }
  const auto* all = reinterpret_cast<const Group*>(W.data);
  const std::size_t chunk = std::max<std::size_t>(1, kChunkBytes / group_bytes);
  const std::size_t grain = std::max<std::size_t>(1, kGrainBytes / (group_bytes * std::max<std::size_t>(1, M)));
  // Y[m + t, G g + r] for the NT activation rows from m.
  const auto tile = [&]<std::size_t T>(std::size_t g, std::size_t m) {
    const Act* x[T];
    const std::int32_t* s[T];
    for (std::size_t t = 0; t < T; ++t) {
      x[t] = act.rows + (m + t) * act.stride;
      s[t] = sums ? sums + (m + t) * nb : nullptr;
    }
    float out[T * G];
    interleaved::dot<T>(nb, all + g * nb, x, s, out);
    for (std::size_t t = 0; t < T; ++t) std::memcpy(Y + (m + t) * ldy + g * G, out + t * G, G * sizeof(float));
  };
  runtime::parallel_for(pool, 0, groups, grain, [&](std::size_t g0, std::size_t g1) {
    for (std::size_t c0 = g0; c0 < g1; c0 += chunk) {
      const std::size_t c1 = std::min(g1, c0 + chunk);
      std::size_t m = 0;
      for (; m + NT <= M; m += NT)
        for (std::size_t g = c0; g < c1; ++g) tile.template operator()<NT>(g, m);
      for (; m < M; ++m)
        for (std::size_t g = c0; g < c1; ++g) {
          prefetch_ahead(W.data, g * group_bytes, (g + 1) * group_bytes, g1 * group_bytes);
          tile.template operator()<1>(g, m);
        }
    }
  });
  if (W.rows % G == 0) return {};
  Matrix rest = W;  // the plain rows after the groups
  rest.rows = W.rows - groups * G;
  rest.data = W.data + groups * group_bytes;
  rest.row_group = 0;
  return product<Block>(Y + groups * G, ldy, rest, X, ldx, M, pool, scratch);
}
#endif

template <class Matrix>
status run_product(float* Y, std::size_t ldy, const Matrix& W, const float* X, std::size_t ldx, std::size_t M,
                   runtime::thread_pool* pool, arena* scratch, bool f32_panels = false) {
  // Built only for an error message: a decode step must not allocate.
  const auto who = [&] {
    return std::string("quant matmul (") + dtype_name(W.type) + " " + std::to_string(W.rows) + " x " + std::to_string(W.cols) + "): ";
  };
  if (M == 0 || W.rows == 0) return {};
  if (!Y || !X || (!W.data && W.cols != 0)) return make_error(errc::invalid_argument, who() + "null pointer");
  if (ldx < W.cols) return make_error(errc::invalid_argument, who() + "ldx " + std::to_string(ldx) + " < " + std::to_string(W.cols) + " columns");
  if (M > 1 && ldy < W.rows) return make_error(errc::invalid_argument, who() + "ldy " + std::to_string(ldy) + " < " + std::to_string(W.rows) + " rows");
  status result;
  const bool known = visit_weight_type(W.type, [&](auto block) {
    using B = decltype(block);
    if (W.cols % elements_of<B> != 0 || W.row_bytes != W.cols / elements_of<B> * sizeof(B)) {
      result = make_error(errc::invalid_argument, who() + "rows of " + std::to_string(W.row_bytes) + " bytes do not hold " +
                                                      std::to_string(W.cols) + " values");
      return;
    }
    if constexpr (!std::is_same_v<typename format<B>::act, float>) {
      if (W.cols % format<B>::act::elements != 0) {
        result = make_error(errc::invalid_argument, who() + std::to_string(W.cols) + " columns are not whole activation blocks");
        return;
      }
    }
    runtime::thread_pool& tp = runtime::pool_or_default(pool);
    arena& a = scratch ? *scratch : thread_arena();
    if (W.row_group != 0 && !(interleaved::regrouped<B> && W.row_group == interleaved::kGroupRows)) {
      result = make_error(errc::invalid_argument, who() + "regrouped in groups of " + std::to_string(W.row_group) + " rows, which this build does not read");
      return;
    }
#if TESSERA_QUANT_AVX2 || TESSERA_QUANT_WASM
    // Regrouped matrices take f32 panels only where the group kernels do not outrun them.
    if constexpr (interleaved::regrouped<B>) {
      if (W.row_group != 0 && (interleaved::kOutrunPanels || !f32_panels || M < kPanelMinTokens)) {
        result = product_grouped<B>(Y, ldy, W, X, ldx, M, tp, a);
        return;
      }
    }
#endif
    if (f32_panels && M >= kPanelMinTokens) {
      result = product_by_panels<B>(Y, ldy, W, X, ldx, M, tp, a);
      return;
    }
    result = product<B>(Y, ldy, W, X, ldx, M, tp, a);
  });
  if (!known) return make_error(errc::unsupported, who() + "not a weight type");
  return result;
}

}  // namespace tessera::kernels::detail::quant
