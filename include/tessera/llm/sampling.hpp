// Choosing the next token from a row of logits.
//
//   auto s = llm::sampler::create({.temperature = 0.7f, .top_k = 40, .seed = 42});
//   s->accept(prompt_ids);                         // the penalties' window sees the prompt
//   auto id = s->sample(logits);                   // logits: one float per vocabulary entry
//
// The steps, in llama.cpp's default order (so the same parameters mean the same thing):
// repetition penalties over the last penalty_last_n accepted tokens, top-k, top-p, min-p,
// temperature, then a draw from the remaining distribution. temperature <= 0 or top_k == 1 is
// greedy (argmax after the penalties; the lowest id wins a tie). top-p and min-p see the
// distribution at temperature 1, as in llama.cpp.
//
// Speed at 150k-token vocabularies: top-k keeps the k best in a small heap in one pass, never
// a full sort; without top-k, min-p is a linear filter and top-p sorts a growing prefix only until it
// holds the requested mass. Determinism: the draws come from tessera's own xoshiro256**
// seeded with splitmix64 (no std:: distribution, whose output differs between standard
// libraries), so a seed gives the same tokens on every platform for the same logits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <tessera/core/error.hpp>

namespace tessera::llm {

// xoshiro256** (Blackman and Vigna), state seeded by splitmix64: small, fast, and the same
// sequence everywhere.
class random_generator {
 public:
  explicit random_generator(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    for (std::uint64_t& s : state_) s = splitmix64(seed);
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 random bits.
  double uniform() noexcept { return double(next() >> 11) * 0x1.0p-53; }

  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
};

struct sampler_params {
  float temperature = 0.8f;         // <= 0: greedy
  std::int32_t top_k = 40;          // <= 0: off; 1: greedy
  float top_p = 0.95f;              // in (0, 1]; 1: off
  float min_p = 0.05f;              // in [0, 1]; 0: off
  float repeat_penalty = 1.0f;      // > 0; 1: off (CTRL's: positive logits divided, negative multiplied)
  float frequency_penalty = 0.0f;   // subtracted once per occurrence in the window
  float presence_penalty = 0.0f;    // subtracted once if present in the window
  std::int32_t penalty_last_n = 64; // the window, in accepted tokens; 0: penalties off
  std::uint64_t seed = 0;
};

inline constexpr std::int32_t sampler_max_penalty_window = 1 << 20;

class sampler {
 public:
  static expected<sampler> create(const sampler_params& p) {
    const auto bad = [](const std::string& what) { return make_error(errc::invalid_argument, "sampler: " + what); };
    if (std::isnan(p.temperature)) return bad("temperature is NaN");
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return bad("top_p " + std::to_string(p.top_p) + " is outside (0, 1]");
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return bad("min_p " + std::to_string(p.min_p) + " is outside [0, 1]");
    if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty)) return bad("repeat_penalty " + std::to_string(p.repeat_penalty) + " is not a positive number");
    if (!std::isfinite(p.frequency_penalty) || !std::isfinite(p.presence_penalty)) return bad("frequency_penalty and presence_penalty must be finite");
    if (p.penalty_last_n < 0 || p.penalty_last_n > sampler_max_penalty_window)
      return bad("penalty_last_n " + std::to_string(p.penalty_last_n) + " is outside [0, " + std::to_string(sampler_max_penalty_window) + "]");
    sampler s;
    s.params_ = p;
    s.rng_.reseed(p.seed);
    return s;
  }

  const sampler_params& params() const noexcept { return params_; }

  // Adds tokens to the penalties' window (the prompt; sample() adds what it picks).
  void accept(std::int32_t id) {
    if (params_.penalty_last_n == 0) return;
    if (std::int32_t(window_.size()) < params_.penalty_last_n) {
      window_.push_back(id);
    } else {
      window_[window_next_] = id;
      window_next_ = (window_next_ + 1) % window_.size();
    }
  }
  void accept(std::span<const std::int32_t> ids) {
    for (std::int32_t id : ids) accept(id);
  }

  // Forgets the window and restarts the random sequence from the seed.
  void reset() {
    window_.clear();
    window_next_ = 0;
    rng_.reseed(params_.seed);
  }

  // Picks the next token from logits (one per vocabulary entry; NaN counts as -inf) and
  // accepts it. The penalties are applied to `logits` in place.
  expected<std::int32_t> sample(std::span<float> logits) {
    if (logits.empty()) return make_error(errc::invalid_argument, "sampler: no logits");
    if (logits.size() > std::size_t(std::numeric_limits<std::int32_t>::max()))
      return make_error(errc::invalid_argument, "sampler: more logits than 31-bit token ids");
    apply_penalties(logits);
    TESSERA_ASSIGN_OR_RETURN(const std::int32_t id, choose(logits));
    accept(id);
    return id;
  }

 private:
  static float value(float x) noexcept { return std::isnan(x) ? -std::numeric_limits<float>::infinity() : x; }

  void apply_penalties(std::span<float> logits) {
    const sampler_params& p = params_;
    if (window_.empty() || (p.repeat_penalty == 1.0f && p.frequency_penalty == 0.0f && p.presence_penalty == 0.0f)) return;
    counted_.assign(window_.begin(), window_.end());
    std::sort(counted_.begin(), counted_.end());
    for (std::size_t i = 0; i < counted_.size();) {
      std::size_t j = i;
      while (j < counted_.size() && counted_[j] == counted_[i]) ++j;
      const std::int32_t id = counted_[i];
      if (id >= 0 && std::size_t(id) < logits.size()) {
        float& l = logits[std::size_t(id)];
        l = l > 0.0f ? l / p.repeat_penalty : l * p.repeat_penalty;
        l -= float(j - i) * p.frequency_penalty + p.presence_penalty;
      }
      i = j;
    }
  }

  static expected<std::int32_t> argmax(std::span<const float> logits) {
    std::size_t best = 0;
    float best_value = value(logits[0]);
    for (std::size_t i = 1; i < logits.size(); ++i)
      if (value(logits[i]) > best_value) {
        best = i;
        best_value = value(logits[i]);
      }
    if (best_value == -std::numeric_limits<float>::infinity())
      return make_error(errc::invalid_argument, "sampler: every logit is -inf or NaN");
    return std::int32_t(best);
  }

  // A candidate token: its logit (NaN read as -inf) next to its id, so selections and sorts
  // compare contiguous pairs instead of chasing ids into the logits.
  struct candidate {
    float logit;
    std::int32_t id;
  };
  // Higher logit first, lower id among equals: the order every step below walks.
  static bool before(const candidate& a, const candidate& b) noexcept { return a.logit != b.logit ? a.logit > b.logit : a.id < b.id; }

  expected<std::int32_t> choose(std::span<const float> logits) {
    const sampler_params& p = params_;
    const std::size_t n = logits.size();
    if (p.temperature <= 0.0f || p.top_k == 1) return argmax(logits);
    TESSERA_ASSIGN_OR_RETURN(const std::int32_t best, argmax(logits));
    const float max_logit = logits[std::size_t(best)];
    if (std::isinf(max_logit)) return best;  // +inf: certain
    const auto weight = [&](const candidate& c) { return std::exp(double(c.logit) - max_logit); };
    candidates_.clear();
    const bool top_k = p.top_k > 0 && std::size_t(p.top_k) < n;
    // min-p keeps p_i >= min_p * p_max, i.e. logit_i >= max + log(min_p): a linear filter.
    const float min_logit = p.min_p > 0.0f ? max_logit + std::log(p.min_p) : -std::numeric_limits<float>::infinity();
    double mass = 0.0;  // the top-p normalizer: every token top-k kept, before min-p
    if (top_k) {
      // One pass keeping the k best in a heap whose top is the worst of them: most tokens
      // lose one comparison against it.
      const std::size_t k = std::size_t(p.top_k);
      candidates_.reserve(k);
      for (std::size_t i = 0; i < n; ++i) {
        const candidate c{value(logits[i]), std::int32_t(i)};
        if (candidates_.size() < k) {
          candidates_.push_back(c);
          std::push_heap(candidates_.begin(), candidates_.end(), before);
        } else if (before(c, candidates_.front())) {
          std::pop_heap(candidates_.begin(), candidates_.end(), before);
          candidates_.back() = c;
          std::push_heap(candidates_.begin(), candidates_.end(), before);
        }
      }
      std::sort(candidates_.begin(), candidates_.end(), before);
      for (const candidate& c : candidates_) mass += weight(c);
      while (!candidates_.empty() && candidates_.back().logit < min_logit) candidates_.pop_back();
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const candidate c{value(logits[i]), std::int32_t(i)};
        if (p.top_p < 1.0f) mass += weight(c);
        if (c.logit >= min_logit && c.logit > -std::numeric_limits<float>::infinity()) candidates_.push_back(c);
      }
      if (p.top_p < 1.0f) sort_prefix_for_mass(max_logit, mass * p.top_p);
      else std::sort(candidates_.begin(), candidates_.end(), before);
    }
    if (p.top_p < 1.0f) {
      // The shortest prefix holding top_p of the mass (at least one token).
      const double target = mass * p.top_p;
      double sum = 0.0;
      std::size_t keep = 0;
      while (keep < candidates_.size() && (keep == 0 || sum < target)) sum += weight(candidates_[keep++]);
      candidates_.resize(keep);
    }
    // Temperature, then one draw.
    weights_.resize(candidates_.size());
    double total = 0.0;
    const double inv_t = 1.0 / double(p.temperature);
    for (std::size_t i = 0; i < candidates_.size(); ++i) {
      weights_[i] = std::exp((double(candidates_[i].logit) - max_logit) * inv_t);
      total += weights_[i];
    }
    if (!(total > 0.0) || candidates_.empty()) return best;
    const double u = rng_.uniform() * total;
    double cumulative = 0.0;
    for (std::size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += weights_[i];
      if (u < cumulative) return candidates_[i].id;
    }
    return candidates_.back().id;
  }

  // Sorts a prefix of candidates_ long enough to hold `target` of the mass: selections of
  // 256, 1024, ... tokens until one does (a full sort only for very flat distributions).
  void sort_prefix_for_mass(float max_logit, double target) {
    std::size_t sorted = 0;
    double sum = 0.0;  // the mass of candidates_[0, sorted)
    for (std::size_t m = 256;; m *= 4) {
      if (m >= candidates_.size()) {
        std::sort(candidates_.begin() + std::ptrdiff_t(sorted), candidates_.end(), before);
        return;
      }
      // [0, sorted) already holds the best `sorted`: select and sort only the next ones.
      std::nth_element(candidates_.begin() + std::ptrdiff_t(sorted), candidates_.begin() + std::ptrdiff_t(m), candidates_.end(), before);
      std::sort(candidates_.begin() + std::ptrdiff_t(sorted), candidates_.begin() + std::ptrdiff_t(m), before);
      for (std::size_t i = sorted; i < m; ++i) sum += std::exp(double(candidates_[i].logit) - max_logit);
      sorted = m;
      if (sum >= target) {
        candidates_.resize(m);
        return;
      }
    }
  }

  sampler_params params_;
  random_generator rng_;
  std::vector<std::int32_t> window_;
  std::size_t window_next_ = 0;
  std::vector<std::int32_t> counted_;
  std::vector<candidate> candidates_;
  std::vector<double> weights_;
};

}  // namespace tessera::llm
