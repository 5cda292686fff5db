// tessera-onnx: ONNX models from the command line, natively or under Node.
//
//   tessera-onnx run --model M.onnx --input NAME=X.npy|X.json ... --output-dir D [--threads N] [--profile RUNS]
//   tessera-onnx info --model M.onnx
//   tessera-onnx compare --actual A.npy --expected B.npy [--tolerance T]
//
// run: feeds every graph input (each --input names one), runs the graph once and writes each
// graph output as D/<output name>.npy. JSON inputs follow the field's convention
// {"input_tensor": [[[...]]], "shape": [1, 3, 640, 640], "dtype": "float32", "normalized": true}:
// nested arrays whose nesting matches "shape"; the values are fed as they are ("normalized"
// only says whether the caller already applied the model's preprocessing).
// info: inputs and outputs (name, type, shape), op counts of the file, parameter count and
// FLOPs of one run (a multiply-add counts 2; other ops count one per output element).
// --profile RUNS: after the first run, runs RUNS more times and prints to stderr where the
// time went: per op type, then the slowest steps (median-free sums: compare runs, not steps).
// compare: the largest absolute difference between two float .npy files of the same shape;
// exit 1 when it exceeds the tolerance (|a - b| <= T * (1 + |b|)).
// Errors go to stderr with exit 1 (2 for usage).
#include <tessera/io/file.hpp>
#include <tessera/io/json.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/onnx.hpp>
#include <tessera/onnx/compiled_writer.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include "../common/cli_args.hpp"
#include "../common/cli_main.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace tessera;
using nn::elem_type;

int fail(const std::string& msg) {
  std::fprintf(stderr, "tessera-onnx: %s\n", msg.c_str());
  return 1;
}

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  tessera-onnx run --model M.onnx --input NAME=X.npy|X.json ... --output-dir D [--threads N] [--profile RUNS]\n"
               "  tessera-onnx info --model M.onnx\n"
               "  tessera-onnx compare --actual A.npy --expected B.npy [--tolerance T]\n"
               "  tessera-onnx compile --model M.onnx --name NAME [--shape INPUT=1,3,224,224]... [--out NAME.hpp]\n");
  return 2;
}

using tessera_cli::args;

// .npy dtypes <-> tensor element types (bf16 has no NumPy spelling).
struct npy_type {
  char kind;
  std::size_t itemsize;
  elem_type type;
};
constexpr npy_type kNpyTypes[] = {
    {'f', 4, elem_type::f32}, {'f', 8, elem_type::f64}, {'f', 2, elem_type::f16}, {'i', 1, elem_type::i8},
    {'u', 1, elem_type::u8},  {'i', 2, elem_type::i16}, {'u', 2, elem_type::u16}, {'i', 4, elem_type::i32},
    {'u', 4, elem_type::u32}, {'i', 8, elem_type::i64}, {'u', 8, elem_type::u64}, {'b', 1, elem_type::boolean},
};

// A loaded input: its bytes, type and shape (the tensor the session reads).
struct input_tensor {
  std::vector<std::uint8_t> bytes;
  elem_type type = elem_type::f32;
  shape_t shape;
};

expected<shape_t> to_shape(const std::vector<std::int64_t>& dims, const std::string& where) {
  if (dims.size() > static_cast<std::size_t>(TESSERA_MAX_RANK))
    return make_error(errc::invalid_argument, where + ": rank " + std::to_string(dims.size()) + " exceeds " + std::to_string(TESSERA_MAX_RANK));
  shape_t s;
  for (std::int64_t d : dims) s.push_back(d);
  auto n = checked_numel(s);
  if (!n.ok()) return make_error(n.err().code, where + ": " + n.err().message);
  return s;
}

expected<input_tensor> read_npy_input(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(auto file, io::read_file_bytes(path));
  auto a = io::parse_npy(file);
  if (!a.ok()) return make_error(a.err().code, path + ": " + a.err().message);
  input_tensor t;
  const npy_type* nt = nullptr;
  for (const npy_type& c : kNpyTypes)
    if (c.kind == a->kind && c.itemsize == a->itemsize) nt = &c;
  if (!nt) return make_error(errc::unsupported, path + ": dtype " + a->descr() + " is not a tensor type");
  t.type = nt->type;
  TESSERA_ASSIGN_OR_RETURN(t.shape, to_shape(a->shape, path));
  t.bytes.assign(a->data.begin(), a->data.end());
  return t;
}

// The nested arrays of "input_tensor", checked against "shape" level by level.
status flatten_json(io::json_ref v, const shape_t& shape, int depth, std::vector<double>& out, const std::string& where) {
  if (depth == shape.rank()) {
    if (!v.is_number()) return make_error(errc::parse_error, where + ": input_tensor holds a non-number at depth " + std::to_string(depth));
    out.push_back(v.number());
    return {};
  }
  if (!v.is_array() || static_cast<index_t>(v.size()) != shape[depth])
    return make_error(errc::shape_mismatch, where + ": input_tensor at depth " + std::to_string(depth) + " has " +
                                                (v.is_array() ? std::to_string(v.size()) + " elements" : std::string("no array")) +
                                                ", \"shape\" says " + std::to_string(shape[depth]));
  for (io::json_ref e : v.elements()) TESSERA_TRY(flatten_json(e, shape, depth + 1, out, where));
  return {};
}

template <class T>
void store_as(const std::vector<double>& values, std::vector<std::uint8_t>& bytes) {
  bytes.resize(values.size() * sizeof(T));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const T x = static_cast<T>(values[i]);
    std::memcpy(bytes.data() + i * sizeof(T), &x, sizeof(T));
  }
}

expected<input_tensor> read_json_input(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(auto file, io::read_file_bytes(path));
  auto doc = io::parse_json(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()));
  if (!doc.ok()) return make_error(doc.err().code, path + ": " + doc.err().message);
  const io::json_ref root = doc->root();
  if (!root.is_object()) return make_error(errc::parse_error, path + ": not a JSON object");
  const io::json_ref data = root.find("input_tensor"), dims = root.find("shape"), dtype = root.find("dtype");
  if (!data) return make_error(errc::parse_error, path + ": no \"input_tensor\"");
  if (!dims || !dims.is_array()) return make_error(errc::parse_error, path + ": no \"shape\" array");
  std::vector<std::int64_t> d;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(const std::int64_t x, io::array_integer(dims, i, 0, std::int64_t{1} << 40, path + ": shape"));
    d.push_back(x);
  }
  input_tensor t;
  TESSERA_ASSIGN_OR_RETURN(t.shape, to_shape(d, path));
  // Bounded by the file: every element takes at least two characters.
  if (static_cast<std::uint64_t>(numel(t.shape)) > file.size())
    return make_error(errc::shape_mismatch, path + ": \"shape\" " + t.shape.str() + " holds more elements than the file");
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(numel(t.shape)));
  TESSERA_TRY(flatten_json(data, t.shape, 0, values, path));
  const std::string type = dtype ? std::string(dtype.str()) : "float32";
  if (type == "float32") {
    t.type = elem_type::f32;
    for (double& x : values)  // beyond float's range: infinity, as a float parse gives
      if (std::fabs(x) > static_cast<double>(std::numeric_limits<float>::max())) x = std::copysign(INFINITY, x);
    store_as<float>(values, t.bytes);
  } else if (type == "float64") {
    t.type = elem_type::f64;
    store_as<double>(values, t.bytes);
  } else if (type == "int64" || type == "int32") {
    const double limit = type == "int64" ? 9.0e15 : 2147483647.0;  // int64: exact in a double
    for (double x : values)
      if (x != std::floor(x) || std::fabs(x) > limit) return make_error(errc::invalid_argument, path + ": " + type + " input holds " + std::to_string(x));
    t.type = type == "int64" ? elem_type::i64 : elem_type::i32;
    if (type == "int64")
      store_as<std::int64_t>(values, t.bytes);
    else
      store_as<std::int32_t>(values, t.bytes);
  } else {
    return make_error(errc::unsupported, path + ": dtype '" + type + "' (float32, float64, int32 or int64)");
  }
  return t;
}

bool ends_with(const std::string& s, const std::string& tail) { return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0; }

// Output names become file names: path separators and the like are replaced.
std::string file_name_of(const std::string& name) {
  std::string s = name.empty() ? "output" : name;
  for (char& c : s)
    if (c == '/' || c == '\\' || c == ':' || static_cast<unsigned char>(c) < 32) c = '_';
  if (s == "." || s == "..") s = "_" + s;
  return s;
}

// Where a run's time went: sums per op type, then the 20 slowest steps, in ms per run.
void print_profile(const std::vector<onnx::step_profile>& steps) {
  if (steps.empty()) return;
  const double runs = static_cast<double>(steps[0].runs);
  double total = 0;
  std::vector<std::pair<std::string, double>> by_op;
  for (const onnx::step_profile& p : steps) {
    total += p.seconds;
    auto it = std::find_if(by_op.begin(), by_op.end(), [&](const auto& e) { return e.first == p.op; });
    if (it == by_op.end()) by_op.emplace_back(p.op, p.seconds);
    else it->second += p.seconds;
  }
  std::sort(by_op.begin(), by_op.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  std::fprintf(stderr, "profile: %.3f ms per run (%zu steps, %.0f runs)\n", 1e3 * total / runs, steps.size(), runs);
  for (const auto& [op, sec] : by_op)
    std::fprintf(stderr, "  %-24s %9.3f ms  %5.1f%%\n", op.c_str(), 1e3 * sec / runs, 100 * sec / total);
  std::vector<std::size_t> order(steps.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return steps[x].seconds > steps[y].seconds; });
  std::fprintf(stderr, "slowest steps:\n");
  for (std::size_t k = 0; k < std::min<std::size_t>(20, order.size()); ++k) {
    const onnx::step_profile& p = steps[order[k]];
    std::fprintf(stderr, "  #%-4zu %-16s %-32s %-22s %9.3f ms\n", order[k], p.op.c_str(), p.node.substr(0, 32).c_str(),
                 p.output.str().c_str(), 1e3 * p.seconds / runs);
  }
}

int run(const args& a) {
  const std::string model_path = a.get("model"), dir = a.get("output-dir");
  if (model_path.empty() || dir.empty()) return usage();
  auto m = onnx::model::load(model_path);
  if (!m.ok()) return fail(model_path + ": " + m.what());
  std::vector<input_tensor> tensors;
  std::vector<std::string> names;
  for (const std::string& spec : a.all("input")) {
    const std::size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return fail("--input '" + spec + "': expected NAME=FILE");
    const std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
    bool known = false;
    for (const onnx::io_info& io : (*m)->inputs()) known |= io.name == name;
    if (!known) {
      std::string list;
      for (const onnx::io_info& io : (*m)->inputs()) list += (list.empty() ? "'" : ", '") + io.name + "'";
      return fail("the model has no input named '" + name + "' (its inputs: " + list + ")");
    }
    auto t = ends_with(file, ".json") ? read_json_input(file) : read_npy_input(file);
    if (!t.ok()) return fail(t.what());
    tensors.push_back(std::move(*t));
    names.push_back(name);
  }
  const int threads = std::atoi(a.get("threads", "1").c_str());
  if (threads < 1 || threads > 256) return fail("--threads must be 1 to 256");
  runtime::thread_pool pool(static_cast<std::size_t>(threads));
  onnx::session_options so;
  so.pool = &pool;
  const int profile_runs = std::atoi(a.get("profile", "0").c_str());
  if (profile_runs < 0 || profile_runs > 100000) return fail("--profile must be 0 to 100000 runs");
  so.profile = profile_runs > 0;
  auto s = onnx::session::create(*m, so);
  if (!s.ok()) return fail(s.what());
  std::vector<onnx::named_input> feeds;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    feeds.push_back({names[i], nn::any_view(tensors[i].bytes.data(), tensors[i].type, tensors[i].shape)});
  const status st = s->run(std::span<const onnx::named_input>(feeds));
  if (!st.ok()) return fail(st.what());
  if (profile_runs > 0) {
    s->clear_profile();  // the first run pays for first touches: profile the steady state
    for (int r = 0; r < profile_runs; ++r)
      if (const status again = s->run(std::span<const onnx::named_input>(feeds)); !again.ok()) return fail(again.what());
    print_profile(s->profile());
  }
  for (std::size_t i = 0; i < s->outputs().size(); ++i) {
    const nn::any_view out = s->output(i);
    io::npy_array arr;
    const npy_type* nt = nullptr;
    for (const npy_type& c : kNpyTypes)
      if (c.type == out.type) nt = &c;
    if (!nt) return fail("output '" + s->outputs()[i].name + "' is " + nn::elem_name(out.type) + ", which .npy cannot hold");
    arr.kind = nt->kind;
    arr.itemsize = nt->itemsize;
    for (index_t d : out.shape) arr.shape.push_back(d);
    arr.data = {static_cast<const std::uint8_t*>(out.data), static_cast<std::size_t>(out.size()) * nt->itemsize};
    const std::string path = dir + "/" + file_name_of(s->outputs()[i].name) + ".npy";
    const status w = io::save_npy(path, arr);
    if (!w.ok()) return fail(w.what());
    std::printf("%s %s %s\n", path.c_str(), nn::elem_name(out.type), out.shape.str().c_str());
  }
  return 0;
}

std::string dims_str(const onnx::io_info& io) {
  if (!io.has_shape) return "(unknown shape)";
  std::string s = "[";
  for (std::size_t i = 0; i < io.dims.size(); ++i) {
    if (i) s += ", ";
    s += io.dims[i] >= 0 ? std::to_string(io.dims[i]) : io.dim_names[i].empty() ? std::string("?") : io.dim_names[i];
  }
  return s + "]";
}

// Work of one run of the plan: the multiply-adds of Conv, ConvTranspose, Gemm and MatMul,
// and FLOPs (two per multiply-add, one per output element of other ops; layout changes and
// copies count nothing).
struct work {
  std::uint64_t flops = 0, multiply_adds = 0;
};
work plan_work(const onnx::graph& g, const onnx::execution_plan& p) {
  auto value_shape = [&](int graph_value) -> shape_t {
    const onnx::graph_value& v = g.values[static_cast<std::size_t>(graph_value)];
    if (v.constant) return v.constant->shape();
    return v.has_static_info ? v.static_shape : shape_t{};
  };
  work total;
  for (const onnx::plan_step& st : p.steps) {
    if (st.removed || st.what != onnx::plan_step::kind::run_op || st.outputs.empty() || st.outputs[0] < 0) continue;
    const onnx::graph_node& n = g.nodes[static_cast<std::size_t>(st.node)];
    const shape_t& out = p.values[static_cast<std::size_t>(st.outputs[0])].shape;
    const auto out_n = static_cast<std::uint64_t>(numel(out));
    const shape_t in0 = !st.inputs.empty() && st.inputs[0] >= 0 ? p.values[static_cast<std::size_t>(st.inputs[0])].shape : shape_t{};
    if ((n.op_type == "Conv" || n.op_type == "ConvTranspose") && n.inputs.size() > 1 && n.inputs[1] >= 0) {
      const shape_t w = value_shape(n.inputs[1]);  // Conv [M, C/g, k...], ConvTranspose [C, M/g, k...]
      std::uint64_t taps = 1;
      for (int i = 1; i < w.rank(); ++i) taps *= static_cast<std::uint64_t>(w[i]);
      total.multiply_adds += taps * (n.op_type == "Conv" ? out_n : static_cast<std::uint64_t>(numel(in0)));
    } else if ((n.op_type == "Gemm" || n.op_type == "MatMul") && in0.rank() > 0 && out.rank() > 0) {
      // K = elements of A per output row: A [M, K] (or transposed), batched MatMul [..., M, K].
      const index_t m = n.op_type == "Gemm" ? out[0] : (in0.rank() >= 2 ? in0[in0.rank() - 2] : 1);
      const auto rows_a = static_cast<std::uint64_t>(n.op_type == "Gemm" ? m : numel(in0) / std::max<index_t>(1, in0[in0.rank() - 1]));
      const std::uint64_t k = rows_a ? static_cast<std::uint64_t>(numel(in0)) / rows_a : 0;
      total.multiply_adds += k * out_n;
    } else {
      total.flops += out_n;
    }
  }
  total.flops += 2 * total.multiply_adds;
  return total;
}

int info(const args& a) {
  const std::string path = a.get("model");
  if (path.empty()) return usage();
  auto m = onnx::model::load(path);
  if (!m.ok()) return fail(path + ": " + m.what());
  std::printf("model %s (producer '%s', opset %d)\n", path.c_str(), (*m)->producer().c_str(), (*m)->graph().opset);
  for (const onnx::io_info& io : (*m)->inputs()) std::printf("input %s %s %s\n", io.name.c_str(), nn::elem_name(io.type), dims_str(io).c_str());
  for (const onnx::io_info& io : (*m)->outputs()) std::printf("output %s %s %s\n", io.name.c_str(), nn::elem_name(io.type), dims_str(io).c_str());
  // Op counts as the file has them (before folding and fusion).
  auto bytes = io::read_file_bytes(path);
  if (!bytes.ok()) return fail(bytes.what());
  auto proto = onnx::parse_model(*bytes);
  if (!proto.ok()) return fail(path + ": " + proto.what());
  std::map<std::string, int> ops;
  for (const onnx::node_proto& n : proto->graph.nodes) ++ops[std::string(n.op_type)];
  std::printf("nodes %zu\n", proto->graph.nodes.size());
  for (const auto& [type, count] : ops) std::printf("op %s %d\n", type.c_str(), count);
  std::printf("parameters %llu\n", static_cast<unsigned long long>((*m)->parameters()));
  if (const auto& p = (*m)->default_plan()) {
    std::size_t steps = 0;
    for (const onnx::plan_step& st : p->steps) steps += !st.removed && st.what == onnx::plan_step::kind::run_op;
    const work w = plan_work((*m)->graph(), *p);
    std::printf("multiply-adds %llu\n", static_cast<unsigned long long>(w.multiply_adds));
    std::printf("flops %llu\n", static_cast<unsigned long long>(w.flops));
    std::printf("planned ops %zu, workspace %zu bytes\n", steps, p->workspace_bytes);
  } else {
    std::printf("flops unknown (input dims are not all static; planned at the first run)\n");
  }
  return 0;
}

expected<std::vector<double>> float_values(const std::string& path, shape_t& shape) {
  TESSERA_ASSIGN_OR_RETURN(input_tensor t, read_npy_input(path));
  shape = t.shape;
  std::vector<double> v(static_cast<std::size_t>(numel(t.shape)));
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (t.type == elem_type::f32) {
      float x;
      std::memcpy(&x, t.bytes.data() + 4 * i, 4);
      v[i] = x;
    } else if (t.type == elem_type::f64) {
      std::memcpy(&v[i], t.bytes.data() + 8 * i, 8);
    } else {
      return make_error(errc::unsupported, path + ": compare reads float32 or float64 files, this one is " + nn::elem_name(t.type));
    }
  }
  return v;
}

int compare(const args& a) {
  const std::string actual = a.get("actual"), expected_path = a.get("expected");
  if (actual.empty() || expected_path.empty()) return usage();
  const double tol = std::atof(a.get("tolerance", "1e-4").c_str());
  shape_t sa, sb;
  auto x = float_values(actual, sa);
  if (!x.ok()) return fail(x.what());
  auto y = float_values(expected_path, sb);
  if (!y.ok()) return fail(y.what());
  if (sa != sb) return fail("shapes differ: " + actual + " " + sa.str() + ", " + expected_path + " " + sb.str());
  double worst = 0, excess = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < x->size(); ++i) {
    const double d = std::fabs((*x)[i] - (*y)[i]);
    const double e = std::isnan(d) ? INFINITY : d / (1 + std::fabs((*y)[i]));
    if (e > excess) excess = e, worst = d, at = i;
  }
  std::printf("max abs difference %.3g (element %zu of %zu)\n", worst, at, x->size());
  if (excess > tol) return fail("outside the tolerance " + std::to_string(tol));
  return 0;
}

}  // namespace

// The model as a C++ header (tessera/onnx/compiled.hpp): tables, weights, only its ops.
int compile(const args& a) {
  const std::string path = a.get("model"), name = a.get("name");
  if (path.empty() || name.empty()) return usage();
  onnx::compiled::compile_options o;
  const std::size_t slash = path.find_last_of('/');
  o.external_data_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  for (const std::string& spec : a.all("shape")) {
    const std::size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return fail("--shape '" + spec + "': want INPUT=D0,D1,...");
    std::vector<std::int64_t> dims;
    for (std::size_t pos = eq + 1; pos <= spec.size();) {
      const std::size_t comma = std::min(spec.find(',', pos), spec.size());
      const std::string d = spec.substr(pos, comma - pos);
      char* end = nullptr;
      const long long v = std::strtoll(d.c_str(), &end, 10);
      if (d.empty() || *end != '\0' || v < 0) return fail("--shape '" + spec + "': '" + d + "' is not a dim");
      dims.push_back(v);
      pos = comma + 1;
    }
    o.input_shapes.emplace_back(spec.substr(0, eq), std::move(dims));
  }
  auto bytes = io::read_file_bytes(path);
  if (!bytes.ok()) return fail(bytes.what());
  std::string header;
  if (const status s = onnx::compiled::write_compiled_header(header, *bytes, name, o); !s.ok()) return fail(path + ": " + s.what());
  const std::string out = a.get("out");
  if (out.empty()) {
    std::fwrite(header.data(), 1, header.size(), stdout);
    return 0;
  }
  std::FILE* f = std::fopen(out.c_str(), "wb");
  const bool written = f && std::fwrite(header.data(), 1, header.size(), f) == header.size();
  if (f && std::fclose(f) != 0) return fail("cannot write '" + out + "'");
  return written ? 0 : fail("cannot write '" + out + "'");
}

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  args a;
  std::string err;
  if (!tessera_cli::parse(argc, argv, 2, {}, {}, a, err)) {
    std::fprintf(stderr, "tessera-onnx: %s\n", err.c_str());
    return usage();
  }
  return tessera_cli::guarded_main("tessera-onnx", [&] {
    if (cmd == "run") return run(a);
    if (cmd == "info") return info(a);
    if (cmd == "compare") return compare(a);
    if (cmd == "compile") return compile(a);
    return usage();
  });
}
