// One loaded network, many threads: an ONNX model (the CNN family) and LLM weights are
// immutable after load; each caller has its own session (activation buffers, KV cache), so 8
// threads at once, each with its own input, must get exactly the single-threaded answers.
// Some callers bring their own pool, some share one, some use the default pool. Run under TSan
// by scripts/test.sh.
#include <doctest/doctest.h>

#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/llm/generate.hpp>
#include <tessera/llm/gguf_export.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/session.hpp>
#include <tessera/onnx.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "on_threads.hpp"

namespace {

using namespace tessera;

using test::kThreads;
using test::on_threads;
constexpr int kNetworkRounds = 3;

// Thread t's pool: its own (t % 3 == 0), the shared one (t % 3 == 1) or the default (null).
runtime::thread_pool* pool_for(int t, runtime::thread_pool& shared, std::vector<std::unique_ptr<runtime::thread_pool>>& own) {
  if (t % 3 == 0) return own[static_cast<std::size_t>(t)].get();
  return t % 3 == 1 ? &shared : nullptr;
}

}  // namespace

TEST_SUITE("concurrency/shared_network") {

TEST_CASE("one ONNX model serves 8 sessions on 8 threads exactly as it serves one") {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_SOURCE_DIR) / "tests" / "onnx" / "models";
  auto m = onnx::model::load((dir / "inverted_residual.onnx").string());
  REQUIRE_MESSAGE(m.ok(), m.what());
  const onnx::io_info& in = (*m)->inputs().at(0);
  shape_t shape;
  for (auto d : in.dims) shape.push_back(d < 0 ? 1 : d);
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);

  // Every thread has its own input and the answer one session on one thread gives for it.
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> x(kThreads), want(kThreads);
  {
    runtime::thread_pool one(1);
    onnx::session_options so;
    so.pool = &one;
    auto ref = onnx::session::create(*m, so);
    REQUIRE_MESSAGE(ref.ok(), ref.what());
    for (int t = 0; t < kThreads; ++t) {
      x[t].resize(n);
      for (float& v : x[t]) v = normal(rng);
      REQUIRE(ref->run({{in.name, nn::any_view(x[t].data(), nn::elem_type::f32, shape)}}).ok());
      const nn::any_view y = ref->output(0);
      const float* p = y.ptr<const float>();
      want[t].assign(p, p + y.size());
    }
  }

  runtime::thread_pool shared(2);
  std::vector<std::unique_ptr<runtime::thread_pool>> own(kThreads);
  for (auto& p : own) p = std::make_unique<runtime::thread_pool>(1);
  std::vector<int> mismatches(kThreads, 0), errors(kThreads, 0);
  on_threads([&](int t) {
    onnx::session_options so;
    so.pool = pool_for(t, shared, own);
    auto s = onnx::session::create(*m, so);
    if (!s.ok()) {
      ++errors[t];
      return;
    }
    for (int r = 0; r < kNetworkRounds; ++r) {
      if (!s->run({{in.name, nn::any_view(x[t].data(), nn::elem_type::f32, shape)}}).ok()) {
        ++errors[t];
        continue;
      }
      const nn::any_view y = s->output(0);
      if (static_cast<std::size_t>(y.size()) != want[t].size() || std::memcmp(y.ptr<const float>(), want[t].data(), want[t].size() * sizeof(float)) != 0)
        ++mismatches[t];
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK(errors[t] == 0);
    CHECK(mismatches[t] == 0);
  }
}

TEST_CASE("one LLM's weights serve 8 sessions on 8 threads exactly as they serve one") {
  llm::random_model_spec spec;
  spec.arch = llm::architecture::llama;
  spec.vocab = 128;
  spec.dim = 64;
  spec.layers = 2;
  spec.hidden = 96;
  spec.context = 64;
  spec.weights = dtype::q8_0;
  auto bytes = llm::random_model_gguf(spec);
  REQUIRE_MESSAGE(bytes.ok(), bytes.what());
  auto m = llm::model::view_bytes(*bytes);
  REQUIRE_MESSAGE(m.ok(), m.what());

  // Thread t's prompt (lengths 3..10), and the greedy continuation and last logits one
  // session gives for it.
  struct answer {
    std::vector<std::int32_t> ids;
    std::vector<float> logits;
  };
  const auto run = [&](const std::vector<std::int32_t>& prompt, runtime::thread_pool* pool) -> expected<answer> {
    llm::session_options so;
    so.pool = pool;
    TESSERA_ASSIGN_OR_RETURN(llm::session s, llm::session::create(*m, so));
    answer a;
    llm::generate_options go;
    go.max_tokens = 12;
    TESSERA_TRY(llm::generate(s, prompt, go, [](std::span<const float> l) { return llm::greedy(l); },
                              [&](std::int32_t id) { a.ids.push_back(id); return true; })
                    .as_status());
    a.logits.assign(s.logits().begin(), s.logits().end());
    return a;
  };
  std::mt19937 rng(5);
  std::vector<std::vector<std::int32_t>> prompts(kThreads);
  std::vector<answer> want(kThreads);
  runtime::thread_pool one(1);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < 3 + t; ++i) prompts[t].push_back(static_cast<std::int32_t>(rng() % spec.vocab));
    auto a = run(prompts[t], &one);
    REQUIRE_MESSAGE(a.ok(), a.what());
    want[t] = std::move(a).value();
  }

  runtime::thread_pool shared(2);
  std::vector<std::unique_ptr<runtime::thread_pool>> own(kThreads);
  for (auto& p : own) p = std::make_unique<runtime::thread_pool>(1);
  std::vector<int> mismatches(kThreads, 0), errors(kThreads, 0);
  on_threads([&](int t) {
    for (int r = 0; r < kNetworkRounds; ++r) {
      auto a = run(prompts[t], pool_for(t, shared, own));
      if (!a.ok()) ++errors[t];
      else if (a->ids != want[t].ids || a->logits != want[t].logits) ++mismatches[t];
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK(errors[t] == 0);
    CHECK(mismatches[t] == 0);
  }
}

}  // TEST_SUITE
