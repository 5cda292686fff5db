// Convolution and pooling benchmarks (kernels/conv2d.hpp, kernels/pool.hpp) on ResNet- and
// MobileNet-like layers at batch 1, NHWC. Each case emits its GFLOP/s against the machine's
// peak timed alongside it (peer "peak": ratio = fraction of peak) and, where Eigen has a natural equivalent,
// against im2col + Eigen's GEMM (peer "eigen-im2col"; single-threaded, so only with --threads 1).
//
// Included by bench_kernels.cpp; everything here is inline.
#pragma once

#include "harness.hpp"
#include "peak.hpp"

#include <tessera/kernels/conv2d.hpp>
#include <tessera/kernels/pool.hpp>

#if __has_include(<Eigen/Core>)
#if defined(__EMSCRIPTEN__) && !defined(EIGEN_DONT_VECTORIZE)
#define EIGEN_DONT_VECTORIZE  // Eigen's SSE path does not compile under em++ (see DEVELOPERS.md)
#endif
#include <Eigen/Core>
#define TESSERA_CONV_BENCH_EIGEN 1
#else
#define TESSERA_CONV_BENCH_EIGEN 0
#endif

#include <cstdint>
#include <utility>
#include <tuple>
#include <functional>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace tessera::bench {

namespace conv_detail {

struct conv_case {
  const char* name;
  std::int64_t h, w, cin, cout, k, stride, pad_begin, pad_end, groups;
  bool transpose = false;
};

inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Times `fn` and the peak loop (on the pool's threads) in interleaved repetitions; returns
// {seconds per call of fn, peak GFLOP/s of all threads measured alongside}.
template <class F>
std::pair<double, double> time_with_peak(const options& opts, runtime::thread_pool& pool, F&& fn) {
  const long iters = opts.quick ? 2000 : 100000;
  std::vector<std::function<void()>> fns = {fn, [&] { peak_on_threads(pool, pool.num_threads(), iters); }};
  const auto med = time_medians_interleaved(opts, fns);
  return {med[0], double(pool.num_threads()) * peak_loop_flops(iters) / med[1] * 1e-9};
}

inline void run_conv_case(const options& opts, runtime::thread_pool& pool, const conv_case& c) {
  using namespace tessera::kernels;
  // --quick: same layer structure on an 8x smaller image (a smoke test, numbers not read).
  const std::int64_t div = opts.quick ? 8 : 1;
  const image_shape in{1, c.cin, std::max<std::int64_t>(c.k, c.h / div), std::max<std::int64_t>(c.k, c.w / div)};
  conv2d_params p;
  p.kernel_h = p.kernel_w = c.k;
  p.stride_h = p.stride_w = c.stride;
  p.pad_top = p.pad_left = c.pad_begin;
  p.pad_bottom = p.pad_right = c.pad_end;
  p.groups = c.groups;
  const std::size_t wcount = static_cast<std::size_t>(c.cout * (c.cin / c.groups) * c.k * c.k);
  const auto x = random_floats(static_cast<std::size_t>(in.height * in.width * in.channels), 1);
  const auto w = random_floats(wcount, 2);
  const auto b = random_floats(static_cast<std::size_t>(c.cout), 3);
  arena ws;  // the im2col / column scratch, warm after the first call
  conv2d_epilogue ep;
  ep.act = activation::relu;

  record r;
  r.bench = "conv2d";
  r.threads = static_cast<int>(pool.num_threads());
  r.unit = "GFLOP/s";
  std::vector<float> out;
  double seconds = 0, flops = 0, peak_gflops = 0;
  std::string algo;
  if (c.transpose) {
    auto prep = prepared_conv_transpose2d::prepare(p, c.cin, c.cout, w.data(), b.data());
    auto g = prep.ok() ? prep->geometry(in) : expected<conv2d_geometry>(prep.err());
    if (!g.ok()) { std::fprintf(stderr, "conv bench %s: %s\n", c.name, g.what().c_str()); return; }
    out.resize(g->out_size());
    flops = 2.0 * double(g->in_h * g->in_w) * double(g->in_c) * double(g->out_cg * g->kh * g->kw);
    std::tie(seconds, peak_gflops) =
        time_with_peak(opts, pool, [&] { (void)conv_transpose2d(out.data(), x.data(), in, *prep, ep, &pool, &ws); });
    algo = "gemm_col2im";
  } else {
    auto prep = prepared_conv2d::prepare(p, c.cin, c.cout, w.data(), b.data());
    auto g = prep.ok() ? prep->geometry(in) : expected<conv2d_geometry>(prep.err());
    if (!g.ok()) { std::fprintf(stderr, "conv bench %s: %s\n", c.name, g.what().c_str()); return; }
    out.resize(g->out_size());
    flops = 2.0 * double(g->out_h * g->out_w) * double(g->out_c) * double(g->in_cg * g->kh * g->kw);
    std::tie(seconds, peak_gflops) =
        time_with_peak(opts, pool, [&] { (void)conv2d(out.data(), x.data(), in, *prep, ep, &pool, &ws); });
    algo = conv2d_algorithm_name(prep->algorithm());
    if (prep->algorithm() == conv2d_algorithm::winograd_3x3) {
      // Winograd against the im2col path it replaces, same layer, same threads, timed in
      // alternation (effective GFLOP/s: the direct convolution's flop count over the time).
      auto direct = prepared_conv2d::prepare(p, c.cin, c.cout, w.data(), b.data(), conv2d_algorithm::im2col_gemm);
      if (direct.ok()) {
        std::vector<std::function<void()>> pair = {
            [&] { (void)conv2d(out.data(), x.data(), in, *prep, ep, &pool, &ws); },
            [&] { (void)conv2d(out.data(), x.data(), in, *direct, ep, &pool, &ws); }};
        const auto med = time_medians_interleaved(opts, pair);
        record e = r;
        e.case_name = std::string(c.name) + " [" + algo + "]";
        e.tessera = flops / med[0] * 1e-9;
        e.peer = "im2col_gemm";
        e.peer_value = flops / med[1] * 1e-9;
        emit(opts, e);
      }
    }

#if TESSERA_CONV_BENCH_EIGEN
    // Peer: the same im2col (tessera's) + Eigen's row-major GEMM + bias + ReLU.
    if (pool.num_threads() == 1 && c.groups == 1) {
      using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      const std::size_t K = g->kh * g->kw * g->in_cg, M = g->out_h * g->out_w, N = g->out_c;
      std::vector<float> col(prep->algorithm() == conv2d_algorithm::gemm_1x1 ? 0 : M * K);
      RowMat wm(K, N);  // (ky, kx, ci) x co, as the im2col rows
      for (std::size_t co = 0; co < N; ++co)
        for (std::size_t ci = 0; ci < g->in_cg; ++ci)
          for (std::size_t t = 0; t < g->kh * g->kw; ++t) wm(t * g->in_cg + ci, co) = w[(co * g->in_cg + ci) * g->kh * g->kw + t];
      const Eigen::Map<const Eigen::RowVectorXf> bias(b.data(), static_cast<Eigen::Index>(N));
      Eigen::Map<RowMat> om(out.data(), static_cast<Eigen::Index>(M), static_cast<Eigen::Index>(N));
      const double eigen_seconds = time_median(opts, [&] {
        const float* a = x.data();
        if (!col.empty()) {
          kernels::detail::im2col_lines(col.data(), x.data(), *g, 0, 0, g->out_h);
          a = col.data();
        }
        Eigen::Map<const RowMat> am(a, static_cast<Eigen::Index>(M), static_cast<Eigen::Index>(K));
        om.noalias() = am * wm;
        om.rowwise() += bias;
        om = om.cwiseMax(0.0f);
      });
      record e = r;
      e.case_name = std::string(c.name) + " [" + algo + "]";
      e.tessera = flops / seconds * 1e-9;
      e.peer = "eigen-im2col";
      e.peer_value = flops / eigen_seconds * 1e-9;
      e.note = TESSERA_WASM ? "node --no-liftoff expected; Eigen scalar (EIGEN_DONT_VECTORIZE)" : "";
      emit(opts, e);
    }
#endif
  }
  r.case_name = std::string(c.name) + " [" + algo + "]";
  r.tessera = flops / seconds * 1e-9;
  r.peer = "peak";
  r.peer_value = peak_gflops;
  emit(opts, r);
}

inline void run_global_pool_case(const options& opts, runtime::thread_pool& pool, std::int64_t h, std::int64_t w,
                                 std::int64_t c) {
  using namespace tessera::kernels;
  const image_shape in{1, c, h, w};
  const auto x = random_floats(static_cast<std::size_t>(h * w * c), 4);
  std::vector<float> out(static_cast<std::size_t>(c));
  const double seconds = time_median(opts, [&] { (void)global_avg_pool2d(out.data(), x.data(), in, &pool); });
  record r;
  r.bench = "conv2d";
  r.case_name = "mobilenet global_avg_pool " + std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c);
  r.threads = static_cast<int>(pool.num_threads());
  r.unit = "GB/s";
  r.tessera = double(x.size()) * sizeof(float) / seconds * 1e-9;
  emit(opts, r);
}

inline void run_pool_case(const options& opts, runtime::thread_pool& pool, const char* name, std::int64_t h,
                          std::int64_t w, std::int64_t c, std::int64_t k, std::int64_t s, std::int64_t pad) {
  using namespace tessera::kernels;
  const std::int64_t div = opts.quick ? 8 : 1;
  const image_shape in{1, c, std::max(k, h / div), std::max(k, w / div)};
  pool2d_params p;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  auto g = pool2d_geometry_of(in, p);
  if (!g.ok()) return;
  const auto x = random_floats(static_cast<std::size_t>(in.height * in.width * c), 5);
  std::vector<float> out(g->out_size());
  const double seconds = time_median(opts, [&] { (void)max_pool2d(out.data(), x.data(), in, p, &pool); });
  record r;
  r.bench = "conv2d";
  r.case_name = name;
  r.threads = static_cast<int>(pool.num_threads());
  r.unit = "GB/s";
  r.tessera = double(x.size() + out.size()) * sizeof(float) / seconds * 1e-9;
  emit(opts, r);
}

}  // namespace conv_detail

// Emits bench = "conv2d" records. The "peak" records compare with the peak loop timed in the
// same interleaved repetitions as the layer (all threads): ratio = fraction of peak reached.
inline void run_conv_benches(const options& opts) {
  using conv_detail::conv_case;
  runtime::thread_pool pool(static_cast<std::size_t>(opts.threads));
  const conv_case cases[] = {
      // ResNet-50/18 body (3x3 pad 1) and bottleneck expansion (1x1).
      {"resnet 56x56x64 3x3 64", 56, 56, 64, 64, 3, 1, 1, 1, 1},
      {"resnet 28x28x128 3x3 128", 28, 28, 128, 128, 3, 1, 1, 1, 1},
      {"resnet 14x14x256 3x3 256", 14, 14, 256, 256, 3, 1, 1, 1, 1},
      {"resnet 7x7x512 3x3 512", 7, 7, 512, 512, 3, 1, 1, 1, 1},
      {"resnet 56x56x64 1x1 256", 56, 56, 64, 256, 1, 1, 0, 0, 1},
      {"resnet stem 224x224x3 7x7/2 64", 224, 224, 3, 64, 7, 2, 3, 3, 1},
      // MobileNet-v2 blocks.
      {"mobilenet 112x112x32 dw3x3", 112, 112, 32, 32, 3, 1, 1, 1, 32},
      {"mobilenet 56x56x144 dw3x3/2", 56, 56, 144, 144, 3, 2, 0, 1, 144},
      {"mobilenet 56x56x24 1x1 144", 56, 56, 24, 144, 1, 1, 0, 0, 1},
      {"mobilenet 28x28x192 dw3x3", 28, 28, 192, 192, 3, 1, 1, 1, 192},
      {"mobilenet 14x14x576 dw3x3", 14, 14, 576, 576, 3, 1, 1, 1, 576},
      {"mobilenet 112x112x96 dw3x3/2", 112, 112, 96, 96, 3, 2, 0, 1, 96},
      // EfficientNet / MnasNet 5x5 depthwise.
      {"efficientnet 28x28x240 dw5x5", 28, 28, 240, 240, 5, 1, 2, 2, 240},
      {"efficientnet 56x56x144 dw5x5/2", 56, 56, 144, 144, 5, 2, 1, 2, 144},
      {"mobilenet 112x112x32 1x1 16", 112, 112, 32, 16, 1, 1, 0, 0, 1},
      {"mobilenet 112x112x16 1x1 96", 112, 112, 16, 96, 1, 1, 0, 0, 1},
      {"mobilenet 56x56x144 1x1 24", 56, 56, 144, 24, 1, 1, 0, 0, 1},
      {"mobilenet 14x14x384 1x1 64", 14, 14, 384, 64, 1, 1, 0, 0, 1},
      {"mobilenet 7x7x960 1x1 160", 7, 7, 960, 160, 1, 1, 0, 0, 1},
      // YOLOv8n at 640x640: the stem, a C2f bottleneck 3x3 and 1x1 at 160x160, a 3x3 at 80x80.
      {"yolov8n 640x640x3 3x3/2 16", 640, 640, 3, 16, 3, 2, 1, 1, 1},
      {"yolov8n 160x160x16 3x3 16", 160, 160, 16, 16, 3, 1, 1, 1, 1},
      {"yolov8n 160x160x48 1x1 32", 160, 160, 48, 32, 1, 1, 0, 0, 1},
      {"yolov8n 80x80x64 3x3 64", 80, 80, 64, 64, 3, 1, 1, 1, 1},
      // Decoder upsampling (U-Net / GAN style).
      {"convT 28x28x128 4x4/2 64", 28, 28, 128, 64, 4, 2, 1, 1, 1, true},
  };
  // --conv-filter=TEXT runs only the cases whose name contains TEXT.
  std::string filter;
  for (const auto& a : opts.rest)
    if (a.rfind("--conv-filter=", 0) == 0) filter = a.substr(14);
  auto wanted = [&](const std::string& name) { return filter.empty() || name.find(filter) != std::string::npos; };
  for (const auto& c : cases)
    if (wanted(c.name)) conv_detail::run_conv_case(opts, pool, c);
  if (wanted("resnet max_pool"))
    conv_detail::run_pool_case(opts, pool, "resnet max_pool 112x112x64 3x3/2", 112, 112, 64, 3, 2, 1);
  if (wanted("mobilenet global_avg_pool")) conv_detail::run_global_pool_case(opts, pool, 7, 7, 960);
}

}  // namespace tessera::bench
