// libFuzzer harness for the tree-model loaders. Each input is parsed as JSON and as UBJSON
// (a document must be walkable and within the tape's memory bound), then loaded: it must
// fail with an error or give a forest that validates, predicts, compiles, and whose fast
// predictor gives the reference interpreter's answers bit for bit (any NaN matches any NaN).
//
// Built by tests/fuzz/CMakeLists.txt in two ways: always as forest_loader_replay (replay_main.cpp
// feeds it tests/models/trees and tests/fuzz/forest_loader_corpus under ctest, fuzz/forest_loader_replay),
// and with -DTESSERA_BUILD_FUZZERS=ON under clang as the libFuzzer target forest_loader_fuzz:
//   cmake -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DTESSERA_BUILD_FUZZERS=ON && cmake --build build-fuzz --target forest_loader_fuzz
//   mkdir -p corpus && cp tests/models/trees/*.{json,ubj,txt} tests/fuzz/forest_loader_corpus/* corpus/
//   build-fuzz/tests/fuzz/forest_loader_fuzz -max_len=65536 -max_total_time=300 corpus
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "tessera/io/json.hpp"
#include "tessera/io/ubjson.hpp"
#include "tessera/trees/load/load_forest.hpp"
#include "tessera/trees/predict.hpp"
#include "tessera/trees/predict_ref.hpp"

namespace {
// Visits every value through json_ref (sizes must match what iteration finds) and returns
// how many tape tokens that was.
std::size_t walk(tessera::io::json_ref v) {
  std::size_t tokens = v.is_packed_element() ? 0 : 1, n = 0;
  if (v.is_array()) {
    for (const tessera::io::json_ref e : v.elements()) tokens += walk(e), ++n;
  } else if (v.is_object()) {
    for (const auto [key, value] : v.members()) tokens += 1 + walk(value), ++n, (void)key.size();
  }
  if (n != v.size()) std::abort();
  return tokens;
}

// A parsed document must be walkable and within json_tape.hpp's bound: at most one 16-byte
// token and one unescaped byte per input byte.
template <class Document>
void check_document(const Document& doc, std::size_t input_size) {
  if (!doc.ok()) return;
  const std::size_t n = input_size > 0 ? input_size : 1;
  if (walk(doc->root()) != doc->tokens() || doc->tokens() > n || doc->memory_bytes() > 16 * n + input_size)
    std::abort();
}

bool same_bits_or_nan(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  check_document(tessera::io::parse_json(std::string_view(reinterpret_cast<const char*>(data), size)), size);
  check_document(tessera::io::parse_ubjson(bytes), size);
  auto f = tessera::trees::load_forest_from_memory(bytes);
  if (!f.ok()) return 0;
  if (!f->validate().ok()) std::abort();  // loaders must only return validated forests
  if (f->num_features > (1 << 16) || f->num_outputs > (1 << 12)) return 0;
  // Five rows: zeros, small values, NaN (missing) and huge values, alternating in sign.
  const std::size_t nf = static_cast<std::size_t>(f->num_features);
  const std::size_t kt = static_cast<std::size_t>(f->num_transformed_outputs());
  const double values[] = {0.0, 1.5, -3.0, std::numeric_limits<double>::quiet_NaN(), 1e30};
  const std::size_t n_rows = std::size(values);
  std::vector<double> rows(n_rows * nf);
  for (std::size_t r = 0; r < n_rows; ++r)
    for (std::size_t i = 0; i < nf; ++i) rows[r * nf + i] = (i % 2) ? values[r] : -values[r];
  std::vector<double> want(n_rows * kt), got(n_rows * kt);
  if (!tessera::trees::ref::predict_rows(std::span<double>(want), *f, std::span<const double>(rows), n_rows).ok())
    std::abort();
  // A loaded forest must compile; the fast predictor must agree with the reference.
  auto p = tessera::trees::compile(*f);
  if (!p.ok()) {
    if (p.err().code == tessera::errc::out_of_memory) return 0;  // bounded, reported: fine
    std::abort();
  }
  if (!p->predict(std::span<double>(got), std::span<const double>(rows), nf).ok()) std::abort();
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!same_bits_or_nan(got[i], want[i])) std::abort();
  return 0;
}
