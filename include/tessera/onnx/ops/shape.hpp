// ONNX op part: shape and data-movement operators over nn/shape_ops.hpp: Reshape, Flatten,
// Squeeze, Unsqueeze, Identity and Dropout (views of their input's bytes), Transpose,
// Concat, Split, Slice, Gather, Expand, Tile, Pad, DepthToSpace, SpaceToDepth, and the
// shape-computing Shape, Size, Constant, ConstantOfShape and Range (folded at load or plan).
#include <tessera/detail/internal_check.hpp>
#pragma once

#include <tessera/nn/elementwise.hpp>
#include <tessera/nn/shape_ops.hpp>
#include <tessera/onnx/ops/common.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace tessera::onnx::ops {

// Output 0 is input 0's bytes under another shape. run() copies only when the planner did
// not alias the buffers.
class view_node : public op {
 public:
  bool is_view() const override { return true; }
  status run(run_ctx& c) const override {
    const any_view& in = c.in(0);
    const any_view& out = c.out(0);
    if (out.data != in.data && in.size()) {
      if (!in.is_contiguous()) return bad("input must be contiguous");
      std::memmove(out.data, in.data, in.bytes());
    }
    for (std::size_t i = 1; i < c.num_outputs(); ++i) nn::fill(c.out(i), 1.0);  // Dropout's mask: all kept
    return {};
  }
};

class reshape_node : public view_node {
 public:
  reshape_node(std::optional<std::vector<std::int64_t>> attr_shape, bool allowzero) : attr_(std::move(attr_shape)), allowzero_(allowzero) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing data");
    std::vector<std::int64_t> want;
    if (attr_) {
      want = *attr_;
    } else {
      if (!c.has(1)) return bad("missing shape");
      TESSERA_ASSIGN_OR_RETURN(want, constant_ints(c, 1, "shape"));
    }
    const shape_t& in = c.in(0).shape;
    if (want.size() > static_cast<std::size_t>(TESSERA_MAX_RANK)) return unsupported("rank " + std::to_string(want.size()));
    shape_t out;
    int infer_at = -1;
    index_t known = 1;
    for (std::size_t i = 0; i < want.size(); ++i) {
      std::int64_t d = want[i];
      if (d == 0 && !allowzero_) {
        if (static_cast<int>(i) >= in.rank()) return bad("shape " + std::to_string(i) + " copies a missing input dim");
        d = in[static_cast<int>(i)];
      }
      if (d == -1) {
        if (infer_at >= 0) return bad("more than one -1 in the shape");
        infer_at = static_cast<int>(i);
        out.push_back(1);
        continue;
      }
      if (d < 0) return bad("negative extent " + std::to_string(d));
      if (d != 0 && known > max_tensor_elements / d) return bad("shape too large");
      known *= d;
      out.push_back(d);
    }
    const index_t total = numel(in);
    if (infer_at >= 0) {
      if (known == 0 || total % known) return bad("cannot infer -1: " + in.str() + " into the requested shape");
      out[infer_at] = total / known;
    } else if (known != total) {
      return bad("cannot reshape " + in.str() + " (" + std::to_string(total) + " elements) into " + out.str());
    }
    c.set_output(0, c.in(0).type, out);
    return {};
  }

 private:
  std::optional<std::vector<std::int64_t>> attr_;
  bool allowzero_;
};

inline expected<std::unique_ptr<op>> build_reshape(const build_ctx& b, int) {
  std::optional<std::vector<std::int64_t>> attr;
  if (b.opset < 5) {
    TESSERA_ASSIGN_OR_RETURN(attr, b.attrs.get_ints("shape"));
    if (!attr) return bad("Reshape-1 needs the 'shape' attribute");
  }
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t allowzero, b.attrs.get_int("allowzero", 0));
  return make_op<reshape_node>(std::move(attr), allowzero != 0);
}

class flatten_node : public view_node {
 public:
  explicit flatten_node(std::int64_t axis) : axis_(axis) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    const shape_t& in = c.in(0).shape;
    const std::int64_t axis = axis_ < 0 ? axis_ + in.rank() : axis_;
    if (axis < 0 || axis > in.rank()) return bad("axis " + std::to_string(axis_) + " out of range for rank " + std::to_string(in.rank()));
    index_t a = 1, b = 1;
    for (int i = 0; i < in.rank(); ++i) (i < axis ? a : b) *= in[i];
    c.set_output(0, c.in(0).type, shape_t{a, b});
    return {};
  }

 private:
  std::int64_t axis_;
};

inline expected<std::unique_ptr<op>> build_flatten(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", 1));
  return make_op<flatten_node>(axis);
}

// Squeeze (unsqueeze == false) and Unsqueeze: axes from the attribute or, from opset 13, input 1.
class squeeze_node : public view_node {
 public:
  squeeze_node(bool unsqueeze, std::optional<std::vector<std::int64_t>> axes) : unsqueeze_(unsqueeze), axes_(std::move(axes)) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    const shape_t& in = c.in(0).shape;
    std::vector<std::int64_t> axes;
    bool have = false;
    if (axes_) {
      axes = *axes_;
      have = true;
    } else if (c.has(1)) {
      TESSERA_ASSIGN_OR_RETURN(axes, constant_ints(c, 1, "axes"));
      have = true;
    }
    shape_t out;
    if (unsqueeze_) {
      if (!have) return bad("Unsqueeze needs axes");
      const int r = in.rank() + static_cast<int>(axes.size());
      if (r > TESSERA_MAX_RANK) return unsupported("rank " + std::to_string(r));
      TESSERA_ASSIGN_OR_RETURN(const std::vector<int> n, normalize_axes(axes, r));
      bool ins[TESSERA_MAX_RANK] = {};
      for (int a : n) ins[a] = true;
      for (int i = 0, k = 0; i < r; ++i) out.push_back(ins[i] ? 1 : in[k++]);
    } else {
      bool drop[TESSERA_MAX_RANK] = {};
      if (have) {
        TESSERA_ASSIGN_OR_RETURN(const std::vector<int> n, normalize_axes(axes, in.rank()));
        for (int a : n) {
          if (in[a] != 1) return bad("cannot squeeze axis " + std::to_string(a) + " of " + in.str());
          drop[a] = true;
        }
      } else {
        for (int i = 0; i < in.rank(); ++i) drop[i] = in[i] == 1;
      }
      for (int i = 0; i < in.rank(); ++i)
        if (!drop[i]) out.push_back(in[i]);
    }
    c.set_output(0, c.in(0).type, out);
    return {};
  }

 private:
  bool unsqueeze_;
  std::optional<std::vector<std::int64_t>> axes_;
};

inline expected<std::unique_ptr<op>> build_squeeze(const build_ctx& b, bool unsqueeze) {
  std::optional<std::vector<std::int64_t>> axes;
  if (b.opset < 13) {
    TESSERA_ASSIGN_OR_RETURN(axes, b.attrs.get_ints("axes"));
  }
  return make_op<squeeze_node>(unsqueeze, std::move(axes));
}

// Identity, and Dropout in inference (output = input, mask = all true).
class identity_node : public view_node {
 public:
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    c.set_output(0, c.in(0).type, c.in(0).shape);
    for (std::size_t i = 1; i < c.num_outputs(); ++i) c.set_output(i, elem_type::boolean, c.in(0).shape);
    return {};
  }
};

inline expected<std::unique_ptr<op>> build_identity(const build_ctx& b, int) {
  if (b.node.op_type == "Dropout") {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t is_test, b.attrs.get_int("is_test", 1));
    if (b.opset < 7 && !is_test) return unsupported("Dropout in training mode");
  }
  return make_op<identity_node>();
}

class transpose_node : public op {
 public:
  explicit transpose_node(std::optional<std::vector<std::int64_t>> perm) : perm_(std::move(perm)) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    const shape_t& in = c.in(0).shape;
    int perm[TESSERA_MAX_RANK];
    TESSERA_TRY(permutation(in.rank(), perm));
    shape_t out;
    for (int i = 0; i < in.rank(); ++i) out.push_back(in[perm[i]]);
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override {
    int perm[TESSERA_MAX_RANK];
    TESSERA_TRY(permutation(c.in(0).rank(), perm));
    return nn::transpose(c.out(0), c.in(0), perm);
  }

 private:
  status permutation(int rank, int* perm) const {
    if (!perm_) {
      for (int i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
      return {};
    }
    if (static_cast<int>(perm_->size()) != rank) return bad("perm has " + std::to_string(perm_->size()) + " entries for rank " + std::to_string(rank));
    bool seen[TESSERA_MAX_RANK] = {};
    for (int i = 0; i < rank; ++i) {
      const std::int64_t p = (*perm_)[static_cast<std::size_t>(i)];
      if (p < 0 || p >= rank || seen[p]) return bad("perm is not a permutation");
      seen[p] = true;
      perm[i] = static_cast<int>(p);
    }
    return {};
  }
  std::optional<std::vector<std::int64_t>> perm_;
};

inline expected<std::unique_ptr<op>> build_transpose(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(auto perm, b.attrs.get_ints("perm"));
  return make_op<transpose_node>(std::move(perm));
}

class concat_node : public op {
 public:
  explicit concat_node(std::int64_t axis) : axis_(axis) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (c.num_inputs() == 0 || !c.has(0)) return bad("Concat needs inputs");
    const shape_t& first = c.in(0).shape;
    TESSERA_ASSIGN_OR_RETURN(const int axis, normalize_axis(axis_, first.rank()));
    shape_t out = first;
    out[axis] = 0;
    for (std::size_t i = 0; i < c.num_inputs(); ++i) {
      if (!c.has(i)) return bad("omitted input");
      const shape_t& s = c.in(i).shape;
      if (c.in(i).type != c.in(0).type) return bad("input types differ");
      if (s.rank() != first.rank()) return bad("input ranks differ");
      for (int a = 0; a < s.rank(); ++a)
        if (a != axis && s[a] != first[a]) return bad("input " + s.str() + " does not fit " + first.str() + " along axis " + std::to_string(a));
      out[axis] += s[axis];
    }
    TESSERA_TRY(checked_numel(out));
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override {
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + c.out(0).rank() : axis_);
    for (std::size_t i = 0, at = 0; i < c.num_inputs(); ++i) {  // one input at a time: no array of views
      const any_view& in = c.in(i);
      TESSERA_TRY(nn::copy(nn::narrow(c.out(0), axis, static_cast<index_t>(at), in.shape[axis]), in));
      at += static_cast<std::size_t>(in.shape[axis]);
    }
    return {};
  }

 private:
  std::int64_t axis_;
};

inline expected<std::unique_ptr<op>> build_concat(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", b.opset < 4 ? 1 : std::numeric_limits<std::int64_t>::min()));
  if (axis == std::numeric_limits<std::int64_t>::min()) return bad("required attribute 'axis' is missing");
  return make_op<concat_node>(axis);
}

class split_node : public op {
 public:
  split_node(std::int64_t axis, std::optional<std::vector<std::int64_t>> split, bool split_input, std::int64_t num_outputs)
      : axis_(axis), split_(std::move(split)), split_input_(split_input), num_outputs_(num_outputs) {}
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    const shape_t& in = c.in(0).shape;
    TESSERA_ASSIGN_OR_RETURN(const int axis, normalize_axis(axis_, in.rank()));
    const std::size_t n = c.num_outputs();
    std::vector<std::int64_t> parts;
    if (split_) parts = *split_;
    else if (split_input_ && c.has(1)) {
      TESSERA_ASSIGN_OR_RETURN(parts, constant_ints(c, 1, "split"));
    }
    if (parts.empty()) {
      const std::int64_t k = num_outputs_ > 0 ? num_outputs_ : static_cast<std::int64_t>(n);
      if (k != static_cast<std::int64_t>(n) || k == 0) return bad("num_outputs does not match the outputs");
      const std::int64_t each = (in[axis] + k - 1) / k;  // the last part may be smaller (opset 18)
      if (num_outputs_ <= 0 && in[axis] % k) return bad("extent " + std::to_string(in[axis]) + " does not split evenly");
      for (std::int64_t i = 0; i < k; ++i) parts.push_back(std::min(each, std::max<std::int64_t>(0, in[axis] - i * each)));
    }
    if (parts.size() != n) return bad("split has " + std::to_string(parts.size()) + " parts for " + std::to_string(n) + " outputs");
    std::int64_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (parts[i] < 0) return bad("negative split");
      total += parts[i];
      shape_t s = in;
      s[axis] = parts[i];
      c.set_output(i, c.in(0).type, s);
    }
    if (total != in[axis]) return bad("split sums to " + std::to_string(total) + ", extent is " + std::to_string(in[axis]));
    return {};
  }
  status run(run_ctx& c) const override {
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + c.in(0).rank() : axis_);
    index_t at = 0;
    for (std::size_t i = 0; i < c.num_outputs(); ++i) {
      const any_view& o = c.out(i);
      TESSERA_TRY(nn::copy(o, nn::narrow(c.in(0), axis, at, o.shape[axis])));
      at += o.shape[axis];
    }
    return {};
  }

 private:
  std::int64_t axis_;
  std::optional<std::vector<std::int64_t>> split_;
  bool split_input_;
  std::int64_t num_outputs_;
};

inline expected<std::unique_ptr<op>> build_split(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", 0));
  std::optional<std::vector<std::int64_t>> split;
  if (b.opset < 13) {
    TESSERA_ASSIGN_OR_RETURN(split, b.attrs.get_ints("split"));
  }
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t num_outputs, b.attrs.get_int("num_outputs", 0));
  return make_op<split_node>(axis, std::move(split), b.opset >= 13, num_outputs);
}

class slice_node : public op {
 public:
  struct attrs {
    std::optional<std::vector<std::int64_t>> starts, ends, axes;  // opset < 10
  };
  explicit slice_node(attrs a) : a_(std::move(a)) {}
  layout_rule layouts() const override { return layout_rule::any; }

  struct plan_state : op_state {
    index_t start[TESSERA_MAX_RANK] = {}, step[TESSERA_MAX_RANK] = {}, count[TESSERA_MAX_RANK] = {};
  };

  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing data");
    const shape_t& in = c.in(0).shape;
    std::vector<std::int64_t> starts, ends, axes, steps;
    if (a_.starts) {
      starts = *a_.starts;
      if (!a_.ends) return bad("Slice-1 needs starts and ends");
      ends = *a_.ends;
      if (a_.axes) axes = *a_.axes;
    } else {
      if (!c.has(1) || !c.has(2)) return bad("Slice needs starts and ends");
      TESSERA_ASSIGN_OR_RETURN(starts, constant_ints(c, 1, "starts"));
      TESSERA_ASSIGN_OR_RETURN(ends, constant_ints(c, 2, "ends"));
      if (c.has(3)) {
        TESSERA_ASSIGN_OR_RETURN(axes, constant_ints(c, 3, "axes"));
      }
      if (c.has(4)) {
        TESSERA_ASSIGN_OR_RETURN(steps, constant_ints(c, 4, "steps"));
      }
    }
    if (axes.empty())
      for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
      return bad("starts, ends, axes and steps differ in length");
    TESSERA_ASSIGN_OR_RETURN(const std::vector<int> ax, normalize_axes(axes, in.rank()));
    auto st = std::make_unique<plan_state>();
    for (int i = 0; i < in.rank(); ++i) st->start[i] = 0, st->step[i] = 1, st->count[i] = in[i];
    for (std::size_t k = 0; k < ax.size(); ++k) {
      const int a = ax[k];
      const std::int64_t d = in[a], step = steps[k];
      if (step == 0) return bad("step 0");
      // Clamp as ONNX: starts/ends beyond the extent saturate; negatives count from the end.
      auto clampi = [](std::int64_t v, std::int64_t lo, std::int64_t hi) { return v < lo ? lo : v > hi ? hi : v; };
      std::int64_t s = starts[k], e = ends[k];
      if (s < 0) s = s < -d ? (s + d < 0 ? -1 : s + d) : s + d;
      if (e < 0) e = e < -d ? -1 : e + d;
      // ceil(span / |step|) without forming span + |step| (a step may be INT64_MIN or MAX).
      const std::uint64_t stride = step > 0 ? static_cast<std::uint64_t>(step) : std::uint64_t{0} - static_cast<std::uint64_t>(step);
      std::int64_t span = 0;
      if (step > 0) {
        s = clampi(s, 0, d);
        e = clampi(e, 0, d);
        span = e - s;
      } else {
        s = clampi(s, -1, d - 1);
        e = clampi(e, -1, d - 1);
        span = s - e;
      }
      const std::int64_t count = span > 0 ? static_cast<std::int64_t>((static_cast<std::uint64_t>(span) - 1) / stride + 1) : 0;
      st->start[a] = s;
      st->step[a] = step;
      st->count[a] = count;
    }
    shape_t out = in;
    for (int i = 0; i < in.rank(); ++i) out[i] = st->count[i];
    c.set_state(std::move(st));
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override {
    const auto* st = static_cast<const plan_state*>(c.state());
    return nn::copy(c.out(0), nn::slice_view(c.in(0), st->start, st->step, st->count));
  }

 private:
  attrs a_;
};

inline expected<std::unique_ptr<op>> build_slice(const build_ctx& b, int) {
  slice_node::attrs a;
  if (b.opset < 10) {
    TESSERA_ASSIGN_OR_RETURN(a.starts, b.attrs.get_ints("starts"));
    TESSERA_ASSIGN_OR_RETURN(a.ends, b.attrs.get_ints("ends"));
    TESSERA_ASSIGN_OR_RETURN(a.axes, b.attrs.get_ints("axes"));
    if (!a.starts || !a.ends) return bad("Slice-1 needs the starts and ends attributes");
  }
  return make_op<slice_node>(std::move(a));
}

class gather_node : public op {
 public:
  explicit gather_node(std::int64_t axis) : axis_(axis) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || !c.has(1)) return bad("Gather needs data and indices");
    const shape_t& d = c.in(0).shape;
    const shape_t& i = c.in(1).shape;
    if (c.in(1).type != elem_type::i64 && c.in(1).type != elem_type::i32) return bad("indices must be int32 or int64");
    TESSERA_ASSIGN_OR_RETURN(const int axis, normalize_axis(axis_, d.rank()));
    shape_t out;
    for (int k = 0; k < axis; ++k) out.push_back(d[k]);
    for (int k = 0; k < i.rank(); ++k) out.push_back(i[k]);
    for (int k = axis + 1; k < d.rank(); ++k) out.push_back(d[k]);
    if (d.rank() - 1 + i.rank() > TESSERA_MAX_RANK) return unsupported("output rank too large");
    if (const any_view* iv = c.fixed(1)) {  // constant indices: check them now
      std::vector<std::int64_t> idx(static_cast<std::size_t>(iv->size()));
      nn::read_int64s(*iv, idx.data());
      for (std::int64_t v : idx)
        if (v < -d[axis] || v >= d[axis]) return bad("index " + std::to_string(v) + " out of range for extent " + std::to_string(d[axis]));
    }
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override {
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + c.in(0).rank() : axis_);
    return nn::gather(c.out(0), c.in(0), c.in(1), axis);
  }

 private:
  std::int64_t axis_;
};

inline expected<std::unique_ptr<op>> build_gather(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t axis, b.attrs.get_int("axis", 0));
  return make_op<gather_node>(axis);
}

class expand_node : public op {
 public:
  layout_rule layouts() const override { return layout_rule::any; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || !c.has(1)) return bad("Expand needs input and shape");
    TESSERA_ASSIGN_OR_RETURN(const std::vector<std::int64_t> s, constant_ints(c, 1, "shape"));
    TESSERA_ASSIGN_OR_RETURN(const shape_t want, to_shape(s));
    TESSERA_ASSIGN_OR_RETURN(const shape_t out, broadcast_shapes(c.in(0).shape, want));
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override { return nn::expand(c.out(0), c.in(0)); }
};

inline expected<std::unique_ptr<op>> build_expand(const build_ctx&, int) { return make_op<expand_node>(); }

class tile_node : public op {
 public:
  status infer(infer_ctx& c) const override {
    if (!c.has(0) || !c.has(1)) return bad("Tile needs input and repeats");
    TESSERA_ASSIGN_OR_RETURN(const std::vector<std::int64_t> r, constant_ints(c, 1, "repeats"));
    const shape_t& in = c.in(0).shape;
    if (static_cast<int>(r.size()) != in.rank()) return bad("repeats has " + std::to_string(r.size()) + " entries for rank " + std::to_string(in.rank()));
    shape_t out = in;
    for (int i = 0; i < in.rank(); ++i) {
      if (r[static_cast<std::size_t>(i)] < 0) return bad("negative repeat");
      if (in[i] && r[static_cast<std::size_t>(i)] > max_tensor_elements / in[i]) return bad("output too large");
      out[i] = in[i] * r[static_cast<std::size_t>(i)];
    }
    TESSERA_TRY(checked_numel(out));
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override { return nn::tile(c.out(0), c.in(0)); }
};

inline expected<std::unique_ptr<op>> build_tile(const build_ctx&, int) { return make_op<tile_node>(); }

// Shape (with start/end from opset 15) and Size: computed from the shape alone.
class shape_node : public op {
 public:
  shape_node(bool size, std::int64_t start, std::optional<std::int64_t> end) : size_(size), start_(start), end_(end) {}
  bool reads_data(std::size_t) const override { return false; }
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    if (size_) {
      c.set_output(0, elem_type::i64, shape_t{});
      return {};
    }
    std::int64_t b = 0, e = 0;
    range(c.in(0).shape.rank(), b, e);
    c.set_output(0, elem_type::i64, shape_t{e - b});
    return {};
  }
  status run(run_ctx& c) const override {
    const shape_t& s = c.in(0).shape;
    std::int64_t* o = c.out(0).ptr<std::int64_t>();
    if (size_) {
      *o = numel(s);
      return {};
    }
    std::int64_t b = 0, e = 0;
    range(s.rank(), b, e);
    for (std::int64_t i = b; i < e; ++i) o[i - b] = s[static_cast<int>(i)];
    return {};
  }

 private:
  void range(int rank, std::int64_t& b, std::int64_t& e) const {
    auto clampi = [&](std::int64_t v) {
      if (v < 0) v += rank;
      return v < 0 ? std::int64_t{0} : v > rank ? std::int64_t{rank} : v;
    };
    b = clampi(start_);
    e = end_ ? clampi(*end_) : rank;
    if (e < b) e = b;
  }
  bool size_;
  std::int64_t start_;
  std::optional<std::int64_t> end_;
};

inline expected<std::unique_ptr<op>> build_shape(const build_ctx& b, bool size) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t start, b.attrs.get_int("start", 0));
  std::optional<std::int64_t> end;
  if (b.attrs.has("end")) {
    TESSERA_ASSIGN_OR_RETURN(end, b.attrs.get_int("end", 0));
  }
  return make_op<shape_node>(size, start, end);
}

// Constant: its value decoded at build time.
class constant_node : public op {
 public:
  explicit constant_node(std::shared_ptr<nn::tensor> v) : value_(std::move(v)) {}
  status infer(infer_ctx& c) const override {
    c.set_output(0, value_->type(), value_->shape());
    return {};
  }
  status run(run_ctx& c) const override { return nn::copy(c.out(0), value_->view()); }

 private:
  std::shared_ptr<nn::tensor> value_;
};

inline expected<std::unique_ptr<op>> build_constant(const build_ctx& b, int) {
  nn::tensor v;
  if (const tensor_proto* t = b.attrs.get_tensor("value")) {
    if (t->is_external()) return unsupported("external data in a Constant");
    TESSERA_ASSIGN_OR_RETURN(v, to_tensor(*t));
  } else if (b.attrs.has("value_float")) {
    TESSERA_ASSIGN_OR_RETURN(const float f, b.attrs.get_float("value_float", 0));
    TESSERA_ASSIGN_OR_RETURN(v, nn::tensor::from_values(shape_t{}, &f));
  } else if (b.attrs.has("value_int")) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t i, b.attrs.get_int("value_int", 0));
    TESSERA_ASSIGN_OR_RETURN(v, nn::tensor::from_values(shape_t{}, &i));
  } else if (b.attrs.has("value_floats")) {
    TESSERA_ASSIGN_OR_RETURN(const auto f, b.attrs.get_floats("value_floats"));
    TESSERA_ASSIGN_OR_RETURN(v, nn::tensor::from_values(shape_t{static_cast<index_t>(f->size())}, f->data()));
  } else if (b.attrs.has("value_ints")) {
    TESSERA_ASSIGN_OR_RETURN(const auto i, b.attrs.get_ints("value_ints"));
    TESSERA_ASSIGN_OR_RETURN(v, nn::tensor::from_values(shape_t{static_cast<index_t>(i->size())}, i->data()));
  } else {
    return unsupported("a Constant without a tensor, float(s) or int(s) value (strings and sparse tensors)");
  }
  return make_op<constant_node>(std::make_shared<nn::tensor>(std::move(v)));
}

class constant_of_shape_node : public op {
 public:
  constant_of_shape_node(elem_type t, double value) : type_(t), value_(value) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing shape");
    TESSERA_ASSIGN_OR_RETURN(const std::vector<std::int64_t> s, constant_ints(c, 0, "input"));
    TESSERA_ASSIGN_OR_RETURN(const shape_t out, to_shape(s));
    c.set_output(0, type_, out);
    return {};
  }
  status run(run_ctx& c) const override {
    nn::fill(c.out(0), value_);
    return {};
  }

 private:
  elem_type type_;
  double value_;
};

inline expected<std::unique_ptr<op>> build_constant_of_shape(const build_ctx& b, int) {
  elem_type t = elem_type::f32;
  double value = 0;
  if (const tensor_proto* p = b.attrs.get_tensor("value")) {
    if (p->numel != 1 || p->is_external()) return bad("value must hold one element");
    TESSERA_ASSIGN_OR_RETURN(nn::tensor v, to_tensor(*p));
    t = v.type();
    nn::visit_elem(t, [&](auto tag) { value = nn::to_double(*v.ptr<typename decltype(tag)::type>()); });
  }
  return make_op<constant_of_shape_node>(t, value);
}

// Range(start, limit, delta): ceil((limit - start) / delta) elements.
class range_node : public op {
 public:
  status infer(infer_ctx& c) const override {
    for (std::size_t i = 0; i < 3; ++i) {
      if (!c.has(i)) return bad("Range needs start, limit and delta");
      if (!c.constant(i)) return unsupported("Range with inputs known only at run time (a data-dependent shape)");
      if (numel(c.in(i).shape) != 1 || c.in(i).type != c.in(0).type) return bad("start, limit and delta must be scalars of one type");
    }
    TESSERA_ASSIGN_OR_RETURN(const std::vector<double> v0, constant_floats(c, 0, "start"));
    TESSERA_ASSIGN_OR_RETURN(const std::vector<double> v1, constant_floats(c, 1, "limit"));
    TESSERA_ASSIGN_OR_RETURN(const std::vector<double> v2, constant_floats(c, 2, "delta"));
    if (v2[0] == 0 || !std::isfinite(v0[0] + v1[0] + v2[0])) return bad("delta 0 or non-finite bounds");
    const double n = std::max(0.0, std::ceil((v1[0] - v0[0]) / v2[0]));
    if (n > static_cast<double>(index_t{1} << 31)) return bad("Range too long");
    c.set_output(0, c.in(0).type, shape_t{static_cast<index_t>(n)});
    return {};
  }
  status run(run_ctx& c) const override {
    const any_view& o = c.out(0);
    return nn::visit_elem(o.type, [&](auto tag) -> status {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
        const T start = *c.in(0).template ptr<const T>(), delta = *c.in(2).template ptr<const T>();
        T* p = o.template ptr<T>();
        for (index_t i = 0; i < o.size(); ++i) p[i] = static_cast<T>(start + static_cast<T>(i) * delta);
        return {};
      } else {
        return unsupported("Range of this type");
      }
    });
  }
};

inline expected<std::unique_ptr<op>> build_range(const build_ctx&, int) { return make_op<range_node>(); }

class pad_node : public op {
 public:
  pad_node(nn::pad_mode mode, std::optional<std::vector<std::int64_t>> pads, float value, bool from_inputs)
      : mode_(mode), pads_(std::move(pads)), value_(value), from_inputs_(from_inputs) {}

  struct plan_state : op_state {
    index_t begin[TESSERA_MAX_RANK] = {}, end[TESSERA_MAX_RANK] = {};
    double value = 0;
  };

  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing data");
    const shape_t& in = c.in(0).shape;
    const int r = in.rank();
    std::vector<std::int64_t> pads, axes;
    auto st = std::make_unique<plan_state>();
    st->value = value_;
    if (from_inputs_) {
      if (!c.has(1)) return bad("missing pads");
      TESSERA_ASSIGN_OR_RETURN(pads, constant_ints(c, 1, "pads"));
      if (c.has(2)) {
        if (c.in(2).type != c.in(0).type || numel(c.in(2).shape) > 1) return bad("constant_value must be a scalar of the data's type");
        if (numel(c.in(2).shape) == 1) {
          TESSERA_ASSIGN_OR_RETURN(const std::vector<double> v, constant_floats(c, 2, "constant_value"));
          st->value = v[0];
        }
      }
      if (c.has(3)) {
        TESSERA_ASSIGN_OR_RETURN(axes, constant_ints(c, 3, "axes"));
      }
    } else {
      pads = *pads_;
    }
    std::vector<int> ax;
    if (axes.empty()) {
      for (int i = 0; i < r; ++i) ax.push_back(i);
    } else {
      TESSERA_ASSIGN_OR_RETURN(ax, normalize_axes(axes, r));
    }
    if (pads.size() != 2 * ax.size()) return bad("pads has " + std::to_string(pads.size()) + " values for " + std::to_string(ax.size()) + " axes");
    shape_t out = in;
    for (std::size_t k = 0; k < ax.size(); ++k) {
      const int a = ax[k];
      st->begin[a] = pads[k];
      st->end[a] = pads[k + ax.size()];
      if (std::abs(st->begin[a]) > (index_t{1} << 40) || std::abs(st->end[a]) > (index_t{1} << 40)) return bad("pads too large");
      out[a] = in[a] + st->begin[a] + st->end[a];
      if (out[a] < 0) return bad("negative pads remove more than the extent");
      if (mode_ != nn::pad_mode::constant && (st->begin[a] > 0 || st->end[a] > 0) && in[a] == 0) return bad("cannot pad an empty axis in this mode");
      if (mode_ == nn::pad_mode::reflect && (st->begin[a] >= in[a] || st->end[a] >= in[a]) && (st->begin[a] > 0 || st->end[a] > 0) && in[a] < 2)
        return bad("reflect padding needs at least 2 elements");
    }
    TESSERA_TRY(checked_numel(out));
    c.set_state(std::move(st));
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override {
    const auto* st = static_cast<const plan_state*>(c.state());
    return nn::pad(c.out(0), c.in(0), st->begin, st->end, mode_, st->value, c.scratch());
  }

 private:
  nn::pad_mode mode_;
  std::optional<std::vector<std::int64_t>> pads_;
  float value_;
  bool from_inputs_;
};

inline expected<std::unique_ptr<op>> build_pad(const build_ctx& b, int) {
  TESSERA_ASSIGN_OR_RETURN(const std::string mode, b.attrs.get_string("mode", "constant"));
  nn::pad_mode m = nn::pad_mode::constant;
  if (mode == "reflect") m = nn::pad_mode::reflect;
  else if (mode == "edge") m = nn::pad_mode::edge;
  else if (mode == "wrap") m = nn::pad_mode::wrap;
  else if (mode != "constant") return bad("mode '" + mode + "' unknown");
  if (b.opset >= 11) return make_op<pad_node>(m, std::nullopt, 0.0f, true);
  TESSERA_ASSIGN_OR_RETURN(auto pads, b.attrs.get_ints(b.opset < 2 ? "paddings" : "pads"));
  if (!pads) return bad("Pad needs the pads attribute");
  TESSERA_ASSIGN_OR_RETURN(const float value, b.attrs.get_float("value", 0.0f));
  return make_op<pad_node>(m, std::move(pads), value, false);
}

// DepthToSpace (to_space) and SpaceToDepth.
class depth_space_node : public op {
 public:
  depth_space_node(bool to_space, std::int64_t block, bool crd) : to_space_(to_space), block_(block), crd_(crd) {}
  status infer(infer_ctx& c) const override {
    if (!c.has(0)) return bad("missing input");
    const shape_t& x = c.in(0).shape;
    if (x.rank() != 4) return bad("input " + x.str() + " must be 4-D");
    const index_t b = block_, bb = b * b;
    shape_t out = x;
    if (to_space_) {
      if (x[1] % bb) return bad("channels " + std::to_string(x[1]) + " not divisible by blocksize^2");
      out[1] = x[1] / bb, out[2] = x[2] * b, out[3] = x[3] * b;
    } else {
      if (x[2] % b || x[3] % b) return bad("height and width must be divisible by blocksize");
      out[1] = x[1] * bb, out[2] = x[2] / b, out[3] = x[3] / b;
    }
    c.set_output(0, c.in(0).type, out);
    return {};
  }
  status run(run_ctx& c) const override {
    return to_space_ ? nn::depth_to_space(c.out(0), c.in(0), block_, crd_) : nn::space_to_depth(c.out(0), c.in(0), block_);
  }

 private:
  bool to_space_;
  std::int64_t block_;
  bool crd_;
};

inline expected<std::unique_ptr<op>> build_depth_space(const build_ctx& b, bool to_space) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t block, b.attrs.require_int("blocksize"));
  if (block < 1 || block > 4096) return bad("blocksize out of range");
  TESSERA_ASSIGN_OR_RETURN(const std::string mode, b.attrs.get_string("mode", "DCR"));
  if (mode != "DCR" && mode != "CRD") return bad("mode '" + mode + "' unknown");
  return make_op<depth_space_node>(to_space, block, mode == "CRD");
}

}  // namespace tessera::onnx::ops
