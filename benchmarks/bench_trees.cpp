// Gradient-boosted trees: tessera's batched predictor and its single-row latency.
//
//   bench_trees [--quick] [--json] [--threads N]          random forest (no files, no peers)
//   bench_trees --model M.json --data rows.f32 --rows N [--check prob.f32] [--peers peers.jsonl]
//               [--native native.jsonl]
//
// The full run (benchmarks/trees/run.py, one command) trains the benchmark forest with
// XGBoost (500 trees, depth 8, 28 features, binary:logistic), times the peers (XGBoost
// inplace_predict, onnxruntime-node, onnxruntime-web under node --no-liftoff) and passes
// their numbers in --peers (JSON lines {"peer","case","threads","unit","value"}), so every
// record printed here carries its ratio. --native passes the native records to the WASM
// run, which then also reports WASM over native.
#include <harness.hpp>
#include <peak.hpp>

#include <tessera/trees.hpp>
#include <tessera/runtime/thread_pool.hpp>
#include <tessera/trees/predict.hpp>
#include <tessera/trees/predict_ref.hpp>

#include "../tests/trees/random_forest.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace tessera;
using bench::peer_entry;
using bench::peer_map;
using bench::read_peers;

bool read_floats(const std::string& path, std::vector<float>& out, std::size_t n) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) return false;
  out.resize(n);
  const std::size_t got = std::fread(out.data(), sizeof(float), n, fp);
  std::fclose(fp);
  return got == n;
}

std::string arg_value(const std::vector<std::string>& rest, const std::string& key, const std::string& dflt = "") {
  for (std::size_t i = 0; i + 1 < rest.size(); ++i)
    if (rest[i] == key) return rest[i + 1];
  return dflt;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv);
  const std::string model_path = arg_value(opts.rest, "--model");
  const std::string data_path = arg_value(opts.rest, "--data");
  const std::string check_path = arg_value(opts.rest, "--check");
  const peer_map peers = read_peers(arg_value(opts.rest, "--peers"), "value");
  const peer_map native = read_peers(arg_value(opts.rest, "--native"), "tessera");
  bool threads_given = false;
  for (int i = 1; i < argc; ++i) threads_given |= std::string(argv[i]) == "--threads";

  trees::forest f;
  std::vector<float> rows;
  std::size_t n_rows = 0;
  std::string name;
  if (!model_path.empty()) {
    auto loaded = trees::load_forest(model_path);
    if (!loaded) {
      std::fprintf(stderr, "bench_trees: %s: %s\n", model_path.c_str(), loaded.what().c_str());
      return 1;
    }
    f = std::move(loaded).value();
    n_rows = static_cast<std::size_t>(std::atoll(arg_value(opts.rest, "--rows", "100000").c_str()));
    if (opts.quick) n_rows = std::min<std::size_t>(n_rows, 1000);
    if (!read_floats(data_path, rows, n_rows * static_cast<std::size_t>(f.num_features))) {
      std::fprintf(stderr, "bench_trees: cannot read %zu rows from '%s'\n", n_rows, data_path.c_str());
      return 1;
    }
    name = "xgb" + std::to_string(f.num_trees()) + "t_d8_" + std::to_string(f.num_features) + "f";
  } else {
    // No model given: a random forest of the benchmark's shape (smaller with --quick).
    std::mt19937 rng(7);
    trees::testing::random_forest_options ro;
    ro.num_trees = opts.quick ? 50 : 500;
    ro.max_depth = 8;
    ro.num_features = 28;
    ro.leaf_probability = 0.05;
    ro.transform = trees::output_transform::sigmoid;
    f = trees::testing::random_forest(rng, ro);
    n_rows = opts.quick ? 2000 : 100000;
    rows = trees::testing::random_rows(rng, n_rows, ro.num_features, 0.01);
    name = "random" + std::to_string(ro.num_trees) + "t_d8_28f";
  }
  const std::size_t nf = static_cast<std::size_t>(f.num_features);

  auto compiled = trees::compile(f);
  if (!compiled) {
    std::fprintf(stderr, "bench_trees: compile: %s\n", compiled.what().c_str());
    return 1;
  }
  const trees::predictor& p = *compiled;
  std::vector<float> out(n_rows * static_cast<std::size_t>(p.num_transformed_outputs()));

  // Exactness guard: the fast predictor must equal the reference interpreter (and XGBoost).
  {
    const std::size_t n_check = std::min<std::size_t>(n_rows, opts.quick ? 200 : 2000);
    std::vector<double> fast(n_check), ref(n_check);
    if (!p.predict(std::span<double>(fast), std::span<const float>(rows.data(), n_check * nf), nf).ok() ||
        !trees::ref::predict_rows(std::span<double>(ref), f, std::span<const float>(rows.data(), n_check * nf), n_check)
             .ok()) {
      std::fprintf(stderr, "bench_trees: prediction failed\n");
      return 1;
    }
    for (std::size_t i = 0; i < n_check; ++i)
      if (fast[i] != ref[i]) {
        std::fprintf(stderr, "bench_trees: row %zu: fast %.9g != reference %.9g\n", i, fast[i], ref[i]);
        return 1;
      }
    std::vector<float> xgb;
    if (!check_path.empty() && read_floats(check_path, xgb, n_rows)) {
      double worst = 0;
      for (std::size_t i = 0; i < n_check; ++i) worst = std::max(worst, std::fabs(fast[i] - static_cast<double>(xgb[i])));
      if (worst > 1e-6) {
        std::fprintf(stderr, "bench_trees: differs from XGBoost's predictions by %g\n", worst);
        return 1;
      }
    }
  }

  auto peer = [&](const peer_map& m, const std::string& who, const std::string& c, int threads) -> const peer_entry* {
    auto it = m.find(who + "|" + c + "|" + std::to_string(threads));
    return it == m.end() ? nullptr : &it->second;
  };
  const std::string flags = std::string(bench::target_name()) == "wasm" ? "node --no-liftoff (run by run.py)" : "";

  std::vector<int> thread_counts{opts.threads};
  if (!threads_given && !TESSERA_WASM) thread_counts = {1, 2};
  double rows_per_s_1t = 0;
  // All thread counts are timed in interleaved repetitions so their ratio survives drift.
  std::vector<std::unique_ptr<runtime::thread_pool>> pools;
  std::vector<std::function<void()>> runs;
  for (int threads : thread_counts) {
    pools.push_back(std::make_unique<runtime::thread_pool>(static_cast<std::size_t>(threads)));
    runtime::thread_pool* pool = pools.back().get();
    runs.push_back([&, pool] {
      (void)p.predict(std::span<float>(out), std::span<const float>(rows), nf, pool);
      bench::do_not_optimize(out[0]);
    });
  }
  // With several thread counts, the peak loop runs at each of them in the same repetitions:
  // the speed-up this machine gives any code right now, printed beside the predictor's.
  const long peak_iters = opts.quick ? 2000 : 2000000;
  if (thread_counts.size() > 1)
    for (std::size_t ti = 0; ti < thread_counts.size(); ++ti)
      runs.push_back([&, ti] { bench::peak_on_threads(*pools[ti], static_cast<std::size_t>(thread_counts[ti]), peak_iters); });
  const std::vector<double> seconds = bench::time_medians_interleaved(opts, runs);
  auto peak_speed = [&](std::size_t ti) {
    return bench::peak_loop_flops(peak_iters) * thread_counts[ti] / seconds[thread_counts.size() + ti];
  };
  for (std::size_t ti = 0; ti < thread_counts.size(); ++ti) {
    const int threads = thread_counts[ti];
    const double rps = static_cast<double>(n_rows) / seconds[ti];
    if (threads == 1) rows_per_s_1t = rps;
    bench::record r;
    r.bench = "trees";
    r.case_name = name + "/batch" + std::to_string(n_rows);
    r.threads = threads;
    r.unit = "rows/s";
    r.tessera = rps;
    const std::string ns = fmt("%.0f ns/row", 1e9 / rps);
    // The main peer: XGBoost natively, onnxruntime-web for WASM.
    const std::string main_peer = TESSERA_WASM ? "onnxruntime-web" : "xgboost";
    if (const peer_entry* e = peer(peers, main_peer, "batch", threads)) {
      r.peer = main_peer;
      r.peer_value = e->value;
      r.note = ns + "; " + e->note;
    } else {
      r.note = ns;
    }
    bench::emit(opts, r);
    if (!TESSERA_WASM) {
      if (const peer_entry* e = peer(peers, "onnxruntime-node", "batch", threads)) {
        r.peer = "onnxruntime-node";
        r.peer_value = e->value;
        r.note = ns + "; " + e->note;
        bench::emit(opts, r);
      }
      if (threads > 1 && rows_per_s_1t > 0) {
        r.peer = "tessera-1-thread";
        r.peer_value = rows_per_s_1t;
        r.note = ns + "; scaling over 1 thread; the peak loop's is " + fmt("%.2f", peak_speed(ti) / peak_speed(0)) +
                 " in the same run";
        bench::emit(opts, r);
      }
    } else if (const peer_entry* e = peer(native, "tessera-native", r.case_name, 1)) {
      r.peer = "tessera-native";
      r.peer_value = e->value;
      r.note = ns + "; WASM over native";
      bench::emit(opts, r);
    }
  }

  // Single-row latency: one call per row, rotating through the first rows.
  {
    std::size_t next = 0;
    const std::size_t ko = static_cast<std::size_t>(p.num_transformed_outputs());
    const double sec = bench::time_median(opts, [&] {
      (void)p.predict(std::span<float>(out.data(), ko), std::span<const float>(rows.data() + next * nf, nf), nf);
      next = (next + 1) % std::min<std::size_t>(n_rows, 1024);
      bench::do_not_optimize(out[0]);
    });
    bench::record r;
    r.bench = "trees";
    r.case_name = name + "/single_row";
    r.threads = 1;
    r.unit = "ns";
    r.lower_is_better = true;
    r.tessera = sec * 1e9;
    std::vector<std::string> who = TESSERA_WASM ? std::vector<std::string>{"onnxruntime-web"}
                                                : std::vector<std::string>{"xgboost", "onnxruntime-node"};
    bool any = false;
    for (const std::string& w : who)
      if (const peer_entry* e = peer(peers, w, "single_row", 1)) {
        r.peer = w;
        r.peer_value = e->value;
        r.note = e->note;
        bench::emit(opts, r);
        any = true;
      }
    if (TESSERA_WASM)
      if (const peer_entry* e = peer(native, "tessera-native", r.case_name, 1)) {
        r.peer = "tessera-native";
        r.peer_value = e->value;
        r.note = "WASM over native";
        bench::emit(opts, r);
        any = true;
      }
    if (!any) {
      r.peer.clear();
      r.note = flags;
      bench::emit(opts, r);
    }
  }
  return 0;
}
