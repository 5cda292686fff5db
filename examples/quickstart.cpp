// The README's usage example: load an XGBoost model, predict a batch, read a probability.
#include <tessera/tessera.hpp>
#include <tessera/trees.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : TESSERA_SOURCE_DIR "/examples/models/breast_cancer.json";
  auto forest = tessera::trees::load_forest(path);  // XGBoost JSON/UBJSON or LightGBM text
  if (!forest) return std::printf("%s\n", forest.what().c_str()), 1;
  auto model = tessera::trees::compile(*forest);  // fast SIMD layout, bit-exact with XGBoost
  if (!model) return std::printf("%s\n", model.what().c_str()), 1;

  // Two rows of the 30 breast-cancer features; NaN = missing, as in XGBoost.
  const std::size_t n_features = static_cast<std::size_t>(model->num_features());
  auto rows = tessera::Tensor<float>::full({2, forest->num_features}, NAN);
  if (!rows) return 1;
  (*rows)(0, 22) = 80.0f, (*rows)(0, 27) = 0.05f;    // small worst perimeter, concave points
  (*rows)(1, 22) = 170.0f, (*rows)(1, 27) = 0.25f;   // large ones
  std::vector<float> p(2 * static_cast<std::size_t>(model->num_transformed_outputs()));
  auto st = model->predict(p.data(), rows->data(), 2, n_features, &tessera::runtime::default_pool());
  if (!st) return std::printf("%s\n", st.what().c_str()), 1;
  std::printf("p(class 1) = %.6f, %.6f\n", p[0], p[1]);
}
