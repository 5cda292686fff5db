// The GGUF reader sizes tensors from its own table (io/ only reaches core/, but the reader
// must not depend on the block structs' padding); this test keeps that table and the block
// structs of core/dtype.hpp in agreement.
#include <tessera/core/dtype.hpp>
#include <tessera/io/gguf.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>

namespace {
using tessera::dtype;
using tessera::io::ggml_type;

struct pair_of_tags {
  dtype tessera_type;
  ggml_type gguf_type;
};

constexpr pair_of_tags block_types[] = {
    {dtype::q4_0, ggml_type::q4_0}, {dtype::q4_1, ggml_type::q4_1}, {dtype::q5_0, ggml_type::q5_0},
    {dtype::q5_1, ggml_type::q5_1}, {dtype::q8_0, ggml_type::q8_0}, {dtype::q8_1, ggml_type::q8_1},
    {dtype::q4_k, ggml_type::q4_k}, {dtype::q5_k, ggml_type::q5_k}, {dtype::q6_k, ggml_type::q6_k},
    {dtype::q8_k, ggml_type::q8_k},
};
}  // namespace

TEST_CASE("gguf block sizes agree with the block structs of core/dtype.hpp") {
  for (const auto& [t, g] : block_types) {
    const auto traits = tessera::traits_of(t);
    const auto layout = tessera::io::ggml_layout(static_cast<std::uint32_t>(g));
    CAPTURE(traits.name);
    REQUIRE(layout.name != nullptr);
    CHECK(std::string(layout.name) == traits.name);
    CHECK(layout.block_elements == traits.block_elements);
    CHECK(layout.block_bytes == traits.block_bytes);
  }
}
