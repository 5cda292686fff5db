// A tour of tessera's core: tensors and views, the SIMD layer, the thread pool and the
// error mechanism. Prints what it does; exits non-zero if anything disagrees.
#include <tessera/tessera.hpp>

#include <cmath>
#include <cstdio>
#include <string>

int main() {
  using namespace tessera;
  std::printf("tessera %d.%d.%d, simd arch %s (%zu f32 lanes), %zu threads\n", version.major, version.minor,
              version.patch, simd::arch_name(), simd::lanes<float>, runtime::default_pool().num_threads());

  // An owning, aligned 3x4 tensor and zero-copy views of it.
  auto t = Tensor<float>::empty({3, 4});
  if (!t) return std::printf("%s\n", t.what().c_str()), 1;
  for (index_t i = 0; i < t->size(); ++i) t->data()[i] = static_cast<float>(i) - 6.0f;
  auto tr = t->view().transpose();
  auto col = t->view().select(1, 2);
  std::printf("t is %s; t^T is %s with strides %s; column 2 = [%g %g %g]\n", t->shape().str().c_str(),
              tr->shape().str().c_str(), tr->strides().str().c_str(), (*col)(0), (*col)(1), (*col)(2));

  // The SIMD layer: one functor serves batches and the scalar tail.
  simd::transform(t->data(), t->data(), static_cast<std::size_t>(t->size()), simd::sigmoid_fn{});
  std::printf("sigmoid(t) row 0 = [%.4f %.4f %.4f %.4f]\n", (*t)(0, 0), (*t)(0, 1), (*t)(0, 2), (*t)(0, 3));

  // The thread pool: a parallel sum of a million elements.
  auto big = Tensor<float>::full({1 << 20}, 0.5f);
  if (!big) return 1;
  double partial[64] = {};
  runtime::default_pool().run(8, [&](std::size_t task, std::size_t) {
    const std::size_t chunk = (1u << 20) / 8;
    double s = 0;
    for (std::size_t i = task * chunk; i < (task + 1) * chunk; ++i) s += big->data()[i];
    partial[task] = s;
  });
  double sum = 0;
  for (double p : partial) sum += p;
  std::printf("parallel sum of 2^20 halves = %.1f\n", sum);

  // Errors are values: a bad reshape explains itself instead of throwing.
  auto bad = t->view().reshape({5, -1});
  std::printf("reshape [3,4] -> [5,-1]: %s\n", bad.what().c_str());

  const bool ok = std::fabs(sum - 524288.0) < 1e-6 && !bad.ok() && std::fabs((*t)(1, 2) - 0.5f) < 1e-6f;
  std::printf("%s\n", ok ? "tensor demo ok" : "tensor demo FAILED");
  return ok ? 0 : 1;
}
