// mapped_file: the same bytes mapped (natively) or read (WASM, and read() everywhere),
// aligned, and errors for missing files and directories.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tessera/io/mapped_file.hpp"

using namespace tessera;

namespace {

// A file in the test's working directory (ctest runs in the build tree; NODERAWFS maps it).
struct scratch_file {
  std::string path;
  scratch_file(std::string name, const std::vector<std::uint8_t>& bytes) : path(std::move(name)) {
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    REQUIRE(fp);
    REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), fp) == bytes.size());
    std::fclose(fp);
  }
  ~scratch_file() { std::remove(path.c_str()); }
};

}  // namespace

TEST_SUITE("io.mapped_file") {
  TEST_CASE("open maps natively, read copies, both give the file's bytes aligned") {
    std::vector<std::uint8_t> bytes(100000);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
    scratch_file file("mapped_file_test.bin", bytes);

    auto mapped = io::mapped_file::open(file.path);
    REQUIRE_MESSAGE(mapped.ok(), mapped.what());
    CHECK(mapped->is_mapped() == !TESSERA_WASM);
    CHECK(std::vector<std::uint8_t>(mapped->bytes().begin(), mapped->bytes().end()) == bytes);
    CHECK(reinterpret_cast<std::uintptr_t>(mapped->data()) % TESSERA_ALIGNMENT == 0);

    auto read = io::mapped_file::read(file.path);
    REQUIRE_MESSAGE(read.ok(), read.what());
    CHECK(!read->is_mapped());
    CHECK(std::vector<std::uint8_t>(read->bytes().begin(), read->bytes().end()) == bytes);
    CHECK(reinterpret_cast<std::uintptr_t>(read->data()) % TESSERA_ALIGNMENT == 0);

    // Moving keeps the bytes where they are, so views taken before stay valid.
    const std::uint8_t* before = mapped->data();
    io::mapped_file moved = std::move(mapped).value();
    CHECK(moved.data() == before);
    CHECK(moved.size() == bytes.size());
  }

  TEST_CASE("dropped pages read the file's bytes again when touched; ranges outside are ignored") {
    std::vector<std::uint8_t> bytes(5 * 65536 + 123);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 13 + 1);
    scratch_file file("mapped_file_drop_test.bin", bytes);
    for (const bool map : {true, false}) {
      auto f = map ? io::mapped_file::open(file.path) : io::mapped_file::read(file.path);
      REQUIRE_MESSAGE(f.ok(), f.what());
      CHECK(std::vector<std::uint8_t>(f->bytes().begin(), f->bytes().end()) == bytes);  // every page touched
      f->drop_pages(f->bytes().subspan(1000, 3 * 65536));
      f->drop_pages(f->bytes());
      f->drop_pages({bytes.data(), bytes.size()});  // not inside the file's bytes: ignored
      CHECK(std::vector<std::uint8_t>(f->bytes().begin(), f->bytes().end()) == bytes);
    }
  }

  TEST_CASE("empty files, missing files and directories") {
    scratch_file empty("mapped_file_test_empty.bin", {});
    auto e = io::mapped_file::open(empty.path);
    REQUIRE_MESSAGE(e.ok(), e.what());
    CHECK(e->size() == 0);
    CHECK(e->bytes().empty());
    CHECK(io::mapped_file::read(empty.path).value().size() == 0);

    auto missing = io::mapped_file::open("no_such_dir/no_such_file.gguf");
    CHECK(missing.err().code == errc::io_error);
    CHECK(missing.err().message.find("no_such_file.gguf") != std::string::npos);
    CHECK(io::mapped_file::read("no_such_dir/no_such_file.gguf").err().code == errc::io_error);
    CHECK(!io::mapped_file::open(".").ok());
  }
}
