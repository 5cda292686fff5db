// The imported graph: ONNX nodes turned into ops (onnx/registry.hpp), values with their
// constants, in topological order, after load-time constant folding, fusions and weight
// preparation. It holds no protobuf views: once imported, the model file's bytes may go.
//
//   import_graph(model_proto, options) -> graph
//     1. values: initializers become constants (external data resolved), graph inputs inputs;
//        an initializer also listed as a graph input is a constant unless the caller said
//        it will feed it (options.fed_initializers);
//     2. nodes: each built by its op table entry (unknown op, wrong domain or opset: an error
//        naming the op type and node name); every input must name a value;
//     3. topological order (Kahn; a cycle is an error naming a node on it);
//     4. constant folding: a node whose inputs are all constants runs once, at load;
//     5. fusions that keep results: Conv/ConvTranspose + BatchNormalization (weights folded),
//        then op + activation (Conv, ConvTranspose, Gemm, MatMul, Add + Relu/Clip, and
//        Mul(x, Sigmoid(x)) as SiLU);
//     6. prepare: ops take their constant inputs (conv and GEMM weights packed once);
//        constants nobody reads any more are dropped.
#pragma once

#include <tessera/core/error.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/onnx/attributes.hpp>
#include <tessera/onnx/model_proto.hpp>
#include <tessera/onnx/op.hpp>
#include <tessera/onnx/registry.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tessera::onnx {

struct load_options {
  // Directory of the model file, for external data (empty: external data is an error unless
  // `open_external` is set).
  std::string external_data_dir;
  external_file_fn open_external;
  // Initializers that are also graph inputs and that the caller will feed: they stay inputs
  // (with their initializer as the default when not fed) instead of becoming constants.
  std::vector<std::string> fed_initializers;
  // Bound on the bytes of constants the importer creates (initializers, folded nodes such as
  // ConstantOfShape): a small file must not make the loader allocate without limit.
  std::uint64_t max_constant_bytes = sizeof(void*) == 4 ? (std::uint64_t{3} << 30) : (std::uint64_t{16} << 30);
  // Bound on what constant folding at load creates beyond its inputs: elements a folded node
  // outputs past the element count of its inputs (ConstantOfShape, Expand, Tile, Range; not
  // Cast, Transpose or Reshape of a weight, nor a Constant node, whose data is in the file).
  // Initializers carry their own bytes, so this is where a few bytes can ask for gigabytes.
  std::uint64_t max_folded_bytes = sizeof(void*) == 4 ? (std::uint64_t{1} << 30) : (std::uint64_t{4} << 30);
  // Bound on the load-time plan (workspace and constants folded for it) of a model whose input
  // dims are all static; over it the model loads without a plan and a session plans with its
  // own limit (session_options::plan.max_bytes).
  std::uint64_t max_plan_bytes = sizeof(void*) == 4 ? (std::uint64_t{3} << 30) : (std::uint64_t{64} << 30);
  // Fusions (off only to test that fusing does not change results).
  bool fuse = true;
};

struct graph_value {
  std::string name;
  std::shared_ptr<const nn::tensor> constant;  // initializer or folded value
  std::shared_ptr<const nn::tensor> default_value;  // a fed initializer's value when not fed
  // Type and shape of a constant, kept when an op took its data at load.
  bool has_static_info = false;
  elem_type static_type = elem_type::f32;
  shape_t static_shape;
  bool is_input = false;
  bool is_output = false;
  int producer = -1;  // node index
  // Graph inputs: declared element type and dims (-1: symbolic or unknown), dim names.
  bool has_type = false;
  elem_type type = elem_type::f32;
  bool has_shape = false;
  std::vector<std::int64_t> dims;
  std::vector<std::string> dim_names;
};

struct graph_node {
  std::string name;
  std::string op_type;
  int opset = 0;
  std::unique_ptr<op> impl;
  std::vector<int> inputs;   // value ids; -1: omitted optional input
  std::vector<int> outputs;  // value ids (omitted outputs get an anonymous value)
  std::vector<bool> consumed;  // inputs the op took at prepare
  bool dead = false;

  std::string label() const { return op_type + " '" + name + "'"; }
};

struct graph {
  std::vector<graph_value> values;
  std::vector<graph_node> nodes;  // topological order
  std::vector<int> inputs;        // value ids, in graph-input order
  std::vector<int> outputs;       // value ids, in graph-output order
  int opset = 0;
};

// "Conv 'conv0': message" for an error of a node.
inline error node_error(const graph_node& n, const error& e) { return make_error(e.code, n.label() + ": " + e.message); }

namespace detail {

inline expected<int> default_domain_opset(const model_proto& m) {
  int opset = -1;
  for (const opset_id& id : m.opset_import)
    if (id.domain.empty() || id.domain == "ai.onnx") opset = static_cast<int>(std::min<std::int64_t>(id.version, 1 << 20));
  if (opset < 0) return make_error(errc::unsupported, "onnx: the model imports no opset of the default domain");
  return opset;
}

inline status add_value(graph& g, std::unordered_map<std::string, int>& ids, std::string name, int& id) {
  if (ids.count(name)) return make_error(errc::invalid_argument, "value '" + name + "' is defined twice");
  id = static_cast<int>(g.values.size());
  ids.emplace(name, id);
  graph_value v;
  v.name = std::move(name);
  g.values.push_back(std::move(v));
  return {};
}

inline expected<std::shared_ptr<const nn::tensor>> load_initializer(const tensor_proto& t, const load_options& opt,
                                                                    std::uint64_t& budget) {
  if (t.byte_size() > budget)
    return make_error(errc::out_of_memory, "initializer '" + std::string(t.name) + "': constants exceed the limit of " +
                                               std::to_string(opt.max_constant_bytes) + " bytes");
  budget -= t.byte_size();
  if (!t.is_external()) {
    TESSERA_ASSIGN_OR_RETURN(nn::tensor v, to_tensor(t));
    return std::make_shared<const nn::tensor>(std::move(v));
  }
  if (opt.open_external) {
    TESSERA_ASSIGN_OR_RETURN(bytes_view data, resolve_external(t, opt.open_external));
    TESSERA_ASSIGN_OR_RETURN(nn::tensor v, to_tensor(t, data));
    return std::make_shared<const nn::tensor>(std::move(v));
  }
  if (opt.external_data_dir.empty())
    return make_error(errc::unsupported, "initializer '" + std::string(t.name) + "' has external data and no directory was given");
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::uint8_t> data, read_external(t, opt.external_data_dir));
  TESSERA_ASSIGN_OR_RETURN(nn::tensor v, to_tensor(t, bytes_view(data)));
  return std::make_shared<const nn::tensor>(std::move(v));
}

// Kahn's algorithm; keeps the file's order among ready nodes.
inline status topological_order(graph& g) {
  const std::size_t n = g.nodes.size();
  std::vector<int> missing(n, 0);
  std::vector<std::vector<int>> consumers(g.values.size());
  for (std::size_t i = 0; i < n; ++i)
    for (int v : g.nodes[i].inputs)
      if (v >= 0 && g.values[static_cast<std::size_t>(v)].producer >= 0) {
        ++missing[i];
        consumers[static_cast<std::size_t>(v)].push_back(static_cast<int>(i));
      }
  std::vector<int> order;
  order.reserve(n);
  std::vector<int> ready;
  for (std::size_t i = n; i-- > 0;)
    if (missing[i] == 0) ready.push_back(static_cast<int>(i));
  while (!ready.empty()) {
    std::sort(ready.begin(), ready.end(), std::greater<int>());
    const int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    for (int v : g.nodes[static_cast<std::size_t>(i)].outputs)
      for (int c : consumers[static_cast<std::size_t>(v)])
        if (--missing[static_cast<std::size_t>(c)] == 0) ready.push_back(c);
  }
  if (order.size() != n) {
    for (std::size_t i = 0; i < n; ++i)
      if (missing[i] > 0)
        return make_error(errc::invalid_argument, "onnx: the graph has a cycle through " + g.nodes[i].label());
  }
  std::vector<graph_node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(g.nodes[static_cast<std::size_t>(i)]));
  g.nodes = std::move(sorted);
  for (auto& v : g.values) v.producer = -1;
  for (std::size_t i = 0; i < n; ++i)
    for (int v : g.nodes[i].outputs) g.values[static_cast<std::size_t>(v)].producer = static_cast<int>(i);
  return {};
}

// Runs node `n` once on constant inputs (null: omitted) into fresh tensors: load-time and
// plan-time constant folding. `budget` bounds the bytes created.
inline expected<std::vector<nn::tensor>> evaluate(const graph_node& n, const std::vector<const nn::tensor*>& inputs,
                                                  std::uint64_t& budget, std::uint64_t& growth_budget) {
  const std::size_t k = inputs.size();
  std::vector<any_view> views(k);
  std::vector<value_desc> descs(k);
  std::unique_ptr<bool[]> present(new bool[k + 1]());
  for (std::size_t i = 0; i < k; ++i) {
    if (!inputs[i]) continue;
    views[i] = inputs[i]->view();
    descs[i] = value_desc{inputs[i]->type(), inputs[i]->shape(), &views[i], true};
    present[i] = true;
  }
  std::vector<value_desc> outs(n.outputs.size());
  infer_ctx ic(n.opset, descs, outs);
  ic.set_max_bytes(budget);
  TESSERA_TRY(n.impl->infer(ic));
  const std::unique_ptr<op_state> state = ic.take_state();
  std::vector<nn::tensor> results;
  std::vector<any_view> out_views;
  // Elements the outputs may have without growing the model (a Constant's are in the file).
  std::uint64_t from_inputs = n.op_type == "Constant" ? UINT64_MAX : 0;
  for (const nn::tensor* t : inputs)
    if (t) from_inputs = std::min<std::uint64_t>(UINT64_MAX - static_cast<std::uint64_t>(t->size()), from_inputs) + static_cast<std::uint64_t>(t->size());
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i].present) return make_error(errc::invalid_argument, "output " + std::to_string(i) + " was not inferred");
    TESSERA_ASSIGN_OR_RETURN(const index_t count, checked_numel(outs[i].shape));
    const std::uint64_t elems = static_cast<std::uint64_t>(count), size = nn::elem_size(outs[i].type);
    const std::uint64_t bytes = elems * size, grown = elems > from_inputs ? (elems - from_inputs) * size : 0;
    from_inputs -= std::min(elems, from_inputs);
    if (bytes > budget)
      return make_error(errc::out_of_memory, "its output of " + std::to_string(bytes) +
                                                 " bytes exceeds what is left of the constant limit (load_options::max_constant_bytes)");
    if (grown > growth_budget)
      return make_error(errc::out_of_memory, "folding it at load creates " + std::to_string(grown) +
                                                 " bytes beyond its inputs, over what is left of load_options::max_folded_bytes (" +
                                                 std::to_string(growth_budget) + ")");
    budget -= bytes;
    growth_budget -= grown;
    TESSERA_ASSIGN_OR_RETURN(nn::tensor t, nn::tensor::empty(outs[i].type, outs[i].shape));
    results.push_back(std::move(t));
  }
  for (auto& t : results) out_views.push_back(t.view());
  arena scratch;
  runtime::thread_pool single(1);
  run_ctx rc(views.data(), present.get(), k, out_views.data(), out_views.size(), scratch, &single, state.get());
  TESSERA_TRY(n.impl->run(rc));
  return results;
}

inline void set_constant(graph_value& v, std::shared_ptr<const nn::tensor> t) {
  v.has_static_info = true;
  v.static_type = t->type();
  v.static_shape = t->shape();
  v.constant = std::move(t);
}

inline std::vector<int> use_counts(const graph& g) {
  std::vector<int> uses(g.values.size(), 0);
  for (const auto& n : g.nodes)
    if (!n.dead)
      for (int v : n.inputs)
        if (v >= 0) ++uses[static_cast<std::size_t>(v)];
  for (int v : g.outputs) ++uses[static_cast<std::size_t>(v)];
  return uses;
}

// The live node that reads value v, when it is the only reader.
inline int sole_consumer(const graph& g, int v) {
  int found = -1;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& n = g.nodes[i];
    if (n.dead) continue;
    for (int in : n.inputs)
      if (in == v) {
        if (found >= 0) return -1;
        found = static_cast<int>(i);
      }
  }
  for (int o : g.outputs)
    if (o == v) return -1;
  return found;
}

// Output 0 of node `a` read only by node `b` (input 0), whose other outputs are unused.
inline bool chain_link(const graph& g, std::size_t a, std::size_t b) {
  const auto& na = g.nodes[a];
  const auto& nb = g.nodes[b];
  if (na.outputs.empty() || nb.inputs.empty() || nb.inputs[0] != na.outputs[0]) return false;
  const auto uses = use_counts(g);
  for (std::size_t i = 1; i < nb.outputs.size(); ++i)
    if (uses[static_cast<std::size_t>(nb.outputs[i])] > 0) return false;
  return true;
}

inline void splice(graph& g, std::size_t a, std::size_t b) {
  g.nodes[a].outputs[0] = g.nodes[b].outputs[0];
  g.values[static_cast<std::size_t>(g.nodes[a].outputs[0])].producer = static_cast<int>(a);
  g.nodes[b].dead = true;
}

// Mul(x, Sigmoid(x)), how PyTorch exports SiLU, when x feeds exactly that Sigmoid and that
// Mul: the producer of x takes SiLU as its activation (YOLOv8 has one after every conv, and
// the two extra passes over the activations cost a tenth of its time).
inline bool fuse_silu(graph& g, std::size_t a) {
  const int x = g.nodes[a].outputs[0];
  int sig = -1, mul = -1;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const graph_node& n = g.nodes[i];
    if (n.dead || std::find(n.inputs.begin(), n.inputs.end(), x) == n.inputs.end()) continue;
    if (n.op_type == "Sigmoid" && sig < 0) sig = static_cast<int>(i);
    else if (n.op_type == "Mul" && mul < 0) mul = static_cast<int>(i);
    else return false;
  }
  if (sig < 0 || mul < 0 || std::find(g.outputs.begin(), g.outputs.end(), x) != g.outputs.end()) return false;
  const graph_node& s = g.nodes[static_cast<std::size_t>(sig)];
  const graph_node& m = g.nodes[static_cast<std::size_t>(mul)];
  const int sx = s.outputs.empty() ? -1 : s.outputs[0];
  const bool product = m.inputs.size() == 2 && ((m.inputs[0] == x && m.inputs[1] == sx) || (m.inputs[0] == sx && m.inputs[1] == x));
  if (s.inputs.size() != 1 || s.outputs.size() != 1 || !product || sole_consumer(g, sx) != mul) return false;
  if (!g.nodes[a].impl->fuse_activation({kernels::activation::silu, 0, 0})) return false;
  g.nodes[static_cast<std::size_t>(sig)].dead = true;
  splice(g, a, static_cast<std::size_t>(mul));
  return true;
}

inline void fuse(graph& g) {
  for (std::size_t a = 0; a < g.nodes.size(); ++a) {
    for (bool changed = true; changed;) {
      changed = false;
      if (g.nodes[a].dead || g.nodes[a].outputs.empty()) break;
      if (fuse_silu(g, a)) {
        changed = true;
        continue;
      }
      const int b = sole_consumer(g, g.nodes[a].outputs[0]);
      if (b < 0 || !chain_link(g, a, static_cast<std::size_t>(b))) break;
      graph_node& nb = g.nodes[static_cast<std::size_t>(b)];
      std::vector<float> scale, shift;
      fused_activation act;
      if (nb.impl->as_channel_affine(scale, shift) && g.nodes[a].impl->fuse_channel_affine(scale, shift)) {
        splice(g, a, static_cast<std::size_t>(b));
        changed = true;
      } else if (nb.impl->as_activation(act) && g.nodes[a].impl->fuse_activation(act)) {
        splice(g, a, static_cast<std::size_t>(b));
        changed = true;
      }
    }
  }
}

}  // namespace detail

// `lookup` finds each node's op (see op_lookup); the overload below uses every registered op.
inline expected<graph> import_graph(const model_proto& m, const load_options& opt, op_lookup lookup) {
  graph g;
  TESSERA_ASSIGN_OR_RETURN(g.opset, detail::default_domain_opset(m));
  const graph_proto& gp = m.graph;
  std::unordered_map<std::string, int> ids;
  std::uint64_t budget = opt.max_constant_bytes;
  const std::unordered_set<std::string> fed(opt.fed_initializers.begin(), opt.fed_initializers.end());

  // 1. Initializers, then graph inputs (an initializer listed as an input stays a constant
  //    unless fed).
  for (const tensor_proto& t : gp.initializers) {
    int id = -1;
    TESSERA_TRY(detail::add_value(g, ids, std::string(t.name), id));
    auto c = detail::load_initializer(t, opt, budget);
    if (!c.ok()) return c.err();
    detail::set_constant(g.values[static_cast<std::size_t>(id)], std::move(c).value());
  }
  for (const value_info_proto& in : gp.inputs) {
    const std::string name(in.name);
    auto it = ids.find(name);
    int id = -1;
    if (it != ids.end()) {
      if (!in.is_initializer || !fed.count(name)) continue;  // a constant
      id = it->second;
    } else {
      TESSERA_TRY(detail::add_value(g, ids, name, id));
    }
    graph_value& v = g.values[static_cast<std::size_t>(id)];
    v.is_input = true;
    v.default_value = std::move(v.constant);  // a fed initializer: only a default
    if (in.is_tensor && in.elem_type != data_type::undefined) {
      auto et = elem_type_of(in.elem_type);
      if (!et.ok()) return make_error(errc::unsupported, "graph input '" + name + "': " + et.err().message);
      v.has_type = true;
      v.type = *et;
    } else if (!in.is_tensor) {
      return make_error(errc::unsupported, "graph input '" + name + "' is not a tensor (sequence, map or optional)");
    }
    if (in.has_shape) {
      if (in.shape.size() > static_cast<std::size_t>(TESSERA_MAX_RANK))
        return make_error(errc::unsupported, "graph input '" + name + "' has rank " + std::to_string(in.shape.size()));
      v.has_shape = true;
      for (const dimension& d : in.shape) {
        v.dims.push_back(d.has_value ? d.value : -1);
        v.dim_names.emplace_back(d.param);
      }
    }
    g.inputs.push_back(id);
  }

  // 2. Nodes: outputs first (a file may list nodes out of order), then inputs.
  for (const node_proto& np : gp.nodes) {
    graph_node n;
    n.name = std::string(np.name);
    n.op_type = std::string(np.op_type);
    if (!(np.domain.empty() || np.domain == "ai.onnx"))
      return make_error(errc::unsupported, n.label() + ": domain '" + std::string(np.domain) + "' is not supported");
    const op_entry* e = lookup(np.op_type);
    if (!e) return make_error(errc::unsupported, n.label() + ": operator " + n.op_type + " is not supported");
    if (g.opset < e->first_opset || g.opset > e->last_opset)
      return make_error(errc::unsupported, n.label() + ": opset " + std::to_string(g.opset) +
                                               " is outside the supported range " + std::to_string(e->first_opset) +
                                               ".." + std::to_string(e->last_opset));
    n.opset = g.opset;
    auto built = e->build(build_ctx(np, g.opset));
    if (!built.ok()) return node_error(n, built.err());
    n.impl = std::move(built).value();
    for (std::string_view out : np.outputs) {
      int id = -1;
      std::string name = out.empty() ? "\x01unnamed output " + std::to_string(g.values.size()) : std::string(out);
      auto added = detail::add_value(g, ids, std::move(name), id);
      if (!added.ok()) return node_error(n, added.err());
      g.values[static_cast<std::size_t>(id)].producer = static_cast<int>(g.nodes.size());
      n.outputs.push_back(id);
    }
    g.nodes.push_back(std::move(n));
  }
  for (std::size_t i = 0; i < gp.nodes.size(); ++i) {
    graph_node& n = g.nodes[i];
    for (std::string_view in : gp.nodes[i].inputs) {
      if (in.empty()) {
        n.inputs.push_back(-1);
        continue;
      }
      auto it = ids.find(std::string(in));
      if (it == ids.end())
        return make_error(errc::invalid_argument, n.label() + ": input '" + std::string(in) +
                                                      "' is not a graph input, an initializer or a node's output");
      n.inputs.push_back(it->second);
    }
  }
  for (const value_info_proto& out : gp.outputs) {
    auto it = ids.find(std::string(out.name));
    if (it == ids.end())
      return make_error(errc::invalid_argument, "graph output '" + std::string(out.name) + "' is not produced by the graph");
    g.outputs.push_back(it->second);
    g.values[static_cast<std::size_t>(it->second)].is_output = true;
  }
  if (g.outputs.empty()) return make_error(errc::invalid_argument, "onnx: the graph has no outputs");

  // 3. Topological order.
  TESSERA_TRY(detail::topological_order(g));

  // 4. Constant folding and prepare, in topological order. A node whose inputs are all
  //    constants is folded on demand, just before a node that reads its output is prepared,
  //    and every constant is released once all its readers took it: the raw weights of a large
  //    model never all exist at once beside their packed copies.
  const std::size_t nn_ = g.nodes.size();
  std::vector<char> foldable(nn_, 0), folded(nn_, 0);
  for (std::size_t i = 0; i < nn_; ++i) {
    bool ok = true;
    for (int v : g.nodes[i].inputs) {
      if (v < 0) continue;
      const graph_value& gv = g.values[static_cast<std::size_t>(v)];
      ok = ok && (gv.constant || (gv.producer >= 0 && foldable[static_cast<std::size_t>(gv.producer)]));
    }
    foldable[i] = ok;
  }
  std::vector<int> readers(g.values.size(), 0);
  for (const graph_node& n : g.nodes)
    for (int v : n.inputs)
      if (v >= 0) ++readers[static_cast<std::size_t>(v)];
  for (int v : g.outputs) ++readers[static_cast<std::size_t>(v)];
  auto release = [&](int v) {
    if (v >= 0 && --readers[static_cast<std::size_t>(v)] == 0) g.values[static_cast<std::size_t>(v)].constant.reset();
  };
  std::uint64_t fold_budget = opt.max_folded_bytes;
  // Folds the foldable nodes node `n` depends on (ancestors first: ascending = topological).
  auto fold_for = [&](std::size_t n, bool self) -> status {
    std::vector<std::size_t> todo, stack;
    std::vector<char> seen(nn_, 0);
    if (self) stack.push_back(n);
    else
      for (int v : g.nodes[n].inputs)
        if (v >= 0 && g.values[static_cast<std::size_t>(v)].producer >= 0) stack.push_back(static_cast<std::size_t>(g.values[static_cast<std::size_t>(v)].producer));
    while (!stack.empty()) {
      const std::size_t k = stack.back();
      stack.pop_back();
      if (seen[k] || !foldable[k] || folded[k]) continue;
      seen[k] = 1;
      todo.push_back(k);
      for (int v : g.nodes[k].inputs)
        if (v >= 0 && g.values[static_cast<std::size_t>(v)].producer >= 0) stack.push_back(static_cast<std::size_t>(g.values[static_cast<std::size_t>(v)].producer));
    }
    std::sort(todo.begin(), todo.end());
    for (std::size_t k : todo) {
      graph_node& f = g.nodes[k];
      std::vector<const nn::tensor*> in;
      for (int v : f.inputs) in.push_back(v >= 0 ? g.values[static_cast<std::size_t>(v)].constant.get() : nullptr);
      auto results = detail::evaluate(f, in, budget, fold_budget);
      if (!results.ok()) return node_error(f, results.err());
      for (std::size_t i = 0; i < f.outputs.size(); ++i)
        detail::set_constant(g.values[static_cast<std::size_t>(f.outputs[i])], std::make_shared<const nn::tensor>(std::move((*results)[i])));
      folded[k] = 1;
      f.dead = true;
      for (int v : f.inputs) release(v);
    }
    return {};
  };
  for (std::size_t i = 0; i < nn_; ++i) {
    graph_node& n = g.nodes[i];
    if (foldable[i]) {
      n.dead = true;  // folded when a reader needs it (or below, for graph outputs)
      continue;
    }
    TESSERA_TRY(fold_for(i, false));
    std::vector<any_view> views(n.inputs.size());
    std::vector<const any_view*> consts(n.inputs.size(), nullptr);
    std::vector<std::shared_ptr<const void>> owners(n.inputs.size());
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      const int v = n.inputs[k];
      if (v < 0) continue;
      const std::shared_ptr<const nn::tensor>& c = g.values[static_cast<std::size_t>(v)].constant;
      if (!c) continue;
      views[k] = c->view();
      consts[k] = &views[k];
      owners[k] = c;
    }
    prepare_ctx pc(consts, std::move(owners));
    auto prepared = n.impl->prepare(pc);
    if (!prepared.ok()) return node_error(n, prepared.err());
    n.consumed = pc.consumed();
    for (std::size_t k = 0; k < n.inputs.size(); ++k)
      if (n.consumed[k]) release(n.inputs[k]);
  }
  for (int v : g.outputs) {
    const int p = g.values[static_cast<std::size_t>(v)].producer;
    if (p >= 0 && foldable[static_cast<std::size_t>(p)]) TESSERA_TRY(fold_for(static_cast<std::size_t>(p), true));
  }

  // 5. Fusions, then finalize (weights packed).
  if (opt.fuse) detail::fuse(g);
  for (graph_node& n : g.nodes) {
    if (n.dead) continue;
    auto finished = n.impl->finalize();
    if (!finished.ok()) return node_error(n, finished.err());
  }

  // 6. Drop the constants no live node reads.
  std::vector<bool> read(g.values.size(), false);
  for (const graph_node& n : g.nodes) {
    if (n.dead) continue;
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] >= 0 && !n.consumed[i]) read[static_cast<std::size_t>(n.inputs[i])] = true;
  }
  for (int v : g.outputs) read[static_cast<std::size_t>(v)] = true;
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (!read[v]) g.values[v].constant.reset();
  for (graph_node& n : g.nodes)
    if (n.dead) n.impl.reset();
  return g;
}

inline expected<graph> import_graph(const model_proto& m, const load_options& opt = {}) { return import_graph(m, opt, &find_op); }

}  // namespace tessera::onnx
