"""The TensorRT backend up to its first native call: profiles, graph rewrite, and its errors."""

from __future__ import annotations

import ctypes
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from dspark_compile.config import ShapesConfig
from dspark_compile.engine.base import EngineOptions, TensorSpec
from dspark_compile.errors import BuildError, EngineError
from dspark_compile.ops.spec import DOMAIN, OPS
from dspark_compile.trt.onnx_plugins import PLUGIN_NAMESPACE, to_plugin_graph
from dspark_compile.trt.profiles import build_profiles, select_profile, target_dim_ranges

TARGET_INPUTS = (  # as export/target.py io_specs: [B,T] ids and positions, [B] lengths, [B,K] index, [B,Hkv,P,D] KV
    TensorSpec("input_ids", ("B", "T"), "int64"),
    TensorSpec("positions", ("B", "T"), "int64"),
    TensorSpec("past_lengths", ("B",), "int64"),
    TensorSpec("logit_index", ("B", "K"), "int64"),
    TensorSpec("past_key.0", ("B", 2, "P", 16), "float16"),
    TensorSpec("past_value.0", ("B", 2, "P", 16), "float16"),
)


def _has_cuda_driver() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def test_profiles_from_recipe_shapes():
    shapes = ShapesConfig(max_batch=16, max_context=256, prefill_chunk=32)
    prefill, decode = build_profiles(TARGET_INPUTS, target_dim_ranges(shapes, block_size=7))
    assert (prefill.name, decode.name) == ("prefill", "decode")
    assert prefill.shapes["input_ids"] == ((1, 1), (16, 32), (16, 32))
    assert prefill.shapes["logit_index"] == ((1, 1), (16, 1), (16, 1))
    assert prefill.shapes["past_key.0"] == ((1, 2, 1, 16), (16, 2, 128, 16), (16, 2, 256, 16))  # P: capacity
    assert decode.shapes["input_ids"] == ((1, 1), (16, 8), (16, 8))  # γ+1 verify positions
    assert decode.shapes["past_value.0"] == prefill.shapes["past_value.0"]
    for prof in (prefill, decode):  # B agrees across inputs at min, opt and max (TensorRT checks each)
        for i in range(3):
            assert len({prof.shapes[s.name][i][s.shape.index("B")] for s in TARGET_INPUTS}) == 1
    profiles = [prefill, decode]
    assert select_profile(profiles, {"input_ids": (4, 32), "past_key.0": (4, 2, 100, 16)}) == 0
    assert select_profile(profiles, {"input_ids": (4, 8), "logit_index": (4, 8), "past_key.0": (4, 2, 200, 16)}) == 1
    for beyond in ({"input_ids": (17, 1)}, {"input_ids": (4, 1), "past_key.0": (4, 2, 257, 16)}):
        with pytest.raises(EngineError, match="fit no optimisation profile"):
            select_profile(profiles, beyond)


def test_profiles_name_an_unknown_dim():
    with pytest.raises(BuildError, match="no profile range for dim 'S'"):
        build_profiles((TensorSpec("x", ("B", "S"), "int64"),), {"p": {"B": (1, 1, 1)}})


def _model_with_dspark_function() -> onnx.ModelProto:
    """A Schedule node whose ONNX function body is a stand-in, plus an unrelated local function."""
    spec = OPS["Schedule"]
    body = helper.make_function(DOMAIN, "Schedule", list(spec.input_names), list(spec.output_names),
                                [helper.make_node("Cast", ["active"], ["verify_lengths"], to=TensorProto.INT32)],
                                [helper.make_opsetid("", 18)], attributes=[a.name for a in spec.attributes])
    other = helper.make_function("local", "Twice", ["x"], ["y"], [helper.make_node("Add", ["x", "x"], ["y"])],
                                 [helper.make_opsetid("", 18)])
    node = helper.make_node("Schedule", list(spec.input_names), ["verify_lengths"], domain=DOMAIN, name="sched",
                            mode=1, threshold=0.4)
    twice = helper.make_node("Twice", ["verify_lengths"], ["out"], domain="local")
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in spec.input_names[:3]]
    io.append(helper.make_tensor_value_info("active", TensorProto.INT32, ["B"]))
    graph = helper.make_graph([node, twice], "g", io, [helper.make_tensor_value_info("out", TensorProto.INT32, ["B"])])
    return helper.make_model(graph, functions=[body, other], opset_imports=[
        helper.make_opsetid("", 18), helper.make_opsetid(DOMAIN, 1), helper.make_opsetid("local", 1)])


def test_plugin_rewrite_strips_dspark_bodies_and_tags_nodes():
    model = _model_with_dspark_function()
    out, fired = to_plugin_graph(model)
    assert fired == {"Schedule": 1}
    assert [f.name for f in out.functions] == ["Twice"]  # other domains' functions stay
    attrs = {a.name: helper.get_attribute_value(a) for a in out.graph.node[0].attribute}
    assert attrs == {"mode": 1, "threshold": pytest.approx(0.4), "plugin_namespace": PLUGIN_NAMESPACE.encode(),
                     "plugin_version": b"1"}
    assert len(model.functions) == 2  # the input is not modified
    again, _ = to_plugin_graph(out)  # idempotent: no duplicated tags
    assert len(again.graph.node[0].attribute) == 4


def test_plugin_rewrite_rejects_an_op_without_plugin():
    model = _model_with_dspark_function()
    model.graph.node[0].op_type = "Frobnicate"
    with pytest.raises(BuildError, match="Frobnicate has no TensorRT plugin"):
        to_plugin_graph(model)


def test_missing_tensorrt_says_what_to_install(monkeypatch):
    from dspark_compile.trt import import_tensorrt

    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "tensorrt_bindings", None)
    with pytest.raises(BuildError, match="pip install tensorrt-cu13"):
        import_tensorrt(BuildError)


@pytest.mark.skipif(_has_cuda_driver(), reason="this machine has an NVIDIA driver")
def test_missing_gpu_is_named():
    from dspark_compile.trt.cuda import CudaDriver

    with pytest.raises(EngineError, match="no NVIDIA driver"):
        CudaDriver(EngineError)


def test_engine_errors_before_native_calls(tmp_path, monkeypatch):
    from dspark_compile.engine.tensorrt import TrtEngine

    with pytest.raises(EngineError, match="CUDA GPUs only"):
        TrtEngine(tmp_path / "x.plan", EngineOptions(device="cpu"))
    with pytest.raises(EngineError, match="plan not found"):
        TrtEngine(tmp_path / "x.plan")
    (tmp_path / "x.plan").write_bytes(b"plan")
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "tensorrt_bindings", None)
    with pytest.raises(EngineError, match="tensorrt Python package"):
        TrtEngine(tmp_path / "x.plan")


def test_build_names_the_missing_plugin_library(monkeypatch, tmp_path):
    from dspark_compile.trt.build import find_plugin_library

    monkeypatch.delenv("DSPARK_PLUGIN_LIBRARY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BuildError, match=r"libdspark_plugins.so.11 not found.*cmake -S plugins"):
        find_plugin_library(str(tmp_path / "nope.so"), 11)
    lib = tmp_path / "libdspark_plugins.so.11"
    lib.write_bytes(b"")
    assert find_plugin_library(str(lib), 11) == lib.resolve()
    with pytest.raises(BuildError, match="compiled against TensorRT 11 headers, but this is TensorRT 10"):
        find_plugin_library(str(lib), 10)
