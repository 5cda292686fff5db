// ONNX op part: BatchNormalization (inference; folded into a preceding conv at load when it
// can be), LayerNormalization, InstanceNormalization and LRN over nn/norm.hpp.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/nn/norm.hpp>
#include <tessera/nn/shape_ops.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <string>
#include <vector>

namespace tessera::onnx::ops {

class batch_norm_node : public op {
 public:
  explicit batch_norm_node(float eps) : eps_(eps) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    for (std::size_t i = 0; i < 5; ++i)
      if (!c.has(i)) return bad("BatchNormalization needs X, scale, B, mean and var");
    TESSERA_TRY(expect_float32(c, 0, "X"));
    const shape_t& x = c.in(0).shape;
    if (x.rank() < 2) return bad("X " + x.str() + " needs a channel axis");
    for (std::size_t i = 1; i < 5; ++i) {
      TESSERA_TRY(expect_float32(c, i, "parameters"));
      if (numel(c.in(i).shape) != x[1] || c.in(i).shape.rank() != 1)
        return unsupported("parameters of shape " + c.in(i).shape.str() + " (one value per channel expected)");
    }
    c.set_output(0, elem_type::f32, x);
    for (std::size_t i = 1; i < c.num_outputs(); ++i) c.set_output(i, elem_type::f32, shape_t{x[1]});
    return {};
  }
  status prepare(prepare_ctx& c) override {
    const any_view* p[4];
    for (std::size_t i = 0; i < 4; ++i) {
      p[i] = c.constant(i + 1);
      if (!p[i] || p[i]->type != elem_type::f32 || p[i]->rank() != 1 || p[i]->size() != p[0]->size()) return {};
    }
    TESSERA_TRY(nn::batch_norm_coefficients(scale_, shift_, p[0]->ptr<const float>(), p[1]->ptr<const float>(), p[2]->ptr<const float>(),
                                            p[3]->ptr<const float>(), static_cast<std::size_t>(p[0]->size()), eps_));
    for (std::size_t i = 1; i < 5; ++i) c.consume(i);
    return {};
  }
  bool as_channel_affine(std::vector<float>& scale, std::vector<float>& shift) const override {
    if (scale_.empty()) return false;
    scale = scale_;
    shift = shift_;
    return true;
  }
  status run(run_ctx& c) const override {
    const any_view& x = c.in(0);
    if (!scale_.empty()) return nn::channel_affine(c.out(0), x, scale_.data(), shift_.data());
    const std::size_t C = static_cast<std::size_t>(x.shape[1]);
    const arena_scope scope(c.scratch());
    TESSERA_ASSIGN_OR_RETURN(float* coef, c.scratch().allocate<float>(2 * C));
    for (std::size_t i = 1; i < 5; ++i)
      if (!c.in(i).is_contiguous()) return bad("parameters must be contiguous");
    const float* g = c.in(1).ptr<const float>();
    const float* b = c.in(2).ptr<const float>();
    const float* m = c.in(3).ptr<const float>();
    const float* v = c.in(4).ptr<const float>();
    for (std::size_t ch = 0; ch < C; ++ch) {
      const double s = static_cast<double>(g[ch]) / std::sqrt(static_cast<double>(v[ch]) + eps_);
      coef[ch] = static_cast<float>(s);
      coef[C + ch] = static_cast<float>(static_cast<double>(b[ch]) - static_cast<double>(m[ch]) * s);
    }
    return nn::channel_affine(c.out(0), x, coef, coef + C);
  }

 private:
  float eps_;
  std::vector<float> scale_, shift_;
};

inline expected<std::unique_ptr<op>> build_batch_norm(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const float eps, b.attrs.get_float("epsilon", 1e-5f));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t training, b.attrs.get_int("training_mode", 0));
  if (training) return unsupported("training_mode");
  if (b.opset < 9) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t spatial, b.attrs.get_int("spatial", 1));
    if (!spatial) return unsupported("spatial = 0");
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t is_test, b.attrs.get_int("is_test", 1));
    if (b.opset < 7 && !is_test) return unsupported("is_test = 0 (training)");
  }
  for (std::size_t i = 1; i < b.node.outputs.size(); ++i)
    if (!b.node.outputs[i].empty()) return unsupported("the training outputs (running mean and variance)");
  if (!(eps >= 0) || !std::isfinite(eps)) return bad("epsilon must be finite and >= 0");
  return make_op<batch_norm_node>(eps);
}

class layer_norm_node : public op {
 public:
  layer_norm_node(std::int64_t axis, float eps) : axis_(axis), eps_(eps) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || !c.has(1)) return bad("LayerNormalization needs X and Scale");
    TESSERA_TRY(expect_float32(c, 0, "X"));
    TESSERA_TRY(expect_float32(c, 1, "Scale"));
    const shape_t& x = c.in(0).shape;
    TESSERA_ASSIGN_OR_RETURN(const int axis, normalize_axis(axis_, x.rank()));
    shape_t norm;
    for (int i = axis; i < x.rank(); ++i) norm.push_back(x[i]);
    for (std::size_t i = 1; i < 3; ++i) {
      if (!c.has(i)) continue;
      TESSERA_TRY(expect_float32(c, i, "Scale and B"));
      TESSERA_ASSIGN_OR_RETURN(const shape_t s, broadcast_shapes(norm, c.in(i).shape));
      if (s != norm) return bad("Scale/B " + c.in(i).shape.str() + " does not broadcast to " + norm.str());
    }
    c.set_output(0, elem_type::f32, x);
    shape_t stats = x;
    for (int i = axis; i < x.rank(); ++i) stats[i] = 1;
    for (std::size_t i = 1; i < c.num_outputs(); ++i) c.set_output(i, elem_type::f32, stats);
    return {};
  }
  status run(run_ctx& c) const override {
    const any_view& x = c.in(0);
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + x.rank() : axis_);
    index_t rows = 1, cols = 1;
    for (int i = 0; i < axis; ++i) rows *= x.shape[i];
    for (int i = axis; i < x.rank(); ++i) cols *= x.shape[i];
    shape_t norm;
    for (int i = axis; i < x.rank(); ++i) norm.push_back(x.shape[i]);
    const arena_scope scope(c.scratch());
    const float* params[2] = {nullptr, nullptr};
    for (std::size_t i = 1; i < 3; ++i) {
      const std::size_t k = i - 1;
      if (c.has(i) && c.in(i).shape == norm && c.in(i).is_contiguous()) {
        params[k] = c.in(i).ptr<const float>();
        continue;
      }
      TESSERA_ASSIGN_OR_RETURN(float* full, c.scratch().allocate<float>(static_cast<std::size_t>(std::max<index_t>(cols, 1))));
      const any_view fv(full, elem_type::f32, norm);
      if (c.has(i)) {
        TESSERA_TRY(nn::expand(fv, c.in(i)));
      } else {
        nn::fill(fv, 0.0);
      }
      params[k] = full;
    }
    float* mean = c.num_outputs() > 1 ? c.out(1).ptr<float>() : nullptr;
    float* inv_std = c.num_outputs() > 2 ? c.out(2).ptr<float>() : nullptr;
    return nn::layer_norm(c.out(0).ptr<float>(), x.ptr<const float>(), static_cast<std::size_t>(rows), static_cast<std::size_t>(cols),
                          params[0], params[1], eps_, mean, inv_std);
  }

 private:
  std::int64_t axis_;
  float eps_;
};

inline expected<std::unique_ptr<op>> build_layer_norm(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", -1));
  TESSERA_ASSIGN_OR_RETURN(const float eps, b.attrs.get_float("epsilon", 1e-5f));
  if (!(eps >= 0) || !std::isfinite(eps)) return bad("epsilon must be finite and >= 0");
  return make_op<layer_norm_node>(axis, eps);
}

class instance_norm_node : public op {
 public:
  explicit instance_norm_node(float eps) : eps_(eps) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || !c.has(1) || !c.has(2)) return bad("InstanceNormalization needs input, scale and B");
    for (std::size_t i = 0; i < 3; ++i) TESSERA_TRY(expect_float32(c, i, "inputs"));
    const shape_t& x = c.in(0).shape;
    if (x.rank() < 3) return bad("input " + x.str() + " needs rank >= 3");
    if (numel(c.in(1).shape) != x[1] || numel(c.in(2).shape) != x[1]) return bad("scale and B need one value per channel");
    c.set_output(0, elem_type::f32, x);
    return {};
  }
  status run(run_ctx& c) const override {
    return nn::instance_norm(c.out(0).ptr<float>(), c.in(0).ptr<const float>(), c.in(0).shape, c.in(1).ptr<const float>(),
                             c.in(2).ptr<const float>(), eps_, c.scratch());
  }

 private:
  float eps_;
};

inline expected<std::unique_ptr<op>> build_instance_norm(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const float eps, b.attrs.get_float("epsilon", 1e-5f));
  if (!(eps >= 0) || !std::isfinite(eps)) return bad("epsilon must be finite and >= 0");
  return make_op<instance_norm_node>(eps);
}

class lrn_node : public op {
 public:
  lrn_node(std::int64_t size, float alpha, float beta, float bias) : size_(size), alpha_(alpha), beta_(beta), bias_(bias) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    TESSERA_TRY(expect_float32(c, 0, "X"));
    if (c.in(0).shape.rank() < 3) return bad("X needs rank >= 3");
    c.set_output(0, elem_type::f32, c.in(0).shape);
    return {};
  }
  status run(run_ctx& c) const override {
    return nn::lrn(c.out(0).ptr<float>(), c.in(0).ptr<const float>(), c.in(0).shape, size_, alpha_, beta_, bias_);
  }

 private:
  std::int64_t size_;
  float alpha_, beta_, bias_;
};

inline expected<std::unique_ptr<op>> build_lrn(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t size, b.attrs.require_int("size"));
  TESSERA_ASSIGN_OR_RETURN(const float alpha, b.attrs.get_float("alpha", 1e-4f));
  TESSERA_ASSIGN_OR_RETURN(const float beta, b.attrs.get_float("beta", 0.75f));
  TESSERA_ASSIGN_OR_RETURN(const float bias, b.attrs.get_float("bias", 1.0f));
  if (size < 1 || size > 4096) return bad("size out of range");
  return make_op<lrn_node>(size, alpha, beta, bias);
}

}  // namespace tessera::onnx::ops
