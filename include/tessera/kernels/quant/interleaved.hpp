// Quantization part: weight rows stored in groups, for the integer kernels of x86 and WASM.
//
// Generation multiplies each weight once per token, and with rows stored one after another a
// kernel that shares the activations' loads over a few rows reads several memory streams at
// once, which hardware prefetchers follow poorly. Regrouped at load, G consecutive rows are
// stored block by block, so that the rows stream from memory as one sequence:
// - x86 (G = one register of int32 lanes: 8 with AVX2, 16 with AVX-512): code bytes
//   interleaved 4 at a time (group_t), so that one register holds 4 codes of each of the G
//   rows: a u8 x s8 dot (VNNI's dpbusd, or maddubs + madd) against the activations' 4 bytes
//   broadcast leaves row r's sum in lane r. No horizontal sums, the G scales convert in one
//   instruction. The same idea as llama.cpp's CPU "repack" buffers; the layouts are
//   tessera's own.
// - WebAssembly (G = 4): each row's blocks stay whole, interleaved block by block
//   (block_group); the row kernels of dot_wasm.hpp read them through strided_rows, with the
//   same bits as plain rows. SIMD128 has no prefetch instruction, and the single stream is
//   what gains (Q8_0 matrices streamed from memory: about 1.4x). Groups take the plain rows'
//   bytes exactly, so a model that owns its bytes regroups them in place.
//
// x86 regroups Q4_0, Q4_K, Q5_K, Q6_K (compute-bound as plain rows) and Q8_0 (which gains the
// single memory stream and the shared scale conversion); WASM every quantized format. The
// regrouping is exactly invertible (row_block).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/config.hpp>
#include <tessera/kernels/quant/dot_avx2.hpp>
#include <tessera/kernels/quant/dot_wasm.hpp>
#include <tessera/kernels/quant/formats.hpp>
#include <tessera/kernels/quant/quantize.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace tessera::kernels::detail::quant::interleaved {

// Rows per group in this build, 0 where no kernel reads groups (their layout is per build:
// groups are made at load and never stored).
#if TESSERA_QUANT_AVX2 && defined(__AVX512F__) && defined(__AVX512BW__)
inline constexpr std::size_t kGroupRows = 16;
#elif TESSERA_QUANT_AVX2
inline constexpr std::size_t kGroupRows = 8;
#elif TESSERA_QUANT_WASM
inline constexpr std::size_t kGroupRows = 4;
#else
inline constexpr std::size_t kGroupRows = 0;
#endif

// The formats this build regroups.
template <class Block>
inline constexpr bool regrouped =
#if TESSERA_QUANT_AVX2
    std::is_same_v<Block, block_q4_0> || std::is_same_v<Block, block_q4_k> || std::is_same_v<Block, block_q5_k> ||
    std::is_same_v<Block, block_q6_k> || std::is_same_v<Block, block_q8_0>;
#elif TESSERA_QUANT_WASM
    wasm128::has_kernel<Block> && !std::is_same_v<typename format<Block>::act, float>;
#else
    false;
#endif

// Block b of G rows, each row's block whole (the WASM layout).
template <class Block, std::size_t G>
struct block_group {
  Block rows[G];
};
// The rows of consecutive block_groups, as the row kernels index rows: w[r][b] is row r's
// block b.
template <class Block, std::size_t G>
struct strided_rows {
  const Block* first;  // row 0's block 0
  struct row {
    const Block* p;
    const Block& operator[](std::size_t b) const { return p[b * G]; }
  };
  row operator[](std::size_t r) const { return {first + r}; }
};

// One block of G rows. Code bytes: qs[(k * G + r) * 4 + i] is byte 4k + i of row r's qs.
template <std::size_t G>
struct group_q4_0 {
  f16 d[G];
  std::uint8_t qs[16 * G];
};
template <std::size_t G>
struct group_q8_0 {
  f16 d[G];
  std::int8_t qs[32 * G];
};
// Q4_K with its 6-bit scales and mins unpacked to bytes (scales[j][r]: sub-block j, row r).
template <std::size_t G>
struct group_q4_k {
  f16 d[G];
  f16 dmin[G];
  std::uint8_t scales[8][G];
  std::uint8_t mins[8][G];
  std::uint8_t qs[128 * G];
};

// Q5_K: Q4_K's group and the fifth bits, qh interleaved as the codes are.
template <std::size_t G>
struct group_q5_k : group_q4_k<G> {
  std::uint8_t qh[32 * G];
};

// Q6_K: ql and qh interleaved alike, 4 bytes at a time.
template <std::size_t G>
struct group_q6_k {
  f16 d[G];
  std::int8_t scales[16][G];
  std::uint8_t ql[128 * G];
  std::uint8_t qh[64 * G];
};

template <class Block, std::size_t G> struct group_of;
template <std::size_t G> struct group_of<block_q4_0, G> { using type = group_q4_0<G>; };
template <std::size_t G> struct group_of<block_q4_k, G> { using type = group_q4_k<G>; };
template <std::size_t G> struct group_of<block_q5_k, G> { using type = group_q5_k<G>; };
template <std::size_t G> struct group_of<block_q8_0, G> { using type = group_q8_0<G>; };
template <std::size_t G> struct group_of<block_q6_k, G> { using type = group_q6_k<G>; };
template <class Block, std::size_t G>
using group_t = typename group_of<Block, G>::type;

template <std::size_t G, class Byte>
void interleave_codes(const Byte* const* row_qs, std::size_t bytes, Byte* qs) {
  for (std::size_t k = 0; k < bytes / 4; ++k)
    for (std::size_t r = 0; r < G; ++r) std::memcpy(qs + (k * G + r) * 4, row_qs[r] + 4 * k, 4);
}

// Block b of G rows (rows[r] points at row r's blocks) into one group.
template <std::size_t G, class Block, class Group>
void copy_scales_and_codes(const Block* const* rows, std::size_t b, Group& g) {
  const std::remove_extent_t<decltype(Block::qs)>* qs[G];
  for (std::size_t r = 0; r < G; ++r) {
    g.d[r] = rows[r][b].d;
    qs[r] = rows[r][b].qs;
  }
  interleave_codes<G>(qs, sizeof(Block::qs), g.qs);
}
template <std::size_t G>
void make_group(const block_q4_0* const* rows, std::size_t b, group_q4_0<G>& g) { copy_scales_and_codes<G>(rows, b, g); }
template <std::size_t G>
void make_group(const block_q8_0* const* rows, std::size_t b, group_q8_0<G>& g) { copy_scales_and_codes<G>(rows, b, g); }
template <std::size_t G, class Block>
void copy_k4_group(const Block* const* rows, std::size_t b, group_q4_k<G>& g) {
  const std::uint8_t* qs[G];
  for (std::size_t r = 0; r < G; ++r) {
    const Block& blk = rows[r][b];
    g.d[r] = blk.d;
    g.dmin[r] = blk.dmin;
    for (int j = 0; j < 8; ++j) unpack_scale_k4(j, blk.scales, g.scales[j][r], g.mins[j][r]);
    qs[r] = blk.qs;
  }
  interleave_codes<G>(qs, 128, g.qs);
}
template <std::size_t G>
void make_group(const block_q4_k* const* rows, std::size_t b, group_q4_k<G>& g) { copy_k4_group<G>(rows, b, g); }
template <std::size_t G>
void make_group(const block_q5_k* const* rows, std::size_t b, group_q5_k<G>& g) {
  copy_k4_group<G>(rows, b, g);
  const std::uint8_t* qh[G];
  for (std::size_t r = 0; r < G; ++r) qh[r] = rows[r][b].qh;
  interleave_codes<G>(qh, 32, g.qh);
}

template <std::size_t G>
void make_group(const block_q6_k* const* rows, std::size_t b, group_q6_k<G>& g) {
  const std::uint8_t *ql[G], *qh[G];
  for (std::size_t r = 0; r < G; ++r) {
    const block_q6_k& blk = rows[r][b];
    g.d[r] = blk.d;
    for (int j = 0; j < 16; ++j) g.scales[j][r] = blk.scales[j];
    ql[r] = blk.ql;
    qh[r] = blk.qh;
  }
  interleave_codes<G>(ql, 128, g.ql);
  interleave_codes<G>(qh, 64, g.qh);
}

template <std::size_t G, class Block>
void make_group(const Block* const* rows, std::size_t b, block_group<Block, G>& g) {
  for (std::size_t r = 0; r < G; ++r) g.rows[r] = rows[r][b];
}

// Row r's block back out of a group (the exact inverse of make_group).
template <std::size_t G, class Block>
void row_block(const block_group<Block, G>& g, std::size_t r, Block& out) {
  out = g.rows[r];
}
template <std::size_t G>
void row_block(const group_q4_0<G>& g, std::size_t r, block_q4_0& out) {
  out.d = g.d[r];
  for (std::size_t k = 0; k < 4; ++k) std::memcpy(out.qs + 4 * k, g.qs + (k * G + r) * 4, 4);
}
template <std::size_t G>
void row_block(const group_q8_0<G>& g, std::size_t r, block_q8_0& out) {
  out.d = g.d[r];
  for (std::size_t k = 0; k < 8; ++k) std::memcpy(out.qs + 4 * k, g.qs + (k * G + r) * 4, 4);
}
template <std::size_t G, class Block>
void row_block(const group_q4_k<G>& g, std::size_t r, Block& out) {
  static_assert(std::is_same_v<Block, block_q4_k> || std::is_same_v<Block, block_q5_k>);
  out.d = g.d[r];
  out.dmin = g.dmin[r];
  std::uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = g.scales[j][r];
    lm[j] = g.mins[j][r];
  }
  pack_scales_k4(ls, lm, out.scales);
  for (std::size_t k = 0; k < 32; ++k) std::memcpy(out.qs + 4 * k, g.qs + (k * G + r) * 4, 4);
}

template <std::size_t G>
void row_block(const group_q5_k<G>& g, std::size_t r, block_q5_k& out) {
  row_block(static_cast<const group_q4_k<G>&>(g), r, out);
  for (std::size_t k = 0; k < 8; ++k) std::memcpy(out.qh + 4 * k, g.qh + (k * G + r) * 4, 4);
}
template <std::size_t G>
void row_block(const group_q6_k<G>& g, std::size_t r, block_q6_k& out) {
  out.d = g.d[r];
  for (int j = 0; j < 16; ++j) out.scales[j] = g.scales[j][r];
  for (std::size_t k = 0; k < 32; ++k) std::memcpy(out.ql + 4 * k, g.ql + (k * G + r) * 4, 4);
  for (std::size_t k = 0; k < 16; ++k) std::memcpy(out.qh + 4 * k, g.qh + (k * G + r) * 4, 4);
}

// How this build stores block b of a group: x86 interleaves the code bytes, WASM keeps the
// blocks whole (and can regroup in place: a group takes its rows' bytes exactly).
#if TESSERA_QUANT_WASM
template <class Block>
using stored_group = block_group<Block, kGroupRows>;
inline constexpr bool kRegroupsInPlace = true;
#else
template <class Block>
using stored_group = group_t<Block, kGroupRows>;
inline constexpr bool kRegroupsInPlace = false;
#endif

// A rows x cols matrix of Blocks (plain rows) as groups of kGroupRows rows, the rows left
// over after them plain: its size, the copy and, where groups take their rows' bytes, the
// permutation in place (groups split over the pool).
template <class Block>
std::size_t regrouped_bytes(std::size_t rows, std::size_t cols) {
  const std::size_t nb = cols / Block::elements;
  return rows / kGroupRows * nb * sizeof(stored_group<Block>) + rows % kGroupRows * nb * sizeof(Block);
}
template <class Block>
void regroup_rows(const std::uint8_t* src, std::size_t rows, std::size_t cols, std::uint8_t* dst, runtime::thread_pool& pool) {
  constexpr std::size_t G = kGroupRows;
  const std::size_t nb = cols / Block::elements, groups = rows / G;
  const auto* plain = reinterpret_cast<const Block*>(src);
  auto* grouped = reinterpret_cast<stored_group<Block>*>(dst);
  runtime::parallel_for(pool, 0, groups, 16, [&](std::size_t g0, std::size_t g1) {
    for (std::size_t g = g0; g < g1; ++g) {
      const Block* row[G];
      for (std::size_t r = 0; r < G; ++r) row[r] = plain + (g * G + r) * nb;
      for (std::size_t b = 0; b < nb; ++b) make_group(row, b, grouped[g * nb + b]);
    }
  });
  if (rows % G) std::memcpy(dst + groups * nb * sizeof(stored_group<Block>), plain + groups * G * nb, rows % G * nb * sizeof(Block));
}
template <class Block>
  requires kRegroupsInPlace
void regroup_rows_in_place(std::uint8_t* data, std::size_t rows, std::size_t cols, runtime::thread_pool& pool) {
  static_assert(sizeof(stored_group<Block>) == kGroupRows * sizeof(Block));
  constexpr std::size_t G = kGroupRows;
  const std::size_t nb = cols / Block::elements;
  runtime::parallel_for(pool, 0, rows / G, 16, [&](std::size_t g0, std::size_t g1) {
    std::vector<Block> rows_of_group(G * nb);  // one group's plain rows
    const Block* row[G];
    for (std::size_t r = 0; r < G; ++r) row[r] = rows_of_group.data() + r * nb;
    for (std::size_t g = g0; g < g1; ++g) {
      std::uint8_t* at = data + g * G * nb * sizeof(Block);
      std::memcpy(rows_of_group.data(), at, G * nb * sizeof(Block));
      auto* grouped = reinterpret_cast<stored_group<Block>*>(at);
      for (std::size_t b = 0; b < nb; ++b) make_group(row, b, grouped[b]);
    }
  });
}

// Rows [n0, n0 + n) of a matrix regrouped in block_groups dequantized into out, one row after
// another (f32 panels of a prompt, where the group kernels do not outrun them).
template <class Block>
  requires kRegroupsInPlace
void dequantize_rows(const std::uint8_t* data, std::size_t rows, std::size_t nb, std::size_t n0, std::size_t n, float* out) {
  constexpr std::size_t G = kGroupRows, E = elements_of<Block>;
  const std::size_t grouped_rows = rows / G * G;
  const auto* groups = reinterpret_cast<const Block*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t row = n0 + i;
    float* y = out + i * nb * E;
    if (row >= grouped_rows) {
      dequantize_blocks(groups + row * nb, y, nb);  // the plain rows after the groups
      continue;
    }
    const auto blocks = strided_rows<Block, G>{groups + row / G * G * nb}[row % G];
    for (std::size_t b = 0; b < nb; ++b) dequantize_block(blocks[b], y + b * E);
  }
}

#if TESSERA_QUANT_AVX2
// The register width's operations, so that one kernel body serves AVX2 (8 rows) and AVX-512
// (16 rows). dot4 adds the u8 x s8 products of each 4 bytes to the int32 lanes: one dpbusd
// with VNNI; without, maddubs gives int16 pair sums that callers add up as int16 (their
// ranges are checked where they do) and widen once (widen: madd with 1s or with scales).
#if defined(__AVX512F__) && defined(__AVX512BW__)
struct isa {
  using iv = __m512i;
  using fv = __m512;
  static constexpr bool vnni =
#if defined(__AVX512VNNI__)
      true;
#else
      false;
#endif
  static iv load(const void* p) { return _mm512_loadu_si512(p); }
  static iv bcast32(const void* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  static iv zero() { return _mm512_setzero_si512(); }
  static iv set1(std::int32_t v) { return _mm512_set1_epi32(v); }
  static iv set1_8(char v) { return _mm512_set1_epi8(v); }
  static iv and_(iv a, iv b) { return _mm512_and_si512(a, b); }
  static iv add32(iv a, iv b) { return _mm512_add_epi32(a, b); }
  static iv sub32(iv a, iv b) { return _mm512_sub_epi32(a, b); }
  static iv add16(iv a, iv b) { return _mm512_add_epi16(a, b); }
  static iv mul32(iv a, iv b) { return _mm512_mullo_epi32(a, b); }
  static iv sll16_32(iv a) { return _mm512_slli_epi32(a, 16); }
  static iv or_(iv a, iv b) { return _mm512_or_si512(a, b); }
  static iv xor_(iv a, iv b) { return _mm512_xor_si512(a, b); }
  static iv min_u8(iv a, iv b) { return _mm512_min_epu8(a, b); }
  static iv abs8(iv a) { return _mm512_abs_epi8(a); }
  static iv sign_like(iv a, iv w) { return _mm512_mask_sub_epi8(a, _mm512_movepi8_mask(w), _mm512_setzero_si512(), a); }  // -a where w < 0
  static iv maddubs(iv u, iv s) { return _mm512_maddubs_epi16(u, s); }
  static iv madd(iv a, iv b) { return _mm512_madd_epi16(a, b); }
  static iv dot4(iv acc, iv u, iv s) {
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(acc, u, s);
#else
    return add32(acc, madd(maddubs(u, s), _mm512_set1_epi16(1)));
#endif
  }
  static iv bytes_to_32(const std::uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static iv sbytes_to_32(const std::int8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  template <int N>
  static iv srl16(iv a) { return _mm512_srli_epi16(a, N); }
  template <int N>
  static iv sll16(iv a) { return _mm512_slli_epi16(a, N); }
  static fv halves(const f16* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static fv to_float(iv a) { return _mm512_cvtepi32_ps(a); }
  static fv fzero() { return _mm512_setzero_ps(); }
  static fv fset1(float v) { return _mm512_set1_ps(v); }
  static fv mul(fv a, fv b) { return _mm512_mul_ps(a, b); }
  static fv fma(fv a, fv b, fv c) { return _mm512_fmadd_ps(a, b, c); }
  static fv fnma(fv a, fv b, fv c) { return _mm512_fnmadd_ps(a, b, c); }
  static void store(float* p, fv v) { _mm512_storeu_ps(p, v); }
};
#else
struct isa {
  using iv = __m256i;
  using fv = __m256;
  static constexpr bool vnni =
#if defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
      true;
#else
      false;
#endif
  static iv load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static iv bcast32(const void* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  static iv zero() { return _mm256_setzero_si256(); }
  static iv set1(std::int32_t v) { return _mm256_set1_epi32(v); }
  static iv set1_8(char v) { return _mm256_set1_epi8(v); }
  static iv and_(iv a, iv b) { return _mm256_and_si256(a, b); }
  static iv add32(iv a, iv b) { return _mm256_add_epi32(a, b); }
  static iv sub32(iv a, iv b) { return _mm256_sub_epi32(a, b); }
  static iv add16(iv a, iv b) { return _mm256_add_epi16(a, b); }
  static iv mul32(iv a, iv b) { return _mm256_mullo_epi32(a, b); }
  static iv sll16_32(iv a) { return _mm256_slli_epi32(a, 16); }
  static iv or_(iv a, iv b) { return _mm256_or_si256(a, b); }
  static iv xor_(iv a, iv b) { return _mm256_xor_si256(a, b); }
  static iv min_u8(iv a, iv b) { return _mm256_min_epu8(a, b); }
  static iv abs8(iv a) { return _mm256_abs_epi8(a); }
  static iv sign_like(iv a, iv w) { return _mm256_sign_epi8(a, w); }  // -a where w < 0 (0 where w is: |w| is 0 there)
  static iv maddubs(iv u, iv s) { return _mm256_maddubs_epi16(u, s); }
  static iv madd(iv a, iv b) { return _mm256_madd_epi16(a, b); }
  static iv dot4(iv acc, iv u, iv s) {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(acc, u, s);
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return add32(acc, madd(maddubs(u, s), _mm256_set1_epi16(1)));
#endif
  }
  static iv bytes_to_32(const std::uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  static iv sbytes_to_32(const std::int8_t* p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  template <int N>
  static iv srl16(iv a) { return _mm256_srli_epi16(a, N); }
  template <int N>
  static iv sll16(iv a) { return _mm256_slli_epi16(a, N); }
  static fv halves(const f16* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static fv to_float(iv a) { return _mm256_cvtepi32_ps(a); }
  static fv fzero() { return _mm256_setzero_ps(); }
  static fv fset1(float v) { return _mm256_set1_ps(v); }
  static fv mul(fv a, fv b) { return _mm256_mul_ps(a, b); }
  static fv fma(fv a, fv b, fv c) { return _mm256_fmadd_ps(a, b, c); }
  static fv fnma(fv a, fv b, fv c) { return _mm256_fnmadd_ps(a, b, c); }
  static void store(float* p, fv v) { _mm256_storeu_ps(p, v); }
};
#endif
static_assert(sizeof(isa::iv) == 4 * kGroupRows);

// out[t * G + r] = dot(row r, a[t]) for the G rows of `groups` (nb blocks) and NT activation
// rows. asum[t][b]: the sum of a[t][b]'s codes (Q4_0's -8 offset comes in through it).
template <std::size_t NT>
void dot(std::size_t nb, const group_q4_0<kGroupRows>* groups, const block_q8_0* const* a, const std::int32_t* const* asum, float* out) {
  using V = isa;
  typename V::fv acc[NT];
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) acc[t] = V::fzero();
  const auto low4 = V::set1_8(0x0f);
  for (std::size_t b = 0; b < nb; ++b) {
    const group_q4_0<kGroupRows>& g = groups[b];
    // Two chains of dpbusd per row (low and high nibbles): one chain of 8 would wait on
    // their latency.
    typename V::iv sum[NT], sum_hi[NT];
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) sum[t] = sum_hi[t] = V::zero();
    // Without VNNI, int16 pair sums add up over the block: 16 products of a nibble (<= 15)
    // and a Q8_0 code (|q| <= 127) stay within 30480.
    TESSERA_QUANT_UNROLL
    for (std::size_t k = 0; k < 4; ++k) {
      const auto v = V::load(g.qs + k * kGroupRows * 4);
      const auto lo = V::and_(v, low4), hi = V::and_(V::template srl16<4>(v), low4);
      TESSERA_QUANT_UNROLL
      for (std::size_t t = 0; t < NT; ++t) {
        const std::int8_t* x = a[t][b].qs;
        if constexpr (V::vnni) {
          sum[t] = V::dot4(sum[t], lo, V::bcast32(x + 4 * k));
          sum_hi[t] = V::dot4(sum_hi[t], hi, V::bcast32(x + 16 + 4 * k));
        } else {
          sum[t] = V::add16(sum[t], V::add16(V::maddubs(lo, V::bcast32(x + 4 * k)), V::maddubs(hi, V::bcast32(x + 16 + 4 * k))));
        }
      }
    }
    const auto dw = V::halves(g.d);
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      auto s = sum[t];
      if constexpr (V::vnni) s = V::add32(s, sum_hi[t]);
      if constexpr (!V::vnni) s = V::madd(s, V::set1(0x00010001));
      s = V::sub32(s, V::set1(8 * asum[t][b]));
      acc[t] = V::fma(V::mul(dw, V::fset1(half_to_float(a[t][b].d))), V::to_float(s), acc[t]);
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) V::store(out + t * kGroupRows, acc[t]);
}

// Q8_0: signed codes. With VNNI they go in as unsigned bytes (q + 128, flipping the top bit)
// and 128 times the activations' sum comes out again; without, through the sign trick
// (|w| times a with w's sign: pair sums within 2 * 127 * 127, widened at once).
template <std::size_t NT>
void dot(std::size_t nb, const group_q8_0<kGroupRows>* groups, const block_q8_0* const* a, const std::int32_t* const* asum, float* out) {
  using V = isa;
  typename V::fv acc[NT];
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) acc[t] = V::fzero();
  const auto top = V::set1_8(static_cast<char>(0x80));
  const auto ones16 = V::set1(0x00010001);
  for (std::size_t b = 0; b < nb; ++b) {
    const group_q8_0<kGroupRows>& g = groups[b];
    typename V::iv sum[NT][2];
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) sum[t][0] = sum[t][1] = V::zero();
    TESSERA_QUANT_UNROLL
    for (std::size_t k = 0; k < 8; ++k) {
      const auto v = V::load(g.qs + k * kGroupRows * 4);
      if constexpr (V::vnni) {
        const auto u = V::xor_(v, top);
        TESSERA_QUANT_UNROLL
        for (std::size_t t = 0; t < NT; ++t) sum[t][k % 2] = V::dot4(sum[t][k % 2], u, V::bcast32(a[t][b].qs + 4 * k));
      } else {
        const auto abs_v = V::abs8(v);
        TESSERA_QUANT_UNROLL
        for (std::size_t t = 0; t < NT; ++t)
          sum[t][k % 2] = V::add32(sum[t][k % 2], V::madd(V::maddubs(abs_v, V::sign_like(V::bcast32(a[t][b].qs + 4 * k), v)), ones16));
      }
    }
    const auto dw = V::halves(g.d);
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      auto s = V::add32(sum[t][0], sum[t][1]);
      if constexpr (V::vnni) s = V::sub32(s, V::set1(128 * asum[t][b]));
      acc[t] = V::fma(V::mul(dw, V::fset1(half_to_float(a[t][b].d))), V::to_float(s), acc[t]);
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) V::store(out + t * kGroupRows, acc[t]);
}

// Q4_K / Q5_K: per chunk c of 64 values, the low nibbles are sub-block 2c and the high ones
// 2c + 1 (Q5_K: bits 2c and 2c + 1 of qh their fifth bits); each sub-block's int32 sums are
// weighted by its 6-bit scales, the mins come in through the activations' 16-sums once per
// super-block.
template <std::size_t NT, class Group>
  requires(std::is_same_v<Group, group_q4_k<kGroupRows>> || std::is_same_v<Group, group_q5_k<kGroupRows>>)
void dot(std::size_t nb, const Group* groups, const block_q8_k* const* a, const std::int32_t* const*, float* out) {
  using V = isa;
  constexpr bool five = std::is_same_v<Group, group_q5_k<kGroupRows>>;
  // Without VNNI, int16 pair sums add up over columns before madd widens them: 2 products
  // of a code (<= 15, Q5_K 31) and a Q8_K code (>= -128) per column, 8 (Q5_K 4) columns
  // stay within 30720 (31744).
  constexpr std::size_t widen_every = five ? 4 : 8;
  typename V::fv acc[NT];
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) acc[t] = V::fzero();
  const auto low4 = V::set1_8(0x0f), one = V::set1_8(1);
  for (std::size_t b = 0; b < nb; ++b) {
    const Group& g = groups[b];
    typename V::iv total[NT], mins[NT];
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) total[t] = mins[t] = V::zero();
    for (std::size_t c = 0; c < 4; ++c) {
      const auto s_lo = V::bytes_to_32(g.scales[2 * c]), s_hi = V::bytes_to_32(g.scales[2 * c + 1]);
      const auto bit_lo = V::set1_8(static_cast<char>(1 << (2 * c))), bit_hi = V::set1_8(static_cast<char>(2 << (2 * c)));
      // With one activation row, each sum in two chains (even and odd k) so that dpbusd's
      // latency overlaps; with more rows, their chains do.
      constexpr std::size_t S = NT == 1 && V::vnni ? 2 : 1;
      typename V::iv lo_sum[NT][S], hi_sum[NT][S];
      TESSERA_QUANT_UNROLL
      for (std::size_t t = 0; t < NT; ++t)
        for (std::size_t i = 0; i < S; ++i) lo_sum[t][i] = hi_sum[t][i] = V::zero();
      TESSERA_QUANT_UNROLL
      for (std::size_t k = 0; k < 8; ++k) {
        const auto v = V::load(g.qs + (8 * c + k) * kGroupRows * 4);
        auto lo = V::and_(v, low4), hi = V::and_(V::template srl16<4>(v), low4);
        if constexpr (five) {  // bit 2c (2c + 1) of qh as 16
          const auto h = V::load(g.qh + k * kGroupRows * 4);
          lo = V::or_(lo, V::template sll16<4>(V::min_u8(V::and_(h, bit_lo), one)));
          hi = V::or_(hi, V::template sll16<4>(V::min_u8(V::and_(h, bit_hi), one)));
        }
        TESSERA_QUANT_UNROLL
        for (std::size_t t = 0; t < NT; ++t) {
          const std::int8_t* x = a[t][b].qs + 64 * c + 4 * k;
          auto& ls = lo_sum[t][k % S];
          auto& hs = hi_sum[t][k % S];
          if constexpr (V::vnni) {
            ls = V::dot4(ls, lo, V::bcast32(x));
            hs = V::dot4(hs, hi, V::bcast32(x + 32));
          } else {
            ls = V::add16(ls, V::maddubs(lo, V::bcast32(x)));
            hs = V::add16(hs, V::maddubs(hi, V::bcast32(x + 32)));
            if ((k + 1) % widen_every == 0) {  // the scale in both int16 halves: madd weights both pair sums
              total[t] = V::add32(total[t], V::add32(V::madd(ls, V::or_(s_lo, V::sll16_32(s_lo))), V::madd(hs, V::or_(s_hi, V::sll16_32(s_hi)))));
              ls = hs = V::zero();
            }
          }
        }
      }
      if constexpr (V::vnni) {
        TESSERA_QUANT_UNROLL
        for (std::size_t t = 0; t < NT; ++t) {
          auto ls = lo_sum[t][0], hs = hi_sum[t][0];
          if constexpr (S == 2) {
            ls = V::add32(ls, lo_sum[t][1]);
            hs = V::add32(hs, hi_sum[t][1]);
          }
          total[t] = V::add32(total[t], V::add32(V::mul32(ls, s_lo), V::mul32(hs, s_hi)));
        }
      }
    }
    TESSERA_QUANT_UNROLL
    for (std::size_t j = 0; j < 8; ++j) {
      const auto m = V::bytes_to_32(g.mins[j]);
      TESSERA_QUANT_UNROLL
      for (std::size_t t = 0; t < NT; ++t)
        mins[t] = V::add32(mins[t], V::mul32(m, V::set1(a[t][b].bsums[2 * j] + a[t][b].bsums[2 * j + 1])));
    }
    const auto d = V::halves(g.d), dmin = V::halves(g.dmin);
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const auto dx = V::fset1(a[t][b].d);
      acc[t] = V::fma(V::mul(d, dx), V::to_float(total[t]), acc[t]);
      acc[t] = V::fnma(V::mul(dmin, dx), V::to_float(mins[t]), acc[t]);
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) V::store(out + t * kGroupRows, acc[t]);
}

// Q6_K: codes 0..63 (the -32 comes in through the activations' 16-sums), per half h and
// 4-byte column k the four 32-value quarters from ql's nibbles and qh's bit pairs; each
// sub-block of 16 values (4 columns of one quarter) is weighted by its signed scale.
template <std::size_t NT>
void dot(std::size_t nb, const group_q6_k<kGroupRows>* groups, const block_q8_k* const* a, const std::int32_t* const*, float* out) {
  using V = isa;
  constexpr std::size_t G = kGroupRows;
  typename V::fv acc[NT];
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) acc[t] = V::fzero();
  const auto low4 = V::set1_8(0x0f), two = V::set1_8(0x03);
  for (std::size_t b = 0; b < nb; ++b) {
    const group_q6_k<G>& g = groups[b];
    typename V::iv total[NT], offset[NT];
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) total[t] = offset[t] = V::zero();
    for (std::size_t h = 0; h < 2; ++h) {
      for (std::size_t half = 0; half < 2; ++half) {  // columns k of 4 bytes: 4 * half .. 4 * half + 3
        // Sums of the four sub-blocks 8h + 2q + half (quarter q); without VNNI as int16 pair
        // sums: 2 products of a code (<= 63) and a Q8_K code (>= -128) each, two columns at
        // most before widening (32256).
        typename V::iv sum[NT][4];
        TESSERA_QUANT_UNROLL
        for (std::size_t t = 0; t < NT; ++t)
          for (int q = 0; q < 4; ++q) sum[t][q] = V::zero();
        TESSERA_QUANT_UNROLL
        for (std::size_t kk = 0; kk < 4; ++kk) {
          const std::size_t k = 4 * half + kk;
          const auto lo = V::load(g.ql + (16 * h + k) * G * 4), hi = V::load(g.ql + (16 * h + 8 + k) * G * 4);
          const auto top = V::load(g.qh + (8 * h + k) * G * 4);
          const typename V::iv codes[4] = {
              V::or_(V::and_(lo, low4), V::sll16<4>(V::and_(top, two))),
              V::or_(V::and_(hi, low4), V::sll16<4>(V::and_(V::srl16<2>(top), two))),
              V::or_(V::and_(V::srl16<4>(lo), low4), V::sll16<4>(V::and_(V::srl16<4>(top), two))),
              V::or_(V::and_(V::srl16<4>(hi), low4), V::sll16<4>(V::and_(V::srl16<6>(top), two))),
          };
          TESSERA_QUANT_UNROLL
          for (std::size_t t = 0; t < NT; ++t) {
            const std::int8_t* x = a[t][b].qs + 128 * h + 4 * k;
            TESSERA_QUANT_UNROLL
            for (int q = 0; q < 4; ++q) {
              if constexpr (V::vnni) {
                sum[t][q] = V::dot4(sum[t][q], codes[q], V::bcast32(x + 32 * q));
              } else if (kk % 2 == 0) {
                sum[t][q] = V::maddubs(codes[q], V::bcast32(x + 32 * q));
              } else {  // widen each two columns, weighted by the sub-block's scale below
                sum[t][q] = V::add16(sum[t][q], V::maddubs(codes[q], V::bcast32(x + 32 * q)));
              }
            }
            if constexpr (!V::vnni) {
              if (kk % 2 == 1) {
                TESSERA_QUANT_UNROLL
                for (int q = 0; q < 4; ++q) {
                  const auto sc = V::sbytes_to_32(g.scales[8 * h + 2 * q + half]);
                  total[t] = V::add32(total[t], V::madd(sum[t][q], V::or_(V::and_(sc, V::set1(0xffff)), V::sll16_32(sc))));
                }
              }
            }
          }
        }
        TESSERA_QUANT_UNROLL
        for (int q = 0; q < 4; ++q) {
          const std::size_t j = 8 * h + 2 * q + half;
          const auto sc = V::sbytes_to_32(g.scales[j]);
          TESSERA_QUANT_UNROLL
          for (std::size_t t = 0; t < NT; ++t) {
            if constexpr (V::vnni) total[t] = V::add32(total[t], V::mul32(sum[t][q], sc));
            offset[t] = V::add32(offset[t], V::mul32(sc, V::set1(a[t][b].bsums[j])));
          }
        }
      }
    }
    const auto d = V::halves(g.d);
    TESSERA_QUANT_UNROLL
    for (std::size_t t = 0; t < NT; ++t) {
      const auto s = V::sub32(total[t], V::mul32(offset[t], V::set1(32)));
      acc[t] = V::fma(V::mul(d, V::fset1(a[t][b].d)), V::to_float(s), acc[t]);
    }
  }
  TESSERA_QUANT_UNROLL
  for (std::size_t t = 0; t < NT; ++t) V::store(out + t * kGroupRows, acc[t]);
}

// Activation rows per kernel call: the accumulators of NT rows must stay in registers.
inline constexpr std::size_t kTileTokens = kGroupRows == 16 ? 4 : 2;
// The kernels take each Q8_0 activation block's sum of codes (asum).
inline constexpr bool kActivationSums = true;
// On prompts these kernels outrun kernels::quant_matmul::f32_panels, which regrouped matrices
// then ignore.
inline constexpr bool kOutrunPanels = true;
#endif

#if TESSERA_QUANT_WASM
// out[t * G + r] = dot(row r, a[t]) for the G = 4 rows of `groups`: dot_wasm.hpp's row
// kernels read through strided_rows, in the tiles of plain rows (4 rows x 1 token, 2 rows x 4
// tokens), so each output has the bits it has from plain rows.
template <std::size_t NT, class Block>
void dot(std::size_t nb, const block_group<Block, kGroupRows>* groups, const typename format<Block>::act* const* a, const std::int32_t* const*,
         float* out) {
  constexpr std::size_t G = kGroupRows, R = NT == 1 ? G : 2;
  const Block* first = groups[0].rows;
  for (std::size_t r0 = 0; r0 < G; r0 += R) {
    float tile[R * NT];
    wasm128::dot<Block, R, NT>(nb, strided_rows<Block, G>{first + r0}, a, tile);
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t t = 0; t < NT; ++t) out[t * G + r0 + r] = tile[r * NT + t];
  }
}
inline constexpr std::size_t kTileTokens = 4;
inline constexpr bool kActivationSums = false;
// gemm_f32 on dequantized panels runs prompts about 1.5x faster than these kernels.
inline constexpr bool kOutrunPanels = false;
#endif

#if !TESSERA_QUANT_AVX2 && !TESSERA_QUANT_WASM
inline constexpr bool kOutrunPanels = false;  // no group kernels
#endif

}  // namespace tessera::kernels::detail::quant::interleaved
