// libFuzzer harness for the tree-model loaders. Every input must either fail with an error
// or give a forest that validates and predicts.
//
// Built by tests/fuzz/CMakeLists.txt in two ways: always as forest_loader_replay (replay_main.cpp
// feeds it tests/models/trees and tests/fuzz/corpus under ctest, fuzz/forest_loader_replay),
// and with -DTESSERA_BUILD_FUZZERS=ON under clang as the libFuzzer target forest_loader_fuzz:
//   cmake -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DTESSERA_BUILD_FUZZERS=ON && cmake --build build-fuzz --target forest_loader_fuzz
//   mkdir -p corpus && cp tests/models/trees/*.{json,ubj,txt} corpus/
//   build-fuzz/tests/fuzz/forest_loader_fuzz -max_len=65536 -max_total_time=300 corpus
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <span>
#include <vector>

#include "tessera/io/json.hpp"
#include "tessera/io/ubjson.hpp"
#include "tessera/trees/load/load_forest.hpp"
#include "tessera/trees/predict_ref.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  (void)tessera::io::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)tessera::io::parse_ubjson(bytes);
  auto f = tessera::trees::load_forest_from_memory(bytes);
  if (!f.ok()) return 0;
  if (!f->validate().ok()) std::abort();  // loaders must only return validated forests
  if (f->num_features > (1 << 16) || f->num_outputs > (1 << 12)) return 0;
  std::vector<double> row(static_cast<std::size_t>(f->num_features), 0.0);
  std::vector<double> out(static_cast<std::size_t>(f->num_transformed_outputs()));
  for (double v : {0.0, 1.5, -3.0, std::numeric_limits<double>::quiet_NaN(), 1e30}) {
    for (std::size_t i = 0; i < row.size(); ++i) row[i] = (i % 2) ? v : -v;
    if (!tessera::trees::ref::predict(std::span<double>(out), *f, std::span<const double>(row)).ok()) std::abort();
  }
  return 0;
}
