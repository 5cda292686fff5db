// A float32 .npy file as an nn::tensor: the reference inputs and outputs of tests/onnx.
#pragma once

#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/nn/tensor.hpp>

#include <cstring>
#include <string>

namespace tessera::test {

inline expected<nn::tensor> read_npy_f32(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(auto bytes, io::read_file_bytes(path));
  TESSERA_ASSIGN_OR_RETURN(const io::npy_array a, io::parse_npy(bytes));
  if (a.kind != 'f' || a.itemsize != 4) return make_error(errc::invalid_argument, path + ": not float32");
  shape_t s;
  for (auto d : a.shape) s.push_back(d);
  TESSERA_ASSIGN_OR_RETURN(nn::tensor t, nn::tensor::empty(nn::elem_type::f32, s));
  std::memcpy(t.data(), a.data.data(), a.data.size());
  return t;
}

}  // namespace tessera::test
