// Detections as JSON, one object per image:
//   {"image": "photo.jpg", "detections": [{"class_id": 0, "class_name": "person",
//    "confidence": 0.87, "bbox_xywh": [233.0, 328.5, 242.0, 567.0]}]}
// bbox_xywh is the top-left corner, width and height in photo pixels (one decimal);
// confidence has at most 4 decimals. Numbers are formatted without the C locale (a program
// that sets a locale with a decimal comma still writes valid JSON), strings are escaped and
// invalid UTF-8 in them becomes U+FFFD.
#pragma once

#include <tessera/io/json_string.hpp>
#include <tessera/vision/class_names.hpp>
#include <tessera/vision/detect.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::vision {

// x rounded to `decimals` (1..6) decimals, trailing zeros dropped but one kept ("0.87",
// "233.0"); null for NaN and infinities (JSON has no such numbers).
inline std::string json_number(double x, int decimals) {
  if (!std::isfinite(x)) return "null";
  std::int64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  if (std::fabs(x) * static_cast<double>(scale) > 9e15) return std::to_string(static_cast<std::int64_t>(std::llround(x)));
  const std::int64_t q = std::llround(x * static_cast<double>(scale));
  const std::uint64_t a = q < 0 ? 0 - static_cast<std::uint64_t>(q) : static_cast<std::uint64_t>(q);
  std::string frac = std::to_string(a % static_cast<std::uint64_t>(scale));
  frac.insert(0, static_cast<std::size_t>(decimals) - frac.size(), '0');
  while (frac.size() > 1 && frac.back() == '0') frac.pop_back();
  std::string out = q < 0 ? "-" : "";  // appended piecewise: gcc 12 warns (-Wrestrict) on "-" + string
  out += std::to_string(a / static_cast<std::uint64_t>(scale));
  out += '.';
  out += frac;
  return out;
}

inline std::string detections_to_json(std::string_view image_name, const std::vector<detection>& dets,
                                      const std::vector<std::string>& names) {
  std::string out = "{\"image\": " + io::json_quote(image_name) + ", \"detections\": [";
  for (std::size_t i = 0; i < dets.size(); ++i) {
    const detection& d = dets[i];
    if (i) out += ", ";
    out += "{\"class_id\": " + std::to_string(d.class_id) + ", \"class_name\": " + io::json_quote(class_label(names, d.class_id)) +
           ", \"confidence\": " + json_number(d.confidence, 4) + ", \"bbox_xywh\": [" + json_number(d.bbox.x1, 1) + ", " +
           json_number(d.bbox.y1, 1) + ", " + json_number(double(d.bbox.x2) - d.bbox.x1, 1) + ", " +
           json_number(double(d.bbox.y2) - d.bbox.y1, 1) + "]}";
  }
  return out + "]}";
}

}  // namespace tessera::vision
