"""Graph rewrites that end an exported graph in a fused DSpark op.

Each pass is match (find the outputs, say why not) -> rewrite (new inputs, the op node, new outputs) ->
check (full ONNX checker). It returns a rewritten copy and a ``FusionReport`` of how often each rewrite
fired and why a match was rejected. With ``strict=True`` (default) a rejection raises ``ExportError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import ModelProto, TensorProto, ValueInfoProto, helper, numpy_helper

from dspark_compile import graph_io as io
from dspark_compile.errors import ExportError
from dspark_compile.ops.onnx_functions import add_op_functions, make_op_node, tensor_type
from dspark_compile.ops.reference import check_draft_vocab
from dspark_compile.ops.spec import DOMAIN, DRAFT_SAMPLE, SCHEDULE, VERIFY, OpSpec

_FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16)


@dataclass
class FusionReport:
    """How many times each rewrite fired, and why matches were rejected."""

    fired: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{rule}: fired {n}x" for rule, n in self.fired.items()]
        return "\n".join(lines + [f"rejected: {why}" for why in self.rejected])


class _Rejected(Exception):
    pass


def _output(graph: onnx.GraphProto, name: str, rank: int) -> tuple[int, list]:
    """(index, dims) of the rank-``rank`` float graph output ``name``; dims are int, str or None."""
    names = [o.name for o in graph.output]
    if name not in names:
        raise _Rejected(f"no output named '{name}' (outputs: {', '.join(names) or 'none'})")
    vi: ValueInfoProto = graph.output[names.index(name)]
    ttype = vi.type.tensor_type
    if ttype.elem_type not in _FLOATS:
        raise _Rejected(f"output '{name}' must be float16 or float32, got "
                        f"{TensorProto.DataType.Name(ttype.elem_type)}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in ttype.shape.dim]
    if not ttype.HasField("shape") or len(dims) != rank:
        raise _Rejected(f"output '{name}' must have rank {rank}, got shape {dims if ttype.HasField('shape') else '?'}")
    return names.index(name), dims


def _check_not_fused(graph: onnx.GraphProto, spec: OpSpec) -> None:
    if any(n.domain == DOMAIN and n.op_type == spec.name for n in graph.node):
        raise _Rejected(f"the graph already contains a {DOMAIN}::{spec.name} node")


def _check_free(graph: onnx.GraphProto, spec: OpSpec, names: list[str]) -> None:
    used = {v.name for v in [*graph.input, *graph.output, *graph.initializer]}
    used |= {o for n in graph.node for o in n.output}
    clash = [n for n in names if n in used]
    if clash:
        raise _Rejected(f"names {clash} needed by {spec.name} are already used in the graph")


def _env(B, G, V, Vd=None) -> dict:
    """Symbol -> dim for the spec shapes; an unknown dim keeps its symbolic name."""
    known = isinstance(G, int)
    return {"B": B or "B", "V": V or "V", "Vq": "Vq",  # Vq: V, or 1 when every row is greedy
            "Vd": Vd or V or "Vd",
            "G": G if known else "G",
            "G+1": G + 1 if known else "G+1", "2G+1": 2 * G + 1 if known else "2G+1"}


def _value_info(spec_tensor, dtype: str, env: dict) -> ValueInfoProto:
    return helper.make_tensor_value_info(spec_tensor.name, *tensor_type(dtype, spec_tensor.shape, env))


def _finish(model: ModelProto, report: FusionReport, rule: str) -> ModelProto:
    add_op_functions(model)
    if not _uses_external_data(model):
        onnx.checker.check_model(model, full_check=True)
    # else: the checker can only resolve external data from a file; the caller saves and checks by path
    report.fired[rule] = report.fired.get(rule, 0) + 1
    return model


def _uses_external_data(model: ModelProto) -> bool:
    return any(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)


def _run(rule: str, rewrite, model: ModelProto, strict: bool) -> tuple[ModelProto, FusionReport]:
    report = FusionReport(fired={rule: 0})
    try:
        return rewrite(report), report
    except _Rejected as why:
        report.rejected.append(f"{rule}: {why}")
        if strict:
            raise ExportError(f"cannot fuse {rule}: {why}") from None
        return model, report


def fuse_verify(model: ModelProto, *, strict: bool = True, **attrs) -> tuple[ModelProto, FusionReport]:
    """End a target graph (output ``logits`` [B, T, V]) in ``dspark::Verify``.

    The other Verify inputs become graph inputs (named as in the spec; T = G + 1); the ``logits`` output is
    replaced in place by ``accepted`` [B] and ``out_tokens`` [B, T]; every other output is kept.
    ``attrs`` are Verify attributes (validated). Returns a rewritten copy and the report.
    """
    def rewrite(report: FusionReport) -> ModelProto:
        _check_not_fused(model.graph, VERIFY)
        index, (B, T, V) = _output(model.graph, io.LOGITS, rank=3)
        extra = list(VERIFY.inputs[1:])
        _check_free(model.graph, VERIFY, [t.name for t in extra] + list(VERIFY.output_names))
        node = make_op_node(VERIFY.name, [io.LOGITS, *(t.name for t in extra)], list(VERIFY.output_names), **attrs)
        out = ModelProto()
        out.CopyFrom(model)
        env = _env(B, T - 1 if isinstance(T, int) else None, V)
        env["G+1"] = T or env["G+1"]
        out.graph.input.extend(_value_info(t, t.dtypes[0], env) for t in extra)
        out.graph.node.append(node)
        outputs = list(out.graph.output)
        outputs[index:index + 1] = [_value_info(t, t.dtypes[0], env) for t in VERIFY.outputs]
        del out.graph.output[:]
        out.graph.output.extend(outputs)
        return _finish(out, report, VERIFY.name)

    return _run(VERIFY.name, rewrite, model, strict)


def fuse_draft_sample(model: ModelProto, markov_w1: np.ndarray, markov_w2: np.ndarray, conf_w: np.ndarray,
                      conf_b: np.ndarray, sts_temps: np.ndarray, draft_vocab: np.ndarray | None = None, *,
                      strict: bool = True) -> tuple[ModelProto, FusionReport]:
    """End a drafter graph (outputs ``block_logits`` [B, G, Vd], ``block_hidden`` [B, G, H]) in DraftSample.

    The Markov/confidence weights, the draft vocabulary's target ids (default: all of markov_w1's V rows) and
    the STS temperatures become initializers (checkpoint layout, see the spec); ``anchor``, ``temperature``,
    ``top_k``, ``top_p`` and ``uniforms`` become graph inputs. The two outputs are replaced (at the position
    of ``block_logits``) by the five DraftSample outputs; others are kept.
    """
    if draft_vocab is None and isinstance(markov_w1, np.ndarray) and markov_w1.ndim == 2:
        draft_vocab = np.arange(markov_w1.shape[0], dtype=np.int32)
    weights = dict(markov_w1=markov_w1, markov_w2=markov_w2, draft_vocab=draft_vocab, conf_w=conf_w, conf_b=conf_b,
                   sts_temps=sts_temps)

    def rewrite(report: FusionReport) -> ModelProto:
        _check_not_fused(model.graph, DRAFT_SAMPLE)
        index, (B, G, Vd) = _output(model.graph, "block_logits", rank=3)
        hidden_index, (_, _, H) = _output(model.graph, "block_hidden", rank=3)
        _check_weights(weights, G, Vd, H)
        V = int(weights["markov_w1"].shape[0])
        runtime_inputs = [t for t in DRAFT_SAMPLE.inputs[2:] if t.name not in weights]
        _check_free(model.graph, DRAFT_SAMPLE, list(weights) + [t.name for t in runtime_inputs]
                    + list(DRAFT_SAMPLE.output_names))
        node = make_op_node(DRAFT_SAMPLE.name, list(DRAFT_SAMPLE.input_names), list(DRAFT_SAMPLE.output_names))
        out = ModelProto()
        out.CopyFrom(model)
        env = _env(B, G, V, Vd)
        out.graph.initializer.extend(numpy_helper.from_array(np.ascontiguousarray(w), name)
                                     for name, w in weights.items())
        out.graph.input.extend(_value_info(t, t.dtypes[0], env) for t in runtime_inputs)
        out.graph.node.append(node)
        outputs = list(out.graph.output)
        new = [_value_info(t, t.dtypes[0], env) for t in DRAFT_SAMPLE.outputs]
        outputs = [o for i, o in enumerate(outputs) if i != hidden_index]
        at = [o.name for o in outputs].index("block_logits")
        outputs[at:at + 1] = new
        del out.graph.output[:]
        out.graph.output.extend(outputs)
        return _finish(out, report, DRAFT_SAMPLE.name)

    return _run(DRAFT_SAMPLE.name, rewrite, model, strict)


def fuse_schedule(model: ModelProto, *, strict: bool = True, **attrs) -> tuple[ModelProto, FusionReport]:
    """Follow a drafter graph's DraftSample (output ``survivals`` [B, G]) with ``dspark::Schedule``.

    The current survivals feed the op directly; ``lagged_survivals`` [B, G] (two drafting rounds old: the
    budget may only see those, paper App. A), ``cost_table`` [N] and ``active`` [B] become graph inputs and
    ``verify_lengths`` [B] a new last output. ``survivals`` stays an output (the runtime keeps it for the
    lag and the guard). ``attrs`` are Schedule attributes (validated).
    """
    def rewrite(report: FusionReport) -> ModelProto:
        _check_not_fused(model.graph, SCHEDULE)
        if not any(n.domain == DOMAIN and n.op_type == DRAFT_SAMPLE.name for n in model.graph.node):
            raise _Rejected(f"the graph has no {DOMAIN}::{DRAFT_SAMPLE.name} node to follow")
        _, (B, G) = _output(model.graph, "survivals", rank=2)
        extra = list(SCHEDULE.inputs[1:])
        _check_free(model.graph, SCHEDULE, [t.name for t in extra] + list(SCHEDULE.output_names))
        node = make_op_node(SCHEDULE.name, list(SCHEDULE.input_names), list(SCHEDULE.output_names), **attrs)
        out = ModelProto()
        out.CopyFrom(model)
        env = {**_env(B, G, None), "N": "N"}
        out.graph.input.extend(_value_info(t, t.dtypes[0], env) for t in extra)
        out.graph.node.append(node)
        out.graph.output.extend(_value_info(t, t.dtypes[0], env) for t in SCHEDULE.outputs)
        return _finish(out, report, SCHEDULE.name)

    return _run(SCHEDULE.name, rewrite, model, strict)


def _check_weights(weights: dict[str, np.ndarray], G, Vd, H) -> None:
    """Dtypes from the spec; shapes consistent with each other and with the graph's static dims."""
    specs = {t.name: t for t in DRAFT_SAMPLE.inputs}
    for name, w in weights.items():
        if not isinstance(w, np.ndarray) or w.dtype.name not in specs[name].dtypes:
            raise _Rejected(f"weight '{name}' must be a numpy array of {'/'.join(specs[name].dtypes)}, got "
                            f"{getattr(w, 'dtype', type(w).__name__)}")
    w1, w2, ids = weights["markov_w1"], weights["markov_w2"], weights["draft_vocab"]
    problems = []
    if w1.ndim != 2 or w2.ndim != 2 or w2.shape[1] != w1.shape[1]:
        problems.append(f"markov_w1 {w1.shape} and markov_w2 {w2.shape} must be [V, r] and [Vd, r]")
    elif ids.shape != (w2.shape[0],) or not check_draft_vocab(ids, w1.shape[0]):
        problems.append(f"draft_vocab {ids.shape} must hold Vd = {w2.shape[0]} strictly increasing ids in "
                        f"[0, {w1.shape[0]})")
    elif isinstance(Vd, int) and w2.shape[0] != Vd:
        problems.append(f"markov_w2 has {w2.shape[0]} rows but block_logits has Vd = {Vd}")
    r = w1.shape[-1]
    if weights["conf_w"].ndim != 1 or (isinstance(H, int) and weights["conf_w"].shape[0] != H + r):
        problems.append(f"conf_w {weights['conf_w'].shape} must be [H + r] = [{H} + {r}]")
    if weights["conf_b"].shape != (1,):
        problems.append(f"conf_b {weights['conf_b'].shape} must be [1]")
    if weights["sts_temps"].ndim != 1 or (isinstance(G, int) and weights["sts_temps"].shape[0] != G):
        problems.append(f"sts_temps {weights['sts_temps'].shape} must be [G] = [{G}]")
    if problems:
        raise _Rejected("; ".join(problems))

