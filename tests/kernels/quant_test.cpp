// Tests of include/tessera/kernels/quant.hpp against kernels/ref/quant.hpp (element-wise
// decoding, double products) and against ggml's own reference quantizers (golden bytes).
#include "support/harness.hpp"
#include "kernels/quant_golden_ggml.hpp"

#include <tessera/kernels/quant.hpp>
#include <tessera/kernels/ref/quant.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

using namespace tessera;

namespace {

constexpr dtype kWeightTypes[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::q8_0, dtype::q4_0, dtype::q4_1,
                                  dtype::q5_0, dtype::q5_1, dtype::q4_k, dtype::q5_k, dtype::q6_k};

std::vector<std::uint8_t> quantized(dtype t, const std::vector<float>& x) {
  std::vector<std::uint8_t> bytes(test::must(kernels::quant_row_bytes(t, x.size())));
  REQUIRE(kernels::quantize_row(t, x.data(), bytes.data(), x.size()).ok());
  return bytes;
}

// The input of the golden bytes (see quant_golden_ggml.hpp): exact in float by construction.
std::vector<float> quant_golden_input() {
  const auto value = [](std::uint32_t i) {
    std::uint32_t h = i * 2654435761u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    return static_cast<float>(static_cast<int>(h % 20001u) - 10000) * (1.0f / 8192.0f);
  };
  std::vector<float> x(6 * 512);
  for (int r = 0; r < 6; ++r)
    for (int i = 0; i < 512; ++i) {
      float v = value(static_cast<std::uint32_t>(r * 512 + i));
      const float s = static_cast<float>(1 << ((i / 32) % 7)) / 8.0f;
      switch (r) {
        case 0: v *= s; break;
        case 1: v = v < 0 ? -v * s : v * s; break;
        case 2: v = i < 256 ? 0.0f : v; break;
        case 3: v = 0.75f; break;
        case 4: v = (i == 37 || i == 300) ? v * 64.0f : v; break;
        default: v *= 1.0f / 1048576.0f; break;
      }
      x[static_cast<std::size_t>(r * 512 + i)] = v;
    }
  return x;
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

dtype dtype_named(const std::string& name) {
  for (int i = 0; i < dtype_count; ++i)
    if (name == dtype_name(static_cast<dtype>(i))) return static_cast<dtype>(i);
  FAIL("unknown type " << name);
  return dtype::f32;
}

}  // namespace

TEST_SUITE("kernels/quant") {

TEST_CASE("quantize_row writes the bytes of ggml's reference quantizers") {
  const std::vector<float> x = quant_golden_input();
  int checked = 0;
  for (const auto& g : test::quant_golden) {
    const std::string type_name = g.type;
    CAPTURE(type_name);
    const std::string got = hex(quantized(dtype_named(g.type), x));
    const std::string want = g.hex;
    REQUIRE(got.size() == want.size());
    std::size_t first = 0;
    while (first < got.size() && got[first] == want[first]) ++first;
    CAPTURE(first / 2);
    CHECK(first == got.size());
    ++checked;
  }
  CHECK(checked == 12);  // 11 weight formats but f32, plus Q8_1 and Q8_K
}

TEST_CASE("dequantize_row agrees with the element-wise reference") {
  test::rng g(11);
  for (dtype t : kWeightTypes) {
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    const std::size_t n = traits_of(t).is_float ? 83 : traits_of(t).block_elements * 5;
    std::vector<float> x = test::random_floats(n, -3, 3, g);
    x[7] = 0.0f;
    const std::vector<std::uint8_t> bytes = quantized(t, x);
    std::vector<float> fast(n);
    std::vector<double> ref(n);
    REQUIRE(kernels::dequantize_row(t, bytes.data(), fast.data(), n).ok());
    REQUIRE(kernels::ref::dequantize_row(t, bytes.data(), ref.data(), n).ok());
    for (std::size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      CHECK(std::fabs(fast[i] - ref[i]) <= 1e-6 * (1 + std::fabs(ref[i])));
    }
  }
}

TEST_CASE("quantization error stays within each format's resolution") {
  // RMS error over RMS value of N(0,1)-like data: ggml's formats reach these comfortably.
  const std::pair<dtype, double> bounds[] = {{dtype::f16, 1e-3}, {dtype::bf16, 5e-3}, {dtype::q8_0, 0.01}, {dtype::q4_0, 0.12},
                                             {dtype::q4_1, 0.1},  {dtype::q5_0, 0.06}, {dtype::q5_1, 0.05},  {dtype::q4_k, 0.1},
                                             {dtype::q5_k, 0.05}, {dtype::q6_k, 0.025}, {dtype::q8_k, 0.01}};
  test::rng g(12);
  std::vector<float> x(4096);
  for (auto& v : x) v = static_cast<float>(g.uniform(-1, 1) + g.uniform(-1, 1) + g.uniform(-1, 1));
  for (auto [t, bound] : bounds) {
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    std::vector<float> y(x.size());
    REQUIRE(kernels::dequantize_row(t, quantized(t, x).data(), y.data(), x.size()).ok());
    double err = 0, ref = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      err += (y[i] - x[i]) * (y[i] - x[i]);
      ref += x[i] * x[i];
    }
    CHECK(std::sqrt(err / ref) < bound);
  }
}

TEST_CASE("matvec and matmul match the double reference for every weight type, tails and token counts") {
  test::rng g(13);
  for (dtype t : kWeightTypes) {
    const std::size_t block = std::max<std::size_t>(traits_of(t).block_elements, traits_of(kernels::activation_type(t)).block_elements);
    for (std::size_t kb : {1u, 3u}) {
      // Float types also get K that is not a multiple of the vector width.
      const std::size_t K = traits_of(t).is_float ? 16 * kb + 5 : block * kb;
      for (std::size_t N : {1u, 7u, 33u}) {
        for (std::size_t M : {1u, 3u, 4u, 9u}) {
          const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
          CAPTURE(K);
          CAPTURE(N);
          CAPTURE(M);
          std::vector<float> w = test::random_floats(N * K, -1, 1, g);
          std::vector<float> x = test::random_floats(M * K, -2, 2, g);
          if (K > 40) x[33] = 0.0f;
          const std::vector<std::uint8_t> wq = quantized(t, w);
          const kernels::quant_matrix W = test::must(kernels::make_quant_matrix(t, N, K, wq));
          // The reference multiplies the activations exactly as the kernel quantized them.
          const dtype at = kernels::activation_type(t);
          const std::vector<std::uint8_t> xq = quantized(at, x);
          std::vector<double> ref;
          REQUIRE(kernels::ref::matmul(ref, t, wq.data(), N, at, xq.data(), M, K).ok());
          std::vector<float> y(M * N, -7.0f);
          REQUIRE(kernels::matmul(y.data(), N, W, x.data(), K, M).ok());
          for (std::size_t i = 0; i < M * N; ++i) {
            CAPTURE(i);
            CHECK(std::fabs(y[i] - ref[i]) <= 2e-5 * static_cast<double>(K));
          }
          std::vector<float> y1(N);
          REQUIRE(kernels::matvec(y1.data(), W, x.data() + (M - 1) * K).ok());
          for (std::size_t n = 0; n < N; ++n) CHECK(y1[n] == y[(M - 1) * N + n]);
        }
      }
    }
  }
}

TEST_CASE("f32_panels: prompt-sized matmuls multiply the dequantized weights in f32, with strides and a pool") {
  // With f32_panels, 32 rows and more dequantize panels of weight rows and run gemm_f32: the
  // activations are not quantized, so the reference takes them as f32.
  test::rng g(17);
  runtime::thread_pool two(2);
  for (dtype t : kWeightTypes) {
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    const std::size_t block = std::max<std::size_t>(traits_of(t).block_elements, traits_of(kernels::activation_type(t)).block_elements);
    // K = 4096 values cap a panel at 32 rows (kPanelFloats / K): N = 70 spans several, the last partial.
    for (const auto& shape : {std::pair{2 * block, std::size_t{32}}, std::pair{std::size_t{4096}, std::size_t{53}}}) {
      const std::size_t K = shape.first, M = shape.second, N = 70, ldx = K + 3, ldy = N + 5;
      CAPTURE(K);
      CAPTURE(M);
      const std::vector<float> w = test::random_floats(N * K, -1, 1, g);
      std::vector<float> x = test::random_floats(M * ldx, -2, 2, g);
      const std::vector<std::uint8_t> wq = quantized(t, w);
      const kernels::quant_matrix W = test::must(kernels::make_quant_matrix(t, N, K, wq));
      std::vector<float> packed_x(M * K);
      for (std::size_t m = 0; m < M; ++m) std::copy_n(x.data() + m * ldx, K, packed_x.data() + m * K);
      std::vector<double> ref;
      REQUIRE(kernels::ref::matmul(ref, t, wq.data(), N, dtype::f32, packed_x.data(), M, K).ok());
      std::vector<float> y(M * ldy, -7.0f), y2(M * ldy, -7.0f);
      constexpr auto panels = kernels::quant_matmul::f32_panels;
      REQUIRE(kernels::matmul(y.data(), ldy, W, x.data(), ldx, M, nullptr, nullptr, panels).ok());
      REQUIRE(kernels::matmul(y2.data(), ldy, W, x.data(), ldx, M, &two, nullptr, panels).ok());
      CHECK(y == y2);
      std::size_t bad = 0;
      for (std::size_t m = 0; m < M; ++m)
        for (std::size_t n = 0; n < ldy; ++n) {
          const float v = y[m * ldy + n];
          if (n >= N) bad += v != -7.0f;  // the stride's gap is never written
          else bad += !(std::fabs(v - ref[m * N + n]) <= 1e-6 * static_cast<double>(K));
        }
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("regrouped rows: the groups hold each row's block bytes exactly (x86's 8 and 16 rows, WASM's 4)") {
  namespace il = kernels::detail::quant::interleaved;
  test::rng g(21);
  const auto check = [&]<class Block, std::size_t G>() {
    // Arbitrary bytes: every bit of the scales and codes must come back.
    std::vector<Block> rows(G * 3);
    std::vector<std::uint8_t> noise(rows.size() * sizeof(Block));
    for (auto& byte : noise) byte = static_cast<std::uint8_t>(g.next());
    std::memcpy(rows.data(), noise.data(), noise.size());
    const Block* row_ptrs[G];
    for (std::size_t r = 0; r < G; ++r) row_ptrs[r] = rows.data() + 3 * r;
    for (std::size_t b = 0; b < 3; ++b) {
      const auto round_trip = [&](auto& group) {
        il::make_group(row_ptrs, b, group);
        for (std::size_t r = 0; r < G; ++r) {
          Block back;
          il::row_block(group, r, back);
          CHECK(std::memcmp(&back, row_ptrs[r] + b, sizeof(Block)) == 0);
        }
      };
      if constexpr (G == 4) {
        il::block_group<Block, G> group;
        round_trip(group);
      } else {
        il::group_t<Block, G> group;
        round_trip(group);
      }
    }
  };
  check.template operator()<block_q4_0, 8>();
  check.template operator()<block_q4_0, 16>();
  check.template operator()<block_q4_k, 8>();
  check.template operator()<block_q4_k, 16>();
  check.template operator()<block_q8_0, 8>();
  check.template operator()<block_q8_0, 16>();
  check.template operator()<block_q6_k, 8>();
  check.template operator()<block_q6_k, 16>();
  check.template operator()<block_q5_k, 8>();
  check.template operator()<block_q5_k, 16>();
  check.template operator()<block_q4_0, 4>();
  check.template operator()<block_q4_1, 4>();
  check.template operator()<block_q5_0, 4>();
  check.template operator()<block_q5_1, 4>();
  check.template operator()<block_q8_0, 4>();
  check.template operator()<block_q4_k, 4>();
  check.template operator()<block_q5_k, 4>();
  check.template operator()<block_q6_k, 4>();
}

TEST_CASE("regrouped matrices multiply like the plain ones, with leftover rows, strides, token counts and a pool") {
  namespace il = kernels::detail::quant::interleaved;
  if (!kernels::regrouping_pays(dtype::q4_0)) {
    CHECK(!kernels::regroup(kernels::quant_matrix{dtype::q4_0, 16, 32, 18, nullptr}).ok());
    return;
  }
  test::rng g(22);
  runtime::thread_pool two(2);
  for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q4_k, dtype::q5_k, dtype::q6_k, dtype::q8_0}) {
    if (!kernels::regrouping_pays(t)) continue;
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    // 16 * 7 + 5 rows: whole groups of 4, 8 or 16 and rows left plain.
    const std::size_t N = 117, K = 512, ldy = N + 3, ldx = K + 7;
    const std::vector<std::uint8_t> wq = quantized(t, test::random_floats(N * K, -1, 1, g));
    const kernels::quant_matrix W = test::must(kernels::make_quant_matrix(t, N, K, wq));
    const kernels::regrouped_matrix R = test::must(kernels::regroup(W, &two));
    CHECK(R.matrix.row_group > 1);
    if (kernels::regroups_in_place(t)) {
      // In place: the copy's bytes, in the matrix's own.
      std::vector<std::uint8_t> own = wq;
      kernels::quant_matrix V = test::must(kernels::make_quant_matrix(t, N, K, own));
      CHECK(!kernels::regroup_in_place(V, std::span<std::uint8_t>(own).subspan(1)).ok());
      REQUIRE(kernels::regroup_in_place(V, own, &two).ok());
      CHECK(V.row_group == R.matrix.row_group);
      CHECK(std::memcmp(own.data(), R.matrix.data, own.size()) == 0);
      CHECK(!kernels::regroup_in_place(V, own).ok());  // already regrouped
    }
    for (const std::size_t M : {1u, 2u, 3u, 5u, 9u, 40u}) {
      CAPTURE(M);
      const std::vector<float> x = test::random_floats(M * ldx, -2, 2, g);
      std::vector<float> plain(M * ldy, -7.0f), grouped(M * ldy, -7.0f), pooled(M * ldy, -7.0f), panels(M * ldy, -7.0f),
          plain_panels(M * ldy, -7.0f);
      REQUIRE(kernels::matmul(plain.data(), ldy, W, x.data(), ldx, M).ok());
      REQUIRE(kernels::matmul(grouped.data(), ldy, R.matrix, x.data(), ldx, M).ok());
      REQUIRE(kernels::matmul(pooled.data(), ldy, R.matrix, x.data(), ldx, M, &two).ok());
      REQUIRE(kernels::matmul(panels.data(), ldy, R.matrix, x.data(), ldx, M, nullptr, nullptr, kernels::quant_matmul::f32_panels).ok());
      REQUIRE(kernels::matmul(plain_panels.data(), ldy, W, x.data(), ldx, M, nullptr, nullptr, kernels::quant_matmul::f32_panels).ok());
      CHECK(grouped == pooled);
      // Where the group kernels outrun f32 panels, regrouped matrices keep the integer
      // products; elsewhere the panels, dequantized from the groups, are the plain rows' panels.
      CHECK(panels == (il::kOutrunPanels ? grouped : plain_panels));
      if (il::kRegroupsInPlace) CHECK(grouped == plain);  // the row kernels, strided: the same bits
      std::size_t bad = 0;
      for (std::size_t i = 0; i < plain.size(); ++i) {
        // The same integer sums, scaled and added in another order.
        if (i % ldy >= N) bad += grouped[i] != -7.0f;
        else bad += !(std::fabs(grouped[i] - plain[i]) <= 1e-5f * (1.0f + std::fabs(plain[i])));
      }
      CHECK(bad == 0);
    }
  }
  // A regrouped matrix this build did not make, and types that are not regrouped.
  kernels::quant_matrix odd = test::must(kernels::make_quant_matrix(dtype::q4_0, 16, 32, std::vector<std::uint8_t>(16 * 18)));
  odd.row_group = 3;
  float y[16], x[32] = {};
  CHECK(!kernels::matvec(y, odd, x).ok());
  CHECK(!kernels::regroup(test::must(kernels::make_quant_matrix(dtype::f16, 1, 32, std::vector<std::uint8_t>(64)))).ok());
  if (!kernels::regrouping_pays(dtype::q5_0))
    CHECK(!kernels::regroup(test::must(kernels::make_quant_matrix(dtype::q5_0, 1, 32, std::vector<std::uint8_t>(22)))).ok());
}

TEST_CASE("round_half_away rounds as std::round, halves and the float just below them included") {
  namespace q = kernels::detail::quant;
  test::rng g(24);
  std::size_t bad = 0;
  for (float v : {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f, 127.5f, -127.49999f, 8388607.5f, 1e9f}) bad += q::round_half_away(v) != std::round(v);
  for (int i = 0; i < 100000; ++i) {
    const float v = static_cast<float>(g.uniform(-300, 300));
    bad += q::round_half_away(v) != std::round(v);
    const float h = std::floor(v) + 0.5f;  // a half, and its neighbours
    bad += q::round_half_away(h) != std::round(h);
    bad += q::round_half_away(std::nextafter(h, 0.0f)) != std::round(std::nextafter(h, 0.0f));
  }
  CHECK(bad == 0);
}

TEST_CASE("dot_rows4 and axpy_rows4 give the bits of four dot_row / axpy_row calls") {
  test::rng g(23);
  for (const std::size_t n : {64u, 67u}) {
    const std::vector<float> rows = test::random_floats(4 * n, -1, 1, g), x = test::random_floats(n, -1, 1, g);
    const float* w[4] = {rows.data(), rows.data() + n, rows.data() + 2 * n, rows.data() + 3 * n};
    float four[4];
    kernels::dot_rows4(w, x.data(), n, four);
    for (int r = 0; r < 4; ++r) CHECK(four[r] == kernels::dot_row(w[r], x.data(), n));
    const float alpha[4] = {0.3f, -1.7f, 2.1f, 1e-3f};
    std::vector<float> one_by_one = x, together = x;
    for (int r = 0; r < 4; ++r) kernels::axpy_row(one_by_one.data(), alpha[r], w[r], n);
    kernels::axpy_rows4(together.data(), alpha, w, n);
    CHECK(one_by_one == together);
  }
}

TEST_CASE("products give the same bits on one thread and on a pool") {
  test::rng g(14);
  runtime::thread_pool one(1), two(2);
  for (dtype t : {dtype::q4_k, dtype::q8_0, dtype::f16}) {
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    for (const std::size_t M : {6u, 64u}) {
      const std::size_t N = 301, K = 512;
      const std::vector<std::uint8_t> wq = quantized(t, test::random_floats(N * K, -1, 1, g));
      const kernels::quant_matrix W = test::must(kernels::make_quant_matrix(t, N, K, wq));
      const std::vector<float> x = test::random_floats(M * K, -1, 1, g);
      std::vector<float> a(M * N), b(M * N);
      REQUIRE(kernels::matmul(a.data(), N, W, x.data(), K, M, &one).ok());
      REQUIRE(kernels::matmul(b.data(), N, W, x.data(), K, M, &two).ok());
      CHECK(a == b);
    }
  }
}

TEST_CASE("non-finite values poison their block: products with it are NaN, other blocks unchanged") {
  for (dtype t : kWeightTypes) {
    if (traits_of(t).is_float) continue;
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    const std::size_t block = traits_of(t).block_elements;
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      std::vector<float> x(2 * block, 0.5f);
      x[block + 3] = bad;
      std::vector<float> y(2 * block);
      REQUIRE(kernels::dequantize_row(t, quantized(t, x).data(), y.data(), y.size()).ok());
      CHECK(y[0] == doctest::Approx(0.5).epsilon(0.1));
      CHECK(std::isnan(y[block]));
    }
    // An activation NaN makes the product NaN.
    std::vector<float> w(block, 0.25f), x(block, 1.0f);
    x[1] = std::numeric_limits<float>::quiet_NaN();
    const auto wq = quantized(t, w);
    float out = 0;
    REQUIRE(kernels::matvec(&out, test::must(kernels::make_quant_matrix(t, 1, block, wq)), x.data()).ok());
    CHECK(std::isnan(out));
  }
}

#if TESSERA_QUANT_WASM || TESSERA_QUANT_NEON
namespace isa_tiles {

// Four weight rows and four activation rows of K values for the ISA kernels' tests: an
// all-zero block and a block dominated by one large value; `extremes` adds subnormal f16
// scales (weight row 2) and an infinite activation (row 2: NaN and inf products).
struct inputs {
  std::vector<float> w, x;
  std::vector<std::uint8_t> wq, xq;
};
inputs make_inputs(dtype t, std::size_t K, test::rng& g, bool extremes) {
  inputs in{test::random_floats(4 * K, -1, 1, g), test::random_floats(4 * K, -2, 2, g), {}, {}};
  for (std::size_t i = 0; i < std::min<std::size_t>(64, K); ++i) in.w[K + i] = 0.0f;
  if (extremes) {
    for (std::size_t i = 0; i < K; ++i) in.w[2 * K + i] *= 1e-5f;
    in.x[2 * K + 5] = std::numeric_limits<float>::infinity();
  }
  in.w[3 * K + std::min<std::size_t>(40, K - 1)] = 3e4f;
  in.wq = quantized(t, in.w);
  in.xq = quantized(kernels::activation_type(t), in.x);
  return in;
}

}  // namespace isa_tiles
#endif

#if TESSERA_QUANT_WASM
namespace wasm_tiles {
namespace q = kernels::detail::quant;

// wasm128::dot against generic::dot_tile on one R x NT tile: the same bits (NaN as NaN).
template <class Block, std::size_t R, std::size_t NT>
void check_tile(const Block* w, const typename q::format<Block>::act* a, std::size_t nb, std::size_t act_row_blocks) {
  using Act = typename q::format<Block>::act;
  const Block* rows[R];
  const Act* acts[NT];
  for (std::size_t r = 0; r < R; ++r) rows[r] = w + r * nb;
  for (std::size_t t = 0; t < NT; ++t) acts[t] = a + t * act_row_blocks;
  float simd[R * NT], generic[R * NT];
  q::wasm128::dot<Block, R, NT>(nb, rows, acts, simd);
  q::generic::dot_tile<Block, R, NT>(nb, rows, acts, generic);
  for (std::size_t k = 0; k < R * NT; ++k) {
    CAPTURE(R);
    CAPTURE(NT);
    CAPTURE(k);
    if (std::isnan(generic[k])) CHECK(std::isnan(simd[k]));
    else CHECK(std::memcmp(&simd[k], &generic[k], sizeof(float)) == 0);
  }
}

}  // namespace wasm_tiles

TEST_CASE("WASM SIMD128 kernels give the generic bodies' bits for every format and tile shape") {
  namespace q = kernels::detail::quant;
  test::rng g(15);
  const std::size_t K = 768;  // 3 K-quant super-blocks, 24 32-blocks
  for (dtype t : kWeightTypes) {
    if (t == dtype::f32) continue;
    // F16 and BF16 also with rows of 13 values (a 4-value step and a scalar tail).
    for (const std::size_t k : {K, std::size_t{13}}) {
      if (k == 13 && !traits_of(t).is_float) continue;
      const std::string type_name = dtype_name(t);
      CAPTURE(type_name);
      CAPTURE(k);
      const isa_tiles::inputs in = isa_tiles::make_inputs(t, k, g, /*extremes=*/k == K);
      const std::vector<std::uint8_t>&wq = in.wq, &xq = in.xq;
      q::visit_weight_type(t, [&](auto block) {
        using B = decltype(block);
        using Act = typename q::format<B>::act;
        if constexpr (!std::is_same_v<B, float>) {
          static_assert(q::wasm128::has_kernel<B>);
          const auto* wb = reinterpret_cast<const B*>(wq.data());
          const auto* ab = reinterpret_cast<const Act*>(xq.data());
          const std::size_t nb = k / q::elements_of<B>, act_blocks = k / q::elements_of<Act>;
          wasm_tiles::check_tile<B, 4, 1>(wb, ab, nb, act_blocks);
          wasm_tiles::check_tile<B, 2, 4>(wb, ab, nb, act_blocks);
          wasm_tiles::check_tile<B, 1, 4>(wb, ab, nb, act_blocks);
          wasm_tiles::check_tile<B, 1, 1>(wb, ab, nb, act_blocks);
          wasm_tiles::check_tile<B, 3, 3>(wb, ab, nb, act_blocks);
        }
      });
    }
  }
}

TEST_CASE("WASM SIMD128 f16 conversions equal the scalar one for all 65536 values") {
  namespace q = kernels::detail::quant;
  std::size_t wrong = 0, wrong_high = 0;
  for (std::uint32_t h = 0; h < 65536; h += 4) {
    float got[4], got_high[4];
    wasm_v128_store(got, q::wasm128::half_lanes<4>([&](std::size_t i) { return f16::from_bits(static_cast<std::uint16_t>(h + i)); }));
    wasm_v128_store(got_high, q::high_halves_to_floats(wasm_i32x4_make(h << 16, (h + 1) << 16, (h + 2) << 16, (h + 3) << 16)));
    for (std::uint32_t i = 0; i < 4; ++i) {
      const float want = q::half_to_float(f16::from_bits(static_cast<std::uint16_t>(h + i)));
      if (std::memcmp(&got[i], &want, sizeof(float)) != 0) ++wrong;
      if (std::memcmp(&got_high[i], &want, sizeof(float)) != 0) ++wrong_high;
    }
  }
  CHECK(wrong == 0);
  CHECK(wrong_high == 0);
}
#endif

#if TESSERA_QUANT_NEON
TEST_CASE("NEON kernels serve every quantized format, the same bits in every tile shape, near the generic bodies") {
  namespace q = kernels::detail::quant;
  test::rng g(16);
  const std::size_t K = 768;  // 3 K-quant super-blocks, 24 32-blocks
  for (dtype t : kWeightTypes) {
    if (traits_of(t).is_float) continue;
    const std::string type_name = dtype_name(t);
    CAPTURE(type_name);
    const std::string name = kernels::quant_dot_kernel_name(t);
    CHECK(name.substr(name.size() - 6) == "__neon");
    const dtype at = kernels::activation_type(t);
    const isa_tiles::inputs in = isa_tiles::make_inputs(t, K, g, /*extremes=*/false);
    const std::vector<float>&w = in.w, &x = in.x;
    const std::vector<std::uint8_t>&wq = in.wq, &xq = in.xq;
    // Products are compared with the generic bodies' within float rounding of sum |w a|: the
    // 32-blocks sum in four lanes, and GCC fuses the K-quants' float expression at -O2 only.
    std::vector<float> wd(w.size()), xd(x.size());
    REQUIRE(kernels::dequantize_row(t, wq.data(), wd.data(), wd.size()).ok());
    REQUIRE(kernels::dequantize_row(at, xq.data(), xd.data(), xd.size()).ok());
    q::visit_weight_type(t, [&](auto block) {
      using B = decltype(block);
      using Act = typename q::format<B>::act;
      if constexpr (!std::is_same_v<Act, float>) {
        static_assert(q::neon::has_kernel<B>);
        const std::size_t nb = K / B::elements;
        const auto row = [&](std::size_t r) { return reinterpret_cast<const B*>(wq.data()) + r * nb; };
        const auto act = [&](std::size_t t) { return reinterpret_cast<const Act*>(xq.data()) + t * (K / Act::elements); };
        const auto check_tile = [&]<std::size_t R, std::size_t NT>() {
          const B* rows[R];
          const Act* acts[NT];
          for (std::size_t r = 0; r < R; ++r) rows[r] = row(r);
          for (std::size_t t = 0; t < NT; ++t) acts[t] = act(t);
          float tile[R * NT];
          q::neon::dot<B, R, NT>(nb, rows, acts, tile);
          for (std::size_t k = 0; k < R * NT; ++k) {
            CAPTURE(R);
            CAPTURE(NT);
            CAPTURE(k);
            const std::size_t r = k / NT, t = k % NT;
            float alone = 0.0f, generic = 0.0f;
            q::neon::dot<B, 1, 1>(nb, &rows[r], &acts[t], &alone);
            q::generic::dot_tile<B, 1, 1>(nb, &rows[r], &acts[t], &generic);
            CHECK(std::memcmp(&tile[k], &alone, sizeof(float)) == 0);
            double magnitude = 0;
            for (std::size_t i = 0; i < K; ++i) magnitude += std::fabs(static_cast<double>(wd[r * K + i]) * xd[t * K + i]);
            CHECK(std::fabs(alone - generic) <= 1e-6 * magnitude);
          }
        };
        check_tile.template operator()<4, 1>();
        check_tile.template operator()<2, 4>();
        check_tile.template operator()<1, 3>();
        check_tile.template operator()<3, 2>();
      }
    });
  }
}

TEST_CASE("aarch64's f16 conversion (fcvt) equals tessera's exact one for all 65536 values") {
  std::size_t wrong = 0;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const f16 v = f16::from_bits(static_cast<std::uint16_t>(h));
    const float got = kernels::detail::quant::half_to_float(v), want = f16::to_float(v.bits);
    // fcvt quiets signalling NaNs: any NaN is the same value here.
    if (std::isnan(want) ? !std::isnan(got) : std::memcmp(&got, &want, sizeof(float)) != 0) ++wrong;
  }
  CHECK(wrong == 0);
}
#endif

TEST_CASE("bad shapes and types are errors") {
  std::vector<std::uint8_t> bytes(34 * 4);
  CHECK(kernels::make_quant_matrix(dtype::q8_0, 2, 64, bytes).ok());
  CHECK(kernels::make_quant_matrix(dtype::q8_0, 2, 48, bytes).err().code == errc::invalid_argument);
  CHECK(kernels::make_quant_matrix(dtype::q8_0, 3, 64, bytes).err().code == errc::shape_mismatch);
  CHECK(kernels::make_quant_matrix(dtype::q8_0, std::numeric_limits<std::size_t>::max() / 16, 64, bytes).err().code == errc::shape_mismatch);
  CHECK(kernels::make_quant_matrix(dtype::i8, 2, 64, bytes).err().code == errc::unsupported);
  CHECK(kernels::make_quant_matrix(dtype::q8_k, 1, 256, bytes).err().code == errc::unsupported);
  float x[64] = {}, y[2] = {};
  CHECK(kernels::quantize_row(dtype::q4_k, x, bytes.data(), 64).err().code == errc::invalid_argument);
  const kernels::quant_matrix W = test::must(kernels::make_quant_matrix(dtype::q8_0, 2, 64, bytes));
  CHECK(kernels::matmul(y, 2, W, x, 32, 1).err().code == errc::invalid_argument);
  CHECK(kernels::matvec(y, W, x).ok());
  CHECK(kernels::quant_dot_kernel_name(dtype::q4_k).rfind("q4_k_q8_k_dot__", 0) == 0);
}

}  // TEST_SUITE
