"""Trace one drafter step to an ONNX graph (opset 18, dynamic B/T/P, γ fixed), ending DraftSample → Schedule.

Graph I/O (B rows, T = Δ new context rows, P cached context rows, γ slots, L drafter layers):

    inputs   ctx_taps         [B, T, n_taps*H] dtype    target taps of the new context rows: the anchor
                                                        and accepted drafts of the last round (first call:
                                                        the prompt's), right-padded
             ctx_positions    [B, T]           int64    absolute position of each new row
             ctx_counts       [B]              int64    valid new rows per batch row
             past_lengths     [B]              int64    valid cache rows per batch row
             anchor           [B]              int32    x0, the last token the target produced
             anchor_position  [B]              int64    its position (block slot k sits at +k)
             past_key.i       [B, Hkv, P, D]   dtype    the drafter's context cache (row j = position j;
             past_value.i     [B, Hkv, P, D]            rows >= past_lengths masked, must be finite)
           fused graph only (DraftSample inputs, see ops.spec.DRAFT_SAMPLE):
             temperature [B] f32, top_k [B] int32, top_p [B] f32, uniforms [B, S] f32 (S = 1 .. γ: the
             slots to draft, `draft_slots`)
           and Schedule inputs (ops.spec.SCHEDULE): lagged_survivals [B, γ] f32 (survivals two drafting
             rounds old), cost_table [N] f32, active [B] int32
    outputs  fused:   draft_tokens [B, S] int32, draft_q [B, S] f32, q_full [B, S, Vd or 1] f32 (1: all greedy),
                      confidences [B, S] f32, survivals [B, S] f32: the first S slots of the block
             unfused: block_logits [B, γ, V] f32, block_hidden [B, γ, H] dtype
             then     new_key.i / new_value.i [B, Hkv, T, D] dtype   K/V of the T new context rows;
                      the runtime commits the first ctx_counts[b] rows of row b
             fused, last: verify_lengths [B] int32   Schedule's drafts to verify per row, with the
                      scheduler settings baked in at export (metadata `dspark.schedule`)

Context rows only enter the cache; block K/V never leave the graph. A slot sees cache rows
j < past_lengths, new rows t < ctx_counts, both only at positions < anchor_position, and all γ slots.
γ is fixed at export: it is the static middle dim of the unfused block outputs and the model metadata
`dspark.block_size`; the fused graph drafts the first S of them (the backbone runs all γ slots, its last
layer only S). The anchor is int32 because DraftSample and Verify produce int32 tokens.
The Markov/confidence weights and STS temperatures become initializers of the DraftSample node. The
Schedule node makes the depth choice part of the compiled graph (a TensorRT engine runs the Schedule
plugin on the device); the budget reads only the lagged survivals, the allocation the current ones.

Files: the graph (`drafter.onnx`) and one external-data file with its own weights (`drafter.weights`). The
drafter reads the target's embedding and, tied to it, its lm_head rows (`shared_weights`): built into a
bundle, the embedding's bytes are the target's, in `target.weights`.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dspark_compile import graph_io as io
from dspark_compile.engine.base import TensorSpec
from dspark_compile.errors import ExportError
from dspark_compile.export.target import OPSET, check_graph

_CTX_INPUTS = (io.CTX_TAPS, io.CTX_POSITIONS, io.CTX_COUNTS, io.PAST_LENGTHS, io.ANCHOR, io.ANCHOR_POSITION)
_BLOCK_OUTPUTS = ("block_logits", "block_hidden")
_SAMPLING_INPUTS = ("temperature", "top_k", "top_p", "uniforms")
_SCHEDULE_INPUTS = ("lagged_survivals", "cost_table", "active")
_TMP_ANCHOR = "_drafter_anchor"  # DraftSample adds its own `anchor` input; ours is merged into it
SLOTS = "S"
"""The symbolic dim of the drafted slots in the fused graph: the width of `uniforms`, 1 .. γ (`draft_slots`)."""
QUERY_SLOTS = "query_slots"
"""The traced fused graph's input [S] int64 of the slots the last layer computes; `draft_slots` replaces it by
range(S), S the width of `uniforms`."""


@dataclass(frozen=True)
class DrafterGraph:
    """What the export wrote and the I/O the runtime relies on."""

    files: tuple[str, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    block_size: int
    fused: bool
    schedule: dict | None = None  # the Schedule attributes baked into a fused graph


def io_specs(drafter, fused: bool = True) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The graph's inputs and outputs with symbolic shapes (see the module docstring)."""
    dtype = "float16" if str(drafter.dtype) == "torch.float16" else "float32"
    hkv, d, G = drafter.num_kv_heads, drafter.head_dim, drafter.block_size
    kv_in = [TensorSpec(io.past(n), ("B", hkv, "P", d), dtype) for n in drafter.kv_names()]
    kv_out = [TensorSpec(io.new(n), ("B", hkv, "T", d), dtype) for n in drafter.kv_names()]
    inputs = [
        TensorSpec(io.CTX_TAPS, ("B", "T", drafter.config.num_taps * drafter.hidden_size), dtype),
        TensorSpec(io.CTX_POSITIONS, ("B", "T"), "int64"),
        TensorSpec(io.CTX_COUNTS, ("B",), "int64"),
        TensorSpec(io.PAST_LENGTHS, ("B",), "int64"),
        TensorSpec(io.ANCHOR, ("B",), "int32"),
        TensorSpec(io.ANCHOR_POSITION, ("B",), "int64"),
        *kv_in,
    ]
    if fused:
        S = SLOTS  # the slots drafted: uniforms' width, 1 .. γ (`draft_slots`)
        inputs += [TensorSpec("temperature", ("B",), "float32"), TensorSpec("top_k", ("B",), "int32"),
                   TensorSpec("top_p", ("B",), "float32"), TensorSpec("uniforms", ("B", S), "float32"),
                   TensorSpec("lagged_survivals", ("B", G), "float32"), TensorSpec("cost_table", ("N",), "float32"),
                   TensorSpec("active", ("B",), "int32")]
        block = [TensorSpec("draft_tokens", ("B", S), "int32"), TensorSpec("draft_q", ("B", S), "float32"),
                 TensorSpec("q_full", ("B", S, "Vq"), "float32"),  # target ids; Vq = 1 if every row is greedy
                 TensorSpec("confidences", ("B", S), "float32"), TensorSpec("survivals", ("B", S), "float32")]
    else:
        block = [TensorSpec("block_logits", ("B", G, drafter.draft_vocab_size), "float32"),
                 TensorSpec("block_hidden", ("B", G, drafter.hidden_size), dtype)]
    return tuple(inputs), tuple(block + kv_out + ([TensorSpec("verify_lengths", ("B",), "int32")] if fused else []))


def _dummy_inputs(drafter):
    import torch

    b, t, p = 2, 3, 4
    past_lengths = torch.tensor([p, p - 1])
    counts = torch.tensor([t, t - 1])
    past = [torch.zeros(b, drafter.num_kv_heads, p, drafter.head_dim, dtype=drafter.dtype) for _ in drafter.kv_names()]
    return (
        torch.zeros(b, t, drafter.config.num_taps * drafter.hidden_size, dtype=drafter.dtype),  # ctx_taps
        past_lengths[:, None] + torch.arange(t)[None, :],  # ctx_positions [B, T]
        counts, past_lengths,
        torch.zeros(b, dtype=torch.int32),  # anchor
        past_lengths + counts,  # anchor_position
        *past,
    )


def _dynamic_axes(specs) -> dict[str, dict[int, str]]:
    return {s.name: {i: d for i, d in enumerate(s.shape) if isinstance(d, str)} for s in specs}


def _trace(drafter, path: Path, query_slots: bool = False) -> tuple[TensorSpec, ...]:
    """Trace the unfused graph; with `query_slots`, one more input (`QUERY_SLOTS` [S] int64, the slots whose
    outputs the last layer computes: `draft_slots` makes it the drafted ones) and block outputs of S slots."""
    import torch

    inputs, outputs = io_specs(drafter, fused=False)
    args = _dummy_inputs(drafter)
    if query_slots:  # traced with S = 3 of γ so that nothing of S is folded into a constant
        inputs += (TensorSpec(QUERY_SLOTS, (SLOTS,), "int64"),)
        outputs = tuple(TensorSpec(o.name, (o.shape[0], SLOTS, *o.shape[2:]), o.dtype)
                        if o.name in _BLOCK_OUTPUTS else o for o in outputs)
        args = (*args, torch.arange(min(3, drafter.block_size)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns that it is the legacy path
        try:
            with torch.no_grad():
                torch.onnx.export(
                    drafter, args, str(path), dynamo=False, opset_version=OPSET,
                    input_names=[s.name for s in inputs], output_names=[s.name for s in outputs],
                    dynamic_axes=_dynamic_axes(inputs + outputs), do_constant_folding=True,
                )
        except Exception as exc:  # the exporter raises many types; all mean the same thing to a user
            raise ExportError(f"tracing the drafter to ONNX failed: {type(exc).__name__}: {exc}") from exc
    return inputs + outputs


def _declare_shapes(model, specs) -> None:
    """Write the spec shapes (static γ, V, H, Hkv, D; symbolic B/T/P) on the traced graph's I/O; the
    tracer leaves some of them as generated names."""
    by_name = {s.name: s for s in specs}
    for value in [*model.graph.input, *model.graph.output]:
        spec = by_name[value.name]
        dims = value.type.tensor_type.shape.dim
        assert len(dims) == len(spec.shape), (value.name, spec.shape)
        for dim, want in zip(dims, spec.shape):
            if isinstance(want, int):
                dim.dim_value = want
            else:
                dim.dim_param = want


def head_weights(drafter) -> dict[str, np.ndarray]:
    """DraftSample's weight inputs from the drafter, in checkpoint layout (fp16 stays fp16, else fp32)."""
    dt = np.float16 if str(drafter.dtype) == "torch.float16" else np.float32
    proj = drafter.confidence_head.proj

    def arr(t, dtype=dt):
        return t.detach().float().cpu().numpy().astype(dtype)

    return dict(markov_w1=arr(drafter.markov_head.markov_w1.weight),  # [V, r]
                markov_w2=arr(drafter.draft_rows(drafter.markov_head.markov_w2.weight)),  # [Vd, r]
                draft_vocab=drafter.draft_ids().numpy().astype(np.int32),  # [Vd] target ids
                conf_w=arr(proj.weight[0]),  # [H + r]
                conf_b=arr(proj.bias),  # [1]
                sts_temps=arr(drafter.sts_temperatures, np.float32))  # [γ]


def _rename(graph, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]


def _lift_weights(model) -> list:
    """Move the initializers out of `model` and declare them as typed graph inputs instead, so that
    in-memory passes and checks never serialise the weights (a real drafter's exceed protobuf's 2 GB)."""
    from onnx import helper

    weights = list(model.graph.initializer)
    del model.graph.initializer[:]
    model.graph.input.extend(helper.make_tensor_value_info(w.name, w.data_type, list(w.dims)) for w in weights)
    return weights


def _restore_weights(model, weights) -> None:
    names = {w.name for w in weights}
    inputs = [i for i in model.graph.input if i.name not in names]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    model.graph.initializer.extend(weights)


def fuse(model, drafter, schedule: dict):
    """End the traced graph in DraftSample → Schedule (`ops.fusion.fuse_draft_sample`, `fuse_schedule`
    with the attributes `schedule`); our `anchor` input is merged with DraftSample's and keeps its place.
    Returns the fused model (the input is consumed)."""
    from dspark_compile.ops.fusion import fuse_draft_sample, fuse_schedule

    names = [i.name for i in model.graph.input]
    at = names.index(io.ANCHOR)
    model.graph.input[at].name = _TMP_ANCHOR
    _rename(model.graph, io.ANCHOR, _TMP_ANCHOR)
    weights = _lift_weights(model)
    fused, report = fuse_draft_sample(model, **head_weights(drafter))
    if report.fired.get("DraftSample") != 1:
        raise ExportError(f"DraftSample fusion did not fire on the drafter graph: {report}")
    fused, report = fuse_schedule(fused, **schedule)
    _restore_weights(fused, weights)
    inputs = list(fused.graph.input)
    anchor = next(i for i in inputs if i.name == io.ANCHOR)
    inputs = [i for i in inputs if i.name not in (_TMP_ANCHOR, io.ANCHOR)]
    inputs.insert(at, anchor)
    del fused.graph.input[:]
    fused.graph.input.extend(inputs)
    _rename(fused.graph, _TMP_ANCHOR, io.ANCHOR)
    draft_slots(fused)
    _declare_shapes(fused, sum(io_specs(drafter, fused=True), ()))  # S where drafted, γ where traced with S
    return fused  # checked from its file by export_drafter


def draft_slots(model) -> None:
    """Let a fused drafter graph draft the first S <= γ slots of its block, S = the width of its `uniforms`
    input: the traced `QUERY_SLOTS` input becomes range(S), so the last backbone layer computes those slots'
    outputs only (its keys and values still come from every slot), and the lm_head, DraftSample and Schedule
    run on S slots (the STS temperatures and the lagged survivals sliced to S). A slot sees all γ slots
    (`model._mask`), so slot k's outputs are the same whatever S > k is: a round that can verify at most d
    drafts (the guard's depth, a fixed γ) drafts d slots, and a slot that could never be verified is not
    drafted. Bit for bit in float; a quantized drafter's MatMulNBits may round a one-row stripe otherwise
    (`models.base.PAD_STRIPE`), which can change a drafted token, never the output (Verify reads the q the
    pass computed). (SmolLM2-135M, int4, one slot: the last layer's work for the other six slots was a third
    of a 16-row pass; the lm_head and DraftSample for them about a third of a one-row pass.)"""
    from onnx import helper, numpy_helper

    graph = model.graph
    inputs = [i for i in graph.input if i.name != QUERY_SLOTS]
    if len(inputs) != len(graph.input) - 1:
        raise ExportError(f"the traced drafter graph has no '{QUERY_SLOTS}' input to bind to the drafted slots")
    del graph.input[:]
    graph.input.extend(inputs)
    for init in graph.initializer:
        if init.name == "sts_temps":
            init.name = "sts_temps.all"
    for n in graph.node:
        if n.op_type == "Schedule":
            n.input[list(n.input).index("lagged_survivals")] = "lagged_survivals.slots"
    graph.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "slots.zero"),
                              numpy_helper.from_array(np.array([1], np.int64), "slots.axis1"),
                              numpy_helper.from_array(np.array(0, np.int64), "slots.first"),
                              numpy_helper.from_array(np.array(1, np.int64), "slots.step")])
    nodes = [helper.make_node("Shape", ["uniforms"], ["draft_slots"], name="draft_slots", start=1, end=2),
             helper.make_node("Squeeze", ["draft_slots", "slots.zero"], ["draft_slots.scalar"],
                              name="draft_slots.scalar"),
             helper.make_node("Range", ["slots.first", "draft_slots.scalar", "slots.step"], [QUERY_SLOTS],
                              name="query_slots"),
             helper.make_node("Slice", ["sts_temps.all", "slots.zero", "draft_slots", "slots.zero"], ["sts_temps"],
                              name="sts_temps.slots"),
             helper.make_node("Slice", ["lagged_survivals", "slots.zero", "draft_slots", "slots.axis1"],
                              ["lagged_survivals.slots"], name="lagged_survivals.slots")]
    for k, n in enumerate(nodes):
        graph.node.insert(k, n)  # (the I/O's S dims: `fuse` writes the fused specs on the graph)


def export_drafter(drafter, out_dir: Path, name: str = "drafter.onnx", weights: str = "drafter.weights",
                   fused: bool = True, schedule: dict | None = None, share_with: Path | None = None) -> DrafterGraph:
    """Export one drafter step to `out_dir/name`, its weights to `out_dir/weights`, and check the result.

    Weights always live in one external-data file (as the target's do), so graphs over 2 GB work. The
    lm_head rows the drafter scores are read from the (shared) embedding when the target ties them, and
    with `share_with` (the target graph, in `out_dir`) tensors the target already stores (the embedding)
    point at the target's weights file instead of being copied: `files` then lists that file too.

    fused=True ends the graph in DraftSample (draft tokens, q, confidences, survivals) and Schedule
    (verify_lengths) with the Schedule attributes `schedule` (default: the spec's; see
    `runtime.scheduler.schedule_attrs`); fused=False keeps block_logits/block_hidden as outputs.
    """
    from dspark_compile.ops.spec import SCHEDULE

    import onnx
    from onnx import helper

    from dspark_compile.export.shapes import fold_reshapes
    from dspark_compile.export.shared_weights import external_tensors, link_external, tie_lm_head

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs, outputs = io_specs(drafter, fused)
    with tempfile.TemporaryDirectory() as tmp:
        traced = Path(tmp) / "drafter.onnx"
        traced_specs = _trace(drafter, traced, query_slots=fused)
        model = onnx.load(str(traced))  # external data, if any, is read in here
    _declare_shapes(model, traced_specs)
    fold_reshapes(model)  # constant reshape targets instead of shape arithmetic (export/shapes.py)
    schedule = SCHEDULE.resolve_attrs(schedule or {}) if fused else None
    if fused:
        model = fuse(model, drafter, schedule)
    cfg = drafter.config
    meta = {"dspark.block_size": cfg.block_size, "dspark.mask_token_id": cfg.mask_token_id,
            "dspark.family": cfg.family, "dspark.target_layer_ids": json.dumps(list(cfg.target_layer_ids)),
            "dspark.fused": int(fused), **({"dspark.schedule": json.dumps(schedule)} if fused else {})}
    helper.set_model_props(model, {k: str(v) for k, v in meta.items()})
    tie_lm_head(model, None if drafter.draft_vocab is None else drafter.draft_vocab.numpy())
    shared: list[str] = []
    if share_with is not None:
        if Path(share_with).parent.resolve() != out_dir.resolve():
            raise ExportError(f"{share_with}: a drafter shares weights only with a graph in its own folder {out_dir}")
        donors = external_tensors(onnx.load(str(share_with), load_external_data=False), out_dir)
        link_external(model, donors)
        shared = sorted({loc for loc, _, _ in donors.values()}
                        & {i.value for t in model.graph.initializer for i in t.external_data if i.key == "location"})

    path = out_dir / name
    (out_dir / weights).unlink(missing_ok=True)  # onnx appends to an existing data file
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=weights, size_threshold=1024)
    check_graph(path, inputs, outputs)
    return DrafterGraph(files=(name, weights, *shared), inputs=inputs, outputs=outputs, block_size=cfg.block_size,
                        fused=fused, schedule=schedule)
