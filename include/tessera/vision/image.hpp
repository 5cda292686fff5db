// 8-bit images: an owning `image_u8` and non-owning `image_view` / `image_span`.
//
// Pixels are interleaved (HWC: row after row, channel values of a pixel side by side), the
// layout decoders, cameras and canvases hand over; rows may be padded (`stride` in bytes), so
// a view can also be a crop or a canvas's RGBA buffer. Models want planar floats instead:
// vision/preprocess.hpp converts.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace tessera::vision {

// Upper bounds on an image tessera allocates: a side of 32768 and 2^28 pixels (a 16384 x 16384
// photo, 768 MiB as RGB). Decoders check declared sizes against the caller's (smaller) limits
// before allocating; these only keep arithmetic far from overflow.
inline constexpr int max_image_side = 1 << 15;
inline constexpr std::int64_t max_image_pixels = std::int64_t{1} << 28;

template <class Byte>
struct basic_image_view {
  Byte* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;        // 1 (gray), 3 (RGB or BGR) or 4 (RGBA)
  std::ptrdiff_t stride = 0;  // bytes from one row to the next (>= width * channels)

  Byte* row(int y) const noexcept { return data + static_cast<std::ptrdiff_t>(y) * stride; }
  Byte* pixel(int x, int y) const noexcept { return row(y) + static_cast<std::ptrdiff_t>(x) * channels; }
  bool empty() const noexcept { return width == 0 || height == 0; }
  // basic_image_view<std::uint8_t> -> basic_image_view<const std::uint8_t>
  operator basic_image_view<const Byte>() const noexcept { return {data, width, height, channels, stride}; }  // NOLINT
};
using image_view = basic_image_view<const std::uint8_t>;
using image_span = basic_image_view<std::uint8_t>;

// Checks the size of an image: 1, 3 or 4 channels, sides in [0, max_image_side], at most
// max_image_pixels. `what` names the image in the message ("resize: source").
inline status check_image_size(int width, int height, int channels, const char* what) {
  if (channels != 1 && channels != 3 && channels != 4)
    return make_error(errc::invalid_argument, std::string(what) + ": " + std::to_string(channels) +
                                                  " channels (1, 3 or 4 expected)");
  if (width < 0 || height < 0 || width > max_image_side || height > max_image_side ||
      static_cast<std::int64_t>(width) * height > max_image_pixels)
    return make_error(errc::invalid_argument, std::string(what) + ": size " + std::to_string(width) + "x" +
                                                  std::to_string(height) + " out of range");
  return {};
}

// Checks a view a caller built by hand: size in range, stride large enough, data present.
inline status validate(const image_view& v, const char* what) {
  TESSERA_TRY(check_image_size(v.width, v.height, v.channels, what));
  if (v.stride < static_cast<std::ptrdiff_t>(v.width) * v.channels)
    return make_error(errc::invalid_argument, std::string(what) + ": row stride " + std::to_string(v.stride) +
                                                  " is less than width * channels");
  if (!v.data && !v.empty()) return make_error(errc::invalid_argument, std::string(what) + ": no pixel data");
  return {};
}

// An owning image with tightly packed rows (stride = width * channels), 64-byte aligned.
class image_u8 {
 public:
  image_u8() = default;

  // Uninitialised pixels; an error for sizes out of range or a failed allocation.
  static expected<image_u8> create(int width, int height, int channels) {
    TESSERA_TRY(check_image_size(width, height, channels, "image"));
    if (width == 0 || height == 0) return make_error(errc::invalid_argument, "image: empty (0 pixels)");
    image_u8 img;
    TESSERA_TRY(img.pixels_.allocate(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
                                     static_cast<std::size_t>(channels)));
    img.width_ = width;
    img.height_ = height;
    img.channels_ = channels;
    return img;
  }
  static expected<image_u8> filled(int width, int height, int channels, std::uint8_t value) {
    TESSERA_ASSIGN_OR_RETURN(image_u8 img, create(width, height, channels));
    for (std::uint8_t& b : img.pixels_) b = value;
    return img;
  }
  // A packed copy of any view.
  static expected<image_u8> copy_of(const image_view& src) {
    TESSERA_TRY(validate(src, "copy_of"));
    TESSERA_ASSIGN_OR_RETURN(image_u8 img, create(src.width, src.height, src.channels));
    const std::size_t row_bytes = static_cast<std::size_t>(src.width) * static_cast<std::size_t>(src.channels);
    for (int y = 0; y < src.height; ++y) std::memcpy(img.view().row(y), src.row(y), row_bytes);
    return img;
  }

  int width() const noexcept { return width_; }
  int height() const noexcept { return height_; }
  int channels() const noexcept { return channels_; }
  std::ptrdiff_t stride() const noexcept { return static_cast<std::ptrdiff_t>(width_) * channels_; }
  std::uint8_t* data() noexcept { return pixels_.data(); }
  const std::uint8_t* data() const noexcept { return pixels_.data(); }
  std::size_t size_bytes() const noexcept { return pixels_.size(); }

  image_span view() noexcept { return {data(), width_, height_, channels_, stride()}; }
  image_view view() const noexcept { return {data(), width_, height_, channels_, stride()}; }
  operator image_view() const noexcept { return view(); }  // NOLINT
  operator image_span() noexcept { return view(); }        // NOLINT

 private:
  aligned_buffer<std::uint8_t> pixels_;
  int width_ = 0;
  int height_ = 0;
  int channels_ = 0;
};

}  // namespace tessera::vision
