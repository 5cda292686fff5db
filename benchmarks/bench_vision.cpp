// Pre- and post-processing of a detector, per frame: resize/letterbox (peer: stb_image_resize's
// triangle filter, the same bilinear job in a C library, when libstb-dev is there), HWC uint8
// -> NCHW float (peer: the direct arithmetic loop), YOLOv8 decoding + NMS of an [1, 84, 8400]
// output, and the face detector's post-processing. Single-threaded; unit: milliseconds per
// call (lower is better; the ratio is peer / tessera).
//   bench_vision [--quick] [--json] [--reps N] [--min-seconds S]
#include "harness.hpp"

#include <tessera/vision/detect.hpp>
#include <tessera/vision/preprocess.hpp>
#include <tessera/vision/ultraface.hpp>

#if __has_include(<stb/stb_image_resize.h>)
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STBIR_DEFAULT_FILTER_DOWNSAMPLE STBIR_FILTER_TRIANGLE
#define STBIR_DEFAULT_FILTER_UPSAMPLE STBIR_FILTER_TRIANGLE
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image_resize.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#define TESSERA_BENCH_HAVE_STBIR 1
#else
#define TESSERA_BENCH_HAVE_STBIR 0
#endif

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

using namespace tessera;
using namespace tessera::vision;
namespace tb = tessera::bench;

namespace {

template <class T>
T must(expected<T> e) {
  if (!e.ok()) {
    std::fprintf(stderr, "bench_vision: %s\n", e.what().c_str());
    std::exit(1);
  }
  return std::move(e).value();
}

image_u8 photo(int w, int h) {
  image_u8 img = must(image_u8::create(w, h, 3));
  std::uint32_t x = 12345;
  for (int y = 0; y < h; ++y)
    for (int i = 0; i < w * 3; ++i) {
      x = x * 1664525u + 1013904223u;
      img.view().row(y)[i] = static_cast<std::uint8_t>((i / 3 + y) / 4 + (x >> 29));  // smooth plus noise
    }
  return img;
}

double ms(double seconds) { return seconds * 1e3; }

void bench_resize(const tb::options& opt, int sw, int sh, int dw, int dh) {
  const image_u8 src = photo(sw, sh);
  image_u8 dst = must(image_u8::create(dw, dh, 3));
  tb::record r;
  r.bench = "resize";
  r.case_name = std::to_string(sw) + "x" + std::to_string(sh) + "->" + std::to_string(dw) + "x" + std::to_string(dh) + " rgb";
  r.unit = "ms";
  r.lower_is_better = true;
  std::vector<std::function<void()>> fns = {[&] {
    if (!resize_bilinear(dst.view(), src.view()).ok()) std::exit(1);
    tb::do_not_optimize(dst.data()[0]);
  }};
#if TESSERA_BENCH_HAVE_STBIR
  image_u8 peer = must(image_u8::create(dw, dh, 3));
  fns.push_back([&] {
    stbir_resize_uint8(src.data(), sw, sh, 0, peer.data(), dw, dh, 0, 3);
    tb::do_not_optimize(peer.data()[0]);
  });
  r.peer = "stb_image_resize (triangle)";
#endif
  const auto t = tb::time_medians_interleaved(opt, fns);
  r.tessera = ms(t[0]);
  if (t.size() > 1) r.peer_value = ms(t[1]);
  tb::emit(opt, r);
}

void bench_letterbox_planar(const tb::options& opt, int sw, int sh, int size) {
  const image_u8 src = photo(sw, sh);
  image_u8 boxed = must(image_u8::create(size, size, 3));
  Tensor<float> planar = must(Tensor<float>::empty({1, 3, size, size}));
  const normalization norm = normalization::unit_range();
  tb::record lb;
  lb.bench = "letterbox";
  lb.case_name = std::to_string(sw) + "x" + std::to_string(sh) + "->" + std::to_string(size);
  lb.unit = "ms";
  lb.lower_is_better = true;
  lb.tessera = ms(tb::time_median(opt, [&] {
    if (!letterbox(boxed.view(), src.view()).ok()) std::exit(1);
    tb::do_not_optimize(boxed.data()[0]);
  }));
  tb::emit(opt, lb);

  tb::record r;
  r.bench = "to_planar";
  r.case_name = std::to_string(size) + "x" + std::to_string(size) + " rgb->f32";
  r.unit = "ms";
  r.lower_is_better = true;
  r.peer = "direct loop";
  std::vector<std::function<void()>> fns = {
      [&] {
        if (!to_planar(planar.view(), boxed.view(), norm).ok()) std::exit(1);
        tb::do_not_optimize(planar.data()[0]);
      },
      [&] {  // what one writes first: (x - mean) * inv_std per channel, strided reads
        float* out = planar.data();
        const std::size_t plane = static_cast<std::size_t>(size) * size;
        for (int c = 0; c < 3; ++c)
          for (std::size_t i = 0; i < plane; ++i)
            out[c * plane + i] = (static_cast<float>(boxed.data()[i * 3 + c]) - norm.mean[c]) * norm.inv_std[c];
        tb::do_not_optimize(out[0]);
      }};
  const auto t = tb::time_medians_interleaved(opt, fns);
  r.tessera = ms(t[0]);
  r.peer_value = ms(t[1]);
  tb::emit(opt, r);
}

void bench_yolov8(const tb::options& opt, int classes, int anchors) {
  // Scores like a trained model's: almost all near 0, a few hundred candidates over 0.25.
  std::vector<float> out(static_cast<std::size_t>(4 + classes) * anchors);
  std::uint32_t x = 777;
  auto next = [&] { return (x = x * 1664525u + 1013904223u) >> 8; };
  for (int a = 0; a < anchors; ++a) {
    out[static_cast<std::size_t>(a)] = static_cast<float>(next() % 640);
    out[static_cast<std::size_t>(anchors) + a] = static_cast<float>(next() % 640);
    out[2 * static_cast<std::size_t>(anchors) + a] = static_cast<float>(10 + next() % 200);
    out[3 * static_cast<std::size_t>(anchors) + a] = static_cast<float>(10 + next() % 200);
    for (int c = 0; c < classes; ++c)
      out[static_cast<std::size_t>(4 + c) * anchors + a] = next() % 2000 == 0 ? 0.3f + (next() % 700) / 1000.f : (next() % 100) / 1000.f;
  }
  const TensorView<const float> view(out.data(), {1, 4 + classes, anchors});
  tb::record r;
  r.bench = "yolov8_post";
  r.case_name = "[1," + std::to_string(4 + classes) + "," + std::to_string(anchors) + "] decode+nms";
  r.unit = "ms";
  r.lower_is_better = true;
  std::size_t found = 0;
  r.tessera = ms(tb::time_median(opt, [&] {
    const detect_options o;
    found = non_max_suppression(must(decode_yolov8(view, o)), o).size();
    tb::do_not_optimize(found);
  }));
  r.note = std::to_string(found) + " detections";
  tb::emit(opt, r);
}

}  // namespace

int main(int argc, char** argv) {
  const tb::options opt = tb::parse_options(argc, argv);
  if (opt.quick) {
    bench_resize(opt, 64, 48, 32, 24);
    bench_letterbox_planar(opt, 64, 48, 32);
    bench_yolov8(opt, 3, 84);
    return 0;
  }
  bench_resize(opt, 1024, 754, 320, 240);   // the face detector's input
  bench_resize(opt, 1920, 1080, 640, 360);  // a video frame into a 640 letterbox
  bench_resize(opt, 4032, 3024, 640, 480);  // a 12 MP phone photo
  bench_letterbox_planar(opt, 1920, 1080, 640);
  bench_yolov8(opt, 80, 8400);
  return 0;
}
