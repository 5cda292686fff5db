// The sampler: exact checks for greedy, top-k = 1, penalties and determinism; chi-square
// checks (seeded, so they cannot flake) that draws follow softmax(logits / T) restricted as
// top-k, top-p and min-p say.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

#include "tessera/llm/sampling.hpp"

namespace {

using namespace tessera;
using llm::sampler;
using llm::sampler_params;

sampler make(const sampler_params& p) {
  auto s = sampler::create(p);
  REQUIRE_MESSAGE(s.ok(), s.what());
  return std::move(s).value();
}

std::int32_t draw(sampler& s, std::vector<float> logits) {
  auto id = s.sample(logits);
  REQUIRE_MESSAGE(id.ok(), id.what());
  return *id;
}

// Draws n times from the same logits; returns the counts per token.
std::vector<int> histogram(const sampler_params& p, const std::vector<float>& logits, int n) {
  sampler s = make(p);
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[std::size_t(draw(s, logits))];
  return counts;
}

// Pearson's chi-square of counts against probabilities (tokens with p = 0 must have no draws).
double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int n) {
  double chi = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      CHECK(counts[i] == 0);
      continue;
    }
    const double e = p[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

std::vector<double> softmax(const std::vector<float>& logits, double t, const std::vector<bool>& keep) {
  std::vector<double> p(logits.size(), 0.0);
  double z = 0;
  for (std::size_t i = 0; i < logits.size(); ++i)
    if (keep[i]) z += p[i] = std::exp(logits[i] / t);
  for (double& x : p) x /= z;
  return p;
}

// Chi-square quantiles at 0.999 by degrees of freedom (a fixed seed makes the check exact;
// the bound only says how unusual a passing draw may look).
double chi_bound(std::size_t df) {
  static const double q[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12};
  return q[df];
}

}  // namespace

TEST_SUITE("llm/sampling") {
  TEST_CASE("the generator is xoshiro256** seeded by splitmix64 (values from a Python reference)") {
    llm::random_generator g(42);
    CHECK(g.next() == 0x15780b2e0c2ec716ull);
    CHECK(g.next() == 0x6104d9866d113a7eull);
    CHECK(g.next() == 0xae17533239e499a1ull);
    CHECK(g.next() == 0xecb8ad4703b360a1ull);
    llm::random_generator h(0);
    CHECK(h.next() == 0x99ec5f36cb75f2b4ull);
    for (int i = 0; i < 1000; ++i) {
      const double u = h.uniform();
      REQUIRE((u >= 0.0 && u < 1.0));
    }
  }

  TEST_CASE("greedy and top-k = 1 take the argmax, the lowest id among ties; NaN never wins") {
    const std::vector<float> logits = {0.5f, 2.0f, std::nanf(""), 2.0f, -1.0f};
    sampler greedy = make({.temperature = 0.0f});
    CHECK(draw(greedy, logits) == 1);
    sampler top1 = make({.temperature = 1.5f, .top_k = 1, .seed = 7});
    for (int i = 0; i < 50; ++i) CHECK(draw(top1, logits) == 1);
    sampler s = make({.temperature = 0.0f});
    const float nan = std::nanf("");
    std::vector<float> all_nan = {nan, nan};
    CHECK_FALSE(s.sample(all_nan).ok());
    std::vector<float> none;
    CHECK_FALSE(s.sample(none).ok());
  }

  TEST_CASE("repetition, frequency and presence penalties over the window") {
    sampler_params p{.temperature = 0.0f, .repeat_penalty = 2.0f, .frequency_penalty = 0.5f, .presence_penalty = 0.25f, .penalty_last_n = 3};
    sampler s = make(p);
    s.accept(std::vector<std::int32_t>{0, 1, 1});
    std::vector<float> logits = {4.0f, -1.0f, 3.0f, 1.0f};
    CHECK(*s.sample(logits) == 2);
    // token 0 (once): 4 / 2 - 0.5 - 0.25; token 1 (twice): -1 * 2 - 1.0 - 0.25
    CHECK(logits[0] == doctest::Approx(1.25));
    CHECK(logits[1] == doctest::Approx(-3.25));
    CHECK(logits[2] == 3.0f);
    // The window holds the last 3 accepted tokens: 1, 1, 2 now (0 left it).
    std::vector<float> again = {4.0f, -1.0f, 3.0f, 1.0f};
    CHECK(*s.sample(again) == 0);
    CHECK(again[0] == 4.0f);
    CHECK(again[2] == doctest::Approx(3.0 / 2 - 0.5 - 0.25));
  }

  TEST_CASE("draws follow softmax(logits / T) and its top-k, top-p and min-p restrictions") {
    const std::vector<float> logits = {2.0f, 1.5f, 0.7f, 0.0f, -1.0f};
    const int n = 40000;
    const std::vector<bool> all(5, true);
    SUBCASE("temperature 1") {
      const auto counts = histogram({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 1}, logits, n);
      CHECK(chi_square(counts, softmax(logits, 1.0, all), n) < chi_bound(4));
    }
    SUBCASE("temperature 0.5 and 2") {
      for (float t : {0.5f, 2.0f}) {
        const auto counts = histogram({.temperature = t, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 2}, logits, n);
        CHECK(chi_square(counts, softmax(logits, t, all), n) < chi_bound(4));
      }
    }
    SUBCASE("top-k 2") {
      const auto counts = histogram({.temperature = 1.0f, .top_k = 2, .top_p = 1.0f, .min_p = 0.0f, .seed = 3}, logits, n);
      CHECK(chi_square(counts, softmax(logits, 1.0, {true, true, false, false, false}), n) < chi_bound(1));
    }
    SUBCASE("top-p keeps the shortest prefix holding p of the mass") {
      // probabilities 0.484 0.294 0.132 0.066 0.024 (at T = 1): 0.8 needs the first three (also
      // renormalized over the top 4: 0.496 + 0.301 < 0.8).
      const auto counts = histogram({.temperature = 1.0f, .top_k = 0, .top_p = 0.8f, .min_p = 0.0f, .seed = 4}, logits, n);
      CHECK(chi_square(counts, softmax(logits, 1.0, {true, true, true, false, false}), n) < chi_bound(2));
      // The same with top-k on (a different code path).
      const auto counts_k = histogram({.temperature = 1.0f, .top_k = 4, .top_p = 0.8f, .min_p = 0.0f, .seed = 5}, logits, n);
      CHECK(chi_square(counts_k, softmax(logits, 1.0, {true, true, true, false, false}), n) < chi_bound(2));
    }
    SUBCASE("min-p keeps p >= min_p * p_max, and the temperature applies after") {
      // p / p_max: 1, 0.61, 0.27, 0.14, 0.05: min_p 0.2 keeps three.
      const auto counts = histogram({.temperature = 0.7f, .top_k = 0, .top_p = 1.0f, .min_p = 0.2f, .seed = 6}, logits, n);
      CHECK(chi_square(counts, softmax(logits, 0.7, {true, true, true, false, false}), n) < chi_bound(2));
    }
  }

  TEST_CASE("a large vocabulary: top-p without top-k sorts only a prefix and still draws right") {
    // 150000 logits, a peaked head (95% of the mass) and a flat tail: top-p 0.9 lies inside the
    // first selection.
    std::vector<float> logits(150000, -10.0f);
    for (int i = 0; i < 8; ++i) logits[std::size_t(1000 * i + 17)] = 4.0f - 0.5f * float(i);
    sampler s = make({.temperature = 1.0f, .top_k = 0, .top_p = 0.9f, .min_p = 0.0f, .seed = 9});
    std::map<std::int32_t, int> seen;
    for (int i = 0; i < 2000; ++i) ++seen[draw(s, logits)];
    for (const auto& [id, count] : seen) CHECK(id % 1000 == 17);  // the tail holds < 10% and is cut
    sampler k = make({.temperature = 1.0f, .top_k = 40, .top_p = 1.0f, .min_p = 0.0f, .seed = 9});
    for (int i = 0; i < 200; ++i) CHECK(draw(k, logits) % 1000 == 17);  // the 40 best are the head and the lowest tail ids
  }

  TEST_CASE("the same seed gives the same tokens; reset restarts the sequence") {
    std::vector<float> logits(1000);
    for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = float(std::sin(double(i) * 0.37) * 3.0);
    sampler_params p{.temperature = 0.9f, .top_k = 50, .top_p = 0.9f, .min_p = 0.01f, .repeat_penalty = 1.1f, .seed = 1234};
    sampler a = make(p), b = make(p);
    std::vector<std::int32_t> first;
    for (int i = 0; i < 200; ++i) {
      const std::int32_t x = draw(a, logits), y = draw(b, logits);
      CHECK(x == y);
      first.push_back(x);
    }
    a.reset();
    for (int i = 0; i < 200; ++i) CHECK(draw(a, logits) == first[std::size_t(i)]);
    p.seed = 1235;
    sampler c = make(p);
    int same = 0;
    for (int i = 0; i < 200; ++i) same += draw(c, logits) == first[std::size_t(i)];
    CHECK(same < 100);
  }

  TEST_CASE("bad parameters are errors") {
    CHECK_FALSE(sampler::create({.temperature = std::nanf("")}).ok());
    CHECK_FALSE(sampler::create({.top_p = 0.0f}).ok());
    CHECK_FALSE(sampler::create({.top_p = 1.5f}).ok());
    CHECK_FALSE(sampler::create({.min_p = -0.1f}).ok());
    CHECK_FALSE(sampler::create({.repeat_penalty = 0.0f}).ok());
    CHECK_FALSE(sampler::create({.frequency_penalty = std::numeric_limits<float>::infinity()}).ok());
    CHECK_FALSE(sampler::create({.penalty_last_n = -1}).ok());
    CHECK(sampler::create({}).ok());
  }
}
