// digits: a small CNN trained on scikit-learn's 8x8 digits (scripts/train_digits_cnn.py), run
// by tessera's ONNX session on held-out digits: predicted vs true labels, the accuracy, and
// how far tessera's logits are from PyTorch's.
//
//   digits [MODEL_DIR]     (default: the source tree's examples/models)
//
// MODEL_DIR holds digits_cnn.onnx, digits_cnn_inputs.npy (float32 [N, 1, 8, 8], pixel / 16),
// digits_cnn_labels.npy (int64 [N]) and digits_cnn_outputs.npy (PyTorch's logits, [N, 10]).
#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/onnx.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace tessera;

// A .npy file's array with its bytes (the parsed array views them).
struct npy_file {
  std::vector<std::uint8_t> bytes;
  io::npy_array array;
};

expected<npy_file> load_npy(const std::string& path, char kind, std::size_t itemsize, std::size_t rank) {
  npy_file f;
  TESSERA_ASSIGN_OR_RETURN(f.bytes, io::read_file_bytes(path));
  auto a = io::parse_npy(f.bytes);
  if (!a) return make_error(a.err().code, path + ": " + a.err().message);
  if (a->kind != kind || a->itemsize != itemsize || a->shape.size() != rank)
    return make_error(errc::invalid_argument, path + ": expected " + std::to_string(rank) + "-d " + kind + std::to_string(itemsize) + ", found " +
                                                  a->descr() + " of rank " + std::to_string(a->shape.size()));
  f.array = *a;
  return f;
}

status run(const std::string& dir) {
  TESSERA_ASSIGN_OR_RETURN(auto model, onnx::model::load(dir + "/digits_cnn.onnx"));
  TESSERA_ASSIGN_OR_RETURN(const npy_file images, load_npy(dir + "/digits_cnn_inputs.npy", 'f', 4, 4));
  TESSERA_ASSIGN_OR_RETURN(const npy_file labels, load_npy(dir + "/digits_cnn_labels.npy", 'i', 8, 1));
  TESSERA_ASSIGN_OR_RETURN(const npy_file torch_logits, load_npy(dir + "/digits_cnn_outputs.npy", 'f', 4, 2));
  const std::int64_t n = images.array.shape[0];
  if (labels.array.shape[0] != n || torch_logits.array.shape[0] != n)
    return make_error(errc::shape_mismatch, "the inputs, labels and logits hold different numbers of digits");

  // The .npy data may sit at any byte offset: copy it to aligned storage.
  std::vector<float> pixels(images.array.numel());
  std::memcpy(pixels.data(), images.array.data.data(), images.array.data.size());
  shape_t shape;
  for (std::int64_t d : images.array.shape) shape.push_back(d);

  TESSERA_ASSIGN_OR_RETURN(onnx::session s, onnx::session::create(model));
  TESSERA_TRY(s.run({{model->inputs()[0].name, nn::any_view(pixels.data(), nn::elem_type::f32, shape)}}));
  const nn::any_view logits = s.output(0);
  if (logits.type != nn::elem_type::f32 || logits.rank() != 2 || logits.shape[0] != n ||
      static_cast<std::uint64_t>(logits.size()) != torch_logits.array.numel())
    return make_error(errc::shape_mismatch, "the model's output is " + logits.shape.str() + ", expected [" + std::to_string(n) + ", classes]");
  const std::int64_t classes = logits.shape[1];

  std::vector<float> reference(torch_logits.array.numel());
  std::memcpy(reference.data(), torch_logits.array.data.data(), torch_logits.array.data.size());
  const float* y = logits.ptr<const float>();
  int correct = 0;
  double worst = 0;
  std::printf("digit  true  predicted\n");
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = y + i * classes;
    const auto predicted = std::max_element(row, row + classes) - row;
    std::int64_t truth = 0;
    std::memcpy(&truth, labels.array.data.data() + i * 8, 8);
    correct += predicted == truth;
    for (std::int64_t c = 0; c < classes; ++c) worst = std::max(worst, std::abs(double(row[c]) - reference[std::size_t(i * classes + c)]));
    std::printf("%5lld  %4lld  %9lld%s\n", static_cast<long long>(i), static_cast<long long>(truth), static_cast<long long>(predicted),
                predicted == truth ? "" : "  (wrong)");
  }
  std::printf("accuracy %d/%lld = %.1f%%; largest |tessera - PyTorch| logit difference %.2g\n", correct, static_cast<long long>(n),
              100.0 * correct / static_cast<double>(n), worst);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : std::string(TESSERA_SOURCE_DIR) + "/examples/models";
  if (const status st = run(dir); !st.ok()) {
    std::fprintf(stderr, "digits: %s\n", st.what().c_str());
    return 1;
  }
  return 0;
}
