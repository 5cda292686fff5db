// The outermost frame of the example tools. The loaders bound what a file declares, not what
// the machine has: a big valid model or input on a small heap can still make a std::vector or
// std::string allocation fail deep inside. Here that becomes "<tool>: out of memory" and exit
// status 1, never an abort. The WASM builds of the tools compile with -fwasm-exceptions so
// that this holds there too (examples/CMakeLists.txt).
#pragma once

#include <cstdio>
#include <new>
#include <stdexcept>
#include <utility>

namespace tessera_cli {

template <class Body>
int guarded_main(const char* tool, Body&& body) {
#if defined(__cpp_exceptions)
  try {
    return std::forward<Body>(body)();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: out of memory\n", tool);
  } catch (const std::length_error&) {  // a size past what the container can hold
    std::fprintf(stderr, "%s: out of memory (a size past the allocator's limit)\n", tool);
  }
  return 1;
#else
  (void)tool;
  return std::forward<Body>(body)();
#endif
}

}  // namespace tessera_cli
