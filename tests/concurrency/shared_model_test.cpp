// One loaded model, many threads: a compiled forest and a prepacked GEMM weight (what a CNN
// layer holds) are immutable after load, so callers on 8 threads at once, each with its own
// inputs, must get exactly the single-threaded answers. Run under TSan by scripts/test.sh.
#include <doctest/doctest.h>

#include <tessera/kernels/gemm.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/trees/predict.hpp>

#include "trees/random_forest.hpp"

#include <cstring>
#include <random>
#include <vector>

#include "on_threads.hpp"

namespace {

using namespace tessera;

using test::kThreads;
using test::on_threads;
constexpr int kForestRounds = 6;

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

TEST_SUITE("concurrency/shared_model") {

TEST_CASE("one compiled forest answers 8 threads at once exactly as it answers one") {
  std::mt19937 rng(2024);
  trees::testing::random_forest_options o;
  o.num_trees = 40;
  o.num_features = 24;
  o.num_outputs = 3;
  o.categorical_probability = 0.2;
  o.transform = trees::output_transform::softmax;
  const trees::forest f = trees::testing::random_forest(rng, o);
  auto compiled = trees::compile(f);
  REQUIRE(compiled.ok());
  const trees::predictor& p = *compiled;
  const std::size_t nf = static_cast<std::size_t>(f.num_features);
  const std::size_t kt = static_cast<std::size_t>(f.num_transformed_outputs());

  // Every thread has its own rows (sizes around the predictor's row blocks) and answer.
  std::vector<std::vector<float>> rows(kThreads);
  std::vector<std::vector<double>> want(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    const std::size_t n = 1 + static_cast<std::size_t>(t) * 37;
    rows[t] = trees::testing::random_rows(rng, n, f.num_features, 0.1);
    want[t].resize(n * kt);
    REQUIRE(p.predict(std::span<double>(want[t]), std::span<const float>(rows[t]), nf).ok());
  }

  runtime::thread_pool shared_pool(2);  // half the callers share one pool: its jobs queue
  std::vector<int> mismatches(kThreads, 0), errors(kThreads, 0);
  on_threads([&](int t) {
    std::vector<double> got(want[t].size());
    for (int r = 0; r < kForestRounds; ++r) {
      std::fill(got.begin(), got.end(), -1.0);
      runtime::thread_pool* pool = t % 2 ? &shared_pool : nullptr;
      if (!p.predict(std::span<double>(got), std::span<const float>(rows[t]), nf, pool).ok()) ++errors[t];
      else if (!same_bits(got, want[t])) ++mismatches[t];
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK(errors[t] == 0);
    CHECK(mismatches[t] == 0);
  }
}

TEST_CASE("one prepacked GEMM weight serves 8 threads at once exactly as it serves one") {
  namespace k = kernels;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::size_t K = 96, N = 70;  // N off the tile width: the packed tail panel is shared too
  std::vector<float> B(K * N);
  for (float& v : B) v = u(rng);
  auto packed = k::packed_b_f32::pack(K, N, B.data(), static_cast<std::ptrdiff_t>(N), k::transpose::no);
  REQUIRE(packed.ok());
  k::epilogue ep;
  ep.act = k::activation::relu;

  std::vector<std::vector<float>> a(kThreads), want(kThreads);
  std::vector<std::size_t> rows_of(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    rows_of[t] = 1 + static_cast<std::size_t>(t) * 13;  // skinny (M <= 8) and blocked paths
    a[t].resize(rows_of[t] * K);
    for (float& v : a[t]) v = u(rng);
    want[t].resize(rows_of[t] * N);
    REQUIRE(k::gemm_f32(rows_of[t], a[t].data(), static_cast<std::ptrdiff_t>(K), *packed, want[t].data(),
                        static_cast<std::ptrdiff_t>(N), ep)
                .ok());
  }

  runtime::thread_pool shared_pool(2);
  std::vector<int> mismatches(kThreads, 0), errors(kThreads, 0);
  on_threads([&](int t) {
    std::vector<float> got(want[t].size());
    for (int r = 0; r < kForestRounds; ++r) {
      std::fill(got.begin(), got.end(), -1.0f);
      runtime::thread_pool* pool = t % 2 ? &shared_pool : nullptr;
      if (!k::gemm_f32(rows_of[t], a[t].data(), static_cast<std::ptrdiff_t>(K), *packed, got.data(),
                       static_cast<std::ptrdiff_t>(N), ep, pool)
               .ok())
        ++errors[t];
      else if (!same_bits(got, want[t])) ++mismatches[t];
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK(errors[t] == 0);
    CHECK(mismatches[t] == 0);
  }
}

}  // TEST_SUITE
