// Throughput of every element-wise kernel of kernels/op_list.def (unary, binary, reduce,
// softmax, norm and cast families), enumerated from the list so a new line is measured without
// editing this file. Where an equivalent Eigen expression exists (peer "eigen", when Eigen is
// available; under Emscripten Eigen runs its scalar path, EIGEN_DONT_VECTORIZE, because its SSE
// path does not compile) it is timed beside the kernel. Single-threaded; unit: millions of
// input elements per second (higher is better). Records: bench = the op (the list's `fn`, or
// "cast"), case = "<registered name> <rows>x<cols>".
//   bench_elementwise [--quick] [--json] [--reps N] [--min-seconds S]
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
#include <tessera/kernels/registry.hpp>
#include <tessera/kernels/softmax.hpp>
#include <tessera/kernels/unary.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

using namespace tessera;
namespace k = tessera::kernels;
namespace tb = tessera::bench;
namespace reg = tessera::kernels::registry;

namespace {

template <class T>
Tensor<T> filled(const shape_t& s, double lo, double hi, unsigned seed) {
  auto t = Tensor<T>::empty(s);
  if (!t.ok()) {
    std::fprintf(stderr, "bench_elementwise: %s\n", t.what().c_str());
    std::exit(1);
  }
  unsigned x = seed;
  for (index_t i = 0; i < t->size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t->data()[i] = static_cast<T>(static_cast<float>(lo + (hi - lo) * static_cast<double>(x >> 8) * (1.0 / 16777216.0)));
  }
  return std::move(*t);
}

void check(const status& s, std::string_view what) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench_elementwise: %.*s: %s\n", int(what.size()), what.data(), s.what().c_str());
    std::exit(1);
  }
}

// The operands of one f32 or f64 kernel: x in the list's input range, y its second operand.
template <class T>
struct operands {
  Tensor<T> x, y, out, gamma, beta, row_out;
  Tensor<index_t> row_index;
  operands(index_t rows, index_t cols, double lo, double hi, double b_lo = -1, double b_hi = 1)
      : x(filled<T>({rows, cols}, lo, hi, 1)),
        y(filled<T>({rows, cols}, b_lo, b_hi, 2)),
        out(filled<T>({rows, cols}, 0, 0, 3)),
        gamma(filled<T>({cols}, 0.5, 1.5, 4)),
        beta(filled<T>({cols}, -1, 1, 5)),
        row_out(filled<T>({rows}, 0, 0, 6)),
        row_index(filled<index_t>({rows}, 0, 0, 7)) {}
};

#if TESSERA_BENCH_HAVE_EIGEN
using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapC = Eigen::Map<const Mat>;
using MapM = Eigen::Map<Mat>;

// The Eigen expression computing what case `name` (registered name and case suffix) computes
// on f32 operands, or an empty function for cases without one.
std::function<void()> eigen_peer(const std::string& name, operands<float>& o) {
  const Eigen::Index rows = o.x.shape()[0], cols = o.x.shape()[1];
  MapC X(o.x.data(), rows, cols), Y(o.y.data(), rows, cols);
  MapM O(o.out.data(), rows, cols);
  Eigen::Map<const Eigen::RowVectorXf> G(o.gamma.data(), cols), B(o.beta.data(), cols);
  Eigen::Map<Eigen::VectorXf> RO(o.row_out.data(), rows);
  float* sink = o.out.data();
  auto peer = [sink](auto&& expr) -> std::function<void()> {
    return [expr, sink]() mutable {
      expr();
      tb::do_not_optimize(sink[0]);
    };
  };
  if (name == "f32_softmax__xsimd")
    return peer([=]() mutable {
      O = (X.colwise() - X.rowwise().maxCoeff()).array().exp().matrix();
      O.array().colwise() /= O.rowwise().sum().array();
    });
  if (name == "f32_rmsnorm__xsimd")
    return peer([=]() mutable {
      O = (X.array().colwise() * ((X.array().square().rowwise().sum() / float(cols)) + 1e-6f).rsqrt()).rowwise() *
          G.array();
    });
  if (name == "f32_layernorm__xsimd")
    return peer([=]() mutable {
      O = X.colwise() - X.rowwise().mean();
      O = ((O.array().colwise() * ((O.array().square().rowwise().sum() / float(cols)) + 1e-5f).rsqrt()).rowwise() *
           G.array())
              .rowwise() +
          B.array();
    });
  if (name == "f32_vadd__xsimd") return peer([=]() mutable { O = X + Y; });
  if (name == "f32_vadd__xsimd row-broadcast") return peer([=]() mutable { O = X.rowwise() + B; });
  if (name == "f32_rsum__xsimd rows") return peer([=]() mutable { RO = X.rowwise().sum(); });
  if (name == "f32_vgelu_tanh__xsimd")
    return peer([=]() mutable {
      O = 0.5f * X.array() * (1.0f + (0.7978845608f * (X.array() + 0.044715f * X.array().cube())).tanh());
    });
  return {};
}
#endif

struct bench_run {
  const tb::options& opts;
  index_t rows, cols;
  std::string shape, note;
  int measured = 0;

  // Times `ours` (and the Eigen peer of `name`, if any) and emits one record.
  template <class T, class F>
  void run(std::string_view bench, std::string_view name, operands<T>& o, F&& ours,
           const std::string& case_suffix = "") {
    const double melems = static_cast<double>(rows * cols) * 1e-6;
    tb::record r;
    r.bench = std::string(bench);
    r.case_name = std::string(name) + case_suffix + " " + shape;
    r.unit = "Melem/s";
    r.tessera = melems / tb::time_median(opts, [&] {
      check(ours(), name);
      tb::do_not_optimize(o.out.data()[0]);
    });
    r.note = note;
#if TESSERA_BENCH_HAVE_EIGEN
    if constexpr (std::is_same_v<T, float>) {
      if (const auto peer = eigen_peer(std::string(name) + case_suffix, o)) {
        r.peer = "eigen";
        r.peer_value = melems / tb::time_median(opts, peer);
      }
    }
#endif
    tb::emit(opts, r);
    ++measured;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const tb::options opts = tb::parse_options(argc, argv);
  bench_run b{opts, opts.quick ? 4 : 64, opts.quick ? 256 : 4096, "", std::string("arch ") + simd::arch_name()};
  b.shape = std::to_string(b.rows) + "x" + std::to_string(b.cols);
  const index_t rows = b.rows, cols = b.cols;

#define TESSERA_UNARY_KERNEL(name, T, fn, lo, hi, ...)                                    \
  {                                                                                       \
    operands<T> o(rows, cols, lo, hi);                                                    \
    b.run(#fn, #name, o, [&] { return k::fn(o.out.view(), o.x.view() __VA_OPT__(, ) __VA_ARGS__); }); \
  }
#define TESSERA_BINARY_KERNEL(name, T, fn, a_lo, a_hi, b_lo, b_hi)                                           \
  {                                                                                                          \
    operands<T> o(rows, cols, a_lo, a_hi, b_lo, b_hi);                                                       \
    b.run(#fn, #name, o, [&] { return k::fn(o.out.view(), o.x.view(), o.y.view()); });                      \
    /* A row vector broadcast over the rows: the common bias-add shape. */                                  \
    b.run(#fn, #name, o, [&] { return k::fn(o.out.view(), o.x.view(), o.beta.view()); }, " row-broadcast"); \
  }
#define TESSERA_REDUCE_KERNEL(name, T, fn)                                                  \
  {                                                                                         \
    operands<T> o(rows, cols, -8, 8);                                                       \
    b.run(#fn, #name, o, [&] { return k::fn(o.row_out.view(), o.x.view(), -1); }, " rows"); \
  }
#define TESSERA_ARG_REDUCE_KERNEL(name, T, fn)                                                \
  {                                                                                           \
    operands<T> o(rows, cols, -8, 8);                                                         \
    b.run(#fn, #name, o, [&] { return k::fn(o.row_index.view(), o.x.view(), -1); }, " rows"); \
  }
#define TESSERA_SOFTMAX_KERNEL(name, T, fn)                                    \
  {                                                                            \
    operands<T> o(rows, cols, -8, 8);                                          \
    b.run(#fn, #name, o, [&] { return k::fn(o.out.view(), o.x.view(), -1); }); \
  }
#define TESSERA_LAYER_NORM_KERNEL(name, T, fn)                                                                   \
  {                                                                                                              \
    operands<T> o(rows, cols, -8, 8);                                                                            \
    b.run(#fn, #name, o, [&] { return k::fn(o.out.view(), o.x.view(), o.gamma.view(), o.beta.view(), 1e-5); }); \
  }
#define TESSERA_RMS_NORM_KERNEL(name, T, fn)                                                     \
  {                                                                                              \
    operands<T> o(rows, cols, -8, 8);                                                            \
    b.run(#fn, #name, o, [&] { return k::fn(o.out.view(), o.x.view(), o.gamma.view(), 1e-6); }); \
  }
#define TESSERA_CAST_KERNEL(name, To, From)                                       \
  {                                                                               \
    operands<float> o(rows, cols, -8, 8);                                         \
    Tensor<From> in = filled<From>({rows, cols}, -100, 100, 8);                   \
    Tensor<To> out = filled<To>({rows, cols}, 0, 0, 9);                           \
    b.run("cast", #name, o, [&] { return k::cast(out.view(), in.view()); }); \
  }
#include <tessera/kernels/op_list.def>

  // Every element-wise kernel of the list was measured (GEMM and conv2d: bench_kernels).
  const int listed = int(reg::kernel_count - reg::count(reg::family::gemm) - reg::count(reg::family::conv2d));
  if (b.measured != listed + int(reg::count(reg::family::binary))) {
    std::fprintf(stderr, "bench_elementwise: measured %d cases for %d listed kernels\n", b.measured, listed);
    return 1;
  }
  return 0;
}
