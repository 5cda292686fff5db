// The ABI tests' way of handing a model over: bytes streamed into a byte buffer `chunk` bytes at
// a time, as the JS loader does (tessera_bytes_new, then tessera_bytes_append per chunk).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "tessera/wasm/abi.hpp"

namespace tessera_wasm_test {

// announce_size: the total is given up front (Content-Length, Blob.size), else the buffer grows.
inline tessera::wasm::byte_buffer* stream_bytes(std::span<const std::uint8_t> bytes, std::size_t chunk, bool announce_size) {
  tessera::wasm::byte_buffer* b = tessera_bytes_new(announce_size ? static_cast<std::uint32_t>(bytes.size()) : 0u);
  REQUIRE(b != nullptr);
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    const std::size_t n = std::min(chunk, bytes.size() - at);
    std::uint8_t* dst = tessera_bytes_append(b, static_cast<std::uint32_t>(n));
    REQUIRE(dst != nullptr);
    std::memcpy(dst, bytes.data() + at, n);
  }
  CHECK(tessera_bytes_size(b) == bytes.size());
  return b;
}

inline tessera::wasm::byte_buffer* stream_bytes(std::string_view text, std::size_t chunk, bool announce_size) {
  return stream_bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), chunk,
                      announce_size);
}

}  // namespace tessera_wasm_test
