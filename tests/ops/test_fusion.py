"""Fusion passes on small synthetic graphs: report, full checker, ORT before/after against the reference."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from dspark_compile.errors import ExportError
from dspark_compile.ops import reference as R
from dspark_compile.ops.fusion import fuse_draft_sample, fuse_verify
from dspark_compile.ops.spec import DRAFT_SAMPLE, VERIFY

from ops_inputs import draft_inputs, verify_inputs

F32 = np.float32
H, V = 8, 50


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _target_model(logits_name="logits", T="T"):
    """hidden [B, T, H] -> MatMul -> logits [B, T, V]; also keeps an extra output."""
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(H, V)).astype(F32), "lm_head")
    nodes = [helper.make_node("MatMul", ["hidden", "lm_head"], [logits_name]),
             helper.make_node("Identity", ["hidden"], ["hidden_out"])]
    graph = helper.make_graph(
        nodes, "target", [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["B", T, H])],
        [helper.make_tensor_value_info(logits_name, TensorProto.FLOAT, ["B", T, V]),
         helper.make_tensor_value_info("hidden_out", TensorProto.FLOAT, ["B", T, H])], initializer=[w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("T", ["T", 5])
def test_fuse_verify_runs_and_matches_reference(T):
    model = _target_model(T=T)
    fused, report = fuse_verify(model, residual_eps=1e-5)
    assert report.fired == {VERIFY.name: 1} and not report.rejected
    onnx.checker.check_model(fused, full_check=True)
    assert [o.name for o in fused.graph.output] == ["accepted", "out_tokens", "hidden_out"]
    assert [o.name for o in model.graph.output] == ["logits", "hidden_out"]  # input model untouched

    rs = np.random.default_rng(1)
    B, G = 4, 4
    hidden = rs.normal(size=(B, G + 1, H)).astype(F32)
    logits = _session(model).run(["logits"], {"hidden": hidden})[0]            # ORT before
    inputs = verify_inputs(rs, B, G, V, "mixed")
    inputs["target_logits"] = logits
    ref = R.verify(**inputs, residual_eps=1e-5)
    feed = {k: v for k, v in inputs.items() if k != "target_logits"} | {"hidden": hidden}
    accepted, out_tokens, hidden_out = _session(fused).run(None, feed)          # ORT after
    np.testing.assert_array_equal(accepted, ref.accepted)
    np.testing.assert_array_equal(out_tokens, ref.out_tokens)
    np.testing.assert_array_equal(hidden_out, hidden)


def test_fuse_verify_rejections_say_why():
    with pytest.raises(ExportError, match="no output named 'logits'.*outputs: scores, hidden_out"):
        fuse_verify(_target_model(logits_name="scores"))
    model, report = fuse_verify(_target_model(logits_name="scores"), strict=False)
    assert report.fired == {VERIFY.name: 0} and "no output named 'logits'" in report.rejected[0]
    assert model.graph.output[0].name == "scores"

    clash = _target_model()
    clash.graph.input.append(helper.make_tensor_value_info("temperature", TensorProto.FLOAT, ["B"]))
    with pytest.raises(ExportError, match=r"\['temperature'\].*already used"):
        fuse_verify(clash)
    fused, _ = fuse_verify(_target_model())
    with pytest.raises(ExportError, match="already contains a dspark::Verify"):
        fuse_verify(fused)
    with pytest.raises(ExportError, match="residual_eps"):
        fuse_verify(_target_model(), residual_eps=2.0)

    flat = _target_model()
    flat.graph.output[0].type.tensor_type.shape.dim.pop()
    with pytest.raises(ExportError, match="rank 3"):
        fuse_verify(flat)


def _drafter_model(G=3, Hd=6, dtype=TensorProto.FLOAT):
    """x [B, G, Hd] -> block_hidden = Mul(x, 0.5), block_logits = MatMul(x, W) (+ an extra output).

    W holds small integers so that, for integer-valued x, the float16 MatMul is exact: ORT's CPU float16
    handling (inserted casts, removed cast pairs) may otherwise round differently inside the fused graph.
    """
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    w = numpy_helper.from_array(np.random.default_rng(2).integers(-3, 4, size=(Hd, V)).astype(np_dtype), "lm_head")
    half = numpy_helper.from_array(np.array(0.5, np_dtype), "half")
    nodes = [helper.make_node("MatMul", ["x", "lm_head"], ["block_logits"]),
             helper.make_node("Mul", ["x", "half"], ["block_hidden"]),
             helper.make_node("Identity", ["x"], ["ctx_out"])]
    graph = helper.make_graph(
        nodes, "drafter", [helper.make_tensor_value_info("x", dtype, ["B", G, Hd])],
        [helper.make_tensor_value_info("ctx_out", dtype, ["B", G, Hd]),
         helper.make_tensor_value_info("block_hidden", dtype, ["B", G, Hd]),
         helper.make_tensor_value_info("block_logits", dtype, ["B", G, V])], initializer=[w, half])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.FLOAT16])
def test_fuse_draft_sample_runs_and_matches_reference(dtype):
    G, Hd, r = 3, 6, 4
    model = _drafter_model(G, Hd, dtype)
    rs = np.random.default_rng(3)
    inputs = draft_inputs(rs, 5, G, V, "mixed", np.float32, H=Hd, r=r)
    weights = {k: inputs[k] for k in ("markov_w1", "markov_w2", "draft_vocab", "conf_w", "conf_b", "sts_temps")}
    fused, report = fuse_draft_sample(model, **weights)
    assert report.fired == {DRAFT_SAMPLE.name: 1}
    onnx.checker.check_model(fused, full_check=True)
    assert [o.name for o in fused.graph.output] == ["ctx_out", *DRAFT_SAMPLE.output_names]

    x = rs.integers(-2, 3, size=(5, G, Hd)).astype(helper.tensor_dtype_to_np_dtype(dtype))
    block_hidden, block_logits = _session(model).run(["block_hidden", "block_logits"], {"x": x})
    runtime = {k: inputs[k] for k in ("anchor", "temperature", "top_k", "top_p", "uniforms")}
    ref = R.draft_sample(block_logits=block_logits, block_hidden=block_hidden, **weights, **runtime)
    got = _session(fused).run(None, {"x": x, **runtime})
    np.testing.assert_array_equal(got[0], x)
    np.testing.assert_array_equal(got[1], ref.draft_tokens)
    for ours, expected in zip(got[2:], ref[1:]):
        np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=2e-6)


def test_fuse_draft_sample_rejects_mismatched_weights():
    inputs = draft_inputs(np.random.default_rng(4), 2, 3, V, "greedy", H=6, r=4)
    weights = {k: inputs[k] for k in ("markov_w1", "markov_w2", "draft_vocab", "conf_w", "conf_b", "sts_temps")}
    with pytest.raises(ExportError, match=r"conf_w \(5,\) must be \[H \+ r\] = \[6 \+ 4\]"):
        fuse_draft_sample(_drafter_model(), **(weights | {"conf_w": np.zeros(5, F32)}))
    with pytest.raises(ExportError, match="markov_w2 has 49 rows but block_logits has Vd = 50"):
        fuse_draft_sample(_drafter_model(), **(weights | {"markov_w2": np.zeros((49, 4), F32),
                                                          "draft_vocab": np.arange(49, dtype=np.int32)}))
    with pytest.raises(ExportError, match=r"draft_vocab \(50,\) must hold Vd = 50 strictly increasing ids"):
        fuse_draft_sample(_drafter_model(), **(weights | {"draft_vocab": np.arange(50, dtype=np.int32)[::-1].copy()}))
    with pytest.raises(ExportError, match="sts_temps.*float32"):
        fuse_draft_sample(_drafter_model(), **(weights | {"sts_temps": np.ones(3, np.float64)}))
    with pytest.raises(ExportError, match="no output named 'block_hidden'"):
        m = _drafter_model()
        m.graph.output.pop(1)
        fuse_draft_sample(m, **weights)
