// Causal multi-head attention over a KV cache, grouped-query when there are fewer KV heads
// than query heads (query head h reads KV head h / (n_heads / n_kv_heads)).
//
//   llm::kv_cache cache = *llm::kv_cache::create(layers, context, kv_dim, v_dim, llm::kv_cache_type::f16);
//   cache.store(layer, pos, k, v);
//   llm::attend(out, q, cache, layer, {first, last}, shape, scores);  // keys first..last inclusive
//
// Scores are q.k * scale, optionally soft-capped (cap * tanh(s / cap)), softmax'd in f32 with
// the maximum subtracted, then the values are summed with those weights. A sliding window is
// the caller's choice of `first`. The cache holds f32 or f16 rows (f16 halves its memory;
// rows are converted to f32 on the fly by the dot and axpy kernels).
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/tensor.hpp>
#include <tessera/kernels/quant.hpp>
#include <tessera/kernels/softmax.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace tessera::llm {

enum class kv_cache_type { f32, f16 };

class kv_cache {
 public:
  static expected<kv_cache> create(std::uint32_t layers, std::uint32_t context, std::uint32_t kv_dim, std::uint32_t v_dim, kv_cache_type type) {
    kv_cache c;
    c.layers_ = layers;
    c.context_ = context;
    c.kv_dim_ = kv_dim;
    c.v_dim_ = v_dim;
    c.type_ = type;
    const std::uint64_t per_layer = std::uint64_t{context} * (kv_dim + v_dim);
    const std::uint64_t elements = per_layer * layers;
    const std::size_t width = type == kv_cache_type::f32 ? 4 : 2;
    if (elements == 0 || elements > (std::uint64_t{1} << 40) / width)
      return make_error(errc::out_of_memory, "kv cache: " + std::to_string(layers) + " layers x " + std::to_string(context) + " positions x " +
                                                 std::to_string(kv_dim + v_dim) + " values is too large");
    TESSERA_TRY(c.bytes_.allocate(static_cast<std::size_t>(elements * width)));
    return c;
  }

  kv_cache_type type() const { return type_; }
  std::uint32_t context() const { return context_; }
  std::uint32_t kv_dim() const { return kv_dim_; }
  std::uint32_t v_dim() const { return v_dim_; }
  std::size_t bytes() const { return bytes_.size(); }

  // Keys and values of layer `layer` at position `pos` (kv_dim and v_dim values).
  void store(std::uint32_t layer, std::uint32_t pos, const float* k, const float* v) {
    if (type_ == kv_cache_type::f32) {
      std::memcpy(keys<float>(layer) + std::size_t{pos} * kv_dim_, k, kv_dim_ * sizeof(float));
      std::memcpy(values<float>(layer) + std::size_t{pos} * v_dim_, v, v_dim_ * sizeof(float));
    } else {
      f16* kd = keys<f16>(layer) + std::size_t{pos} * kv_dim_;
      f16* vd = values<f16>(layer) + std::size_t{pos} * v_dim_;
      for (std::uint32_t i = 0; i < kv_dim_; ++i) kd[i] = f16(k[i]);
      for (std::uint32_t i = 0; i < v_dim_; ++i) vd[i] = f16(v[i]);
    }
  }

  // Layer `layer`'s rows: context x kv_dim keys, then context x v_dim values.
  template <class T>
  T* keys(std::uint32_t layer) { return reinterpret_cast<T*>(bytes_.data()) + layer_offset(layer); }
  template <class T>
  const T* keys(std::uint32_t layer) const { return reinterpret_cast<const T*>(bytes_.data()) + layer_offset(layer); }
  template <class T>
  T* values(std::uint32_t layer) { return keys<T>(layer) + std::size_t{context_} * kv_dim_; }
  template <class T>
  const T* values(std::uint32_t layer) const { return keys<T>(layer) + std::size_t{context_} * kv_dim_; }

 private:
  std::size_t layer_offset(std::uint32_t layer) const { return std::size_t{layer} * context_ * (kv_dim_ + v_dim_); }

  aligned_buffer<std::uint8_t> bytes_;
  std::uint32_t layers_ = 0, context_ = 0, kv_dim_ = 0, v_dim_ = 0;
  kv_cache_type type_ = kv_cache_type::f32;
};

struct attention_shape {
  std::uint32_t n_heads = 0, n_kv_heads = 0, head_dim = 0, head_dim_v = 0;
  float scale = 1.0f;    // multiplies q.k
  float softcap = 0.0f;  // > 0: scores become softcap * tanh(score / softcap)
};

// out[n_heads * head_dim_v] = attention of query q[n_heads * head_dim] over the cached
// positions [first, last] of `layer`; `scores` holds last - first + 1 floats of scratch.
// Heads in [head_begin, head_end) only (callers split heads over threads).
template <class T>
void attend_heads(float* out, const float* q, const T* K, const T* V, std::uint32_t kv_dim, std::uint32_t v_dim, std::uint32_t first,
                  std::uint32_t last, const attention_shape& s, std::uint32_t head_begin, std::uint32_t head_end, float* scores) {
  const std::uint32_t group = s.n_heads / s.n_kv_heads;
  const std::uint32_t n = last - first + 1;
  for (std::uint32_t h = head_begin; h < head_end; ++h) {
    const std::uint32_t kvh = h / group;
    const float* qh = q + std::size_t{h} * s.head_dim;
    const auto key = [&](std::uint32_t t) { return K + std::size_t{first + t} * kv_dim + std::size_t{kvh} * s.head_dim; };
    const auto value = [&](std::uint32_t t) { return V + std::size_t{first + t} * v_dim + std::size_t{kvh} * s.head_dim_v; };
    // Positions 4 at a time share the loads of q (and of out below); same results as one by one.
    std::uint32_t t = 0;
    for (; t + 4 <= n; t += 4) {
      const T* keys[4] = {key(t), key(t + 1), key(t + 2), key(t + 3)};
      kernels::dot_rows4(keys, qh, s.head_dim, scores + t);
    }
    for (; t < n; ++t) scores[t] = kernels::dot_row(key(t), qh, s.head_dim);
    for (t = 0; t < n; ++t) {
      float score = scores[t] * s.scale;
      if (s.softcap > 0) score = s.softcap * std::tanh(score / s.softcap);
      scores[t] = score;
    }
    (void)kernels::softmax<float>(TensorView<float>(scores, {n}), TensorView<const float>(scores, {n}));
    float* oh = out + std::size_t{h} * s.head_dim_v;
    std::fill(oh, oh + s.head_dim_v, 0.0f);
    for (t = 0; t + 4 <= n; t += 4) {
      const T* values[4] = {value(t), value(t + 1), value(t + 2), value(t + 3)};
      kernels::axpy_rows4(oh, scores + t, values, s.head_dim_v);
    }
    for (; t < n; ++t) kernels::axpy_row(oh, scores[t], value(t), s.head_dim_v);
  }
}

// All heads of one query against the cache of `layer`.
inline void attend(float* out, const float* q, const kv_cache& cache, std::uint32_t layer, std::uint32_t first, std::uint32_t last,
                   const attention_shape& s, float* scores, std::uint32_t head_begin = 0, std::uint32_t head_end = ~0u) {
  head_end = std::min(head_end, s.n_heads);
  if (cache.type() == kv_cache_type::f32)
    attend_heads(out, q, cache.keys<float>(layer), cache.values<float>(layer), cache.kv_dim(), cache.v_dim(), first, last, s, head_begin, head_end, scores);
  else
    attend_heads(out, q, cache.keys<f16>(layer), cache.values<f16>(layer), cache.kv_dim(), cache.v_dim(), first, last, s, head_begin, head_end, scores);
}

}  // namespace tessera::llm
