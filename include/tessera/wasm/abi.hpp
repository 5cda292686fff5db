// The C ABI every tessera WebAssembly module shares: errors, heap buffers, streamed model
// bytes, threads and build facts. A family's ABI (wasm/trees_abi.hpp, llm_abi.hpp, cnn_abi.hpp)
// adds its handles on top. The JS package (js/) drives these functions; nothing here knows JS.
//
// Conventions, for every exported function:
//   - Handles are opaque pointers; JS treats every pointer and size as unsigned (>>> 0).
//   - A function that can fail returns an int32 status (0 = ok, else a tessera::errc) or a
//     null handle; the failure's code and message are then read with tessera_error_code() and
//     tessera_error_message() (per thread, valid until the next failing call). JS turns them
//     into an Error carrying tessera's message.
//   - Nothing aborts on bad input or on exhausted memory: modules link -sABORTING_MALLOC=0 (a
//     failed malloc returns null) and build with -fwasm-exceptions, so a std::bad_alloc thrown
//     by a container deep inside a loader is caught at this boundary as errc::out_of_memory,
//     everything it had built is freed, and the module stays usable.
//
// Exported functions are `inline` (one definition however many TUs include the header) and
// kept alive for the linker by EMSCRIPTEN_KEEPALIVE. Natively they are plain C functions,
// which is how tests/wasm checks them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/core/error.hpp"
#include "tessera/io/json_string.hpp"
#include "tessera/runtime/thread_pool.hpp"
#include "tessera/version.hpp"

#if defined(__EMSCRIPTEN__)
#include <emscripten/emscripten.h>
#define TESSERA_WASM_EXPORT extern "C" EMSCRIPTEN_KEEPALIVE inline
#else
#define TESSERA_WASM_EXPORT extern "C" inline
#endif

// Bumped when an exported signature, a struct JS writes or reads, or a JSON field the JS package
// reads changes (js/src/core/wasm-runtime.js refuses a module of another version). 2: CNN
// tensors carry their element type.
#define TESSERA_WASM_ABI_VERSION 2

// The boundary's promise (nothing aborts on exhausted memory) rests on catching std::bad_alloc,
// which needs WebAssembly exceptions; without them a throw aborts the module. Emscripten's
// default build ignores exceptions, so a user's own module built with the defaults fails here
// instead of aborting on its first out-of-memory. Building with JavaScript exceptions
// (-sDISABLE_EXCEPTION_CATCHING=0, slower) also catches; it cannot be told apart from the
// default at compile time, so it takes the opt-out too.
#if defined(__EMSCRIPTEN__) && !defined(__wasm_exception_handling__) && !defined(TESSERA_WASM_WITHOUT_WASM_EXCEPTIONS)
#error "tessera's WebAssembly C ABI turns out-of-memory into an error by catching std::bad_alloc: compile and link with -fwasm-exceptions (tessera_add_wasm_module does), or define TESSERA_WASM_WITHOUT_WASM_EXCEPTIONS to build without (a failed allocation inside a container then aborts the module unless -sDISABLE_EXCEPTION_CATCHING=0)"
#endif

namespace tessera::wasm {

struct error_slot {
  std::int32_t code = 0;
  std::string message;
};

inline error_slot& last_error() {
  thread_local error_slot slot;
  return slot;
}

inline void set_error(const error& e) {
  error_slot& slot = last_error();
  slot.code = static_cast<std::int32_t>(e.code);
  // Assigning may itself need memory; an empty message is better than a second failure.
#if defined(__cpp_exceptions)
  try {
    slot.message = e.message;
  } catch (...) {
    slot.message.clear();
  }
#else
  slot.message = e.message;
#endif
}

// Runs fn (returning status) and turns a failure, or an exception thrown by the standard
// library (std::bad_alloc and std::length_error from allocations: tessera itself never
// throws), into the error slot. Returns the status code for the caller to hand back to JS.
template <class F>
std::int32_t guarded(F&& fn) {
#if defined(__cpp_exceptions)
  try {
#endif
    const status s = fn();
    if (s.ok()) return 0;
    set_error(s.err());
    return static_cast<std::int32_t>(s.code());
#if defined(__cpp_exceptions)
  } catch (const std::bad_alloc&) {
    set_error(make_error(errc::out_of_memory, "out of memory (the WebAssembly heap could not grow)"));
  } catch (const std::length_error&) {
    set_error(make_error(errc::out_of_memory, "out of memory (a size beyond what a 32-bit heap can hold)"));
  } catch (const std::exception& e) {
    set_error(make_error(errc::invalid_argument, e.what()));
  } catch (...) {
    // Emscripten 3.1.6's pthreads flavour throws the standard library's std::bad_alloc with a
    // type that no typed handler matches (seen with a 3.9 GB reserve): an allocation that
    // failed is all that can get here, since tessera itself never throws.
    set_error(make_error(errc::out_of_memory, "out of memory (an allocation failed)"));
  }
  return last_error().code;
#endif
}

// JSON string literals for the info documents the ABI hands to JS (invalid UTF-8 from a
// model file becomes U+FFFD, so JSON.parse always succeeds).
using io::append_json_string;

inline void append_json_strings(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, items[i]);
  }
  out += ']';
}

// Model bytes streamed in from JS: a stream's chunks are written straight into this buffer
// (tessera_bytes_append hands out where the next chunk goes), so the heap holds the file once
// and JS keeps no copy. With the total known up front (Content-Length, Blob.size) the buffer
// is allocated once at its final size; otherwise it grows geometrically, and dlmalloc
// usually extends the last allocation in place.
struct byte_buffer {
  std::vector<std::uint8_t> bytes;
  std::size_t expected = 0;
};

// A family's load export: takes the streamed bytes (freed whether or not the load succeeds),
// runs load(bytes, model) guarded, and returns the model, or null with the error slot set.
template <class Model, class Load>
Model* load_from_bytes(byte_buffer* bytes, Load&& load) {
  std::unique_ptr<byte_buffer> owned(bytes);
  std::unique_ptr<Model> model;
  const std::int32_t rc = guarded([&] { return load(std::move(owned), model); });
  return rc == 0 ? model.release() : nullptr;
}

// The worker threads of this module (a pthreads build); a single-threaded build runs inline.
inline runtime::thread_pool& module_pool() {
  static runtime::thread_pool pool(1);
  return pool;
}

// The pool to hand a kernel: null (inline) unless more than one thread was asked for.
inline runtime::thread_pool* active_pool() {
  runtime::thread_pool& p = module_pool();
  return p.num_threads() > 1 ? &p : nullptr;
}

}  // namespace tessera::wasm

TESSERA_WASM_EXPORT std::int32_t tessera_abi_version() { return TESSERA_WASM_ABI_VERSION; }

TESSERA_WASM_EXPORT std::int32_t tessera_error_code() { return tessera::wasm::last_error().code; }
TESSERA_WASM_EXPORT const char* tessera_error_message() { return tessera::wasm::last_error().message.c_str(); }

// Heap memory for JS to fill (rows, JSON text) or read (outputs). Null when the heap cannot
// grow: JS reports errc::out_of_memory.
TESSERA_WASM_EXPORT void* tessera_malloc(std::uint32_t bytes) { return std::malloc(bytes == 0 ? 1 : bytes); }
TESSERA_WASM_EXPORT void tessera_free(void* p) { std::free(p); }

// A buffer for a model's bytes; `expected_bytes` (0 if unknown) sizes it once.
TESSERA_WASM_EXPORT tessera::wasm::byte_buffer* tessera_bytes_new(std::uint32_t expected_bytes) {
  tessera::wasm::byte_buffer* out = nullptr;
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    auto b = std::make_unique<tessera::wasm::byte_buffer>();
    b->expected = expected_bytes;
    b->bytes.reserve(expected_bytes);
    out = b.release();
    return {};
  });
  return rc == 0 ? out : nullptr;
}

// Where JS writes the next `n` bytes (valid until the next call on this buffer); null on
// failure (out of memory, or more bytes than a 32-bit heap can address).
TESSERA_WASM_EXPORT std::uint8_t* tessera_bytes_append(tessera::wasm::byte_buffer* b, std::uint32_t n) {
  std::uint8_t* out = nullptr;
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (b == nullptr) return tessera::make_error(tessera::errc::invalid_argument, "bytes_append: no buffer");
    const std::size_t at = b->bytes.size();
    if (n > b->bytes.max_size() - at)
      return tessera::make_error(tessera::errc::out_of_memory, "model bytes: more than a 32-bit heap can hold");
    if (at + n > b->bytes.capacity()) b->bytes.reserve(std::max<std::size_t>(at + n, at + at / 2));
    b->bytes.resize(at + n);
    out = b->bytes.data() + at;
    return {};
  });
  return rc == 0 ? out : nullptr;
}

TESSERA_WASM_EXPORT std::uint32_t tessera_bytes_size(const tessera::wasm::byte_buffer* b) {
  return b == nullptr ? 0u : static_cast<std::uint32_t>(b->bytes.size());
}
TESSERA_WASM_EXPORT void tessera_bytes_free(tessera::wasm::byte_buffer* b) { delete b; }

// Threads for the kernels: n >= 1 (clamped to what the build can run). A pthreads build must
// have the workers ready (the JS loader links PTHREAD_POOL_SIZE from the requested count).
// Returns the number of threads in use, or -1 with the error slot set.
TESSERA_WASM_EXPORT std::int32_t tessera_set_threads(std::int32_t n) {
  std::int32_t used = 1;
  const std::int32_t rc = tessera::wasm::guarded([&]() -> tessera::status {
    if (n < 1) return tessera::make_error(tessera::errc::invalid_argument, "threads must be at least 1");
    const std::size_t want = TESSERA_THREADS ? static_cast<std::size_t>(n) : 1;
    tessera::runtime::thread_pool& pool = tessera::wasm::module_pool();
    if (pool.num_threads() != want) pool.set_num_threads(want);
    used = static_cast<std::int32_t>(pool.num_threads());
    return {};
  });
  return rc == 0 ? used : -1;
}

TESSERA_WASM_EXPORT std::int32_t tessera_threads() {
  return static_cast<std::int32_t>(tessera::wasm::module_pool().num_threads());
}

// What this module was built with, as JSON: {"abi":1,"version":"0.1.0","threads":false,...}.
TESSERA_WASM_EXPORT const char* tessera_build_info() {
  static const std::string info = [] {
    std::string s = "{\"abi\":" + std::to_string(TESSERA_WASM_ABI_VERSION) + ",\"version\":\"" +
                    std::to_string(TESSERA_VERSION_MAJOR) + "." + std::to_string(TESSERA_VERSION_MINOR) + "." +
                    std::to_string(TESSERA_VERSION_PATCH) + "\",\"threads\":" + (TESSERA_THREADS ? "true" : "false") +
                    ",\"exceptions\":";
#if defined(__cpp_exceptions)
    s += "true";
#else
    s += "false";
#endif
#if defined(__wasm_simd128__)
    s += ",\"simd\":\"simd128\"";
#else
    s += ",\"simd\":\"native\"";
#endif
    return s + "}";
  }();
  return info.c_str();
}
