// Conv nets assembled in C++ with their structure in the type: layer parameters are template
// arguments, so every activation shape and the two ping-pong buffers' size are compile-time
// constants (a mismatch is a static_assert), and forward() is a fixed sequence of calls into
// the nn/ layers (conv.hpp, linear.hpp, pool.hpp) and kernels/ that the compiler can inline.
//
//   using digits = nn::static_net<nn::input<1, 8, 8>, nn::conv2d<16, 3, 1, 1>, nn::relu, nn::max_pool2d<2>,
//                                 nn::conv2d<32, 3, 1, 1>, nn::relu, nn::max_pool2d<2>, nn::flatten, nn::dense<10>>;
//   digits net;
//   TESSERA_TRY(net.bind(weights, {"features.0", "features.4", "classifier"}));
//   TESSERA_TRY(net.forward(logits, image));        // NCHW in, [N, 10] out; allocates nothing
//
// Weights come from a source with `expected<weight_tensor> get(std::string_view name) const`:
// embedded_weights (arrays compiled in, below), or nn/load/weight_sources.hpp's safetensors and
// .npy readers. A layer with parameters is named by the caller (one name per conv2d,
// batch_norm and dense, in order) or, by default, by its position after the input as in
// PyTorch's nn.Sequential ("0", "3", ...); it reads NAME.weight and NAME.bias (batch_norm also
// NAME.running_mean and NAME.running_var), PyTorch's layouts, and every shape is checked at
// bind, the error naming the layer and the tensor.
//
// Inside, activations are channels-last (the kernels' layout): the input is converted from
// NCHW and the output back to NCHW (or to the flattened CHW order) at the edges. A dense layer
// after a flatten of a spatial tensor has its weight columns permuted once at bind instead.
// A batch_norm right after a conv2d is folded into it at bind, and a relu after a conv2d or
// dense (or conv2d + batch_norm) runs in its epilogue.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/core/shape.hpp>
#include <tessera/kernels/activation.hpp>
#include <tessera/kernels/gemm.hpp>
#include <tessera/kernels/unary.hpp>
#include <tessera/nn/conv.hpp>
#include <tessera/nn/linear.hpp>
#include <tessera/nn/pool.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace tessera::nn {

// ---- weight sources ---------------------------------------------------------------------------

// One parameter tensor as float32 (a source converts other types), with its shape.
struct weight_tensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

// A tensor compiled into the program: `static const float w[] = {...};` and
// `{"conv1.weight", 4, {16, 1, 3, 3}, w}`. `data` must hold the product of the shape's dims
// (trusted: it is the program's own array).
struct embedded_tensor {
  std::string_view name;
  int rank = 0;
  std::int64_t shape[6] = {};
  const float* data = nullptr;
};

class embedded_weights {
 public:
  explicit embedded_weights(std::span<const embedded_tensor> tensors) : tensors_(tensors) {}
  expected<weight_tensor> get(std::string_view name) const {
    for (const embedded_tensor& t : tensors_) {
      if (t.name != name) continue;
      if (t.rank < 0 || t.rank > 6 || !t.data) return make_error(errc::invalid_argument, "embedded tensor '" + std::string(name) + "': bad rank or null data");
      weight_tensor w;
      w.shape.assign(t.shape, t.shape + t.rank);
      std::size_t n = 1;
      constexpr std::size_t kMax = std::size_t{1} << 28;  // floats; more is a typo, not a model
      for (const std::int64_t d : w.shape) {
        if (d < 0 || (d > 0 && n > kMax / static_cast<std::size_t>(d)))
          return make_error(errc::invalid_argument, "embedded tensor '" + std::string(name) + "': shape out of range");
        n *= static_cast<std::size_t>(d);
      }
      w.values.assign(t.data, t.data + n);
      return w;
    }
    return make_error(errc::invalid_argument, "no embedded tensor '" + std::string(name) + "'");
  }

 private:
  std::span<const embedded_tensor> tensors_;
};

// ---- compile-time shapes ----------------------------------------------------------------------

// A per-sample activation of C channels over H x W. Flat: the vector [C*H*W] of a flatten,
// logically in (c, h, w) order, still stored channels-last.
template <index_t C, index_t H, index_t W, bool Flat = false>
struct act_shape {
  static_assert(C >= 1 && H >= 1 && W >= 1, "static_net: every activation needs positive extents");
  static constexpr index_t c = C, h = H, w = W;
  static constexpr bool flat = Flat;
  static constexpr index_t size = C * H * W;
};

namespace detail {

constexpr index_t window_out(index_t in, index_t k, index_t s, index_t p, index_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

// "layer 3 (conv2d 'features.4')", the prefix of every bind error.
inline std::string layer_label(std::size_t index, const char* kind, std::string_view name) {
  return "static_net: layer " + std::to_string(index) + " (" + kind + " '" + std::string(name) + "')";
}

inline std::string dims_str(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Reads NAME.SUFFIX from the source and checks its shape.
template <class Source>
expected<weight_tensor> read_param(const Source& src, std::string_view layer, const std::string& label, const char* suffix,
                                   std::vector<std::int64_t> want) {
  const std::string name = std::string(layer) + "." + suffix;
  auto w = src.get(name);
  if (!w.ok()) return make_error(w.err().code, label + ": " + w.err().message);
  if (w->shape != want)
    return make_error(errc::shape_mismatch, label + ": '" + name + "' has shape " + dims_str(w->shape) + ", expected " + dims_str(want));
  std::size_t n = 1;
  for (const std::int64_t d : want) n *= static_cast<std::size_t>(d);
  if (w->values.size() != n) return make_error(errc::shape_mismatch, label + ": '" + name + "' holds " + std::to_string(w->values.size()) + " values");
  return w;
}

struct run_context {
  index_t batch = 1;
  runtime::thread_pool* pool = nullptr;
  arena* scratch = nullptr;
};

// What a layer without parameters does at bind and after.
struct no_params {
  static constexpr bool has_params = false;
  static constexpr bool takes_activation = false;
  template <class Source, class Prev>
  status bind(const Source&, std::string_view, std::size_t, Prev&) { return {}; }
  status finish() { return {}; }
};

}  // namespace detail

// ---- layers -----------------------------------------------------------------------------------

// The network's input: C x H x W per sample, up to MaxBatch samples per forward().
template <index_t C, index_t H, index_t W, index_t MaxBatch = 1>
struct input {
  static_assert(MaxBatch >= 1, "input: MaxBatch must be at least 1");
  using shape = act_shape<C, H, W>;
  static constexpr index_t max_batch = MaxBatch;
};

// Conv2d(in, OutC, K, stride=Stride, padding=Pad, dilation=Dilation, groups=Groups, bias=Bias).
template <index_t OutC, index_t K, index_t Stride = 1, index_t Pad = 0, index_t Dilation = 1, index_t Groups = 1, bool Bias = true>
struct conv2d {
  static_assert(OutC >= 1 && K >= 1 && Stride >= 1 && Pad >= 0 && Dilation >= 1 && Groups >= 1, "conv2d: bad parameters");
  template <class In>
  class stage {
    static_assert(!In::flat, "conv2d: the input is flattened");
    static_assert(In::c % Groups == 0 && OutC % Groups == 0, "conv2d: channels do not divide into the groups");
    static_assert(In::h + 2 * Pad >= Dilation * (K - 1) + 1 && In::w + 2 * Pad >= Dilation * (K - 1) + 1,
                  "conv2d: the kernel is larger than the padded input");

   public:
    using out = act_shape<OutC, detail::window_out(In::h, K, Stride, Pad, Dilation), detail::window_out(In::w, K, Stride, Pad, Dilation)>;
    static constexpr bool has_params = true;
    static constexpr bool takes_activation = true;
    static constexpr const char* kind = "conv2d";

    template <class Source, class Prev>
    status bind(const Source& src, std::string_view name, std::size_t index, Prev&) {
      label_ = detail::layer_label(index, kind, name);
      TESSERA_ASSIGN_OR_RETURN(weight_tensor w, detail::read_param(src, name, label_, "weight", {OutC, In::c / Groups, K, K}));
      std::optional<weight_tensor> b;
      if constexpr (Bias) {
        TESSERA_ASSIGN_OR_RETURN(b, detail::read_param(src, name, label_, "bias", {OutC}));
      }
      conv_params p;
      p.kernel[0] = p.kernel[1] = K;
      p.stride[0] = p.stride[1] = Stride;
      p.dilation[0] = p.dilation[1] = Dilation;
      p.pad_begin[0] = p.pad_begin[1] = p.pad_end[0] = p.pad_end[1] = Pad;
      p.groups = Groups;
      auto c = conv::create(p, false, In::c, OutC, w.values.data(), b ? b->values.data() : nullptr);
      if (!c.ok()) return make_error(c.err().code, label_ + ": " + c.err().message);
      conv_.emplace(std::move(*c));
      return {};
    }
    // A following batch_norm: weight[o] *= scale[o], bias[o] = bias[o] * scale[o] + shift[o].
    status fold_affine(const float* scale, const float* shift) { return conv_->fold_affine(scale, shift); }
    void set_activation(kernels::activation a) { conv_->set_activation({a}); }
    status finish() {
      const status st = conv_->prepare();
      if (!st.ok()) return make_error(st.err().code, label_ + ": " + st.err().message);
      return {};
    }
    status run(float*& cur, float*& spare, const detail::run_context& ctx) const {
      const shape_t in_shape{ctx.batch, In::c, In::h, In::w};
      TESSERA_TRY(conv_->forward(spare, cur, in_shape, nullptr, ctx.pool, *ctx.scratch));
      std::swap(cur, spare);
      return {};
    }

   private:
    std::optional<conv> conv_;
    std::string label_;
  };
};

// BatchNorm2d(C, eps = EpsMantissa * 10^EpsExponent) in inference mode, right after a conv2d:
// folded into it at bind (scale = weight / sqrt(var + eps), shift = bias - mean * scale).
template <int EpsMantissa = 1, int EpsExponent = -5>
struct batch_norm {
  template <class In>
  class stage {
   public:
    using out = In;
    static constexpr bool has_params = true;
    static constexpr bool takes_activation = true;
    static constexpr const char* kind = "batch_norm";

    template <class Source, class Prev>
    status bind(const Source& src, std::string_view name, std::size_t index, Prev& prev) {
      static_assert(requires(Prev& c, const float* v) { c.fold_affine(v, v); }, "batch_norm: must follow a conv2d (it is folded into it)");
      const std::string label = detail::layer_label(index, kind, name);
      weight_tensor p[4];
      const char* suffix[4] = {"weight", "bias", "running_mean", "running_var"};
      for (int i = 0; i < 4; ++i) {
        TESSERA_ASSIGN_OR_RETURN(p[i], detail::read_param(src, name, label, suffix[i], {In::c}));
      }
      const double eps = EpsMantissa * std::pow(10.0, EpsExponent);
      std::vector<float> scale(static_cast<std::size_t>(In::c)), shift(scale.size());
      for (std::size_t c = 0; c < scale.size(); ++c) {
        const double var = p[3].values[c];
        if (!(var + eps > 0)) return make_error(errc::invalid_argument, label + ": running_var[" + std::to_string(c) + "] + eps is not positive");
        const double s = p[0].values[c] / std::sqrt(var + eps);
        scale[c] = static_cast<float>(s);
        shift[c] = static_cast<float>(p[1].values[c] - p[2].values[c] * s);
      }
      TESSERA_TRY(prev.fold_affine(scale.data(), shift.data()));
      set_activation_ = [](void* conv_stage, kernels::activation a) { static_cast<Prev*>(conv_stage)->set_activation(a); };
      conv_stage_ = &prev;
      return {};
    }
    void set_activation(kernels::activation a) { set_activation_(conv_stage_, a); }
    status finish() { return {}; }
    status run(float*&, float*&, const detail::run_context&) const { return {}; }

   private:
    void (*set_activation_)(void*, kernels::activation) = nullptr;
    void* conv_stage_ = nullptr;
  };
};

// Rectified linear unit: in the epilogue of a conv2d / batch_norm / dense right before it,
// else in place.
struct relu {
  template <class In>
  class stage : public detail::no_params {
   public:
    using out = In;
    template <class Source, class Prev>
    status bind(const Source&, std::string_view, std::size_t, Prev& prev) {
      if constexpr (Prev::takes_activation) {
        prev.set_activation(kernels::activation::relu);
        fused_ = true;
      }
      return {};
    }
    status run(float*& cur, float*&, const detail::run_context& ctx) const {
      if (fused_) return {};
      const shape_t s{ctx.batch * In::size};
      return kernels::relu<float>(TensorView<float>(cur, s), TensorView<const float>(cur, s));
    }

   private:
    bool fused_ = false;
  };
};

namespace detail {
template <bool IsMax, index_t K, index_t Stride, index_t Pad>
struct pool2d_layer {
  static_assert(K >= 1 && Stride >= 1 && Pad >= 0 && Pad < K, "pool: bad parameters (pads must be below the kernel)");
  template <class In>
  class stage : public no_params {
    static_assert(!In::flat, "pool: the input is flattened");
    static_assert(In::h + 2 * Pad >= K && In::w + 2 * Pad >= K, "pool: the window is larger than the padded input");

   public:
    using out = act_shape<In::c, window_out(In::h, K, Stride, Pad, 1), window_out(In::w, K, Stride, Pad, 1)>;
    status run(float*& cur, float*& spare, const run_context& ctx) const {
      pool_params p;
      p.kernel[0] = p.kernel[1] = K;
      p.stride[0] = p.stride[1] = Stride;
      p.pad_begin[0] = p.pad_begin[1] = p.pad_end[0] = p.pad_end[1] = Pad;
      TESSERA_TRY(pool(IsMax, spare, cur, shape_t{ctx.batch, In::c, In::h, In::w}, p, ctx.pool, *ctx.scratch));
      std::swap(cur, spare);
      return {};
    }
  };
};
}  // namespace detail

// MaxPool2d(K, stride=Stride, padding=Pad) and AvgPool2d (count_include_pad=False), floor mode.
template <index_t K, index_t Stride = K, index_t Pad = 0>
using max_pool2d = detail::pool2d_layer<true, K, Stride, Pad>;
template <index_t K, index_t Stride = K, index_t Pad = 0>
using avg_pool2d = detail::pool2d_layer<false, K, Stride, Pad>;

// AdaptiveAvgPool2d(1): C x 1 x 1.
struct global_avg_pool {
  template <class In>
  class stage : public detail::no_params {
    static_assert(!In::flat, "global_avg_pool: the input is flattened");

   public:
    using out = act_shape<In::c, 1, 1>;
    status run(float*& cur, float*& spare, const detail::run_context& ctx) const {
      TESSERA_TRY(global_pool(false, spare, cur, shape_t{ctx.batch, In::c, In::h, In::w}, ctx.pool));
      std::swap(cur, spare);
      return {};
    }
  };
};

// Flatten(1): no data moves (see the header comment).
struct flatten {
  template <class In>
  class stage : public detail::no_params {
   public:
    using out = act_shape<In::c, In::h, In::w, true>;
    status run(float*&, float*&, const detail::run_context&) const { return {}; }
  };
};

// Linear(in, N, bias=Bias) over a flattened (or 1 x 1 spatial) input.
template <index_t N, bool Bias = true>
struct dense {
  static_assert(N >= 1, "dense: needs at least one output");
  template <class In>
  class stage {
    static_assert(In::flat || (In::h == 1 && In::w == 1), "dense: flatten the spatial input first");

   public:
    using out = act_shape<N, 1, 1>;
    static constexpr bool has_params = true;
    static constexpr bool takes_activation = true;
    static constexpr const char* kind = "dense";

    template <class Source, class Prev>
    status bind(const Source& src, std::string_view name, std::size_t index, Prev&) {
      label_ = detail::layer_label(index, kind, name);
      constexpr index_t K = In::size, HW = In::h * In::w;
      TESSERA_ASSIGN_OR_RETURN(weight_tensor w, detail::read_param(src, name, label_, "weight", {N, K}));
      std::optional<weight_tensor> b;
      if constexpr (Bias) {
        TESSERA_ASSIGN_OR_RETURN(b, detail::read_param(src, name, label_, "bias", {N}));
      }
      std::vector<float> hwc;  // columns from PyTorch's (c, h, w) order to the stored (h, w, c)
      const float* cols = w.values.data();
      if constexpr (HW > 1 && In::c > 1) {
        hwc.resize(w.values.size());
        for (index_t n = 0; n < N; ++n)
          for (index_t c = 0; c < In::c; ++c)
            for (index_t s = 0; s < HW; ++s) hwc[static_cast<std::size_t>(n * K + s * In::c + c)] = w.values[static_cast<std::size_t>(n * K + c * HW + s)];
        cols = hwc.data();
      }
      auto l = linear::create(static_cast<std::size_t>(K), static_cast<std::size_t>(N), cols, kernels::transpose::yes, b ? b->values.data() : nullptr);
      if (!l.ok()) return make_error(l.err().code, label_ + ": " + l.err().message);
      linear_.emplace(std::move(*l));
      return {};
    }
    void set_activation(kernels::activation a) { linear_->set_activation(a); }
    status finish() { return {}; }
    status run(float*& cur, float*& spare, const detail::run_context& ctx) const {
      TESSERA_TRY(linear_->forward(spare, cur, static_cast<std::size_t>(ctx.batch), nullptr, ctx.pool));
      std::swap(cur, spare);
      return {};
    }

   private:
    std::optional<linear> linear_;
    std::string label_;
  };
};

// ---- the network ------------------------------------------------------------------------------

namespace detail {

// The stages of Layers... applied in turn to In: a std::tuple of Layer::stage<shape before it>.
template <class In, class... Layers>
struct chain {
  using stages = std::tuple<>;
  using out = In;
  static constexpr index_t max_size = In::size;
};
template <class In, class L, class... Rest>
struct chain<In, L, Rest...> {
  using first = typename L::template stage<In>;
  using tail = chain<typename first::out, Rest...>;
  using stages = decltype(std::tuple_cat(std::declval<std::tuple<first>>(), std::declval<typename tail::stages>()));
  using out = typename tail::out;
  static constexpr index_t max_size = In::size > tail::max_size ? In::size : tail::max_size;
};

// Converts between NCHW and channels-last for n samples of C x HW (a no-op layout for C or HW 1).
inline status change_layout(float* dst, const float* src, index_t n, index_t C, index_t HW, bool to_channels_last) {
  if (C == 1 || HW == 1) {
    if (dst != src) std::memcpy(dst, src, static_cast<std::size_t>(n * C * HW) * sizeof(float));
    return {};
  }
  const shape_t from = to_channels_last ? shape_t{n, C, HW} : shape_t{n, HW, C};
  const int perm[3] = {0, 2, 1};
  const any_view s(const_cast<float*>(src), elem_type::f32, from);
  return copy(any_view(dst, elem_type::f32, to_channels_last ? shape_t{n, HW, C} : shape_t{n, C, HW}), s.permuted(perm));
}

}  // namespace detail

template <class Input, class... Layers>
class static_net {
  using chain = detail::chain<typename Input::shape, Layers...>;
  using stages_t = typename chain::stages;
  static constexpr std::size_t kLayers = sizeof...(Layers);

  template <std::size_t... I>
  static constexpr std::size_t count_params(std::index_sequence<I...>) {
    return (std::size_t{0} + ... + (std::tuple_element_t<I, stages_t>::has_params ? 1 : 0));
  }

 public:
  using input_shape = typename Input::shape;
  using output_shape = typename chain::out;
  static constexpr index_t max_batch = Input::max_batch;
  static constexpr index_t input_size = input_shape::size;    // floats per sample
  static constexpr index_t output_size = output_shape::size;  // floats per sample
  // Each of the two activation buffers, in floats: the largest activation times max_batch.
  static constexpr index_t buffer_floats = chain::max_size * Input::max_batch;
  static constexpr std::size_t param_layers = count_params(std::make_index_sequence<kLayers>{});

  static_net() = default;
  static_net(const static_net&) = delete;
  static_net& operator=(const static_net&) = delete;

  // Layers with parameters named by their position after the input ("0", "3", ...).
  template <class Source>
  status bind(const Source& src) {
    std::string names[param_layers > 0 ? param_layers : 1];
    std::string_view views[param_layers > 0 ? param_layers : 1];
    bind_default_names(names, views, std::make_index_sequence<kLayers>{});
    return bind(src, std::span<const std::string_view>(views, param_layers));
  }
  template <class Source>
  status bind(const Source& src, std::initializer_list<std::string_view> names) {
    return bind(src, std::span<const std::string_view>(names.begin(), names.size()));
  }
  // One name per conv2d, batch_norm and dense, in order. Allocates the buffers and sizes the
  // scratch with one forward() on zeros, so later calls allocate nothing.
  template <class Source>
  status bind(const Source& src, std::span<const std::string_view> names) {
    bound_ = false;
    if (names.size() != param_layers)
      return make_error(errc::invalid_argument, "static_net: " + std::to_string(names.size()) + " layer names for " +
                                                    std::to_string(param_layers) + " layers with parameters");
    std::size_t next_name = 0;
    TESSERA_TRY(bind_all(src, names, next_name, std::make_index_sequence<kLayers>{}));
    TESSERA_TRY(finish_all(std::make_index_sequence<kLayers>{}));
    TESSERA_TRY(a_.allocate_zeroed(static_cast<std::size_t>(buffer_floats)));
    TESSERA_TRY(b_.allocate_zeroed(static_cast<std::size_t>(buffer_floats)));
    TESSERA_TRY(input_.allocate_zeroed(static_cast<std::size_t>(input_size * max_batch)));
    TESSERA_TRY(output_.allocate_zeroed(static_cast<std::size_t>(output_size * max_batch)));
    bound_ = true;
    return forward(output_.data(), input_.data(), max_batch);
  }

  // The thread pool the kernels use (null: the default pool).
  void set_thread_pool(runtime::thread_pool* pool) noexcept { pool_ = pool; }

  // out [n, output_shape] = the network on in [n, C, H, W] (NCHW, PyTorch's layout); a
  // flattened output is in PyTorch's (c, h, w) order. n at most max_batch.
  status forward(float* out, const float* in, index_t n = 1) {
    if (!bound_) return make_error(errc::invalid_argument, "static_net: forward() before a successful bind()");
    if (n < 1 || n > max_batch)
      return make_error(errc::invalid_argument, "static_net: batch " + std::to_string(n) + " outside [1, " + std::to_string(max_batch) + "]");
    float* cur = a_.data();
    float* spare = b_.data();
    TESSERA_TRY(detail::change_layout(cur, in, n, input_shape::c, input_shape::h * input_shape::w, true));
    const detail::run_context ctx{n, pool_, &scratch_};
    TESSERA_TRY(run_all(cur, spare, ctx, std::make_index_sequence<kLayers>{}));
    return detail::change_layout(out, cur, n, output_shape::c, output_shape::h * output_shape::w, false);
  }

 private:
  template <std::size_t... I>
  void bind_default_names(std::string* names, std::string_view* views, std::index_sequence<I...>) {
    std::size_t k = 0;
    ((std::tuple_element_t<I, stages_t>::has_params ? (names[k] = std::to_string(I), views[k] = names[k], ++k) : k), ...);
  }

  template <std::size_t I, class Source>
  status bind_one(const Source& src, std::span<const std::string_view> names, std::size_t& next_name) {
    auto& stage = std::get<I>(stages_);
    const std::string_view name = std::tuple_element_t<I, stages_t>::has_params ? names[next_name++] : std::string_view();
    if constexpr (I == 0) {
      detail::no_params none;
      return stage.bind(src, name, I, none);
    } else {
      return stage.bind(src, name, I, std::get<I - 1>(stages_));
    }
  }
  template <class Source, std::size_t... I>
  status bind_all(const Source& src, std::span<const std::string_view> names, std::size_t& next_name, std::index_sequence<I...>) {
    status st;
    ((st.ok() ? (st = bind_one<I>(src, names, next_name), 0) : 0), ...);
    return st;
  }
  template <std::size_t... I>
  status finish_all(std::index_sequence<I...>) {
    status st;
    ((st.ok() ? (st = std::get<I>(stages_).finish(), 0) : 0), ...);
    return st;
  }
  template <std::size_t... I>
  status run_all(float*& cur, float*& spare, const detail::run_context& ctx, std::index_sequence<I...>) const {
    status st;
    ((st.ok() ? (st = std::get<I>(stages_).run(cur, spare, ctx), 0) : 0), ...);
    return st;
  }

  stages_t stages_;
  aligned_buffer<float> a_, b_, input_, output_;
  arena scratch_;
  runtime::thread_pool* pool_ = nullptr;
  bool bound_ = false;
};

}  // namespace tessera::nn
