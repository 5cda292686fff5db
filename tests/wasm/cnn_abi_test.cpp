// The CNN C ABI (wasm/cnn_abi.hpp, wasm/cnn_session_abi.hpp), called as the JS package calls it:
// bytes streamed in chunks, or the digits CNN compiled in (TESSERA_WASM_CNN_EMBED, as
// tessera_add_wasm_module(... ONNX_HEADER ...) builds it), float32 feeds by name, detection on
// RGBA pixels, errors through the error slot.
// Oracles: the digits CNN's PyTorch outputs (examples/models, scripts/train_digits_cnn.py),
// tessera's own ONNX session and vision/ chain called directly (what tessera-detect runs), and
// tests/models/yolov8_tiny/synthetic_detections.json, that chain's answer the JS tests compare
// with. Natively and under Node (built with -fwasm-exceptions there, like the package's modules).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/io/file.hpp"
#include "tessera/io/npy.hpp"
#include "onnx/onnx_builder.hpp"
#include "tessera/wasm/cnn_abi.hpp"
#include "wasm/stream_bytes.hpp"

#include "../../examples/models/digits_cnn_model.hpp"
TESSERA_WASM_CNN_EMBED(digits_cnn)

// Its own namespace: tests/wasm may be compiled as one translation unit with the other ABI tests.
namespace cnn_abi_test {

using tessera::wasm::byte_buffer;
using tessera::wasm::cnn_model;

const std::string kDigits = std::string(TESSERA_SOURCE_DIR) + "/examples/models/digits_cnn";
const std::string kTiny = std::string(TESSERA_SOURCE_DIR) + "/tests/models/yolov8_tiny/";

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  auto bytes = tessera::io::read_file_bytes(path);
  REQUIRE_MESSAGE(bytes.ok(), path);
  return std::move(bytes).value();
}

struct f32_array {
  std::vector<float> values;
  std::vector<std::uint32_t> dims;
};

f32_array read_npy(const std::string& path) {
  const std::vector<std::uint8_t> bytes = file_bytes(path);
  auto a = tessera::io::parse_npy(bytes);
  REQUIRE_MESSAGE(a.ok(), path);
  REQUIRE((a->kind == 'f' && a->itemsize == 4));
  f32_array out;
  for (const std::int64_t d : a->shape) out.dims.push_back(static_cast<std::uint32_t>(d));
  out.values.resize(a->numel());
  if (!out.values.empty()) std::memcpy(out.values.data(), a->data.data(), a->data.size());
  return out;
}

cnn_model* load_bytes(const std::vector<std::uint8_t>& bytes) { return tessera_cnn_load(tessera_wasm_test::stream_bytes(bytes, 4096, true)); }

cnn_model* load_model(const std::string& path) {
  cnn_model* m = load_bytes(file_bytes(path));
  INFO(tessera_error_message());
  REQUIRE(m != nullptr);
  return m;
}

// name: a literal (the feed points at it).
tessera_cnn_tensor feed(const char* name, const f32_array& a) {
  return {name, static_cast<std::uint32_t>(std::strlen(name)), a.values.data(), a.dims.data(),
          static_cast<std::uint32_t>(a.dims.size()), static_cast<std::uint32_t>(tessera::nn::elem_type::f32)};
}

const float* floats(const tessera_cnn_tensor& t) {
  REQUIRE(t.type == static_cast<std::uint32_t>(tessera::nn::elem_type::f32));
  return static_cast<const float*>(t.data);
}

std::size_t numel(const tessera_cnn_tensor& t) {
  std::size_t n = 1;
  for (std::uint32_t d = 0; d < t.rank; ++d) n *= t.dims[d];
  return n;
}

// An RGBA test photo (no decoder needed, js/test/cnn.test.js draws the same one): a pattern
// with structure at several scales, alpha opaque.
std::vector<std::uint8_t> synthetic_photo(int width, int height) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(width) * height * 4);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 4; ++c)
        px[(static_cast<std::size_t>(y) * width + x) * 4 + c] =
            c == 3 ? 255 : static_cast<std::uint8_t>(((x * 5 + y * 3 + c * 70) ^ (x * y)) & 255);
  return px;
}
constexpr int kPhotoWidth = 96, kPhotoHeight = 72;

tessera_cnn_detect_params yolov8_params(float confidence) {
  tessera_cnn_detect_params p{};
  p.format = tessera_cnn_format_yolov8;
  p.normalize = tessera_cnn_normalize_unit;
  p.confidence_threshold = confidence;
  p.iou_threshold = 0.45f;
  p.max_detections = 300;
  return p;
}

// tessera-detect's chain called directly: fit to the model's 64x64, the session, decode and
// NMS, the JSON line.
std::string native_detections(const std::vector<std::uint8_t>& rgba, float confidence,
                              tessera::vision::fit_mode fit = tessera::vision::fit_mode::letterbox,
                              const tessera::vision::normalization& norm = tessera::vision::normalization::unit_range()) {
  using namespace tessera;
  auto m = onnx::model::load(kTiny + "model.onnx");
  REQUIRE(m.ok());
  auto s = onnx::session::create(*m);
  REQUIRE(s.ok());
  const vision::image_view photo{rgba.data(), kPhotoWidth, kPhotoHeight, 4, kPhotoWidth * 4};
  auto in = vision::prepare_input(photo, 64, 64, fit, norm);
  REQUIRE(in.ok());
  REQUIRE(s->run({{(*m)->inputs()[0].name, nn::any_view(in->tensor.view())}}).ok());
  const nn::any_view y = s->output(0);
  const TensorView<const float> out(y.ptr<const float>(), y.shape);
  vision::detect_options o;
  o.confidence_threshold = confidence;
  auto found = vision::detect(vision::output_format::yolov8, std::span<const TensorView<const float>>(&out, 1), in->transform, o);
  REQUIRE(found.ok());
  auto names = vision::parse_class_names(*(*m)->metadata_value("names"));
  REQUIRE(names.ok());
  return vision::detections_to_json("synthetic", *found, *names);
}

}  // namespace cnn_abi_test

using namespace cnn_abi_test;

TEST_CASE("cnn abi: digits CNN, run() gives PyTorch's logits and the native session's bits") {
  cnn_model* m = load_model(kDigits + ".onnx");
  const auto info = nlohmann::json::parse(tessera_cnn_info(m));
  REQUIRE(info["inputs"].size() == 1);
  CHECK(info["inputs"][0]["name"] == "input");
  CHECK(info["inputs"][0]["type"] == "float32");
  CHECK(info["inputs"][0]["dims"] == nlohmann::json::parse(R"(["batch", 1, 8, 8])"));
  CHECK(info["inputs"][0]["required"] == true);
  CHECK(info["outputs"][0]["name"] == "logits");
  CHECK(info["outputs"][0]["dims"] == nlohmann::json::parse(R"(["batch", 10])"));
  CHECK(info["parameters"].get<std::uint64_t>() > 1000);
  CHECK(std::find(info["operators"].begin(), info["operators"].end(), "Conv") != info["operators"].end());

  const f32_array x = read_npy(kDigits + "_inputs.npy");
  const f32_array want = read_npy(kDigits + "_outputs.npy");
  const tessera_cnn_tensor in = feed("input", x);
  const std::int32_t rc = tessera_cnn_run(m, &in, 1);
  INFO(tessera_error_message());
  REQUIRE(rc == 0);
  REQUIRE(tessera_cnn_output_count(m) == 1);
  const tessera_cnn_tensor out = tessera_cnn_outputs(m)[0];
  CHECK(std::string(out.name) == "logits");
  REQUIRE(std::vector<std::uint32_t>(out.dims, out.dims + out.rank) == want.dims);
  for (std::size_t i = 0; i < want.values.size(); ++i) CHECK(floats(out)[i] == doctest::Approx(want.values[i]).epsilon(1e-4));

  // The same model run by a session of its own: the same bits.
  auto native = tessera::onnx::model::load(kDigits + ".onnx");
  REQUIRE(native.ok());
  auto s = tessera::onnx::session::create(*native);
  REQUIRE(s.ok());
  tessera::shape_t shape;
  for (const std::uint32_t d : x.dims) shape.push_back(d);
  REQUIRE(s->run({{"input", tessera::nn::any_view(const_cast<float*>(x.values.data()), tessera::nn::elem_type::f32, shape)}}).ok());
  const tessera::nn::any_view y = s->output(0);
  REQUIRE(static_cast<std::size_t>(y.size()) == numel(out));
  CHECK(std::memcmp(y.ptr<const float>(), floats(out), numel(out) * sizeof(float)) == 0);

  // Another batch size replans; one image gives the first row.
  f32_array one{std::vector<float>(x.values.begin(), x.values.begin() + 64), {1, 1, 8, 8}};
  const tessera_cnn_tensor in1 = feed("input", one);
  REQUIRE(tessera_cnn_run(m, &in1, 1) == 0);
  const tessera_cnn_tensor out1 = tessera_cnn_outputs(m)[0];
  CHECK((out1.rank == 2 && out1.dims[0] == 1 && out1.dims[1] == 10));
  for (int i = 0; i < 10; ++i) CHECK(floats(out1)[i] == doctest::Approx(want.values[static_cast<std::size_t>(i)]).epsilon(1e-4));
  tessera_cnn_free(m);
}

TEST_CASE("cnn abi: the digits CNN compiled into the module gives the loaded model's bits") {
  cnn_model* embedded = tessera_cnn_embedded();
  INFO(tessera_error_message());
  REQUIRE(embedded != nullptr);
  cnn_model* loaded = load_model(kDigits + ".onnx");
  const auto info = nlohmann::json::parse(tessera_cnn_info(embedded));
  CHECK(info["inputs"][0]["dims"] == nlohmann::json::parse("[1, 1, 8, 8]"));  // the header fixed the batch dim
  CHECK(info["operators"] == nlohmann::json::parse(R"(["Conv", "Flatten", "Gemm", "MaxPool", "Relu"])"));
  CHECK(info["parameters"] == nlohmann::json::parse(tessera_cnn_info(loaded))["parameters"]);

  const f32_array x = read_npy(kDigits + "_inputs.npy");
  for (std::size_t i = 0; i < x.dims[0]; ++i) {
    const f32_array one{std::vector<float>(x.values.begin() + static_cast<std::ptrdiff_t>(i * 64),
                                           x.values.begin() + static_cast<std::ptrdiff_t>((i + 1) * 64)),
                        {1, 1, 8, 8}};
    const tessera_cnn_tensor in = feed("input", one);
    REQUIRE(tessera_cnn_run(embedded, &in, 1) == 0);
    REQUIRE(tessera_cnn_run(loaded, &in, 1) == 0);
    const tessera_cnn_tensor a = tessera_cnn_outputs(embedded)[0], b = tessera_cnn_outputs(loaded)[0];
    REQUIRE(numel(a) == 10);
    REQUIRE(numel(b) == 10);
    CHECK(std::memcmp(floats(a), floats(b), 10 * sizeof(float)) == 0);
  }

  // Its errors are the loaded model's.
  const f32_array bad_shape{std::vector<float>(49, 0.5f), {1, 1, 7, 7}};
  const tessera_cnn_tensor wrong_shape = feed("input", bad_shape);
  CHECK(tessera_cnn_run(embedded, &wrong_shape, 1) == static_cast<std::int32_t>(tessera::errc::shape_mismatch));
  CHECK(std::string(tessera_error_message()).find("dim 2 must be 8") != std::string::npos);
  tessera_cnn_free(loaded);
  tessera_cnn_free(embedded);
}

TEST_CASE("cnn abi: tensors of other element types cross with their type") {
  using tessera::nn::elem_type;
  // tests/onnx/fixtures/typed_io.onnx (scripts/make_onnx_fixtures.py): float32, int64 and uint8
  // in; float32, int64, bool, float16 and float64 out.
  cnn_model* m = load_model(std::string(TESSERA_SOURCE_DIR) + "/tests/onnx/fixtures/typed_io.onnx");
  const auto info = nlohmann::json::parse(tessera_cnn_info(m));
  CHECK(info["inputs"][1]["type"] == "int64");
  CHECK(info["outputs"][2]["type"] == "bool");
  const std::vector<float> x = {0.5f, -2.0f, 7.25f, 3.0f, -0.0f, -1.0f, -3.0f, -0.5f, -4.0f, 2.0f};
  const std::vector<std::int64_t> idx = {4, 0, 2};
  const std::vector<std::uint8_t> pixels = {0, 1, 2, 3, 255, 10, 20, 30, 40, 50};
  const std::vector<std::uint32_t> xy = {2, 5}, three = {3};
  auto typed = [](const char* name, const void* data, const std::vector<std::uint32_t>& dims, elem_type t) {
    return tessera_cnn_tensor{name, static_cast<std::uint32_t>(std::strlen(name)), data, dims.data(),
                              static_cast<std::uint32_t>(dims.size()), static_cast<std::uint32_t>(t)};
  };
  const tessera_cnn_tensor feeds[] = {typed("x", x.data(), xy, elem_type::f32), typed("idx", idx.data(), three, elem_type::i64),
                                      typed("pixels", pixels.data(), xy, elem_type::u8)};
  const std::int32_t rc = tessera_cnn_run(m, feeds, 3);
  INFO(tessera_error_message());
  REQUIRE(rc == 0);
  REQUIRE(tessera_cnn_output_count(m) == 6);
  const tessera_cnn_tensor* out = tessera_cnn_outputs(m);
  auto check_type = [&](int i, elem_type t, std::vector<std::uint32_t> dims) {
    CHECK(out[i].type == static_cast<std::uint32_t>(t));
    CHECK(std::vector<std::uint32_t>(out[i].dims, out[i].dims + out[i].rank) == dims);
    CHECK(reinterpret_cast<std::uintptr_t>(out[i].data) % tessera::nn::elem_size(t) == 0);
  };
  check_type(0, elem_type::f32, {2, 3});
  check_type(1, elem_type::i64, {2});
  check_type(2, elem_type::boolean, {2, 5});
  check_type(3, elem_type::f32, {2, 5});
  check_type(4, elem_type::f16, {2, 5});
  check_type(5, elem_type::f64, {2, 5});
  const auto* gathered = static_cast<const float*>(out[0].data);
  const auto* best = static_cast<const std::int64_t*>(out[1].data);
  const auto* positive = static_cast<const std::uint8_t*>(out[2].data);
  const auto* shifted = static_cast<const float*>(out[3].data);
  const auto* halves = static_cast<const std::uint16_t*>(out[4].data);
  const auto* wide = static_cast<const double*>(out[5].data);
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 3; ++k) CHECK(gathered[r * 3 + k] == x[static_cast<std::size_t>(r * 5 + idx[static_cast<std::size_t>(k)])]);
  CHECK(best[0] == 2);
  CHECK(best[1] == 4);
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(positive[i] == (x[i] > 0 ? 1 : 0));
    CHECK(shifted[i] == static_cast<float>(pixels[i]) + x[i]);
    CHECK(wide[i] == static_cast<double>(x[i]));
  }
  CHECK(halves[0] == 0x3800);  // 0.5 in binary16
  CHECK(halves[2] == 0x4740);  // 7.25
  CHECK(halves[4] == 0x8000);  // -0

  // A feed of the wrong type, an unknown type code and misaligned values are errors.
  const std::vector<std::int32_t> idx32 = {4, 0, 2};
  const tessera_cnn_tensor wrong_type[] = {feeds[0], typed("idx", idx32.data(), three, elem_type::i32), feeds[2]};
  CHECK(tessera_cnn_run(m, wrong_type, 3) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  CHECK(std::string(tessera_error_message()).find("input 'idx' is int32, the model expects int64") != std::string::npos);
  tessera_cnn_tensor unknown[] = {feeds[0], feeds[1], feeds[2]};
  unknown[2].type = 13;
  CHECK(tessera_cnn_run(m, unknown, 3) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  CHECK(std::string(tessera_error_message()).find("element type code 13") != std::string::npos);
  std::vector<std::int64_t> shifted_idx(4);
  const tessera_cnn_tensor misaligned[] = {feeds[0], typed("idx", reinterpret_cast<const char*>(shifted_idx.data()) + 4, three, elem_type::i64), feeds[2]};
  CHECK(tessera_cnn_run(m, misaligned, 3) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  CHECK(std::string(tessera_error_message()).find("not aligned") != std::string::npos);

  tessera_cnn_free(m);

  // detect() decodes float32 outputs only: an image model answering int64 is refused by name.
  tessera::test::onnx_model_builder b;
  b.input("images", {1, 3, 8, 8}).node("ArgMax", {"images"}, {"labels"}, {tessera::test::attr_int("axis", 1)}).output("labels", {1, 1, 8, 8}, 7);
  cnn_model* labels = load_bytes(b.bytes());
  REQUIRE(labels != nullptr);
  const std::vector<std::uint8_t> photo = synthetic_photo(16, 16);
  const tessera_cnn_detect_params p = yolov8_params(0.25f);
  CHECK(tessera_cnn_detect(labels, photo.data(), 16, 16, &p, "", 0, nullptr, 0) == static_cast<std::int32_t>(tessera::errc::unsupported));
  CHECK(std::string(tessera_error_message()).find("output 'labels' is int64") != std::string::npos);
  tessera_cnn_free(labels);
}

TEST_CASE("cnn abi: detect() on RGBA pixels answers tessera-detect's JSON") {
  cnn_model* m = load_model(kTiny + "model.onnx");
  const auto info = nlohmann::json::parse(tessera_cnn_info(m));
  CHECK(info["classNames"] == nlohmann::json::parse(R"(["class0", "class1", "class2"])"));
  CHECK(info["inputs"][0]["dims"] == nlohmann::json::parse("[1, 3, 64, 64]"));
  CHECK(info["metadata"]["stride"] == "32");
  const std::vector<std::uint8_t> photo = synthetic_photo(kPhotoWidth, kPhotoHeight);
  for (const float conf : {0.45f, 0.5f}) {
    CAPTURE(conf);
    const tessera_cnn_detect_params p = yolov8_params(conf);
    REQUIRE(tessera_cnn_detect(m, photo.data(), kPhotoWidth, kPhotoHeight, &p, "synthetic", 9, nullptr, 0) == 0);
    const std::string got = tessera_cnn_result(m);
    CHECK(got == native_detections(photo, conf));
    if (conf == 0.45f) {
      // The answer the JS tests compare with, and some detections in it.
      const std::vector<std::uint8_t> ref = file_bytes(kTiny + "synthetic_detections.json");
      CHECK(nlohmann::json::parse(got) == nlohmann::json::parse(ref.begin(), ref.end()));
      CHECK(!nlohmann::json::parse(got)["detections"].empty());
    }
  }
  // Stretched, (x - 127) / 128 in BGR order: the same options natively.
  tessera_cnn_detect_params stretched = yolov8_params(0.45f);
  stretched.flags = tessera_cnn_flag_stretch | tessera_cnn_flag_bgr;
  stretched.normalize = tessera_cnn_normalize_uniform;
  stretched.mean = 127;
  stretched.stddev = 128;
  REQUIRE(tessera_cnn_detect(m, photo.data(), kPhotoWidth, kPhotoHeight, &stretched, "synthetic", 9, nullptr, 0) == 0);
  tessera::vision::normalization bgr = tessera::vision::normalization::uniform(127, 128);
  bgr.bgr = true;
  const std::string stretched_native = native_detections(photo, 0.45f, tessera::vision::fit_mode::stretch, bgr);
  CHECK(std::string(tessera_cnn_result(m)) == stretched_native);
  CHECK(stretched_native != native_detections(photo, 0.45f));
  stretched.stddev = 0;
  CHECK(tessera_cnn_detect(m, photo.data(), kPhotoWidth, kPhotoHeight, &stretched, "", 0, nullptr, 0) ==
        static_cast<std::int32_t>(tessera::errc::invalid_argument));

  // Class names given replace the model's; the raw output is there too.
  const tessera_cnn_detect_params p = yolov8_params(0.45f);
  const std::vector<std::string> names = {"cat", "dog", "bird"};
  const std::string lines = "cat\ndog\nbird\n";
  REQUIRE(tessera_cnn_detect(m, photo.data(), kPhotoWidth, kPhotoHeight, &p, "", 0, lines.data(), static_cast<std::uint32_t>(lines.size())) == 0);
  const auto answer = nlohmann::json::parse(tessera_cnn_result(m));
  CHECK(!answer["detections"].empty());
  for (const auto& d : answer["detections"]) CHECK(d["class_name"] == names.at(d["class_id"].get<std::size_t>()));
  REQUIRE(tessera_cnn_output_count(m) == 1);
  CHECK(numel(tessera_cnn_outputs(m)[0]) == 7 * 84);
  tessera_cnn_free(m);
}

TEST_CASE("cnn abi: bad input is an error with tessera's message, never a crash") {
  // Not an ONNX file, and a truncated one.
  const std::vector<std::uint8_t> junk = {'n', 'o', 't', ' ', 'o', 'n', 'n', 'x', 0xff, 0x01};
  CHECK(load_bytes(junk) == nullptr);
  CHECK(tessera_error_code() != 0);
  CHECK(std::string(tessera_error_message()).size() > 0);
  std::vector<std::uint8_t> cut = file_bytes(kDigits + ".onnx");
  cut.resize(cut.size() / 2);
  CHECK(load_bytes(cut) == nullptr);
  CHECK(std::string(tessera_error_message()).size() > 0);
  CHECK(tessera_cnn_load(nullptr) == nullptr);

  cnn_model* m = load_model(kDigits + ".onnx");
  f32_array x{std::vector<float>(64, 0.5f), {1, 1, 8, 8}};
  const tessera_cnn_tensor wrong_name = feed("pixels", x);
  CHECK(tessera_cnn_run(m, &wrong_name, 1) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  CHECK(std::string(tessera_error_message()).find("no input named 'pixels'") != std::string::npos);
  CHECK(tessera_cnn_output_count(m) == 0);
  f32_array bad_shape{std::vector<float>(49, 0.5f), {1, 1, 7, 7}};
  const tessera_cnn_tensor wrong_shape = feed("input", bad_shape);
  CHECK(tessera_cnn_run(m, &wrong_shape, 1) == static_cast<std::int32_t>(tessera::errc::shape_mismatch));
  CHECK(std::string(tessera_error_message()).find("dim 2 must be 8") != std::string::npos);
  CHECK(tessera_cnn_run(m, nullptr, 0) == static_cast<std::int32_t>(tessera::errc::invalid_argument));  // input missing

  // NaN in, NaN out: the run itself succeeds.
  x.values[10] = std::nanf("");
  const tessera_cnn_tensor nan_in = feed("input", x);
  REQUIRE(tessera_cnn_run(m, &nan_in, 1) == 0);
  bool any_nan = false;
  const tessera_cnn_tensor out = tessera_cnn_outputs(m)[0];
  for (std::size_t i = 0; i < numel(out); ++i) any_nan = any_nan || std::isnan(floats(out)[i]);
  CHECK(any_nan);

  // detect() on a classifier: its [1, 10] output is no YOLO output.
  const std::vector<std::uint8_t> photo = synthetic_photo(16, 16);
  tessera_cnn_detect_params p = yolov8_params(0.25f);
  CHECK(tessera_cnn_detect(m, photo.data(), 16, 16, &p, "", 0, nullptr, 0) != 0);
  CHECK(std::string(tessera_error_message()).size() > 0);
  tessera_cnn_free(m);

  cnn_model* tiny = load_model(kTiny + "model.onnx");
  p.iou_threshold = 2;
  CHECK(tessera_cnn_detect(tiny, photo.data(), 16, 16, &p, "", 0, nullptr, 0) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  p = yolov8_params(0.25f);
  p.format = 7;
  CHECK(tessera_cnn_detect(tiny, photo.data(), 16, 16, &p, "", 0, nullptr, 0) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  p = yolov8_params(0.25f);
  CHECK(tessera_cnn_detect(tiny, photo.data(), 0, 16, &p, "", 0, nullptr, 0) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  CHECK(tessera_cnn_detect(tiny, photo.data(), 1 << 20, 16, &p, "", 0, nullptr, 0) == static_cast<std::int32_t>(tessera::errc::invalid_argument));
  p.width = 1 << 20;
  p.height = 64;
  CHECK(tessera_cnn_detect(tiny, photo.data(), 16, 16, &p, "", 0, nullptr, 0) != 0);
  // The model still answers after the errors.
  p = yolov8_params(0.25f);
  CHECK(tessera_cnn_detect(tiny, photo.data(), 16, 16, &p, "", 0, nullptr, 0) == 0);
  tessera_cnn_free(tiny);
  tessera_cnn_free(nullptr);
}
