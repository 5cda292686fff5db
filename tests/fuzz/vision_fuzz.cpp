// libFuzzer harness for the untrusted-input parts of tessera/vision: image decoding (the
// header checks and EXIF reader of image_io.hpp, stb_image behind them under the decoder
// budget) and the class-name parsers (names files, Ultralytics' Python-dict metadata).
// Every input must either fail with an error or give an image within the limits whose pixels
// are all readable, and names that are valid UTF-8 without control characters; the names
// then go through the JSON writer and the label drawing.
//
// Built like the other harnesses (tests/fuzz/CMakeLists.txt): always as vision_replay over
// tests/fuzz/vision_corpus, and as the libFuzzer target vision_fuzz under clang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/vision/class_names.hpp"
#include "tessera/vision/detections_json.hpp"
#include "tessera/vision/draw.hpp"
#include "tessera/vision/stb_implementation.hpp"

namespace {

using namespace tessera;
using namespace tessera::vision;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "vision_fuzz: %s\n", what);
  std::abort();
}

void check_image(std::span<const std::uint8_t> bytes) {
  decode_limits limits;
  limits.max_width = limits.max_height = 2048;
  limits.max_pixels = std::int64_t{1} << 20;
  const int channels = bytes.size() % 3 == 0 ? 1 : bytes.size() % 3 == 1 ? 3 : 4;
  auto img = decode_image(bytes, channels, limits);
  if (!img) {
    if (img.err().message.empty()) fail("an error without a message");
    return;
  }
  if (img->width() <= 0 || img->height() <= 0 || img->width() > 2048 || img->height() > 2048 ||
      static_cast<std::int64_t>(img->width()) * img->height() > limits.max_pixels || img->channels() != channels)
    fail("a decoded image outside the limits");
  unsigned sum = 0;
  for (std::size_t i = 0; i < img->size_bytes(); ++i) sum += img->data()[i];  // every pixel readable
  if (sum == 0xffffffffu) std::fprintf(stderr, " ");
}

void check_names(std::string_view text) {
  auto names = parse_class_names(text);
  if (!names) {
    if (names.err().message.empty()) fail("an error without a message");
    return;
  }
  if (names->empty() || names->size() > max_class_count) fail("a names list of impossible size");
  for (const std::string& n : *names)
    if (!vision::detail::check_name(n).empty()) fail("a name that check_name refuses was returned");
  // The names must be safe to embed in JSON and to draw.
  std::vector<detection> dets;
  for (std::size_t i = 0; i < names->size() && i < 4; ++i) dets.push_back({{1, 1, 20, 12}, 0.5f, static_cast<int>(i)});
  const std::string json = detections_to_json(text.substr(0, 64), dets, *names);
  for (std::size_t i = 0; i < json.size();) {
    const std::size_t n = io::utf8_sequence(json, i);
    if (n == 0 || (n == 1 && static_cast<unsigned char>(json[i]) < 0x20)) fail("invalid JSON text");
    i += n;
  }
  auto canvas = image_u8::filled(32, 16, 3, 0);
  if (!canvas || !draw_detections(canvas->view(), dets, *names).ok()) fail("drawing labels failed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  check_image(bytes);
  check_names(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
