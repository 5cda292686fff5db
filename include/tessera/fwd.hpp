// Forward declarations of tessera's public types, for headers that only name them.
#pragma once

namespace tessera {
struct error;
class status;
template <class T> class expected;
struct f16;
struct bf16;
struct block_q8_0;
struct block_q4_0;
struct block_q4_k;
class dims;
template <class T> class TensorView;
template <class T> class Tensor;
template <class T> class aligned_buffer;
class arena;
namespace runtime {
class thread_pool;
}
}  // namespace tessera
