"""DecoderLM traces to ONNX (TorchScript tracer, opset 18) with dynamic B, T, P, K and runs in ORT."""

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from dspark_compile.models import from_hf_model
from dspark_compile.models.tiny import tiny_hf_model

INPUTS = ["input_ids", "positions", "past_lengths", "logit_index"]


def example_inputs(model, B: int, T: int, P: int, K: int, seed: int):
    """Ragged rows: past_lengths <= P - T (the cache has room for the new tokens, the graph's contract),
    positions continue each row's cache, garbage past the lengths."""
    gen = torch.Generator().manual_seed(seed)
    past_lengths = torch.randint(0, P - T + 1, (B,), generator=gen)  # [B]
    return (
        torch.randint(3, model.vocab_size, (B, T), generator=gen),  # input_ids [B, T]
        past_lengths[:, None] + torch.arange(T)[None, :],  # positions [B, T]
        past_lengths,
        torch.randint(0, T, (B, K), generator=gen),  # logit_index [B, K]
        *[torch.randn((B, hkv, P, d), generator=gen) for hkv, d in model.kv_shapes()],  # past_kv 2L x [B, Hkv, P, D]
    )


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_export_and_run_with_onnxruntime(family, tmp_path):
    model = from_hf_model(tiny_hf_model(family, seed=7))
    kv = model.kv_names()
    input_names = INPUTS + [f"past_{n}" for n in kv]
    output_names = ["logits", "taps"] + [f"new_{n}" for n in kv]
    dynamic_axes = {
        "input_ids": {0: "B", 1: "T"},
        "positions": {0: "B", 1: "T"},
        "past_lengths": {0: "B"},
        "logit_index": {0: "B", 1: "K"},
        "logits": {0: "B", 1: "K"},
        "taps": {0: "B", 1: "T"},
        **{f"past_{n}": {0: "B", 2: "P"} for n in kv},
        **{f"new_{n}": {0: "B", 2: "T"} for n in kv},
    }
    path = tmp_path / f"{family}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy-exporter deprecation notice
        torch.onnx.export(
            model,
            example_inputs(model, B=2, T=3, P=5, K=2, seed=0),
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=18,
            dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for B, T, P, K, seed in [(3, 4, 6, 4, 1), (1, 1, 9, 1, 2), (2, 5, 5, 1, 3)]:
        inputs = example_inputs(model, B, T, P, K, seed)
        with torch.no_grad():
            expected = model(*inputs)
        got = session.run(output_names, {name: t.numpy() for name, t in zip(input_names, inputs)})
        for name, ours, theirs in zip(output_names, expected, got):
            assert theirs.shape == tuple(ours.shape), name
            np.testing.assert_allclose(theirs, ours.numpy(), atol=1e-4, rtol=0, err_msg=name)


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_row_padded_export_computes_the_same_outputs(family, tmp_path):
    """`row_pad` (quantized targets): every weight MatMul reads rows [B*T + 1, K] (B*K + 1 for the lm_head), the
    last one a zero row, and the graph's outputs equal the unpadded model's."""
    import onnx

    from dspark_compile.export.shapes import ranks as tensor_ranks
    from dspark_compile.export.target import export_target

    model = from_hf_model(tiny_hf_model(family, seed=7))
    graph = export_target(model, tmp_path, row_pad=True)
    assert model.row_pad
    proto = onnx.load(str(tmp_path / graph.files[0]), load_external_data=False)
    ranks = tensor_ranks(proto)
    weights = {i.name for i in proto.graph.initializer}
    transposed = {n.output[0] for n in proto.graph.node if n.op_type == "Transpose" and n.input[0] in weights}
    linear = [n for n in proto.graph.node if n.op_type == "MatMul" and (n.input[1] in weights | transposed)]
    assert len(linear) == 7 * model.num_layers + 1  # q, k, v, o, gate, up, down per layer; the lm_head
    assert all(ranks[n.input[0]] == 2 for n in linear), [(n.name, ranks[n.input[0]]) for n in linear]

    session = ort.InferenceSession(str(tmp_path / graph.files[0]), providers=["CPUExecutionProvider"])
    names = [s.name for s in graph.inputs]
    model.row_pad = False
    for B, T, P, K, seed in [(3, 4, 6, 4, 1), (1, 1, 9, 1, 2), (2, 5, 5, 1, 3)]:
        inputs = example_inputs(model, B, T, P, K, seed)
        with torch.no_grad():
            expected = model(*inputs)
        got = session.run([s.name for s in graph.outputs], {n: t.numpy() for n, t in zip(names, inputs)})
        for spec, ours, theirs in zip(graph.outputs, expected, got):
            assert theirs.shape == tuple(ours.shape), spec.name
            np.testing.assert_allclose(theirs, ours.numpy(), atol=1e-4, rtol=0, err_msg=spec.name)
