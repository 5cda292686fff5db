// A CNN assembled in C++ (nn/static_net.hpp): the digits classifier of
// scripts/train_digits_cnn.py (its BatchNorms folded into the convs), with every shape and
// buffer size fixed at compile time, classifying the 16 sample digits.
//
//   assembled_cnn                          weights taken from examples/models/digits_cnn.onnx
//   assembled_cnn W.safetensors            features.0.*, features.4.*, classifier.* (PyTorch names)
//   assembled_cnn DIR                      DIR/features.0.weight.npy, ... (numpy.save per tensor)
#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/io/safetensors.hpp>
#include <tessera/nn/load/weight_sources.hpp>
#include <tessera/nn/static_net.hpp>
#include <tessera/onnx/model_proto.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace nn = tessera::nn;
namespace io = tessera::io;

using digits_cnn = nn::static_net<nn::input<1, 8, 8, 16>,                                      // 16 images of 1 x 8 x 8
                                  nn::conv2d<16, 3, 1, 1>, nn::relu, nn::max_pool2d<2>,          // 16 x 4 x 4
                                  nn::conv2d<32, 3, 1, 1>, nn::relu, nn::max_pool2d<2>,          // 32 x 2 x 2
                                  nn::flatten, nn::dense<10>>;                                    // 10 logits
static_assert(digits_cnn::output_size == 10, "ten classes");

// The Conv and Gemm initializers of the ONNX export, as a safetensors file with PyTorch's names.
static tessera::expected<std::vector<std::uint8_t>> safetensors_from_onnx(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> bytes, io::read_file_bytes(path));
  TESSERA_ASSIGN_OR_RETURN(const tessera::onnx::model_proto m, tessera::onnx::parse_model(bytes));
  const char* layers[] = {"features.0", "features.4", "classifier"};
  std::vector<std::vector<float>> values;
  std::vector<io::safetensors_entry> entries;
  values.reserve(6);
  std::size_t layer = 0;
  for (const auto& node : m.graph.nodes) {
    if (node.op_type != "Conv" && node.op_type != "Gemm") continue;
    if (layer == 3) return tessera::make_error(tessera::errc::invalid_argument, "more layers than the digits CNN has");
    for (std::size_t i = 1; i < node.inputs.size(); ++i)
      for (const auto& t : m.graph.initializers)
        if (t.name == node.inputs[i]) {
          TESSERA_ASSIGN_OR_RETURN(std::vector<float> v, t.floats());
          values.push_back(std::move(v));
          entries.push_back({std::string(layers[layer]) + (i == 1 ? ".weight" : ".bias"), io::safetensors_dtype::f32, t.dims,
                             {reinterpret_cast<const std::uint8_t*>(values.back().data()), values.back().size() * sizeof(float)}});
        }
    ++layer;
  }
  return io::write_safetensors(entries);
}

int main(int argc, char** argv) {
  const std::string models = TESSERA_SOURCE_DIR "/examples/models";
  const std::string arg = argc > 1 ? argv[1] : "";
  const std::initializer_list<std::string_view> names = {"features.0", "features.4", "classifier"};
  static digits_cnn net;  // its layers are small; static keeps them off the stack anyway
  tessera::status bound;
  std::vector<std::uint8_t> file;
  if (!arg.empty() && std::filesystem::is_directory(arg)) {
    bound = net.bind(nn::npy_directory_weights(arg), names);
  } else {
    auto bytes = arg.empty() ? safetensors_from_onnx(models + "/digits_cnn.onnx") : io::read_file_bytes(arg);
    if (!bytes) return std::fprintf(stderr, "%s\n", bytes.what().c_str()), 1;
    file = std::move(*bytes);
    auto weights = io::safetensors_file::parse(file);
    if (!weights) return std::fprintf(stderr, "%s\n", weights.what().c_str()), 1;
    bound = net.bind(nn::safetensors_weights(*weights), names);
  }
  if (!bound.ok()) return std::fprintf(stderr, "%s\n", bound.what().c_str()), 1;

  auto input_bytes = io::read_file_bytes(models + "/digits_cnn_inputs.npy");
  if (!input_bytes) return std::fprintf(stderr, "%s\n", input_bytes.what().c_str()), 1;
  auto images = io::parse_npy(*input_bytes);
  if (!images) return std::fprintf(stderr, "%s\n", images.what().c_str()), 1;
  if (images->kind != 'f' || images->itemsize != 4 || images->numel() != 16 * digits_cnn::input_size)
    return std::fprintf(stderr, "expected 16 float32 images of 1 x 8 x 8\n"), 1;
  std::vector<float> pixels(images->numel()), logits(16 * digits_cnn::output_size);
  std::memcpy(pixels.data(), images->data.data(), pixels.size() * sizeof(float));

  const tessera::status ran = net.forward(logits.data(), pixels.data(), 16);  // allocates nothing
  if (!ran.ok()) return std::fprintf(stderr, "%s\n", ran.what().c_str()), 1;
  std::printf("predicted digits:");
  for (int i = 0; i < 16; ++i) {
    int best = 0;
    for (int c = 1; c < 10; ++c)
      if (logits[static_cast<std::size_t>(i * 10 + c)] > logits[static_cast<std::size_t>(i * 10 + best)]) best = c;
    std::printf(" %d", best);
  }
  std::printf("\n");
  return 0;
}
