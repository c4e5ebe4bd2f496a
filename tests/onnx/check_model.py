"""check_model.py - the exported ONNX models of DIR/cases.json (written by
export_models.c) as the onnx package (python3-onnx) reads them:

  - onnx.checker.check_model with full_check (strict shape inference)
    accepts each model;
  - every field holds what onnx.h promises (IR version, opset, producer,
    names, dynamic batch dimension, doc strings, operators and their
    attributes, raw float32 initializers of the right shapes), and no field
    number is unknown to the schema;
  - the protobuf library serialises the parsed model back to the same bytes
    (our encoder writes the canonical encoding);
  - a forward pass in numpy (double precision) from the initializers as
    parsed reproduces the C forward pass's outputs within 1e-5.

usage: python3 check_model.py DIR
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

TOLERANCE = 1e-5
NORM_OPS = ["Gemm", "Cast", "ReduceSumSquare", "Sqrt", "Cast", "Max", "Reciprocal", "Mul"]


def no_unknown_fields(msg):
    """True when msg and every message inside it parsed without a field
    number foreign to onnx.proto."""
    if len(msg.UnknownFields()) != 0:
        return False
    for field, value in msg.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        values = value if field.label == field.LABEL_REPEATED else [value]
        if not all(no_unknown_fields(v) for v in values):
            return False
    return True


def shape_of(value_info):
    t = value_info.type.tensor_type
    assert t.elem_type == TensorProto.FLOAT, value_info
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim]


def forward(inits, hidden, X):
    """The embedder in numpy, double precision, from the initializers."""
    h = X.astype(np.float64)
    for l in range(hidden + 1):
        h = h @ inits[f"layer{l}_weight"].T + inits[f"layer{l}_bias"]
        if l < hidden:
            h = np.maximum(h, 0)
            h = (h - inits[f"layer{l}_bn_mean"]) / np.sqrt(inits[f"layer{l}_bn_var"] + 1e-5) \
                * inits[f"layer{l}_bn_scale"] + inits[f"layer{l}_bn_bias"]
    norm = np.sqrt((h * h).sum(axis=1, keepdims=True))
    return h / np.maximum(norm, 1e-12)


def check(d, c):
    path = os.path.join(d, c["name"] + ".onnx")
    data = open(path, "rb").read()
    assert len(data) == c["bytes"], (len(data), c["bytes"])
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m, full_check=True)
    assert no_unknown_fields(m)
    assert m.SerializeToString() == data, "not the canonical encoding"

    assert m.ir_version == 7
    assert [(o.domain, o.version) for o in m.opset_import] == [("", 13)]
    assert m.producer_name == "semiperso"
    assert m.producer_version == c["producer_version"]
    assert m.model_version == c["model_version"]
    g = m.graph
    assert g.name == c["graph_name"]
    hidden, din, dout = len(c["dims"]) - 2, c["input_dim"], c["output_dim"]
    assert f"[batch, {din}]" in m.doc_string and f"{hidden} x (Gemm" in m.doc_string, m.doc_string

    assert [i.name for i in g.input] == ["features"] and [o.name for o in g.output] == ["embedding"]
    assert shape_of(g.input[0]) == ["batch", din] and shape_of(g.output[0]) == ["batch", dout]
    n_blocks, block = c["blocks"]
    layout = (f"{n_blocks} groups of {block}, then {din - n_blocks * block} scalars"
              if n_blocks else f"one row of {din} floats per user")
    assert layout in g.input[0].doc_string, g.input[0].doc_string
    assert "1e-12" in g.output[0].doc_string

    ops = [n.op_type for n in g.node]
    assert ops == ["Gemm", "Relu", "BatchNormalization"] * hidden + NORM_OPS, ops
    attrs = [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for n in g.node]
    for n, a in zip(g.node, attrs):
        if n.op_type == "Gemm":
            assert a == {"transB": 1}, a
        elif n.op_type == "BatchNormalization":
            assert a == {"epsilon": np.float32(1e-5)}, a
        elif n.op_type == "ReduceSumSquare":
            assert a == {"axes": [1]}, a  # keepdims: its default, 1
        elif n.op_type == "Cast":
            assert a["to"] in (TensorProto.DOUBLE, TensorProto.FLOAT)
        else:
            assert a == {}, (n.op_type, a)
    assert [a["to"] for n, a in zip(g.node, attrs) if n.op_type == "Cast"] == \
        [TensorProto.DOUBLE, TensorProto.FLOAT]

    dims = c["dims"]
    want = {}
    for l in range(hidden + 1):
        want[f"layer{l}_weight"] = [dims[l + 1], dims[l]]
        want[f"layer{l}_bias"] = [dims[l + 1]]
        if l < hidden:
            for k in ("bn_scale", "bn_bias", "bn_mean", "bn_var"):
                want[f"layer{l}_{k}"] = [dims[l + 1]]
    want["norm_floor"] = []
    assert {t.name: list(t.dims) for t in g.initializer} == want
    for t in g.initializer:
        assert t.data_type == TensorProto.FLOAT and not t.float_data
        assert len(t.raw_data) == 4 * int(np.prod(t.dims, dtype=np.int64)), t.name
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    assert inits["norm_floor"] == np.float32(1e-12)

    inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    types = {v.name: v.type.tensor_type for v in inferred.graph.value_info}
    assert types["norm_sq_double"].elem_type == TensorProto.DOUBLE
    assert [x.dim_param or x.dim_value for x in types["norm_sq_double"].shape.dim] == ["batch", 1]

    X = np.fromfile(os.path.join(d, c["name"] + ".in.f32"), dtype=np.float32).reshape(-1, din)
    Y = np.fromfile(os.path.join(d, c["name"] + ".out.f32"), dtype=np.float32).reshape(-1, dout)
    diff = np.abs(forward(inits, hidden, X) - Y).max()
    assert diff <= TOLERANCE, diff
    print(f"ok {c['name']}: checker, fields, canonical bytes; numpy forward within {diff:.3e}")


def main():
    d = sys.argv[1]
    cases = json.load(open(os.path.join(d, "cases.json")))
    for c in cases:
        check(d, c)
    print(f"onnx {onnx.__version__}: {len(cases)} models checked")


if __name__ == "__main__":
    main()
