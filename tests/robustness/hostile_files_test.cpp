// Every model file the repo ships, damaged the two ways files get damaged: cut at each 1/16th
// of its length (a download that stopped) and with bytes flipped (a bad disk, a hostile
// edit). A cut file must be refused with a message; a flipped one either loads or is refused,
// and what loads must then run on zero, NaN and Inf inputs without a crash. Run under
// ASan+UBSan and as WebAssembly by scripts/test.sh. (GGUF files: tests/llm/loader_test.cpp cuts
// them at every length; images: the vision fuzzer.)
#include <doctest/doctest.h>

#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/onnx.hpp>
#include <tessera/trees/load/load_forest.hpp>
#include <tessera/trees/predict.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tessera;
namespace fs = std::filesystem;

const fs::path kRoot = fs::path(TESSERA_SOURCE_DIR);

std::vector<fs::path> files_in(const fs::path& dir, std::initializer_list<const char*> extensions) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    for (const char* ext : extensions)
      if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint8_t> read(const fs::path& p) {
  auto bytes = io::read_file_bytes(p.string());
  REQUIRE_MESSAGE(bytes.ok(), bytes.what());
  return std::move(bytes).value();
}

// Where a file's model is complete: LightGBM's text ends its model at "end of trees"; what
// follows (feature importances, the training parameters) is for people, and a file cut there
// loads, as it does in LightGBM.
std::size_t complete_from(const std::vector<std::uint8_t>& bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t end = text.find("\nend of trees");
  return end == std::string_view::npos ? bytes.size() : end + 14;
}

// The file cut at k/16 of its length, k = 0..15 (0: empty), before its model is complete.
template <class Load>
void each_cut_is_refused(const fs::path& p, Load&& load) {
  const std::vector<std::uint8_t> whole = read(p);
  for (std::size_t k = 0; k < 16; ++k) {
    const std::size_t n = whole.size() * k / 16;
    if (n >= complete_from(whole)) break;
    CAPTURE(p.filename().string());
    CAPTURE(n);
    const std::string message = load(std::span<const std::uint8_t>(whole.data(), n));
    CHECK_MESSAGE(!message.empty(), "a cut file loaded");
  }
}

// `flips` copies of the file, each with 1 to 8 bytes changed; load returns "" when it loaded
// (and ran), else the error message, which must say something.
template <class Load>
void flipped_bytes_load_or_fail(const fs::path& p, int flips, Load&& load) {
  const std::vector<std::uint8_t> whole = read(p);
  std::mt19937 rng(static_cast<std::uint32_t>(whole.size()));
  int loaded = 0, refused = 0;
  for (int trial = 0; trial < flips; ++trial) {
    std::vector<std::uint8_t> m = whole;
    const int changes = 1 + static_cast<int>(rng() % 8);
    for (int c = 0; c < changes; ++c) m[rng() % m.size()] ^= static_cast<std::uint8_t>(1u + rng() % 255u);
    const std::string message = load(std::span<const std::uint8_t>(m));
    (message.empty() ? loaded : refused) += 1;
  }
  CAPTURE(p.filename().string());
  CHECK(loaded + refused == flips);
}

// Trees: load, compile, predict rows of zeros, NaNs and infinities.
std::string load_and_predict_forest(std::span<const std::uint8_t> bytes) {
  auto f = trees::load_forest_from_memory(bytes);
  if (!f.ok()) return f.what().empty() ? "(empty message)" : f.what();
  auto p = trees::compile(*f);
  if (!p.ok()) return p.what().empty() ? "(empty message)" : p.what();
  const std::size_t nf = static_cast<std::size_t>(f->num_features);
  const float specials[] = {0.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  std::vector<float> rows(4 * nf);
  for (std::size_t r = 0; r < 4; ++r) std::fill_n(rows.begin() + static_cast<std::ptrdiff_t>(r * nf), nf, specials[r]);
  std::vector<double> out(4 * static_cast<std::size_t>(f->num_transformed_outputs()));
  auto st = p->predict(std::span<double>(out), std::span<const float>(rows), nf);
  return st.ok() ? "" : st.message();
}

// ONNX: load, then run once on zeros, once on NaNs (inputs of static shape and at most 1 M
// elements; a model whose damage changed the shapes is still loaded and planned).
std::string load_and_run_onnx(std::span<const std::uint8_t> bytes) {
  auto m = onnx::model::load(bytes);
  if (!m.ok()) return m.what().empty() ? "(empty message)" : m.what();
  auto s = onnx::session::create(*m);
  if (!s.ok()) return s.what().empty() ? "(empty message)" : s.what();
  std::vector<std::vector<float>> data;
  std::vector<onnx::named_input> inputs;
  for (const onnx::io_info& in : (*m)->inputs()) {
    if (in.type != nn::elem_type::f32 || !in.has_shape) return "";
    shape_t shape;
    std::size_t n = 1;
    for (auto d : in.dims) {
      if (d <= 0 || d > (1 << 20)) return "";
      shape.push_back(d);
      n *= static_cast<std::size_t>(d);
      if (n > (1u << 20)) return "";
    }
    data.emplace_back(n, 0.0f);
    inputs.push_back({in.name, nn::any_view(data.back().data(), nn::elem_type::f32, shape)});
  }
  for (float fill : {0.0f, std::numeric_limits<float>::quiet_NaN()}) {
    for (auto& d : data) std::fill(d.begin(), d.end(), fill);
    for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i].value.data = data[i].data();
    auto st = s->run(std::span<const onnx::named_input>(inputs));
    if (!st.ok()) return st.message().empty() ? "(empty message)" : st.message();
  }
  return "";
}

std::string parse_npy(std::span<const std::uint8_t> bytes) {
  auto a = io::parse_npy(bytes);
  return a.ok() ? "" : (a.what().empty() ? "(empty message)" : a.what());
}

}  // namespace

TEST_SUITE("robustness/hostile_files") {

TEST_CASE("forest files (XGBoost JSON and UBJSON, LightGBM text): cut, flipped") {
  const auto files = files_in(kRoot / "tests" / "models" / "trees", {".json", ".ubj", ".txt"});
  REQUIRE(files.size() >= 10);
  for (const fs::path& p : files) {
    each_cut_is_refused(p, load_and_predict_forest);
    flipped_bytes_load_or_fail(p, 24, load_and_predict_forest);
  }
}

TEST_CASE("ONNX models: cut, flipped, then run on zeros and NaNs") {
  auto files = files_in(kRoot / "tests" / "onnx" / "models", {".onnx"});
  files.push_back(kRoot / "examples" / "models" / "digits_cnn.onnx");
  for (const fs::path& p : files) {
    each_cut_is_refused(p, load_and_run_onnx);
    flipped_bytes_load_or_fail(p, 24, load_and_run_onnx);
  }
}

TEST_CASE(".npy arrays: cut, flipped") {
  for (const fs::path& p : files_in(kRoot / "examples" / "models", {".npy"})) {
    each_cut_is_refused(p, parse_npy);
    flipped_bytes_load_or_fail(p, 64, parse_npy);
  }
}

}  // TEST_SUITE
