// Loading an ONNX model and running it.
//
//   auto m = tessera::onnx::model::load("net.onnx");          // mapped natively, read in WASM
//   auto s = tessera::onnx::session::create(*m);             // one per thread
//   s->run({{"input", tessera::nn::any_view(pixels, nn::elem_type::f32, {1, 3, 224, 224})}});
//   tessera::nn::any_view y = s->output(0);                  // valid until the next run
//
// A model is immutable once loaded (graph, prepared weights, and the plan when every input
// dim is static) and may be shared by sessions on several threads. A session owns what one
// run needs: the plan for its current input shapes (made on the first run with new shapes),
// one workspace buffer holding every activation at its planned offset, and a scratch arena.
// After the first run with a set of shapes, runs make no heap allocation (tests/onnx count
// operator new): a changed shape re-plans, which allocates.
#pragma once

#include <tessera/core/aligned.hpp>
#include <tessera/core/arena.hpp>
#include <tessera/core/error.hpp>
#include <tessera/io/mapped_file.hpp>
#include <tessera/kernels/layout.hpp>
#include <tessera/nn/tensor.hpp>
#include <tessera/onnx/graph.hpp>
#include <tessera/onnx/model_proto.hpp>
#include <tessera/onnx/plan.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::onnx {

// A graph input or output: name, element type, dims (-1: symbolic or unknown) and dim names.
struct io_info {
  std::string name;
  elem_type type = elem_type::f32;
  bool has_shape = false;
  std::vector<std::int64_t> dims;
  std::vector<std::string> dim_names;
};

class model {
 public:
  // Parses, imports and prepares a model. External data is read from the file's directory.
  static expected<std::shared_ptr<const model>> load(const std::string& path, load_options opt = {}) {
    TESSERA_ASSIGN_OR_RETURN(io::mapped_file f, io::mapped_file::open(path, io::mapped_file::access::whole));
    if (opt.external_data_dir.empty() && !opt.open_external) {
      const std::size_t slash = path.find_last_of('/');
      opt.external_data_dir = slash == std::string::npos ? "." : path.substr(0, slash);
    }
    auto m = load(f.bytes(), opt);
    if (!m.ok()) return make_error(m.err().code, path + ": " + m.err().message);
    return m;
  }

  // From bytes in memory (a browser's fetched buffer). The bytes may be freed after loading.
  static expected<std::shared_ptr<const model>> load(bytes_view bytes, const load_options& opt = {}) {
    TESSERA_ASSIGN_OR_RETURN(const model_proto proto, parse_model(bytes));
    return from_proto(proto, opt, &find_op);
  }

  // From a decoded (or, for a compiled-in model, constructed) ModelProto, with the ops that
  // `lookup` knows. The proto's views may be released after loading.
  static expected<std::shared_ptr<const model>> from_proto(const model_proto& proto, const load_options& opt, op_lookup lookup) {
    auto m = std::shared_ptr<model>(new model());
    m->producer_ = std::string(proto.producer_name);
    for (const metadata_entry& kv : proto.metadata_props) m->metadata_.emplace_back(std::string(kv.key), std::string(kv.value));
    for (const auto& t : proto.graph.initializers) m->parameters_ += t.numel;
    TESSERA_ASSIGN_OR_RETURN(m->graph_, import_graph(proto, opt, lookup));
    for (int v : m->graph_.inputs) {
      const graph_value& gv = m->graph_.values[static_cast<std::size_t>(v)];
      io_info io{gv.name, gv.type, gv.has_shape, gv.dims, gv.dim_names};
      if (!gv.has_type) {
        if (!gv.default_value) return make_error(errc::unsupported, "onnx: graph input '" + gv.name + "' declares no element type");
        io.type = gv.default_value->type();
      }
      m->inputs_.push_back(std::move(io));
    }
    for (const value_info_proto& out : proto.graph.outputs) {
      io_info io;
      io.name = std::string(out.name);
      if (out.is_tensor && out.elem_type != data_type::undefined) {
        auto t = elem_type_of(out.elem_type);
        if (t.ok()) io.type = *t;
      }
      io.has_shape = out.has_shape;
      for (const dimension& d : out.shape) {
        io.dims.push_back(d.has_value ? d.value : -1);
        io.dim_names.emplace_back(d.param);
      }
      m->outputs_.push_back(std::move(io));
    }
    // Every dim static: plan now, once, for every session.
    std::vector<shape_t> shapes;
    bool all_static = true;
    for (const io_info& io : m->inputs_) {
      shape_t s;
      if (!io.has_shape) all_static = false;
      for (std::int64_t d : io.dims) {
        if (d < 0) all_static = false;
        s.push_back(d);
      }
      shapes.push_back(s);
    }
    if (all_static) {
      bool needs_values = false;
      plan_options po;
      po.max_bytes = opt.max_plan_bytes;
      po.needs_input_values = &needs_values;
      auto p = make_plan(m->graph_, shapes, m->input_types(), po);
      if (p.ok()) m->default_plan_ = std::move(p).value();
      // A graph error is reported now; a plan that needs fed values, or more memory than
      // this process has, waits for a session's first run.
      else if (!needs_values && p.err().code != errc::out_of_memory) return p.err();
    }
    return std::shared_ptr<const model>(std::move(m));
  }

  const std::vector<io_info>& inputs() const noexcept { return inputs_; }
  const std::vector<io_info>& outputs() const noexcept { return outputs_; }
  const onnx::graph& graph() const noexcept { return graph_; }
  const std::string& producer() const noexcept { return producer_; }
  // ModelProto.metadata_props in file order (untrusted text, e.g. Ultralytics' "names").
  const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return metadata_; }
  // The value of the first entry named `key`, or null.
  const std::string* metadata_value(std::string_view key) const noexcept {
    for (const auto& kv : metadata_)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  // Indices into inputs() of the inputs a caller must feed: initializers listed as graph
  // inputs keep their stored values when not fed.
  std::vector<std::size_t> required_inputs() const {
    std::vector<std::size_t> out;
    for (std::size_t k = 0; k < inputs_.size(); ++k)
      if (!graph_.values[static_cast<std::size_t>(graph_.inputs[k])].default_value) out.push_back(k);
    return out;
  }
  // Elements of the file's initializers (the parameter count of a network).
  std::uint64_t parameters() const noexcept { return parameters_; }
  // The plan made at load when every input dim is static, else null.
  const std::shared_ptr<const execution_plan>& default_plan() const noexcept { return default_plan_; }

  std::vector<elem_type> input_types() const {
    std::vector<elem_type> t;
    for (const io_info& io : inputs_) t.push_back(io.type);
    return t;
  }

 private:
  model() = default;
  onnx::graph graph_;
  std::vector<io_info> inputs_, outputs_;
  std::string producer_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::uint64_t parameters_ = 0;
  std::shared_ptr<const execution_plan> default_plan_;
};

struct session_options {
  runtime::thread_pool* pool = nullptr;  // null: runtime::default_pool()
  plan_options plan;
  bool profile = false;  // time every step of every run: session::profile()
};

// One step of the plan as session::profile() reports it: a node (or a layout change the plan
// inserted), its output's shape and the time it took, summed over the runs since the plan was
// bound (the first run, which grows the scratch arena, included).
struct step_profile {
  std::string op;     // ONNX op type, or "to NHWC" / "to NCHW" / "copy"
  std::string node;   // node name (empty for the plan's own steps)
  shape_t output;     // shape of the first output
  double seconds = 0;
  std::size_t runs = 0;
};

struct named_input {
  std::string_view name;
  any_view value;  // plain (contiguous row-major), the input's element type
};

class session {
 public:
  static expected<session> create(std::shared_ptr<const model> m, const session_options& opt = {}) {
    if (!m) return make_error(errc::invalid_argument, "onnx: null model");
    session s;
    s.model_ = std::move(m);
    s.opt_ = opt;
    s.input_ptrs_.assign(s.model_->inputs().size(), nullptr);
    s.shapes_.resize(s.model_->inputs().size());
    s.fed_.assign(s.model_->inputs().size(), false);
    if (s.model_->default_plan()) TESSERA_TRY(s.bind(s.model_->default_plan()));
    return s;
  }

  const std::vector<io_info>& inputs() const noexcept { return model_->inputs(); }
  const std::vector<io_info>& outputs() const noexcept { return model_->outputs(); }
  const onnx::model& get_model() const noexcept { return *model_; }
  const execution_plan* plan() const noexcept { return plan_.get(); }
  std::size_t workspace_bytes() const noexcept { return workspace_.size(); }

  // Per-step times of the runs since the last (re)plan, in plan order; empty unless
  // session_options::profile. A fused step (Conv+Add+ReLU) is reported under its first node.
  std::vector<step_profile> profile() const {
    std::vector<step_profile> r;
    if (!plan_ || step_seconds_.size() != plan_->steps.size()) return r;
    for (std::size_t i = 0; i < plan_->steps.size(); ++i) {
      const plan_step& s = plan_->steps[i];
      step_profile p;
      switch (s.what) {
        case plan_step::kind::run_op: {
          const graph_node& n = model_->graph().nodes[static_cast<std::size_t>(s.node)];
          p.op = n.op_type;
          p.node = n.name;
          break;
        }
        case plan_step::kind::to_channels_last: p.op = "to NHWC"; break;
        case plan_step::kind::to_plain: p.op = "to NCHW"; break;
        case plan_step::kind::copy: p.op = "copy"; break;
      }
      if (!s.outputs.empty()) p.output = plan_->values[static_cast<std::size_t>(s.outputs[0])].shape;
      p.seconds = step_seconds_[i];
      p.runs = profiled_runs_;
      r.push_back(std::move(p));
    }
    return r;
  }
  void clear_profile() {
    std::fill(step_seconds_.begin(), step_seconds_.end(), 0.0);
    profiled_runs_ = 0;
  }

  // Runs the graph on named inputs (every graph input; initializers listed as inputs only
  // when fed). Outputs stay in the session until the next run.
  status run(std::span<const named_input> inputs) {
    const auto& ios = model_->inputs();
    for (std::size_t i = 0; i < ios.size(); ++i) fed_[i] = false;
    for (const named_input& in : inputs) {
      std::size_t k = 0;
      while (k < ios.size() && ios[k].name != in.name) ++k;
      if (k == ios.size()) return make_error(errc::invalid_argument, "onnx: the model has no input named '" + std::string(in.name) + "'");
      if (fed_[k]) return make_error(errc::invalid_argument, "onnx: input '" + std::string(in.name) + "' given twice");
      TESSERA_TRY(check_input(ios[k], in.value));
      fed_[k] = true;
      input_ptrs_[k] = in.value.data;
      shapes_[k] = in.value.shape;
    }
    for (std::size_t k = 0; k < ios.size(); ++k) {
      if (fed_[k]) continue;
      const graph_value& gv = model_->graph().values[static_cast<std::size_t>(model_->graph().inputs[k])];
      if (!gv.default_value) return make_error(errc::invalid_argument, "onnx: input '" + ios[k].name + "' is missing");
      input_ptrs_[k] = const_cast<void*>(gv.default_value->data());
      shapes_[k] = gv.default_value->shape();
    }
    if (!plan_ || plan_->input_shapes != shapes_ || !same_values()) TESSERA_TRY(replan());
    return execute();
  }
  status run(std::initializer_list<named_input> inputs) { return run(std::span<const named_input>(inputs.begin(), inputs.size())); }

  // Output i of the last run (plain, the output's type and shape).
  any_view output(std::size_t i) const {
    if (!plan_ || i >= plan_->outputs.size()) return {};
    const plan_value& pv = plan_->values[static_cast<std::size_t>(plan_->outputs[i])];
    return any_view(const_cast<unsigned char*>(workspace_.data()) + pv.offset, pv.type, pv.shape);
  }
  expected<any_view> output(std::string_view name) const {
    for (std::size_t i = 0; i < model_->outputs().size(); ++i)
      if (model_->outputs()[i].name == name) return output(i);
    return make_error(errc::invalid_argument, "onnx: the model has no output named '" + std::string(name) + "'");
  }

 private:
  session() = default;

  static status check_input(const io_info& io, const any_view& v) {
    auto where = [&] { return "onnx: input '" + io.name + "'"; };  // built only on failure
    if (v.type != io.type)
      return make_error(errc::invalid_argument, where() + " is " + nn::elem_name(v.type) + ", the model expects " + nn::elem_name(io.type));
    if (!v.is_contiguous()) return make_error(errc::invalid_argument, where() + " must be contiguous");
    if (v.size() > 0 && !v.data) return make_error(errc::invalid_argument, where() + " has no data");
    TESSERA_TRY(checked_numel(v.shape));
    if (io.has_shape) {
      if (static_cast<std::size_t>(v.rank()) != io.dims.size())
        return make_error(errc::shape_mismatch, where() + " has shape " + v.shape.str() + ", the model expects rank " + std::to_string(io.dims.size()));
      for (int i = 0; i < v.rank(); ++i)
        if (io.dims[static_cast<std::size_t>(i)] >= 0 && io.dims[static_cast<std::size_t>(i)] != v.shape[i])
          return make_error(errc::shape_mismatch, where() + " has shape " + v.shape.str() + ", dim " + std::to_string(i) + " must be " +
                                                      std::to_string(io.dims[static_cast<std::size_t>(i)]));
    }
    return {};
  }

  // The values the plan depends on are those of this run's inputs.
  bool same_values() const {
    for (const auto& d : plan_->value_dependencies) {
      const std::size_t k = static_cast<std::size_t>(d.input);
      if (d.value->shape() != shapes_[k]) return false;
      if (d.value->bytes() && std::memcmp(d.value->data(), input_ptrs_[k], d.value->bytes()) != 0) return false;
    }
    return true;
  }

  status replan() {
    const auto& dp = model_->default_plan();
    if (dp && dp->input_shapes == shapes_) return bind(dp);
    std::vector<elem_type> types = model_->input_types();
    std::vector<any_view> values;
    for (std::size_t k = 0; k < shapes_.size(); ++k) values.emplace_back(input_ptrs_[k], types[k], shapes_[k]);
    plan_options po = opt_.plan;
    po.input_values = &values;
    TESSERA_ASSIGN_OR_RETURN(auto p, make_plan(model_->graph(), shapes_, types, po));
    return bind(std::move(p));
  }

  struct step_binding {
    std::vector<any_view> in, out;
    std::unique_ptr<bool[]> present;
    std::vector<int> in_ids, out_ids;
  };

  // Views (shape, strides, type) of every step, with data pointers patched per run.
  status bind(std::shared_ptr<const execution_plan> p) {
    plan_ = std::move(p);
    if (workspace_.size() < plan_->workspace_bytes) TESSERA_TRY(workspace_.allocate(plan_->workspace_bytes, first_touch::now));
    bindings_.clear();
    bindings_.resize(plan_->steps.size());
    for (std::size_t i = 0; i < plan_->steps.size(); ++i) {
      const plan_step& s = plan_->steps[i];
      step_binding& b = bindings_[i];
      b.present.reset(new bool[s.inputs.size() + 1]());
      for (std::size_t k = 0; k < s.inputs.size(); ++k) {
        const int v = s.inputs[k];
        b.in_ids.push_back(v);
        b.present[k] = v >= 0;
        b.in.push_back(v >= 0 ? view_of(v) : any_view());
      }
      for (int v : s.outputs) {
        b.out_ids.push_back(v);
        b.out.push_back(view_of(v));
      }
    }
    first_run_ = true;
    step_seconds_.assign(opt_.profile ? plan_->steps.size() : 0, 0.0);
    profiled_runs_ = 0;
    return {};
  }

  any_view view_of(int v) const {
    const plan_value& pv = plan_->values[static_cast<std::size_t>(v)];
    return any_view(nullptr, pv.type, pv.shape, pv.strides());
  }

  void* base(int v) const {
    for (;;) {
      const plan_value& pv = plan_->values[static_cast<std::size_t>(v)];
      switch (pv.where) {
        case plan_value::home::workspace: return const_cast<unsigned char*>(workspace_.data()) + pv.offset;
        case plan_value::home::input: return input_ptrs_[static_cast<std::size_t>(pv.input)];
        case plan_value::home::constant: return const_cast<void*>(pv.constant->data());
        case plan_value::home::alias: v = pv.alias_of; continue;
        case plan_value::home::none: return nullptr;
      }
    }
  }

  status execute() {
    runtime::thread_pool* pool = opt_.pool;
    const bool timed = !step_seconds_.empty();
    auto started = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    for (std::size_t i = 0; i < plan_->steps.size(); ++i) {
      const plan_step& s = plan_->steps[i];
      step_binding& b = bindings_[i];
      for (std::size_t k = 0; k < b.in.size(); ++k)
        if (b.in_ids[k] >= 0) b.in[k].data = base(b.in_ids[k]);
      for (std::size_t k = 0; k < b.out.size(); ++k) b.out[k].data = base(b.out_ids[k]);
      status st;
      switch (s.what) {
        case plan_step::kind::run_op: {
          run_ctx rc(b.in.data(), b.present.get(), b.in.size(), b.out.data(), b.out.size(), scratch_, pool, s.state.get());
          if (s.residual >= 0) {
            rc.residual = static_cast<const float*>(base(s.residual));
            rc.residual_act = s.residual_act;
          }
          st = s.impl->run(rc);
          if (!st.ok()) st = node_error(model_->graph().nodes[static_cast<std::size_t>(s.node)], st.err());
          break;
        }
        case plan_step::kind::to_channels_last:
        case plan_step::kind::to_plain: st = convert_layout(b.out[0], b.in[0], s.what == plan_step::kind::to_channels_last, pool); break;
        case plan_step::kind::copy: st = nn::copy(b.out[0], b.in[0]); break;
      }
      if (!st.ok()) return st;
      if (timed) {
        const auto now = std::chrono::steady_clock::now();
        step_seconds_[i] += std::chrono::duration<double>(now - started).count();
        started = now;
      }
    }
    if (timed) ++profiled_runs_;
    if (first_run_) {  // merge the scratch blocks the first run grew: later runs allocate nothing
      scratch_.reset();
      first_run_ = false;
    }
    return {};
  }

  static status convert_layout(const any_view& out, const any_view& in, bool to_channels_last, runtime::thread_pool* pool) {
    if (in.type == elem_type::f32 && in.rank() == 4) {
      const kernels::image_shape s{in.shape[0], in.shape[1], in.shape[2], in.shape[3]};
      return to_channels_last ? kernels::nchw_to_nhwc(out.ptr<float>(), in.ptr<const float>(), s, pool)
                              : kernels::nhwc_to_nchw(out.ptr<float>(), in.ptr<const float>(), s, pool);
    }
    return nn::copy(out, in);
  }

  std::shared_ptr<const model> model_;
  session_options opt_;
  std::shared_ptr<const execution_plan> plan_;
  std::vector<step_binding> bindings_;
  aligned_buffer<unsigned char> workspace_;
  arena scratch_;
  std::vector<void*> input_ptrs_;
  std::vector<shape_t> shapes_;
  std::vector<bool> fed_;
  bool first_run_ = true;
  std::vector<double> step_seconds_;  // session_options::profile: per step, summed over runs
  std::size_t profiled_runs_ = 0;
};

}  // namespace tessera::onnx
