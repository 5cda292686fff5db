// The CNN family's C ABI over a model the module already has (on top of wasm/abi.hpp): run it
// by tessera's ONNX session, and object detection on RGBA pixels with the vision/ chain
// tessera-detect runs (fit to the input, decode, class-aware NMS, back to photo pixels), so the
// JS package answers with the JSON line the CLI prints. Where the model comes from is the
// including module's: wasm/cnn_abi.hpp loads one from streamed bytes (the package's generic
// module, with the protobuf parser and every op), TESSERA_WASM_CNN_EMBED below uses one
// compiled into the module by `tessera-onnx compile` (only the ops it uses, no parser).
//
//   tessera_cnn_embedded()                      -> model (only in modules that embed one)
//   tessera_cnn_info(model)                     -> JSON: inputs, outputs, operators, parameters
//   tessera_cnn_run(model, feeds, n_feeds)      -> status; the outputs stay in the model until
//       the next call: tessera_cnn_output_count(model), tessera_cnn_outputs(model)
//   tessera_cnn_detect(model, rgba, width, height, params, image_name, len, names, len)
//       -> status; tessera_cnn_result(model): the detections' JSON
//   tessera_cnn_free(model)
//
// Tensors cross with their element type (nn::elem_type's numbering: float32 0 ... bool 12; the
// JS API maps typed arrays to it): a model's int64 ids, uint8 pixels or bool masks go in as
// they are, and its int64 indices or float16 maps come out as they are.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/onnx/session.hpp"
#include "tessera/vision/class_names.hpp"
#include "tessera/vision/detect.hpp"
#include "tessera/vision/detections_json.hpp"
#include "tessera/vision/preprocess.hpp"
#include "tessera/wasm/abi.hpp"

// A tensor crossing the boundary: the feeds JS writes (a DataView at these offsets,
// little-endian; see js/src/cnn/backend.js) and the outputs it reads.
struct tessera_cnn_tensor {
  const char* name;            //  0: UTF-8, name_bytes long (outputs: NUL-terminated too)
  std::uint32_t name_bytes;    //  4
  const void* data;            //  8: the product of dims values, row-major, aligned to their size
  const std::uint32_t* dims;   // 12
  std::uint32_t rank;          // 16
  std::uint32_t type;          // 20: a tessera::nn::elem_type
};
static_assert(sizeof(void*) != 4 || sizeof(tessera_cnn_tensor) == 24, "the layout JS reads and writes");
// JS names the types in this order (js/src/cnn/backend.js, TYPES).
static_assert(static_cast<int>(tessera::nn::elem_type::f32) == 0 && static_cast<int>(tessera::nn::elem_type::i64) == 10 &&
                  static_cast<int>(tessera::nn::elem_type::boolean) == 12 && tessera::nn::elem_type_count == 13,
              "the element type codes JS writes");

inline constexpr std::int32_t tessera_cnn_format_yolov8 = 0;
inline constexpr std::int32_t tessera_cnn_format_yolov5 = 1;
inline constexpr std::int32_t tessera_cnn_format_boxes_scores = 2;

inline constexpr std::int32_t tessera_cnn_normalize_unit = 0;      // x / 255 (YOLO)
inline constexpr std::int32_t tessera_cnn_normalize_imagenet = 1;  // torchvision's statistics
inline constexpr std::int32_t tessera_cnn_normalize_uniform = 2;   // (x - mean) / std

inline constexpr std::uint32_t tessera_cnn_flag_stretch = 1;       // resize without keeping the aspect ratio
inline constexpr std::uint32_t tessera_cnn_flag_bgr = 2;           // the model wants BGR planes
inline constexpr std::uint32_t tessera_cnn_flag_agnostic = 4;      // NMS across classes
inline constexpr std::uint32_t tessera_cnn_flag_multi_label = 8;   // every class over the threshold
inline constexpr std::uint32_t tessera_cnn_flag_box_pixels = 16;   // boxes-scores: boxes in input pixels
inline constexpr std::uint32_t tessera_cnn_flag_background = 32;   // boxes-scores: class 0 is "no object"

// tessera-detect's options, as JS writes them into the heap (offsets as commented).
struct tessera_cnn_detect_params {
  std::int32_t format;          //  0: tessera_cnn_format_*
  std::int32_t normalize;       //  4: tessera_cnn_normalize_*
  float mean;                   //  8: tessera_cnn_normalize_uniform
  float stddev;                 // 12
  std::int32_t width;           // 16: the model input's size; 0: its static size, else 640x640
  std::int32_t height;          // 20
  float confidence_threshold;   // 24
  float iou_threshold;          // 28
  std::int32_t max_detections;  // 32
  std::uint32_t flags;          // 36: tessera_cnn_flag_*
};
static_assert(sizeof(tessera_cnn_detect_params) == 40, "the layout JS writes");

namespace tessera::wasm {

// Bounds for untrusted files (see tests/fuzz/onnx_graph_fuzz.cpp): the constants a model
// creates and the workspace a plan asks for stay well inside a 32-bit heap, so a small file
// cannot make the module allocate gigabytes.
inline constexpr std::uint64_t cnn_max_constant_bytes = std::uint64_t{1} << 30;
inline constexpr std::uint64_t cnn_max_plan_bytes = std::uint64_t{1} << 30;
// tessera-detect's input size for a model whose input size is not static.
inline constexpr int cnn_default_input_side = 640;

struct cnn_model {
  std::shared_ptr<const onnx::model> model;
  std::unique_ptr<onnx::session> session;
  std::string info;    // tessera_cnn_info's JSON
  std::string result;  // the last detections' JSON
  // The last run's outputs: views of the session's workspace, and their dims.
  std::vector<tessera_cnn_tensor> outputs;
  std::vector<std::vector<std::uint32_t>> output_dims;
};

// A graph input's or output's dims for JSON: a number when static, the dim's name when it has
// one, else null.
inline void append_io_json(std::string& out, const onnx::io_info& io, bool required) {
  out += "{\"name\":";
  append_json_string(out, io.name);
  out += ",\"type\":";
  append_json_string(out, nn::elem_name(io.type));
  out += ",\"dims\":";
  if (!io.has_shape) {
    out += "null";
  } else {
    out += '[';
    for (std::size_t i = 0; i < io.dims.size(); ++i) {
      if (i) out += ',';
      if (io.dims[i] >= 0) out += std::to_string(io.dims[i]);
      else if (i < io.dim_names.size() && !io.dim_names[i].empty()) append_json_string(out, io.dim_names[i]);
      else out += "null";
    }
    out += ']';
  }
  if (required) out += ",\"required\":true";
  out += '}';
}

inline void build_cnn_info(cnn_model& m) {
  const onnx::model& model = *m.model;
  const std::vector<std::size_t> required = model.required_inputs();
  std::string& out = m.info;
  out = "{\"producer\":";
  append_json_string(out, model.producer());
  out += ",\"parameters\":" + std::to_string(model.parameters());
  out += ",\"inputs\":[";
  for (std::size_t k = 0; k < model.inputs().size(); ++k) {
    if (k) out += ',';
    append_io_json(out, model.inputs()[k], std::find(required.begin(), required.end(), k) != required.end());
  }
  out += "],\"outputs\":[";
  for (std::size_t k = 0; k < model.outputs().size(); ++k) {
    if (k) out += ',';
    append_io_json(out, model.outputs()[k], false);
  }
  std::vector<std::string> ops;
  for (const onnx::graph_node& n : model.graph().nodes) ops.push_back(n.op_type);
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  out += "],\"operators\":";
  append_json_strings(out, ops);
  out += ",\"metadata\":{";
  for (std::size_t i = 0; i < model.metadata().size(); ++i) {
    if (i) out += ',';
    append_json_string(out, model.metadata()[i].first);
    out += ':';
    append_json_string(out, model.metadata()[i].second);
  }
  // The class names detect() reports by default: the exporter's (Ultralytics' "names").
  std::vector<std::string> names;
  if (const std::string* text = model.metadata_value("names")) {
    auto parsed = vision::parse_class_names(*text);
    if (parsed.ok()) names = std::move(parsed).value();
  }
  out += "},\"classNames\":";
  append_json_strings(out, names);
  out += '}';
}

// The load options of every CNN model of a module: the bounds above.
inline onnx::load_options cnn_load_options() {
  onnx::load_options lo;
  lo.max_constant_bytes = cnn_max_constant_bytes;
  lo.max_plan_bytes = cnn_max_plan_bytes;
  return lo;
}

// A loaded or compiled-in model with its session (on the module's pool) and its info JSON.
inline status make_cnn_model(std::shared_ptr<const onnx::model> model, std::unique_ptr<cnn_model>& out) {
  auto m = std::make_unique<cnn_model>();
  m->model = std::move(model);
  onnx::session_options so;
  so.pool = &module_pool();  // tessera_set_threads resizes it in place
  so.plan.max_bytes = cnn_max_plan_bytes;
  TESSERA_ASSIGN_OR_RETURN(onnx::session s, onnx::session::create(m->model, so));
  m->session = std::make_unique<onnx::session>(std::move(s));
  build_cnn_info(*m);
  out = std::move(m);
  return {};
}

// Points m.outputs at the session's outputs of the last run.
inline status collect_outputs(cnn_model& m) {
  const onnx::session& s = *m.session;
  m.outputs.clear();
  m.output_dims.clear();
  for (std::size_t i = 0; i < s.outputs().size(); ++i) {
    const nn::any_view y = s.output(i);
    const std::string& name = s.outputs()[i].name;
    std::vector<std::uint32_t> dims;
    for (int d = 0; d < y.rank(); ++d) dims.push_back(static_cast<std::uint32_t>(y.shape[d]));
    m.output_dims.push_back(std::move(dims));
    m.outputs.push_back({name.c_str(), static_cast<std::uint32_t>(name.size()), y.data, nullptr,
                         static_cast<std::uint32_t>(y.rank()), static_cast<std::uint32_t>(y.type)});
  }
  for (std::size_t i = 0; i < m.outputs.size(); ++i) m.outputs[i].dims = m.output_dims[i].data();
  return {};
}

inline status run_cnn(cnn_model& m, std::span<const tessera_cnn_tensor> feeds) {
  m.outputs.clear();
  m.output_dims.clear();
  std::vector<onnx::named_input> inputs;
  for (const tessera_cnn_tensor& f : feeds) {
    if ((f.name == nullptr && f.name_bytes != 0) || (f.dims == nullptr && f.rank != 0))
      return make_error(errc::invalid_argument, "run: a feed without its name or dims");
    const std::string_view name(f.name == nullptr ? "" : f.name, f.name_bytes);
    if (f.type >= static_cast<std::uint32_t>(nn::elem_type_count))
      return make_error(errc::invalid_argument, "run: input '" + std::string(name) + "' has element type code " + std::to_string(f.type));
    const auto type = static_cast<nn::elem_type>(f.type);
    if (reinterpret_cast<std::uintptr_t>(f.data) % nn::elem_size(type) != 0)
      return make_error(errc::invalid_argument, "run: the values of input '" + std::string(name) + "' are not aligned to their size");
    shape_t shape;
    for (std::uint32_t d = 0; d < f.rank; ++d)
      if (!shape.push_back(static_cast<index_t>(f.dims[d])))
        return make_error(errc::invalid_argument, "run: input '" + std::string(name) + "' has rank " + std::to_string(f.rank) +
                                                      ", more than tessera's " + std::to_string(TESSERA_MAX_RANK));
    inputs.push_back({name, nn::any_view(const_cast<void*>(f.data), type, shape)});
  }
  TESSERA_TRY(m.session->run(std::span<const onnx::named_input>(inputs)));
  return collect_outputs(m);
}

inline expected<vision::normalization> normalization_of(const tessera_cnn_detect_params& p) {
  vision::normalization n;
  if (p.normalize == tessera_cnn_normalize_unit) n = vision::normalization::unit_range();
  else if (p.normalize == tessera_cnn_normalize_imagenet) n = vision::normalization::imagenet();
  else if (p.normalize == tessera_cnn_normalize_uniform && p.stddev != 0 && p.stddev == p.stddev && p.mean == p.mean)
    n = vision::normalization::uniform(p.mean, p.stddev);
  else return make_error(errc::invalid_argument, "detect: normalize is unit, imagenet, or a mean and a non-zero std");
  n.bgr = (p.flags & tessera_cnn_flag_bgr) != 0;
  return n;
}

// tessera-detect's run of one photo, from RGBA pixels: the model's one input to feed gets the
// fitted photo, its float32 outputs are decoded as `p.format` says.
inline status detect_cnn(cnn_model& m, const std::uint8_t* rgba, std::int32_t width, std::int32_t height,
                         const tessera_cnn_detect_params& p, std::string_view image_name, std::string_view names_text) {
  m.result.clear();
  const onnx::model& model = *m.model;
  const std::vector<std::size_t> fed = model.required_inputs();
  if (fed.size() != 1)
    return make_error(errc::unsupported, "detect: the model has " + std::to_string(fed.size()) + " inputs to feed; detect feeds one image");
  const onnx::io_info& in = model.inputs()[fed[0]];
  if (in.type != nn::elem_type::f32) return make_error(errc::unsupported, "detect: input '" + in.name + "' is not float32");
  if (p.format < tessera_cnn_format_yolov8 || p.format > tessera_cnn_format_boxes_scores)
    return make_error(errc::invalid_argument, "detect: format is yolov8, yolov5 or boxes-scores");
  const auto format = static_cast<vision::output_format>(p.format);
  int w = p.width, h = p.height;
  if (w <= 0 || h <= 0) {
    const bool fixed = in.has_shape && in.dims.size() == 4 && in.dims[2] > 0 && in.dims[3] > 0 &&
                       in.dims[2] <= vision::max_image_side && in.dims[3] <= vision::max_image_side;
    w = fixed ? static_cast<int>(in.dims[3]) : cnn_default_input_side;
    h = fixed ? static_cast<int>(in.dims[2]) : cnn_default_input_side;
  } else if (w > vision::max_image_side || h > vision::max_image_side) {
    return make_error(errc::invalid_argument, "detect: input size out of range");
  }
  std::vector<std::string> names;
  if (!names_text.empty()) {
    TESSERA_ASSIGN_OR_RETURN(names, vision::parse_class_names(names_text));
  } else if (const std::string* text = model.metadata_value("names")) {
    auto parsed = vision::parse_class_names(*text);
    if (!parsed) return make_error(parsed.err().code, "the model's names metadata: " + parsed.err().message);
    names = std::move(parsed).value();
  }
  vision::detect_options o;
  o.confidence_threshold = p.confidence_threshold;
  o.iou_threshold = p.iou_threshold;
  o.max_detections = p.max_detections;
  o.class_agnostic = (p.flags & tessera_cnn_flag_agnostic) != 0;
  o.multi_label = (p.flags & tessera_cnn_flag_multi_label) != 0;
  o.background_class = (p.flags & tessera_cnn_flag_background) != 0;
  o.units = (p.flags & tessera_cnn_flag_box_pixels) != 0 ? vision::box_units::pixels : vision::box_units::fractions;
  TESSERA_ASSIGN_OR_RETURN(const vision::normalization norm, normalization_of(p));
  // An empty photo has no aspect ratio to fit; too large a one is check_image_size's.
  if (width < 1 || height < 1) return make_error(errc::invalid_argument, "detect: the photo is empty");
  if (rgba == nullptr) return make_error(errc::invalid_argument, "detect: no pixels");
  const vision::image_view photo{rgba, width, height, 4, static_cast<std::ptrdiff_t>(width) * 4};
  const auto fit = (p.flags & tessera_cnn_flag_stretch) != 0 ? vision::fit_mode::stretch : vision::fit_mode::letterbox;
  TESSERA_ASSIGN_OR_RETURN(const vision::model_input input, vision::prepare_input(photo, w, h, fit, norm));
  TESSERA_TRY(m.session->run({onnx::named_input{in.name, nn::any_view(input.tensor.view())}}));
  TESSERA_TRY(collect_outputs(m));
  std::vector<TensorView<const float>> views;
  for (std::size_t i = 0; i < m.outputs.size(); ++i) {
    const nn::any_view y = m.session->output(i);
    if (y.type != nn::elem_type::f32)
      return make_error(errc::unsupported, "detect: output '" + m.session->outputs()[i].name + "' is " + nn::elem_name(y.type) +
                                               "; the decoders read float32");
    views.push_back(TensorView<const float>(y.ptr<const float>(), y.shape));
  }
  if (format == vision::output_format::boxes_scores) vision::boxes_before_scores(views);
  TESSERA_ASSIGN_OR_RETURN(const std::vector<vision::detection> found, vision::detect(format, views, input.transform, o));
  m.result = vision::detections_to_json(image_name, found, names);
  return {};
}

}  // namespace tessera::wasm

TESSERA_WASM_EXPORT const char* tessera_cnn_info(const tessera::wasm::cnn_model* m) { return m == nullptr ? "" : m->info.c_str(); }

// feeds: n_feeds inputs by name (every input the model requires). The outputs (views of the
// model's workspace) are valid until the next run or detect on this model.
TESSERA_WASM_EXPORT std::int32_t tessera_cnn_run(tessera::wasm::cnn_model* m, const tessera_cnn_tensor* feeds, std::uint32_t n_feeds) {
  return tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "run: no model");
    if (feeds == nullptr && n_feeds != 0) return tessera::make_error(tessera::errc::invalid_argument, "run: null feeds");
    return tessera::wasm::run_cnn(*m, std::span<const tessera_cnn_tensor>(feeds, n_feeds));
  });
}

TESSERA_WASM_EXPORT std::uint32_t tessera_cnn_output_count(const tessera::wasm::cnn_model* m) {
  return m == nullptr ? 0u : static_cast<std::uint32_t>(m->outputs.size());
}
TESSERA_WASM_EXPORT const tessera_cnn_tensor* tessera_cnn_outputs(const tessera::wasm::cnn_model* m) {
  return m == nullptr ? nullptr : m->outputs.data();
}

// rgba: width x height pixels, 4 bytes each, rows back to back (ImageData's layout). names:
// class names, one per line or an Ultralytics names dict (empty: the model's metadata).
// The answer, tessera-detect's JSON line for the photo `image_name`: tessera_cnn_result.
TESSERA_WASM_EXPORT std::int32_t tessera_cnn_detect(tessera::wasm::cnn_model* m, const std::uint8_t* rgba, std::int32_t width,
                                                    std::int32_t height, const tessera_cnn_detect_params* params,
                                                    const char* image_name, std::uint32_t image_name_bytes, const char* names,
                                                    std::uint32_t names_bytes) {
  return tessera::wasm::guarded([&]() -> tessera::status {
    if (m == nullptr || params == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "detect: no model or options");
    return tessera::wasm::detect_cnn(*m, rgba, width, height, *params,
                                     std::string_view(image_name == nullptr ? "" : image_name, image_name_bytes),
                                     std::string_view(names == nullptr ? "" : names, names_bytes));
  });
}

TESSERA_WASM_EXPORT const char* tessera_cnn_result(const tessera::wasm::cnn_model* m) { return m == nullptr ? "" : m->result.c_str(); }

TESSERA_WASM_EXPORT void tessera_cnn_free(tessera::wasm::cnn_model* m) { delete m; }

// Defines tessera_cnn_embedded() over the model of a header written by
// `tessera-onnx compile --name NAME` (include that header first): the model and its session,
// or null with the error slot set. Use it in one .cpp of a module; cmake/tessera_wasm.cmake's
// tessera_add_wasm_module(... ONNX_HEADER ...) does.
#define TESSERA_WASM_CNN_EMBED(NAME)                                                              \
  TESSERA_WASM_EXPORT tessera::wasm::cnn_model* tessera_cnn_embedded() {                          \
    std::unique_ptr<tessera::wasm::cnn_model> model;                                              \
    const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {                     \
      TESSERA_ASSIGN_OR_RETURN(auto loaded, NAME##_load(tessera::wasm::cnn_load_options()));     \
      return tessera::wasm::make_cnn_model(std::move(loaded), model);                             \
    });                                                                                           \
    return rc == 0 ? model.release() : nullptr;                                                   \
  }
