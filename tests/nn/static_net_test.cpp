// nn/static_net.hpp: the digits CNN assembled in C++ with its weights taken from
// examples/models/digits_cnn.onnx (through safetensors and .npy buffers), checked against
// PyTorch's outputs and the ONNX session's; a conv + batch_norm + pooling net against a
// scalar double reference; bind errors.
#include <doctest/doctest.h>

#include "support/heap_counter.hpp"

#include <tessera/io/file.hpp>
#include <tessera/io/npy.hpp>
#include <tessera/io/safetensors.hpp>
#include <tessera/nn/load/weight_sources.hpp>
#include <tessera/nn/static_net.hpp>
#include <tessera/onnx.hpp>
#include <tessera/onnx/model_proto.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace tessera;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = fs::path(TESSERA_SOURCE_DIR) / "examples" / "models";

// PyTorch's DigitsCNN (scripts/train_digits_cnn.py) with its BatchNorms folded, as exported.
using digits_net = nn::static_net<nn::input<1, 8, 8, 16>, nn::conv2d<16, 3, 1, 1>, nn::relu, nn::max_pool2d<2>, nn::conv2d<32, 3, 1, 1>,
                                  nn::relu, nn::max_pool2d<2>, nn::flatten, nn::dense<10>>;
static_assert(digits_net::output_size == 10);
static_assert(digits_net::param_layers == 3);
static_assert(digits_net::buffer_floats == 16 * 8 * 8 * 16);

struct named_weight {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

// The Conv and Gemm weights and biases of the model, in node order, named conv0, conv1, ..., fc0.
std::vector<named_weight> onnx_weights(const onnx::model_proto& m) {
  std::vector<named_weight> out;
  int convs = 0, gemms = 0;
  for (const onnx::node_proto& n : m.graph.nodes) {
    if (n.op_type != "Conv" && n.op_type != "Gemm") continue;
    const std::string layer = n.op_type == "Conv" ? "conv" + std::to_string(convs++) : "fc" + std::to_string(gemms++);
    for (std::size_t i = 1; i < n.inputs.size(); ++i)
      for (const onnx::tensor_proto& t : m.graph.initializers)
        if (t.name == n.inputs[i]) {
          auto v = t.floats();
          REQUIRE(v.ok());
          out.push_back({layer + (i == 1 ? ".weight" : ".bias"), t.dims, *v});
        }
  }
  return out;
}

std::span<const std::uint8_t> bytes_of(const std::vector<float>& v) {
  return {reinterpret_cast<const std::uint8_t*>(v.data()), v.size() * sizeof(float)};
}

struct npy_floats {
  std::vector<std::uint8_t> bytes;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};
npy_floats read_npy(const fs::path& p) {
  npy_floats r;
  auto b = io::read_file_bytes(p.string());
  REQUIRE(b.ok());
  r.bytes = std::move(*b);
  auto a = io::parse_npy(r.bytes);
  REQUIRE(a.ok());
  REQUIRE(a->kind == 'f');
  REQUIRE(a->itemsize == 4);
  r.shape = a->shape;
  r.values.resize(static_cast<std::size_t>(a->numel()));
  std::memcpy(r.values.data(), a->data.data(), r.values.size() * 4);
  return r;
}

double max_abs_diff(const float* a, const float* b, std::size_t n) {
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

}  // namespace

TEST_CASE("static_net: the digits CNN assembled in C++ matches PyTorch and the ONNX session") {
  auto model_bytes = io::read_file_bytes((kModels / "digits_cnn.onnx").string());
  REQUIRE(model_bytes.ok());
  auto proto = onnx::parse_model(*model_bytes);
  REQUIRE(proto.ok());
  const std::vector<named_weight> weights = onnx_weights(*proto);
  REQUIRE(weights.size() == 6);
  const npy_floats in = read_npy(kModels / "digits_cnn_inputs.npy");
  const npy_floats want = read_npy(kModels / "digits_cnn_outputs.npy");
  REQUIRE(in.shape == std::vector<std::int64_t>{16, 1, 8, 8});
  REQUIRE(want.shape == std::vector<std::int64_t>{16, 10});

  // Source 1: a safetensors file written in memory.
  std::vector<io::safetensors_entry> entries;
  for (const named_weight& w : weights) entries.push_back({w.name, io::safetensors_dtype::f32, w.shape, bytes_of(w.values)});
  auto st_bytes = io::write_safetensors(entries);
  REQUIRE(st_bytes.ok());
  auto st_file = io::safetensors_file::parse(*st_bytes);
  REQUIRE(st_file.ok());
  // Source 2: one .npy buffer per tensor.
  std::vector<std::vector<std::uint8_t>> npys;
  std::vector<std::pair<std::string, std::span<const std::uint8_t>>> npy_named;
  for (const named_weight& w : weights) {
    io::npy_array a;
    a.shape = w.shape;
    a.data = bytes_of(w.values);
    npys.push_back(io::write_npy(a));
  }
  for (std::size_t i = 0; i < weights.size(); ++i) npy_named.emplace_back(weights[i].name, npys[i]);

  // The ONNX session, the second oracle.
  auto m = onnx::model::load((kModels / "digits_cnn.onnx").string());
  REQUIRE(m.ok());
  auto s = onnx::session::create(*m);
  REQUIRE(s.ok());
  const onnx::named_input feed[] = {{s->inputs()[0].name, nn::any_view(const_cast<float*>(in.values.data()), nn::elem_type::f32, shape_t{16, 1, 8, 8})}};
  REQUIRE(s->run(feed).ok());
  const nn::any_view session_out = s->output(0);
  REQUIRE(session_out.size() == 160);

  auto check_net = [&](auto& net, const char* what) {
    INFO(what);
    std::vector<float> got(160);
    std::size_t allocations = 0;
    status st;
    allocations = heap_allocations_during([&] { st = net.forward(got.data(), in.values.data(), 16); });
    REQUIRE(st.ok());
    CHECK(allocations == 0);
    CHECK(max_abs_diff(got.data(), want.values.data(), 160) <= 1e-4);
    CHECK(max_abs_diff(got.data(), session_out.ptr<const float>(), 160) <= 1e-4);
    // One sample at a time gives the same rows.
    std::vector<float> one(10);
    for (int i = 0; i < 16; ++i) {
      REQUIRE(net.forward(one.data(), in.values.data() + 64 * i, 1).ok());
      CHECK(max_abs_diff(one.data(), got.data() + 10 * i, 10) <= 1e-6);
    }
  };
  const std::initializer_list<std::string_view> names = {"conv0", "conv1", "fc0"};
  digits_net from_safetensors;
  const status b1 = from_safetensors.bind(nn::safetensors_weights(*st_file), names);
  REQUIRE_MESSAGE(b1.ok(), b1.what());
  check_net(from_safetensors, "safetensors");
  digits_net from_npy;
  const status b2 = from_npy.bind(nn::npy_weights(npy_named), names);
  REQUIRE_MESSAGE(b2.ok(), b2.what());
  check_net(from_npy, "npy");
}

namespace {

// Scalar double reference: conv (stride 1, pad P) + batch norm + relu, then 2x2 average pool,
// then global average, then a dense layer; NCHW.
struct ref_params {
  int C = 3, H = 6, W = 5, OC = 4, K = 3, P = 1;
};
std::vector<double> reference(const ref_params& r, const std::vector<float>& x, const std::vector<float>& cw, const std::vector<float>& cb,
                              const std::vector<float>* bn, const std::vector<float>& fw, const std::vector<float>& fb, int F) {
  const int OH = r.H + 2 * r.P - r.K + 1, OW = r.W + 2 * r.P - r.K + 1;
  std::vector<double> y(static_cast<std::size_t>(r.OC * OH * OW));
  for (int o = 0; o < r.OC; ++o)
    for (int i = 0; i < OH; ++i)
      for (int j = 0; j < OW; ++j) {
        double acc = cb[o];
        for (int c = 0; c < r.C; ++c)
          for (int ki = 0; ki < r.K; ++ki)
            for (int kj = 0; kj < r.K; ++kj) {
              const int ii = i + ki - r.P, jj = j + kj - r.P;
              if (ii < 0 || jj < 0 || ii >= r.H || jj >= r.W) continue;
              acc += double(x[(c * r.H + ii) * r.W + jj]) * cw[((o * r.C + c) * r.K + ki) * r.K + kj];
            }
        const double g = bn[0][o], b = bn[1][o], mean = bn[2][o], var = bn[3][o];
        acc = (acc - mean) / std::sqrt(var + 1e-5) * g + b;
        y[(o * OH + i) * OW + j] = std::max(acc, 0.0);
      }
  const int PH = OH / 2, PW = OW / 2;
  std::vector<double> g(static_cast<std::size_t>(r.OC), 0.0);
  for (int o = 0; o < r.OC; ++o)
    for (int i = 0; i < PH; ++i)
      for (int j = 0; j < PW; ++j) {
        double s = 0;
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) s += y[(o * OH + 2 * i + a) * OW + 2 * j + b];
        g[o] += s / 4 / (PH * PW);
      }
  std::vector<double> out(static_cast<std::size_t>(F));
  for (int f = 0; f < F; ++f) {
    out[f] = fb[f];
    for (int o = 0; o < r.OC; ++o) out[f] += g[o] * fw[f * r.OC + o];
  }
  return out;
}

std::vector<float> pseudo_random(std::size_t n, unsigned seed, float lo, float hi) {
  std::vector<float> v(n);
  std::uint32_t s = seed * 2654435761u + 1;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * float(s >> 8) / float(1u << 24);
  }
  return v;
}

}  // namespace

TEST_CASE("static_net: conv + batch_norm + relu + avg_pool + global_avg_pool + dense against a double reference, embedded weights") {
  using net_t = nn::static_net<nn::input<3, 6, 5>, nn::conv2d<4, 3, 1, 1>, nn::batch_norm<>, nn::relu, nn::avg_pool2d<2>, nn::global_avg_pool,
                               nn::flatten, nn::dense<7>>;
  static_assert(std::is_same_v<net_t::output_shape, nn::act_shape<7, 1, 1>>);
  const ref_params r;
  const auto x = pseudo_random(3 * 6 * 5, 1, -1, 1);
  const auto cw = pseudo_random(4 * 3 * 9, 2, -0.5f, 0.5f), cb = pseudo_random(4, 3, -0.2f, 0.2f);
  const std::vector<float> bn[4] = {pseudo_random(4, 4, 0.5f, 1.5f), pseudo_random(4, 5, -0.3f, 0.3f), pseudo_random(4, 6, -0.2f, 0.2f),
                                    pseudo_random(4, 7, 0.1f, 2.0f)};
  const auto fw = pseudo_random(7 * 4, 8, -1, 1), fb = pseudo_random(7, 9, -0.1f, 0.1f);
  const nn::embedded_tensor tensors[] = {
      {"0.weight", 4, {4, 3, 3, 3}, cw.data()},  {"0.bias", 1, {4}, cb.data()},          {"1.weight", 1, {4}, bn[0].data()},
      {"1.bias", 1, {4}, bn[1].data()},          {"1.running_mean", 1, {4}, bn[2].data()}, {"1.running_var", 1, {4}, bn[3].data()},
      {"6.weight", 2, {7, 4}, fw.data()},        {"6.bias", 1, {7}, fb.data()},
  };
  net_t net;
  const status st = net.bind(nn::embedded_weights(tensors));  // default names: positions after the input
  REQUIRE_MESSAGE(st.ok(), st.what());
  float got[7];
  REQUIRE(net.forward(got, x.data()).ok());
  const auto want = reference(r, x, cw, cb, bn, fw, fb, 7);
  for (int i = 0; i < 7; ++i) CHECK(std::fabs(got[i] - want[i]) <= 1e-5 * (1 + std::fabs(want[i])));
}

TEST_CASE("static_net: a flattened multi-channel output comes back in PyTorch's (c, h, w) order, unfused relu in place") {
  // conv -> max_pool -> relu (not fused: it follows a pool) -> flatten: the output is the
  // pooled tensor itself, compared with the double reference's layout.
  using net_t = nn::static_net<nn::input<2, 4, 4>, nn::conv2d<3, 1>, nn::max_pool2d<2>, nn::relu, nn::flatten>;
  static_assert(net_t::output_size == 12);
  const auto x = pseudo_random(32, 11, -1, 1), w = pseudo_random(6, 12, -1, 1), b = pseudo_random(3, 13, -0.5f, 0.5f);
  const nn::embedded_tensor tensors[] = {{"c.weight", 4, {3, 2, 1, 1}, w.data()}, {"c.bias", 1, {3}, b.data()}};
  net_t net;
  REQUIRE(net.bind(nn::embedded_weights(tensors), {"c"}).ok());
  float got[12];
  REQUIRE(net.forward(got, x.data()).ok());
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        double m = -1e30;
        for (int a = 0; a < 2; ++a)
          for (int c = 0; c < 2; ++c) {
            double v = b[o];
            for (int ci = 0; ci < 2; ++ci) v += double(w[o * 2 + ci]) * x[(ci * 4 + 2 * i + a) * 4 + 2 * j + c];
            m = std::max(m, v);
          }
        CHECK(std::fabs(got[(o * 2 + i) * 2 + j] - std::max(m, 0.0)) <= 1e-5);
      }
}

TEST_CASE("static_net: bind errors name the layer and the tensor; forward before bind fails") {
  const std::vector<float> w(16 * 9, 0.1f), b(16, 0.0f), fw(10 * 256, 0.0f), fb(10, 0.0f);
  using net_t = nn::static_net<nn::input<1, 8, 8>, nn::conv2d<16, 3, 1, 1>, nn::relu, nn::max_pool2d<2>, nn::flatten, nn::dense<10>>;
  float out[10];
  const float in[64] = {};
  {
    net_t net;
    CHECK_FALSE(net.forward(out, in).ok());
    const std::vector<float> w5(16 * 25, 0.1f);  // an embedded array must hold what its shape declares
    const nn::embedded_tensor wrong[] = {{"conv.weight", 4, {16, 1, 5, 5}, w5.data()}, {"conv.bias", 1, {16}, b.data()}};
    const status st = net.bind(nn::embedded_weights(wrong), {"conv", "fc"});
    REQUIRE_FALSE(st.ok());
    CHECK(st.err().message.find("layer 0 (conv2d 'conv')") != std::string::npos);
    CHECK(st.err().message.find("'conv.weight' has shape [16, 1, 5, 5], expected [16, 1, 3, 3]") != std::string::npos);
    CHECK_FALSE(net.forward(out, in).ok());
  }
  {
    net_t net;
    const nn::embedded_tensor missing[] = {{"conv.weight", 4, {16, 1, 3, 3}, w.data()}, {"conv.bias", 1, {16}, b.data()},
                                           {"fc.weight", 2, {10, 256}, fw.data()}};
    const status st = net.bind(nn::embedded_weights(missing), {"conv", "fc"});
    REQUIRE_FALSE(st.ok());
    CHECK(st.err().message.find("layer 4 (dense 'fc')") != std::string::npos);
    CHECK(st.err().message.find("fc.bias") != std::string::npos);
    CHECK_FALSE(net.bind(nn::embedded_weights(missing), {"conv"}).ok());  // one name short
  }
  {
    net_t net;
    const nn::embedded_tensor good[] = {{"conv.weight", 4, {16, 1, 3, 3}, w.data()}, {"conv.bias", 1, {16}, b.data()},
                                        {"fc.weight", 2, {10, 256}, fw.data()}, {"fc.bias", 1, {10}, fb.data()}};
    REQUIRE(net.bind(nn::embedded_weights(good), {"conv", "fc"}).ok());
    CHECK(net.forward(out, in).ok());
    CHECK_FALSE(net.forward(out, in, 2).ok());  // more than max_batch
  }
  {
    // A safetensors file with an integer tensor where floats are expected.
    const std::vector<std::uint8_t> ints(16 * 9);
    const io::safetensors_entry e[] = {{"conv.weight", io::safetensors_dtype::i8, {16, 1, 3, 3}, ints}};
    auto bytes = io::write_safetensors(e);
    REQUIRE(bytes.ok());
    auto f = io::safetensors_file::parse(*bytes);
    REQUIRE(f.ok());
    net_t net;
    const status st = net.bind(nn::safetensors_weights(*f), {"conv", "fc"});
    REQUIRE_FALSE(st.ok());
    CHECK(st.err().message.find("I8") != std::string::npos);
  }
}
