"""The standard-ONNX twin of a quantized graph (quantize/qdq.py): DequantizeLinear -> MatMul computes what
MatMulNBits computes, from the same blocks; it holds only standard ONNX ops (plus other domains' nodes it was
given); ONNX Runtime fuses it back into MatMulNBits; the TensorRT build parses the twin."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from dspark_compile.errors import QuantizeError
from dspark_compile.quantize.blocks import BlockQuant, from_packed, from_q4_1, quantize_rtn
from dspark_compile.quantize.config import WeightQuant
from dspark_compile.quantize.passes import MS_DOMAIN, GGUFBlocks, quantize_weights
from dspark_compile.quantize.qdq import signed_blocks, tensorrt_graph, to_qdq

K = 64
WIDTHS = {"q": 32, "k": 16, "v": 16, "o": 48}  # q/k/v read one activation (one fused MatMulNBits, then Split)


def _float_graph(weights: dict[str, np.ndarray], rank: int, lm_head: np.ndarray | None = None,
                 contrib: bool = False) -> onnx.ModelProto:
    """A [.., K] (rank 2: rows, as a row-padded target; rank 3: [B, T, K]) -> one MatMul per weight W [K, N], each a
    graph output; `lm_head` [N, K] is read through a Transpose (a tied lm_head); `contrib` adds a com.microsoft Gelu
    that is not a MatMulNBits (it must stay)."""
    dims = ["M", K] if rank == 2 else ["B", "T", K]
    nodes, inits, outs = [helper.make_node("Relu", ["a"], ["a_o"], name="relu")], [], []
    for name, w in weights.items():  # o_proj reads another activation: its own MatMulNBits and block sums
        inits.append(numpy_helper.from_array(w, f"{name}.weight"))
        x = "a_o" if name == "o" else "a"
        nodes.append(helper.make_node("MatMul", [x, f"{name}.weight"], [f"y_{name}"], name=f"/{name}/MatMul"))
        outs.append(helper.make_tensor_value_info(f"y_{name}", TensorProto.FLOAT, dims[:-1] + [w.shape[1]]))
    if lm_head is not None:
        inits.append(numpy_helper.from_array(lm_head, "embed.weight"))
        nodes.append(helper.make_node("Transpose", ["embed.weight"], ["embed_t"], perm=[1, 0]))
        nodes.append(helper.make_node("MatMul", ["a", "embed_t"], ["logits"], name="/lm_head/MatMul"))
        outs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, dims[:-1] + [lm_head.shape[0]]))
    opsets = [helper.make_opsetid("", 18)]
    if contrib:
        nodes.append(helper.make_node("Gelu", ["y_o"], ["gelu"], domain=MS_DOMAIN, name="gelu"))
        outs.append(helper.make_tensor_value_info("gelu", TensorProto.FLOAT, dims[:-1] + [WIDTHS["o"]]))
        opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, dims)], outs, inits)
    return helper.make_model(graph, opset_imports=opsets, ir_version=9)


def _weights(rng) -> dict[str, np.ndarray]:
    return {name: (rng.standard_normal((K, n)) * 0.1).astype(np.float32) for name, n in WIDTHS.items()}


def _q4_1_rows(rng, n: int) -> np.ndarray:
    """GGUF Q4_1 rows [n, K/32 * 20] as llama.cpp writes them (d = (max - min)/15, m = min), one block all positive."""
    w = rng.standard_normal((n, K // 32, 32)).astype(np.float32) * 0.05
    w[0, 0] += 0.5  # its true zero lies below q = 0: zero point 0 and a large rest
    m = w.min(-1).astype(np.float16)
    d = ((w.max(-1) - m.astype(np.float32)) / 15).astype(np.float16)
    lo, step = m.astype(np.float32)[..., None], d.astype(np.float32)[..., None]
    q = np.clip(np.rint((w - lo) / step), 0, 15).astype(np.uint8)
    raw = np.zeros((n, K // 32, 20), np.uint8)
    raw[..., 0:2] = d[..., None].view(np.uint8)
    raw[..., 2:4] = m[..., None].view(np.uint8)
    raw[..., 4:] = q[..., :16] | (q[..., 16:] << 4)
    return raw.reshape(n, -1)


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory):
    """A GGUF with one Q4_1 tensor per weight of `WIDTHS`; returns (path, float weights [K, N] equal to its rows)."""
    from gguf import GGMLQuantizationType, GGUFWriter

    from dspark_compile.quantize.blocks import gguf_values

    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    writer = GGUFWriter(str(path), "llama")
    weights = {}
    for name, n in WIDTHS.items():
        raw = _q4_1_rows(rng, n)
        writer.add_tensor(f"blk.0.{name}.weight", raw, raw_dtype=GGMLQuantizationType.Q4_1)
        weights[name] = np.ascontiguousarray(gguf_values(from_q4_1(raw)).T)  # [K, N]
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, weights


CASES = {  # scheme, symmetric
    "int4": ("int4", False), "int4-symmetric": ("int4", True), "int8": ("int8", False),
    "int8-symmetric": ("int8", True), "q4_1": ("gguf", False),
}


def _case(name, rank, gguf_file, contrib=False):
    """(float model, MatMulNBits model at accuracy_level 1, the float weights)."""
    scheme, symmetric = CASES[name]
    rng = np.random.default_rng(rank)
    if scheme == "gguf":
        path, weights = gguf_file
        model = _float_graph(weights, rank, contrib=contrib)
        quantized, _ = quantize_weights(model, WeightQuant("gguf"), GGUFBlocks(path))
    else:
        weights = _weights(rng)
        model = _float_graph(weights, rank, lm_head=(rng.standard_normal((40, K)) * 0.1).astype(np.float32),
                             contrib=contrib)
        quantized, _ = quantize_weights(model, WeightQuant(scheme, 32, symmetric, accuracy_level=1))
    return model, quantized, weights


def _run(model, a, optimize: bool = False, optimized_path=None) -> dict[str, np.ndarray]:
    opts = ort.SessionOptions()
    # a MatMulNBits fused from DQ -> MatMul computes at this level; without it at 4, int8 activations
    # (onnxruntime_session_options_config_keys.h: "If not provided, default is 4")
    opts.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "1")
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if optimized_path:
        opts.optimized_model_filepath = str(optimized_path)
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"a": a})))


def _ops(model) -> list[tuple[str, str]]:
    return [(n.domain, n.op_type) for n in model.graph.node]


def _activation(rank):
    rng = np.random.default_rng(11)
    return rng.standard_normal((5, K) if rank == 2 else (2, 3, K)).astype(np.float32)


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_twin_computes_what_matmulnbits_computes(case, rank, gguf_file):
    """fp32 DQ -> MatMul (ONNX Runtime without graph optimizations) against MatMulNBits with fp32 activations, and
    against A @ W of the blocks' own dequantized weights."""
    model, quantized, weights = _case(case, rank, gguf_file)
    assert ("com.microsoft", "MatMulNBits") in _ops(quantized)
    a = _activation(rank)
    nbits = _run(quantized, a)
    for int8_blocks in (True, False):
        twin, count = to_qdq(quantized, int8_blocks=int8_blocks)
        assert count == sum(op == "MatMulNBits" for _, op in _ops(quantized))
        got = _run(twin, a)
        assert set(got) == set(nbits)
        for name, y in got.items():
            np.testing.assert_allclose(y, nbits[name], rtol=1e-5, atol=1e-5, err_msg=f"{name} {int8_blocks}")
    scheme, symmetric = CASES[case]
    for name, w in weights.items():
        exact = w if scheme == "gguf" else quantize_rtn(w, 4 if scheme == "int4" else 8, 32, symmetric).dequantize()
        x = np.maximum(a, 0) if name == "o" else a
        np.testing.assert_allclose(got[f"y_{name}"], x @ exact, rtol=1e-5, atol=1e-5, err_msg=name)
    if "symmetric" in case:  # no zero point to carry: DQ -> MatMul (then Split) and nothing else
        ops = {op for _, op in _ops(to_qdq(quantized)[0])}
        assert ops <= {"DequantizeLinear", "MatMul", "Split", "Relu"}, ops


@pytest.mark.parametrize("case", ["int4", "q4_1", "int8"])
def test_twin_is_standard_onnx_and_keeps_other_contrib_nodes(case, gguf_file):
    _, quantized, _ = _case(case, 2, gguf_file, contrib=True)
    twin, _ = to_qdq(quantized)
    ops = _ops(twin)
    assert [op for op in ops if op[0] == MS_DOMAIN] == [(MS_DOMAIN, "Gelu")]  # ours go, the other stays
    assert {o.domain: o.version for o in twin.opset_import} == {"": 21, MS_DOMAIN: 1}
    assert twin.ir_version >= 10
    onnx.checker.check_model(twin, full_check=True)
    plain, _ = to_qdq(_case(case, 3, gguf_file)[1])
    assert all(op[0] == "" for op in _ops(plain)) and [o.domain for o in plain.opset_import] == [""]
    onnx.checker.check_model(plain, full_check=True)
    if case == "q4_1":  # the zero points' rest folded into the Q4_1 minima: one Gemm per weight, no second one
        assert sum(op == "Gemm" for _, op in ops) == sum(op == "Gemm" for _, op in _ops(quantized))
    dq = [n for n in twin.graph.node if n.op_type == "DequantizeLinear"]
    inits = {i.name: i for i in twin.graph.initializer}
    for node in dq:  # TensorRT: signed data, no zero point, positive block scales [K/32, N] on axis 0
        assert len(node.input) == 2
        assert inits[node.input[0]].data_type == (TensorProto.INT8 if case == "int8" else TensorProto.INT4)
        scale = numpy_helper.to_array(inits[node.input[1]])
        assert scale.shape[0] == K // 32 and np.all(scale > 0)
        assert {a.name: helper.get_attribute_value(a) for a in node.attribute} == {"axis": 0, "block_size": 32}


@pytest.mark.parametrize("bits", [4, 8])
def test_signed_blocks_carry_every_block(bits):
    """Zero points anywhere in [0, 2^bits), negative and zero scales: s in the signed range, scale > 0, same W."""
    rng = np.random.default_rng(bits)
    n, nb, top = 6, 3, 1 << bits
    q = rng.integers(0, top, (n, nb, 32), dtype=np.uint8)
    q[0, 0, :] = top - 1
    q[1, 0, :] = 0
    zp = rng.integers(0, top, (n, nb), dtype=np.uint8)
    zp[0, 0], zp[1, 0] = 0, top - 1
    scales = rng.uniform(0.01, 0.1, (n, nb)).astype(np.float32)
    scales[2, 1], scales[3, 2] = -0.05, 0.0
    bq = BlockQuant(bits, 32, q, scales, zp)
    sb = signed_blocks(bq)
    assert sb.s.min() >= -(top // 2) and sb.s.max() < top // 2 and np.all(sb.scale > 0)
    np.testing.assert_allclose(sb.dequantize(), bq.dequantize(), rtol=1e-6, atol=1e-6)
    packed = bq.packed()
    back = from_packed(packed["B"], packed["scales"], packed["zero_points"], bits, 32, nb * 32, n)
    assert np.array_equal(back.q, q) and np.array_equal(back.zero_points, zp) and np.array_equal(back.scales, scales)


@pytest.mark.parametrize("case", ["int4", "int8", "q4_1"])
def test_onnx_runtime_fuses_the_twin_back_into_matmulnbits(case, gguf_file, tmp_path):
    """ONNX Runtime's default optimizations (DQMatMulToMatMulNBits) turn each blocked DQ -> MatMul of the twin into
    one MatMulNBits again: the graph TensorRT reads runs ONNX Runtime's fast path too. (8-bit blocks in TensorRT's
    10.x form, a per-tensor DQ times the scales, are not fused: that form is only for TensorRT.)"""
    _, quantized, _ = _case(case, 3, gguf_file)
    twin, count = to_qdq(quantized)
    a = _activation(3)
    out = tmp_path / "optimized.onnx"
    got = _run(twin, a, optimize=True, optimized_path=out)
    fused = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert fused.count("MatMulNBits") == count and "DequantizeLinear" not in fused, fused
    for name, y in _run(quantized, a).items():
        np.testing.assert_allclose(got[name], y, rtol=1e-5, atol=1e-5)
    trt_form, _ = to_qdq(quantized, int8_blocks=False)
    _run(trt_form, a, optimize=True, optimized_path=out)
    fused = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert fused.count("MatMulNBits") == (count if case != "int8" else 0), fused


def test_a_matmulnbits_it_cannot_carry_is_named():
    w = np.random.default_rng(0).standard_normal((K, 17)).astype(np.float32) * 0.1  # N odd: no INT4 tensor in TensorRT
    quantized, _ = quantize_weights(_float_graph({"odd": w}, 2), WeightQuant("int4", 32, min_columns=1))
    with pytest.raises(QuantizeError, match="MatMulNBits '/odd/MatMul_nbits': N = 17 is odd"):
        to_qdq(quantized)


@pytest.fixture(scope="module")
def quantized_bundle(tmp_path_factory):
    """A tiny bundle with an int8 target (row-padded, zero points) and an int4 drafter (its lm_head the target's tied
    embedding, stored in target.weights), fp32 activations."""
    from tests.runtime.conftest import _copy_drafter_bundle

    return _copy_drafter_bundle(tmp_path_factory.mktemp("qdq"), "llama", 4, suffix="-q",
                                quantization={"target": "int8", "drafter": "int4", "accuracy_level": 1})


def _hidden(root) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("role", ["target", "verify", "drafter"])
def test_the_bundles_graphs_have_a_checked_twin_beside_them_for_the_build(quantized_bundle, role):
    """Each quantized graph of a real (tiny) bundle: the twin has no MatMulNBits, one DQ per MatMulNBits, every DSpark
    custom op kept, passes onnx.checker's full check (functions raised to opset 21 too) and loads in ONNX Runtime;
    its files are gone after the build."""
    from dspark_compile.bundle import load_bundle

    bundle = load_bundle(quantized_bundle, verify=False)
    path = bundle.path(bundle.engine(role)["files"][0])
    before = _ops(onnx.load(str(path), load_external_data=False))
    with tensorrt_graph(path) as twin_path:
        assert twin_path != path and twin_path.parent == path.parent
        twin = onnx.load(str(twin_path))  # every external tensor resolves (the twin's own file, the bundle's)
        after = _ops(twin)
        onnx.checker.check_model(str(twin_path), full_check=True)
        ort.InferenceSession(str(twin_path), providers=["CPUExecutionProvider"])
    assert not any(op == "MatMulNBits" for _, op in after)
    assert sum(op == "DequantizeLinear" for _, op in after) == sum(op == "MatMulNBits" for _, op in before) > 0
    custom = [op for op in before if op[0] not in ("", MS_DOMAIN)]
    assert custom == [op for op in after if op[0] not in ("", MS_DOMAIN)] and (custom or role == "target")
    assert _hidden(quantized_bundle) == []


def test_the_targets_twin_computes_the_same_logits(quantized_bundle):
    """The row-padded int8 target (zero points: block-sum rests as Gemms on the rows) and its TensorRT-form twin run
    by ONNX Runtime: the same logits for a prefill and a 3-token step."""
    from dspark_compile.bundle import load_bundle
    from dspark_compile.engine.base import load_engine
    from dspark_compile.runtime.target import ModelInfo, TargetModel

    bundle = load_bundle(quantized_bundle, verify=False)
    path = bundle.path(bundle.engine("target")["files"][0])

    def logits(graph):
        model = TargetModel(load_engine("onnxruntime", graph), ModelInfo.from_manifest(bundle.model))
        cache = model.new_cache(1, 64)
        model.prefill(cache, [np.array([5, 17, 42, 9, 100, 3])], 32)
        return model.step(cache, np.array([[7, 8, 9]]), np.arange(3)[None]).logits

    reference = logits(path)
    with tensorrt_graph(path) as twin_path:
        assert not any(op == "MatMulNBits" for _, op in _ops(onnx.load(str(twin_path), load_external_data=False)))
        np.testing.assert_allclose(logits(twin_path), reference, rtol=1e-4, atol=1e-4)


class _FakeCuda:
    """libcuda.so.1 for one GPU (the native driver this machine lacks)."""

    def __getattr__(self, name):
        def call(*args):
            if name == "cuDeviceGetName":
                args[0].value = b"Fake Orin"
            elif name == "cuDeviceGetAttribute":  # compute capability 8.7
                args[0]._obj.value = {75: 8, 76: 7}[args[1]]
            elif name in ("cuDeviceGetCount", "cuDeviceTotalMem_v2"):
                args[0]._obj.value = 1 if name == "cuDeviceGetCount" else 1 << 34
            return 0
        return call


def _fake_tensorrt(parsed: list):
    """The `tensorrt` module, as far as building reaches before its first engine: parse_from_file records what
    it was handed (the file's node kinds, read with every external tensor) and fails, so the build stops there."""
    import types

    class Parser:
        num_errors = 0

        def __init__(self, network, logger):
            pass

        def parse_from_file(self, path):
            model = onnx.load(path)
            parsed.append({"ops": {op for _, op in _ops(model)}, "domains": {o.domain for o in model.opset_import},
                           "inits": len(model.graph.initializer)})
            return False

    registry = types.SimpleNamespace(load_library=lambda path: object(), get_creator=lambda *a: object())
    builder = types.SimpleNamespace(get_plugin_registry=lambda: registry, create_network=lambda flags: object())
    return types.SimpleNamespace(
        __version__="10.3.0", Logger=type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None}),
        Builder=lambda logger: builder, NetworkDefinitionCreationFlag=types.SimpleNamespace(STRONGLY_TYPED=0),
        OnnxParser=Parser, OnnxParserFlag=types.SimpleNamespace())


def test_the_tensorrt_builds_parse_the_twin(quantized_bundle, tmp_path, monkeypatch):
    """`engines --backend tensorrt` (ship/engines.py) and the build's build_trt_engines hand TensorRT's parser the
    twin of each quantized graph, not the MatMulNBits graph; the bundle is left as it was. Only the native parts are
    faked: the tensorrt module and libcuda."""
    import ctypes
    import shutil
    import sys

    from dspark_compile.bundle import load_bundle
    from dspark_compile.errors import BuildError
    from dspark_compile.ship.engines import build_device_engines, plan_inputs
    from dspark_compile.trt.bundle import build_trt_engines

    root = tmp_path / "b"
    shutil.copytree(quantized_bundle, root)
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    parsed: list = []
    monkeypatch.setitem(sys.modules, "tensorrt", _fake_tensorrt(parsed))
    real_cdll = ctypes.CDLL
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *a, **k: _FakeCuda() if name == "libcuda.so.1"
                        else real_cdll(name, *a, **k))
    plugin = tmp_path / "libdspark_plugins.so.10"
    plugin.write_bytes(b"")
    with pytest.raises(BuildError, match="target_verify.qdq.onnx: TensorRT's ONNX parser failed"):
        build_device_engines(root, plugins=str(plugin))
    recipe, graphs, block, vocab = plan_inputs(load_bundle(root).manifest, "b")
    plans = tmp_path / "plans"
    plans.mkdir()
    with pytest.raises(BuildError, match="drafter.qdq.onnx: TensorRT's ONNX parser failed"):
        build_trt_engines(recipe, root, {"drafter": graphs["drafter"]}, block, vocab, out=plans, plugin=plugin)
    assert len(parsed) == 2
    for seen in parsed:
        assert "MatMulNBits" not in seen["ops"] and "DequantizeLinear" in seen["ops"], seen
        assert MS_DOMAIN not in seen["domains"]
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == before  # no twin left behind


def test_tensorrt_builds_the_graph_without_its_in_place_cache_outputs(quantized_bundle, tmp_path):
    """TensorRT would return whole caches every step: the graph it parses has no present_* outputs, whether it is the
    QDQ twin of a quantized graph or a plain graph's copy beside it (removed after); the runtime's graph keeps them."""
    from dspark_compile.bundle import load_bundle

    bundle = load_bundle(quantized_bundle, verify=False)
    path = bundle.path(bundle.engine("verify")["files"][0])
    outputs = [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]
    assert any(n.startswith("present_") for n in outputs)
    with tensorrt_graph(path) as twin_path:
        twin_outputs = [o.name for o in onnx.load(str(twin_path), load_external_data=False).graph.output]
    assert twin_outputs == [n for n in outputs if not n.startswith("present_")]
    plain = onnx.load(str(path), load_external_data=False)
    for node in plain.graph.node:  # a graph without MatMulNBits: the rest of it is not what this test reads
        if node.op_type == "MatMulNBits":
            node.op_type, node.domain = "Identity", ""
    plain_path = quantized_bundle / "plain_scratch.onnx"
    onnx.save_model(plain, str(plain_path))
    try:
        with tensorrt_graph(plain_path) as copy_path:
            assert copy_path.name == ".plain_scratch.trt.onnx"
            copied = [o.name for o in onnx.load(str(copy_path), load_external_data=False).graph.output]
            assert copied == twin_outputs
        assert not copy_path.exists()
    finally:
        plain_path.unlink()
    assert _hidden(quantized_bundle) == []
