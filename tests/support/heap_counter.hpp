// Counts every operator new of the test binary that includes it, so a test can show that a
// call made no heap allocation at all (an arena's own count sees only the arena's blocks,
// not a std::vector growing somewhere in the run path). It replaces the global operator
// new and delete: include it from exactly one source file of a test binary.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> operator_new_calls{0};

void* counted_allocation(std::size_t bytes, std::size_t alignment) noexcept {
  operator_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (bytes == 0) bytes = 1;
  if (alignment <= alignof(std::max_align_t)) return std::malloc(bytes);
  return std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
}
void* counted_allocation_or_throw(std::size_t bytes, std::size_t alignment) {
  void* p = counted_allocation(bytes, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Heap allocations (operator new calls, from any thread) made while fn runs.
template <class F>
std::size_t heap_allocations_during(F&& fn) {
  const std::size_t before = operator_new_calls.load();
  fn();
  return operator_new_calls.load() - before;
}
}  // namespace

void* operator new(std::size_t n) { return counted_allocation_or_throw(n, 0); }
void* operator new[](std::size_t n) { return counted_allocation_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_allocation_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_allocation_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_allocation(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_allocation(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_allocation(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_allocation(n, static_cast<std::size_t>(a));
}
// GCC 12 at -O1 takes the inlined pair of these replacements for a built-in new freed with
// free() (-Wmismatched-new-delete); they are matched: every new above is malloc/aligned_alloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
