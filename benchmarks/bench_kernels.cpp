// Kernel benchmarks: f32 GEMM and GEMV against Eigen 3.4 (same row-major inputs, Eigen::Map,
// noalias(), single-threaded) and against this machine's measured SIMD peak.
//
//   bench_kernels [--quick] [--json] [--threads N] [--reps N] [--min-seconds S] [--clock=cpu]
//
// Records (bench = "gemm"):
//   case "peak ..."  unit GFLOP/s, no peer: the single-core peak, best of 9 runs of a loop of 12
//                    independent accumulator chains (native: FMA on the widest xsimd batch;
//                    WASM: f32x4 mul + add with raw SIMD128, there is no FMA in baseline wasm).
//   per GEMM case    one record with peer "eigen" (ratio = tessera / Eigen) and one with peer
//                    "peak" (peer_value = peak x threads, ratio = fraction of peak reached),
//                    where that peak is the same loop timed in the case's own interleaved
//                    repetitions (median against median, same machine conditions).
//   "1024x1024x1024" also at 2 threads (natively): "... scaling" with peer "tessera t=1"
//                    (ratio = speed-up) and "peak fma, 2 threads at once" with peer "peak t=1"
//                    (the speed-up the machine gives the peak loop), timed interleaved.
// Under WASM Eigen is built with EIGEN_DONT_VECTORIZE (its SSE path does not compile under
// em++), so the WASM Eigen column is scalar code; the note of each record says so, and which
// node flags ran the module (time WASM under `node --no-liftoff`). The note of each GEMM and
// GEMV record names the registered micro-kernel that ran (kernels/op_list.def).
#include "harness.hpp"
#include "peak.hpp"

#include <functional>

#if defined(__EMSCRIPTEN__) && !defined(EIGEN_DONT_VECTORIZE)
#define EIGEN_DONT_VECTORIZE
#endif
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE
#endif
#include <Eigen/Core>

#include <tessera/kernels/gemm.hpp>
#include <tessera/kernels/gemv.hpp>
#include <tessera/simd/simd.hpp>

#if __has_include("kernels/conv_bench.hpp")
#include "kernels/conv_bench.hpp"
#define TESSERA_BENCH_HAVE_CONV 1
#endif

#if defined(__EMSCRIPTEN__)
#include <emscripten.h>
#include <wasm_simd128.h>
#endif

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace tessera;
using bench::options;
using bench::record;

// The registered micro-kernel (kernels/op_list.def) that runs in `role`, and how node ran.
std::string run_note(kernels::registry::gemm_role role) {
  std::string note = "kernel " + std::string(kernels::gemm_f32_kernel_name(role));
#if defined(__EMSCRIPTEN__)
  const int no_liftoff = EM_ASM_INT({
    return (typeof process !== 'undefined' && process.execArgv && process.execArgv.indexOf('--no-liftoff') >= 0) ? 1 : 0;
  });
  note += no_liftoff ? "; node --no-liftoff" : "; node (Liftoff on: slow, use --no-liftoff)";
  note += "; Eigen scalar (EIGEN_DONT_VECTORIZE)";
#endif
  return note;
}

// Which clock times a call. "wall" (default) is the harness's steady clock. "cpu" is the CPU
// time of the calling thread: on a machine shared with other jobs it leaves out the time this
// process was descheduled (cache and memory sharing still count), so single-thread numbers stay
// comparable. Multi-threaded cases always use the wall clock.
bool g_cpu_clock = false;

double clock_seconds(int threads) {
#if defined(CLOCK_THREAD_CPUTIME_ID) && !defined(__EMSCRIPTEN__)
  if (g_cpu_clock && threads == 1) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
#endif
  (void)threads;
  return bench::now_seconds();
}

// Single-core peak in GFLOP/s, best of several runs: a shared machine only ever makes a run
// slower.
double measure_peak(const options& opts) {
  const long iters = opts.quick ? 20000 : 4000000;
  double best = 1e30;
  for (int rep = 0; rep < (opts.quick ? 2 : 9); ++rep) {
    const double t0 = clock_seconds(1);
    bench::peak_loop(iters);
    best = std::min(best, clock_seconds(1) - t0);
  }
  return bench::peak_loop_flops(iters) / best * 1e-9;
}


std::vector<float> random_vec(std::size_t n, std::mt19937& g) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g);
  return v;
}

// The harness's protocol (warm-up, repetitions of at least min_seconds, median) on the chosen
// clock, with fewer repetitions for calls that take long on their own (2048^3 with scalar Eigen
// in WASM).
template <class F>
double time_call(const options& opts, F&& fn, int threads = 1) {
  options o = opts;
  double t0 = clock_seconds(threads);
  fn();
  const double once = clock_seconds(threads) - t0;
  if (once > 0.25) {
    o.repetitions = std::min(o.repetitions, 3);
    o.min_seconds = 0;
  }
  std::vector<double> per_call;
  for (int r = 0; r < o.repetitions; ++r) {
    t0 = clock_seconds(threads);
    long calls = 0;
    double t1 = t0;
    do {
      fn();
      ++calls;
      t1 = clock_seconds(threads);
    } while (t1 - t0 < o.min_seconds);
    per_call.push_back((t1 - t0) / double(calls));
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct gemm_shape {
  std::size_t M, N, K;
  std::string label;
};

// `peak` is per thread.
void emit_pair(const options& opts, const std::string& name, int threads, double gflops, double eigen_gflops,
               double peak, const std::string& note) {
  record r;
  r.bench = "gemm";
  r.case_name = name;
  r.threads = threads;
  r.unit = "GFLOP/s";
  r.tessera = gflops;
  r.peer = "eigen";
  r.peer_value = eigen_gflops;
  r.note = note;
  bench::emit(opts, r);
  r.peer = "peak";
  r.peer_value = peak * threads;
  bench::emit(opts, r);
}

double clock_one_thread() { return clock_seconds(1); }

// C = A B on M x K and K x N row-major, tessera with `threads` threads vs single-threaded Eigen.
// The peak loop is timed in the same interleaved repetitions as tessera's GEMM, so the fraction
// of peak compares two medians taken under the same machine conditions (this VM's speed drifts
// by up to 40% between runs, which a peak measured once, at the start, would fold into the ratio).
double run_gemm(const options& opts, const gemm_shape& s, int threads, const std::string& note,
                double* eigen_out = nullptr) {
  std::mt19937 g(1);
  const auto A = random_vec(s.M * s.K, g), B = random_vec(s.K * s.N, g);
  std::vector<float> C(s.M * s.N), E(s.M * s.N);
  runtime::thread_pool pool(static_cast<std::size_t>(threads));
  const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);
  const long peak_iters = opts.quick ? 2000 : 100000;
  std::vector<std::function<void()>> fns = {
      [&] {
        auto st = kernels::gemm_f32(s.M, s.N, s.K, 1.0f, A.data(), std::ptrdiff_t(s.K), kernels::transpose::no, B.data(),
                                    std::ptrdiff_t(s.N), kernels::transpose::no, 0.0f, C.data(), std::ptrdiff_t(s.N), {},
                                    &pool);
        bench::do_not_optimize(st);
        bench::do_not_optimize(C[0]);
      },
      [&] { bench::peak_on_threads(pool, std::size_t(threads), peak_iters); },
  };
  const auto med = bench::time_medians_interleaved(opts, fns, threads == 1 ? clock_one_thread : bench::now_seconds);
  const double t = med[0];
  const double peak = bench::peak_loop_flops(peak_iters) / med[1] * 1e-9;  // per thread
  double te = 0;
  if (eigen_out && *eigen_out > 0) {
    te = flops / (*eigen_out * 1e9);
  } else {
    Eigen::Map<const RowMat> a(A.data(), Eigen::Index(s.M), Eigen::Index(s.K));
    Eigen::Map<const RowMat> b(B.data(), Eigen::Index(s.K), Eigen::Index(s.N));
    Eigen::Map<RowMat> e(E.data(), Eigen::Index(s.M), Eigen::Index(s.N));
    te = time_call(opts, [&] {
      e.noalias() = a * b;
      bench::do_not_optimize(E[0]);
    });
    if (eigen_out) *eigen_out = flops / te * 1e-9;
    // A benchmark that does not compute the right thing measures nothing.
    double max_diff = 0;
    for (std::size_t i = 0; i < C.size(); ++i) max_diff = std::max(max_diff, double(std::abs(C[i] - E[i])));
    if (max_diff > 1e-3 * double(s.K)) std::fprintf(stderr, "bench_kernels: %s differs from Eigen by %g\n", s.label.c_str(), max_diff);
  }
  emit_pair(opts, s.label, threads, flops / t * 1e-9, flops / te * 1e-9, peak, note);
  return flops / t * 1e-9;
}

// y = W x with W row-major N x K (LLM decoding), vs Eigen's matrix-vector product.
void run_gemv(const options& opts, std::size_t N, std::size_t K, int threads, double peak, const std::string& note) {
  std::mt19937 g(2);
  const auto Wm = random_vec(N * K, g), x = random_vec(K, g);
  std::vector<float> y(N), ye(N);
  runtime::thread_pool pool(static_cast<std::size_t>(threads));
  const double flops = 2.0 * double(N) * double(K);
  const double t = time_call(opts, [&] {
    auto st = kernels::gemv_f32(N, K, 1.0f, Wm.data(), std::ptrdiff_t(K), x.data(), 0.0f, y.data(), {}, &pool);
    bench::do_not_optimize(st);
    bench::do_not_optimize(y[0]);
  }, threads);
  Eigen::Map<const RowMat> w(Wm.data(), Eigen::Index(N), Eigen::Index(K));
  Eigen::Map<const Eigen::VectorXf> xv(x.data(), Eigen::Index(K));
  Eigen::Map<Eigen::VectorXf> yv(ye.data(), Eigen::Index(N));
  const double te = time_call(opts, [&] {
    yv.noalias() = w * xv;
    bench::do_not_optimize(ye[0]);
  });
  const std::string name = "1x" + std::to_string(N) + "x" + std::to_string(K) + " gemv";
  emit_pair(opts, name, threads, flops / t * 1e-9, flops / te * 1e-9, peak,
            note + "; memory-bound: " + std::to_string(int(double(N * K * 4) / t * 1e-9)) + " GB/s of weights");
}


#if TESSERA_THREADS
// 2 threads against 1 at 1024^3 (target >= 1.8x), with the peak loop's own 2-thread speed-up
// beside it. The four are timed in interleaved repetitions on the wall clock: this VM's speed
// drifts between runs and drops when both cores are busy, so only ratios taken this way mean
// anything.
void run_scaling(const options& opts, double eigen_1024, const std::string& note) {
  const std::size_t n = 1024;
  std::mt19937 g(1);
  const auto A = random_vec(n * n, g), B = random_vec(n * n, g);
  std::vector<float> C(n * n);
  runtime::thread_pool pool1(1), pool2(2);
  const long iters = 400000;
  auto gemm_on = [&](runtime::thread_pool& pool) {
    auto st = kernels::gemm_f32(n, n, n, 1.0f, A.data(), std::ptrdiff_t(n), kernels::transpose::no, B.data(),
                                std::ptrdiff_t(n), kernels::transpose::no, 0.0f, C.data(), std::ptrdiff_t(n), {}, &pool);
    bench::do_not_optimize(st);
    bench::do_not_optimize(C[0]);
  };
  std::vector<std::function<void()>> fns = {
      [&] { bench::peak_on_threads(pool1, 1, iters); }, [&] { bench::peak_on_threads(pool2, 2, iters); },
      [&] { gemm_on(pool1); }, [&] { gemm_on(pool2); }};
  const auto t = bench::time_medians_interleaved(opts, fns);
  const double peak1 = bench::peak_loop_flops(iters) / t[0] * 1e-9, peak2 = 2 * bench::peak_loop_flops(iters) / t[1] * 1e-9;
  const double gemm_flops = 2.0 * double(n) * double(n) * double(n);
  const double g1 = gemm_flops / t[2] * 1e-9, g2 = gemm_flops / t[3] * 1e-9;
  record r;
  r.bench = "gemm";
  r.case_name = "peak fma, 2 threads at once";
  r.threads = 2;
  r.unit = "GFLOP/s";
  r.tessera = peak2;
  r.peer = "peak t=1";
  r.peer_value = peak1;
  r.note = "ratio = 2-thread speed-up this machine gives the peak loop (interleaved, wall clock)";
  bench::emit(opts, r);
  emit_pair(opts, "1024x1024x1024", 2, g2, eigen_1024, peak2 / 2, note);
  r.case_name = "1024x1024x1024 scaling";
  r.tessera = g2;
  r.peer = "tessera t=1";
  r.peer_value = g1;
  r.note = "ratio = speed-up of 2 threads over 1 (interleaved, wall clock); the peak loop's is " +
           std::to_string(peak2 / peak1).substr(0, 5) + " in the same run";
  bench::emit(opts, r);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  options opts = bench::parse_options(argc, argv);
  bool conv_only = false;  // --conv-only: the conv2d records alone (before/after runs of conv work)
  for (const auto& a : opts.rest) {
    if (a == "--clock=cpu") g_cpu_clock = true;
    if (a == "--conv-only") conv_only = true;
  }
#if defined(TESSERA_BENCH_HAVE_CONV)
  if (conv_only) {
    bench::run_conv_benches(opts);
    return 0;
  }
#else
  (void)conv_only;
#endif
  const std::string clock_note = g_cpu_clock ? "; 1-thread times: thread CPU clock" : "";
  const std::string note = run_note(kernels::registry::gemm_role::tile) + clock_note;
  const std::string gemv_note = run_note(kernels::registry::gemm_role::gemv) + clock_note;
  const double peak = measure_peak(opts);
  {
    record r;
    r.bench = "gemm";
    r.case_name =
#if defined(__EMSCRIPTEN__)
        "peak f32x4 mul+add";
#else
        std::string("peak fma ") + simd::arch_name();
#endif
    r.threads = 1;
    r.unit = "GFLOP/s";
    r.tessera = peak;
    r.note = note;
    bench::emit(opts, r);
  }

  std::vector<gemm_shape> shapes;
  const std::vector<std::size_t> squares = opts.quick ? std::vector<std::size_t>{64, 128}
                                                      : std::vector<std::size_t>{64, 128, 256, 512, 1024, 2048};
  for (std::size_t n : squares) {
    const std::string s = std::to_string(n);
    shapes.push_back({n, n, n, s + "x" + s + "x" + s});
  }
  if (!opts.quick) {
    shapes.push_back({3136, 64, 576, "conv 3136x64x576"});
    shapes.push_back({784, 128, 1152, "conv 784x128x1152"});
  }
  double eigen_1024 = 0;
  [[maybe_unused]] double t1_1024 = 0;  // only the 1-thread pass leads to the scaling block
  for (const auto& s : shapes) {
    const bool is_1024 = s.M == 1024 && s.N == 1024 && s.K == 1024;
    const double gf = run_gemm(opts, s, opts.threads, note, is_1024 ? &eigen_1024 : nullptr);
    if (is_1024 && opts.threads == 1) t1_1024 = gf;
  }
#if TESSERA_THREADS
  if (!opts.quick && opts.threads == 1 && t1_1024 > 0) run_scaling(opts, eigen_1024, note);
#endif
  if (opts.quick) run_gemv(opts, 256, 256, opts.threads, peak, gemv_note);
  else run_gemv(opts, 4096, 4096, opts.threads, peak, gemv_note);

#if defined(TESSERA_BENCH_HAVE_CONV)
  bench::run_conv_benches(opts);
#endif
  return 0;
}
