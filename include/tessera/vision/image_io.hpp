// JPEG and PNG decoding, PNG encoding: a small tessera API over stb_image / stb_image_write
// (Debian: libstb-dev) that returns errors as values.
//
// stb is a header-only C library: its code is compiled where a program defines
// STB_IMAGE_IMPLEMENTATION. This header only declares it. Exactly one .cpp of the program
// includes <tessera/vision/stb_implementation.hpp>, which compiles stb_image (JPEG and PNG
// only) and stb_image_write with tessera's allocation budget (below). A program that already
// compiles or links stb elsewhere (Debian's libstb, its own stb_image.c) leaves that header out;
// everything works the same except that the decoder's memory budget is not enforced.
//
// Hostile input: the declared size is read first (PNG IHDR, JPEG SOF) and checked against
// decode_limits before anything is allocated, so a 100000 x 100000 header costs nothing. While
// stb decodes, its allocations draw on a per-thread budget (decode_limits::max_decoder_bytes),
// which bounds what a PNG whose zlib stream inflates far past the image's size (a "zlib bomb")
// or a JPEG with absurd scan data can make it allocate. stb's failures ("bad huffman code")
// come back as errc::parse_error values with the format named.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/io/file.hpp>
#include <tessera/vision/image.hpp>

#if __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#elif __has_include(<stb_image.h>)
#include <stb_image.h>
#include <stb_image_write.h>
#else
#error "tessera/vision/image_io.hpp needs stb_image.h (Debian: apt-get install libstb-dev)"
#endif

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace tessera::vision {

enum class image_format { unknown, jpeg, png };

inline const char* format_name(image_format f) noexcept {
  switch (f) {
    case image_format::jpeg: return "JPEG";
    case image_format::png: return "PNG";
    case image_format::unknown: break;
  }
  return "unknown format";
}

// The format from the file's signature (not its name): JPEG starts FF D8 FF, PNG with its
// 8-byte signature. Other formats stb could read (GIF, BMP, PSD, ...) are refused: less
// decoder code reachable from untrusted bytes.
inline image_format sniff_format(std::span<const std::uint8_t> bytes) noexcept {
  static constexpr std::uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return image_format::jpeg;
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_sig, 8) == 0) return image_format::png;
  return image_format::unknown;
}

struct decode_limits {
  int max_width = 16384;
  int max_height = 16384;
  std::int64_t max_pixels = std::int64_t{1} << 26;  // 64 Mi pixels (192 MiB as RGB)
  // Bytes stb may hold at once while decoding; 0: 48 bytes per declared pixel (the peak of a
  // 16-bit RGBA PNG: inflated rows, 16-bit image, conversions) + 2x the input + 1 MiB.
  std::size_t max_decoder_bytes = 0;
  // JPEG photos from phones store their rotation in EXIF (tag 0x0112); OpenCV's imread and
  // PIL's exif_transpose apply it, so the pixels a detector sees match the photo as shown.
  bool apply_exif_orientation = true;
};

struct image_info {
  image_format format = image_format::unknown;
  int width = 0;
  int height = 0;
  int channels = 0;     // in the file: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (or CMYK)
  int orientation = 1;  // EXIF orientation 1..8 (1: as stored); always 1 for PNG
};

namespace detail {

// ---- stb's allocation budget --------------------------------------------------------------
// stb_implementation.hpp routes STBI_MALLOC/REALLOC/FREE here. Each block carries its size in
// a header so that realloc and free can account for it; the budget is per thread, armed by
// decode_image around one stb call.
struct stb_budget {
  std::size_t limit = SIZE_MAX;
  std::size_t used = 0;
  bool exceeded = false;
};
inline stb_budget& stb_thread_budget() noexcept {
  static thread_local stb_budget budget;
  return budget;
}
inline constexpr std::size_t stb_block_header = alignof(std::max_align_t);

// Every block stb gets is zeroed. stb_image 2.27 (Debian 12) mallocs its JPEG decoder state
// and reads the Huffman tables of whatever table a scan names, defined or not: a hostile JPEG
// that names an undefined table decodes with leftover heap bytes as codes and indexes out of
// bounds (found by fuzz/vision). Zeroed tables decode as symbol 0, in bounds.

inline void* stb_malloc(std::size_t n) noexcept {
  stb_budget& b = stb_thread_budget();
  if (n > b.limit - b.used || n > SIZE_MAX - stb_block_header) {
    b.exceeded = true;
    return nullptr;
  }
  void* base = std::calloc(1, n + stb_block_header);
  if (!base) return nullptr;
  std::memcpy(base, &n, sizeof n);
  b.used += n;
  return static_cast<unsigned char*>(base) + stb_block_header;
}
inline void stb_free(void* p) noexcept {
  if (!p) return;
  unsigned char* base = static_cast<unsigned char*>(p) - stb_block_header;
  std::size_t n;
  std::memcpy(&n, base, sizeof n);
  stb_budget& b = stb_thread_budget();
  b.used = n <= b.used ? b.used - n : 0;  // a block allocated under another budget scope
  std::free(base);
}
inline void* stb_realloc(void* p, std::size_t n) noexcept {
  if (!p) return stb_malloc(n);
  unsigned char* base = static_cast<unsigned char*>(p) - stb_block_header;
  std::size_t old;
  std::memcpy(&old, base, sizeof old);
  stb_budget& b = stb_thread_budget();
  if ((n > old && n - old > b.limit - b.used) || n > SIZE_MAX - stb_block_header) {
    b.exceeded = true;
    return nullptr;
  }
  void* grown = std::realloc(base, n + stb_block_header);
  if (!grown) return nullptr;
  if (n > old) std::memset(static_cast<unsigned char*>(grown) + stb_block_header + old, 0, n - old);
  std::memcpy(grown, &n, sizeof n);
  b.used = b.used - (old <= b.used ? old : b.used) + n;
  return static_cast<unsigned char*>(grown) + stb_block_header;
}

// Arms the calling thread's budget for one decode; restores the previous one on exit.
class stb_budget_scope {
 public:
  explicit stb_budget_scope(std::size_t limit) noexcept : saved_(stb_thread_budget()) {
    stb_thread_budget() = stb_budget{limit, 0, false};
  }
  ~stb_budget_scope() { stb_thread_budget() = saved_; }
  stb_budget_scope(const stb_budget_scope&) = delete;
  stb_budget_scope& operator=(const stb_budget_scope&) = delete;
  bool exceeded() const noexcept { return stb_thread_budget().exceeded; }

 private:
  stb_budget saved_;
};

// stb's reason for its last failure on this thread ("bad huffman code"), or a fallback.
inline std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r && *r ? std::string(r) : std::string("unknown failure");
}

// ---- EXIF orientation -------------------------------------------------------------------
// Reads tag 0x0112 from a JPEG's APP1 "Exif" segment (TIFF structure: byte order mark, IFD0
// offset, 12-byte entries). Every offset is checked against the segment; anything malformed
// means "no orientation" (1), never an error: the pixels are still good.
inline int jpeg_exif_orientation(std::span<const std::uint8_t> jpg) noexcept {
  std::size_t pos = 2;  // after SOI
  while (pos + 4 <= jpg.size()) {
    if (jpg[pos] != 0xff) return 1;
    const std::uint8_t marker = jpg[pos + 1];
    if (marker == 0xff) { ++pos; continue; }  // fill byte
    if (marker == 0xda || marker == 0xd9) return 1;  // start of scan / end: no EXIF before it
    const std::size_t len = (std::size_t{jpg[pos + 2]} << 8) | jpg[pos + 3];
    if (len < 2 || pos + 2 + len > jpg.size()) return 1;
    const std::uint8_t* seg = jpg.data() + pos + 4;
    const std::size_t seg_len = len - 2;
    if (marker == 0xe1 && seg_len >= 14 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      const std::uint8_t* tiff = seg + 6;
      const std::size_t n = seg_len - 6;
      const bool le = tiff[0] == 'I' && tiff[1] == 'I';
      if (!le && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
      auto u16 = [&](std::size_t at) -> std::uint32_t {
        return le ? tiff[at] | (std::uint32_t{tiff[at + 1]} << 8) : (std::uint32_t{tiff[at]} << 8) | tiff[at + 1];
      };
      auto u32 = [&](std::size_t at) -> std::uint32_t {
        return le ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
      };
      const std::uint32_t ifd = u32(4);
      if (ifd > n || n - ifd < 2) return 1;
      const std::uint32_t entries = u16(ifd);
      for (std::uint32_t e = 0; e < entries; ++e) {
        const std::size_t at = ifd + 2 + std::size_t{e} * 12;
        if (at + 12 > n) return 1;
        if (u16(at) == 0x0112 && u16(at + 2) == 3 /* SHORT */ && u32(at + 4) == 1) {
          const std::uint32_t v = u16(at + 8);
          return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
        }
      }
      return 1;
    }
    pos += 2 + len;
  }
  return 1;
}

// The image as displayed for EXIF orientation o (2..8): flips and/or a transpose.
inline expected<image_u8> apply_orientation(const image_view& src, int o) {
  const bool transpose = o >= 5;
  const int w = transpose ? src.height : src.width, h = transpose ? src.width : src.height;
  TESSERA_ASSIGN_OR_RETURN(image_u8 out, image_u8::create(w, h, src.channels));
  const int c = src.channels;
  // Output (x, y) reads source (sx, sy); the table follows the EXIF 2.3 definitions.
  for (int y = 0; y < h; ++y) {
    std::uint8_t* dst = out.view().row(y);
    for (int x = 0; x < w; ++x) {
      int sx = x, sy = y;
      switch (o) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = w - 1 - x; break;
        case 7: sx = h - 1 - y; sy = w - 1 - x; break;
        case 8: sx = h - 1 - y; sy = x; break;
        default: break;
      }
      std::memcpy(dst + static_cast<std::ptrdiff_t>(x) * c, src.pixel(sx, sy), static_cast<std::size_t>(c));
    }
  }
  return out;
}

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Walks every marker segment of a JPEG (skipping the entropy-coded data after each SOS) and
// refuses what stb_image 2.27 (Debian 12's libstb) would mishandle: a DHT table declaring more
// than 256 symbols, which its stbi__build_huffman writes past its 257-entry array (fixed
// upstream in 2.28; found by tests/fuzz/vision_fuzz). A truncated segment counts too: stb reads
// the bytes past the end as zeros. Nor may a scan use a Huffman table no DHT defined before it:
// stb then decodes with uninitialized tables and indexes far outside them (fuzz/vision).
inline status check_jpeg_segments(std::span<const std::uint8_t> jpg) {
  const auto byte_at = [&](std::size_t i) -> std::uint8_t { return i < jpg.size() ? jpg[i] : 0; };
  bool dc_defined[16] = {}, ac_defined[16] = {};
  bool progressive = false;
  std::size_t pos = 2;
  while (pos + 4 <= jpg.size()) {
    if (jpg[pos] != 0xff) {  // entropy-coded data: up to the next marker that is not a stuffed 0 or RSTn
      ++pos;
      continue;
    }
    const std::uint8_t m = jpg[pos + 1];
    if (m == 0xff || m == 0x00 || (m >= 0xd0 && m <= 0xd7) || m == 0x01 || m == 0xd8) {
      pos += m == 0xff ? 1 : 2;
      continue;
    }
    if (m == 0xd9) return {};
    const std::size_t len = (std::size_t{jpg[pos + 2]} << 8) | jpg[pos + 3];
    if (len < 2) return {};
    if (m == 0xc4) {
      // DHT: tables of (class/id, 16 counts, symbols), read as stb reads them: a table header
      // is taken whole even where the segment's length says it ends earlier.
      std::size_t t = pos + 4;
      std::int64_t left = static_cast<std::int64_t>(len) - 2;
      while (left > 0 && t < jpg.size()) {
        std::size_t symbols = 0;
        for (std::size_t i = 1; i <= 16 && t + i < jpg.size(); ++i) symbols += jpg[t + i];
        if (symbols > 256)
          return make_error(errc::parse_error, "decode_image: JPEG: Huffman table at byte " + std::to_string(t) +
                                                   " declares " + std::to_string(symbols) + " symbols (at most 256)");
        const std::uint8_t class_id = jpg[t];
        if ((class_id >> 4) <= 1) ((class_id >> 4) == 0 ? dc_defined : ac_defined)[class_id & 15] = true;
        t += 17 + symbols;
        left -= static_cast<std::int64_t>(17 + symbols);
      }
    }
    if (m == 0xc2) progressive = true;
    if (m == 0xda) {
      // SOS: components (id, DC table << 4 | AC table), then Ss, Se, Ah << 4 | Al. Which tables a
      // scan decodes with: baseline both; progressive DC-first the DC table, DC-refine none,
      // AC (Ss > 0) the AC table.
      const std::size_t n = byte_at(pos + 4);
      const std::size_t tail = pos + 5 + 2 * n;
      const bool ac_scan = byte_at(tail) > 0, dc_refine = (byte_at(tail + 2) >> 4) != 0;
      const bool needs_dc = !progressive || (!ac_scan && !dc_refine), needs_ac = !progressive || ac_scan;
      for (std::size_t c = 0; c < n; ++c) {
        const std::uint8_t tables = byte_at(pos + 6 + 2 * c);
        if ((needs_dc && !dc_defined[tables >> 4]) || (needs_ac && !ac_defined[tables & 15]))
          return make_error(errc::parse_error, "decode_image: JPEG: the scan at byte " + std::to_string(pos) +
                                                   " uses a Huffman table no DHT segment defined before it");
      }
    }
    pos += 2 + len;
  }
  return {};
}

// Refuses a PNG whose first IDAT chunk is empty: stb_image 2.27 then copies 0 bytes into its
// not yet allocated buffer, memcpy(NULL, p, 0), undefined behaviour that UBSan reports (found by
// tests/fuzz/vision_fuzz). Encoders never write such a chunk.
inline status check_png_chunks(std::span<const std::uint8_t> png) {
  for (std::size_t pos = 8; pos + 8 <= png.size();) {
    const std::uint32_t len = load_be32(png.data() + pos);
    if (std::memcmp(png.data() + pos + 4, "IDAT", 4) == 0) {
      if (len == 0) return make_error(errc::parse_error, "decode_image: PNG: empty first IDAT chunk at byte " + std::to_string(pos));
      return {};
    }
    if (len > png.size() - pos - 8) return {};  // truncated: stb reports it
    pos += 12 + static_cast<std::size_t>(len);
  }
  return {};
}

inline status check_stb_input(std::span<const std::uint8_t> bytes, image_format& format) {
  format = sniff_format(bytes);
  if (format == image_format::unknown)
    return make_error(errc::unsupported, "decode_image: not a JPEG or PNG file (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX))
    return make_error(errc::invalid_argument, "decode_image: input of " + std::to_string(bytes.size()) + " bytes exceeds 2 GiB");
  return {};
}

}  // namespace detail

// Format, size and channel count from the header (PNG's IHDR, JPEG's SOF segment), read here
// rather than by stbi_info, whose failure for an oversized header is "unknown image type".
inline expected<image_info> read_image_info(std::span<const std::uint8_t> bytes) {
  image_info info;
  TESSERA_TRY(detail::check_stb_input(bytes, info.format));
  if (info.format == image_format::png) {
    // signature, then the IHDR chunk: length 13, "IHDR", width, height, depth, color type
    if (bytes.size() < 8 + 8 + 13 || detail::load_be32(bytes.data() + 8) != 13 || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0)
      return make_error(errc::parse_error, "decode_image: PNG: no IHDR chunk first");
    const std::uint32_t w = detail::load_be32(bytes.data() + 16), h = detail::load_be32(bytes.data() + 20);
    const std::uint8_t color = bytes[25];
    static constexpr int channels_of_color[7] = {1, 0, 3, 3, 2, 0, 4};
    if (w == 0 || h == 0 || w > INT_MAX || h > INT_MAX || color > 6 || channels_of_color[color] == 0)
      return make_error(errc::parse_error, "decode_image: PNG: bad IHDR (" + std::to_string(w) + "x" + std::to_string(h) +
                                               ", color type " + std::to_string(color) + ")");
    info.width = static_cast<int>(w);
    info.height = static_cast<int>(h);
    info.channels = channels_of_color[color];
    return info;
  }
  // JPEG: walk the marker segments up to the first start-of-frame (SOF0..SOF15 but DHT, JPG, DAC).
  std::size_t pos = 2;
  while (pos + 4 <= bytes.size()) {
    if (bytes[pos] != 0xff) break;
    const std::uint8_t m = bytes[pos + 1];
    if (m == 0xff) { ++pos; continue; }
    if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) { pos += 2; continue; }  // no length
    if (m == 0xd9 || m == 0xda) break;
    const std::size_t len = (std::size_t{bytes[pos + 2]} << 8) | bytes[pos + 3];
    if (len < 2 || pos + 2 + len > bytes.size()) break;
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      if (len < 8) break;
      info.height = (bytes[pos + 5] << 8) | bytes[pos + 6];
      info.width = (bytes[pos + 7] << 8) | bytes[pos + 8];
      info.channels = bytes[pos + 9];
      if (info.width == 0 || info.height == 0 || (info.channels != 1 && info.channels != 3 && info.channels != 4))
        return make_error(errc::parse_error, "decode_image: JPEG: bad frame header (" + std::to_string(info.width) + "x" +
                                                 std::to_string(info.height) + ", " + std::to_string(info.channels) + " components)");
      info.orientation = detail::jpeg_exif_orientation(bytes);
      return info;
    }
    pos += 2 + len;
  }
  return make_error(errc::parse_error, "decode_image: JPEG: no frame header (SOF) before the image data");
}

// Decodes a JPEG or PNG into 8-bit pixels with `channels` channels (1 gray, 3 RGB, 4 RGBA;
// stb converts, 16-bit PNGs are scaled to 8 bits), EXIF orientation applied unless disabled.
inline expected<image_u8> decode_image(std::span<const std::uint8_t> bytes, int channels = 3,
                                       const decode_limits& limits = {}) {
  if (channels != 1 && channels != 3 && channels != 4)
    return make_error(errc::invalid_argument, "decode_image: " + std::to_string(channels) + " channels requested (1, 3 or 4)");
  TESSERA_ASSIGN_OR_RETURN(const image_info info, read_image_info(bytes));
  TESSERA_TRY(info.format == image_format::jpeg ? detail::check_jpeg_segments(bytes) : detail::check_png_chunks(bytes));
  const char* fmt = format_name(info.format);
  const std::int64_t pixels = static_cast<std::int64_t>(info.width) * info.height;
  if (info.width <= 0 || info.height <= 0 || info.width > limits.max_width || info.height > limits.max_height ||
      pixels > limits.max_pixels || pixels > max_image_pixels || info.width > max_image_side || info.height > max_image_side)
    return make_error(errc::out_of_range, std::string("decode_image: ") + fmt + " declares " + std::to_string(info.width) +
                                              "x" + std::to_string(info.height) + " pixels, over the limit of " +
                                              std::to_string(limits.max_width) + "x" + std::to_string(limits.max_height) +
                                              " and " + std::to_string(limits.max_pixels) + " pixels");
  std::size_t budget = limits.max_decoder_bytes;
  if (budget == 0) budget = 48 * static_cast<std::size_t>(pixels) + 2 * bytes.size() + (std::size_t{1} << 20);
  const std::uint8_t* decoded = nullptr;
  int w = 0, h = 0, in_file = 0;
  {
    detail::stb_budget_scope scope(budget);
    decoded = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &in_file, channels);
    if (!decoded) {
      if (scope.exceeded())
        return make_error(errc::out_of_memory, std::string("decode_image: ") + fmt + " of " + std::to_string(info.width) +
                                                   "x" + std::to_string(info.height) + " needs more than the decoder budget of " +
                                                   std::to_string(budget) + " bytes (corrupt or compressed too far?)");
      const std::string reason = detail::stb_reason();
      return make_error(reason == "outofmem"    ? errc::out_of_memory
                        : reason == "too large" ? errc::out_of_range
                                                : errc::parse_error,
                        std::string("decode_image: ") + fmt + ": " + reason);
    }
  }
  struct stb_pixels {  // frees stb's buffer on every path below
    const std::uint8_t* p;
    ~stb_pixels() { stbi_image_free(const_cast<std::uint8_t*>(p)); }
  } owner{decoded};
  if (w != info.width || h != info.height)
    return make_error(errc::parse_error, std::string("decode_image: ") + fmt + " decoded to " + std::to_string(w) + "x" +
                                             std::to_string(h) + " but its header says " + std::to_string(info.width) + "x" +
                                             std::to_string(info.height));
  const image_view stored{decoded, w, h, channels, static_cast<std::ptrdiff_t>(w) * channels};
  if (limits.apply_exif_orientation && info.orientation != 1) return detail::apply_orientation(stored, info.orientation);
  return image_u8::copy_of(stored);
}

inline expected<image_u8> load_image(const std::string& path, int channels = 3, const decode_limits& limits = {}) {
  // A compressed image is never larger than 4 bytes per allowed pixel plus headers.
  const std::uint64_t max_file = 4 * static_cast<std::uint64_t>(limits.max_pixels) + (std::uint64_t{16} << 20);
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, io::read_file_bytes(path, max_file));
  auto img = decode_image(bytes, channels, limits);
  if (!img) return make_error(img.err().code, "'" + path + "': " + img.err().message);
  return img;
}

// PNG bytes of an image (1, 3 or 4 channels; any row stride).
inline expected<std::vector<std::uint8_t>> encode_png(const image_view& img) {
  TESSERA_TRY(validate(img, "encode_png"));
  if (img.empty()) return make_error(errc::invalid_argument, "encode_png: empty image");
  if (img.stride > INT_MAX) return make_error(errc::invalid_argument, "encode_png: row stride over 2 GiB");
  std::vector<std::uint8_t> out;
  auto append = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<std::uint8_t>*>(ctx);
    const auto* p = static_cast<const std::uint8_t*>(data);
    v->insert(v->end(), p, p + size);
  };
  if (!stbi_write_png_to_func(append, &out, img.width, img.height, img.channels, img.data, static_cast<int>(img.stride)))
    return make_error(errc::out_of_memory, "encode_png: stb_image_write failed (out of memory?)");
  return out;
}

inline status write_png(const std::string& path, const image_view& img) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> png, encode_png(img));
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(errc::io_error, "cannot create '" + path + "'");
  const bool wrote = std::fwrite(png.data(), 1, png.size(), f) == png.size();
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !closed) return make_error(errc::io_error, "error writing '" + path + "'");
  return {};
}

}  // namespace tessera::vision
