// ONNX op part: element-wise operators over nn/elementwise.hpp: the activations and math
// functions, Add/Sub/Mul/Div/Pow/Mod and comparisons with broadcasting, the variadic
// Sum/Mean/Max/Min, Clip, PRelu, Where and Cast. All read strided views, so they run on
// channels-last activations in place of a layout change.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/nn/elementwise.hpp>
#include <tessera/nn/shape_ops.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

class unary_node : public op {
 public:
  explicit unary_node(nn::unary_params p) : p_(p) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    const elem_type t = c.in(0).type;
    if (p_.op == nn::unary_op::logical_not ? t != elem_type::boolean
                                           : t == elem_type::boolean || t == elem_type::f16 || t == elem_type::bf16)
      return unsupported(std::string("input type ") + nn::elem_name(t));
    c.set_output(0, t, c.in(0).shape);
    return {};
  }
  status run(run_ctx& c) const override { return nn::unary(c.out(0), c.in(0), p_); }
  bool as_activation(fused_activation& a) const override {
    if (p_.op != nn::unary_op::relu) return false;
    a.act = kernels::activation::relu;
    return true;
  }

 private:
  nn::unary_params p_;
};

inline expected<std::unique_ptr<op>> build_unary(const build_ctx& b, nn::unary_op kind) {
  nn::unary_params p;
  p.op = kind;
  switch (kind) {
    case nn::unary_op::leaky_relu: {
      TESSERA_ASSIGN_OR_RETURN(p.alpha, b.attrs.get_float("alpha", 0.01f));
      break;
    }
    case nn::unary_op::elu:
    case nn::unary_op::celu: {
      TESSERA_ASSIGN_OR_RETURN(p.alpha, b.attrs.get_float("alpha", 1.0f));
      break;
    }
    case nn::unary_op::selu: {
      TESSERA_ASSIGN_OR_RETURN(p.alpha, b.attrs.get_float("alpha", 1.67326319217681884765625f));
      TESSERA_ASSIGN_OR_RETURN(p.gamma, b.attrs.get_float("gamma", 1.05070102214813232421875f));
      break;
    }
    case nn::unary_op::hard_sigmoid: {
      TESSERA_ASSIGN_OR_RETURN(p.alpha, b.attrs.get_float("alpha", 0.2f));
      TESSERA_ASSIGN_OR_RETURN(p.beta, b.attrs.get_float("beta", 0.5f));
      break;
    }
    case nn::unary_op::gelu: {
      TESSERA_ASSIGN_OR_RETURN(const std::string approx, b.attrs.get_string("approximate", "none"));
      if (approx == "tanh") p.op = nn::unary_op::gelu_tanh;
      else if (approx != "none") return bad("Gelu approximate '" + approx + "' unknown");
      break;
    }
    default: break;
  }
  if (!std::isfinite(p.alpha) || !std::isfinite(p.beta) || !std::isfinite(p.gamma)) return bad("attributes must be finite");
  return make_op<unary_node>(p);
}

// Clip: bounds from attributes (opset < 11) or optional inputs 1, 2.
class clip_node : public op {
 public:
  clip_node(bool from_inputs, float lo, float hi) : from_inputs_(from_inputs), lo_(lo), hi_(hi) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    for (std::size_t i = 1; i < 3; ++i)
      if (c.has(i) && (c.in(i).type != c.in(0).type || numel(c.in(i).shape) != 1))
        return bad("min and max must be scalars of the input's type");
    c.set_output(0, c.in(0).type, c.in(0).shape);
    return {};
  }
  status prepare(prepare_ctx& c) override {
    if (!from_inputs_) return known_ = true, status{};
    known_ = true;
    for (std::size_t i = 1; i < 3 && i < c.num_inputs(); ++i) {
      const any_view* v = c.constant(i);
      if (!v) continue;  // an omitted input has no constant either: handled at run
      if (v->type != elem_type::f32 || v->size() != 1) {
        known_ = false;
        continue;
      }
      (i == 1 ? lo_ : hi_) = *v->ptr<const float>();
      (i == 1 ? has_lo_ : has_hi_) = true;
    }
    return {};
  }
  status run(run_ctx& c) const override {
    double lo = from_inputs_ ? -INFINITY : lo_, hi = from_inputs_ ? INFINITY : hi_;
    for (std::size_t i = 1; i < 3; ++i)
      if (from_inputs_ && c.has(i)) {
        double v = 0;
        nn::visit_elem(c.in(i).type, [&](auto tag) { v = nn::to_double(*c.in(i).template ptr<const typename decltype(tag)::type>()); });
        (i == 1 ? lo : hi) = v;
      }
    nn::unary_params p;
    p.op = nn::unary_op::clip;
    p.alpha = static_cast<float>(std::max<double>(lo, -std::numeric_limits<float>::max() * 2.0));
    p.beta = static_cast<float>(std::min<double>(hi, std::numeric_limits<float>::max() * 2.0));
    if (std::isnan(p.alpha) || std::isnan(p.beta)) return bad("NaN bound");
    if (p.alpha > p.beta) {  // ONNX: every element becomes max
      p.alpha = p.beta;
    }
    return nn::unary(c.out(0), c.in(0), p);
  }
  bool as_activation(fused_activation& a) const override {
    if (from_inputs_ && !known_) return false;
    const float lo = from_inputs_ && !has_lo_ ? -INFINITY : lo_, hi = from_inputs_ && !has_hi_ ? INFINITY : hi_;
    if (!(lo <= hi)) return false;
    a.act = kernels::activation::clip;
    a.clip_min = lo;
    a.clip_max = hi;
    return true;
  }

 private:
  bool from_inputs_;
  float lo_, hi_;
  bool known_ = false, has_lo_ = false, has_hi_ = false;
};

inline expected<std::unique_ptr<op>> build_clip(const build_ctx& b, int) {
  if (b.opset >= 11) return make_op<clip_node>(true, -INFINITY, INFINITY);
  TESSERA_ASSIGN_OR_RETURN(const float lo, b.attrs.get_float("min", -std::numeric_limits<float>::max()));
  TESSERA_ASSIGN_OR_RETURN(const float hi, b.attrs.get_float("max", std::numeric_limits<float>::max()));
  return make_op<clip_node>(false, lo, hi);
}

// Binary operators; the variadic ones (Sum, Mean, Max, Min) fold their inputs pairwise.
class binary_node : public op {
 public:
  binary_node(nn::binary_op op, bool variadic, bool mean, int legacy_axis)
      : op_(op), variadic_(variadic), mean_(mean), legacy_axis_(legacy_axis) {}
  layout_rule layouts() const override { return layout_rule::any; }

  status infer(infer_ctx& c) const override {
    const std::size_t n = c.num_inputs();
    if (n == 0 || !c.has(0) || (!variadic_ && (n != 2 || !c.has(1)))) return bad("wrong number of inputs");
    shape_t s = c.in(0).shape;
    const elem_type t = c.in(0).type;
    for (std::size_t i = 1; i < n; ++i) {
      if (!c.has(i)) return bad("omitted input");
      if (c.in(i).type != t && op_ != nn::binary_op::pow)
        return bad(std::string("operand types differ: ") + nn::elem_name(t) + " and " + nn::elem_name(c.in(i).type));
      TESSERA_ASSIGN_OR_RETURN(const shape_t bs, effective_shape(s, c.in(i).shape));
      TESSERA_ASSIGN_OR_RETURN(s, broadcast_shapes(s, bs));
    }
    if (t == elem_type::f16 || t == elem_type::bf16) return unsupported(std::string("operands of type ") + nn::elem_name(t));
    if (mean_ && !nn::is_float(t)) return unsupported("Mean of integers");
    c.set_output(0, nn::is_comparison(op_) ? elem_type::boolean : t, s);
    return {};
  }

  status run(run_ctx& c) const override {
    const any_view& out = c.out(0);
    const std::size_t n = c.num_inputs();
    const bool fused = act_.act != kernels::activation::none;
    if (n == 1) return nn::expand(out, c.in(0));
    for (std::size_t i = 1; i < n; ++i) {
      any_view b = c.in(i);
      TESSERA_ASSIGN_OR_RETURN(b.shape, effective_shape(c.in(0).shape, b.shape));
      if (b.shape != c.in(i).shape) b.strides = contiguous_strides(b.shape);
      const any_view& a = i == 1 ? c.in(0) : out;
      const bool last = i + 1 == n && !mean_;
      if (op_ == nn::binary_op::pow && a.type != b.type) {
        TESSERA_TRY(nn::pow_mixed(out, a, b));
      } else {
        TESSERA_TRY(nn::binary(out, a, b, op_, last && fused ? act_.act : kernels::activation::none, act_.clip_min, act_.clip_max));
      }
    }
    if (mean_) {
      const double inv = 1.0 / static_cast<double>(n);
      float f = static_cast<float>(inv);
      const any_view k(out.type == elem_type::f64 ? static_cast<void*>(const_cast<double*>(&inv)) : static_cast<void*>(&f), out.type, shape_t{});
      TESSERA_TRY(nn::binary(out, out, k, nn::binary_op::mul));
    }
    return {};
  }

  bool fuse_activation(const fused_activation& a) override {
    if (nn::is_comparison(op_) || mean_ || act_.act != kernels::activation::none) return false;
    if (a.act != kernels::activation::relu && a.act != kernels::activation::clip) return false;  // exact on scalars too
    act_ = a;
    return true;
  }
  bool is_add(fused_activation& a) const override {
    if (op_ != nn::binary_op::add || variadic_ || legacy_axis_ >= 0) return false;
    a = act_;
    return true;
  }
  bool has_activation() const override { return act_.act != kernels::activation::none; }

 private:
  // Opset < 7 broadcasting with `axis`: b's dims align with a's from `axis` on.
  expected<shape_t> effective_shape(const shape_t& a, const shape_t& b) const {
    if (legacy_axis_ < 0) return b;
    const int axis = legacy_axis_ == kAlignRight ? a.rank() - b.rank() : legacy_axis_;
    if (axis < 0 || axis + b.rank() > a.rank()) return bad("legacy broadcast axis out of range");
    shape_t s = b;
    while (s.rank() < a.rank() - axis) s.push_back(1);
    return s;
  }

 public:
  static constexpr int kAlignRight = 1 << 20;

 private:
  nn::binary_op op_;
  bool variadic_, mean_;
  int legacy_axis_;  // < 0: NumPy broadcasting (opset >= 7)
  fused_activation act_;
};

inline expected<std::unique_ptr<op>> build_binary(const build_ctx& b, nn::binary_op kind) {
  int legacy = -1;
  if (b.opset < 7) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t bc, b.attrs.get_int("broadcast", 0));
    if (bc) {
      if (b.attrs.has("axis")) {
        TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", 0));
        if (axis < 0 || axis > 64) return bad("axis out of range");
        legacy = static_cast<int>(axis);
      } else {
        legacy = binary_node::kAlignRight;
      }
    }
  }
  if (kind == nn::binary_op::mod) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t fmod, b.attrs.get_int("fmod", 0));
    if (fmod) kind = nn::binary_op::fmod;
  }
  return make_op<binary_node>(kind, false, false, legacy);
}

// Sum, Max, Min (kind), Mean (kind add + mean).
inline expected<std::unique_ptr<op>> build_variadic(const build_ctx&, int which) {
  switch (which) {
    case 0: return make_op<binary_node>(nn::binary_op::add, true, false, -1);
    case 1: return make_op<binary_node>(nn::binary_op::add, true, true, -1);
    case 2: return make_op<binary_node>(nn::binary_op::max, true, false, -1);
    default: return make_op<binary_node>(nn::binary_op::min, true, false, -1);
  }
}

// PRelu: x > 0 ? x : slope * x. Opset < 7 applies a [C] slope along axis 1.
class prelu_node : public op {
 public:
  explicit prelu_node(bool legacy) : legacy_(legacy) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || !c.has(1)) return bad("PRelu needs X and slope");
    TESSERA_TRY(expect_float32(c, 0, "X"));
    TESSERA_TRY(expect_float32(c, 1, "slope"));
    const shape_t s = slope_shape(c.in(0).shape, c.in(1).shape);
    TESSERA_ASSIGN_OR_RETURN(const shape_t o, broadcast_shapes(c.in(0).shape, s));
    if (o != c.in(0).shape) return bad("slope " + c.in(1).shape.str() + " does not broadcast to " + c.in(0).shape.str());
    c.set_output(0, elem_type::f32, o);
    return {};
  }
  status run(run_ctx& c) const override {
    any_view s = c.in(1);
    s.shape = slope_shape(c.in(0).shape, s.shape);
    s.strides = contiguous_strides(s.shape);
    if (!c.in(1).is_contiguous()) return bad("slope must be contiguous");
    return nn::binary(c.out(0), c.in(0), s, nn::binary_op::prelu);
  }

 private:
  shape_t slope_shape(const shape_t& x, const shape_t& slope) const {
    if (!legacy_ || slope.rank() != 1 || x.rank() < 2 || slope[0] != x[1] || slope[0] == x[x.rank() - 1]) return slope;
    shape_t s = slope;
    for (int i = 2; i < x.rank(); ++i) s.push_back(1);
    return s;
  }
  bool legacy_;
};

inline expected<std::unique_ptr<op>> build_prelu(const build_ctx& b, int) { return make_op<prelu_node>(b.opset < 7); }

class where_node : public op {
 public:
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || !c.has(1) || !c.has(2)) return bad("Where needs condition, X and Y");
    TESSERA_TRY(expect_type(c.in(0), elem_type::boolean, "condition"));
    if (c.in(1).type != c.in(2).type) return bad("X and Y types differ");
    TESSERA_ASSIGN_OR_RETURN(shape_t s, broadcast_shapes(c.in(0).shape, c.in(1).shape));
    TESSERA_ASSIGN_OR_RETURN(s, broadcast_shapes(s, c.in(2).shape));
    c.set_output(0, c.in(1).type, s);
    return {};
  }
  status run(run_ctx& c) const override { return nn::where(c.out(0), c.in(0), c.in(1), c.in(2)); }
};

inline expected<std::unique_ptr<op>> build_where(const build_ctx&, int) { return make_op<where_node>(); }

class cast_node : public op {
 public:
  explicit cast_node(elem_type to) : to_(to) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    c.set_output(0, to_, c.in(0).shape);
    return {};
  }
  status run(run_ctx& c) const override { return nn::cast(c.out(0), c.in(0)); }

 private:
  elem_type to_;
};

inline expected<std::unique_ptr<op>> build_cast(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t to, b.attrs.require_int("to"));
  if (to <= 0 || to > kMaxDataType) return bad("Cast to unknown type " + std::to_string(to));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t saturate, b.attrs.get_int("saturate", 1));
  (void)saturate;  // only affects float8 targets, which are not supported
  auto t = elem_type_of(static_cast<data_type>(to));
  if (!t.ok()) return unsupported("Cast to " + t.err().message);
  return make_op<cast_node>(*t);
}

}  // namespace tessera::onnx::ops
