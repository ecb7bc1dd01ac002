"""Trace the target decoder to one ONNX graph that serves prefill, decode and verify.

Graph I/O (B rows, T new tokens, P cached positions, K logit positions, L layers):

    inputs   input_ids     [B, T]          int64   right-padded new tokens
             positions     [B, T]          int64   absolute position of each new token
             past_lengths  [B]             int64   valid cache entries per row
             logit_index   [B, K]          int64   which new positions produce logits
             past_key.i    [B, Hkv, P, D]  dtype   head-major cache, i = 0..L-1
             past_value.i  [B, Hkv, P, D]
    outputs  logits        [B, K, V]       float32
             taps          [B, T, n_taps*H] dtype  tapped pre-final-norm hidden states
             new_key.i     [B, Hkv, T, D]  dtype   keys/values of the T new tokens only
             new_value.i   [B, Hkv, T, D]

Weights go to one external-data file (`target.weights`) that the fused verify graph
(`target_verify.onnx`: `logits` replaced by `dspark::Verify`'s `accepted` [B] and `out_tokens` [B, K])
shares, so the bundle holds the weights once.

KV layout: the runtime keeps one [B, Hkv, S_max, D] array per layer and tensor and passes all of it
(P = S_max, zero-copy); cache rows j >= past_lengths[b] are masked and must hold finite values, and the
new tokens must fit: past_lengths[b] + T_b <= P (attention places them at their own rows, see
`models.base.Attention.attend_in_place`). Attention
reads the cache in place (no concatenation, transpose or masking pass over it). The graph returns only
the new rows, so committing n tokens writes n rows per head and rolling back is a change of
`past_lengths`: nothing else in the cache moves.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from dspark_compile import graph_io as io
from dspark_compile.engine.base import TensorSpec
from dspark_compile.errors import ExportError

OPSET = 18

_FIXED_INPUTS = (io.INPUT_IDS, io.POSITIONS, io.PAST_LENGTHS, io.LOGIT_INDEX)


@dataclass(frozen=True)
class TargetGraph:
    """What the export wrote and the I/O the runtime relies on."""

    files: tuple[str, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def io_specs(model) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The graph's inputs and outputs with symbolic shapes, derived from the model's dimensions."""
    dtype = "float16" if str(model.dtype) == "torch.float16" else "float32"
    kv = list(zip(model.kv_names(), model.kv_shapes()))  # (name, (Hkv, D)); Gemma 4's full layers differ
    inputs = [
        TensorSpec(io.INPUT_IDS, ("B", "T"), "int64"),
        TensorSpec(io.POSITIONS, ("B", "T"), "int64"),
        TensorSpec(io.PAST_LENGTHS, ("B",), "int64"),
        TensorSpec(io.LOGIT_INDEX, ("B", "K"), "int64"),
    ] + [TensorSpec(io.past(n), ("B", hkv, "P", d), dtype) for n, (hkv, d) in kv]
    outputs = [
        TensorSpec(io.LOGITS, ("B", "K", model.vocab_size), "float32"),
        TensorSpec(io.TAPS, ("B", "T", len(model.tap_layers) * model.hidden_size), dtype),
    ] + [TensorSpec(io.new(n), ("B", hkv, "T", d), dtype) for n, (hkv, d) in kv]
    return tuple(inputs), tuple(outputs)


def _dummy_inputs(model):
    import torch

    b, t, p, k = 2, 3, 8, 2  # the cache has room for the new tokens (rows 4..6)
    dtype = next(model.parameters()).dtype
    ids = torch.randint(0, model.vocab_size, (b, t), dtype=torch.int64)
    past_lengths = torch.tensor([4, 3], dtype=torch.int64)
    positions = past_lengths[:, None] + torch.arange(t)[None, :]
    logit_index = torch.tensor([[t - 2, t - 1]] * b, dtype=torch.int64)
    past = [torch.zeros(b, hkv, p, d, dtype=dtype) for hkv, d in model.kv_shapes()]
    return (ids, positions, past_lengths, logit_index, *past)


def _dynamic_axes(inputs, outputs) -> dict[str, dict[int, str]]:
    return {s.name: {i: d for i, d in enumerate(s.shape) if isinstance(d, str)} for s in inputs + outputs}


def export_target(model, out_dir: Path, name: str = "target.onnx", weights: str = "target.weights",
                  row_pad: bool = False) -> TargetGraph:
    """Export a `DecoderLM` to `out_dir/name` with its weights in `out_dir/weights`, and check it.

    `row_pad` (for a target whose weights will be quantized) sets `model.row_pad`: the graph carries its
    hidden states as rows [B*T + 1, H] with a zero row last, so no linear layer ever multiplies one row.

    Weights always live in one external-data file, so that the fused graphs built on this one (e.g.
    `fuse_verify_graph`) reference the same bytes instead of copying them, and graphs over 2 GB work.
    """
    import onnx
    import torch

    from dspark_compile.export.cache_writes import expose_cache_writes
    from dspark_compile.export.shapes import fold_reshapes
    from dspark_compile.export.shared_weights import tie_lm_head

    model.row_pad = row_pad
    inputs, outputs = io_specs(model)
    path = out_dir / name
    scratch = out_dir / ".trace"
    scratch.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns that it is the legacy path
        try:
            with torch.no_grad():
                torch.onnx.export(
                    model, _dummy_inputs(model), str(scratch / name), dynamo=False, opset_version=OPSET,
                    input_names=[s.name for s in inputs], output_names=[s.name for s in outputs],
                    dynamic_axes=_dynamic_axes(inputs, outputs), do_constant_folding=True,
                )
        except Exception as exc:  # the exporter raises many types; all mean the same thing to a user
            raise ExportError(f"tracing the target to ONNX failed: {type(exc).__name__}: {exc}") from exc
    proto = onnx.load(str(scratch / name))  # (pulls in any per-tensor files the exporter wrote)
    tie_lm_head(proto)  # a tied lm_head reads the embedding instead of a transposed copy of it
    fold_reshapes(proto, merge=row_pad)  # constant reshape targets instead of shape arithmetic: fewer nodes
    caches = {io.past(n) for n in model.kv_names()}
    outputs += expose_cache_writes(proto, [s for s in inputs if s.name in caches])  # present_*
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=weights, size_threshold=1024)
    del proto
    for f in scratch.iterdir():
        f.unlink()
    scratch.rmdir()
    check_graph(path, inputs, outputs)
    return TargetGraph(files=(name, weights), inputs=inputs, outputs=outputs)


def fuse_verify_graph(target: TargetGraph, out_dir: Path, name: str = "target_verify.onnx") -> TargetGraph:
    """End the target graph in `dspark::Verify` (full logits never leave the engine); same weights file."""
    import onnx

    from dspark_compile.engine.base import TensorSpec as Spec
    from dspark_compile.ops.fusion import fuse_verify
    from dspark_compile.ops.spec import VERIFY

    proto = onnx.load(str(out_dir / target.files[0]), load_external_data=False)
    fused, report = fuse_verify(proto)
    onnx.save_model(fused, str(out_dir / name))
    extra = tuple(Spec(t.name, tuple(_verify_dim(d) for d in t.shape), t.dtypes[0]) for t in VERIFY.inputs[1:])
    outs = tuple(Spec(t.name, tuple(_verify_dim(d) for d in t.shape), t.dtypes[0]) for t in VERIFY.outputs)
    inputs = target.inputs + extra
    outputs = outs + tuple(s for s in target.outputs if s.name != io.LOGITS)
    check_graph(out_dir / name, inputs, outputs, ordered=False)
    assert report.fired.get(VERIFY.name) == 1, str(report)
    return TargetGraph(files=(name, target.files[1]), inputs=inputs, outputs=outputs)


def _verify_dim(d: str) -> str:
    # Verify's G+1 positions are the graph's K logit positions.
    return {"G+1": "K", "G": "K-1", "2G+1": "2K-1"}.get(d, d)


def check_graph(path: Path, inputs, outputs, ordered: bool = True) -> None:
    """Full ONNX checker with shape inference, opset and I/O names as the runtime expects."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path.name}: the exported graph fails onnx.checker: {exc}") from None
    proto = onnx.load(str(path), load_external_data=False)
    opset = {o.domain: o.version for o in proto.opset_import}.get("", 0)
    if opset < OPSET:
        raise ExportError(f"{path.name}: opset {opset} < {OPSET}")
    got_in = [i.name for i in proto.graph.input]
    got_out = [o.name for o in proto.graph.output]
    want_in, want_out = [s.name for s in inputs], [s.name for s in outputs]
    if not ordered:
        got_in, got_out, want_in, want_out = sorted(got_in), sorted(got_out), sorted(want_in), sorted(want_out)
    if got_in != want_in or got_out != want_out:
        raise ExportError(f"{path.name}: graph I/O {got_in} -> {got_out} differs from the expected "
                          f"{[s.name for s in inputs]} -> {[s.name for s in outputs]}")
