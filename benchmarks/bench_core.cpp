// Throughput of the core kernels (softmax, rms_norm, layer_norm, add, sum, gelu) against
// equivalent Eigen expressions (peer "eigen", when Eigen is available; under Emscripten
// Eigen runs its scalar path, EIGEN_DONT_VECTORIZE, because its SSE path does not compile).
// Single-threaded; unit: millions of input elements per second (higher is better).
//   bench_core [--quick] [--json] [--reps N] [--min-seconds S]
#if __has_include(<Eigen/Core>)
#if defined(__EMSCRIPTEN__) && !defined(EIGEN_DONT_VECTORIZE)
#define EIGEN_DONT_VECTORIZE
#endif
#include <Eigen/Core>
#define TESSERA_BENCH_HAVE_EIGEN 1
#else
#define TESSERA_BENCH_HAVE_EIGEN 0
#endif

#include "harness.hpp"

#include <tessera/kernels/binary.hpp>
#include <tessera/kernels/norm.hpp>
#include <tessera/kernels/reduce.hpp>
#include <tessera/kernels/softmax.hpp>
#include <tessera/kernels/unary.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace tessera;
namespace k = tessera::kernels;
namespace tb = tessera::bench;

namespace {

Tensor<float> filled(const shape_t& s, float lo, float hi, unsigned seed) {
  auto t = Tensor<float>::empty(s);
  if (!t.ok()) {
    std::fprintf(stderr, "bench_core: %s\n", t.what().c_str());
    std::exit(1);
  }
  unsigned x = seed;
  for (index_t i = 0; i < t->size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t->data()[i] = lo + (hi - lo) * static_cast<float>(x >> 8) * (1.0f / 16777216.0f);
  }
  return std::move(*t);
}

void check(const status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench_core: %s: %s\n", what, s.what().c_str());
    std::exit(1);
  }
}

#if TESSERA_BENCH_HAVE_EIGEN
using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapC = Eigen::Map<const Mat>;
using MapM = Eigen::Map<Mat>;
#endif

}  // namespace

int main(int argc, char** argv) {
  const tb::options opts = tb::parse_options(argc, argv);
  const index_t rows = opts.quick ? 4 : 64, cols = opts.quick ? 256 : 4096;
  const double melems = static_cast<double>(rows * cols) * 1e-6;
  const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
  const std::string note = std::string("arch ") + simd::arch_name();

  Tensor<float> x = filled({rows, cols}, -8, 8, 1), y = filled({rows, cols}, -1, 1, 2), out = filled({rows, cols}, 0, 0, 3);
  Tensor<float> gamma = filled({cols}, 0.5f, 1.5f, 4), beta = filled({cols}, -1, 1, 5), row_out = filled({rows}, 0, 0, 6);

  auto run = [&](const char* bench, const std::string& case_name, auto&& ours, auto&& peer) {
    const double t = tb::time_median(opts, ours);
    tb::record r;
    r.bench = bench;
    r.case_name = case_name;
    r.unit = "Melem/s";
    r.tessera = melems / t;
    r.note = note;
#if TESSERA_BENCH_HAVE_EIGEN
    const double tp = tb::time_median(opts, peer);
    r.peer = "eigen";
    r.peer_value = melems / tp;
#else
    (void)peer;
#endif
    tb::emit(opts, r);
  };

#if TESSERA_BENCH_HAVE_EIGEN
  MapC X(x.data(), rows, cols), Y(y.data(), rows, cols);
  MapM O(out.data(), rows, cols);
  Eigen::Map<const Eigen::RowVectorXf> G(gamma.data(), cols), B(beta.data(), cols);
  Eigen::Map<Eigen::VectorXf> RO(row_out.data(), rows);
#define PEER(...) [&] { __VA_ARGS__; tb::do_not_optimize(out.data()[0]); }
#else
#define PEER(...) [] {}
#endif

  run("softmax", "f32_softmax__xsimd " + shape,
      [&] { check(k::softmax(out.view(), x.view()), "softmax"); tb::do_not_optimize(out.data()[0]); },
      PEER(O = (X.colwise() - X.rowwise().maxCoeff()).array().exp().matrix();
           O.array().colwise() /= O.rowwise().sum().array()));
  run("rms_norm", "f32_rmsnorm__xsimd " + shape,
      [&] { check(k::rms_norm(out.view(), x.view(), gamma.view(), 1e-6), "rms_norm"); tb::do_not_optimize(out.data()[0]); },
      PEER(O = (X.array().colwise() * ((X.array().square().rowwise().sum() / float(cols)) + 1e-6f).rsqrt()).rowwise() *
               G.array()));
  run("layer_norm", "f32_layernorm__xsimd " + shape,
      [&] { check(k::layer_norm(out.view(), x.view(), gamma.view(), beta.view(), 1e-5), "layer_norm"); tb::do_not_optimize(out.data()[0]); },
      PEER(O = X.colwise() - X.rowwise().mean();
           O = ((O.array().colwise() * ((O.array().square().rowwise().sum() / float(cols)) + 1e-5f).rsqrt()).rowwise() * G.array())
                   .rowwise() + B.array()));
  run("add", "f32_vadd__xsimd " + shape,
      [&] { check(k::add(out.view(), x.view(), y.view()), "add"); tb::do_not_optimize(out.data()[0]); },
      PEER(O = X + Y));
  run("add", "f32_vadd__xsimd row-broadcast " + shape,
      [&] { check(k::add(out.view(), x.view(), beta.view()), "add"); tb::do_not_optimize(out.data()[0]); },
      PEER(O = X.rowwise() + B));
  run("sum", "f32_rsum__xsimd rows " + shape,
      [&] { check(k::sum(row_out.view(), x.view(), -1), "sum"); tb::do_not_optimize(row_out.data()[0]); },
      PEER(RO = X.rowwise().sum()));
  run("gelu", "f32_vgelu_tanh__xsimd " + shape,
      [&] { check(k::gelu_tanh(out.view(), x.view()), "gelu_tanh"); tb::do_not_optimize(out.data()[0]); },
      PEER(O = 0.5f * X.array() * (1.0f + (0.7978845608f * (X.array() + 0.044715f * X.array().cube())).tanh())));
  return 0;
}
