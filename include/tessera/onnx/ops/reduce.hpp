// ONNX op part: ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp (axes as an
// attribute or, from opset 13/18, an input; keepdims; noop_with_empty_axes), Softmax and
// LogSoftmax (opset < 13: over the trailing axes coerced to 2-D; from 13: one axis), ArgMax
// and ArgMin, over nn/reduce.hpp and kernels/reduce.hpp.
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/kernels/reduce.hpp>
#include <tessera/nn/reduce.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

class reduce_node : public op {
 public:
  reduce_node(nn::reduce_op op, std::optional<std::vector<std::int64_t>> axes, bool axes_input, bool keepdims, bool noop_empty)
      : op_(op), axes_(std::move(axes)), axes_input_(axes_input), keepdims_(keepdims), noop_empty_(noop_empty) {}

  struct plan_state : op_state {
    bool reduce_axis[TESSERA_MAX_RANK] = {};
    bool noop = false;
  };

  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    TESSERA_TRY(expect_float32(c, 0, "data"));
    const shape_t& x = c.in(0).shape;
    std::vector<std::int64_t> axes;
    bool have = false;
    if (axes_input_ && c.has(1)) {
      TESSERA_ASSIGN_OR_RETURN(axes, constant_ints(c, 1, "axes"));
      have = true;
    } else if (axes_) {
      axes = *axes_;
      have = true;
    }
    auto st = std::make_unique<plan_state>();
    if (!have || axes.empty()) {
      if (noop_empty_ && axes_input_) st->noop = true;
      else for (int i = 0; i < x.rank(); ++i) st->reduce_axis[i] = true;
    } else {
      TESSERA_ASSIGN_OR_RETURN(const std::vector<int> n, normalize_axes(axes, x.rank()));
      for (int a : n) st->reduce_axis[a] = true;
    }
    const shape_t out = st->noop ? x : nn::reduced_shape(x, st->reduce_axis, keepdims_);
    if ((op_ == nn::reduce_op::max || op_ == nn::reduce_op::min) && numel(x) == 0 && numel(out) != 0)
      return bad("ReduceMax/ReduceMin of an empty set");
    c.set_state(std::move(st));
    c.set_output(0, elem_type::f32, out);
    return {};
  }
  status run(run_ctx& c) const override {
    const auto* st = static_cast<const plan_state*>(c.state());
    if (st->noop) return nn::copy(c.out(0), c.in(0));
    return nn::reduce(op_, c.out(0).ptr<float>(), c.in(0).ptr<const float>(), c.in(0).shape, st->reduce_axis, c.scratch());
  }

 private:
  nn::reduce_op op_;
  std::optional<std::vector<std::int64_t>> axes_;
  bool axes_input_, keepdims_, noop_empty_;
};

inline expected<std::unique_ptr<op>> build_reduce(const build_ctx& b, nn::reduce_op kind) {
  // Axes moved from the attribute to an input at opset 13 for ReduceSum, at 18 for the others.
  const bool axes_input = b.opset >= (kind == nn::reduce_op::sum ? 13 : 18);
  std::optional<std::vector<std::int64_t>> axes;
  if (!axes_input) {
    TESSERA_ASSIGN_OR_RETURN(axes, b.attrs.get_ints("axes"));
  }
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t keepdims, b.attrs.get_int("keepdims", 1));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t noop, b.attrs.get_int("noop_with_empty_axes", 0));
  return make_op<reduce_node>(kind, std::move(axes), axes_input, keepdims != 0, noop != 0);
}

class softmax_node : public op {
 public:
  softmax_node(bool log, std::int64_t axis, bool coerce) : log_(log), axis_(axis), coerce_(coerce) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    TESSERA_TRY(expect_float32(c, 0, "input"));
    const shape_t& x = c.in(0).shape;
    if (x.rank() > 0) TESSERA_TRY(normalize_axis(axis_, x.rank()));
    c.set_output(0, elem_type::f32, x);
    return {};
  }
  status run(run_ctx& c) const override {
    const any_view& x = c.in(0);
    return nn::softmax(log_, c.out(0).ptr<float>(), x.ptr<const float>(), x.shape, static_cast<int>(axis_), coerce_);
  }

 private:
  bool log_;
  std::int64_t axis_;
  bool coerce_;
};

inline expected<std::unique_ptr<op>> build_softmax(const build_ctx& b, bool log) {
  const bool coerce = b.opset < 13;
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", coerce ? 1 : -1));
  if (axis < -64 || axis > 64) return bad("axis out of range");
  return make_op<softmax_node>(log, axis, coerce);
}

class arg_reduce_node : public op {
 public:
  arg_reduce_node(bool is_max, std::int64_t axis, bool keepdims, bool last) : max_(is_max), axis_(axis), keepdims_(keepdims), last_(last) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    TESSERA_TRY(expect_float32(c, 0, "data"));
    const shape_t& x = c.in(0).shape;
    TESSERA_ASSIGN_OR_RETURN(const int axis, normalize_axis(axis_, x.rank()));
    if (x[axis] == 0) return bad("ArgMax/ArgMin over an empty axis");
    bool red[TESSERA_MAX_RANK] = {};
    red[axis] = true;
    c.set_output(0, elem_type::i64, nn::reduced_shape(x, red, keepdims_));
    return {};
  }
  status run(run_ctx& c) const override {
    const any_view& x = c.in(0);
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + x.rank() : axis_);
    if (last_) {  // the last occurrence: scan by hand
      index_t outer = 1, inner = 1;
      for (int i = 0; i < axis; ++i) outer *= x.shape[i];
      for (int i = axis + 1; i < x.rank(); ++i) inner *= x.shape[i];
      const index_t R = x.shape[axis];
      const float* p = x.ptr<const float>();
      std::int64_t* o = c.out(0).ptr<std::int64_t>();
      for (index_t a = 0; a < outer; ++a)
        for (index_t j = 0; j < inner; ++j) {
          index_t best = 0;
          for (index_t r = 1; r < R; ++r) {
            const float v = p[(a * R + r) * inner + j], b = p[(a * R + best) * inner + j];
            if (max_ ? v >= b : v <= b) best = r;
          }
          o[a * inner + j] = best;
        }
      return {};
    }
    shape_t os = x.shape;
    os[axis] = 1;
    const TensorView<index_t> out(c.out(0).ptr<index_t>(), os);
    const TensorView<const float> in(x.ptr<const float>(), x.shape);
    return max_ ? kernels::argmax(out, in, axis) : kernels::argmin(out, in, axis);
  }

 private:
  bool max_;
  std::int64_t axis_;
  bool keepdims_, last_;
};

inline expected<std::unique_ptr<op>> build_arg_reduce(const build_ctx& b, bool is_max) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", 0));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t keepdims, b.attrs.get_int("keepdims", 1));
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t last, b.attrs.get_int("select_last_index", 0));
  if (axis < -64 || axis > 64) return bad("axis out of range");
  return make_op<arg_reduce_node>(is_max, axis, keepdims != 0, last != 0);
}

}  // namespace tessera::onnx::ops
