// gemm_f32 / gemv_f32 / packed_b_f32 against the double-accumulating scalar reference
// (kernels/ref/gemm.hpp) and against Eigen, on odd shapes (tails of every tile and block),
// every transpose combination, alpha/beta, every epilogue, the prepacked and skinny paths,
// 1 vs 2 threads, and scratch memory taken from the thread arena.
#include <tessera/core/arena.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/kernels/gemv.hpp>
#include <tessera/kernels/ref/gemm.hpp>
#include <tessera/kernels/registry.hpp>

// Eigen as an oracle only. Its SSE path does not compile under em++ (same rule as
// <tessera/eigen.hpp>, which is not included here to keep this test independent of tensors).
#if defined(__EMSCRIPTEN__) && !defined(EIGEN_DONT_VECTORIZE)
#define EIGEN_DONT_VECTORIZE
#endif
#include <Eigen/Core>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using tessera::kernels::activation;
using tessera::kernels::epilogue;
using tessera::kernels::transpose;
namespace k = tessera::kernels;

std::vector<float> random_vec(std::size_t n, std::mt19937& g, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g);
  return v;
}

// Error bound for a K-term dot product of values in [-1, 1] with f32 accumulation (the
// reference accumulates in double): grows with K, plus a relative part for the epilogue.
double tolerance(std::size_t K, double ref) { return 4e-6 * static_cast<double>(K + 16) + 2e-5 * std::fabs(ref); }

// Compares an M x N result (leading dimension ld) with the reference; reports the first mismatch.
void check_close(const std::vector<float>& got, const std::vector<float>& want, std::size_t M, std::size_t N,
                 std::ptrdiff_t ld, std::size_t K, const std::string& what) {
  for (std::size_t i = 0; i < M; ++i) {
    for (std::size_t j = 0; j < N; ++j) {
      const std::size_t at = i * static_cast<std::size_t>(ld) + j;
      const double g = got[at], w = want[at];
      const bool ok = (std::isnan(g) && std::isnan(w)) || std::fabs(g - w) <= tolerance(K, w);
      if (!ok) {
        FAIL_CHECK(what << ": C[" << i << "," << j << "] = " << g << ", expected " << w << " (M=" << M << " N=" << N
                        << " K=" << K << ")");
        return;
      }
    }
  }
}

struct gemm_case {
  std::size_t M, N, K;
  transpose ta = transpose::no, tb = transpose::no;
  float alpha = 1.0f, beta = 0.0f;
  std::size_t pad = 0;  // extra elements per row of A, B and C (leading dimension > columns)
  epilogue ep{};
  bool use_bias = false, use_residual = false;
};

std::string describe(const gemm_case& c) {
  return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         " ta=" + std::to_string(static_cast<int>(c.ta)) + " tb=" + std::to_string(static_cast<int>(c.tb)) +
         " alpha=" + std::to_string(c.alpha) + " beta=" + std::to_string(c.beta) + " pad=" + std::to_string(c.pad) +
         " act=" + k::activation_name(c.ep.act) + (c.use_bias ? " bias" : "") + (c.use_residual ? " residual" : "");
}

// Runs gemm_f32 (or, with `prepacked`, pack + the packed overload) and the reference on the
// same random data and compares.
void run_case(gemm_case c, std::mt19937& g, tessera::runtime::thread_pool* pool, bool prepacked = false) {
  const std::size_t a_rows = c.ta == transpose::no ? c.M : c.K, a_cols = c.ta == transpose::no ? c.K : c.M;
  const std::size_t b_rows = c.tb == transpose::no ? c.K : c.N, b_cols = c.tb == transpose::no ? c.N : c.K;
  const std::ptrdiff_t lda = static_cast<std::ptrdiff_t>(a_cols + c.pad), ldb = static_cast<std::ptrdiff_t>(b_cols + c.pad);
  const std::ptrdiff_t ldc = static_cast<std::ptrdiff_t>(c.N + c.pad);
  const auto A = random_vec(a_rows * static_cast<std::size_t>(lda) + 1, g);
  const auto B = random_vec(b_rows * static_cast<std::size_t>(ldb) + 1, g);
  auto C = random_vec(c.M * static_cast<std::size_t>(ldc) + 1, g);
  const auto bias = random_vec(c.N + 1, g);
  const auto res = random_vec(c.M * static_cast<std::size_t>(ldc) + 1, g);
  if (c.use_bias) c.ep.bias = bias.data();
  if (c.use_residual) {
    c.ep.residual = res.data();
    c.ep.ld_residual = ldc;
  }
  auto want = C;
  tessera::status st;
  if (prepacked) {
    auto pb = k::packed_b_f32::pack(c.K, c.N, B.data(), ldb, c.tb);
    REQUIRE_MESSAGE(pb.ok(), pb.what());
    CHECK(pb->rows() == c.K);
    CHECK(pb->cols() == c.N);
    c.alpha = 1.0f;
    c.beta = 0.0f;
    st = k::gemm_f32(c.M, A.data(), lda, *pb, C.data(), ldc, c.ep, pool);
  } else {
    st = k::gemm_f32(c.M, c.N, c.K, c.alpha, A.data(), lda, c.ta, B.data(), ldb, c.tb, c.beta, C.data(), ldc, c.ep, pool);
  }
  REQUIRE_MESSAGE(st.ok(), st.what());
  k::ref::gemm_f32(c.M, c.N, c.K, c.alpha, A.data(), lda, c.ta, B.data(), ldb, c.tb, c.beta, want.data(), ldc, c.ep);
  check_close(C, want, c.M, c.N, ldc, c.K, describe(c) + (prepacked ? " prepacked" : ""));
  // Padding between rows must be left alone.
  for (std::size_t i = 0; i < c.M; ++i)
    for (std::size_t j = c.N; j < static_cast<std::size_t>(ldc); ++j)
      if (C[i * static_cast<std::size_t>(ldc) + j] != want[i * static_cast<std::size_t>(ldc) + j]) {
        FAIL_CHECK(describe(c) << ": wrote into the padding of row " << i);
        return;
      }
}

const transpose kTrans[] = {transpose::no, transpose::yes};

namespace reg = tessera::kernels::registry;

// y = W x through gemv_f32 against the reference, W with `pad` extra elements per row.
void run_gemv_case(std::size_t N, std::size_t K, std::size_t pad, const epilogue& ep, float alpha, float beta,
                   std::mt19937& g, tessera::runtime::thread_pool* pool) {
  const std::ptrdiff_t ldw = static_cast<std::ptrdiff_t>(K + pad);
  const auto Wm = random_vec(N * static_cast<std::size_t>(ldw), g), x = random_vec(K, g);
  auto y = random_vec(N, g);
  auto want = y;
  REQUIRE(k::gemv_f32(N, K, alpha, Wm.data(), ldw, x.data(), beta, y.data(), ep, pool).ok());
  k::ref::gemv_f32(N, K, alpha, Wm.data(), ldw, x.data(), beta, want.data(), ep);
  check_close(y, want, 1, N, static_cast<std::ptrdiff_t>(N), K, "gemv N=" + std::to_string(N) + " K=" + std::to_string(K));
}

// Runs the shapes that reach a registered kernel's role in the driver (driver.hpp, run_gemm),
// at sizes off every multiple of its tile, of the vector width and of the K block.
void run_registered_kernel(const reg::gemm_kernel& kernel, std::mt19937& g, tessera::runtime::thread_pool* pool) {
  using cfg = k::detail::gemm::config;
  constexpr std::size_t MR = cfg::MR, NR = cfg::NR, W = cfg::NR / cfg::NV;
  const std::size_t odd_k = cfg::KC + 3 * W + 1;  // two uneven K blocks and a vector tail
  switch (kernel.role) {
    case reg::gemm_role::tile:
      for (transpose ta : kTrans)
        for (transpose tb : kTrans)
          // Narrow C: A's rows read in place (ta = no, natively); wide C: A packed.
          for (std::size_t n : {2 * NR + 3, (k::detail::gemm::kRowsAMaxPanels + 1) * NR + 5}) {
            gemm_case c{9 + 2 * MR + 1, n, odd_k, ta, tb, -0.75f, 0.5f, 1};
            run_case(c, g, pool);
            if (ta == transpose::no) run_case(c, g, pool, /*prepacked=*/true);  // packed B takes A as is
          }
      break;
    case reg::gemm_role::skinny_axpy:
      for (std::size_t m = 1; m <= 8; ++m)
        for (transpose ta : kTrans) {
          gemm_case c{m, 8 * 3 * W + 5, 3 * W + 1, ta, transpose::no, 1.5f, 0.5f, 2};
          run_case(c, g, pool);
          if (m <= MR && ta == transpose::no) run_case(c, g, pool, /*prepacked=*/true);
        }
      break;
    case reg::gemm_role::skinny_dot:
      for (std::size_t m = 1; m <= 8; ++m)
        for (transpose ta : kTrans) run_case(gemm_case{m, 2 * 8 + 3, 3 * W + 1, ta, transpose::yes, -1.0f, 1.0f, 1}, g, pool);
      break;
    case reg::gemm_role::gemv:
      for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8 * 3 + 5}})
        for (std::size_t kk : {std::size_t{1}, W - 1, 3 * W + 1, odd_k}) {
          epilogue ep;
          ep.act = activation::silu;
          run_gemv_case(n, kk, n % 2, ep, 0.5f, 0.75f, g, pool);
        }
      break;
  }
}

}  // namespace

TEST_SUITE("kernels/gemm") {

TEST_CASE("matches the reference on random small shapes, every transpose, alpha and beta") {
  std::mt19937 g(42);
  tessera::runtime::thread_pool pool(1);
  std::uniform_int_distribution<std::size_t> dim(1, 70);
  for (int it = 0; it < 160; ++it) {
    gemm_case c{dim(g), dim(g), dim(g)};
    c.ta = kTrans[it % 2];
    c.tb = kTrans[(it / 2) % 2];
    c.alpha = (it % 3 == 0) ? 1.0f : -0.75f;
    c.beta = (it % 4 == 0) ? 0.0f : (it % 4 == 1 ? 1.0f : 0.5f);
    c.pad = (it % 5 == 0) ? 3 : 0;
    run_case(c, g, &pool);
  }
}

TEST_CASE("matches the reference on every tail of this build's register tile in M and N") {
  std::mt19937 g(7);
  tessera::runtime::thread_pool pool(1);
  // Every M mod MR and N mod NR of the tile this flavour compiles (12x32 on AVX-512, 6x16 on
  // AVX2, 8x12 on NEON, ...), past the skinny threshold so the blocked path runs.
  using cfg = tessera::kernels::detail::gemm::config;
  MESSAGE("gemm tile: " << k::gemm_f32_kernel_name() << " (" << cfg::MR << "x" << cfg::NR << ")");
  for (std::size_t m = 9; m <= 9 + cfg::MR; ++m)
    for (std::size_t n = 1; n <= 2 * cfg::NR + 1; ++n) run_case(gemm_case{m, n, 9}, g, &pool);
  for (std::size_t m = 1; m <= 8; ++m)
    for (std::size_t n = 1; n <= 70; n += 3)
      for (transpose tb : kTrans) {
        gemm_case c{m, n, 13};
        c.tb = tb;
        c.beta = 0.5f;
        run_case(c, g, &pool);  // skinny paths
      }
}

TEST_CASE("one K block with alpha 1 and beta 0 (the direct tile) on every N tail, with every epilogue") {
  // Full row tiles of such products merge from the registers (gemm/direct_tile.hpp), with
  // partial vectors through masked moves: every N mod the vector width and the panel width,
  // M with and without a row tail (the tail takes the packed path) and past one MC block,
  // padded rows (lda, ldc > columns), and each epilogue part.
  std::mt19937 g(17);
  tessera::runtime::thread_pool pool(1);
  using cfg = tessera::kernels::detail::gemm::config;
  constexpr std::size_t W = cfg::NR / cfg::NV;
  const activation acts[] = {activation::none, activation::relu, activation::silu, activation::gelu, activation::clip};
  int n_case = 0;
  for (std::size_t n = 1; n <= 2 * cfg::NR + 1; ++n)
    for (std::size_t kk : {std::size_t{1}, W + 1, cfg::KC})
      for (std::size_t m : {cfg::MR, 2 * cfg::MR + 3, cfg::MC + cfg::MR + 1}) {
        if (m > cfg::MC && (kk == cfg::KC || n % 5 != 0)) continue;  // a few, to stay fast
        gemm_case c{m, n, kk};
        c.pad = n_case % 3;
        c.use_bias = n_case % 2 == 0;
        c.use_residual = n_case % 4 < 2;
        c.ep.act = acts[n_case % 5];
        c.ep.clip_min = -0.5f;
        c.ep.clip_max = 0.5f;
        ++n_case;
        run_case(c, g, &pool);
        run_case(c, g, &pool, /*prepacked=*/true);
      }
}

TEST_CASE("matches the reference on shapes larger than the cache blocks") {
  std::mt19937 g(11);
  tessera::runtime::thread_pool pool(1);
  // K > KC (several K blocks, epilogue only on the last), M > MC, N > NC (several jc blocks).
  const gemm_case cases[] = {{130, 257, 300}, {301, 70, 513}, {150, 33, 1030}, {9, 4200, 20}, {200, 150, 64}};
  for (const auto& base : cases)
    for (transpose ta : kTrans)
      for (transpose tb : kTrans) {
        gemm_case c = base;
        c.ta = ta;
        c.tb = tb;
        c.beta = 0.25f;
        c.alpha = 2.0f;
        c.use_bias = true;
        c.use_residual = true;
        c.ep.act = activation::silu;
        run_case(c, g, &pool);
      }
}

TEST_CASE("applies every epilogue: bias, residual, relu, silu, gelu, clip") {
  std::mt19937 g(5);
  tessera::runtime::thread_pool pool(1);
  const activation acts[] = {activation::none, activation::relu, activation::silu, activation::gelu, activation::clip};
  const gemm_case shapes[] = {{37, 29, 41}, {3, 45, 19}, {1, 70, 300}, {20, 20, 600}, {7, 33, 2}};
  int n = 0;
  for (const auto& s : shapes)
    for (activation act : acts)
      for (int flags = 0; flags < 4; ++flags) {
        gemm_case c = s;
        c.ep.act = act;
        c.ep.clip_min = 0.0f;  // ReLU6-style, scaled to the data
        c.ep.clip_max = 0.6f;
        c.use_bias = flags & 1;
        c.use_residual = flags & 2;
        c.beta = (n % 2) ? 0.5f : 0.0f;
        c.tb = kTrans[(n / 2) % 2];
        ++n;
        run_case(c, g, &pool);
      }
}

TEST_CASE("epilogue values are exact at known points") {
  // 1x4 output from a 1x1 * 1x4 product: inputs chosen so each activation's value is known.
  const float a = 1.0f, b[4] = {-2.0f, 0.0f, 1.0f, 8.0f};
  float c[4];
  auto run = [&](epilogue ep) {
    REQUIRE(k::gemm_f32(1, 4, 1, 1.0f, &a, 1, transpose::no, b, 4, transpose::no, 0.0f, c, 4, ep).ok());
  };
  epilogue ep;
  ep.act = activation::relu;
  run(ep);
  CHECK(c[0] == 0.0f);
  CHECK(c[3] == 8.0f);
  ep.act = activation::clip;
  ep.clip_min = 0.0f;
  ep.clip_max = 6.0f;
  run(ep);
  CHECK(c[3] == 6.0f);
  CHECK(c[0] == 0.0f);
  CHECK(c[2] == 1.0f);
  ep.act = activation::gelu;
  run(ep);
  CHECK(c[2] == doctest::Approx(0.8413447f).epsilon(1e-5));  // x * Phi(x) at 1
  CHECK(c[1] == 0.0f);
  ep.act = activation::silu;
  run(ep);
  CHECK(c[2] == doctest::Approx(0.7310586f).epsilon(1e-5));  // 1 / (1 + e^-1)
  CHECK(c[0] == doctest::Approx(-0.2384058f).epsilon(1e-5));
}

TEST_CASE("prepacked B matches the reference, skinny and blocked") {
  std::mt19937 g(3);
  tessera::runtime::thread_pool pool(1);
  std::uniform_int_distribution<std::size_t> dim(1, 70);
  for (int it = 0; it < 60; ++it) {
    gemm_case c{it < 20 ? static_cast<std::size_t>(it % 9 + 1) : dim(g), dim(g), dim(g)};
    c.tb = kTrans[it % 2];
    c.pad = (it % 3 == 0) ? 2 : 0;
    c.use_bias = it % 4 == 0;
    c.ep.act = (it % 5 == 0) ? activation::gelu : activation::none;
    run_case(c, g, &pool, /*prepacked=*/true);
  }
  for (std::size_t m : {1, 5, 64})
    for (transpose tb : kTrans) {
      gemm_case c{m, 200, 600};  // K spans several KC blocks of the packed layout
      c.tb = tb;
      c.use_residual = true;
      run_case(c, g, &pool, true);
    }
  for (transpose tb : kTrans) {
    gemm_case c{9, 4200, 20};  // N spans several NC blocks of the packed layout
    c.tb = tb;
    run_case(c, g, &pool, true);
  }
  // Packed into the caller's storage, with and without a pool: the same panels as pack().
  tessera::runtime::thread_pool two(2);
  for (transpose tb : kTrans) {
    const std::size_t K = 600, N = 37;  // several KC blocks, a partial panel
    std::vector<float> B(K * N);
    for (std::size_t i = 0; i < B.size(); ++i) B[i] = static_cast<float>(i % 97) - 48.0f;
    const std::ptrdiff_t ldb = tb == transpose::no ? static_cast<std::ptrdiff_t>(N) : static_cast<std::ptrdiff_t>(K);
    const auto owned = k::packed_b_f32::pack(K, N, B.data(), ldb, tb);
    REQUIRE(owned.ok());
    const std::size_t floats = k::packed_b_f32::storage_floats(K, N);
    tessera::aligned_buffer<float> storage;
    REQUIRE(storage.allocate(floats).ok());
    for (tessera::runtime::thread_pool* p : {static_cast<tessera::runtime::thread_pool*>(nullptr), &two}) {
      std::fill_n(storage.data(), floats, -1.0f);
      const auto view = k::packed_b_f32::pack_into(storage.data(), K, N, B.data(), ldb, tb, p);
      REQUIRE(view.ok());
      CHECK(view->data() == storage.data());
      CHECK(view->padded_cols() * K == floats);
      CHECK(std::equal(storage.data(), storage.data() + floats, owned->data()));
    }
  }
  // An empty packed matrix is valid.
  auto empty = k::packed_b_f32::pack(0, 5, nullptr, 5, transpose::no);
  REQUIRE(empty.ok());
  std::vector<float> C(2 * 5, 7.0f), A(2, 1.0f);
  REQUIRE(k::gemm_f32(2, A.data(), 0, *empty, C.data(), 5).ok());
  for (float x : C) CHECK(x == 0.0f);  // C = A * B with K = 0 is zero
}

TEST_CASE("this build's GEMM kernel is registered under its tile's name") {
  using cfg = k::detail::gemm::config;
  const std::string name = k::gemm_f32_kernel_name();
  std::size_t tiles_compiled = 0;
  bool listed = false;
  for (const reg::gemm_kernel& kernel : reg::gemm_kernels) {
    if (kernel.role != reg::gemm_role::tile) continue;
    tiles_compiled += k::gemm_kernel_compiled(kernel);
    listed = listed || kernel.name == name;
  }
  CHECK(listed);
  CHECK(tiles_compiled == 1);  // one tile per build: the one config.hpp selects
  // The name ends in the tile this build compiles, MRxNR.
  std::string tile = "_";
  tile += std::to_string(cfg::MR) + "x" + std::to_string(cfg::NR);
  REQUIRE(name.size() > tile.size());
  CHECK(name.substr(name.size() - tile.size()) == tile);
}

TEST_CASE("every registered GEMM kernel this build compiles matches the reference") {
  std::mt19937 g(11);
  tessera::runtime::thread_pool pool(1);
  for (const reg::gemm_kernel& kernel : reg::gemm_kernels) {
    if (!k::gemm_kernel_compiled(kernel)) continue;
    INFO(std::string(kernel.name));
    run_registered_kernel(kernel, g, &pool);
  }
  // Every path of the driver runs exactly one registered kernel in every build.
  for (reg::gemm_role role : {reg::gemm_role::tile, reg::gemm_role::skinny_axpy, reg::gemm_role::skinny_dot,
                              reg::gemm_role::gemv}) {
    std::size_t compiled = 0;
    for (const reg::gemm_kernel& kernel : reg::gemm_kernels) compiled += kernel.role == role && k::gemm_kernel_compiled(kernel);
    CHECK_MESSAGE(compiled == 1, "role " << static_cast<int>(role));
  }
}

TEST_CASE("gemv matches the reference") {
  std::mt19937 g(9);
  tessera::runtime::thread_pool pool(1);
  const std::size_t shapes[][2] = {{1, 1}, {7, 3}, {8, 8}, {9, 17}, {33, 65}, {100, 31}, {257, 1000}, {1000, 257}};
  int n = 0;
  for (const auto& s : shapes) {
    const std::size_t N = s[0], K = s[1];
    const std::ptrdiff_t ldw = static_cast<std::ptrdiff_t>(K + (n % 2));
    const auto Wm = random_vec(N * static_cast<std::size_t>(ldw), g);
    const auto x = random_vec(K, g), bias = random_vec(N, g), res = random_vec(N, g);
    auto y = random_vec(N, g);
    auto want = y;
    epilogue ep;
    ep.act = (n % 3 == 0) ? activation::relu : activation::none;
    if (n % 2) ep.bias = bias.data();
    if (n % 3 == 1) ep.residual = res.data();
    const float alpha = n % 2 ? 0.5f : 1.0f, beta = n % 2 ? 0.0f : 0.75f;
    REQUIRE(k::gemv_f32(N, K, alpha, Wm.data(), ldw, x.data(), beta, y.data(), ep, &pool).ok());
    k::ref::gemv_f32(N, K, alpha, Wm.data(), ldw, x.data(), beta, want.data(), ep);
    check_close(y, want, 1, N, static_cast<std::ptrdiff_t>(N), K, "gemv N=" + std::to_string(N) + " K=" + std::to_string(K));

    // The same product through packed weights: B = W^T (K x N) packed from W with trans_b.
    auto pb = k::packed_b_f32::pack(K, N, Wm.data(), ldw, transpose::yes);
    REQUIRE(pb.ok());
    std::vector<float> y2(N, 123.0f), want2(N, 0.0f);
    REQUIRE(k::gemv_f32(*pb, x.data(), y2.data(), ep, &pool).ok());
    k::ref::gemv_f32(N, K, 1.0f, Wm.data(), ldw, x.data(), 0.0f, want2.data(), ep);
    check_close(y2, want2, 1, N, static_cast<std::ptrdiff_t>(N), K, "packed gemv N=" + std::to_string(N));
    ++n;
  }
}

// Threads split C into a grid of rectangles (2: 1x2 or 2x1, 4: 2x2, 3 and 6 uneven), each
// packing its own operands: every split must give the 1-thread result bit for bit.
TEST_CASE("one and several threads give identical results") {
  std::mt19937 g(13);
  tessera::runtime::thread_pool one(1), two(2), three(3), four(4), six(6);
  const gemm_case shapes[] = {{300, 301, 299}, {64, 1000, 128}, {1, 3000, 500}, {4, 500, 700}, {500, 12, 300}, {16, 9000, 20}, {2000, 40, 64}};
  for (const auto& s : shapes)
    for (transpose tb : kTrans) {
      const std::size_t M = s.M, N = s.N, K = s.K;
      const auto A = random_vec(M * K, g), B = random_vec(K * N, g), bias = random_vec(N, g);
      std::vector<float> C1(M * N), C2(M * N, 5.0f);
      epilogue ep;
      ep.bias = bias.data();
      ep.act = activation::gelu;
      const std::ptrdiff_t ldb = static_cast<std::ptrdiff_t>(tb == transpose::no ? N : K);
      REQUIRE(k::gemm_f32(M, N, K, 1.0f, A.data(), static_cast<std::ptrdiff_t>(K), transpose::no, B.data(), ldb, tb, 0.0f,
                          C1.data(), static_cast<std::ptrdiff_t>(N), ep, &one).ok());
      for (tessera::runtime::thread_pool* pool : {&two, &three, &four, &six}) {
        REQUIRE(k::gemm_f32(M, N, K, 1.0f, A.data(), static_cast<std::ptrdiff_t>(K), transpose::no, B.data(), ldb, tb,
                            0.0f, C2.data(), static_cast<std::ptrdiff_t>(N), ep, pool).ok());
        CHECK_MESSAGE(C1 == C2, "M=" << M << " N=" << N << " K=" << K << " threads=" << pool->num_threads());
      }
      auto want = C1;
      k::ref::gemm_f32(M, N, K, 1.0f, A.data(), static_cast<std::ptrdiff_t>(K), transpose::no, B.data(), ldb, tb, 0.0f,
                       want.data(), static_cast<std::ptrdiff_t>(N), ep);
      check_close(C2, want, M, N, static_cast<std::ptrdiff_t>(N), K, "several threads");
      // Prepacked with two threads as well.
      auto pb = k::packed_b_f32::pack(K, N, B.data(), ldb, tb);
      REQUIRE(pb.ok());
      for (tessera::runtime::thread_pool* pool : {&two, &four}) {
        std::vector<float> C3(M * N);
        REQUIRE(k::gemm_f32(M, A.data(), static_cast<std::ptrdiff_t>(K), *pb, C3.data(), static_cast<std::ptrdiff_t>(N), ep,
                            pool).ok());
        check_close(C3, want, M, N, static_cast<std::ptrdiff_t>(N), K, "prepacked, threads: " + std::to_string(pool->num_threads()));
      }
    }
}

TEST_CASE("matches Eigen on row-major data") {
  std::mt19937 g(17);
  tessera::runtime::thread_pool pool(2);
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const std::size_t shapes[][3] = {{1, 1, 1}, {5, 70, 33}, {64, 64, 64}, {127, 129, 131}, {256, 96, 512}, {3, 512, 256}};
  for (const auto& s : shapes)
    for (transpose ta : kTrans)
      for (transpose tb : kTrans) {
        const std::size_t M = s[0], N = s[1], K = s[2];
        const auto A = random_vec(M * K, g), B = random_vec(K * N, g);
        std::vector<float> C(M * N);
        const auto lda = static_cast<std::ptrdiff_t>(ta == transpose::no ? K : M);
        const auto ldb = static_cast<std::ptrdiff_t>(tb == transpose::no ? N : K);
        REQUIRE(k::gemm_f32(M, N, K, 1.0f, A.data(), lda, ta, B.data(), ldb, tb, 0.0f, C.data(),
                            static_cast<std::ptrdiff_t>(N), {}, &pool).ok());
        const auto Ai = static_cast<Eigen::Index>(M), Ni = static_cast<Eigen::Index>(N), Ki = static_cast<Eigen::Index>(K);
        RowMat opA = ta == transpose::no ? RowMat(Eigen::Map<const RowMat>(A.data(), Ai, Ki))
                                         : RowMat(Eigen::Map<const RowMat>(A.data(), Ki, Ai).transpose());
        RowMat opB = tb == transpose::no ? RowMat(Eigen::Map<const RowMat>(B.data(), Ki, Ni))
                                         : RowMat(Eigen::Map<const RowMat>(B.data(), Ni, Ki).transpose());
        RowMat E(Ai, Ni);
        E.noalias() = opA * opB;
        std::vector<float> want(E.data(), E.data() + M * N);
        check_close(C, want, M, N, static_cast<std::ptrdiff_t>(N), K, "eigen");
      }
}

TEST_CASE("beta == 0 ignores C and alpha == 0 ignores A and B, as in BLAS") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> A(20 * 30, 1.0f), B(30 * 10, 1.0f), C(20 * 10, nan);
  REQUIRE(k::gemm_f32(20, 10, 30, 1.0f, A.data(), 30, transpose::no, B.data(), 10, transpose::no, 0.0f, C.data(), 10).ok());
  for (float x : C) CHECK(x == 30.0f);
  std::vector<float> An(20 * 30, nan);
  REQUIRE(k::gemm_f32(20, 10, 30, 0.0f, An.data(), 30, transpose::no, B.data(), 10, transpose::no, 2.0f, C.data(), 10).ok());
  for (float x : C) CHECK(x == 60.0f);
  // K == 0: C = epilogue(beta * C).
  epilogue ep;
  std::vector<float> bias(10, 1.0f);
  ep.bias = bias.data();
  REQUIRE(k::gemm_f32(20, 10, 0, 1.0f, nullptr, 0, transpose::no, nullptr, 10, transpose::no, 0.5f, C.data(), 10, ep).ok());
  for (float x : C) CHECK(x == 31.0f);
  // M == 0 and N == 0 are valid and touch nothing.
  REQUIRE(k::gemm_f32(0, 10, 30, 1.0f, nullptr, 30, transpose::no, B.data(), 10, transpose::no, 0.0f, nullptr, 10).ok());
  REQUIRE(k::gemm_f32(20, 0, 30, 1.0f, A.data(), 30, transpose::no, nullptr, 0, transpose::no, 0.0f, nullptr, 0).ok());
  REQUIRE(k::gemv_f32(0, 5, 1.0f, nullptr, 5, nullptr, 0.0f, nullptr).ok());
}

TEST_CASE("rejects bad shapes with an error") {
  std::vector<float> A(64, 1.0f), B(64, 1.0f), C(64, 0.0f);
  auto g = [&](std::size_t M, std::size_t N, std::size_t K, const float* a, std::ptrdiff_t lda, transpose ta,
               const float* b, std::ptrdiff_t ldb, float* c, std::ptrdiff_t ldc, epilogue ep = {}) {
    return k::gemm_f32(M, N, K, 1.0f, a, lda, ta, b, ldb, transpose::no, 0.0f, c, ldc, ep);
  };
  CHECK(g(4, 4, 4, A.data(), 4, transpose::no, B.data(), 4, C.data(), 4).ok());
  CHECK(C[0] == 4.0f);
  std::fill(C.begin(), C.end(), 0.0f);
  CHECK(g(4, 4, 4, A.data(), 3, transpose::no, B.data(), 4, C.data(), 4).code() == tessera::errc::invalid_argument);
  CHECK(g(2, 4, 4, A.data(), 1, transpose::yes, B.data(), 4, C.data(), 4).code() == tessera::errc::invalid_argument);
  CHECK(g(4, 4, 4, A.data(), 4, transpose::no, B.data(), 3, C.data(), 4).code() == tessera::errc::invalid_argument);
  CHECK(g(4, 4, 4, A.data(), 4, transpose::no, B.data(), 4, C.data(), 3).code() == tessera::errc::invalid_argument);
  CHECK(g(4, 4, 4, nullptr, 4, transpose::no, B.data(), 4, C.data(), 4).code() == tessera::errc::invalid_argument);
  CHECK(g(4, 4, 4, A.data(), 4, transpose::no, nullptr, 4, C.data(), 4).code() == tessera::errc::invalid_argument);
  CHECK(g(4, 4, 4, A.data(), 4, transpose::no, B.data(), 4, nullptr, 4).code() == tessera::errc::invalid_argument);
  CHECK(g(4, 4, 4, A.data(), -4, transpose::no, B.data(), 4, C.data(), 4).code() == tessera::errc::invalid_argument);
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
  CHECK(g(huge, huge, 1, A.data(), 1, transpose::no, B.data(), 4, C.data(), 4).code() == tessera::errc::invalid_argument);
  CHECK(g(3, 1, 1, A.data(), PTRDIFF_MAX, transpose::no, B.data(), 1, C.data(), 1).code() == tessera::errc::invalid_argument);
  epilogue ep;
  ep.residual = C.data();
  ep.ld_residual = 2;
  CHECK(g(4, 4, 4, A.data(), 4, transpose::no, B.data(), 4, C.data(), 4, ep).code() == tessera::errc::invalid_argument);
  epilogue bad_clip;
  bad_clip.act = activation::clip;
  bad_clip.clip_min = 1.0f;
  bad_clip.clip_max = 0.0f;
  CHECK(g(4, 4, 4, A.data(), 4, transpose::no, B.data(), 4, C.data(), 4, bad_clip).code() == tessera::errc::invalid_argument);
  epilogue bad_act;
  bad_act.act = static_cast<activation>(99);
  CHECK(!g(4, 4, 4, A.data(), 4, transpose::no, B.data(), 4, C.data(), 4, bad_act).ok());
  CHECK(!k::packed_b_f32::pack(4, 4, B.data(), 3, transpose::no).ok());
  CHECK(!k::packed_b_f32::pack(4, 4, nullptr, 4, transpose::no).ok());
  auto pb = k::packed_b_f32::pack(4, 4, B.data(), 4, transpose::no);
  REQUIRE(pb.ok());
  CHECK(!k::gemm_f32(4, A.data(), 3, *pb, C.data(), 4).ok());
  CHECK(!k::gemm_f32(4, A.data(), 4, *pb, C.data(), 3).ok());
  CHECK(!k::gemv_f32(4, 4, 1.0f, A.data(), 3, B.data(), 0.0f, C.data()).ok());
  CHECK(!k::gemv_f32(4, 4, 1.0f, A.data(), 4, nullptr, 0.0f, C.data()).ok());
  // Nothing was written by the failed calls.
  for (float x : C) CHECK(x == 0.0f);
}

// One workload per path that takes scratch memory: blocked (past MC and KC: packed A and B
// blocks), skinny with an unpacked B and an edge panel, skinny prepacked, skinny with both
// operands transposed (A's rows copied). Each call's result goes to its own C.
struct scratch_workload {
  struct call {
    std::size_t M, N, K;
    transpose ta, tb;
    bool prepacked;
    std::vector<float> A, B, C;
    k::packed_b_f32 packed;
  };
  std::vector<call> calls;

  explicit scratch_workload(std::mt19937& g) {
    using cfg = k::detail::gemm::config;
    const transpose no = transpose::no, yes = transpose::yes;
    const call shapes[] = {{cfg::MC + 3, 2 * cfg::NR + 5, cfg::KC + 7, no, no, false, {}, {}, {}, {}},
                           {3, 2 * cfg::NR + 5, 300, no, no, false, {}, {}, {}, {}},
                           {4, cfg::NR + 1, cfg::KC + 9, no, no, true, {}, {}, {}, {}},
                           {6, 37, 300, yes, yes, false, {}, {}, {}, {}}};
    for (const call& s : shapes) {
      call c{s.M, s.N, s.K, s.ta, s.tb, s.prepacked, random_vec(s.M * s.K, g), random_vec(s.K * s.N, g),
             std::vector<float>(s.M * s.N), {}};
      if (c.prepacked) {
        auto pb = k::packed_b_f32::pack(c.K, c.N, c.B.data(), static_cast<std::ptrdiff_t>(c.N), transpose::no);
        REQUIRE(pb.ok());
        c.packed = std::move(*pb);
      }
      calls.push_back(std::move(c));
    }
  }

  // Runs every call once; returns the first failure.
  tessera::status run(tessera::runtime::thread_pool* pool) {
    for (call& c : calls) {
      const auto lda = static_cast<std::ptrdiff_t>(c.ta == transpose::no ? c.K : c.M);
      const auto ldb = static_cast<std::ptrdiff_t>(c.tb == transpose::no ? c.N : c.K);
      const auto ldc = static_cast<std::ptrdiff_t>(c.N);
      TESSERA_TRY(c.prepacked ? k::gemm_f32(c.M, c.A.data(), lda, c.packed, c.C.data(), ldc, {}, pool)
                              : k::gemm_f32(c.M, c.N, c.K, 1.0f, c.A.data(), lda, c.ta, c.B.data(), ldb, c.tb, 0.0f,
                                            c.C.data(), ldc, {}, pool));
    }
    return {};
  }
};

// The scratch policy (core/arena.hpp): a GEMM's temporaries come from the calling thread's
// thread_arena() and are released when the call returns, so a repeated workload allocates
// only on its first run.
TEST_CASE("scratch comes from the thread arena and a repeated workload makes no heap allocation") {
  using cfg = k::detail::gemm::config;
  std::mt19937 g(23);
  scratch_workload w(g);
  tessera::runtime::thread_pool one(1);
  tessera::arena& scratch = tessera::thread_arena();
  const std::size_t in_use = scratch.bytes_in_use();

  tessera::status st = w.run(&one);
  REQUIRE_MESSAGE(st.ok(), st.what());
  CHECK(scratch.bytes_in_use() == in_use);  // every arena_scope was closed
  // The blocked call packed an MC x KC block of A in this arena.
  CHECK(scratch.high_water() >= in_use + cfg::MC * cfg::KC * sizeof(float));
  for (const auto& c : w.calls) {
    std::vector<float> want(c.M * c.N);
    const auto lda = static_cast<std::ptrdiff_t>(c.ta == transpose::no ? c.K : c.M);
    const auto ldb = static_cast<std::ptrdiff_t>(c.tb == transpose::no ? c.N : c.K);
    k::ref::gemm_f32(c.M, c.N, c.K, 1.0f, c.A.data(), lda, c.ta, c.B.data(), ldb, c.tb, 0.0f, want.data(),
                     static_cast<std::ptrdiff_t>(c.N), {});
    check_close(c.C, want, c.M, c.N, static_cast<std::ptrdiff_t>(c.N), c.K, "scratch workload M=" + std::to_string(c.M));
  }

  std::vector<std::vector<float>> first;
  for (auto& c : w.calls) {
    first.push_back(c.C);
    std::fill(c.C.begin(), c.C.end(), 0.0f);
  }
  const std::size_t heap_after_first = scratch.heap_allocations();
  st = w.run(&one);
  REQUIRE_MESSAGE(st.ok(), st.what());
  CHECK(scratch.heap_allocations() == heap_after_first);
  CHECK(scratch.bytes_in_use() == in_use);
  for (std::size_t i = 0; i < w.calls.size(); ++i) CHECK_MESSAGE(w.calls[i].C == first[i], "call " << i);

  // Without a pool argument (the default pool) too, and with the arena frozen: no growth needed.
  scratch.freeze();
  st = w.run(nullptr);
  scratch.freeze(false);
  CHECK_MESSAGE(st.ok(), st.what());
  CHECK(scratch.heap_allocations() == heap_after_first);
}

TEST_CASE("scratch the thread arena cannot provide is an out_of_memory error, C untouched") {
  tessera::arena& scratch = tessera::thread_arena();
  // One row of A packed k-major needs K floats: more than the arena holds, and it is frozen.
  const std::size_t K = scratch.capacity() / sizeof(float) + 1;
  const std::vector<float> A(K, 1.0f), B(K * 3, 1.0f);
  std::vector<float> C(3, 7.0f);
  scratch.freeze();
  const tessera::status st = k::gemm_f32(1, 3, K, 1.0f, A.data(), static_cast<std::ptrdiff_t>(K), transpose::no, B.data(),
                                         3, transpose::no, 0.0f, C.data(), 3);
  scratch.freeze(false);
  CHECK(st.code() == tessera::errc::out_of_memory);
  CHECK(st.message().find("gemm_f32") != std::string::npos);
  for (float x : C) CHECK(x == 7.0f);
  // The same call succeeds once the arena may grow.
  CHECK(k::gemm_f32(1, 3, K, 1.0f, A.data(), static_cast<std::ptrdiff_t>(K), transpose::no, B.data(), 3, transpose::no,
                    0.0f, C.data(), 3).ok());
  for (float x : C) CHECK(x == static_cast<float>(K));
}

}  // TEST_SUITE
