// A scratch arena: bump allocation from large aligned blocks, released all at once.
//
// tessera's one policy for scratch memory: every temporary a kernel or a model needs comes
// from an arena, the caller's (a model's planned workspace, llama2.c's RunState) or else the
// calling thread's (thread_arena()), inside an arena_scope; a failed allocation is an
// errc::out_of_memory value, never an abort.
//
// Inference code asks the arena for temporaries instead of the heap. The first run may
// grow the arena (a new block when the current one is full); reset() then merges the
// blocks into one of the high-water size, so every later run of the same workload makes
// zero heap allocations. freeze() turns growth into an error, to prove that property or to
// cap memory for untrusted inputs.
#pragma once

#include <tessera/config.hpp>
#include <tessera/core/aligned.hpp>
#include <tessera/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace tessera {

class arena {
 public:
  explicit arena(std::size_t initial_bytes = 0) {
    if (initial_bytes) (void)add_block(initial_bytes);
  }
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;
  arena(arena&&) = default;
  arena& operator=(arena&&) = default;

  // Uninitialised storage for n objects of trivially copyable T, aligned to `alignment`.
  template <class T>
  expected<T*> allocate(std::size_t n, std::size_t alignment = TESSERA_ALIGNMENT) {
    static_assert(std::is_trivially_copyable_v<T>, "arena memory is never destroyed");
    if (n > (static_cast<std::size_t>(-1) / 4) / sizeof(T))
      return make_error(errc::out_of_memory, "arena: request of " + std::to_string(n) + " elements overflows");
    TESSERA_ASSIGN_OR_RETURN(void* p, allocate_bytes(n * sizeof(T), alignment));
    return static_cast<T*>(p);
  }

  expected<void*> allocate_bytes(std::size_t bytes, std::size_t alignment = TESSERA_ALIGNMENT) {
    if (alignment == 0 || (alignment & (alignment - 1)) || alignment > TESSERA_ALIGNMENT)
      return make_error(errc::invalid_argument, "arena: alignment must be a power of two <= TESSERA_ALIGNMENT");
    if (bytes == 0) bytes = 1;
    if (!blocks_.empty()) {
      block& b = blocks_[current_];
      const std::size_t start = align_up(b.used, alignment);
      if (start <= b.memory.size() && bytes <= b.memory.size() - start) {
        b.used = start + bytes;
        return finish(b.memory.data() + start, bytes);
      }
      // Earlier-allocated later blocks (after a rewind) are reused before growing.
      for (std::size_t i = current_ + 1; i < blocks_.size(); ++i) {
        if (blocks_[i].used == 0 && bytes <= blocks_[i].memory.size()) {
          current_ = i;
          blocks_[i].used = bytes;
          return finish(blocks_[i].memory.data(), bytes);
        }
      }
    }
    if (frozen_)
      return make_error(errc::out_of_memory, "arena is frozen and a request of " + std::to_string(bytes) +
                                                 " bytes does not fit (capacity " + std::to_string(capacity()) + ")");
    const std::size_t last = blocks_.empty() ? 0 : blocks_.back().memory.size();
    TESSERA_TRY(add_block(bytes > 2 * last ? bytes : 2 * last));
    current_ = blocks_.size() - 1;
    blocks_[current_].used = bytes;
    return finish(blocks_[current_].memory.data(), bytes);
  }

  // Makes room for `bytes` in an empty arena now, so the first requests up to that size do
  // not allocate (a thread pool's workers, whose first task may come in a timed or
  // allocation-free call).
  status reserve(std::size_t bytes) {
    if (!blocks_.empty() || bytes == 0) return {};
    return add_block(bytes);
  }

  // A position to rewind to: everything allocated after it is released together.
  struct marker {
    std::size_t block = 0, used = 0, in_use = 0;
  };
  marker mark() const {
    return blocks_.empty() ? marker{} : marker{current_, blocks_[current_].used, in_use_};
  }
  void rewind(const marker& m) {
    if (blocks_.empty()) return;
    for (std::size_t i = m.block + 1; i < blocks_.size(); ++i) blocks_[i].used = 0;
    current_ = m.block;
    blocks_[current_].used = m.used;
    in_use_ = m.in_use;
  }

  // Releases everything; merges blocks into one of the high-water size (unless frozen).
  void reset() {
    if (blocks_.size() > 1 && !frozen_) {
      const std::size_t want = high_water_;
      blocks_.clear();
      (void)add_block(want);
    }
    for (block& b : blocks_) b.used = 0;
    current_ = 0;
    in_use_ = 0;
  }

  void freeze(bool frozen = true) { frozen_ = frozen; }
  bool frozen() const { return frozen_; }

  std::size_t capacity() const {
    std::size_t c = 0;
    for (const block& b : blocks_) c += b.memory.size();
    return c;
  }
  std::size_t bytes_in_use() const { return in_use_; }
  // Largest bytes_in_use() seen (counting alignment padding conservatively).
  std::size_t high_water() const { return high_water_; }
  // Heap allocations the arena made since construction: stays constant in steady state.
  std::size_t heap_allocations() const { return heap_allocations_; }

 private:
  struct block {
    aligned_buffer<unsigned char> memory;
    std::size_t used = 0;
  };

  static std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) & ~(a - 1); }

  void* finish(unsigned char* p, std::size_t bytes) {
    in_use_ += align_up(bytes, TESSERA_ALIGNMENT);
    if (in_use_ > high_water_) high_water_ = in_use_;
    return p;
  }

  status add_block(std::size_t bytes) {
    bytes = align_up(bytes < 4096 ? 4096 : bytes, TESSERA_ALIGNMENT);
    block b;
    TESSERA_TRY(b.memory.allocate(bytes));
    blocks_.push_back(std::move(b));
    ++heap_allocations_;
    return {};
  }

  std::vector<block> blocks_;
  std::size_t current_ = 0;
  std::size_t in_use_ = 0;
  std::size_t high_water_ = 0;
  std::size_t heap_allocations_ = 0;
  bool frozen_ = false;
};

// The calling thread's scratch arena: where a kernel takes its temporaries when the caller
// passes no arena of its own. It keeps its blocks for the thread's life, so a thread that
// repeats a workload allocates only on its first run.
inline arena& thread_arena() {
  thread_local arena a;
  return a;
}

// Rewinds an arena to where it was when this scope began.
class arena_scope {
 public:
  explicit arena_scope(arena& a) : arena_(a), mark_(a.mark()) {}
  ~arena_scope() { arena_.rewind(mark_); }
  arena_scope(const arena_scope&) = delete;
  arena_scope& operator=(const arena_scope&) = delete;

 private:
  arena& arena_;
  arena::marker mark_;
};

}  // namespace tessera
