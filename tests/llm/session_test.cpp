// Tests of include/tessera/llm/session.hpp, generate.hpp, rope.hpp and attention.hpp: batched
// and one-token decoding agree, the KV cache types agree, decode steps allocate nothing,
// contexts and ids are enforced, sessions share a model across threads, and the RoPE angles
// follow their formulas.
#include "support/harness.hpp"
#include "support/heap_counter.hpp"

#include <tessera/llm/generate.hpp>
#include <tessera/llm/gguf_export.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/rope.hpp>
#include <tessera/llm/session.hpp>

#include <cmath>
#include <numbers>
#include <vector>

#if TESSERA_THREADS
#include <thread>
#endif

using namespace tessera;

namespace {

llm::random_model_spec small_spec(llm::architecture arch, dtype weights = dtype::f32) {
  llm::random_model_spec s;
  s.arch = arch;
  s.vocab = 96;
  s.dim = 64;
  s.layers = 2;
  s.hidden = 96;
  s.context = 48;
  s.weights = weights;
  if (arch == llm::architecture::gemma3) {
    s.sliding_window = 3;
    s.sliding_pattern = 2;
  }
  if (arch == llm::architecture::phi3) s.fused_qkv = true;
  return s;
}

const std::vector<std::int32_t> kPrompt = {1, 5, 9, 33, 60, 2, 71, 88, 13, 40, 41};

std::vector<float> run(const llm::model& m, const llm::session_options& opts, const std::vector<std::int32_t>& tokens, bool one_by_one) {
  llm::session s = test::must(llm::session::create(m, opts));
  if (one_by_one) {
    for (std::int32_t t : tokens) REQUIRE(s.decode(std::span<const std::int32_t>(&t, 1)).ok());
  } else {
    REQUIRE(s.decode(tokens).ok());
  }
  return {s.logits().begin(), s.logits().end()};
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
  return d;
}

}  // namespace

TEST_SUITE("llm/session") {

TEST_CASE("batched prompt processing and one token at a time give the same logits") {
  for (auto arch : {llm::architecture::llama, llm::architecture::gemma3, llm::architecture::phi3}) {
    for (dtype t : {dtype::f32, dtype::q8_0, dtype::q4_1}) {
      CAPTURE(static_cast<int>(arch));
      CAPTURE(std::string(dtype_name(t)));
      const auto bytes = test::must(llm::random_model_gguf(small_spec(arch, t)));
      const llm::model m = test::must(llm::model::view_bytes(bytes));
      llm::session_options batched;
      batched.batch = 5;  // chunks of 5, 5, 1
      const auto a = run(m, batched, kPrompt, false);
      const auto b = run(m, {}, kPrompt, true);
      CHECK(max_diff(a, b) <= 1e-5);
    }
  }
}

TEST_CASE("the f32 prompt path stays close to the integer one, which token-by-token decoding reproduces") {
  std::vector<std::int32_t> prompt;
  for (std::int32_t i = 0; i < 45; ++i) prompt.push_back(1 + (i * 37) % 90);  // one batch of 45: the panel path
  for (dtype t : {dtype::q8_0, dtype::q4_1}) {
    CAPTURE(std::string(dtype_name(t)));
    const auto bytes = test::must(llm::random_model_gguf(small_spec(llm::architecture::llama, t)));
    // Plain rows: regrouped matrices keep the integer path (kernels::regroup).
    const llm::model m = test::must(llm::model::view_bytes(bytes, llm::load_options{.regroup = false}));
    llm::session_options fast;
    fast.prompt_f32 = true;
    const auto integer = run(m, {}, prompt, false);
    const auto f32 = run(m, fast, prompt, false);
    double scale = 0;
    for (float v : integer) scale = std::max(scale, std::fabs(static_cast<double>(v)));
    CHECK(max_diff(integer, f32) <= 2e-2 * scale);
    CHECK(max_diff(integer, f32) > 0);  // the panel path is really used
    CHECK(max_diff(integer, run(m, {}, prompt, true)) <= 1e-5);
  }
}

TEST_CASE("a model with regrouped matrices gives the plain model's logits, batched or not") {
  for (dtype t : {dtype::q4_0, dtype::q4_k, dtype::q5_k, dtype::q6_k, dtype::q8_0}) {
    CAPTURE(std::string(dtype_name(t)));
    llm::random_model_spec spec = small_spec(llm::architecture::llama, t);
    spec.dim = spec.hidden = 256;  // whole Q4_K blocks
    spec.vocab = 100;              // the output's last rows stay plain
    const auto bytes = test::must(llm::random_model_gguf(spec));
    const llm::model grouped = test::must(llm::model::view_bytes(bytes));
    const llm::model plain = test::must(llm::model::view_bytes(bytes, llm::load_options{.regroup = false}));
    CHECK(grouped.matrix_bytes_per_token() == plain.matrix_bytes_per_token());
    llm::session_options batched;
    batched.batch = 5;
    const auto a = run(grouped, batched, kPrompt, false);
    const auto b = run(plain, batched, kPrompt, false);
    // The products agree within float rounding (tests/kernels), but a rounding-sized change in
    // an activation can move its Q8 code across a rounding boundary in the next layer, which
    // shifts logits by up to ~1% of their scale (seen with clang builds): wiring errors (a
    // wrong row, a wrong scale) would be far beyond.
    double scale = 0;
    for (float v : b) scale = std::max(scale, std::fabs(static_cast<double>(v)));
    CHECK(max_diff(a, b) <= 2e-2 * scale);
    // The regrouped kernels treat each token alike whatever the batch: the same bits.
    CHECK(max_diff(a, run(grouped, {}, kPrompt, true)) <= 1e-5);
  }
}

TEST_CASE("a model regrouped in the bytes it owns equals one regrouped into copies (tied output, fused QKV)") {
  for (dtype t : {dtype::q4_0, dtype::q8_0, dtype::q4_k}) {
    for (const bool tied : {false, true}) {
      CAPTURE(std::string(dtype_name(t)));
      CAPTURE(tied);
      llm::random_model_spec spec = small_spec(llm::architecture::phi3, t);
      spec.dim = spec.hidden = 256;
      spec.vocab = 100;
      spec.tied = tied;
      spec.output = t;
      const auto bytes = test::must(llm::random_model_gguf(spec));
      const llm::model viewed = test::must(llm::model::view_bytes(bytes));  // copies
      const llm::model owned = test::must(llm::model::from_bytes(bytes));   // in place where the build can
      const llm::model plain = test::must(llm::model::view_bytes(bytes, llm::load_options{.regroup = false}));
      const auto a = run(viewed, {}, kPrompt, false);
      CHECK(a == run(owned, {}, kPrompt, false));
      double scale = 0;
      const auto b = run(plain, {}, kPrompt, false);
      for (float v : b) scale = std::max(scale, std::fabs(static_cast<double>(v)));
      CHECK(max_diff(a, b) <= 2e-2 * scale);
    }
  }
}

TEST_CASE("an f16 KV cache stays close to the f32 one") {
  const auto bytes = test::must(llm::random_model_gguf(small_spec(llm::architecture::qwen2)));
  const llm::model m = test::must(llm::model::view_bytes(bytes));
  llm::session_options half;
  half.kv_type = llm::kv_cache_type::f16;
  const auto a = run(m, {}, kPrompt, false);
  const auto b = run(m, half, kPrompt, false);
  CHECK(max_diff(a, b) <= 2e-2);
  CHECK(max_diff(a, b) > 0);  // the f16 cache is really used
}

TEST_CASE("a decode step allocates nothing once the session exists") {
  const auto bytes = test::must(llm::random_model_gguf(small_spec(llm::architecture::gemma3, dtype::q8_0)));
  const llm::model m = test::must(llm::model::view_bytes(bytes));
  runtime::thread_pool pool(2);
  llm::session_options opts;
  opts.pool = &pool;
  llm::session s = test::must(llm::session::create(m, opts));
  REQUIRE(s.decode(kPrompt).ok());
  std::int32_t next = llm::greedy(s.logits());
  const std::size_t allocations = heap_allocations_during([&] {
    for (int i = 0; i < 4; ++i) {
      REQUIRE(s.decode(std::span<const std::int32_t>(&next, 1)).ok());
      next = llm::greedy(s.logits());
    }
  });
  CHECK(allocations == 0);
}

TEST_CASE("contexts and token ids are enforced with clear errors") {
  const auto bytes = test::must(llm::random_model_gguf(small_spec(llm::architecture::llama)));
  const llm::model m = test::must(llm::model::view_bytes(bytes));
  llm::session_options opts;
  opts.context = 8;
  llm::session s = test::must(llm::session::create(m, opts));
  const status too_long = s.decode(kPrompt);
  CHECK(too_long.code() == errc::out_of_range);
  CHECK(too_long.message().find("exceed the context of 8") != std::string::npos);
  CHECK(s.position() == 0);
  const std::int32_t bad[] = {3, 96};
  CHECK(s.decode(bad).code() == errc::out_of_range);
  const std::int32_t negative[] = {-1};
  CHECK(s.decode(negative).code() == errc::out_of_range);
  auto r = llm::generate(s, kPrompt, {}, llm::greedy, [](std::int32_t) { return true; });
  CHECK(r.err().code == errc::out_of_range);
  CHECK(r.err().message.find("does not fit") != std::string::npos);
  // Generation stops when the context is full.
  const std::vector<std::int32_t> prompt(kPrompt.begin(), kPrompt.begin() + 5);
  std::vector<std::int32_t> out;
  llm::generate_options g;
  g.max_tokens = 100;
  auto full = llm::generate(s, prompt, g, llm::greedy, [&](std::int32_t id) { out.push_back(id); return true; });
  REQUIRE(full.ok());
  CHECK(full->context_full);
  CHECK(out.size() == 4);  // positions 5, 6, 7 are fed; the 4th id has no room
  CHECK(s.position() == 8);
}

TEST_CASE("generate feeds the picked ids back and stops when asked") {
  const auto bytes = test::must(llm::random_model_gguf(small_spec(llm::architecture::llama)));
  const llm::model m = test::must(llm::model::view_bytes(bytes));
  llm::session s = test::must(llm::session::create(m));
  std::vector<std::int32_t> ids;
  llm::generate_options g;
  g.max_tokens = 5;
  auto r = llm::generate(s, kPrompt, g, llm::greedy, [&](std::int32_t id) { ids.push_back(id); return true; });
  REQUIRE(r.ok());
  CHECK(r->generated == 5);
  CHECK(s.position() == kPrompt.size() + 4);  // the last id is returned, not fed
  // The same continuation by hand.
  llm::session t = test::must(llm::session::create(m));
  REQUIRE(t.decode(kPrompt).ok());
  for (std::int32_t id : ids) {
    CHECK(llm::greedy(t.logits()) == id);
    REQUIRE(t.decode(std::span<const std::int32_t>(&id, 1)).ok());
  }
  // Stop on the second token; a sampler out of the vocabulary is an error.
  llm::session u = test::must(llm::session::create(m));
  int seen = 0;
  auto stopped = llm::generate(u, kPrompt, g, llm::greedy, [&](std::int32_t) { return ++seen < 2; });
  REQUIRE(stopped.ok());
  CHECK(stopped->stopped);
  CHECK(stopped->generated == 2);
  llm::session v = test::must(llm::session::create(m));
  CHECK(!llm::generate(v, kPrompt, g, [](std::span<const float>) { return 1000; }, [](std::int32_t) { return true; }).ok());
}

TEST_CASE("rewind re-decodes from an earlier position") {
  const auto bytes = test::must(llm::random_model_gguf(small_spec(llm::architecture::qwen2, dtype::q4_0)));
  const llm::model m = test::must(llm::model::view_bytes(bytes));
  llm::session s = test::must(llm::session::create(m));
  REQUIRE(s.decode(kPrompt).ok());
  const std::vector<float> want(s.logits().begin(), s.logits().end());
  REQUIRE(s.rewind(4).ok());
  REQUIRE(s.decode(std::span<const std::int32_t>(kPrompt).subspan(4)).ok());
  CHECK(max_diff(want, {s.logits().begin(), s.logits().end()}) <= 1e-6);
  CHECK(s.rewind(100).code() == errc::out_of_range);
}

TEST_CASE("threads: a pool gives the same bits, and sessions share one model") {
  const auto bytes = test::must(llm::random_model_gguf(small_spec(llm::architecture::gemma3, dtype::q5_0)));
  const llm::model m = test::must(llm::model::view_bytes(bytes));
  runtime::thread_pool one(1), two(2);
  llm::session_options a, b;
  a.pool = &one;
  b.pool = &two;
  const auto single = run(m, a, kPrompt, false);
  CHECK(run(m, b, kPrompt, false) == single);
#if TESSERA_THREADS
  std::vector<float> r1, r2;
  std::thread t1([&] { r1 = run(m, a, kPrompt, false); });
  std::thread t2([&] { runtime::thread_pool own(1); llm::session_options o; o.pool = &own; r2 = run(m, o, kPrompt, true); });
  t1.join();
  t2.join();
  CHECK(r1 == single);
  CHECK(max_diff(r2, single) <= 1e-5);
#endif
}

TEST_CASE("rope angles follow the formulas of each scaling") {
  llm::rope_config r;
  r.n_rot = 8;
  float cs[8];
  llm::rope_angles(cs, 5, r, 10000.0f, 1.0f, nullptr);
  for (int i = 0; i < 4; ++i) {
    const double theta = 5 * std::pow(10000.0, -2.0 * i / 8);
    CHECK(cs[2 * i] == doctest::Approx(std::cos(theta)).epsilon(1e-6));
    CHECK(cs[2 * i + 1] == doctest::Approx(std::sin(theta)).epsilon(1e-6));
  }
  // Linear: theta * scale; frequency factors divide theta.
  r.scaling = llm::rope_scaling::linear;
  const float factors[4] = {1, 2, 4, 8};
  llm::rope_angles(cs, 7, r, 500.0f, 0.25f, factors);
  for (int i = 0; i < 4; ++i) CHECK(std::atan2(cs[2 * i + 1], cs[2 * i]) == doctest::Approx(std::remainder(0.25 * 7 * std::pow(500.0, -2.0 * i / 8) / factors[i], 2 * std::numbers::pi)).epsilon(1e-5));
  // YaRN: fast pairs (i <= low) keep theta, slow pairs (i >= high) are interpolated, and the
  // magnitude grows by 1 + 0.1 ln(1 / scale).
  r.scaling = llm::rope_scaling::yarn;
  r.n_rot = 64;
  r.original_context = 64;
  std::vector<float> y(64);
  llm::rope_angles(y.data(), 3, r, 10000.0f, 0.125f, nullptr);
  const double mscale = 1 + 0.1 * std::log(8.0);
  CHECK(std::hypot(y[0], y[1]) == doctest::Approx(mscale).epsilon(1e-5));
  CHECK(std::atan2(y[1], y[0]) == doctest::Approx(3.0).epsilon(1e-5));  // pair 0 extrapolates
  const double slow = 3 * std::pow(10000.0, -62.0 / 64) * 0.125;
  CHECK(std::atan2(y[63], y[62]) == doctest::Approx(slow).epsilon(1e-4));  // last pair interpolates
  // apply_rope rotates pairs: adjacent (normal) or halves apart (NeoX).
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, xn[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  float c2[8];
  r.scaling = llm::rope_scaling::none;
  r.n_rot = 8;
  llm::rope_angles(c2, 2, r, 100.0f, 1.0f, nullptr);
  llm::apply_rope(x, 1, 8, 8, llm::rope_style::normal, c2);
  llm::apply_rope(xn, 1, 8, 8, llm::rope_style::neox, c2);
  CHECK(x[0] == doctest::Approx(1 * c2[0] - 2 * c2[1]));
  CHECK(x[1] == doctest::Approx(1 * c2[1] + 2 * c2[0]));
  CHECK(xn[0] == doctest::Approx(1 * c2[0] - 5 * c2[1]));
  CHECK(xn[4] == doctest::Approx(1 * c2[1] + 5 * c2[0]));
  CHECK(xn[7] == doctest::Approx(4 * c2[7] + 8 * c2[6]));
}

}  // TEST_SUITE
