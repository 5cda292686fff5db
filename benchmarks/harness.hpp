// tessera's own benchmark harness: runs natively and as WASM alike (Google Benchmark has no
// WASM build here). Times a callable over repetitions, reports the median, and prints either
// a human table or, with --json, one JSON object per line:
//   {"bench":..., "case":..., "threads":N, "target":"native"|"wasm", "unit":...,
//    "tessera":x, "peer":..., "peer_value":y, "ratio":r}
// where ratio is tessera over peer with "higher is better" already applied.
#pragma once

#include <tessera/simd/simd.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#if defined(__linux__)
#include <unistd.h>
#endif

namespace tessera::bench {

inline const char* target_name() {
#if defined(__EMSCRIPTEN__)
  return "wasm";
#else
  return "native";
#endif
}

// What produced a record: the CPU (from /proc/cpuinfo; also readable under Node with
// NODERAWFS) and the instruction set the binary was built for (the xsimd architecture, or
// SIMD128 for WASM, whose xsimd path is sse4.2 through Emscripten's SSE headers).
inline std::string cpu_model() {
  std::string model = "unknown";
  if (std::FILE* f = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
      const char* colon = std::strchr(line, ':');
      if (!colon || std::strncmp(line, "model name", 10) != 0) continue;
      model = colon + 1;
      while (!model.empty() && (model.front() == ' ' || model.front() == '\t')) model.erase(0, 1);
      while (!model.empty() && (model.back() == '\n' || model.back() == ' ')) model.pop_back();
      break;
    }
    std::fclose(f);
  }
  return model;
}
inline std::string isa_name() {
#if defined(__EMSCRIPTEN__)
  return std::string("simd128 (xsimd ") + simd::arch_name() + ")";
#else
  return simd::arch_name();
#endif
}

struct options {
  bool json = false;
  bool quick = false;    // tiny sizes, few repetitions: a smoke test
  int threads = 1;
  int repetitions = 7;
  double min_seconds = 0.2;  // each repetition runs the callable until this much time passed
  std::vector<std::string> rest;  // arguments the harness does not know (bench-specific)
};

inline options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") o.json = true;
    else if (a == "--quick") { o.quick = true; o.repetitions = 2; o.min_seconds = 0.0; }
    else if (a == "--threads" && i + 1 < argc) o.threads = std::max(1, std::atoi(argv[++i]));
    else if (a == "--reps" && i + 1 < argc) o.repetitions = std::max(1, std::atoi(argv[++i]));
    else if (a == "--min-seconds" && i + 1 < argc) o.min_seconds = std::atof(argv[++i]);
    else o.rest.push_back(a);
  }
  return o;
}

// The process's resident memory now, and the most it has had, in bytes (0 where the system
// does not say: outside Linux, and in WASM). A memory record runs one model per process and
// reports peak minus the resident size before loading: what the model and its runs took.
inline std::uint64_t resident_bytes() {
#if defined(__linux__) && !defined(__EMSCRIPTEN__)
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0, resident = 0;
  if (statm >> pages >> resident) return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
#endif
  return 0;
}
// VmHWM, the high-water mark of this address space: getrusage's ru_maxrss would also count the
// parent's resident size at the fork before exec (a Python driver's 130 MB).
inline std::uint64_t peak_resident_bytes() {
#if defined(__linux__) && !defined(__EMSCRIPTEN__)
  std::ifstream status("/proc/self/status");
  std::string key;
  std::uint64_t kib = 0;
  while (status >> key) {
    if (key == "VmHWM:" && status >> kib) return kib * 1024;
    status.ignore(1 << 20, '\n');
  }
#endif
  return 0;
}

inline double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Median seconds per call of fn() over opts.repetitions repetitions. Each repetition calls fn
// in a loop until opts.min_seconds passed (at least once), so short calls are timed in bulk.
template <class F>
double time_median(const options& opts, F&& fn) {
  fn();  // warm-up: caches, page faults, lazy packing, JIT tier-up
  std::vector<double> per_call;
  per_call.reserve(static_cast<size_t>(opts.repetitions));
  for (int r = 0; r < opts.repetitions; ++r) {
    const double t0 = now_seconds();
    long calls = 0;
    double t1 = t0;
    do {
      fn();
      ++calls;
      t1 = now_seconds();
    } while (t1 - t0 < opts.min_seconds);
    per_call.push_back((t1 - t0) / static_cast<double>(calls));
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

// Median seconds per call of each of several callables, timed in interleaved repetitions
// (rep 1 of every callable, then rep 2, ...), so that a machine whose speed drifts between
// runs affects all of them alike and their ratio (e.g. 2 threads over 1) stays meaningful.
// `clock` returns seconds (the steady clock by default; a thread CPU clock also fits).
template <class F>
std::vector<double> time_medians_interleaved(const options& opts, std::vector<F>& fns,
                                             double (*clock)() = now_seconds) {
  for (auto& fn : fns) fn();  // warm-up
  std::vector<std::vector<double>> per_call(fns.size());
  for (int r = 0; r < opts.repetitions; ++r) {
    for (std::size_t i = 0; i < fns.size(); ++i) {
      const double t0 = clock();
      long calls = 0;
      double t1 = t0;
      do {
        fns[i]();
        ++calls;
        t1 = clock();
      } while (t1 - t0 < opts.min_seconds);
      per_call[i].push_back((t1 - t0) / static_cast<double>(calls));
    }
  }
  std::vector<double> medians;
  for (auto& v : per_call) {
    std::sort(v.begin(), v.end());
    medians.push_back(v[v.size() / 2]);
  }
  return medians;
}

struct record {
  std::string bench;       // e.g. "gemm"
  std::string case_name;   // e.g. "1024x1024x1024"
  int threads = 1;
  std::string unit;        // e.g. "GFLOP/s", "rows/s", "us"
  double tessera = 0;
  std::string peer;        // e.g. "eigen", "peak", "xgboost"; empty when there is none
  double peer_value = 0;
  bool lower_is_better = false;  // for times: ratio is peer/tessera so higher stays better
  std::string note;        // free text, e.g. node flags
};

inline double ratio_of(const record& r) {
  if (r.peer.empty() || r.peer_value == 0 || r.tessera == 0) return 0;
  return r.lower_is_better ? r.peer_value / r.tessera : r.tessera / r.peer_value;
}

inline std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (static_cast<unsigned char>(c) < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
    else out += c;
  }
  return out;
}

inline void emit(const options& opts, const record& r) {
  const double ratio = ratio_of(r);
  static const std::string cpu = cpu_model(), isa = isa_name();
  if (opts.json) {
    std::printf("{\"bench\":\"%s\",\"case\":\"%s\",\"threads\":%d,\"target\":\"%s\",\"unit\":\"%s\","
                "\"tessera\":%.6g,\"peer\":\"%s\",\"peer_value\":%.6g,\"ratio\":%.4f,\"cpu\":\"%s\",\"isa\":\"%s\"",
                json_escape(r.bench).c_str(), json_escape(r.case_name).c_str(), r.threads, target_name(),
                json_escape(r.unit).c_str(), r.tessera, json_escape(r.peer).c_str(), r.peer_value, ratio,
                json_escape(cpu).c_str(), json_escape(isa).c_str());
    if (!r.note.empty()) std::printf(",\"note\":\"%s\"", json_escape(r.note).c_str());
    std::printf("}\n");
  } else {
    static bool header = false;
    if (!header) std::printf("cpu: %s, isa: %s\n", cpu.c_str(), isa.c_str());
    header = true;
    std::printf("%-10s %-28s t=%d %-6s %12.4g %-8s", r.bench.c_str(), r.case_name.c_str(), r.threads,
                target_name(), r.tessera, r.unit.c_str());
    if (!r.peer.empty()) std::printf("  %-10s %12.4g  ratio %.3f", r.peer.c_str(), r.peer_value, ratio);
    if (!r.note.empty()) std::printf("  (%s)", r.note.c_str());
    std::printf("\n");
  }
  std::fflush(stdout);
}

// Keeps the optimizer from deleting a computation whose result is otherwise unused.
template <class T>
inline void do_not_optimize(const T& value) {
#if defined(__GNUC__) || defined(__clang__)
  asm volatile("" : : "r,m"(value) : "memory");
#else
  static volatile const T* sink;
  sink = &value;
#endif
}

struct peer_entry {
  double value = 0;
  std::string note;
};
// Key: peer|case|threads.
using peer_map = std::map<std::string, peer_entry>;

// Minimal reader for the flat JSON-lines records of the peer scripts (benchmarks/*/peer_*):
// string and number values of one object per line.
inline std::map<std::string, std::string> parse_flat_json(const std::string& line) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  auto skip = [&] { while (i < line.size() && (line[i] == ' ' || line[i] == ',' || line[i] == '{' || line[i] == '}')) ++i; };
  auto read_string = [&]() {
    std::string s;
    ++i;  // opening quote
    while (i < line.size() && line[i] != '"') {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      s += line[i++];
    }
    ++i;
    return s;
  };
  while (true) {
    skip();
    if (i >= line.size() || line[i] != '"') break;
    const std::string key = read_string();
    while (i < line.size() && (line[i] == ' ' || line[i] == ':')) ++i;
    if (i >= line.size()) break;
    if (line[i] == '"') {
      out[key] = read_string();
    } else {
      const std::size_t b = i;
      while (i < line.size() && line[i] != ',' && line[i] != '}') ++i;
      out[key] = line.substr(b, i - b);
    }
  }
  return out;
}

// The peers' numbers by peer|case|threads. A harness record (bench_* --json of another target)
// counts as the peer "tessera-<target>" with its `value_key` field as the value.
inline peer_map read_peers(const std::string& path, const std::string& value_key) {
  peer_map peers;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto kv = parse_flat_json(line);
    if (kv.count("bench")) {  // a harness record (of the native run): tessera is the peer
      kv["peer"] = std::string("tessera-") + kv["target"];
      kv["value"] = kv[value_key];
      kv["note"] = "";
    }
    if (!kv.count("peer") || !kv.count("case") || !kv.count("value")) continue;
    peers[kv["peer"] + "|" + kv["case"] + "|" + kv["threads"]] = {std::atof(kv["value"].c_str()), kv["note"]};
  }
  return peers;
}

}  // namespace tessera::bench
