// tessera-detect: object (and face) detection on photos from the command line, natively or
// under Node.
//
//   tessera-detect --model M.onnx [options] PHOTO...          run the model (tessera's ONNX runtime)
//   tessera-detect --outputs A.npy[,B.npy] [options] PHOTO    post-process raw outputs that
//                                                             another runner produced
//   tessera-detect --dump-input X.npy [options] PHOTO         write the model input and stop
//
// Options:
//   --format yolov8|yolov5|boxes-scores|ultraface   output layout (default yolov8); ultraface is
//                      boxes-scores with the face detector's settings (320x240 stretch,
//                      (x-127)/128, class 0 background, > 0.7, NMS 0.3, the 200 best)
//   --size WxH         model input (default: the model's static input size, else 640x640)
//   --fit letterbox|stretch          (default: letterbox; stretch for ultraface)
//   --normalize unit|imagenet|ultraface|M/S   pixel normalization (default unit: x/255)
//   --bgr              the model wants BGR planes
//   --conf T --iou T --max-det N --agnostic --multi-label
//   --boxes fractions|pixels  --background          (boxes-scores)
//   --names FILE       class names: one per line, or an Ultralytics names dict (default: the
//                      model's "names" metadata, as Ultralytics' export writes it)
//   --threads N        threads running the model (default: one per hardware thread)
//   --json FILE        write the JSON lines there instead of stdout
//   --draw OUT.png     draw the detections on the (first) photo
// Output: one JSON object per photo and line,
//   {"image": "photo.jpg", "detections": [{"class_id": 0, "class_name": "person",
//    "confidence": 0.87, "bbox_xywh": [233.0, 328.5, 242.0, 567.0]}]}
#include <tessera/onnx.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/vision/class_names.hpp>
#include <tessera/vision/detect.hpp>
#include <tessera/vision/detections_json.hpp>
#include <tessera/vision/draw.hpp>
#include <tessera/vision/image_io.hpp>
#include <tessera/vision/preprocess.hpp>
#include <tessera/vision/ultraface.hpp>
// This program's one translation unit compiles stb (see the header).
#include <tessera/vision/stb_implementation.hpp>

#include "../common/cli_main.hpp"
#include "npy.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tessera;
using namespace tessera::vision;
using namespace tessera_detect;

struct options {
  std::string model, outputs, dump_input, names_file, json_file, draw_file;
  std::vector<std::string> photos;
  output_format format = output_format::yolov8;
  bool ultraface = false;
  int width = 640, height = 640;
  int threads = 0;  // 0: one per hardware thread
  fit_mode fit = fit_mode::letterbox;
  bool fit_given = false, normalize_given = false, size_given = false;
  normalization norm = normalization::unit_range();
  detect_options detect;
};

int usage() {
  std::fprintf(stderr,
               "usage: tessera-detect (--model M.onnx | --outputs A.npy[,B.npy] | --dump-input X.npy) [options] PHOTO...\n"
               "  --format yolov8|yolov5|boxes-scores|ultraface  --size WxH  --fit letterbox|stretch\n"
               "  --normalize unit|imagenet|ultraface|MEAN/STD  --bgr  --conf T  --iou T  --max-det N\n"
               "  --agnostic  --multi-label  --boxes fractions|pixels  --background  --names FILE\n"
               "  --json FILE  --draw OUT.png  --threads N\n");
  return 2;
}

bool parse_float(const std::string& s, float& out) {
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v == v)) return false;
  out = v;
  return true;
}

bool parse_int(const std::string& s, int& out, int lo, int hi) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > hi) return false;
  out = static_cast<int>(v);
  return true;
}

status parse_args(int argc, char** argv, options& o) {
  auto bad = [](const std::string& m) { return make_error(errc::invalid_argument, m); };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      o.photos.push_back(a);
      continue;
    }
    if (a == "--bgr") { o.norm.bgr = true; continue; }
    if (a == "--agnostic") { o.detect.class_agnostic = true; continue; }
    if (a == "--multi-label") { o.detect.multi_label = true; continue; }
    if (a == "--background") { o.detect.background_class = true; continue; }
    if (i + 1 >= argc) return bad(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--model") o.model = v;
    else if (a == "--outputs") o.outputs = v;
    else if (a == "--dump-input") o.dump_input = v;
    else if (a == "--names") o.names_file = v;
    else if (a == "--json") o.json_file = v;
    else if (a == "--draw") o.draw_file = v;
    else if (a == "--format") {
      if (v == "yolov8") o.format = output_format::yolov8;
      else if (v == "yolov5") o.format = output_format::yolov5;
      else if (v == "boxes-scores") o.format = output_format::boxes_scores;
      else if (v == "ultraface") {
        const bool bgr = o.norm.bgr;
        o.format = output_format::boxes_scores;
        o.ultraface = true;
        o.width = ultraface::input_width, o.height = ultraface::input_height;
        o.detect = ultraface::default_options();
        if (!o.fit_given) o.fit = fit_mode::stretch;
        if (!o.normalize_given) o.norm = ultraface::input_normalization(), o.norm.bgr = bgr;
      } else return bad("unknown --format '" + v + "'");
    } else if (a == "--size") {
      const auto x = v.find('x');
      if (x == std::string::npos || !parse_int(v.substr(0, x), o.width, 1, max_image_side) ||
          !parse_int(v.substr(x + 1), o.height, 1, max_image_side))
        return bad("--size wants WxH, e.g. 640x640");
      o.size_given = true;
    } else if (a == "--fit") {
      if (v != "letterbox" && v != "stretch") return bad("--fit is letterbox or stretch");
      o.fit = v == "letterbox" ? fit_mode::letterbox : fit_mode::stretch;
      o.fit_given = true;
    } else if (a == "--normalize") {
      const bool bgr = o.norm.bgr;
      float m = 0, s = 0;
      const auto slash = v.find('/');
      if (v == "unit") o.norm = normalization::unit_range();
      else if (v == "imagenet") o.norm = normalization::imagenet();
      else if (v == "ultraface") o.norm = ultraface::input_normalization();
      else if (slash != std::string::npos && parse_float(v.substr(0, slash), m) && parse_float(v.substr(slash + 1), s) && s != 0)
        o.norm = normalization::uniform(m, s);
      else return bad("--normalize is unit, imagenet, ultraface or MEAN/STD");
      o.norm.bgr = bgr;
      o.normalize_given = true;
    } else if (a == "--conf") {
      if (!parse_float(v, o.detect.confidence_threshold)) return bad("--conf wants a number");
    } else if (a == "--iou") {
      if (!parse_float(v, o.detect.iou_threshold) || o.detect.iou_threshold < 0 || o.detect.iou_threshold > 1)
        return bad("--iou wants a number in [0, 1]");
    } else if (a == "--max-det") {
      if (!parse_int(v, o.detect.max_detections, 0, 1 << 20)) return bad("--max-det wants a count");
    } else if (a == "--threads") {
      if (!parse_int(v, o.threads, 1, 1024)) return bad("--threads wants a count from 1");
    } else if (a == "--boxes") {
      if (v != "fractions" && v != "pixels") return bad("--boxes is fractions or pixels");
      o.detect.units = v == "fractions" ? box_units::fractions : box_units::pixels;
    } else {
      return bad("unknown option " + a);
    }
  }
  if (o.photos.empty()) return bad("no photo given");
  const int sources = !o.model.empty() + !o.outputs.empty() + !o.dump_input.empty();
  if (sources != 1) return bad("give exactly one of --model, --outputs, --dump-input");
  if (!o.outputs.empty() && o.photos.size() != 1) return bad("--outputs holds the outputs of one photo");
  return {};
}

// The model step: tessera's ONNX runtime, one model and one session for every photo.
class model_runner {
 public:
  static expected<model_runner> open(const std::string& path, int threads) {
    model_runner r;
    TESSERA_ASSIGN_OR_RETURN(r.model_, onnx::model::load(path));
    // The photo goes to the one input the caller must feed.
    const std::vector<std::size_t> fed = r.model_->required_inputs();
    if (fed.size() > 1) return make_error(errc::unsupported, path + ": the model has several inputs to feed; tessera-detect feeds one image");
    if (fed.empty()) return make_error(errc::unsupported, path + ": the model has no input to feed the image to");
    const onnx::io_info& in = r.model_->inputs()[fed[0]];
    if (in.type != nn::elem_type::f32) return make_error(errc::unsupported, path + ": input '" + in.name + "' is not float32");
    r.input_name_ = in.name;
    if (in.has_shape && in.dims.size() == 4 && in.dims[2] > 0 && in.dims[3] > 0 && in.dims[2] <= max_image_side && in.dims[3] <= max_image_side)
      r.height_ = static_cast<int>(in.dims[2]), r.width_ = static_cast<int>(in.dims[3]);
    r.pool_ = std::make_unique<runtime::thread_pool>(static_cast<std::size_t>(threads));
    onnx::session_options so;
    so.pool = r.pool_.get();
    TESSERA_ASSIGN_OR_RETURN(onnx::session s, onnx::session::create(r.model_, so));
    r.session_ = std::make_unique<onnx::session>(std::move(s));
    return r;
  }

  // The input's static height and width ([N, C, H, W]), 0 when not static.
  int input_width() const noexcept { return width_; }
  int input_height() const noexcept { return height_; }

  // Class names the exporter stored in the model (Ultralytics' "names"), or none.
  expected<std::vector<std::string>> class_names() const {
    const std::string* names = model_->metadata_value("names");
    if (!names) return std::vector<std::string>{};
    auto parsed = parse_class_names(*names);
    if (!parsed) return make_error(parsed.err().code, "the model's names metadata: " + parsed.err().message);
    return parsed;
  }

  expected<std::vector<Tensor<float>>> run(const Tensor<float>& input) {
    const onnx::named_input feed{input_name_, nn::any_view(input.view())};
    TESSERA_TRY(session_->run({feed}));
    std::vector<Tensor<float>> out;
    for (std::size_t i = 0; i < session_->outputs().size(); ++i) {
      const nn::any_view y = session_->output(i);
      if (y.type != nn::elem_type::f32)
        return make_error(errc::unsupported, "output '" + session_->outputs()[i].name + "' is " + nn::elem_name(y.type) + ", not float32");
      TESSERA_ASSIGN_OR_RETURN(Tensor<float> t, Tensor<float>::copy_of(TensorView<const float>(y.ptr<const float>(), y.shape, y.strides)));
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  std::shared_ptr<const onnx::model> model_;
  std::unique_ptr<runtime::thread_pool> pool_;
  std::unique_ptr<onnx::session> session_;
  std::string input_name_;
  int width_ = 0, height_ = 0;
};

expected<std::vector<Tensor<float>>> read_outputs(const std::string& list) {
  std::vector<Tensor<float>> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    const std::string path = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    TESSERA_ASSIGN_OR_RETURN(Tensor<float> t, read_npy_f32(path));
    out.push_back(std::move(t));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

status run(const options& o) {
  std::optional<model_runner> runner;
  if (!o.model.empty()) {
    TESSERA_ASSIGN_OR_RETURN(model_runner r, model_runner::open(o.model, o.threads));
    runner.emplace(std::move(r));
  }
  int width = o.width, height = o.height;
  if (runner && !o.size_given && runner->input_width() > 0) width = runner->input_width(), height = runner->input_height();
  std::vector<std::string> names;
  if (!o.names_file.empty()) {
    TESSERA_ASSIGN_OR_RETURN(names, load_class_names(o.names_file));
  } else if (runner) {
    TESSERA_ASSIGN_OR_RETURN(names, runner->class_names());
  }
  if (names.empty() && o.ultraface) {
    names = {"background", "face"};
  }
  std::FILE* json = stdout;
  if (!o.json_file.empty() && !(json = std::fopen(o.json_file.c_str(), "w")))
    return make_error(errc::io_error, "cannot create '" + o.json_file + "'");
  status result;
  for (std::size_t i = 0; i < o.photos.size() && result.ok(); ++i) {
    result = [&]() -> status {
      TESSERA_ASSIGN_OR_RETURN(image_u8 photo, load_image(o.photos[i]));
      TESSERA_ASSIGN_OR_RETURN(const model_input in, prepare_input(photo.view(), width, height, o.fit, o.norm));
      if (!o.dump_input.empty()) return write_npy_f32(o.dump_input, in.tensor.view());
      std::vector<Tensor<float>> outputs;
      if (!o.outputs.empty()) {
        TESSERA_ASSIGN_OR_RETURN(outputs, read_outputs(o.outputs));
      } else {
        TESSERA_ASSIGN_OR_RETURN(outputs, runner->run(in.tensor));
      }
      std::vector<TensorView<const float>> views;
      for (const Tensor<float>& t : outputs) views.push_back(t.view());
      if (o.format == output_format::boxes_scores) boxes_before_scores(views);
      auto found = detect(o.format, views, in.transform, o.detect);
      if (!found) return make_error(found.err().code, o.photos[i] + ": " + found.err().message);
      const std::string line = detections_to_json(base_name(o.photos[i]), *found, names) + "\n";
      if (std::fwrite(line.data(), 1, line.size(), json) != line.size()) return make_error(errc::io_error, "cannot write the JSON output");
      if (!o.draw_file.empty() && i == 0) {
        TESSERA_TRY(draw_detections(photo.view(), *found, names));
        TESSERA_TRY(write_png(o.draw_file, photo.view()));
      }
      return {};
    }();
  }
  if (json != stdout && std::fclose(json) != 0 && result.ok()) result = make_error(errc::io_error, "error writing '" + o.json_file + "'");
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (const status s = parse_args(argc, argv, o); !s.ok()) {
    std::fprintf(stderr, "tessera-detect: %s\n", s.message().c_str());
    return usage();
  }
  return tessera_cli::guarded_main("tessera-detect", [&] {
    if (const status s = run(o); !s.ok()) {
      std::fprintf(stderr, "tessera-detect: %s\n", s.what().c_str());
      return 1;
    }
    return 0;
  });
}
