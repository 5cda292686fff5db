// A user's program: includes the umbrella header and uses a tensor, a view, the SIMD layer
// and the thread pool.
#include <tessera/tessera.hpp>

#include <cstdio>

int main() {
  auto t = tessera::Tensor<float>::empty({4, 8});
  if (!t) {
    std::printf("%s\n", t.what().c_str());
    return 1;
  }
  for (tessera::index_t i = 0; i < t->size(); ++i) t->data()[i] = static_cast<float>(i) - 16.0f;
  auto tr = t->view().transpose();
  if (!tr || (*tr)(7, 3) != (*t)(3, 7)) return 2;
  tessera::simd::transform(t->data(), t->data(), static_cast<std::size_t>(t->size()), tessera::simd::sigmoid_fn{});
  float sum = 0;
  tessera::runtime::parallel_for(0, 4, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) (void)r;
  });
  for (tessera::index_t i = 0; i < t->size(); ++i) sum += t->data()[i];
  // sigmoid(x) + sigmoid(-x) = 1: x = -16..15 sums to 15 pairs + sigmoid(0) + sigmoid(-16) = 15.5
  if (sum < 15.49f || sum > 15.51f) return 3;
  std::printf("consumer ok: tessera %d.%d.%d, simd %s\n", tessera::version.major, tessera::version.minor,
              tessera::version.patch, tessera::simd::arch_name());
  return 0;
}
