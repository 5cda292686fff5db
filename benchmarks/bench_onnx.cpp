// ONNX models through tessera's session against onnxruntime on the same files and inputs.
//   bench_onnx [--quick] [--json] [--threads N] [--batch B] [--peers peers.jsonl]
//              [--model M.onnx --case NAME]... [--memory]
// Without --model: the repo's digits CNN and YOLOv8-tiny, and the face detectors of
// ../shared/models/face-detector when present. Inputs are the deterministic pattern below
// (benchmarks/onnx/peer_ort.mjs feeds the peers the same one); symbolic dims take --batch.
// Two records per case: the steady-state median time of one inference, and the first
// inference after load (load, plan and the first run: what a page waits for). With --memory
// (natively, one --model per process) one record instead: the peak resident memory that
// loading the model and running it took, over the process's resident size before the load.
// The peers' times come from benchmarks/onnx/run.py (onnxruntime-node natively,
// onnxruntime-web under node for WASM) as JSON lines {"peer","case","threads","unit","value"}.
#include "harness.hpp"

#include <tessera/onnx.hpp>
#include <tessera/runtime/thread_pool.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace tessera;

struct bench_case {
  std::string name, path;
};

// The input pattern both sides use: values in [-0.5, 0.5) without structure a model could
// shortcut (the peer script computes the same with Math.imul).
void fill_pattern(std::vector<float>& x) {
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(static_cast<std::uint32_t>(static_cast<std::uint32_t>(i) * 2654435761u) % 1024u) / 1024.0f - 0.5f;
}

// A loaded model with its fed inputs, ready to run.
struct prepared {
  std::shared_ptr<const onnx::model> model;
  std::vector<std::vector<float>> data;  // sized once: the feeds point into it
  std::vector<onnx::named_input> feeds;
};

expected<prepared> prepare(const std::string& path, index_t batch) {
  prepared p;
  TESSERA_ASSIGN_OR_RETURN(p.model, onnx::model::load(path));
  const auto& inputs = p.model->inputs();
  p.data.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const onnx::io_info& io = inputs[i];
    if (io.type != nn::elem_type::f32 || !io.has_shape)
      return make_error(errc::unsupported, "input '" + io.name + "' is not a float32 tensor of known rank");
    shape_t s;
    for (std::int64_t d : io.dims) s.push_back(d >= 0 ? d : batch);
    p.data[i].resize(static_cast<std::size_t>(numel(s)));
    fill_pattern(p.data[i]);
    p.feeds.push_back({io.name, nn::any_view(p.data[i].data(), nn::elem_type::f32, s)});
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv);
  std::vector<bench_case> cases;
  std::string peers_path;
  index_t batch = 1;
  bool memory = false;
  const std::uint64_t resident_at_start = bench::resident_bytes();
  for (std::size_t i = 0; i < opts.rest.size(); ++i) {
    const std::string& a = opts.rest[i];
    const bool has_value = i + 1 < opts.rest.size();
    if (a == "--model" && has_value) cases.push_back({"", opts.rest[++i]});
    else if (a == "--case" && has_value && !cases.empty()) cases.back().name = opts.rest[++i];
    else if (a == "--peers" && has_value) peers_path = opts.rest[++i];
    else if (a == "--batch" && has_value) batch = std::max<index_t>(1, std::atoll(opts.rest[++i].c_str()));
    else if (a == "--memory") memory = true;
    else {
      std::fprintf(stderr, "bench_onnx: unexpected argument '%s'\n", a.c_str());
      return 2;
    }
  }
  if (cases.empty()) {
    const std::string src = TESSERA_SOURCE_DIR;
    cases = {{"digits_cnn", src + "/examples/models/digits_cnn.onnx"},
             {"yolov8_tiny", src + "/tests/models/yolov8_tiny/model.onnx"}};
    if (!opts.quick) {
      for (const char* m : {"version-slim-320", "version-RFB-320"}) {
        const std::string path = src + "/../shared/models/face-detector/" + m + ".onnx";
        if (std::ifstream(path).good()) cases.push_back({std::string("ultraface_") + m, path});
      }
    }
  }
  for (bench_case& c : cases)
    if (c.name.empty()) c.name = c.path.substr(c.path.find_last_of('/') + 1);
  if (memory && (cases.size() != 1 || resident_at_start == 0)) {
    std::fprintf(stderr, "bench_onnx: --memory measures one --model per process, natively on Linux\n");
    return 2;
  }

  const bench::peer_map peers = bench::read_peers(peers_path, "tessera");  // none without --peers
  const std::string main_peer = std::string(bench::target_name()) == "wasm" ? "onnxruntime-web" : "onnxruntime-node";
  runtime::thread_pool pool(static_cast<std::size_t>(opts.threads));
  onnx::session_options so;
  so.pool = &pool;
  const std::string case_suffix = batch > 1 ? "_b" + std::to_string(batch) : "";
  // One record, with the peer's value for the same case when there is one.
  const auto emit = [&](const std::string& case_name, const char* unit, double value) {
    bench::record r;
    r.bench = "onnx";
    r.case_name = case_name;
    r.threads = opts.threads;
    r.unit = unit;
    r.tessera = value;
    r.lower_is_better = true;
    if (auto it = peers.find(main_peer + "|" + r.case_name + "|" + std::to_string(opts.threads)); it != peers.end()) {
      r.peer = main_peer;
      r.peer_value = it->second.value;
      r.note = it->second.note;
    }
    bench::emit(opts, r);
  };

  for (const bench_case& c : cases) {
    // First inference: load, plan, run once.
    const double t0 = bench::now_seconds();
    auto p = prepare(c.path, batch);
    if (!p) {
      std::fprintf(stderr, "bench_onnx: %s: %s\n", c.path.c_str(), p.what().c_str());
      return 1;
    }
    auto s = onnx::session::create(p->model, so);
    if (!s) {
      std::fprintf(stderr, "bench_onnx: %s: %s\n", c.path.c_str(), s.what().c_str());
      return 1;
    }
    if (const status st = s->run(p->feeds); !st.ok()) {
      std::fprintf(stderr, "bench_onnx: %s: %s\n", c.path.c_str(), st.what().c_str());
      return 1;
    }
    const double first_ms = (bench::now_seconds() - t0) * 1e3;

    bool failed = false;
    if (memory) {
      for (int rep = 0; rep < 3 && !failed; ++rep) failed = !s->run(p->feeds).ok();
      const std::uint64_t peak = bench::peak_resident_bytes();
      emit(c.name + case_suffix + "_peak_mb", "MB", static_cast<double>(peak - std::min(peak, resident_at_start)) / 1e6);
      return failed ? 1 : 0;
    }
    const double ms = 1e3 * bench::time_median(opts, [&] {
      if (!s->run(p->feeds).ok()) failed = true;
      bench::do_not_optimize(s->output(0).data);
    });
    if (failed) {
      std::fprintf(stderr, "bench_onnx: %s: a timed run failed\n", c.path.c_str());
      return 1;
    }

    emit(c.name + case_suffix, "ms", ms);
    emit(c.name + case_suffix + "_first", "ms", first_ms);
  }
  return 0;
}
