// tessera/vision/image_io.hpp: PNG round trips, hostile headers refused before allocation,
// the decoder's memory budget against a zlib bomb, EXIF orientation, and mutated files that
// must give errors, never crashes. This file compiles stb for the whole test binary.
#include <doctest/doctest.h>

#include <tessera/vision/stb_implementation.hpp>

#include "support/harness.hpp"
#include "vision/vision_support.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace tessera;
using namespace tessera::vision;
using test::random_image;
using test::read_json;

namespace {

std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {
  std::uint32_t c = 0xffffffffu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put_be32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

void put_chunk(std::vector<std::uint8_t>& png, const char* type, const std::vector<std::uint8_t>& data) {
  put_be32(png, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put_be32(png, crc32(png.data() + start, png.size() - start));
}

// A PNG with the given header and IDAT payload (a zlib stream), CRCs correct.
std::vector<std::uint8_t> make_png(std::uint32_t w, std::uint32_t h, std::uint8_t color_type, const std::vector<std::uint8_t>& idat) {
  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  std::vector<std::uint8_t> ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr.insert(ihdr.end(), {8, color_type, 0, 0, 0});
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", idat);
  put_chunk(png, "IEND", {});
  return png;
}

std::vector<std::uint8_t> zlib(const std::vector<std::uint8_t>& raw) {
  int len = 0;
  unsigned char* z = stbi_zlib_compress(const_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size()), &len, 8);
  REQUIRE(z != nullptr);
  std::vector<std::uint8_t> out(z, z + len);
  STBIW_FREE(z);
  return out;
}

std::vector<std::uint8_t> encode_jpeg(const image_view& img) {
  std::vector<std::uint8_t> out;
  auto append = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<std::uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
  };
  REQUIRE(stbi_write_jpg_to_func(append, &out, img.width, img.height, img.channels, img.data, 95));
  return out;
}

// An APP1 "Exif" segment holding one IFD0 entry: orientation (0x0112, SHORT, 1) = o.
std::vector<std::uint8_t> exif_segment(int o, bool little_endian) {
  std::vector<std::uint8_t> tiff;
  auto u16 = [&](std::uint32_t v) {
    if (little_endian) tiff.insert(tiff.end(), {std::uint8_t(v), std::uint8_t(v >> 8)});
    else tiff.insert(tiff.end(), {std::uint8_t(v >> 8), std::uint8_t(v)});
  };
  auto u32 = [&](std::uint32_t v) {
    if (little_endian) u16(v & 0xffff), u16(v >> 16);
    else u16(v >> 16), u16(v & 0xffff);
  };
  tiff.insert(tiff.end(), little_endian ? std::initializer_list<std::uint8_t>{'I', 'I'} : std::initializer_list<std::uint8_t>{'M', 'M'});
  u16(42);
  u32(8);     // IFD0 right after the header
  u16(2);     // two entries: an unrelated one first
  u16(0x010f), u16(2), u32(4), u32(0x41424300);  // Make (ASCII, 4 bytes inline)
  u16(0x0112), u16(3), u32(1), u16(static_cast<std::uint32_t>(o)), u16(0);
  u32(0);     // no next IFD
  static constexpr std::uint8_t head[10] = {0xff, 0xe1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  std::vector<std::uint8_t> seg(sizeof head + tiff.size());
  std::copy(head, head + sizeof head, seg.begin());
  std::copy(tiff.begin(), tiff.end(), seg.begin() + sizeof head);
  const std::size_t len = seg.size() - 2;
  seg[2] = static_cast<std::uint8_t>(len >> 8);
  seg[3] = static_cast<std::uint8_t>(len);
  return seg;
}

}  // namespace

TEST_SUITE("vision/image_io") {

TEST_CASE("PNG round trip for 1, 3 and 4 channels, with channel conversion on decode") {
  test::rng g(1);
  for (int c : {1, 3, 4}) {
    CAPTURE(c);
    const image_u8 img = random_image(37, 21, c, g);
    const auto png = test::must(encode_png(img.view()));
    CHECK(sniff_format(png) == image_format::png);
    const image_info info = test::must(read_image_info(png));
    CHECK(info.width == 37);
    CHECK(info.height == 21);
    CHECK(info.channels == c);
    const image_u8 back = test::must(decode_image(png, c));
    REQUIRE(back.size_bytes() == img.size_bytes());
    CHECK(std::equal(img.data(), img.data() + img.size_bytes(), back.data()));
  }
  SUBCASE("gray decoded as RGB repeats the value") {
    const image_u8 gray = random_image(5, 4, 1, g);
    const image_u8 rgb = test::must(decode_image(test::must(encode_png(gray.view())), 3));
    CHECK(rgb.channels() == 3);
    CHECK(rgb.view().pixel(3, 2)[0] == gray.view().pixel(3, 2)[0]);
    CHECK(rgb.view().pixel(3, 2)[2] == gray.view().pixel(3, 2)[0]);
  }
  SUBCASE("a padded view encodes only its pixels") {
    const image_u8 big = random_image(20, 10, 3, g);
    const image_view crop{big.view().pixel(4, 2), 8, 5, 3, big.stride()};
    const image_u8 back = test::must(decode_image(test::must(encode_png(crop))));
    CHECK(back.width() == 8);
    CHECK(back.view().pixel(7, 4)[1] == big.view().pixel(11, 6)[1]);
  }
}

TEST_CASE("write_png and load_image through files; missing files are i/o errors") {
  test::rng g(2);
  const image_u8 img = random_image(9, 6, 3, g);
  const std::string path = (std::filesystem::temp_directory_path() / "tessera_image_io_test.png").string();
  REQUIRE(write_png(path, img.view()).ok());
  const image_u8 back = test::must(load_image(path));
  CHECK(std::equal(img.data(), img.data() + img.size_bytes(), back.data()));
  std::filesystem::remove(path);
  CHECK(load_image(path).err().code == errc::io_error);
  CHECK(write_png("/nonexistent-dir/x.png", img.view()).code() == errc::io_error);
}

TEST_CASE("hostile or broken headers are errors before any allocation") {
  SUBCASE("PNG declaring 100000 x 100000") {
    const auto png = make_png(100000, 100000, 2, zlib(std::vector<std::uint8_t>(16, 0)));
    const auto r = decode_image(png);
    REQUIRE_FALSE(r.ok());
    CAPTURE(r.err().message);
    CHECK(r.err().code == errc::out_of_range);
    CHECK(r.err().message.find("100000x100000") != std::string::npos);
  }
  SUBCASE("JPEG declaring 60000 x 60000") {
    test::rng g(3);
    auto jpg = encode_jpeg(random_image(16, 16, 3, g).view());
    bool patched = false;  // SOF0: FF C0, length, precision, height, width
    for (std::size_t i = 2; i + 9 < jpg.size() && !patched; ++i)
      if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
        jpg[i + 5] = 0xea, jpg[i + 6] = 0x60, jpg[i + 7] = 0xea, jpg[i + 8] = 0x60;
        patched = true;
      }
    REQUIRE(patched);
    const auto r = decode_image(jpg);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::out_of_range);
  }
  SUBCASE("a JPEG Huffman table of more than 256 symbols (stb 2.27 would write past its table)") {
    test::rng g(8);
    auto jpg = encode_jpeg(random_image(16, 16, 3, g).view());
    std::size_t dht = 0;
    for (std::size_t i = 2; i + 6 < jpg.size() && !dht; ++i)
      if (jpg[i] == 0xff && jpg[i + 1] == 0xc4) dht = i;
    REQUIRE(dht != 0);
    jpg[dht + 5] = 0xff;  // counts of code lengths 1 and 2: 510 symbols
    jpg[dht + 6] = 0xff;
    const auto r = decode_image(jpg);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::parse_error);
    CHECK(r.err().message.find("Huffman table") != std::string::npos);
  }
  SUBCASE("a PNG whose first IDAT is empty (stb 2.27 would memcpy into a null buffer)") {
    const auto r = decode_image(make_png(1, 1, 0, {}));
    CHECK(r.err().code == errc::parse_error);
    CHECK(r.err().message.find("empty first IDAT") != std::string::npos);
  }
  SUBCASE("caller's limits") {
    test::rng g(4);
    const auto png = test::must(encode_png(random_image(40, 30, 3, g).view()));
    decode_limits lim;
    lim.max_width = 39;
    CHECK(decode_image(png, 3, lim).err().code == errc::out_of_range);
    lim = {};
    lim.max_pixels = 1199;
    CHECK(decode_image(png, 3, lim).err().code == errc::out_of_range);
    lim = {};
    lim.max_decoder_bytes = 1000;  // far less than 40 x 30 x 3 needs
    CHECK(decode_image(png, 3, lim).err().code == errc::out_of_memory);
  }
  SUBCASE("not an image, empty, truncated, bad channel count") {
    CHECK(decode_image(std::vector<std::uint8_t>{'G', 'I', 'F', '8', '9', 'a', 0, 0}).err().code == errc::unsupported);
    CHECK(decode_image(std::vector<std::uint8_t>{}).err().code == errc::unsupported);
    test::rng g(5);
    auto png = test::must(encode_png(random_image(40, 30, 3, g).view()));
    png.resize(png.size() / 2);
    const auto r = decode_image(png);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().message.find("PNG") != std::string::npos);
    CHECK(decode_image(png, 2).err().code == errc::invalid_argument);
  }
}

TEST_CASE("a zlib bomb (1 x 1 PNG inflating to 16 MiB) stops at the decoder budget") {
  const auto bomb = make_png(1, 1, 0, zlib(std::vector<std::uint8_t>(std::size_t{16} << 20, 0)));
  CHECK(bomb.size() < (std::size_t{256} << 10));
  const auto r = decode_image(bomb, 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::out_of_memory);
  CHECK(r.err().message.find("budget") != std::string::npos);
  // The budget is scoped: a normal decode right after works.
  test::rng g(6);
  CHECK(decode_image(test::must(encode_png(random_image(3, 3, 3, g).view()))).ok());
}

TEST_CASE("EXIF orientation: the parser, the eight transforms, and a JPEG decoded upright") {
  SUBCASE("apply_orientation moves the stored corners where EXIF says") {
    // A 3 x 2 image whose pixels are numbered; the expected displayed images are written out.
    image_u8 img = test::must(image_u8::create(3, 2, 1));
    for (int i = 0; i < 6; ++i) img.data()[i] = static_cast<std::uint8_t>(i);  // rows {0 1 2} {3 4 5}
    const std::vector<std::vector<int>> expected = {
        {}, {0, 1, 2, 3, 4, 5},  // 1: as stored
        {2, 1, 0, 5, 4, 3},      // 2: mirrored
        {5, 4, 3, 2, 1, 0},      // 3: rotated 180
        {3, 4, 5, 0, 1, 2},      // 4: flipped vertically
        {0, 3, 1, 4, 2, 5},      // 5: transposed (2 x 3)
        {3, 0, 4, 1, 5, 2},      // 6: rotated 90 clockwise
        {5, 2, 4, 1, 3, 0},      // 7: transversed
        {2, 5, 1, 4, 0, 3},      // 8: rotated 90 counter-clockwise
    };
    for (int o = 2; o <= 8; ++o) {
      CAPTURE(o);
      const image_u8 out = test::must(vision::detail::apply_orientation(img.view(), o));
      CHECK(out.width() == (o >= 5 ? 2 : 3));
      CHECK(std::vector<int>(out.data(), out.data() + 6) == expected[static_cast<std::size_t>(o)]);
    }
  }
  SUBCASE("a JPEG with orientation 6 comes out rotated, with either byte order") {
    image_u8 img = test::must(image_u8::filled(32, 16, 3, 0));
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 8; ++x) img.view().pixel(x, y)[0] = 255;  // left quarter red
    const auto jpg = encode_jpeg(img.view());
    for (bool le : {true, false}) {
      std::vector<std::uint8_t> tagged(jpg.begin(), jpg.begin() + 2);
      const auto seg = exif_segment(6, le);
      tagged.insert(tagged.end(), seg.begin(), seg.end());
      tagged.insert(tagged.end(), jpg.begin() + 2, jpg.end());
      CHECK(test::must(read_image_info(tagged)).orientation == 6);
      const image_u8 up = test::must(decode_image(tagged));
      CHECK(up.width() == 16);
      CHECK(up.height() == 32);
      CHECK(up.view().pixel(8, 2)[0] > 200);   // the red strip is now on top
      CHECK(up.view().pixel(8, 29)[0] < 50);
      decode_limits as_stored;
      as_stored.apply_exif_orientation = false;
      CHECK(test::must(decode_image(tagged, 3, as_stored)).width() == 32);
    }
  }
  SUBCASE("malformed EXIF means no rotation") {
    auto seg = exif_segment(6, true);
    std::vector<std::uint8_t> jpg = {0xff, 0xd8};
    jpg.insert(jpg.end(), seg.begin(), seg.end());
    CHECK(vision::detail::jpeg_exif_orientation(jpg) == 6);
    for (std::size_t cut = 0; cut < jpg.size(); ++cut)  // every truncation
      CHECK(vision::detail::jpeg_exif_orientation(std::span<const std::uint8_t>(jpg.data(), cut)) <= 8);
    jpg[14 + 4] = 0xff;  // IFD0 offset far outside the segment
    CHECK(vision::detail::jpeg_exif_orientation(jpg) == 1);
  }
}

TEST_CASE("mutated PNG and JPEG files decode or fail cleanly") {
  test::rng g(7);
  const image_u8 img = random_image(24, 17, 3, g);
  const std::vector<std::uint8_t> seeds[] = {test::must(encode_png(img.view())), encode_jpeg(img.view())};
  int decoded = 0, failed = 0;
  for (const auto& seed : seeds)
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<std::uint8_t> m = seed;
      const int flips = 1 + static_cast<int>(g.next() % 8);
      for (int f = 0; f < flips; ++f) m[8 + g.next() % (m.size() - 8)] ^= static_cast<std::uint8_t>(1u << (g.next() % 8));
      if (g.next() % 4 == 0) m.resize(8 + g.next() % (m.size() - 8));
      auto r = decode_image(m);
      if (r.ok()) {
        ++decoded;
        CHECK(r->width() > 0);
      } else {
        ++failed;
        CHECK(!r.err().message.empty());
      }
    }
  CHECK(decoded + failed == 600);
}

TEST_CASE("stb's blocks come zeroed even where the heap hands back a dirty block") {
  // stb_image reads Huffman tables a hostile JPEG never defined (fuzz/vision's finding, input
  // in tests/fuzz/vision_corpus/regression_jpeg_undefined_huffman_table.jpg): what it reads
  // must be zeros, never the previous decode's leftovers.
  constexpr std::size_t n = 1 << 14;
  for (int round = 0; round < 4; ++round) {
    auto* dirty = static_cast<unsigned char*>(vision::detail::stb_malloc(n));
    REQUIRE(dirty != nullptr);
    std::memset(dirty, 0xab, n);
    vision::detail::stb_free(dirty);
    auto* fresh = static_cast<unsigned char*>(vision::detail::stb_malloc(n));
    REQUIRE(fresh != nullptr);
    std::size_t nonzero = 0;
    for (std::size_t i = 0; i < n; ++i) nonzero += fresh[i] != 0;
    CHECK(nonzero == 0);
    std::memset(fresh, 0xcd, n);
    auto* grown = static_cast<unsigned char*>(vision::detail::stb_realloc(fresh, 3 * n));
    REQUIRE(grown != nullptr);
    std::size_t kept = 0, zero_tail = 0;
    for (std::size_t i = 0; i < n; ++i) kept += grown[i] == 0xcd;
    for (std::size_t i = n; i < 3 * n; ++i) zero_tail += grown[i] == 0;
    CHECK(kept == n);
    CHECK(zero_tail == 2 * n);
    vision::detail::stb_free(grown);
  }
}

// A gray JPEG whose blocks all carry the largest DC difference (+32767), with 16-bit quantizers
// of 65535: baseline, or progressive with the DC scan's point transform Al = 13.
std::vector<std::uint8_t> jpeg_with_runaway_dc(bool progressive, int blocks) {
  std::vector<std::uint8_t> out = {0xff, 0xd8};
  const auto segment = [&](std::uint8_t marker, std::vector<std::uint8_t> payload) {
    const std::size_t len = payload.size() + 2;
    out.insert(out.end(), {0xff, marker, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
    out.insert(out.end(), payload.begin(), payload.end());
  };
  std::vector<std::uint8_t> dqt = {0x10};  // 16-bit table 0
  dqt.resize(1 + 128, 0xff);
  segment(0xdb, dqt);
  const int w = 8 * blocks;
  segment(progressive ? 0xc2 : 0xc0, {8, 0, 8, static_cast<std::uint8_t>(w >> 8), static_cast<std::uint8_t>(w), 1, 1, 0x11, 0});
  std::vector<std::uint8_t> one_code(17, 0);
  one_code[1] = 1;  // a single 1-bit code
  std::vector<std::uint8_t> dc = one_code, ac = one_code;
  dc[0] = 0x00, ac[0] = 0x10;
  dc.push_back(15);  // DC '0': a 15-bit difference follows
  ac.push_back(0);   // AC '0': end of block
  segment(0xc4, dc);
  segment(0xc4, ac);
  segment(0xda, progressive ? std::vector<std::uint8_t>{1, 1, 0x00, 0, 0, 13} : std::vector<std::uint8_t>{1, 1, 0x00, 0, 63, 0});
  std::string bits;
  for (int b = 0; b < blocks; ++b) bits += "0" + std::string(15, '1') + (progressive ? "" : "0");
  bits.append((8 - bits.size() % 8) % 8, '1');
  for (std::size_t i = 0; i < bits.size(); i += 8) {
    const auto byte = static_cast<std::uint8_t>(std::stoi(bits.substr(i, 8), nullptr, 2));
    out.push_back(byte);
    if (byte == 0xff) out.push_back(0);  // byte stuffing
  }
  out.insert(out.end(), {0xff, 0xd9});
  return out;
}

TEST_CASE("a JPEG whose DC sums overflow int decodes to some pixels or fails, never undefined behaviour") {
  // stb_image 2.27 computes dc * quantizer in int unchecked (fuzz/vision's finding, input in
  // tests/fuzz/vision_corpus/regression_dc_overflow.jpg); the sanitizer build checks this.
  for (const bool progressive : {false, true}) {
    CAPTURE(progressive);
    auto r = decode_image(jpeg_with_runaway_dc(progressive, 4), 1);
    if (r.ok()) {
      CHECK(r->width() == 32);
      CHECK(r->height() == 8);
    } else {
      CHECK(!r.err().message.empty());
    }
  }
}

TEST_CASE("the face detector's photos decode (../shared, optional)") {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "models" / "face-detector";
  if (!std::filesystem::exists(dir / "19.jpg")) {
    MESSAGE("skipped: ../shared/models/face-detector not present");
    return;
  }
  const image_u8 img = test::must(load_image((dir / "19.jpg").string()));
  CHECK(img.width() == 1024);
  CHECK(img.height() == 754);
  CHECK(img.channels() == 3);
}

}  // TEST_SUITE
