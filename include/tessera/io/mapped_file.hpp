// A read-only view of a whole file's bytes. Natively the file is memory-mapped, so model
// weights are never copied and pages load on first touch; where mmap is unavailable
// (Emscripten, Windows) or refuses the file, it is read once into an aligned buffer.
// Either way bytes() starts at an address aligned to at least TESSERA_ALIGNMENT, so data
// aligned inside the file (GGUF tensors) is aligned in memory too. Errors are values.
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <utility>

#include "tessera/core/aligned.hpp"
#include "tessera/core/error.hpp"

#if !defined(__EMSCRIPTEN__) && __has_include(<sys/mman.h>) && __has_include(<unistd.h>)
#define TESSERA_IO_HAVE_MMAP 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#define TESSERA_IO_HAVE_MMAP 0
#endif

namespace tessera::io {

class mapped_file {
 public:
  mapped_file() = default;
  ~mapped_file() { release(); }
  mapped_file(mapped_file&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)),
        mapped_(std::exchange(o.mapped_, false)), buffer_(std::move(o.buffer_)) {}
  mapped_file& operator=(mapped_file&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      mapped_ = std::exchange(o.mapped_, false);
      buffer_ = std::move(o.buffer_);
    }
    return *this;
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  // How the caller will touch the bytes: `on_demand` (GGUF weights used in place: pages load
  // as layers first run) or `whole` (a parser that reads every byte at once, as the ONNX
  // importer does: the pages are read ahead in one call instead of one fault per page).
  enum class access { on_demand, whole };

  // Maps `path` where the platform can, else reads it (see read()).
  static expected<mapped_file> open(const std::string& path, access how = access::on_demand) {
#if TESSERA_IO_HAVE_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(errc::io_error, "cannot open '" + path + "'");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return make_error(errc::io_error, "'" + path + "' is not a regular file");
    }
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (file_size > std::numeric_limits<std::size_t>::max()) {
      ::close(fd);
      return make_error(errc::out_of_memory, "'" + path + "' does not fit in the address space");
    }
    mapped_file f;
    if (file_size == 0) {  // mmap refuses length 0; an empty view is the right answer
      ::close(fd);
      return f;
    }
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    if (how == access::whole) flags |= MAP_POPULATE;
#endif
    void* p = ::mmap(nullptr, static_cast<std::size_t>(file_size), PROT_READ, flags, fd, 0);
    ::close(fd);  // the mapping keeps the file alive
    if (p == MAP_FAILED) return read(path);  // e.g. a filesystem without mmap support
    f.data_ = static_cast<const std::uint8_t*>(p);
    f.size_ = static_cast<std::size_t>(file_size);
    f.mapped_ = true;
    return f;
#else
    (void)how;
    return read(path);
#endif
  }

  // Reads `path` into an aligned buffer of exactly its size (one allocation, no growth).
  static expected<mapped_file> read(const std::string& path) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) return make_error(errc::io_error, "cannot open '" + path + "'");
    mapped_file f;
    status st = f.read_all(fp, path);
    std::fclose(fp);
    if (!st.ok()) return st.err();
    return f;
  }

  std::span<const std::uint8_t> bytes() const noexcept { return {data_, size_}; }
  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  // True when the bytes are a mapping of the file rather than a copy.
  bool is_mapped() const noexcept { return mapped_; }
  // The bytes, writable, when they are this object's copy of the file (empty for a mapping).
  std::span<std::uint8_t> copy_bytes() noexcept { return mapped_ ? std::span<std::uint8_t>{} : std::span<std::uint8_t>{buffer_.data(), size_}; }

  // The caller will not read `range` (a part of bytes()) for a while: a mapping gives back the
  // pages wholly inside it, which leave the process's resident memory (they are read from the
  // file again if touched). A copy keeps its bytes. llm::model calls it on matrices it copied.
  void drop_pages(std::span<const std::uint8_t> range) const noexcept {
#if TESSERA_IO_HAVE_MMAP && defined(MADV_DONTNEED)
    if (!mapped_ || range.empty() || range.data() < data_ || range.data() + range.size() > data_ + size_) return;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(range.data()) + page - 1) / page * page;
    const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(range.data()) + range.size()) / page * page;
    if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advice: never an error
#else
    (void)range;
#endif
  }

 private:
  status read_all(std::FILE* fp, const std::string& path) {
    if (std::fseek(fp, 0, SEEK_END) != 0) return make_error(errc::io_error, "cannot seek in '" + path + "'");
    const long end = std::ftell(fp);
    if (end < 0 || std::fseek(fp, 0, SEEK_SET) != 0)
      return make_error(errc::io_error, "cannot tell the size of '" + path + "'");
    const auto n = static_cast<std::size_t>(end);
    TESSERA_TRY(buffer_.allocate(n));
    std::size_t got = 0;
    while (got < n) {
      const std::size_t r = std::fread(buffer_.data() + got, 1, n - got, fp);
      if (r == 0) break;
      got += r;
    }
    // A short read or bytes past the size seen above: the file changed under us, or a read failed.
    if (std::ferror(fp) || got != n || std::fgetc(fp) != EOF)
      return make_error(errc::io_error, "error reading '" + path + "' (" + std::to_string(got) + " of " +
                                            std::to_string(n) + " bytes)");
    data_ = buffer_.data();
    size_ = n;
    return {};
  }

  void release() noexcept {
#if TESSERA_IO_HAVE_MMAP
    if (mapped_ && data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
#endif
    data_ = nullptr;
    size_ = 0;
    mapped_ = false;
    buffer_.reset();
  }

  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
  aligned_buffer<std::uint8_t> buffer_;
};

}  // namespace tessera::io
