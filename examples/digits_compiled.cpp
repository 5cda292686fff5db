// digits_compiled: the digits CNN compiled into the program (examples/models/digits_cnn_model.hpp,
// written by `tessera-onnx compile --model examples/models/digits_cnn.onnx --name digits_cnn`):
// no model file, no protobuf parser, and only the five ops the network uses. It classifies an
// 8x8 digit given as 64 numbers 0..16 (scikit-learn's digits encoding), or a built-in 7 from its test set.
//
//   digits_compiled [64 pixel values 0..16]
//
// Its WebAssembly build is the size docs/performance.md reports for a compiled-in model.
#include <cstdio>
#include <cstdlib>

#include "models/digits_cnn_model.hpp"

int main(int argc, char** argv) {
  // The first held-out 7 of examples/models/digits_cnn_inputs.npy (rows of 8 pixels, 0..16).
  float pixels[64] = {0, 0, 2, 13, 16, 9, 0, 0,  0, 0, 12, 12, 7, 16, 3, 0, 0, 1, 14, 3, 0, 16, 4, 0,
                      0, 0, 0, 4, 10, 16, 6, 0,  0, 0, 0, 13, 16, 16, 9, 0, 0, 0, 0, 5, 13, 1, 0, 0,
                      0, 0, 0, 11, 9, 0, 0, 0,   0, 0, 1, 16, 4, 0, 0, 0};
  if (argc != 1 && argc != 65) {
    std::fprintf(stderr, "usage: digits_compiled [64 pixel values 0..16]\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) pixels[i - 1] = static_cast<float>(std::atof(argv[i]));
  for (float& p : pixels) p /= 16.0f;  // the network's input scale (scripts/train_digits_cnn.py)

  auto model = digits_cnn_load();
  if (!model) return std::fprintf(stderr, "digits_compiled: %s\n", model.what().c_str()), 1;
  auto session = tessera::onnx::session::create(*model);
  if (!session) return std::fprintf(stderr, "digits_compiled: %s\n", session.what().c_str()), 1;
  const tessera::status st =
      session->run({{"input", tessera::nn::any_view(pixels, tessera::nn::elem_type::f32, {1, 1, 8, 8})}});
  if (!st) return std::fprintf(stderr, "digits_compiled: %s\n", st.what().c_str()), 1;
  const float* logits = static_cast<const float*>(session->output(0).data);
  int best = 0;
  for (int c = 1; c < 10; ++c)
    if (logits[c] > logits[best]) best = c;
  std::printf("digit %d (logit %.3f)\n", best, static_cast<double>(logits[best]));
  return 0;
}
