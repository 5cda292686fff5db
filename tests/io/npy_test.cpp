// io/npy.hpp: the writer's files read back; NumPy's own header spellings parse; damaged and
// hostile headers are errors (magic, version, lengths, dtype, Fortran order, shape overflow).
#include <doctest/doctest.h>

#include <tessera/io/npy.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace tessera;

namespace {

std::vector<std::uint8_t> file_with_header(const std::string& header, std::size_t data_bytes, std::uint8_t major = 1) {
  std::vector<std::uint8_t> f = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const std::size_t n = header.size();
  f.push_back(static_cast<std::uint8_t>(n & 0xff));
  f.push_back(static_cast<std::uint8_t>(n >> 8));
  if (major >= 2) f.push_back(0), f.push_back(0);
  for (char c : header) f.push_back(static_cast<std::uint8_t>(c));
  for (std::size_t i = 0; i < data_bytes; ++i) f.push_back(0);
  return f;
}

}  // namespace

TEST_SUITE("io/npy") {
TEST_CASE("written files read back with their type, shape and data") {
  const float values[6] = {1, -2, 3.5f, 4, 5, 6};
  io::npy_array a;
  a.kind = 'f';
  a.itemsize = 4;
  a.shape = {2, 3};
  a.data = {reinterpret_cast<const std::uint8_t*>(values), sizeof values};
  const auto bytes = io::write_npy(a);
  CHECK((bytes.size() - sizeof values) % 64 == 0);  // data aligned
  auto b = io::parse_npy(bytes);
  REQUIRE_MESSAGE(b.ok(), b.what());
  CHECK(b->kind == 'f');
  CHECK(b->itemsize == 4);
  CHECK(b->shape == std::vector<std::int64_t>{2, 3});
  CHECK(std::memcmp(b->data.data(), values, sizeof values) == 0);
  a.shape = {6};
  auto c = io::parse_npy(io::write_npy(a));
  REQUIRE(c.ok());
  CHECK(c->shape == std::vector<std::int64_t>{6});
  a.shape = {};
  a.data = a.data.subspan(0, 4);
  auto d = io::parse_npy(io::write_npy(a));
  REQUIRE(d.ok());
  CHECK(d->shape.empty());
  CHECK(d->numel() == 1);
}

TEST_CASE("NumPy's header spellings") {
  auto ok = [](const std::string& h, std::size_t bytes, std::uint8_t major = 1) { return io::parse_npy(file_with_header(h, bytes, major)); };
  auto a = ok("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }          \n", 24);
  REQUIRE_MESSAGE(a.ok(), a.what());
  CHECK(a->kind == 'i');
  CHECK(a->itemsize == 8);
  CHECK(ok("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2)}\n", 4).ok());
  CHECK(ok("{'descr': '|b1', 'fortran_order': False, 'shape': (0, 5), }\n", 0).ok());
  CHECK(ok("{\"descr\": \"<f2\", \"fortran_order\": False, \"shape\": (4,)}\n", 8, 2).ok());
}

TEST_CASE("damaged and hostile files are errors") {
  auto err = [](const std::vector<std::uint8_t>& f) { return !io::parse_npy(f).ok(); };
  CHECK(err({}));
  CHECK(err({'N', 'U', 'M', 'P', 'Y', 0, 1, 0, 0, 0}));
  auto good = file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8);
  auto bad_version = good;
  bad_version[6] = 9;
  CHECK(err(bad_version));
  auto long_header = good;
  long_header[8] = 0xff, long_header[9] = 0xff;  // header longer than the file
  CHECK(err(long_header));
  CHECK(err(std::vector<std::uint8_t>(good.begin(), good.end() - 1)));  // truncated data
  auto extra = good;
  extra.push_back(0);  // trailing bytes: the shape does not describe the file
  CHECK(err(extra));
  CHECK(err(file_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8)));
  CHECK(err(file_with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }\n", 16)));
  CHECK(err(file_with_header("{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }\n", 32)));
  CHECK(err(file_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", 8)));
  CHECK(err(file_with_header("{'descr': '<f4', 'shape': (2,), }\n", 8)));
  CHECK(err(file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", 8)));
  CHECK(err(file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", 8)));
  CHECK(err(file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 'a'), }\n", 8)));
  // The element count overflows 64 bits: refused against the file's size, nothing allocated.
  CHECK(err(file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1125899906842624, 1125899906842624, 16), }\n", 8)));
  CHECK(err(file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", 8)));
  CHECK(err(file_with_header("{'descr': '<f4' 'fortran_order': False}\n", 8)));
  CHECK(err(file_with_header("{'descr': '<f4", 0)));
}
}
