// Convolution and transposed convolution layers with 1, 2 or 3 spatial dimensions over
// channels-last activations (logical [N, C, S...] stored [N, S..., C]), on the prepared
// kernels of kernels/conv2d.hpp.
//
//   auto c = nn::conv::create(params, /*transposed=*/false, in_c, out_c, weight, bias);
//   c->fold_affine(scale, shift);       // a following BatchNormalization, before prepare()
//   c->set_activation({relu});          // fused into the epilogue
//   c->prepare();                       // weights packed once
//   c->forward(out, in, in_shape, residual, pool, scratch);
//
// 1-D is the 2-D kernel with height 1. 3-D is a sum of 2-D convolutions, one per depth tap
// (weights sliced per tap), each depth slice of a channels-last [N, D, H, W, C] tensor
// being an [H, W, C] image: out[od] = sum over kd of conv2d(in[od*s + kd*d - pad], W[:, :, kd]).
// Transposed 3-D scatters the same way. Bias, residual and activation are applied once,
// after the sum, by the kernels' epilogue rows.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/kernels/conv2d.hpp>
#include <tessera/nn/window.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera::nn {

// Spatial axes in order (D, H, W), (H, W) or (W).
struct conv_params {
  int spatial = 2;
  std::int64_t kernel[3] = {1, 1, 1};
  std::int64_t stride[3] = {1, 1, 1};
  std::int64_t dilation[3] = {1, 1, 1};
  std::int64_t pad_begin[3] = {0, 0, 0};
  std::int64_t pad_end[3] = {0, 0, 0};
  std::int64_t output_padding[3] = {0, 0, 0};  // transposed only
  std::int64_t groups = 1;
};

struct conv_activation {
  kernels::activation act = kernels::activation::none;
  float clip_min = -INFINITY, clip_max = INFINITY;
};

namespace detail {

// Output extent of one spatial axis (Conv or ConvTranspose), or an error.
inline expected<std::int64_t> conv_out_extent(bool transposed, std::int64_t in, std::int64_t k, std::int64_t s,
                                              std::int64_t d, std::int64_t pb, std::int64_t pe, std::int64_t op,
                                              const char* who) {
  const std::int64_t extent = (k - 1) * d + 1;
  std::int64_t out = 0;
  if (transposed) {
    out = s * (in - 1) + op + extent - pb - pe;
    if (out < 1) return make_error(errc::shape_mismatch, std::string(who) + ": padding leaves an empty output");
  } else {
    const std::int64_t span = in + pb + pe - extent;
    if (span < 0)
      return make_error(errc::shape_mismatch, std::string(who) + ": kernel extent " + std::to_string(extent) +
                                                  " exceeds the padded input " + std::to_string(in + pb + pe));
    out = span / s + 1;
  }
  return out;
}

// The 2-D kernel parameters of the last two spatial axes (height 1 for 1-D).
inline kernels::conv2d_params params_2d(const conv_params& p) {
  kernels::conv2d_params q;
  window_2d(p, q);
  const int h = p.spatial - 2, w = p.spatial - 1;  // h < 0: 1-D
  q.output_padding_h = h >= 0 ? p.output_padding[h] : 0;
  q.output_padding_w = p.output_padding[w];
  q.groups = p.groups;
  return q;
}

}  // namespace detail

class conv {
 public:
  // weight: [Cout, Cin/groups, k...] (Conv) or [Cin, Cout/groups, k...] (ConvTranspose);
  // bias: Cout values or null. The weights are copied and stay modifiable until prepare().
  static expected<conv> create(const conv_params& p, bool transposed, std::int64_t in_c, std::int64_t out_c,
                               const float* weight, const float* bias) {
    return create(p, transposed, in_c, out_c, weight, bias, nullptr);
  }
  // The same, reading `weight` in place until prepare() when `weight_owner` keeps it alive (a
  // loaded model's initializer): packing is then the only copy. fold_affine() copies first.
  static expected<conv> create(const conv_params& p, bool transposed, std::int64_t in_c, std::int64_t out_c,
                               const float* weight, const float* bias, std::shared_ptr<const void> weight_owner) {
    const char* who = transposed ? "conv_transpose" : "conv";
    if (p.spatial < 1 || p.spatial > 3) return make_error(errc::unsupported, std::string(who) + ": 1 to 3 spatial dims");
    if (in_c < 1 || out_c < 1 || p.groups < 1 || in_c % p.groups || out_c % p.groups)
      return make_error(errc::invalid_argument, std::string(who) + ": channels " + std::to_string(in_c) + " -> " +
                                                    std::to_string(out_c) + " do not divide into " + std::to_string(p.groups) + " groups");
    for (int a = 0; a < p.spatial; ++a) {
      for (std::int64_t v : {p.kernel[a], p.stride[a], p.dilation[a]})
        if (v < 1 || v > (std::int64_t{1} << 30)) return make_error(errc::invalid_argument, std::string(who) + ": kernel, stride and dilation must be in [1, 2^30]");
      for (std::int64_t v : {p.pad_begin[a], p.pad_end[a], p.output_padding[a]})
        if (v < 0 || v > (std::int64_t{1} << 30)) return make_error(errc::invalid_argument, std::string(who) + ": pads must be in [0, 2^30]");
    }
    conv c;
    c.p_ = p;
    c.transposed_ = transposed;
    c.in_c_ = in_c;
    c.out_c_ = out_c;
    std::uint64_t taps = 1;
    for (int a = 0; a < p.spatial; ++a) {
      taps *= static_cast<std::uint64_t>(p.kernel[a]);
      if (taps > (std::uint64_t{1} << 32)) return make_error(errc::invalid_argument, std::string(who) + ": kernel too large");
    }
    const std::uint64_t rows = transposed ? static_cast<std::uint64_t>(in_c) : static_cast<std::uint64_t>(out_c);
    const std::uint64_t cols = static_cast<std::uint64_t>(transposed ? out_c : in_c) / static_cast<std::uint64_t>(p.groups);
    if (rows * cols > (std::uint64_t{1} << 40) / taps) return make_error(errc::out_of_memory, std::string(who) + ": weights too large");
    const std::size_t n = static_cast<std::size_t>(rows * cols * taps);
    if (!weight) return make_error(errc::invalid_argument, std::string(who) + ": null weight");
    if (weight_owner) {
      c.shared_weight_ = weight;
      c.weight_owner_ = std::move(weight_owner);
    } else {
      TESSERA_TRY(c.weight_.allocate(n, first_touch::now));
      std::memcpy(c.weight_.data(), weight, n * sizeof(float));
    }
    TESSERA_TRY(c.bias_.allocate_zeroed(static_cast<std::size_t>(out_c)));
    if (bias) std::memcpy(c.bias_.data(), bias, static_cast<std::size_t>(out_c) * sizeof(float));
    c.has_bias_ = bias != nullptr;
    return c;
  }

  // weight[o] *= scale[o], bias[o] = bias[o] * scale[o] + shift[o] for every output channel.
  status fold_affine(const float* scale, const float* shift) {
    if (!raw_weight()) return make_error(errc::invalid_argument, "conv: weights already prepared");
    TESSERA_TRY(own_weight());  // shared weights: scale a copy
    const std::size_t taps = taps_per_filter(), G = static_cast<std::size_t>(p_.groups);
    const std::size_t oc = static_cast<std::size_t>(out_c_), ic = static_cast<std::size_t>(in_c_);
    if (!transposed_) {
      const std::size_t per = ic / G * taps;
      for (std::size_t o = 0; o < oc; ++o)
        for (std::size_t i = 0; i < per; ++i) weight_[o * per + i] *= scale[o];
    } else {
      const std::size_t icg = ic / G, ocg = oc / G;
      for (std::size_t ci = 0; ci < ic; ++ci)
        for (std::size_t co = 0; co < ocg; ++co)
          for (std::size_t t = 0; t < taps; ++t) weight_[(ci * ocg + co) * taps + t] *= scale[(ci / icg) * ocg + co];
    }
    for (std::size_t o = 0; o < oc; ++o) bias_[o] = bias_[o] * scale[o] + shift[o];
    has_bias_ = true;
    return {};
  }

  void set_activation(const conv_activation& a) { act_ = a; }
  const conv_activation& activation() const noexcept { return act_; }
  const conv_params& params() const noexcept { return p_; }
  std::int64_t in_channels() const noexcept { return in_c_; }
  std::int64_t out_channels() const noexcept { return out_c_; }
  bool transposed() const noexcept { return transposed_; }

  // Packs the weights for the kernels (one 2-D kernel per depth tap for 3-D) and releases
  // the raw copy unless `keep_raw` (a layer re-prepared for other padding keeps it).
  status prepare(bool keep_raw = false) {
    const kernels::conv2d_params q = detail::params_2d(p_);
    const std::size_t depth_taps = p_.spatial == 3 ? static_cast<std::size_t>(p_.kernel[0]) : 1;
    const std::size_t taps2 = taps_per_filter() / depth_taps;
    const std::size_t filters = static_cast<std::size_t>(transposed_ ? in_c_ : out_c_);
    const std::size_t per_filter = static_cast<std::size_t>(transposed_ ? out_c_ : in_c_) / static_cast<std::size_t>(p_.groups);
    const float* bias2d = p_.spatial == 3 ? nullptr : bias_.data();  // 3-D adds the bias after the sum
    aligned_buffer<float> slice;
    if (depth_taps > 1) TESSERA_TRY(slice.allocate(filters * per_filter * taps2));
    prepared_.clear();
    prepared_t_.clear();
    const float* raw = raw_weight();
    if (!raw) return make_error(errc::invalid_argument, "conv: weights already prepared");
    for (std::size_t kd = 0; kd < depth_taps; ++kd) {
      const float* w = raw;
      if (depth_taps > 1) {
        for (std::size_t f = 0; f < filters * per_filter; ++f)
          std::memcpy(slice.data() + f * taps2, raw + (f * depth_taps + kd) * taps2, taps2 * sizeof(float));
        w = slice.data();
      }
      if (transposed_) {
        TESSERA_ASSIGN_OR_RETURN(auto k, kernels::prepared_conv_transpose2d::prepare(q, in_c_, out_c_, w, bias2d));
        prepared_t_.push_back(std::move(k));
      } else {
        TESSERA_ASSIGN_OR_RETURN(auto k, kernels::prepared_conv2d::prepare(q, in_c_, out_c_, w, bias2d));
        prepared_.push_back(std::move(k));
      }
    }
    if (keep_raw) TESSERA_TRY(own_weight());  // a layer re-prepared later outlives the shared bytes
    else weight_.reset();
    release_shared_weight();
    return {};
  }
  bool prepared() const noexcept { return !prepared_.empty() || !prepared_t_.empty(); }

  // A copy with other pads (auto_pad SAME on an input of another size), prepared. Needs the
  // raw weights (prepare(true)).
  expected<conv> with_pads(const std::int64_t* begin, const std::int64_t* end) const {
    conv_params q = p_;
    for (int a = 0; a < p_.spatial; ++a) q.pad_begin[a] = begin[a], q.pad_end[a] = end[a];
    TESSERA_ASSIGN_OR_RETURN(conv c, create(q, transposed_, in_c_, out_c_, raw_weight(), has_bias_ ? bias_.data() : nullptr));
    c.act_ = act_;
    TESSERA_TRY(c.prepare());
    return c;
  }

  // Logical [N, Cout, S'...] for a logical input [N, Cin, S...].
  expected<shape_t> output_shape(const shape_t& in) const {
    const char* who = transposed_ ? "conv_transpose" : "conv";
    if (in.rank() != p_.spatial + 2)
      return make_error(errc::shape_mismatch, std::string(who) + ": input " + in.str() + " must have rank " + std::to_string(p_.spatial + 2));
    if (in[1] != in_c_)
      return make_error(errc::shape_mismatch, std::string(who) + ": input has " + std::to_string(in[1]) + " channels, weights expect " +
                                                  std::to_string(in_c_));
    shape_t out = in;
    out[1] = out_c_;
    for (int a = 0; a < p_.spatial; ++a) {
      if (in[a + 2] < 1 || in[a + 2] > (index_t{1} << 30))
        return make_error(errc::shape_mismatch, std::string(who) + ": spatial extent " + std::to_string(in[a + 2]) + " out of range");
      TESSERA_ASSIGN_OR_RETURN(out[a + 2], detail::conv_out_extent(transposed_, in[a + 2], p_.kernel[a], p_.stride[a], p_.dilation[a],
                                                                  p_.pad_begin[a], p_.pad_end[a], p_.output_padding[a], who));
    }
    TESSERA_TRY(checked_numel(out));
    return out;
  }

  // out (channels-last, output_shape(in_shape)) = act(conv(in) + bias + residual). `residual`
  // is output-shaped channels-last or null, and must not overlap `out`. `act` (or null: the
  // layer's own) is applied after the residual.
  status forward(float* out, const float* in, const shape_t& in_shape, const float* residual, runtime::thread_pool* pool,
                 arena& scratch, const conv_activation* act = nullptr) const {
    if (!prepared()) return make_error(errc::invalid_argument, "conv: not prepared");
    TESSERA_ASSIGN_OR_RETURN(const shape_t out_shape, output_shape(in_shape));
    const conv_activation& a = act ? *act : act_;
    const kernels::conv2d_epilogue ep{residual, a.act, a.clip_min, a.clip_max};
    if (p_.spatial <= 2) {
      const kernels::image_shape s{in_shape[0], in_shape[1], p_.spatial == 2 ? in_shape[2] : 1, in_shape[p_.spatial + 1]};
      if (transposed_) return kernels::conv_transpose2d(out, in, s, prepared_t_[0], ep, pool, &scratch);
      return kernels::conv2d(out, in, s, prepared_[0], ep, pool, &scratch);
    }
    return forward_3d(out, in, in_shape, out_shape, ep, pool, scratch);
  }

 private:
  std::size_t taps_per_filter() const {
    std::size_t t = 1;
    for (int a = 0; a < p_.spatial; ++a) t *= static_cast<std::size_t>(p_.kernel[a]);
    return t;
  }

  // One 2-D (transposed) convolution of a depth slice into dst.
  status slice_2d(float* dst, const float* src, std::size_t kd, const kernels::image_shape& s, const float* residual,
                  runtime::thread_pool* pool, arena& scratch) const {
    kernels::conv2d_epilogue ep;
    ep.residual = residual;
    if (transposed_) return kernels::conv_transpose2d(dst, src, s, prepared_t_[kd], ep, pool, &scratch);
    return kernels::conv2d(dst, src, s, prepared_[kd], ep, pool, &scratch);
  }

  status forward_3d(float* out, const float* in, const shape_t& in_shape, const shape_t& out_shape,
                    const kernels::conv2d_epilogue& fused, runtime::thread_pool* pool, arena& scratch) const {
    const float* residual = fused.residual;
    const std::int64_t N = in_shape[0], D = in_shape[2], OD = out_shape[2];
    const std::size_t in_plane = static_cast<std::size_t>(in_shape[3] * in_shape[4] * in_c_);
    const std::size_t out_plane = static_cast<std::size_t>(out_shape[3] * out_shape[4] * out_c_);
    const kernels::image_shape s{1, in_c_, in_shape[3], in_shape[4]};
    const arena_scope scope(scratch);
    TESSERA_ASSIGN_OR_RETURN(float* tmp, scratch.allocate<float>(out_plane));
    const std::int64_t K = p_.kernel[0], st = p_.stride[0], dl = p_.dilation[0], pd = p_.pad_begin[0];
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t od = 0; od < OD; ++od) {
        float* dst = out + static_cast<std::size_t>(n * OD + od) * out_plane;
        float* acc = nullptr;  // holds the running sum: dst or tmp
        for (std::int64_t kd = 0; kd < K; ++kd) {
          std::int64_t id = 0;
          if (transposed_) {  // od = id * stride + kd * dilation - pad
            const std::int64_t num = od + pd - kd * dl;
            if (num < 0 || num % st) continue;
            id = num / st;
          } else {
            id = od * st + kd * dl - pd;
          }
          if (id < 0 || id >= D) continue;
          const float* src = in + static_cast<std::size_t>(n * D + id) * in_plane;
          float* target = acc == dst ? tmp : dst;
          TESSERA_TRY(slice_2d(target, src, static_cast<std::size_t>(kd), s, acc, pool, scratch));
          acc = target;
        }
        if (!acc) std::fill(dst, dst + out_plane, 0.0f);
        else if (acc != dst) std::memcpy(dst, acc, out_plane * sizeof(float));
        const kernels::conv2d_epilogue ep{residual ? residual + static_cast<std::size_t>(n * OD + od) * out_plane : nullptr,
                                          fused.act, fused.clip_min, fused.clip_max};
        kernels::detail::conv_epilogue_rows(dst, bias_.data(), ep.residual, out_plane / static_cast<std::size_t>(out_c_),
                                            static_cast<std::size_t>(out_c_), ep);
      }
    return {};
  }

  const float* raw_weight() const noexcept { return weight_.data() ? weight_.data() : shared_weight_; }
  std::size_t raw_weight_count() const noexcept {
    return static_cast<std::size_t>(transposed_ ? in_c_ : out_c_) *
           (static_cast<std::size_t>(transposed_ ? out_c_ : in_c_) / static_cast<std::size_t>(p_.groups)) * taps_per_filter();
  }
  // Copies shared weights into weight_ (a no-op when it already holds them) and lets go of them.
  status own_weight() {
    if (!weight_.data()) {
      const std::size_t n = raw_weight_count();
      TESSERA_TRY(weight_.allocate(n, first_touch::now));
      std::memcpy(weight_.data(), shared_weight_, n * sizeof(float));
    }
    release_shared_weight();
    return {};
  }
  void release_shared_weight() noexcept {
    shared_weight_ = nullptr;
    weight_owner_.reset();
  }

  conv_params p_;
  bool transposed_ = false;
  std::int64_t in_c_ = 0, out_c_ = 0;
  aligned_buffer<float> weight_;               // own raw weights (copied or scaled), until prepare()
  const float* shared_weight_ = nullptr;       // or someone else's, kept alive by weight_owner_
  std::shared_ptr<const void> weight_owner_;
  aligned_buffer<float> bias_;
  bool has_bias_ = false;
  conv_activation act_;
  std::vector<kernels::prepared_conv2d> prepared_;
  std::vector<kernels::prepared_conv_transpose2d> prepared_t_;
};

}  // namespace tessera::nn
