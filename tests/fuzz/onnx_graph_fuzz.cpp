// libFuzzer harness for the ONNX graph builder: import (initializers, constant folding, shape
// inference, fusions), the load-time plan, then one run of a session on zeros. Every input
// must either fail with a message or give a model that plans and runs, or refuses to, with a
// message; outputs must lie inside the session's workspace. Limits are those a program that
// loads untrusted models sets (constants and workspace bounded), so that a small file cannot
// make it allocate gigabytes.
//
// Built like the other harnesses (tests/fuzz/CMakeLists.txt): always as onnx_graph_replay over
// its corpora (the repo's ONNX models), and as the libFuzzer target onnx_graph_fuzz under clang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "tessera/onnx.hpp"
#include "tessera/runtime/thread_pool.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "onnx_graph_fuzz: %s\n", what);
  std::abort();
}

constexpr std::uint64_t kLimitBytes = std::uint64_t{64} << 20;
constexpr std::size_t kMaxInputElements = std::size_t{1} << 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tessera;
  onnx::load_options lo;
  lo.max_constant_bytes = kLimitBytes;
  lo.max_plan_bytes = kLimitBytes;
  auto m = onnx::model::load(std::span<const std::uint8_t>(data, size), lo);
  if (!m.ok()) {
    if (m.err().message.empty()) fail("a load error without a message");
    return 0;
  }
  static runtime::thread_pool one(1);
  onnx::session_options so;
  so.pool = &one;
  so.plan.max_bytes = kLimitBytes;
  auto s = onnx::session::create(*m, so);
  if (!s.ok()) {
    if (s.err().message.empty()) fail("a session error without a message");
    return 0;
  }
  std::vector<std::vector<unsigned char>> buffers;
  std::vector<onnx::named_input> inputs;
  for (const onnx::io_info& in : (*m)->inputs()) {
    if (!in.has_shape) return 0;
    shape_t shape;
    std::size_t n = 1;
    for (std::int64_t d : in.dims) {
      if (d < 0 || static_cast<std::uint64_t>(d) > kMaxInputElements) return 0;
      shape.push_back(d);
      n *= static_cast<std::size_t>(d);
      if (n > kMaxInputElements) return 0;
    }
    buffers.emplace_back(n * nn::elem_size(in.type) + 1, 0);
    inputs.push_back({in.name, nn::any_view(buffers.back().data(), in.type, shape)});
  }
  const status st = s->run(std::span<const onnx::named_input>(inputs));
  if (!st.ok()) {
    if (st.message().empty()) fail("a run error without a message");
    return 0;
  }
  for (std::size_t i = 0; i < (*m)->outputs().size(); ++i) {
    const nn::any_view y = s->output(i);
    volatile unsigned char sink = 0;
    const auto* p = static_cast<const unsigned char*>(y.data);
    const std::size_t bytes = static_cast<std::size_t>(y.size()) * nn::elem_size(y.type);
    if (bytes > 0 && p == nullptr) fail("an output without data");
    for (std::size_t b = 0; b < bytes; b += 64) sink = static_cast<unsigned char>(sink ^ p[b]);  // ASan checks each read
    if (bytes > 0) sink = static_cast<unsigned char>(sink ^ p[bytes - 1]);
  }
  return 0;
}
