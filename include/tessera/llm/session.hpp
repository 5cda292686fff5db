// One conversation with a model: its KV cache, its position and all the scratch a forward
// pass needs, allocated when the session is created (a decode step allocates nothing). Any
// number of sessions can share one (immutable) model, each on its own thread.
//
//   llm::session s = *llm::session::create(model, {.context = 2048, .threads = &pool});
//   TESSERA_TRY(s.decode(prompt_ids));            // batched: many tokens per matmul
//   std::span<const float> logits = s.logits();   // of the last token fed
//   TESSERA_TRY(s.decode({&next_id, 1}));          // one token: the matrix-vector path
//
// forward() below is the whole model, one readable step per line (llama2.c's run.c shape),
// over a batch of tokens: every matrix is multiplied once per batch, so prompt processing
// streams the weights once per `batch` tokens.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/kernels/quant.hpp>
#include <tessera/llm/attention.hpp>
#include <tessera/llm/blocks.hpp>
#include <tessera/llm/config.hpp>
#include <tessera/llm/model.hpp>
#include <tessera/llm/rope.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace tessera::llm {

struct session_options {
  std::uint32_t context = 0;   // positions the KV cache holds; 0: the model's, at most 4096
  std::uint32_t batch = 32;    // tokens per forward pass when feeding a prompt
  // Batches of 32 tokens or more as f32 products of dequantized weights through gemm_f32
  // (kernels::quant_matmul::f32_panels): about 2x faster prompts natively, but the logits then
  // depend on how the prompt was batched (a kept KV cache and a fresh session can part ways in
  // the last bits) and on the build. Off: a prompt gives the same logits however it is batched.
  // Matrices the model regrouped (x86, see kernels::regroup) keep their integer kernels, which
  // are faster still.
  bool prompt_f32 = false;
  kv_cache_type kv_type = kv_cache_type::f32;
  runtime::thread_pool* pool = nullptr;  // nullptr: runtime::default_pool()
};

class session {
 public:
  static expected<session> create(const model& m, const session_options& opts = {}) {
    const model_config& c = m.config();
    session s;
    s.model_ = &m;
    s.pool_ = &runtime::pool_or_default(opts.pool);
    s.context_ = opts.context ? opts.context : std::min<std::uint32_t>(c.context_length, 4096);
    if (s.context_ == 0) return make_error(errc::invalid_argument, "session: a context of 0 positions");
    s.batch_ = std::max<std::uint32_t>(1, std::min(opts.batch, s.context_));
    s.matmul_ = opts.prompt_f32 ? kernels::quant_matmul::f32_panels : kernels::quant_matmul::integer;
    TESSERA_ASSIGN_OR_RETURN(s.cache_, kv_cache::create(c.n_layers, s.context_, c.kv_dim(), c.v_dim(), opts.kv_type));
    const std::size_t B = s.batch_;
    const std::size_t qkv = std::size_t{c.q_dim()} + c.kv_dim() + c.v_dim();
    const std::size_t ffn = std::size_t{c.hidden_dim} * (c.fused_gate_up ? 2 : 1);
    const std::size_t threads = s.pool_->num_threads();
    // One block of floats, carved into the buffers of forward().
    const std::size_t sizes[] = {B * c.dim,          B * c.dim,     B * qkv,        B * c.n_heads * std::size_t{c.head_dim_v},
                                 B * c.dim,          B * ffn,       B * c.hidden_dim, c.vocab_size,
                                 threads * s.context_, B * c.rope.n_rot, B * c.rope.n_rot};
    std::size_t total = 0;
    for (std::size_t n : sizes) total += (n + 15) / 16 * 16;
    TESSERA_TRY(s.floats_.allocate_zeroed(total));
    float* p = s.floats_.data();
    float** slots[] = {&s.x_, &s.xb_, &s.qkv_, &s.att_, &s.out_, &s.hb_, &s.hb2_, &s.logits_, &s.scores_, &s.rope_global_, &s.rope_local_};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
      *slots[i] = p;
      p += (sizes[i] + 15) / 16 * 16;
    }
    // The activation-quantization scratch of the widest matmul, reserved now: decode steps
    // then never grow the arena.
    const std::size_t widest = std::max({std::size_t{c.dim}, std::size_t{c.hidden_dim}, std::size_t{c.n_heads} * c.head_dim_v});
    s.scratch_ = std::make_unique<arena>(B * widest * 2 + 4096);
    return s;
  }

  const model& owner() const { return *model_; }
  std::uint32_t position() const { return position_; }
  std::uint32_t context() const { return context_; }
  std::uint32_t batch() const { return batch_; }
  const kv_cache& cache() const { return cache_; }
  // Logits of the last token decode() was given (vocab_size values).
  std::span<const float> logits() const { return {logits_, model_->config().vocab_size}; }

  // Forgets everything: the next token goes to position 0.
  void reset() { position_ = 0; }
  // Keeps the first `position` tokens' cache (to re-decode from there).
  status rewind(std::uint32_t position) {
    if (position > position_) return make_error(errc::out_of_range, "session: cannot rewind to " + std::to_string(position) + ", past the position " + std::to_string(position_));
    position_ = position;
    return {};
  }

  // Feeds tokens at the next positions. Afterwards logits() holds the last token's logits;
  // all_logits, when given, receives tokens.size() rows of vocab_size values (every token's).
  status decode(std::span<const std::int32_t> tokens, float* all_logits = nullptr) {
    const model_config& c = model_->config();
    if (tokens.empty()) return {};
    if (tokens.size() > context_ - position_)
      return make_error(errc::out_of_range, "session: " + std::to_string(tokens.size()) + " tokens at position " + std::to_string(position_) +
                                                " exceed the context of " + std::to_string(context_) + " positions");
    for (std::size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] < 0 || static_cast<std::uint32_t>(tokens[i]) >= c.vocab_size)
        return make_error(errc::out_of_range, "session: token " + std::to_string(i) + " is id " + std::to_string(tokens[i]) +
                                                  " (vocabulary of " + std::to_string(c.vocab_size) + ")");
    for (std::size_t done = 0; done < tokens.size(); done += batch_) {
      const std::size_t n = std::min<std::size_t>(batch_, tokens.size() - done);
      const bool last_chunk = done + n == tokens.size();
      float* rows_out = all_logits ? all_logits + done * c.vocab_size : nullptr;
      TESSERA_TRY(forward(tokens.subspan(done, n), rows_out, last_chunk));
    }
    return {};
  }

 private:
  session() = default;

  // Tokens at positions position_ .. position_ + n - 1, n <= batch_. Writes every token's
  // logits to all_logits when given, and the last one's to logits_ when want_last.
  status forward(std::span<const std::int32_t> tokens, float* all_logits, bool want_last) {
    const model_config& c = model_->config();
    const model_weights& w = model_->weights();
    runtime::thread_pool* pool = pool_;
    arena* scratch = scratch_.get();
    const kernels::quant_matmul how = matmul_;
    const std::size_t n = tokens.size(), dim = c.dim;
    const std::size_t q_dim = c.q_dim(), kv_dim = c.kv_dim(), v_dim = c.v_dim();
    const std::size_t qkv_stride = q_dim + kv_dim + v_dim;
    const std::size_t hidden = c.hidden_dim;

    // x = token embeddings (* sqrt(dim) for Gemma)
    for (std::size_t i = 0; i < n; ++i) {
      const kernels::quant_matrix& E = w.token_embd;
      TESSERA_TRY(kernels::dequantize_row(E.type, E.row(static_cast<std::size_t>(tokens[i])), x_ + i * dim, dim));
      if (c.embedding_scale != 1.0f)
        for (std::size_t k = 0; k < dim; ++k) x_[i * dim + k] *= c.embedding_scale;
    }
    // RoPE angles of each token's position: global layers and (Gemma 3) sliding ones.
    const std::size_t half = c.rope.n_rot;  // cos, sin per rotated pair
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t pos = position_ + static_cast<std::uint32_t>(i);
      rope_angles(rope_global_ + i * half, pos, c.rope, c.rope.freq_base, c.rope.freq_scale, w.rope_factors);
      if (c.sliding_window) rope_angles(rope_local_ + i * half, pos, c.rope, c.rope.freq_base_sliding, 1.0f, nullptr);
    }

    for (std::uint32_t l = 0; l < c.n_layers; ++l) {
      const layer_weights& L = w.layers[l];
      const bool sliding = c.is_sliding(l);
      float* q = qkv_;
      float* k = qkv_ + q_dim;
      float* v = qkv_ + q_dim + kv_dim;

      // attention: xb = norm(x); q, k, v = xb Wq, xb Wk, xb Wv (+ biases)
      TESSERA_TRY(rms_norm_rows(xb_, x_, n, dim, L.attn_norm, c.norm_eps));
      if (L.wqkv.data) {
        TESSERA_TRY(linear(qkv_, qkv_stride, n, L.wqkv, xb_, nullptr, pool, scratch, how));
      } else {
        TESSERA_TRY(linear(q, qkv_stride, n, L.wq, xb_, L.bq, pool, scratch, how));
        TESSERA_TRY(linear(k, qkv_stride, n, L.wk, xb_, L.bk, pool, scratch, how));
        TESSERA_TRY(linear(v, qkv_stride, n, L.wv, xb_, L.bv, pool, scratch, how));
      }
      for (std::size_t i = 0; i < n; ++i) {
        float* qi = q + i * qkv_stride;
        float* ki = k + i * qkv_stride;
        // QK-norm (Gemma 3): each head normalized on its own
        if (L.q_norm) {
          TESSERA_TRY(rms_norm_rows(qi, qi, c.n_heads, c.head_dim, L.q_norm, c.norm_eps));
          TESSERA_TRY(rms_norm_rows(ki, ki, c.n_kv_heads, c.head_dim, L.k_norm, c.norm_eps));
        }
        // RoPE on queries and keys, then the keys and values join the cache
        const float* angles = (sliding ? rope_local_ : rope_global_) + i * half;
        apply_rope(qi, c.n_heads, c.head_dim, c.rope.n_rot, c.rope.style, angles);
        apply_rope(ki, c.n_kv_heads, c.head_dim, c.rope.n_rot, c.rope.style, angles);
        cache_.store(l, position_ + static_cast<std::uint32_t>(i), ki, v + i * qkv_stride);
      }
      // softmax(q k^T * scale) v over each token's visible past (a window on sliding layers)
      TESSERA_TRY(attention(l, n, sliding, q, qkv_stride));
      // x += norm?(att Wo)
      TESSERA_TRY(linear(out_, dim, n, L.wo, att_, L.bo, pool, scratch, how));
      if (L.attn_post_norm) TESSERA_TRY(rms_norm_rows(out_, out_, n, dim, L.attn_post_norm, c.norm_eps));
      add_rows(x_, out_, n * dim);

      // feed-forward: x += norm?(act(xb Wgate) * (xb Wup) Wdown), xb = norm(x)
      TESSERA_TRY(rms_norm_rows(xb_, x_, n, dim, L.ffn_norm, c.norm_eps));
      if (c.fused_gate_up) {
        TESSERA_TRY(linear(hb_, 2 * hidden, n, L.w_up, xb_, nullptr, pool, scratch, how));
        for (std::size_t i = 0; i < n; ++i)
          gated_activation(hb2_ + i * hidden, hb_ + i * 2 * hidden, hb_ + i * 2 * hidden + hidden, hidden, c.activation);
      } else {
        TESSERA_TRY(linear(hb_, hidden, n, L.w_gate, xb_, nullptr, pool, scratch, how));
        TESSERA_TRY(linear(hb2_, hidden, n, L.w_up, xb_, nullptr, pool, scratch, how));
        gated_activation(hb2_, hb_, hb2_, n * hidden, c.activation);
      }
      TESSERA_TRY(linear(out_, dim, n, L.w_down, hb2_, nullptr, pool, scratch, how));
      if (L.ffn_post_norm) TESSERA_TRY(rms_norm_rows(out_, out_, n, dim, L.ffn_post_norm, c.norm_eps));
      add_rows(x_, out_, n * dim);
    }
    position_ += static_cast<std::uint32_t>(n);

    // logits = norm(x) Wout, soft-capped when the model says so: every row, or the last one
    const std::size_t first = all_logits ? 0 : n - 1;
    const std::size_t rows = n - first;
    if (!all_logits && !want_last) return {};
    TESSERA_TRY(rms_norm_rows(xb_, x_ + first * dim, rows, dim, w.output_norm, c.norm_eps));
    float* dest = all_logits ? all_logits : logits_;
    TESSERA_TRY(linear(dest, c.vocab_size, rows, w.output, xb_, nullptr, pool, scratch, how));
    if (c.final_softcap > 0)
      for (std::size_t i = 0; i < rows * c.vocab_size; ++i) dest[i] = c.final_softcap * std::tanh(dest[i] / c.final_softcap);
    if (all_logits && want_last) std::copy(dest + (rows - 1) * c.vocab_size, dest + rows * c.vocab_size, logits_);
    return {};
  }

  // att_[i] = attention of token i's query over positions first(i)..pos(i) of layer l, the
  // (token, head) pairs split over the pool's threads, each thread with its own score row.
  status attention(std::uint32_t l, std::size_t n, bool sliding, const float* q, std::size_t q_stride) {
    const model_config& c = model_->config();
    const attention_shape shape{c.n_heads, c.n_kv_heads, c.head_dim, c.head_dim_v, c.attention_scale, c.attn_softcap};
    const std::size_t att_dim = std::size_t{c.n_heads} * c.head_dim_v;
    const std::size_t tasks = n * c.n_heads;
    pool_->run(std::min<std::size_t>(tasks, pool_->num_threads() * 4), [&](std::size_t task, std::size_t thread) {
      const std::size_t per = (tasks + pool_->num_threads() * 4 - 1) / (pool_->num_threads() * 4);
      const std::size_t begin = task * per, end = std::min(tasks, begin + per);
      float* scores = scores_ + thread * context_;
      for (std::size_t t = begin; t < end; ++t) {
        const std::size_t i = t / c.n_heads;
        const auto h = static_cast<std::uint32_t>(t % c.n_heads);
        const std::uint32_t pos = position_ + static_cast<std::uint32_t>(i);
        const std::uint32_t first = sliding && pos + 1 > c.sliding_window ? pos + 1 - c.sliding_window : 0;
        attend(att_ + i * att_dim, q + i * q_stride, cache_, l, first, pos, shape, scores, h, h + 1);
      }
    });
    return {};
  }

  const model* model_ = nullptr;
  runtime::thread_pool* pool_ = nullptr;
  std::uint32_t context_ = 0, batch_ = 1, position_ = 0;
  kernels::quant_matmul matmul_ = kernels::quant_matmul::integer;
  kv_cache cache_;
  aligned_buffer<float> floats_;
  std::unique_ptr<arena> scratch_;
  float *x_ = nullptr, *xb_ = nullptr, *qkv_ = nullptr, *att_ = nullptr, *out_ = nullptr, *hb_ = nullptr, *hb2_ = nullptr;
  float *logits_ = nullptr, *scores_ = nullptr, *rope_global_ = nullptr, *rope_local_ = nullptr;
};

}  // namespace tessera::llm
