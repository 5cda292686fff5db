// ONNX op part: Conv and ConvTranspose over nn/conv.hpp (1-D, 2-D and 3-D, groups,
// depthwise, dilation, explicit pads and auto_pad, ConvTranspose's output_padding and
// output_shape). Constant weights are taken at load, absorb a following BatchNormalization
// and activation, and are packed once; weights fed at run time are prepared per run.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/nn/conv.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

struct conv_attrs {
  auto_pad pad_mode = auto_pad::notset;
  std::optional<std::vector<std::int64_t>> kernel_shape, strides, dilations, pads, output_padding, output_shape;
  std::int64_t group = 1;
};

inline expected<conv_attrs> read_conv_attrs(const build_ctx& b, bool transposed) {
  conv_attrs a;
  TESSERA_ASSIGN_OR_RETURN(a.pad_mode, read_auto_pad(b));
  TESSERA_ASSIGN_OR_RETURN(a.kernel_shape, b.attrs.get_ints("kernel_shape"));
  TESSERA_ASSIGN_OR_RETURN(a.strides, b.attrs.get_ints("strides"));
  TESSERA_ASSIGN_OR_RETURN(a.dilations, b.attrs.get_ints("dilations"));
  TESSERA_ASSIGN_OR_RETURN(a.pads, b.attrs.get_ints("pads"));
  TESSERA_ASSIGN_OR_RETURN(a.group, b.attrs.get_int("group", 1));
  if (transposed) {
    TESSERA_ASSIGN_OR_RETURN(a.output_padding, b.attrs.get_ints("output_padding"));
    TESSERA_ASSIGN_OR_RETURN(a.output_shape, b.attrs.get_ints("output_shape"));
  }
  return a;
}

class conv_node : public op {
 public:
  conv_node(conv_attrs a, bool transposed) : a_(std::move(a)), transposed_(transposed) {}
  layout_rule layouts() const override { return layout_rule::channels_last; }

  // Parameters for weights of shape `w` and (when the pads depend on it) the input `x`.
  // dynamic: the pads depend on the input's extents.
  expected<nn::conv_params> params(const shape_t& w, const shape_t* x, bool& dynamic) const {
    nn::conv_params p;
    const int sp = w.rank() - 2;
    if (sp < 1 || sp > 3) return unsupported("weights of rank " + std::to_string(w.rank()) + " (1 to 3 spatial dims)");
    p.spatial = sp;
    p.groups = a_.group;
    auto check_len = [&](const std::optional<std::vector<std::int64_t>>& v, std::size_t n, const char* name) -> status {
      if (v && v->size() != n) return bad(std::string("attribute '") + name + "' has " + std::to_string(v->size()) + " values, " + std::to_string(n) + " expected");
      return {};
    };
    TESSERA_TRY(check_len(a_.kernel_shape, static_cast<std::size_t>(sp), "kernel_shape"));
    TESSERA_TRY(check_len(a_.strides, static_cast<std::size_t>(sp), "strides"));
    TESSERA_TRY(check_len(a_.dilations, static_cast<std::size_t>(sp), "dilations"));
    TESSERA_TRY(check_len(a_.pads, static_cast<std::size_t>(2 * sp), "pads"));
    TESSERA_TRY(check_len(a_.output_padding, static_cast<std::size_t>(sp), "output_padding"));
    TESSERA_TRY(check_len(a_.output_shape, static_cast<std::size_t>(sp), "output_shape"));
    for (int i = 0; i < sp; ++i) {
      p.kernel[i] = w[i + 2];
      if (a_.kernel_shape && (*a_.kernel_shape)[static_cast<std::size_t>(i)] != w[i + 2])
        return bad("kernel_shape " + std::to_string((*a_.kernel_shape)[static_cast<std::size_t>(i)]) + " != weight extent " + std::to_string(w[i + 2]));
      p.stride[i] = a_.strides ? (*a_.strides)[static_cast<std::size_t>(i)] : 1;
      p.dilation[i] = a_.dilations ? (*a_.dilations)[static_cast<std::size_t>(i)] : 1;
      p.output_padding[i] = a_.output_padding ? (*a_.output_padding)[static_cast<std::size_t>(i)] : 0;
      if (p.stride[i] < 1 || p.dilation[i] < 1 || p.kernel[i] < 1) return bad("strides, dilations and kernel must be >= 1");
      if (a_.pad_mode == auto_pad::notset && !(transposed_ && a_.output_shape)) {
        p.pad_begin[i] = a_.pads ? (*a_.pads)[static_cast<std::size_t>(i)] : 0;
        p.pad_end[i] = a_.pads ? (*a_.pads)[static_cast<std::size_t>(i + sp)] : 0;
      }
    }
    dynamic = false;
    if (a_.pad_mode == auto_pad::valid) return p;
    const bool same = a_.pad_mode == auto_pad::same_upper || a_.pad_mode == auto_pad::same_lower;
    if (!transposed_ && same) {
      for (int i = 0; i < sp; ++i) {
        if (p.stride[i] != 1 && !x) { dynamic = true; continue; }
        same_pads(a_.pad_mode, x ? (*x)[i + 2] : 1, p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i], p.pad_end[i]);
      }
    } else if (transposed_ && (same || a_.output_shape)) {
      // total padding = stride (in - 1) + output_padding + extent - out, with out = in * stride (SAME)
      // or output_shape; SAME_UPPER puts the odd one at the end.
      for (int i = 0; i < sp; ++i) {
        const std::int64_t extent = (p.kernel[i] - 1) * p.dilation[i] + 1;
        std::int64_t total = 0;
        if (a_.output_shape) {
          if (!x) { dynamic = true; continue; }
          const std::int64_t in = (*x)[i + 2];
          total = p.stride[i] * (in - 1) + p.output_padding[i] + extent - (*a_.output_shape)[static_cast<std::size_t>(i)];
        } else {
          total = p.output_padding[i] + extent - p.stride[i];
        }
        if (total < 0) {  // a larger output: the extra rows and columns come at the end
          p.output_padding[i] -= total;
          total = 0;
        }
        const bool upper = a_.pad_mode != auto_pad::same_lower;
        p.pad_begin[i] = upper ? total / 2 : total - total / 2;
        p.pad_end[i] = total - p.pad_begin[i];
      }
    }
    return p;
  }

  status prepare(prepare_ctx& c) override {
    const any_view* w = c.constant(1);
    const bool has_b = c.num_inputs() > 2 && !bias_omitted_;
    const any_view* b = has_b ? c.constant(2) : nullptr;
    if (!w || w->type != elem_type::f32 || (has_b && !b)) return {};  // fed at run time
    if (b && (b->type != elem_type::f32 || b->rank() != 1)) return bad("bias B must be a float32 vector");
    bool dynamic = false;
    TESSERA_ASSIGN_OR_RETURN(const nn::conv_params p, params(w->shape, nullptr, dynamic));
    const std::int64_t in_c = transposed_ ? w->shape[0] : w->shape[1] * a_.group;
    const std::int64_t out_c = transposed_ ? w->shape[1] * a_.group : w->shape[0];
    if (b && b->shape[0] != out_c) return bad("bias has " + std::to_string(b->shape[0]) + " values for " + std::to_string(out_c) + " channels");
    TESSERA_ASSIGN_OR_RETURN(nn::conv layer, nn::conv::create(p, transposed_, in_c, out_c, w->ptr<const float>(),
                                                              b ? b->ptr<const float>() : nullptr, c.constant_owner(1)));
    conv_ = std::make_shared<nn::conv>(std::move(layer));
    weight_shape_ = w->shape;
    dynamic_pads_ = dynamic;
    c.consume(1);
    if (b) c.consume(2);
    return {};
  }
  void set_bias_omitted(bool omitted) { bias_omitted_ = omitted; }
  bool fuse_channel_affine(const std::vector<float>& scale, const std::vector<float>& shift) override {
    if (!conv_ || conv_->activation().act != kernels::activation::none || static_cast<std::int64_t>(scale.size()) != conv_->out_channels())
      return false;
    return conv_->fold_affine(scale.data(), shift.data()).ok();
  }
  bool fuse_activation(const fused_activation& a) override {
    if (!conv_ || conv_->activation().act != kernels::activation::none) return false;
    conv_->set_activation({a.act, a.clip_min, a.clip_max});
    return true;
  }
  status finalize() override { return conv_ ? conv_->prepare(dynamic_pads_) : status{}; }
  bool accepts_residual() const override { return conv_ != nullptr; }
  bool has_activation() const override { return conv_ && conv_->activation().act != kernels::activation::none; }

  struct repadded : op_state {
    nn::conv layer;
    explicit repadded(nn::conv l) : layer(std::move(l)) {}
  };

  status infer(infer_ctx& c) const override {
    if (!c.has(0) || (!conv_ && !c.has(1))) return bad("Conv needs X and W");
    TESSERA_TRY(expect_float32(c, 0, "X"));
    const shape_t& x = c.in(0).shape;
    const shape_t w = conv_ ? weight_shape_ : c.in(1).shape;
    if (!conv_) {
      TESSERA_TRY(expect_float32(c, 1, "W"));
      if (c.has(2)) TESSERA_TRY(expect_float32(c, 2, "B"));
    }
    bool dynamic = false;
    TESSERA_ASSIGN_OR_RETURN(const nn::conv_params p, params(w, &x, dynamic));
    if (x.rank() != p.spatial + 2) return bad("X " + x.str() + " must have rank " + std::to_string(p.spatial + 2));
    const std::int64_t in_c = transposed_ ? w[0] : w[1] * a_.group;
    const std::int64_t out_c = transposed_ ? w[1] * a_.group : w[0];
    if (a_.group < 1 || in_c % a_.group || out_c < 1) return bad("group " + std::to_string(a_.group) + " does not divide the channels");
    if (x[1] != in_c) return bad("X has " + std::to_string(x[1]) + " channels, W expects " + std::to_string(in_c));
    if (!conv_ && c.has(2) && (c.in(2).shape.rank() != 1 || c.in(2).shape[0] != out_c)) return bad("bias B must have one value per output channel");
    shape_t out = x;
    out[1] = out_c;
    for (int i = 0; i < p.spatial; ++i) {
      if (x[i + 2] < 1) return bad("X " + x.str() + " has an empty spatial extent");
      TESSERA_ASSIGN_OR_RETURN(out[i + 2], nn::detail::conv_out_extent(transposed_, x[i + 2], p.kernel[i], p.stride[i], p.dilation[i],
                                                                    p.pad_begin[i], p.pad_end[i], p.output_padding[i], "Conv"));
    }
    if (transposed_ && a_.output_shape)
      for (int i = 0; i < p.spatial; ++i)
        if (out[i + 2] != (*a_.output_shape)[static_cast<std::size_t>(i)]) return bad("output_shape cannot be reached");
    TESSERA_TRY(checked_numel(out));
    if (conv_ && dynamic_pads_) {
      const nn::conv_params& q = conv_->params();
      bool same = true;
      for (int i = 0; i < p.spatial; ++i) same = same && q.pad_begin[i] == p.pad_begin[i] && q.pad_end[i] == p.pad_end[i];
      if (!same) {
        TESSERA_ASSIGN_OR_RETURN(nn::conv l, conv_->with_pads(p.pad_begin, p.pad_end));
        c.set_state(std::make_unique<repadded>(std::move(l)));
      }
    }
    c.set_output(0, elem_type::f32, out);
    return {};
  }

  status run(run_ctx& c) const override {
    const any_view& x = c.in(0);
    if (conv_) {
      const nn::conv& layer = c.state() ? static_cast<const repadded*>(c.state())->layer : *conv_;
      // A fused residual brings the Add's activation (the conv itself has none then).
      const nn::conv_activation fused{c.residual_act.act, c.residual_act.clip_min, c.residual_act.clip_max};
      return layer.forward(c.out(0).ptr<float>(), x.ptr<const float>(), x.shape, c.residual, c.pool(), c.scratch(),
                           c.residual ? &fused : nullptr);
    }
    // Weights fed at run time: prepared for this call (this path allocates).
    const any_view& w = c.in(1);
    if (!w.is_contiguous() || (c.has(2) && !c.in(2).is_contiguous())) return bad("W and B must be contiguous");
    bool dynamic = false;
    TESSERA_ASSIGN_OR_RETURN(const nn::conv_params p, params(w.shape, &x.shape, dynamic));
    const std::int64_t in_c = transposed_ ? w.shape[0] : w.shape[1] * a_.group;
    const std::int64_t out_c = transposed_ ? w.shape[1] * a_.group : w.shape[0];
    TESSERA_ASSIGN_OR_RETURN(nn::conv layer, nn::conv::create(p, transposed_, in_c, out_c, w.ptr<const float>(),
                                                              c.has(2) ? c.in(2).ptr<const float>() : nullptr));
    TESSERA_TRY(layer.prepare());
    return layer.forward(c.out(0).ptr<float>(), x.ptr<const float>(), x.shape, c.residual, c.pool(), c.scratch());
  }

 private:
  conv_attrs a_;
  bool transposed_;
  bool bias_omitted_ = false;
  std::shared_ptr<nn::conv> conv_;  // constant weights: prepared at load
  shape_t weight_shape_;
  bool dynamic_pads_ = false;
};

inline expected<std::unique_ptr<op>> build_conv(const build_ctx& b, bool transposed) {
  TESSERA_ASSIGN_OR_RETURN(conv_attrs a, read_conv_attrs(b, transposed));
  if (a.group < 1 || a.group > (std::int64_t{1} << 30)) return bad("group " + std::to_string(a.group) + " out of range");
  auto node = std::make_unique<conv_node>(std::move(a), transposed);
  node->set_bias_omitted(b.node.inputs.size() > 2 && b.node.inputs[2].empty());
  return std::unique_ptr<op>(std::move(node));
}

}  // namespace tessera::onnx::ops
