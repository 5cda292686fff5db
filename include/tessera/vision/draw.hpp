// Drawing detections into an 8-bit image: box outlines, filled label backgrounds and text in a
// built-in 5x7 bitmap font (digits, letters, common punctuation; lowercase is drawn as
// uppercase, anything else as '?'). Everything is clipped to the image, so boxes that reach
// outside it (or absurd coordinates) are safe. Write the result with vision/image_io.hpp's
// write_png.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/vision/class_names.hpp>
#include <tessera/vision/detect.hpp>
#include <tessera/vision/detections_json.hpp>
#include <tessera/vision/image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::vision {

struct rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

// A fixed palette of 20 well-separated colours, cycled by class id.
inline rgb class_color(int class_id) {
  static constexpr rgb palette[] = {
      {255, 56, 56}, {255, 157, 151}, {255, 112, 31}, {255, 178, 29}, {207, 210, 49}, {72, 249, 10}, {146, 204, 23},
      {61, 219, 134}, {26, 147, 52}, {0, 212, 187}, {44, 153, 168}, {0, 194, 255}, {52, 69, 147}, {100, 115, 255},
      {0, 24, 236}, {132, 56, 255}, {82, 0, 133}, {203, 56, 255}, {255, 149, 200}, {255, 55, 199}};
  const int n = static_cast<int>(sizeof palette / sizeof palette[0]);
  return palette[((class_id % n) + n) % n];
}

namespace detail {

inline constexpr int glyph_width = 5;
inline constexpr int glyph_height = 7;

// Rows top to bottom, bit 4 the leftmost pixel.
inline const std::uint8_t* glyph(char c) {
  struct entry {
    char ch;
    std::uint8_t rows[7];
  };
  static constexpr entry font[] = {
      {' ', {0, 0, 0, 0, 0, 0, 0}},
      {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
      {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
      {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
      {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
      {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
      {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}}, {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
      {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
      {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
      {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}}, {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
      {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
      {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
      {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}}, {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
      {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
      {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
      {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
      {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
      {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}}, {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
      {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}}, {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
      {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}}, {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
      {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}}, {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
      {'_', {0, 0, 0, 0, 0, 0, 0x1F}}, {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
      {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}}, {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
      {'/', {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0}}, {'\'', {0x0C, 0x04, 0x08, 0, 0, 0, 0}},
      {'+', {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}}, {'=', {0, 0, 0x1F, 0, 0x1F, 0, 0}},
      {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04}}, {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04}},
      {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}}, {'&', {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D}},
  };
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (const entry& e : font)
    if (e.ch == c) return e.rows;
  return glyph('?');
}

inline void put_pixel(const image_span& img, int x, int y, rgb color) {
  std::uint8_t* p = img.pixel(x, y);
  if (img.channels == 1) {
    p[0] = static_cast<std::uint8_t>((299 * color.r + 587 * color.g + 114 * color.b + 500) / 1000);
    return;
  }
  p[0] = color.r;
  p[1] = color.g;
  p[2] = color.b;
  if (img.channels == 4) p[3] = 255;
}

// The characters drawn for a UTF-8 string: one glyph per code point (non-ASCII ones as '?').
inline std::string drawable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = io::utf8_sequence(text, i);
    out += n == 1 ? text[i] : '?';
    i += n ? n : 1;
  }
  return out;
}

inline int clamp_coord(double v, int hi) {
  if (!(v == v)) return 0;
  return static_cast<int>(std::clamp(std::floor(v), -1.0, static_cast<double>(hi)));
}

}  // namespace detail

// Fills [x1, x2) x [y1, y2), clipped.
inline void fill_rectangle(const image_span& img, int x1, int y1, int x2, int y2, rgb color) {
  x1 = std::max(x1, 0), y1 = std::max(y1, 0);
  x2 = std::min(x2, img.width), y2 = std::min(y2, img.height);
  for (int y = y1; y < y2; ++y)
    for (int x = x1; x < x2; ++x) detail::put_pixel(img, x, y, color);
}

// The outline of [x1, x2) x [y1, y2), `thickness` pixels drawn inwards, clipped.
inline void draw_rectangle(const image_span& img, int x1, int y1, int x2, int y2, rgb color, int thickness = 1) {
  const int t = std::max(1, thickness);
  fill_rectangle(img, x1, y1, x2, std::min(y2, y1 + t), color);
  fill_rectangle(img, x1, std::max(y1, y2 - t), x2, y2, color);
  fill_rectangle(img, x1, y1, std::min(x2, x1 + t), y2, color);
  fill_rectangle(img, std::max(x1, x2 - t), y1, x2, y2, color);
}

// Size of a text line at `scale` (each font pixel drawn scale x scale), one pixel column of
// spacing per character.
inline int text_width(std::string_view text, int scale = 1) {
  return static_cast<int>(detail::drawable(text).size()) * (detail::glyph_width + 1) * std::max(1, scale);
}
inline int text_height(int scale = 1) { return detail::glyph_height * std::max(1, scale); }

// Draws text with its top-left corner at (x, y), clipped.
inline void draw_text(const image_span& img, int x, int y, std::string_view text, rgb color, int scale = 1) {
  const int s = std::max(1, scale);
  int pen = x;
  for (char c : detail::drawable(text)) {
    const std::uint8_t* rows = detail::glyph(c);
    for (int gy = 0; gy < detail::glyph_height; ++gy)
      for (int gx = 0; gx < detail::glyph_width; ++gx)
        if (rows[gy] & (0x10 >> gx)) fill_rectangle(img, pen + gx * s, y + gy * s, pen + (gx + 1) * s, y + (gy + 1) * s, color);
    pen += (detail::glyph_width + 1) * s;
    if (pen >= img.width) break;
  }
}

struct draw_options {
  int thickness = 0;   // box outline; 0: from the image size (about 1/300 of the shorter side)
  int font_scale = 0;  // 0: from the image size
  bool labels = true;  // "name 0.87" above each box
};

// Draws each detection (photo pixels) as an outline in its class colour with a label.
inline status draw_detections(const image_span& img, const std::vector<detection>& dets, const std::vector<std::string>& names,
                              const draw_options& opt = {}) {
  TESSERA_TRY(validate(img, "draw_detections"));
  const int shorter = std::min(img.width, img.height);
  const int thickness = opt.thickness > 0 ? opt.thickness : std::max(1, shorter / 300);
  const int scale = opt.font_scale > 0 ? opt.font_scale : std::max(1, shorter / 400);
  for (const detection& d : dets) {
    const rgb color = class_color(d.class_id);
    const int x1 = detail::clamp_coord(d.bbox.x1, img.width), y1 = detail::clamp_coord(d.bbox.y1, img.height);
    const int x2 = detail::clamp_coord(std::ceil(d.bbox.x2), img.width), y2 = detail::clamp_coord(std::ceil(d.bbox.y2), img.height);
    draw_rectangle(img, x1, y1, std::max(x2, x1 + 1), std::max(y2, y1 + 1), color, thickness);
    if (!opt.labels) continue;
    const std::string label = class_label(names, d.class_id) + " " + json_number(d.confidence, 2);
    const int pad = scale, lw = text_width(label, scale) + 2 * pad, lh = text_height(scale) + 2 * pad;
    const int ly = y1 - lh >= 0 ? y1 - lh : y1;  // above the box, or inside it at the top edge
    fill_rectangle(img, x1, ly, x1 + lw, ly + lh, color);
    const bool light = 299 * color.r + 587 * color.g + 114 * color.b > 150000;
    draw_text(img, x1 + pad, ly + pad, label, light ? rgb{0, 0, 0} : rgb{255, 255, 255}, scale);
  }
  return {};
}

}  // namespace tessera::vision
