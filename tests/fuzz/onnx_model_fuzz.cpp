// libFuzzer harness for the ONNX model decoder (onnx/model_proto.hpp over io/protobuf.hpp).
// Every input must either fail with an error or give a model whose tensors are
// self-consistent: typed accessors return exactly numel values, external ranges are checked.
//
// Built by tests/fuzz/CMakeLists.txt as onnx_model_replay (replays tests/fuzz/onnx_model_corpus
// under ctest) and, with -DTESSERA_BUILD_FUZZERS=ON under clang, as onnx_model_fuzz.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "tessera/onnx/model_proto.hpp"

namespace {

void check_tensor(const tessera::onnx::tensor_proto& t) {
  using tessera::onnx::data_type;
  if (t.is_external()) {
    // A 64-byte fake file: a resolved range must lie inside it.
    static const std::uint8_t file[64] = {};
    auto v = tessera::onnx::resolve_external(t, [](std::string_view) -> tessera::expected<tessera::onnx::bytes_view> {
      return tessera::onnx::bytes_view(file);
    });
    if (v.ok() && (v->data() < file || v->data() + v->size() > file + sizeof file)) std::abort();
    return;
  }
  if (t.type == data_type::float32) {
    auto f = t.floats();
    if (!f.ok() || f->size() != t.numel) std::abort();
  }
  if (t.type == data_type::int64 || t.type == data_type::int32) {
    auto i = t.int64s();
    if (!i.ok() || i->size() != t.numel) std::abort();
  }
}

void check_graph(const tessera::onnx::graph_proto& g) {
  if (g.initializer_is_input.size() != g.initializers.size()) std::abort();
  for (const auto& t : g.initializers) check_tensor(t);
  for (const auto& n : g.nodes)
    for (const auto& a : n.attributes) {
      for (const auto& t : a.t) check_tensor(t);
      for (const auto& t : a.tensors) check_tensor(t);
      if (a.ints.int64s().size() != a.ints.size() || a.floats.floats().size() != a.floats.size()) std::abort();
      for (const auto& sub : a.g) check_graph(sub);
      for (const auto& sub : a.graphs) check_graph(sub);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  auto m = tessera::onnx::parse_model(bytes);
  if (m.ok()) check_graph(m->graph);
  auto t = tessera::onnx::parse_tensor(bytes);
  if (t.ok()) check_tensor(*t);
  return 0;
}
