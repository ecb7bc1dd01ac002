"""Constant reshape targets for a traced graph: fewer nodes for ONNX Runtime to dispatch at every step.

The TorchScript exporter turns `x.view(B, T, H, D)` into Shape -> Gather -> Unsqueeze -> Concat -> Reshape,
because B and T are dynamic: a fifth to a quarter of the traced target graph's nodes computed shapes, and on
CPU each node costs 1-2 µs of dispatch whatever its size. ONNX Runtime's constant folding cannot remove them
(their inputs are runtime shapes).

`fold_reshapes` gives such a Reshape a constant target instead, using ONNX Runtime's symbolic shape inference
(`onnxruntime.tools.symbolic_shape_infer`): output dim j is written as its integer when static, 0 ("copy input
dim j", ONNX Reshape with allowzero=0) when it is the same symbol as input dim j, and -1 ("the rest") for at
most one other dim; a Reshape that needs more than that keeps its computed target. Then `prune` removes the
nodes nothing reads any more. The result computes the same tensors (the same kernels run on the same data;
only shape arithmetic goes), which the export tests check bit for bit on several shapes.
"""

from __future__ import annotations

import numpy as np

from dspark_compile.errors import ExportError
from dspark_compile.export.nodes import prune


def _skeleton(model):
    """A copy of `model` without the bytes of its large initializers (those become graph inputs of the same
    type and shape), for shape inference: copying a 0.5 GB proto to read shapes would double the export's
    memory."""
    import onnx
    from onnx import helper

    graph = helper.make_graph(list(model.graph.node), model.graph.name, list(model.graph.input),
                              list(model.graph.output))
    for init in model.graph.initializer:
        if int(np.prod(init.dims, dtype=np.int64)) <= 64 and init.data_location != onnx.TensorProto.EXTERNAL:
            graph.initializer.append(init)  # shape constants: the inference reads their values
        else:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    out = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    out.functions.extend(model.functions)
    return out


def ranks(model) -> dict[str, int]:
    """Tensor name -> rank, by ONNX shape inference over the graph without its weights' bytes (the traced
    graph carries no value_info)."""
    import onnx

    graph = onnx.shape_inference.infer_shapes(_skeleton(model)).graph
    return {v.name: len(v.type.tensor_type.shape.dim) for v in list(graph.value_info) + list(graph.input)}


def _symbolic_shapes(model, merge: bool = False) -> dict[str, list]:
    """Tensor name -> dims (int, symbol string, or None if unknown), from ONNX Runtime's symbolic inference
    (`merge`: its auto_merge, two symbols an elementwise op meets taken as equal)."""
    import contextlib
    import tempfile

    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        # where it gives up it saves the half-inferred graph as sym_shape_infer_temp.onnx in the working directory:
        # a scratch one here, not the user's
        with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
            inferred = SymbolicShapeInference.infer_shapes(_skeleton(model), auto_merge=merge, guess_output_rank=True)
    except Exception as exc:  # the tool raises bare Exceptions and assertion errors on graphs it cannot follow
        raise ExportError(f"symbolic shape inference failed on the traced graph: {type(exc).__name__}: {exc}") from None
    shapes = {}
    graph = inferred.graph
    for info in list(graph.value_info) + list(graph.input) + list(graph.output):
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]
    return shapes


def _target(src: list, out: list) -> list[int] | None:
    """A constant Reshape target that gives `out` from `src` (symbolic dims), or None if there is none."""
    if any(d is None for d in out) or any(d == 0 for d in out):
        return None  # unknown, or a real 0 (which the constant would read as "copy")
    dims = []
    for j, d in enumerate(out):
        if isinstance(d, int):
            dims.append(d)
        elif j < len(src) and src[j] == d:
            dims.append(0)
        else:
            dims.append(-1)
    return dims if dims.count(-1) <= 1 else None


def fold_reshapes(model, merge: bool = False) -> int:
    """Give every Reshape with a computed target a constant one where the shapes allow; prune what that
    leaves unread. Returns the number of Reshapes changed. `model` is changed in place.

    `merge` for a row-padded target (`models.base.pad_row`): the inference cannot follow a slice to B*T + p
    rows with p computed from B*T, so each pad gets a symbol of its own, and the residual adds meet two of them;
    they are the same number at run time (every pad of a graph pads the same B*T rows), so they are merged."""
    from onnx import numpy_helper

    graph = model.graph
    constant = {i.name for i in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    pending = [n for n in graph.node if n.op_type == "Reshape" and n.input[1] not in constant
               and not any(a.name == "allowzero" and a.i for a in n.attribute)]
    if not pending:
        return 0
    shapes = _symbolic_shapes(model, merge)
    changed = 0
    for node in pending:
        src, out = shapes.get(node.input[0]), shapes.get(node.output[0])
        dims = _target(src, out) if src is not None and out is not None else None
        if dims is None:
            continue
        name = f"{node.output[0]}.shape"
        graph.initializer.append(numpy_helper.from_array(np.array(dims, dtype=np.int64), name))
        node.input[1] = name
        changed += 1
    prune(graph)
    return changed
