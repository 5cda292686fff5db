// Image pre-processing for CNNs: bilinear resize, YOLO letterbox, and HWC uint8 -> planar
// (NCHW) float with per-channel normalization and RGB/BGR order.
//
// Resize follows OpenCV's cv::resize(INTER_LINEAR) on 8-bit images, which is what the
// reference pipelines of the detectors tessera runs use (Ultralytics' letterbox, the
// Ultra-Light face detector's demo): pixel centres aligned (src = (dst + 0.5) / scale - 0.5),
// edge pixels repeated, weights in 11-bit fixed point rounded from float, the horizontal pass
// in int32, the vertical one as OpenCV's SIMD path computes it
// ((((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16) + 2) >> 2. The result matches
// cv2.resize bit for bit where OpenCV runs its vector path (rows of a multiple of 16 bytes;
// OpenCV's scalar tail rounds differently by at most 1). tests/vision checks the face
// detector's input against cv2 (scripts/make_vision_reference.py).
//
// The coordinate transform of each resize (image_transform) maps boxes found on the model's
// input back to the photo.
#pragma once

#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/vision/image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace tessera::vision {

// model-input coordinate = source coordinate * scale + offset (per axis). Pixel edges, not
// centres: the photo spans [0, source_width] and lands on
// [offset_x, offset_x + source_width * scale_x].
struct image_transform {
  int source_width = 0;
  int source_height = 0;
  int target_width = 0;
  int target_height = 0;
  double scale_x = 1.0;
  double scale_y = 1.0;
  double offset_x = 0.0;
  double offset_y = 0.0;

  double to_source_x(double x) const noexcept { return (x - offset_x) / scale_x; }
  double to_source_y(double y) const noexcept { return (y - offset_y) / scale_y; }
};

// The transform of a plain resize (no letterbox): each axis scaled on its own.
inline image_transform stretch_transform(int src_w, int src_h, int dst_w, int dst_h) {
  image_transform t{src_w, src_h, dst_w, dst_h, 1.0, 1.0, 0.0, 0.0};
  t.scale_x = src_w > 0 ? static_cast<double>(dst_w) / src_w : 1.0;
  t.scale_y = src_h > 0 ? static_cast<double>(dst_h) / src_h : 1.0;
  return t;
}

namespace detail {

inline constexpr int resize_coef_bits = 11;
inline constexpr int resize_coef_one = 1 << resize_coef_bits;

// One output position of a bilinear resize: the two source positions it blends and their
// fixed-point weights.
struct linear_tap {
  std::int32_t index0;
  std::int32_t index1;
  std::int32_t weight0;
  std::int32_t weight1;
};

inline std::int32_t fixed_weight(float w) {
  return static_cast<std::int32_t>(std::lrint(w * static_cast<float>(resize_coef_one)));  // half to even
}

// Taps along one axis. `clamp_fraction`: OpenCV zeroes the fraction of positions that fall
// off either edge horizontally, but keeps it vertically (there the clamped rows coincide).
inline void linear_taps(linear_tap* taps, int dst_size, int src_size, bool clamp_fraction) {
  const double scale = 1.0 / (static_cast<double>(dst_size) / src_size);
  for (int d = 0; d < dst_size; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (clamp_fraction && s < 0) s = 0, f = 0.f;
    if (clamp_fraction && s >= src_size - 1) s = src_size - 1, f = 0.f;
    taps[d].index0 = std::clamp(s, 0, src_size - 1);
    taps[d].index1 = std::clamp(s + 1, 0, src_size - 1);
    taps[d].weight0 = fixed_weight(1.f - f);
    taps[d].weight1 = fixed_weight(f);
  }
}

// One source row resized horizontally: out[x * C + c] = src[i0 * C + c] * w0 + src[i1 * C + c] * w1.
template <int C>
inline void resize_row_horizontal(std::int32_t* out, const std::uint8_t* src, const linear_tap* taps, int dst_w) {
  for (int x = 0; x < dst_w; ++x) {
    const linear_tap t = taps[x];
    const std::uint8_t* a = src + static_cast<std::ptrdiff_t>(t.index0) * C;
    const std::uint8_t* b = src + static_cast<std::ptrdiff_t>(t.index1) * C;
    for (int c = 0; c < C; ++c) out[x * C + c] = a[c] * t.weight0 + b[c] * t.weight1;
  }
}

// Blends two horizontally resized rows; written for the compiler's auto-vectorizer (int32
// lanes, one narrowing store), which turns it into SSE/AVX/NEON/SIMD128 code.
inline void resize_row_vertical(std::uint8_t* out, const std::int32_t* r0, const std::int32_t* r1, std::int32_t b0,
                                std::int32_t b1, int n) {
  for (int i = 0; i < n; ++i) {
    const std::int32_t v = ((((r0[i] >> 4) * b0) >> 16) + (((r1[i] >> 4) * b1) >> 16) + 2) >> 2;
    out[i] = static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

template <int C>
inline status resize_bilinear_c(const image_span& dst, const image_view& src, arena& scratch) {
  arena_scope scope(scratch);
  const std::size_t row_len = static_cast<std::size_t>(dst.width) * C;
  TESSERA_ASSIGN_OR_RETURN(linear_tap* xt, scratch.allocate<linear_tap>(static_cast<std::size_t>(dst.width)));
  TESSERA_ASSIGN_OR_RETURN(linear_tap* yt, scratch.allocate<linear_tap>(static_cast<std::size_t>(dst.height)));
  TESSERA_ASSIGN_OR_RETURN(std::int32_t* rows, scratch.allocate<std::int32_t>(2 * row_len));
  linear_taps(xt, dst.width, src.width, true);
  linear_taps(yt, dst.height, src.height, false);
  std::int32_t* buf[2] = {rows, rows + row_len};
  int held[2] = {-1, -1};  // the source row each buffer holds
  auto row_for = [&](int sy) -> const std::int32_t* {
    for (int k = 0; k < 2; ++k)
      if (held[k] == sy) return buf[k];
    const int k = held[0] < held[1] ? 0 : 1;  // rows only move down: replace the older one
    resize_row_horizontal<C>(buf[k], src.row(sy), xt, dst.width);
    held[k] = sy;
    return buf[k];
  };
  // The source bytes a row's horizontal pass reads (the taps are monotonic).
  const std::ptrdiff_t read_begin = static_cast<std::ptrdiff_t>(xt[0].index0) * C;
  const std::ptrdiff_t read_end = static_cast<std::ptrdiff_t>(xt[dst.width - 1].index1 + 1) * C;
  for (int y = 0; y < dst.height; ++y) {
    const linear_tap t = yt[y];
    // Downscaling jumps over source rows, which the hardware prefetcher does not foresee:
    // ask for the next output row's source rows while this one is computed.
    if (y + 1 < dst.height && yt[y + 1].index1 != t.index1) {
      for (int k : {yt[y + 1].index0, yt[y + 1].index1}) {
        if (k == t.index0 || k == t.index1) continue;
        const std::uint8_t* r = src.row(k);
        for (std::ptrdiff_t b = read_begin; b < read_end; b += 64) prefetch(r + b);
      }
    }
    const std::int32_t* r0 = row_for(t.index0);
    const std::int32_t* r1 = row_for(t.index1);
    resize_row_vertical(dst.row(y), r0, r1, t.weight0, t.weight1, static_cast<int>(row_len));
  }
  return {};
}

}  // namespace detail

// Resizes src into dst (both 8-bit, same channel count, any sizes and strides), OpenCV
// INTER_LINEAR semantics (see the top of this file). Scratch (taps and two int32 rows) comes
// from `scratch` or the calling thread's arena.
inline status resize_bilinear(const image_span& dst, const image_view& src, arena* scratch = nullptr) {
  TESSERA_TRY(validate(src, "resize_bilinear: source"));
  TESSERA_TRY(validate(dst, "resize_bilinear: destination"));
  if (src.channels != dst.channels)
    return make_error(errc::shape_mismatch, "resize_bilinear: " + std::to_string(src.channels) + " channels into " +
                                                std::to_string(dst.channels));
  if (src.empty() || dst.empty())
    return make_error(errc::invalid_argument, "resize_bilinear: empty image (" + std::to_string(src.width) + "x" +
                                                  std::to_string(src.height) + " to " + std::to_string(dst.width) + "x" +
                                                  std::to_string(dst.height) + ")");
  arena& a = scratch ? *scratch : thread_arena();
  switch (src.channels) {
    case 1: return detail::resize_bilinear_c<1>(dst, src, a);
    case 3: return detail::resize_bilinear_c<3>(dst, src, a);
    default: return detail::resize_bilinear_c<4>(dst, src, a);
  }
}

inline expected<image_u8> resize_bilinear(const image_view& src, int width, int height) {
  TESSERA_ASSIGN_OR_RETURN(image_u8 out, image_u8::create(width, height, src.channels));
  TESSERA_TRY(resize_bilinear(out.view(), src));
  return out;
}

struct letterbox_options {
  std::uint8_t pad_value = 114;  // Ultralytics' gray
  bool scale_up = true;          // false: never enlarge a small photo, only pad it
};

// Ultralytics' LetterBox: scale by r = min(W / w, H / h) keeping the aspect ratio, resize to
// (round(w r), round(h r)) (Python's round: half to even), centre with the padding split as
// round(d - 0.1) before and round(d + 0.1) after, fill with pad_value. The transform uses the
// one gain r for both axes, as Ultralytics' scale_boxes does when it maps boxes back.
inline expected<image_transform> letterbox(const image_span& dst, const image_view& src,
                                           const letterbox_options& options = {}) {
  TESSERA_TRY(validate(src, "letterbox: source"));
  TESSERA_TRY(validate(dst, "letterbox: destination"));
  if (src.empty() || dst.empty()) return make_error(errc::invalid_argument, "letterbox: empty image");
  if (src.channels != dst.channels)
    return make_error(errc::shape_mismatch, "letterbox: " + std::to_string(src.channels) + " channels into " +
                                                std::to_string(dst.channels));
  double r = std::min(static_cast<double>(dst.height) / src.height, static_cast<double>(dst.width) / src.width);
  if (!options.scale_up) r = std::min(r, 1.0);
  const int new_w = std::clamp(static_cast<int>(std::nearbyint(src.width * r)), 1, dst.width);
  const int new_h = std::clamp(static_cast<int>(std::nearbyint(src.height * r)), 1, dst.height);
  const double dw = (dst.width - new_w) / 2.0, dh = (dst.height - new_h) / 2.0;
  const int left = std::clamp(static_cast<int>(std::nearbyint(dw - 0.1)), 0, dst.width - new_w);
  const int top = std::clamp(static_cast<int>(std::nearbyint(dh - 0.1)), 0, dst.height - new_h);
  const std::size_t row_bytes = static_cast<std::size_t>(dst.width) * static_cast<std::size_t>(dst.channels);
  for (int y = 0; y < dst.height; ++y) {
    std::uint8_t* row = dst.row(y);
    if (y < top || y >= top + new_h) {
      std::memset(row, options.pad_value, row_bytes);
    } else {
      const std::size_t c = static_cast<std::size_t>(dst.channels);
      std::memset(row, options.pad_value, static_cast<std::size_t>(left) * c);
      std::memset(row + static_cast<std::size_t>(left + new_w) * c, options.pad_value,
                  static_cast<std::size_t>(dst.width - left - new_w) * c);
    }
  }
  const image_span inner{dst.pixel(left, top), new_w, new_h, dst.channels, dst.stride};
  if (new_w == src.width && new_h == src.height) {
    for (int y = 0; y < new_h; ++y)
      std::memcpy(inner.row(y), src.row(y), static_cast<std::size_t>(new_w) * static_cast<std::size_t>(src.channels));
  } else {
    TESSERA_TRY(resize_bilinear(inner, src));
  }
  return image_transform{src.width, src.height, dst.width, dst.height, r, r, static_cast<double>(left), static_cast<double>(top)};
}

// Per-channel normalization to float: plane[c] = (pixel - mean[c]) * inv_std[c], with mean
// and std in pixel units (0..255) and indexed by output plane, i.e. in the model's channel
// order: RGB, or BGR when `bgr` (then plane 0 is the photo's blue channel and mean[0] its mean).
struct normalization {
  float mean[3] = {0.f, 0.f, 0.f};
  float inv_std[3] = {1.f, 1.f, 1.f};
  bool bgr = false;

  // x / 255 (Ultralytics YOLO).
  static normalization unit_range() { return {{0.f, 0.f, 0.f}, {1.f / 255.f, 1.f / 255.f, 1.f / 255.f}, false}; }
  // (x - m) / s for the same m and s on every channel ((x - 127) / 128: the Ultra-Light face detector).
  static normalization uniform(float m, float s) { return {{m, m, m}, {1.f / s, 1.f / s, 1.f / s}, false}; }
  // (x / 255 - mean) / std with ImageNet's statistics (torchvision models).
  static normalization imagenet() {
    return {{0.485f * 255.f, 0.456f * 255.f, 0.406f * 255.f},
            {1.f / (0.229f * 255.f), 1.f / (0.224f * 255.f), 1.f / (0.225f * 255.f)},
            false};
  }
};

// HWC 8-bit pixels (1, 3 or 4 channels; alpha is dropped, gray fills every plane) into a
// contiguous float tensor [1, C, H, W] or [C, H, W] with C = 3, or C = 1 for a gray source
// (a 1-channel model input). H and W must equal the image's size. One pass per output plane
// and row, (float(pixel) - mean) * inv_std, which the compiler vectorizes (a 256-entry table
// per channel measured 3x slower: its loads do not vectorize).
inline status to_planar(TensorView<float> out, const image_view& src, const normalization& norm) {
  TESSERA_TRY(validate(src, "to_planar: source"));
  const int r = out.rank();
  if ((r != 3 && r != 4) || (r == 4 && out.dim(0) != 1) || !out.is_contiguous())
    return make_error(errc::shape_mismatch, "to_planar: output " + out.shape().str() + " is not a contiguous [1,C,H,W] or [C,H,W]");
  const index_t planes = out.dim(r - 3), h = out.dim(r - 2), w = out.dim(r - 1);
  if (h != src.height || w != src.width)
    return make_error(errc::shape_mismatch, "to_planar: output " + out.shape().str() + " for an image of " +
                                                std::to_string(src.width) + "x" + std::to_string(src.height));
  if (planes != 3 && !(planes == 1 && src.channels == 1))
    return make_error(errc::shape_mismatch, "to_planar: " + std::to_string(planes) + " output planes from " +
                                                std::to_string(src.channels) + " channels (3 planes, or 1 from a gray image)");
  const std::size_t plane_size = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  for (int c = 0; c < planes; ++c) {
    // Output plane c reads source channel `from` (BGR models: plane 0 is blue).
    const int from = src.channels == 1 ? 0 : (norm.bgr ? 2 - c : c);
    const float mean = norm.mean[c], inv_std = norm.inv_std[c];
    float* plane = out.data() + static_cast<std::size_t>(c) * plane_size;
    for (int y = 0; y < src.height; ++y) {
      const std::uint8_t* p = src.row(y) + from;
      float* o = plane + static_cast<std::size_t>(y) * static_cast<std::size_t>(w);
      switch (src.channels) {  // a constant stride per loop, so each one vectorizes
        case 1: for (int x = 0; x < src.width; ++x) o[x] = (static_cast<float>(p[x]) - mean) * inv_std; break;
        case 3: for (int x = 0; x < src.width; ++x) o[x] = (static_cast<float>(p[3 * x]) - mean) * inv_std; break;
        default: for (int x = 0; x < src.width; ++x) o[x] = (static_cast<float>(p[4 * x]) - mean) * inv_std; break;
      }
    }
  }
  return {};
}

// How a photo becomes a model's input.
enum class fit_mode {
  stretch,    // resize to the input size, aspect ratio not kept (the face detector's 320x240)
  letterbox,  // keep the aspect ratio, pad (YOLO)
};

struct model_input {
  Tensor<float> tensor;       // [1, 3, height, width]
  image_transform transform;  // input coordinates -> photo coordinates
};

// The usual chain: fit the photo to width x height, then to_planar with `norm`.
inline expected<model_input> prepare_input(const image_view& photo, int width, int height, fit_mode mode,
                                           const normalization& norm, const letterbox_options& pad = {}) {
  TESSERA_TRY(validate(photo, "prepare_input: photo"));
  TESSERA_ASSIGN_OR_RETURN(image_u8 fitted, image_u8::create(width, height, photo.channels));
  model_input in;
  if (mode == fit_mode::letterbox) {
    TESSERA_ASSIGN_OR_RETURN(in.transform, letterbox(fitted.view(), photo, pad));
  } else {
    TESSERA_TRY(resize_bilinear(fitted.view(), photo));
    in.transform = stretch_transform(photo.width, photo.height, width, height);
  }
  TESSERA_ASSIGN_OR_RETURN(in.tensor, Tensor<float>::empty({1, 3, height, width}));
  TESSERA_TRY(to_planar(in.tensor.view(), fitted.view(), norm));
  return in;
}

}  // namespace tessera::vision
