"""export.shapes.fold_reshapes: constant reshape targets compute exactly what the traced shape arithmetic did."""

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dspark_compile.export.nodes import prune
from dspark_compile.export.shapes import _target, fold_reshapes
from dspark_compile.export.target import _dynamic_axes, io_specs
from dspark_compile.models import from_hf_model
from dspark_compile.models.tiny import tiny_hf_model

from .test_export_smoke import example_inputs


def _trace(model, path):
    inputs, outputs = io_specs(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy-exporter deprecation notice
        torch.onnx.export(model, example_inputs(model, B=2, T=3, P=5, K=2, seed=0), str(path), dynamo=False,
                          opset_version=18, input_names=[s.name for s in inputs],
                          output_names=[s.name for s in outputs], dynamic_axes=_dynamic_axes(inputs, outputs))
    return inputs, outputs


def _computed_reshapes(model) -> int:
    constant = {i.name for i in model.graph.initializer} | {
        o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return sum(n.op_type == "Reshape" and n.input[1] not in constant for n in model.graph.node)


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_folded_graph_is_bit_identical_on_every_shape(family, tmp_path):
    model = from_hf_model(tiny_hf_model(family, seed=3))
    inputs, outputs = _trace(model, tmp_path / "traced.onnx")
    traced = onnx.load(str(tmp_path / "traced.onnx"))
    folded = onnx.load(str(tmp_path / "traced.onnx"))
    changed = fold_reshapes(folded)
    assert changed > 0 and len(folded.graph.node) < len(traced.graph.node)
    assert _computed_reshapes(folded) == _computed_reshapes(traced) - changed
    onnx.checker.check_model(folded, full_check=True)

    names = [s.name for s in outputs]
    before = ort.InferenceSession(traced.SerializeToString(), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(folded.SerializeToString(), providers=["CPUExecutionProvider"])
    for B, T, P, K, seed in [(1, 1, 4, 1, 1), (3, 4, 6, 4, 2), (2, 5, 5, 1, 3), (5, 2, 9, 2, 4)]:
        feeds = {s.name: t.numpy() for s, t in zip(inputs, example_inputs(model, B, T, P, K, seed))}
        for name, want, got in zip(names, before.run(names, feeds), after.run(names, feeds)):
            assert got.shape == want.shape and got.tobytes() == want.tobytes(), (name, B, T, P, K)


def test_target_rules():
    assert _target(["B", "T", 576], ["B", "T", 9, 64]) == [0, 0, 9, 64]  # symbols copied at their index
    assert _target(["B", 3, "3*T", 64], ["B", 3, 3, "T", 64]) == [0, 3, 3, -1, 64]  # one dim left to infer
    assert _target(["B", 3, "3*T", "P"], ["B", 3, 3, "T", "P"]) is None  # two: keep the computed target
    assert _target(["B", "T"], ["B", 0]) is None  # a real 0 would read as "copy"
    assert _target(["B", "T"], ["B", None]) is None  # unknown


def test_prune_keeps_what_outputs_and_subgraphs_read():
    from onnx import TensorProto, helper

    then = helper.make_graph([helper.make_node("Identity", ["used_in_branch"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])])
    nodes = [helper.make_node("Neg", ["x"], ["used_in_branch"]),
             helper.make_node("Abs", ["x"], ["dead"]),
             helper.make_node("Neg", ["dead"], ["dead_too"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=then)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
                                           helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    assert prune(graph) == 2
    assert [n.op_type for n in graph.node] == ["Neg", "If"]


def _two_data_dependent_slices():
    """x [N, 4]: two slices to N + (N mod 3) and N + (N mod 5) rows, added, then reshaped to a computed target.
    Symbolic inference gives each slice a symbol of its own and cannot add them unless told to merge."""
    import onnx
    from onnx import TensorProto, helper

    def const(name, value):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [1], [value]))

    nodes = [const("zero", 0), const("three", 3), const("five", 5), const("one", 1),
             helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0)]
    for m, out in (("three", "a"), ("five", "b")):
        nodes += [helper.make_node("Mod", ["n", m], [f"{out}_mod"]),
                  helper.make_node("Add", ["n", f"{out}_mod"], [f"{out}_end"]),
                  helper.make_node("Slice", ["x", "zero", f"{out}_end", "zero"], [out])]
    nodes += [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Shape", ["s"], ["s_shape"]),
              helper.make_node("Reshape", ["s", "s_shape"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_graph_it_cannot_follow_is_a_clear_error_and_leaves_no_file(tmp_path, monkeypatch):
    from dspark_compile.errors import ExportError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExportError, match="symbolic shape inference failed"):
        fold_reshapes(_two_data_dependent_slices())
    assert list(tmp_path.iterdir()) == []  # onnxruntime's tool saves sym_shape_infer_temp.onnx where it runs
    fold_reshapes(_two_data_dependent_slices(), merge=True)  # the row pads' case: merged, it goes through
