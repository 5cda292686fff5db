// The execution plan of an imported graph for one set of input shapes: a plain data
// structure (steps over value ids, each value's type, shape, layout and place in one
// workspace), computed once per shape set and run many times without allocating.
//
//   make_plan(graph, input shapes):
//     1. shape inference in topological order; a node whose inputs are all known (constants,
//        or shapes only: Shape, Size) is folded here, so Shape -> Gather -> Concat -> Reshape
//        chains become constants once the input shapes are;
//     2. layouts: conv and pooling chains stay channels-last; ops that accept any layout run
//        on the strided views; a layout change is inserted only where a consumer needs the
//        other layout (and is free when the two layouts share their bytes); graph outputs
//        are plain (NCHW);
//     3. views: Reshape, Flatten, Squeeze, Unsqueeze, Identity alias their input's bytes;
//     4. residual fusion: Add(conv(x), r) becomes the conv's residual epilogue (with the Add's
//        Relu/Clip), when r is ready before the conv runs;
//     5. dead steps are dropped;
//     6. memory: every workspace value gets an offset; values whose lifetimes (first write to
//        last read) overlap never share bytes (greedy placement, largest first).
// A later compile step can turn this structure into C++ (static shapes, planned offsets).
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/onnx/graph.hpp>
#include <tessera/onnx/op.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tessera::onnx {

struct plan_value {
  enum class home : std::uint8_t { none, workspace, input, constant, alias };
  elem_type type = elem_type::f32;
  shape_t shape;
  layout lay = layout::plain;
  home where = home::none;
  std::size_t offset = 0;                // workspace: byte offset
  int input = -1;                        // input: graph input index
  const nn::tensor* constant = nullptr;  // constant
  int alias_of = -1;                     // alias: the value whose bytes these are
  int graph_value = -1;                  // the graph value this holds (in `lay`)

  std::size_t bytes() const { return static_cast<std::size_t>(numel(shape)) * nn::elem_size(type); }
  strides_t strides() const { return lay == layout::channels_last ? nn::channels_last_strides(shape) : contiguous_strides(shape); }
};

struct plan_step {
  enum class kind : std::uint8_t { run_op, to_channels_last, to_plain, copy };
  kind what = kind::run_op;
  int node = -1;  // graph node (run_op)
  const op* impl = nullptr;
  std::vector<int> inputs;   // plan value ids; -1: omitted (or taken by the op at load)
  std::vector<int> outputs;  // plan value ids
  std::shared_ptr<const op_state> state;
  int residual = -1;  // a fused Add's other operand
  fused_activation residual_act;
  bool removed = false;
};

struct execution_plan {
  // Graph inputs whose values (not only shapes) shaped this plan (Reshape's shape, Resize's
  // scales fed at run time), with the values seen: another value needs another plan.
  struct value_dependency {
    int input;
    std::shared_ptr<const nn::tensor> value;
  };
  std::vector<value_dependency> value_dependencies;
  std::vector<plan_value> values;
  std::vector<plan_step> steps;
  std::vector<std::shared_ptr<const nn::tensor>> folded;  // constants computed for this plan
  std::vector<int> outputs;                               // plan values of the graph outputs
  std::vector<shape_t> input_shapes;
  std::size_t workspace_bytes = 0;
};

struct plan_options {
  // Bound on the workspace and on the constants folded for the plan.
  std::uint64_t max_bytes = sizeof(void*) == 4 ? (std::uint64_t{3} << 30) : (std::uint64_t{64} << 30);
  // The graph inputs' values, when planning for a run: ops may read small shape-like inputs
  // (the plan then depends on their values). Null when planning ahead of any run.
  const std::vector<any_view>* input_values = nullptr;
  // Set when planning failed because an op needs an input's value that `input_values` lacks.
  bool* needs_input_values = nullptr;
  // Residual fusion (off only to test that it does not change results).
  bool fuse = true;
};

namespace detail {

inline bool same_bytes_in_both_layouts(const shape_t& s) {
  if (s.rank() < 3) return true;
  index_t spatial = 1;
  for (int i = 2; i < s.rank(); ++i) spatial = saturating_mul(spatial, s[i]);
  return spatial == 1 || s[1] == 1;
}

class planner {
 public:
  planner(const graph& g, execution_plan& p, const plan_options& o) : g_(g), p_(p), opt_(o), budget_(o.max_bytes) {}

  status run(const std::vector<shape_t>& input_shapes, const std::vector<elem_type>& input_types) {
    p_.input_shapes = input_shapes;
    p_.values.resize(g_.values.size());
    for (std::size_t v = 0; v < g_.values.size(); ++v) {
      plan_value& pv = p_.values[v];
      pv.graph_value = static_cast<int>(v);
      const graph_value& gv = g_.values[v];
      if (gv.constant) {
        pv.where = plan_value::home::constant;
        pv.constant = gv.constant.get();
        pv.type = gv.constant->type();
        pv.shape = gv.constant->shape();
      } else if (gv.has_static_info) {  // a constant taken by its consumer at load
        pv.type = gv.static_type;
        pv.shape = gv.static_shape;
      }
    }
    for (std::size_t i = 0; i < g_.inputs.size(); ++i) {
      plan_value& pv = p_.values[static_cast<std::size_t>(g_.inputs[i])];
      pv.where = plan_value::home::input;
      pv.input = static_cast<int>(i);
      pv.type = input_types[i];
      pv.shape = input_shapes[i];
      pv.constant = nullptr;
    }
    versions_.assign(g_.values.size(), {-1, -1});
    for (std::size_t n = 0; n < g_.nodes.size(); ++n) {
      const graph_node& node = g_.nodes[n];
      if (node.dead) continue;
      auto st = plan_node(static_cast<int>(n));
      if (!st.ok()) return node_error(node, st.err());
    }
    TESSERA_TRY(plan_outputs());
    if (opt_.fuse) fuse_residuals();
    drop_dead_steps();
    return place();
  }

 private:
  // The value v in layout `want`: v itself, or a conversion made (once) before this point.
  int version(int v, layout want) {
    if (p_.values[static_cast<std::size_t>(v)].lay == want) return v;
    const int gv = p_.values[static_cast<std::size_t>(v)].graph_value;
    if (gv >= 0 && p_.values[static_cast<std::size_t>(gv)].lay == want && p_.values[static_cast<std::size_t>(gv)].where != plan_value::home::none)
      return gv;
    int& slot = versions_[static_cast<std::size_t>(gv)][want == layout::plain ? 0 : 1];
    if (slot >= 0) return slot;
    const plan_value pv = p_.values[static_cast<std::size_t>(v)];
    plan_value nv = pv;
    nv.lay = want;
    nv.alias_of = -1;
    nv.constant = nullptr;
    nv.input = -1;
    const int id = static_cast<int>(p_.values.size());
    if (same_bytes_in_both_layouts(pv.shape)) {
      nv.where = plan_value::home::alias;
      nv.alias_of = v;
    } else {
      nv.where = plan_value::home::workspace;
      plan_step s;
      s.what = want == layout::plain ? plan_step::kind::to_plain : plan_step::kind::to_channels_last;
      s.inputs = {v};
      s.outputs = {id};
      p_.steps.push_back(std::move(s));
    }
    p_.values.push_back(nv);
    slot = id;
    return id;
  }

  const nn::tensor* known(int v) const {
    const plan_value& pv = p_.values[static_cast<std::size_t>(v)];
    return pv.where == plan_value::home::constant ? pv.constant : nullptr;
  }

  status plan_node(int n) {
    const graph_node& node = g_.nodes[static_cast<std::size_t>(n)];
    const op& impl = *node.impl;
    const std::size_t k = node.inputs.size();
    std::vector<any_view> views(k);
    std::vector<value_desc> descs(k);
    bool foldable = true;
    for (std::size_t i = 0; i < k; ++i) {
      const int v = node.inputs[i];
      if (v < 0) continue;
      const plan_value& pv = p_.values[static_cast<std::size_t>(v)];
      if (pv.where == plan_value::home::none && !node.consumed[i])
        return make_error(errc::invalid_argument, "input " + std::to_string(i) + " has no value");
      descs[i].type = pv.type;
      descs[i].shape = pv.shape;
      descs[i].present = true;
      if (const nn::tensor* c = known(v)) {
        views[i] = c->view();
        descs[i].constant = &views[i];
        continue;
      }
      if (node.consumed[i] || impl.reads_data(i)) foldable = false;
      if (pv.where == plan_value::home::input) {
        descs[i].runtime_value = true;
        if (opt_.input_values) {
          views[i] = (*opt_.input_values)[static_cast<std::size_t>(pv.input)];
          descs[i].constant = &views[i];
        }
      }
    }
    std::vector<value_desc> outs(node.outputs.size());
    infer_ctx ic(node.opset, descs, outs);
    ic.set_max_bytes(opt_.max_bytes);
    const status inferred = impl.infer(ic);
    for (std::size_t i = 0; i < k; ++i) {
      if (!ic.read_values()[i]) continue;
      const plan_value& pv = p_.values[static_cast<std::size_t>(node.inputs[i])];
      if (!opt_.input_values) {
        if (opt_.needs_input_values) *opt_.needs_input_values = true;
        continue;
      }
      TESSERA_TRY(depend_on(pv.input));
    }
    TESSERA_TRY(inferred);
    std::shared_ptr<const op_state> state(ic.take_state().release());
    for (std::size_t i = 0; i < outs.size(); ++i) {
      if (!outs[i].present) return make_error(errc::invalid_argument, "output " + std::to_string(i) + " was not inferred");
      TESSERA_ASSIGN_OR_RETURN(const index_t count, checked_numel(outs[i].shape));
      if (static_cast<std::uint64_t>(count) * nn::elem_size(outs[i].type) > opt_.max_bytes)
        return make_error(errc::out_of_memory, "output " + outs[i].shape.str() + " exceeds the memory limit");
      plan_value& pv = p_.values[static_cast<std::size_t>(node.outputs[i])];
      pv.type = outs[i].type;
      pv.shape = outs[i].shape;
    }
    if (foldable) return fold(node, descs, views, state.get());

    plan_step s;
    s.node = n;
    s.impl = &impl;
    s.state = std::move(state);
    const layout_rule rule = impl.layouts();
    for (std::size_t i = 0; i < k; ++i) {
      const int v = node.inputs[i];
      if (v < 0 || node.consumed[i]) {
        s.inputs.push_back(-1);
        continue;
      }
      const plan_value& pv = p_.values[static_cast<std::size_t>(v)];
      layout want = pv.lay;
      if (rule == layout_rule::plain) want = layout::plain;
      else if (rule == layout_rule::channels_last)
        want = i == 0 && pv.shape.rank() >= 3 && pv.shape.rank() <= 5 ? layout::channels_last : layout::plain;
      s.inputs.push_back(version(v, want));
    }
    for (std::size_t i = 0; i < node.outputs.size(); ++i) {
      plan_value& pv = p_.values[static_cast<std::size_t>(node.outputs[i])];
      pv.lay = output_layout(rule, i, pv.shape, s.inputs);
      pv.where = plan_value::home::workspace;
      s.outputs.push_back(node.outputs[i]);
    }
    if (impl.is_view() && s.inputs[0] >= 0) {
      plan_value& out = p_.values[static_cast<std::size_t>(node.outputs[0])];
      const int src = version(s.inputs[0], layout::plain);
      s.inputs[0] = src;
      out.lay = layout::plain;
      out.where = plan_value::home::alias;
      out.alias_of = src;
      if (node.outputs.size() == 1) return {};  // nothing to run
    }
    p_.steps.push_back(std::move(s));
    return {};
  }

  layout output_layout(layout_rule rule, std::size_t i, const shape_t& s, const std::vector<int>& inputs) const {
    if (s.rank() < 3 || s.rank() > 5) return layout::plain;
    if (rule == layout_rule::plain) return layout::plain;
    if (rule == layout_rule::channels_last) return i == 0 ? layout::channels_last : layout::plain;
    int pick = -1;
    for (int v : inputs) {  // the first input of the output's shape, else of its rank
      if (v < 0) continue;
      const plan_value& pv = p_.values[static_cast<std::size_t>(v)];
      if (pv.shape == s) {
        pick = v;
        break;
      }
      if (pick < 0 && pv.shape.rank() == s.rank()) pick = v;
    }
    return pick >= 0 ? p_.values[static_cast<std::size_t>(pick)].lay : layout::plain;
  }

  status depend_on(int input) {
    for (const auto& d : p_.value_dependencies)
      if (d.input == input) return {};
    const any_view& v = (*opt_.input_values)[static_cast<std::size_t>(input)];
    TESSERA_ASSIGN_OR_RETURN(nn::tensor t, nn::tensor::empty(v.type, v.shape));
    TESSERA_TRY(nn::copy(t.view(), v));
    p_.value_dependencies.push_back({input, std::make_shared<const nn::tensor>(std::move(t))});
    return {};
  }

  status fold(const graph_node& node, const std::vector<value_desc>& descs, const std::vector<any_view>& views, const op_state* state) {
    const std::size_t k = node.inputs.size();
    std::vector<any_view> in(k);
    std::unique_ptr<bool[]> present(new bool[k + 1]());
    for (std::size_t i = 0; i < k; ++i) {
      if (!descs[i].present) continue;
      present[i] = true;
      in[i] = descs[i].constant ? views[i] : any_view(nullptr, descs[i].type, descs[i].shape);  // shape only
    }
    std::vector<any_view> out;
    for (int v : node.outputs) {
      plan_value& pv = p_.values[static_cast<std::size_t>(v)];
      const std::uint64_t bytes = pv.bytes();
      if (bytes > budget_) return make_error(errc::out_of_memory, "folding it exceeds the memory limit");
      budget_ -= bytes;
      TESSERA_ASSIGN_OR_RETURN(nn::tensor t, nn::tensor::empty(pv.type, pv.shape));
      auto owned = std::make_shared<nn::tensor>(std::move(t));
      out.push_back(owned->view());
      pv.where = plan_value::home::constant;
      pv.constant = owned.get();
      p_.folded.push_back(std::move(owned));
    }
    arena scratch;
    runtime::thread_pool single(1);
    run_ctx rc(in.data(), present.get(), k, out.data(), out.size(), scratch, &single, state);
    return node.impl->run(rc);
  }

  status plan_outputs() {
    std::vector<bool> taken(p_.values.size(), false);
    for (int gv : g_.outputs) {
      int v = version(gv, layout::plain);
      const plan_value& pv = p_.values[static_cast<std::size_t>(v)];
      if (pv.where != plan_value::home::workspace || taken[static_cast<std::size_t>(v)]) {
        plan_value nv = pv;
        nv.where = plan_value::home::workspace;
        nv.alias_of = -1;
        nv.constant = nullptr;
        nv.input = -1;
        const int id = static_cast<int>(p_.values.size());
        p_.values.push_back(nv);
        plan_step s;
        s.what = plan_step::kind::copy;
        s.inputs = {v};
        s.outputs = {id};
        p_.steps.push_back(std::move(s));
        v = id;
      }
      if (static_cast<std::size_t>(v) >= taken.size()) taken.resize(p_.values.size(), false);
      taken[static_cast<std::size_t>(v)] = true;
      p_.outputs.push_back(v);
    }
    return {};
  }

  int root(int v) const {
    while (p_.values[static_cast<std::size_t>(v)].where == plan_value::home::alias) v = p_.values[static_cast<std::size_t>(v)].alias_of;
    return v;
  }

  std::vector<int> use_counts() const {
    std::vector<int> uses(p_.values.size(), 0);
    for (const plan_step& s : p_.steps) {
      if (s.removed) continue;
      for (int v : s.inputs)
        if (v >= 0) ++uses[static_cast<std::size_t>(v)];
      if (s.residual >= 0) ++uses[static_cast<std::size_t>(s.residual)];
    }
    for (int v : p_.outputs) ++uses[static_cast<std::size_t>(v)];
    for (const plan_value& pv : p_.values)
      if (pv.where == plan_value::home::alias) ++uses[static_cast<std::size_t>(pv.alias_of)];
    return uses;
  }

  void fuse_residuals() {
    const std::vector<int> uses = use_counts();
    std::vector<int> producer(p_.values.size(), -1);
    for (std::size_t i = 0; i < p_.steps.size(); ++i)
      for (int v : p_.steps[i].outputs) producer[static_cast<std::size_t>(v)] = static_cast<int>(i);
    auto ready_at = [&](int v) { return producer[static_cast<std::size_t>(root(v))]; };  // -1: before any step
    for (std::size_t i = 0; i < p_.steps.size(); ++i) {
      plan_step& add = p_.steps[i];
      fused_activation act;
      if (add.what != plan_step::kind::run_op || !add.impl->is_add(act) || add.inputs.size() != 2 || add.inputs[0] < 0 || add.inputs[1] < 0)
        continue;
      const int out = add.outputs[0];
      const plan_value& po = p_.values[static_cast<std::size_t>(out)];
      if (po.type != elem_type::f32) continue;
      int best = -1;  // the side whose producer runs last (the other operand is then ready)
      for (int side = 0; side < 2; ++side) {
        const int x = add.inputs[static_cast<std::size_t>(side)], r = add.inputs[static_cast<std::size_t>(1 - side)];
        const plan_value& px = p_.values[static_cast<std::size_t>(x)];
        const plan_value& pr = p_.values[static_cast<std::size_t>(r)];
        if (x == r || px.shape != po.shape || pr.shape != po.shape || px.lay != po.lay || pr.lay != po.lay) continue;
        if (px.where != plan_value::home::workspace || uses[static_cast<std::size_t>(x)] != 1 || pr.type != elem_type::f32) continue;
        const int ps = producer[static_cast<std::size_t>(x)];
        if (ps < 0) continue;
        const plan_step& prod = p_.steps[static_cast<std::size_t>(ps)];
        if (prod.what != plan_step::kind::run_op || !prod.impl->accepts_residual() || prod.impl->has_activation() || prod.residual >= 0 ||
            prod.outputs.size() != 1)
          continue;
        if (ready_at(r) >= ps) continue;  // r must be computed before the conv runs
        if (best < 0 || ps > producer[static_cast<std::size_t>(add.inputs[static_cast<std::size_t>(best)])]) best = side;
      }
      if (best < 0) continue;
      const int x = add.inputs[static_cast<std::size_t>(best)], r = add.inputs[static_cast<std::size_t>(1 - best)];
      plan_step& prod = p_.steps[static_cast<std::size_t>(producer[static_cast<std::size_t>(x)])];
      prod.residual = r;
      prod.residual_act = act;
      prod.outputs[0] = out;
      producer[static_cast<std::size_t>(out)] = producer[static_cast<std::size_t>(x)];
      p_.values[static_cast<std::size_t>(x)].where = plan_value::home::none;
      add.removed = true;
    }
  }

  void drop_dead_steps() {
    std::vector<bool> needed(p_.values.size(), false);
    auto need = [&](int v) {
      while (v >= 0) {
        needed[static_cast<std::size_t>(v)] = true;
        const plan_value& pv = p_.values[static_cast<std::size_t>(v)];
        v = pv.where == plan_value::home::alias ? pv.alias_of : -1;
      }
    };
    for (int v : p_.outputs) need(v);
    for (std::size_t i = p_.steps.size(); i-- > 0;) {
      plan_step& s = p_.steps[i];
      if (s.removed) continue;
      bool live = false;
      for (int v : s.outputs) live = live || needed[static_cast<std::size_t>(v)];
      if (!live) {
        s.removed = true;
        continue;
      }
      for (int v : s.inputs)
        if (v >= 0) need(v);
      if (s.residual >= 0) need(s.residual);
    }
    std::vector<plan_step> kept;
    for (plan_step& s : p_.steps)
      if (!s.removed) kept.push_back(std::move(s));
    p_.steps = std::move(kept);
  }

  status place() {
    const std::size_t nv = p_.values.size(), ns = p_.steps.size();
    std::vector<int> first(nv, -1), last(nv, -1);
    for (std::size_t i = 0; i < ns; ++i) {
      const plan_step& s = p_.steps[i];
      for (int v : s.outputs) {
        const int r = root(v);
        if (first[static_cast<std::size_t>(r)] < 0) first[static_cast<std::size_t>(r)] = static_cast<int>(i);
        last[static_cast<std::size_t>(r)] = std::max(last[static_cast<std::size_t>(r)], static_cast<int>(i));
      }
      auto read = [&](int v) {
        if (v < 0) return;
        const int r = root(v);
        last[static_cast<std::size_t>(r)] = std::max(last[static_cast<std::size_t>(r)], static_cast<int>(i));
      };
      for (int v : s.inputs) read(v);
      read(s.residual);
    }
    for (int v : p_.outputs) last[static_cast<std::size_t>(root(v))] = static_cast<int>(ns);
    struct block {
      int v;
      std::size_t bytes;
      int first, last;
      std::size_t offset;
    };
    std::vector<block> blocks;
    for (std::size_t v = 0; v < nv; ++v) {
      const plan_value& pv = p_.values[v];
      if (pv.where != plan_value::home::workspace || first[v] < 0) continue;
      const std::size_t bytes = (pv.bytes() + TESSERA_ALIGNMENT - 1) / TESSERA_ALIGNMENT * TESSERA_ALIGNMENT;
      blocks.push_back({static_cast<int>(v), bytes ? bytes : TESSERA_ALIGNMENT, first[v], last[v], 0});
    }
    std::vector<std::size_t> order(blocks.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return blocks[a].bytes > blocks[b].bytes; });
    std::vector<std::size_t> placed;
    std::size_t total = 0;
    for (std::size_t bi : order) {
      block& b = blocks[bi];
      // Lowest offset that does not overlap a placed block alive at the same time.
      std::vector<std::pair<std::size_t, std::size_t>> busy;
      for (std::size_t pi : placed) {
        const block& o = blocks[pi];
        if (o.last < b.first || b.last < o.first) continue;
        busy.emplace_back(o.offset, o.offset + o.bytes);
      }
      std::sort(busy.begin(), busy.end());
      std::size_t at = 0;
      for (const auto& r : busy) {
        if (r.first >= at + b.bytes) break;
        at = std::max(at, r.second);
      }
      b.offset = at;
      total = std::max(total, at + b.bytes);
      placed.push_back(bi);
      p_.values[static_cast<std::size_t>(b.v)].offset = at;
    }
    if (total > budget_) return make_error(errc::out_of_memory, "onnx: the workspace of " + std::to_string(total) + " bytes exceeds the memory limit");
    p_.workspace_bytes = total;
    return {};
  }

  const graph& g_;
  execution_plan& p_;
  const plan_options& opt_;
  std::uint64_t budget_;
  std::vector<std::array<int, 2>> versions_;  // per graph value: its plain and channels-last versions
};

}  // namespace detail

// Plans `g` for inputs of these shapes and types (graph-input order).
inline expected<std::shared_ptr<const execution_plan>> make_plan(const graph& g, const std::vector<shape_t>& input_shapes,
                                                                 const std::vector<elem_type>& input_types,
                                                                 const plan_options& opt = {}) {
  auto p = std::make_shared<execution_plan>();
  detail::planner pl(g, *p, opt);
  auto st = pl.run(input_shapes, input_types);
  if (!st.ok()) return st.err();
  return std::shared_ptr<const execution_plan>(std::move(p));
}

}  // namespace tessera::onnx
