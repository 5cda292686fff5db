#!/usr/bin/python3
"""Writes the small ONNX models that tests/onnx/model_proto_test.cpp checks field by field, and
typed_io.onnx and half_io.onnx, whose inputs and outputs are not all float32
(tests/wasm/cnn_abi_test.cpp and js/test/cnn.test.js feed and read them through the JS
package's tensor types).

Usage: /usr/bin/python3 scripts/make_onnx_fixtures.py [OUT_DIR]   (default tests/onnx/fixtures)
Needs Debian's python3-onnx (onnx.helper). The outputs are committed (a few KB) so that the
tests, native and WASM, need no Python; rerun this after changing it. The values here are
the ones the C++ test expects: change both together.
"""
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def weights(n):
    # Exact in float32, and distinct enough that a misplaced element shows.
    return [((i % 7) - 3) * 0.25 for i in range(n)]


def conv_relu():
    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 3, 3, 3],
                           np.array(weights(108), dtype="<f4").tobytes(), raw=True)
    b = helper.make_tensor("B", TensorProto.FLOAT, [4], [0.5, -0.5, 1.0, -1.0])  # float_data
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1])  # int64_data
    shape_raw = helper.make_tensor("shape_raw", TensorProto.INT64, [2],
                                   np.array([1, 256], dtype="<i8").tobytes(), raw=True)
    conv = helper.make_node("Conv", ["X", "W", "B"], ["C"], name="conv0",
                            kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    relu = helper.make_node("Relu", ["C"], ["R"], name="relu0")
    flat = helper.make_node("Reshape", ["R", "shape"], ["Y"], name="flatten0")
    graph = helper.make_graph(
        [conv, relu, flat], "conv_relu",
        inputs=[helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, 8, 8]),
                helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 3, 3, 3])],
        outputs=[helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 256])],
        initializer=[w, b, shape, shape_raw],
        value_info=[helper.make_tensor_value_info("C", TensorProto.FLOAT, ["N", 4, 8, 8])])
    model = helper.make_model(graph, producer_name="tessera-fixtures", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


def all_attributes():
    body = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "body",
                             [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
                             [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
    t = helper.make_tensor("t", TensorProto.INT32, [3], [7, -8, 9])
    t2 = helper.make_tensor("t2", TensorProto.DOUBLE, [2], [1.5, -2.5])
    node = helper.make_node("AllAttrs", ["x"], ["y"], name="n", domain="tessera.test",
                            f=1.25, i=-42, s=b"hello", t=t, g=body,
                            floats=[0.5, -1.5, 3.0], ints=[1, -2, 300000000000],
                            strings=[b"a", b"bc"], tensors=[t, t2])
    graph = helper.make_graph(
        [node], "attrs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, producer_name="tessera-fixtures",
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("tessera.test", 1)])
    model.ir_version = 8
    return model


def external(out_dir):
    values = weights(6)
    blob = b"\0" * 16 + struct.pack("<6f", *values)  # data at offset 16
    with open(os.path.join(out_dir, "external.bin"), "wb") as f:
        f.write(blob)
    w = TensorProto()
    w.name = "E"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([2, 3])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "external.bin"), ("offset", "16"), ("length", "24")):
        e = w.external_data.add()
        e.key, e.value = k, v
    node = helper.make_node("Add", ["x", "E"], ["y"])
    graph = helper.make_graph(
        [node], "external", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def typed_io():
    # Outputs of five element types from inputs of three; the tests compute the expected values.
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    nodes = [
        helper.make_node("Gather", ["x", "idx"], ["gathered"], axis=1),
        helper.make_node("ArgMax", ["x"], ["best"], axis=1, keepdims=0),
        helper.make_node("Greater", ["x", "zero"], ["positive"]),
        helper.make_node("Cast", ["pixels"], ["pixels_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["pixels_f", "x"], ["shifted"]),
        helper.make_node("Cast", ["x"], ["halves"], to=TensorProto.FLOAT16),
        helper.make_node("Cast", ["x"], ["wide"], to=TensorProto.DOUBLE),
    ]
    graph = helper.make_graph(
        nodes, "typed_io",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5]),
                helper.make_tensor_value_info("idx", TensorProto.INT64, [3]),
                helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["N", 5])],
        outputs=[helper.make_tensor_value_info("gathered", TensorProto.FLOAT, ["N", 3]),
                 helper.make_tensor_value_info("best", TensorProto.INT64, ["N"]),
                 helper.make_tensor_value_info("positive", TensorProto.BOOL, ["N", 5]),
                 helper.make_tensor_value_info("shifted", TensorProto.FLOAT, ["N", 5]),
                 helper.make_tensor_value_info("halves", TensorProto.FLOAT16, ["N", 5]),
                 helper.make_tensor_value_info("wide", TensorProto.DOUBLE, ["N", 5])],
        initializer=[zero])
    model = helper.make_model(graph, producer_name="tessera-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


def half_io():
    # float16 and bfloat16 inputs, read back as float32 (the JS package converts numbers to their bits).
    nodes = [helper.make_node("Cast", ["h"], ["h_as_float"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["b"], ["b_as_float"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(
        nodes, "half_io",
        inputs=[helper.make_tensor_value_info("h", TensorProto.FLOAT16, ["N"]),
                helper.make_tensor_value_info("b", TensorProto.BFLOAT16, ["N"])],
        outputs=[helper.make_tensor_value_info("h_as_float", TensorProto.FLOAT, ["N"]),
                 helper.make_tensor_value_info("b_as_float", TensorProto.FLOAT, ["N"])])
    model = helper.make_model(graph, producer_name="tessera-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "onnx", "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    models = {"conv_relu.onnx": conv_relu(), "attributes.onnx": all_attributes(), "external.onnx": external(out_dir),
              "typed_io.onnx": typed_io(), "half_io.onnx": half_io()}
    onnx.checker.check_model(models["conv_relu.onnx"])
    onnx.checker.check_model(models["typed_io.onnx"])
    onnx.checker.check_model(models["half_io.onnx"])
    for name, model in models.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(model.SerializeToString())
    print("wrote", ", ".join(sorted(models)), "and external.bin to", out_dir)


if __name__ == "__main__":
    main()
