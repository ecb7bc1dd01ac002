"""The single op definitions: TensorRT-safe types, dict rendering, validator messages, and that the ONNX
functions, node helper and reference all agree with the spec."""

import inspect

import numpy as np
import onnx
import pytest
from onnx import helper

from dspark_compile.errors import ExportError
from dspark_compile.ops import reference as R
from dspark_compile.ops.onnx_functions import add_op_functions, make_function, make_op_model, make_op_node
from dspark_compile.ops.spec import (DOMAIN, INT32_MAX, OPS, AttrType, get_spec, spec_to_dict, validate_node)


@pytest.mark.parametrize("spec", OPS.values(), ids=list(OPS))
def test_spec_is_tensorrt_safe(spec):
    assert spec.domain == DOMAIN and isinstance(spec.version, int) and spec.version >= 1
    for t in spec.outputs:
        assert set(t.dtypes) <= {"int32", "float32"}
    for t in spec.inputs:
        assert "int64" not in t.dtypes and "bool" not in t.dtypes
    for a in spec.attributes:
        assert a.type in AttrType
        if a.type in (AttrType.INT, AttrType.INTS):
            assert -(2**31) <= a.min <= a.default <= a.max <= INT32_MAX
    names = [*spec.input_names, *spec.output_names, *(a.name for a in spec.attributes)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", OPS.values(), ids=list(OPS))
def test_spec_to_dict_is_plain_data(spec):
    d = spec_to_dict(spec)
    assert d["name"] == spec.name and d["domain"] == DOMAIN and d["version"] == spec.version
    assert [i["name"] for i in d["inputs"]] == list(spec.input_names)
    assert [a["name"] for a in d["attributes"]] == [a.name for a in spec.attributes]

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return x is None or type(x) in (str, int, float)
    assert plain(d)


@pytest.mark.parametrize("spec", OPS.values(), ids=list(OPS))
def test_function_and_reference_signatures_follow_spec(spec):
    f = make_function(spec.name)
    assert (f.domain, f.name) == (DOMAIN, spec.name)
    assert list(f.input) == list(spec.input_names) and list(f.output) == list(spec.output_names)
    assert {a.name: helper.get_attribute_value(a) for a in f.attribute_proto} == \
        pytest.approx({a.name: a.default for a in spec.attributes})
    ref = {"DraftSample": R.draft_sample, "Schedule": R.schedule, "Verify": R.verify}[spec.name]
    params = inspect.signature(ref).parameters
    assert [p for p in params if params[p].kind != inspect.Parameter.KEYWORD_ONLY] == list(spec.input_names)
    assert [p for p in params if params[p].kind == inspect.Parameter.KEYWORD_ONLY] == \
        [a.name for a in spec.attributes]
    assert all(params[a.name].default == a.default for a in spec.attributes)


@pytest.mark.parametrize("name", list(OPS))
def test_single_op_model_passes_full_checker(name):
    onnx.checker.check_model(make_op_model(name), full_check=True)


def test_make_op_node_writes_every_attribute():
    node = make_op_node("Schedule", ["s", "l", "c", "a"], ["n"], mode=1, threshold=1)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attrs == {"mode": 1, "fixed_len": INT32_MAX, "threshold": 1.0, "min_len": 0, "max_len": INT32_MAX}
    kinds = {a.name: a.type for a in node.attribute}
    assert kinds["threshold"] == onnx.AttributeProto.FLOAT  # 1 became 1.0: TensorRT gets kFLOAT32
    assert validate_node(node)["mode"] == 1


def _node(op="Schedule", domain=DOMAIN, n_in=4, n_out=1, **attrs):
    return helper.make_node(op, [f"i{k}" for k in range(n_in)], [f"o{k}" for k in range(n_out)], name="n0",
                            domain=domain, **attrs)


@pytest.mark.parametrize("node,pattern", [
    (_node(domain="com.example"), r"node 'n0' \(com.example::Schedule\): DSpark ops live in domain 'dspark'"),
    (_node(domain=""), r"ai.onnx::Schedule.*domain 'dspark'"),
    (_node(op="Sample"), r"unknown DSpark op 'Sample'; known ops: DraftSample, Schedule, Verify"),
    (_node(mode=4), r"Schedule: attribute 'mode' = 4 is out of range; allowed: one of 0, 1, 2, 3"),
    (_node(threshold=1.5), r"attribute 'threshold' = 1.5 is out of range; allowed: FLOAT in \[0.0, 1.0\]"),
    (_node(mode=1.0), r"attribute 'mode' must be INT"),
    (_node(fixed_len=-1), r"'fixed_len' = -1 is out of range; allowed: INT in \[0, 2147483647\]"),
    (_node(max_len=2**31), r"'max_len' = 2147483648 is out of range"),
    (_node(min_len=4, max_len=2), r"violate the constraint 'min_len <= max_len'"),
    (_node(speed=2), r"Schedule: unknown attribute 'speed'; known attributes: mode, fixed_len, threshold"),
    (_node(n_in=3), r"needs 4 non-empty inputs \(survivals, lagged_survivals, cost_table, active\)"),
    (_node(n_out=2), r"needs 1 outputs \(verify_lengths\)"),
    (_node(op="Verify", n_in=10, n_out=2, residual_eps=[0.1]), r"'residual_eps' must be FLOAT"),
    (_node(op="DraftSample", n_in=13, n_out=5, k=1), r"DraftSample: unknown attribute 'k'; known attributes: none"),
])
def test_validator_messages(node, pattern):
    with pytest.raises(ExportError, match=pattern):
        validate_node(node)


def test_make_op_node_and_model_reject_bad_requests():
    with pytest.raises(ExportError, match="unknown DSpark op 'Sampler'"):
        make_op_node("Sampler", [], [])
    with pytest.raises(ExportError, match="'residual_eps' = 'big' has the wrong type"):
        make_op_node("Verify", list("abcdefghi"), ["x", "y"], residual_eps="big")
    with pytest.raises(ExportError, match="input 'anchor' cannot be float32"):
        make_op_model("DraftSample", {"anchor": "float32"})


def test_add_op_functions_checks_opset_and_nodes():
    node = make_op_node("Schedule", ["s", "l", "c", "a"], ["n"])
    graph = helper.make_graph([node], "g", [], [])
    with pytest.raises(ExportError, match="opset >= 18; the model has 17"):
        add_op_functions(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    bad = helper.make_graph([_node(mode=9)], "g", [], [])
    with pytest.raises(ExportError, match="'mode' = 9"):
        add_op_functions(helper.make_model(bad, opset_imports=[helper.make_opsetid("", 18)]))
    model = add_op_functions(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert [f.name for f in model.functions] == ["Schedule"]
    assert {o.domain: o.version for o in model.opset_import}[DOMAIN] == get_spec("Schedule").version
    assert [f.name for f in add_op_functions(model).functions] == ["Schedule"]  # idempotent


def test_functions_run_at_newer_opsets():
    import onnxruntime as ort
    from ops_inputs import schedule_inputs

    inputs = schedule_inputs(np.random.default_rng(0), 3, 4)
    for opset in (18, 21):
        model = make_op_model("Schedule", opset=opset)
        out = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)
        np.testing.assert_array_equal(out[0], R.schedule(**inputs))
