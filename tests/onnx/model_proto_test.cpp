// The ONNX model structure: every field of the fixtures scripts/make_onnx_fixtures.py wrote,
// the validation of tensors built by hand, external data, the conformance models of
// ../shared (when present), and damaged files (errors, never crashes).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "support/protobuf_writer.hpp"
#include "tessera/io/file.hpp"
#include "tessera/onnx/model_proto.hpp"

using namespace tessera;
using onnx::attribute_type;
using onnx::data_type;
using test::pb_writer;

namespace {

const std::string kFixtures = std::string(TESSERA_SOURCE_DIR) + "/tests/onnx/fixtures";

std::vector<std::uint8_t> read_fixture(const std::string& name) {
  auto bytes = io::read_file_bytes(kFixtures + "/" + name);
  REQUIRE_MESSAGE(bytes.ok(), bytes.what());
  return std::move(bytes).value();
}

// The fixture script's weights: ((i % 7) - 3) * 0.25.
std::vector<float> fixture_weights(std::size_t n) {
  std::vector<float> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<float>((static_cast<int>(i % 7) - 3) * 0.25);
  return w;
}

std::vector<std::string_view> names(std::vector<std::string_view> v) { return v; }

void check_dims(const onnx::value_info_proto& v, std::string_view param0, std::vector<std::int64_t> rest) {
  REQUIRE(v.has_shape);
  REQUIRE(v.shape.size() == rest.size() + 1);
  CHECK(!v.shape[0].has_value);
  CHECK(v.shape[0].param == param0);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    CHECK(v.shape[i + 1].has_value);
    CHECK(v.shape[i + 1].value == rest[i]);
  }
}

// A TensorProto by hand: dims (packed), data_type, then whatever `data` adds.
pb_writer tensor_bytes(std::initializer_list<std::int64_t> dims, std::int64_t type) {
  pb_writer w;
  w.packed_varints(1, dims).int_field(2, type).string_field(8, "t");
  return w;
}

std::string tensor_error(const pb_writer& w) {
  auto t = onnx::parse_tensor(w.span());
  return t.ok() ? std::string() : t.err().message;
}

}  // namespace

TEST_SUITE("onnx/model_proto") {
TEST_CASE("conv_relu fixture: every field") {
  const auto bytes = read_fixture("conv_relu.onnx");
  auto parsed = onnx::parse_model(bytes);
  REQUIRE_MESSAGE(parsed.ok(), parsed.what());
  const onnx::model_proto& m = *parsed;
  CHECK(m.ir_version == 7);
  CHECK(m.producer_name == "tessera-fixtures");
  CHECK(m.producer_version == "1");
  REQUIRE(m.opset_import.size() == 1);
  CHECK(m.opset_import[0].domain == "");
  CHECK(m.opset_import[0].version == 13);

  const onnx::graph_proto& g = m.graph;
  CHECK(g.name == "conv_relu");
  REQUIRE(g.nodes.size() == 3);
  const auto& conv = g.nodes[0];
  CHECK(conv.op_type == "Conv");
  CHECK(conv.name == "conv0");
  CHECK(conv.domain == "");
  CHECK(conv.inputs == names({"X", "W", "B"}));
  CHECK(conv.outputs == names({"C"}));
  REQUIRE(conv.attributes.size() == 3);
  for (const char* a : {"kernel_shape", "pads", "strides"}) {
    const auto* attr = conv.find_attribute(a);
    REQUIRE(attr);
    CHECK(attr->type == attribute_type::ints);
  }
  CHECK(conv.find_attribute("kernel_shape")->ints.int64s() == std::vector<std::int64_t>{3, 3});
  CHECK(conv.find_attribute("pads")->ints.int64s() == std::vector<std::int64_t>{1, 1, 1, 1});
  CHECK(conv.find_attribute("strides")->ints.int64s() == std::vector<std::int64_t>{1, 1});
  CHECK(conv.find_attribute("dilations") == nullptr);
  CHECK(g.nodes[1].op_type == "Relu");
  CHECK(g.nodes[1].inputs == names({"C"}));
  CHECK(g.nodes[2].op_type == "Reshape");
  CHECK(g.nodes[2].inputs == names({"R", "shape"}));
  CHECK(g.nodes[2].outputs == names({"Y"}));

  REQUIRE(g.initializers.size() == 4);
  const auto& w = g.initializers[0];
  CHECK(w.name == "W");
  CHECK(w.type == data_type::float32);
  CHECK(w.dims == std::vector<std::int64_t>{4, 3, 3, 3});
  CHECK(w.numel == 108);
  CHECK(w.has_raw_data);
  CHECK(w.raw_data.size() == 432);
  CHECK(w.floats().value() == fixture_weights(108));
  const auto& b = g.initializers[1];
  CHECK(b.name == "B");
  CHECK(!b.has_raw_data);
  CHECK(b.float_data.size() == 4);
  CHECK(b.floats().value() == std::vector<float>{0.5f, -0.5f, 1.0f, -1.0f});
  CHECK(!b.int64s().ok());  // a float tensor is not int64
  CHECK(g.initializers[2].name == "shape");
  CHECK(g.initializers[2].type == data_type::int64);
  CHECK(g.initializers[2].int64_data.size() == 2);
  CHECK(g.initializers[2].int64s().value() == std::vector<std::int64_t>{1, -1});
  CHECK(g.initializers[3].has_raw_data);
  CHECK(g.initializers[3].int64s().value() == std::vector<std::int64_t>{1, 256});
  CHECK(g.initializer_is_input == std::vector<bool>{true, false, false, false});

  REQUIRE(g.inputs.size() == 2);
  CHECK(g.inputs[0].name == "X");
  CHECK(g.inputs[0].is_tensor);
  CHECK(g.inputs[0].elem_type == data_type::float32);
  CHECK(!g.inputs[0].is_initializer);
  check_dims(g.inputs[0], "N", {3, 8, 8});
  CHECK(g.inputs[1].name == "W");
  CHECK(g.inputs[1].is_initializer);
  REQUIRE(g.outputs.size() == 1);
  CHECK(g.outputs[0].name == "Y");
  check_dims(g.outputs[0], "N", {256});
  REQUIRE(g.value_info.size() == 1);
  CHECK(g.value_info[0].name == "C");
  check_dims(g.value_info[0], "N", {4, 8, 8});
}

TEST_CASE("attributes fixture: an attribute of every type") {
  const auto bytes = read_fixture("attributes.onnx");
  auto parsed = onnx::parse_model(bytes);
  REQUIRE_MESSAGE(parsed.ok(), parsed.what());
  CHECK(parsed->ir_version == 8);
  REQUIRE(parsed->opset_import.size() == 2);
  CHECK(parsed->opset_import[1].domain == "tessera.test");
  CHECK(parsed->opset_import[1].version == 1);
  REQUIRE(parsed->graph.nodes.size() == 1);
  const auto& n = parsed->graph.nodes[0];
  CHECK(n.op_type == "AllAttrs");
  CHECK(n.domain == "tessera.test");
  CHECK(n.attributes.size() == 9);
  auto attr = [&](const char* name, attribute_type type) -> const onnx::attribute_proto& {
    const auto* a = n.find_attribute(name);
    REQUIRE_MESSAGE(a, name);
    CHECK(a->type == type);
    return *a;
  };
  CHECK(attr("f", attribute_type::float32).f == 1.25f);
  CHECK(attr("i", attribute_type::int64).i == -42);
  CHECK(attr("s", attribute_type::string).s == "hello");
  const auto& t = attr("t", attribute_type::tensor);
  REQUIRE(t.t.size() == 1);
  CHECK(t.t[0].type == data_type::int32);
  CHECK(t.t[0].int32_data.int32s() == std::vector<std::int32_t>{7, -8, 9});
  CHECK(t.t[0].int64s().value() == std::vector<std::int64_t>{7, -8, 9});
  const auto& g = attr("g", attribute_type::graph);
  REQUIRE(g.g.size() == 1);
  CHECK(g.g[0].name == "body");
  REQUIRE(g.g[0].nodes.size() == 1);
  CHECK(g.g[0].nodes[0].op_type == "Identity");
  CHECK(attr("floats", attribute_type::floats).floats.floats() == std::vector<float>{0.5f, -1.5f, 3.0f});
  CHECK(attr("ints", attribute_type::ints).ints.int64s() == std::vector<std::int64_t>{1, -2, 300000000000});
  CHECK(attr("strings", attribute_type::strings).strings == names({"a", "bc"}));
  const auto& ts = attr("tensors", attribute_type::tensors);
  REQUIRE(ts.tensors.size() == 2);
  CHECK(ts.tensors[0].name == "t");
  CHECK(ts.tensors[1].type == data_type::float64);
  CHECK(ts.tensors[1].double_data.doubles() == std::vector<double>{1.5, -2.5});
}

TEST_CASE("external data: location, range, resolution") {
  const auto bytes = read_fixture("external.onnx");
  auto parsed = onnx::parse_model(bytes);
  REQUIRE_MESSAGE(parsed.ok(), parsed.what());
  REQUIRE(parsed->graph.initializers.size() == 1);
  const onnx::tensor_proto& e = parsed->graph.initializers[0];
  CHECK(e.name == "E");
  CHECK(e.is_external());
  CHECK(e.external.location == "external.bin");
  CHECK(e.external.offset == 16);
  CHECK(e.external.has_length);
  CHECK(e.external.length == 24);
  CHECK(!e.floats().ok());  // unresolved

  auto from_dir = onnx::read_external(e, kFixtures);
  REQUIRE_MESSAGE(from_dir.ok(), from_dir.what());
  CHECK(from_dir->size() == 24);
  std::vector<float> got(6);
  std::memcpy(got.data(), from_dir->data(), 24);
  CHECK(got == fixture_weights(6));

  const auto file = read_fixture("external.bin");
  std::string asked;
  auto view = onnx::resolve_external(e, [&](std::string_view loc) -> expected<onnx::bytes_view> {
    asked = std::string(loc);
    return onnx::bytes_view(file);
  });
  REQUIRE_MESSAGE(view.ok(), view.what());
  CHECK(asked == "external.bin");
  CHECK(view->data() == file.data() + 16);

  SUBCASE("a range past the end of the file") {
    const std::vector<std::uint8_t> short_file(30);
    auto r = onnx::resolve_external(e, [&](std::string_view) -> expected<onnx::bytes_view> { return onnx::bytes_view(short_file); });
    CHECK(r.err().code == errc::out_of_range);
    onnx::tensor_proto far = e;
    far.external.offset = UINT64_MAX - 4;  // offset + length would wrap
    CHECK(onnx::resolve_external(far, [&](std::string_view) -> expected<onnx::bytes_view> { return onnx::bytes_view(file); })
              .err().code == errc::out_of_range);
  }
  SUBCASE("locations outside the model's directory") {
    for (const char* loc : {"/etc/passwd", "../secret.bin", "a/../../b", "..", "C:\\x", "a\\b", ""}) {
      onnx::tensor_proto bad = e;
      bad.external.location = loc;
      CHECK_MESSAGE(!onnx::check_external_location(loc).ok(), loc);
      CHECK(!onnx::read_external(bad, kFixtures).ok());
    }
    CHECK(onnx::check_external_location("weights/w.bin").ok());
    CHECK(onnx::check_external_location("a..b").ok());
  }
  SUBCASE("a declared length that disagrees with the dims") {
    pb_writer entry_loc, entry_len, w;
    entry_loc.string_field(1, "location").string_field(2, "x.bin");
    entry_len.string_field(1, "length").string_field(2, "23");
    w = tensor_bytes({2, 3}, 1);
    w.message(13, entry_loc).message(13, entry_len).int_field(14, 1);
    CHECK(tensor_error(w).find("external length 23 != 24") != std::string::npos);
    pb_writer bad_num, w2 = tensor_bytes({2, 3}, 1);
    bad_num.string_field(1, "offset").string_field(2, "12x");
    w2.message(13, entry_loc).message(13, bad_num).int_field(14, 1);
    CHECK(tensor_error(w2).find("not a decimal number") != std::string::npos);
  }
}

TEST_CASE("tensor validation") {
  SUBCASE("valid typed and raw forms") {
    pb_writer w = tensor_bytes({2, 2}, 1);
    w.packed_floats(4, {1, 2, 3, 4});
    CHECK(tensor_error(w).empty());
    pb_writer unpacked = tensor_bytes({2}, 7);
    unpacked.int_field(7, -5).int_field(7, 6);  // one field per element is legal too
    auto t = onnx::parse_tensor(unpacked.span());
    REQUIRE(t.ok());
    CHECK(t->int64s().value() == std::vector<std::int64_t>{-5, 6});
    pb_writer empty = tensor_bytes({0, 3}, 1);
    CHECK(tensor_error(empty).empty());  // zero elements need no data
    pb_writer scalar = tensor_bytes({}, 1);
    scalar.float_field(4, 2.0f);
    CHECK(onnx::parse_tensor(scalar.span())->numel == 1);
    pb_writer int4 = tensor_bytes({3}, 22);  // three 4-bit values: two bytes
    int4.tag(9, 2).varint(2).raw({0x21, 0x03});
    CHECK(tensor_error(int4).empty());
    pb_writer str = tensor_bytes({2}, 8);
    str.string_field(6, "x").string_field(6, "yz");
    CHECK(onnx::parse_tensor(str.span())->string_data == names({"x", "yz"}));
  }
  SUBCASE("errors") {
    pb_writer neg = tensor_bytes({2, -1}, 1);
    CHECK(tensor_error(neg).find("negative dim -1") != std::string::npos);
    pb_writer unknown = tensor_bytes({1}, 99);
    CHECK(tensor_error(unknown).find("unknown data type 99") != std::string::npos);
    pb_writer undefined = tensor_bytes({1}, 0);
    CHECK(tensor_error(undefined).find("unknown data type 0") != std::string::npos);
    pb_writer overflow = tensor_bytes({1 << 30, 1 << 30, 1 << 30}, 1);
    CHECK(tensor_error(overflow).find("element count overflows") != std::string::npos);
    pb_writer raw = tensor_bytes({3}, 1);
    raw.tag(9, 2).varint(8).le(0, 8);
    CHECK(tensor_error(raw).find("raw_data of 8 bytes, 3 elements need 12") != std::string::npos);
    pb_writer count = tensor_bytes({3}, 1);
    count.packed_floats(4, {1, 2});
    CHECK(tensor_error(count).find("2 values stored, 3 expected") != std::string::npos);
    pb_writer wrong = tensor_bytes({2}, 1);
    wrong.packed_varints(7, {1, 2});
    CHECK(tensor_error(wrong).find("wrong typed field") != std::string::npos);
    pb_writer both = tensor_bytes({1}, 1);
    both.float_field(4, 1.0f).tag(9, 2).varint(4).le(0, 4);
    CHECK(tensor_error(both).find("more than one data field") != std::string::npos);
    pb_writer missing = tensor_bytes({4}, 1);
    CHECK(tensor_error(missing).find("no data for 4 elements") != std::string::npos);
    pb_writer bad_wire = tensor_bytes({1}, 1);
    bad_wire.int_field(8, 5);  // name as a varint
    CHECK(tensor_error(bad_wire).find("TensorProto.name: expected wire type length-delimited") != std::string::npos);
    pb_writer external_no_loc = tensor_bytes({1}, 1);
    external_no_loc.int_field(14, 1);
    CHECK(tensor_error(external_no_loc).find("without a location") != std::string::npos);
  }
  SUBCASE("model-level errors") {
    pb_writer no_graph;
    no_graph.int_field(1, 8);
    CHECK(onnx::parse_model(no_graph.span()).err().message.find("no graph") != std::string::npos);
    pb_writer attr, node, graph, model;
    attr.string_field(1, "a").int_field(20, 77);
    node.message(5, attr);
    graph.message(1, node);
    model.message(7, graph);
    CHECK(onnx::parse_model(model.span()).err().message.find("unknown type 77") != std::string::npos);
    pb_writer dim, shape, tt, type, vi, g2, m2;
    dim.int_field(1, -3);
    shape.message(1, dim);
    tt.int_field(1, 1).message(2, shape);
    type.message(1, tt);
    vi.string_field(1, "x").message(2, type);
    g2.message(11, vi);
    m2.message(7, g2);
    CHECK(onnx::parse_model(m2.span()).err().message.find("negative dim -3") != std::string::npos);
  }
  SUBCASE("graphs nested past the depth cap") {
    // model > graph > (node > attribute > graph) * k: each level a length prefix.
    pb_writer g;
    g.string_field(2, "leaf");
    for (int i = 0; i < 30; ++i) {
      pb_writer attr, node, outer;
      attr.string_field(1, "body").message(6, g).int_field(20, 5);
      node.message(5, attr);
      outer.message(1, node);
      g = outer;
    }
    pb_writer model;
    model.message(7, g);
    auto m = onnx::parse_model(model.span());
    CHECK(m.err().message.find("nested deeper than 64") != std::string::npos);
    CHECK(onnx::parse_model(model.span(), 100).ok());
  }
}

TEST_CASE("damaged fixtures: errors or models, never a crash") {
  for (const char* name : {"conv_relu.onnx", "attributes.onnx", "external.onnx"}) {
    const auto bytes = read_fixture(name);
    std::size_t failed = 0;
    for (int k = 0; k < 16; ++k) {
      const std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() * k / 16));
      failed += !onnx::parse_model(prefix).ok();
    }
    CHECK(failed >= 15);  // a cut may fall just after the graph field; any other prefix fails
    std::vector<std::uint8_t> flipped = bytes;
    for (std::size_t i = 0; i < flipped.size(); ++i) {
      for (std::uint8_t mask : {std::uint8_t{0xff}, std::uint8_t{0x80}, std::uint8_t{0x01}}) {
        flipped[i] ^= mask;
        auto m = onnx::parse_model(flipped);
        if (m.ok()) {  // what parses must be self-consistent
          for (const auto& t : m->graph.initializers)
            if (t.type == data_type::float32 && !t.is_external()) CHECK(t.floats()->size() == t.numel);
        }
        flipped[i] ^= mask;
      }
    }
  }
}

TEST_CASE("a file of empty messages is refused before it decodes to many times its size") {
  // An empty NodeProto, AttributeProto or GraphProto (If/Loop bodies) is 2 bytes of file and
  // sizeof(the struct) decoded: 120-250 bytes in 64-bit builds, about half in wasm32. Where that
  // is more than the bound allows per 2 bytes, enough of them to pass the 1 MB floor twice over
  // must be refused; where it is not, the struct size itself bounds them.
  const pb_writer empty;
  const std::size_t per_message = 2 * onnx::detail::kDecodedPerInputByte;
  for (const std::string what : {"nodes", "attributes", "graphs"}) {
    CAPTURE(what);
    const std::size_t size = what == "nodes" ? sizeof(onnx::node_proto) : what == "attributes" ? sizeof(onnx::attribute_proto) : sizeof(onnx::graph_proto);
    if (size <= per_message) continue;
    const std::size_t count = 2 * (std::size_t{1} << 20) / (size - per_message) + 1000;
    pb_writer graph;
    pb_writer node;
    node.string_field(4, "If");
    pb_writer attribute;
    attribute.string_field(1, "branches").int_field(20, 10);
    for (std::size_t i = 0; i < count; ++i) {
      if (what == "nodes") graph.message(1, empty);
      else if (what == "attributes") node.message(5, empty);
      else attribute.message(11, empty);
    }
    if (what == "graphs") node.message(5, attribute);
    if (what != "nodes") graph.message(1, node);
    pb_writer model;
    model.int_field(1, 8).message(7, graph);
    auto m = onnx::parse_model(model.b);
    REQUIRE_FALSE(m.ok());
    CHECK(m.what().find("outgrow the input") != std::string::npos);
  }
  // A few thousand real nodes in a small file decode (the bound has a floor of 1 MB).
  pb_writer graph;
  for (int i = 0; i < 4000; ++i) {
    pb_writer node;
    node.string_field(1, "x").string_field(2, "y").string_field(4, "Relu");
    graph.message(1, node);
  }
  pb_writer model;
  model.int_field(1, 8).message(7, graph);
  auto m = onnx::parse_model(model.b);
  REQUIRE_MESSAGE(m.ok(), m.what());
  CHECK(m->graph.nodes.size() == 4000);
}

TEST_CASE("ONNX conformance models and tensors (../shared, optional)") {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "conformance" / "onnx-node";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    MESSAGE("skipped: ", root.string(), " is absent");
    return;
  }
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory()) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  CHECK(cases.size() > 100);
  std::size_t models = 0, tensors = 0, not_tensors = 0;
  for (const auto& dir : cases) {
    auto bytes = io::read_file_bytes((dir / "model.onnx").string());
    REQUIRE_MESSAGE(bytes.ok(), bytes.what());
    auto m = onnx::parse_model(*bytes);
    CHECK_MESSAGE(m.ok(), dir.filename().string(), ": ", m.what());
    if (!m.ok()) continue;
    ++models;
    CHECK(!m->graph.nodes.empty());
    for (const auto& set : fs::directory_iterator(dir, ec)) {
      if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
      for (const auto& pb : fs::directory_iterator(set.path(), ec)) {
        if (pb.path().extension() != ".pb") continue;
        // input_N.pb / output_N.pb hold graph input/output N: a SequenceProto or an
        // OptionalProto where that value is not a tensor (test_identity_sequence, _opt).
        const std::string stem = pb.path().stem().string();
        const bool is_input = stem.rfind("input_", 0) == 0;
        const auto index = static_cast<std::size_t>(std::stoul(stem.substr(stem.find('_') + 1)));
        const auto& values = is_input ? m->graph.inputs : m->graph.outputs;
        REQUIRE_MESSAGE(index < values.size(), pb.path().string());
        if (!values[index].is_tensor) {
          ++not_tensors;
          continue;
        }
        auto tb = io::read_file_bytes(pb.path().string());
        REQUIRE(tb.ok());
        auto t = onnx::parse_tensor(*tb);
        CHECK_MESSAGE(t.ok(), pb.path().string(), ": ", t.what());
        if (!t.ok()) continue;
        ++tensors;
        if (t->type == data_type::float32) CHECK(t->floats()->size() == t->numel);
        if (t->type == data_type::int64) CHECK(t->int64s()->size() == t->numel);
      }
    }
  }
  MESSAGE(models, " conformance models and ", tensors, " tensors decoded (", not_tensors, " values not tensors)");
  CHECK(not_tensors < 10);
  CHECK(models == cases.size());
}
}
