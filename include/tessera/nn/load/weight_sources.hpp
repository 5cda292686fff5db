// Weight sources for nn/static_net.hpp that read containers: a safetensors file
// (io/safetensors.hpp) and .npy arrays (io/npy.hpp), in memory or one file per tensor in a
// directory (NAME.npy). F32, F16 and BF16 tensors are converted to float32; other types are
// refused with the tensor's name.
#pragma once

#include <tessera/core/dtype.hpp>
#include <tessera/core/error.hpp>
#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/io/safetensors.hpp>
#include <tessera/nn/static_net.hpp>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::nn {

namespace detail {

// n little-endian values of 2 or 4 bytes (F16, BF16 or F32) from possibly unaligned bytes.
inline void decode_floats(float* out, const std::uint8_t* bytes, std::size_t n, char kind) {
  for (std::size_t i = 0; i < n; ++i) {
    if (kind == 'f') {
      std::memcpy(out + i, bytes + 4 * i, 4);
      continue;
    }
    std::uint16_t h = 0;
    std::memcpy(&h, bytes + 2 * i, 2);
    out[i] = kind == 'h' ? f16::to_float(h) : bf16::to_float(h);
  }
}

}  // namespace detail

// Tensors of a parsed safetensors file (which must outlive this view).
class safetensors_weights {
 public:
  explicit safetensors_weights(const io::safetensors_file& file) : file_(&file) {}
  expected<weight_tensor> get(std::string_view name) const {
    const io::safetensors_tensor* t = file_->find(name);
    if (!t) return make_error(errc::invalid_argument, "no tensor '" + std::string(name) + "' in the safetensors file");
    char kind = 0;
    switch (t->dtype) {
      case io::safetensors_dtype::f32: kind = 'f'; break;
      case io::safetensors_dtype::f16: kind = 'h'; break;
      case io::safetensors_dtype::bf16: kind = 'b'; break;
      default:
        return make_error(errc::unsupported, "tensor '" + std::string(name) + "': dtype " + std::string(io::safetensors_info(t->dtype).name) +
                                                 " is not a float type");
    }
    weight_tensor w;
    w.shape = t->shape;
    w.values.resize(static_cast<std::size_t>(t->numel));  // numel * itemsize bytes are in the file
    detail::decode_floats(w.values.data(), t->data.data(), w.values.size(), kind);
    return w;
  }

 private:
  const io::safetensors_file* file_;
};

namespace detail {
inline expected<weight_tensor> npy_to_weight(std::span<const std::uint8_t> bytes, std::string_view name) {
  auto a = io::parse_npy(bytes);
  if (!a.ok()) return make_error(a.err().code, "tensor '" + std::string(name) + "': " + a.err().message);
  if (a->kind != 'f' || (a->itemsize != 4 && a->itemsize != 2))
    return make_error(errc::unsupported, "tensor '" + std::string(name) + "': .npy type " + a->descr() + " is not float32 or float16");
  weight_tensor w;
  w.shape = a->shape;
  w.values.resize(static_cast<std::size_t>(a->numel()));  // parse_npy checked the data's size
  decode_floats(w.values.data(), a->data.data(), w.values.size(), a->itemsize == 4 ? 'f' : 'h');
  return w;
}
}  // namespace detail

// .npy arrays held in memory, by name (the spans must outlive this source).
class npy_weights {
 public:
  explicit npy_weights(std::vector<std::pair<std::string, std::span<const std::uint8_t>>> arrays) : arrays_(std::move(arrays)) {}
  expected<weight_tensor> get(std::string_view name) const {
    for (const auto& [n, bytes] : arrays_)
      if (n == name) return detail::npy_to_weight(bytes, name);
    return make_error(errc::invalid_argument, "no .npy array '" + std::string(name) + "'");
  }

 private:
  std::vector<std::pair<std::string, std::span<const std::uint8_t>>> arrays_;
};

// One DIR/NAME.npy file per tensor (numpy.save of each state_dict entry).
class npy_directory_weights {
 public:
  explicit npy_directory_weights(std::string dir) : dir_(std::move(dir)) {}
  expected<weight_tensor> get(std::string_view name) const {
    const std::string path = dir_ + "/" + std::string(name) + ".npy";
    auto bytes = io::read_file_bytes(path);
    if (!bytes.ok()) return bytes.err();
    return detail::npy_to_weight(*bytes, name);
  }

 private:
  std::string dir_;
};

}  // namespace tessera::nn
