// Aligned, owning storage for tensors and arenas. Allocation failure is an error, not a
// throw (the nothrow operator new), so a hostile size cannot crash the process.
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tessera {

inline void* aligned_allocate(std::size_t bytes, std::size_t alignment = TESSERA_ALIGNMENT) noexcept {
  if (bytes == 0) bytes = alignment;
  return ::operator new(bytes, std::align_val_t(alignment), std::nothrow);
}
inline void aligned_free(void* p, std::size_t alignment = TESSERA_ALIGNMENT) noexcept {
  ::operator delete(p, std::align_val_t(alignment));
}

// When a fresh buffer's pages are first touched: `lazy` lets each page fault in as it is
// written (a KV cache filled a position at a time must not commit its whole size up front);
// `now` is for a buffer the caller fills at once (a loaded tensor, packed weights, a planned
// workspace): its pages are mapped in one call instead of one fault each, which is most of a
// model's load time where faults are dear (virtual machines: 4-5 us each, measured).
enum class first_touch { lazy, now };

namespace detail {
inline void map_pages_now(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  if (bytes < (std::size_t{64} << 10)) return;  // a few pages: faulting is as cheap
  constexpr std::uintptr_t page = 4096;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(page - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);  // a hint: older kernels refuse it
#else
  (void)p;
  (void)bytes;
#endif
}
}  // namespace detail

// A move-only array of trivially copyable T aligned to TESSERA_ALIGNMENT. Memory is left
// uninitialised by allocate() and zeroed by allocate_zeroed().
template <class T>
class aligned_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "aligned_buffer holds plain data only");

 public:
  aligned_buffer() = default;
  ~aligned_buffer() { reset(); }
  aligned_buffer(aligned_buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  aligned_buffer& operator=(aligned_buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;

  status allocate(std::size_t n, first_touch touch = first_touch::lazy) {
    reset();
    if (n > (static_cast<std::size_t>(-1) >> 1) / sizeof(T))
      return make_error(errc::out_of_memory, "allocation of " + std::to_string(n) + " elements overflows");
    void* p = aligned_allocate(n * sizeof(T));
    if (!p) return make_error(errc::out_of_memory, "cannot allocate " + std::to_string(n * sizeof(T)) + " bytes");
    data_ = static_cast<T*>(p);
    size_ = n;
    if (touch == first_touch::now) detail::map_pages_now(p, n * sizeof(T));
    return {};
  }
  status allocate_zeroed(std::size_t n) {
    TESSERA_TRY(allocate(n, first_touch::now));  // the memset touches every page anyway
    if (n) std::memset(static_cast<void*>(data_), 0, n * sizeof(T));
    return {};
  }
  void reset() noexcept {
    if (data_) aligned_free(data_);
    data_ = nullptr;
    size_ = 0;
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace tessera
