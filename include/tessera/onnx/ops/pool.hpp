// ONNX op part: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool over nn/pool.hpp
// (1-D to 3-D, pads and auto_pad, dilations, ceil_mode, count_include_pad). Integer inputs
// of MaxPool (uint8 images) are pooled in float32, exact for 8- and 16-bit values.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/nn/elementwise.hpp>
#include <tessera/nn/pool.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

class pool_node : public op {
 public:
  struct attrs {
    bool is_max = true;
    auto_pad pad_mode = auto_pad::notset;
    std::vector<std::int64_t> kernel;
    std::optional<std::vector<std::int64_t>> strides, dilations, pads;
    bool ceil_mode = false, count_include_pad = false;
  };
  explicit pool_node(attrs a) : a_(std::move(a)) {}
  layout_rule layouts() const override { return layout_rule::channels_last; }

  struct plan_state : op_state {
    nn::pool_params p;
  };

  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    const elem_type t = c.in(0).type;
    const bool small_int = t == elem_type::u8 || t == elem_type::i8 || t == elem_type::u16 || t == elem_type::i16;
    if (t != elem_type::f32 && !(a_.is_max && small_int)) return unsupported(std::string("input type ") + nn::elem_name(t));
    const shape_t& x = c.in(0).shape;
    const int sp = static_cast<int>(a_.kernel.size());
    if (x.rank() != sp + 2) return bad("X " + x.str() + " must have rank " + std::to_string(sp + 2) + " for kernel_shape of " + std::to_string(sp));
    auto st = std::make_unique<plan_state>();
    nn::pool_params& p = st->p;
    p.spatial = sp;
    p.ceil_mode = a_.ceil_mode;
    p.count_include_pad = a_.count_include_pad;
    for (int i = 0; i < sp; ++i) {
      const auto u = static_cast<std::size_t>(i);
      p.kernel[i] = a_.kernel[u];
      p.stride[i] = a_.strides ? (*a_.strides)[u] : 1;
      p.dilation[i] = a_.dilations ? (*a_.dilations)[u] : 1;
      if (a_.pad_mode == auto_pad::same_upper || a_.pad_mode == auto_pad::same_lower) {
        if (p.stride[i] < 1 || p.dilation[i] < 1) return bad("strides and dilations must be >= 1");
        same_pads(a_.pad_mode, x[i + 2], p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i], p.pad_end[i]);
      } else if (a_.pad_mode == auto_pad::notset && a_.pads) {
        p.pad_begin[i] = (*a_.pads)[u];
        p.pad_end[i] = (*a_.pads)[u + static_cast<std::size_t>(sp)];
      }
    }
    TESSERA_ASSIGN_OR_RETURN(const shape_t out, nn::pool_output_shape(x, p));
    c.set_state(std::move(st));
    c.set_output(0, t, out);
    return {};
  }

  status run(run_ctx& c) const override {
    const nn::pool_params& p = static_cast<const plan_state*>(c.state())->p;
    const any_view& x = c.in(0);
    const any_view& y = c.out(0);
    if (x.type == elem_type::f32) return nn::pool(a_.is_max, y.ptr<float>(), x.ptr<const float>(), x.shape, p, c.pool(), c.scratch());
    // Small integers: through float32 buffers in the same (channels-last) layout.
    const arena_scope scope(c.scratch());
    TESSERA_ASSIGN_OR_RETURN(float* xf, c.scratch().allocate<float>(static_cast<std::size_t>(x.size())));
    TESSERA_ASSIGN_OR_RETURN(float* yf, c.scratch().allocate<float>(static_cast<std::size_t>(y.size())));
    const any_view xv(xf, elem_type::f32, x.shape, x.strides), yv(yf, elem_type::f32, y.shape, y.strides);
    TESSERA_TRY(nn::cast(xv, x));
    TESSERA_TRY(nn::pool(a_.is_max, yf, xf, x.shape, p, c.pool(), c.scratch()));
    return nn::cast(y, yv);
  }

 private:
  attrs a_;
};

inline expected<std::unique_ptr<op>> build_pool(const build_ctx& b, bool is_max) {
  pool_node::attrs a;
  a.is_max = is_max;
  TESSERA_ASSIGN_OR_RETURN(a.pad_mode, read_auto_pad(b));
  TESSERA_ASSIGN_OR_RETURN(auto kernel, b.attrs.get_ints("kernel_shape"));
  if (!kernel || kernel->empty() || kernel->size() > 3) return unsupported("kernel_shape with 1 to 3 spatial dims is required");
  a.kernel = *kernel;
  const std::size_t sp = a.kernel.size();
  TESSERA_ASSIGN_OR_RETURN(a.strides, b.attrs.get_ints("strides"));
  TESSERA_ASSIGN_OR_RETURN(a.dilations, b.attrs.get_ints("dilations"));
  TESSERA_ASSIGN_OR_RETURN(a.pads, b.attrs.get_ints("pads"));
  if ((a.strides && a.strides->size() != sp) || (a.dilations && a.dilations->size() != sp) || (a.pads && a.pads->size() != 2 * sp))
    return bad("strides, dilations or pads do not match kernel_shape");
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t ceil_mode, b.attrs.get_int("ceil_mode", 0));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t cip, b.attrs.get_int("count_include_pad", 0));
  a.ceil_mode = ceil_mode != 0;
  a.count_include_pad = !is_max && cip != 0;
  if (is_max) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t order, b.attrs.get_int("storage_order", 0));
    (void)order;  // only affects the Indices output
    if (b.node.outputs.size() > 1 && !b.node.outputs[1].empty()) return unsupported("MaxPool's Indices output");
  }
  return make_op<pool_node>(std::move(a));
}

class global_pool_node : public op {
 public:
  explicit global_pool_node(bool is_max) : is_max_(is_max) {}
  layout_rule layouts() const override { return layout_rule::channels_last; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    TESSERA_TRY(expect_float32(c, 0, "X"));
    const shape_t& x = c.in(0).shape;
    if (x.rank() < 3) return bad("X " + x.str() + " needs rank >= 3");
    shape_t out = x;
    for (int i = 2; i < x.rank(); ++i) {
      if (x[i] < 1) return bad("X " + x.str() + " has an empty spatial extent");
      out[i] = 1;
    }
    c.set_output(0, elem_type::f32, out);
    return {};
  }
  status run(run_ctx& c) const override {
    return nn::global_pool(is_max_, c.out(0).ptr<float>(), c.in(0).ptr<const float>(), c.in(0).shape, c.pool());
  }

 private:
  bool is_max_;
};

inline expected<std::unique_ptr<op>> build_global_pool(const build_ctx&, bool is_max) { return make_op<global_pool_node>(is_max); }

}  // namespace tessera::onnx::ops
