"""Measuring the costs the cost-based scheduler trades against: the target's verify pass and the drafter's.

Measured on the engines just built (or re-measured on the serving machine), never assumed: median step
time for B rows × t tokens per row of the verify pass, and for B rows of one drafter pass (one context row
absorbed, one block drafted) in greedy and in sampled mode, plus what absorbing more pending positions adds;
made monotone and bound to each engine's file checksums. The table's format is `runtime/cost_table.py`.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from dspark_compile.ops.reference import DraftSampleOutputs
from dspark_compile.runtime.cost_table import MODES, CostTable, manifest_engine_digest
from dspark_compile.runtime.drafter import DrafterModel
from dspark_compile.runtime.rows import MAX_BACKLOG, Pending, RowParams
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import TargetModel

SAMPLED = SamplingParams(temperature=0.7)
"""The sampled mode the drafter is timed in (`bench`'s default sampled mode)."""


def _median_ms(run, repeats: int) -> float:
    """Median wall time (ms) of `repeats` calls of run(), after one warm-up call."""
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) * 1e3


def _verify_ms(target: TargetModel, b: int, block_size: int, repeats: int, context: int) -> list[float]:
    """Verify step time (ms) of b rows for 1 .. block_size+1 tokens per row, after `context` cached positions."""
    cache = target.new_cache(b, context + block_size + 1)
    cache.lengths[:] = context  # a context of `context` cached positions (their values do not matter)
    params = RowParams.of([SamplingParams()] * b, list(range(b)))
    rounds, anchor = np.zeros(b, dtype=np.uint32), np.zeros(b, dtype=np.int64)
    row = []
    for g in range(block_size + 1):
        draft = DraftSampleOutputs(draft_tokens=np.ones((b, g), np.int32), draft_q=np.ones((b, g), np.float32),
                                   q_full=np.zeros((b, g, 1), np.float32), confidences=np.ones((b, g), np.float32),
                                   survivals=np.ones((b, g), np.float32))
        lengths = np.full(b, g, dtype=np.int64)
        row.append(_median_ms(lambda: target.verify(cache, anchor, draft, lengths, params, rounds), repeats))
    return row


def _draft_ms(drafter: DrafterModel, target: TargetModel, b: int, repeats: int, context: int,
              sampling: SamplingParams, backlog: int = 1) -> float:
    """Drafter step time (ms) of b rows: absorb `backlog` context rows after `context` cached ones, draft one block."""
    info = target.info
    cache = drafter.new_cache(b, context + backlog + drafter.info.block_size + 1)
    width = len(info.tap_layers) * info.hidden_size
    pending = Pending(np.zeros((b, backlog, width), info.dtype), np.full(b, backlog, np.int64))
    params = RowParams.of([sampling] * b, list(range(b)))
    rounds, anchor = np.zeros(b, dtype=np.uint32), np.zeros(b, dtype=np.int64)

    def run():
        cache.lengths[:] = context  # the pass commits the absorbed rows: start from the same context each time
        drafter.draft(cache, pending, anchor, params, rounds)

    return _median_ms(run, repeats)


def _monotone(values: list[float]) -> list[float]:
    return [round(float(v), 3) for v in np.maximum.accumulate(values)]


def measure_costs(target: TargetModel, drafter: DrafterModel, max_batch: int, repeats: int = 5, context: int = 64,
                  digest: str = "", drafter_digest: str = "") -> dict[str, Any]:
    """The cost table (`CostTable.to_manifest`): verify step times for batch sizes 1, 2, 4, .. max_batch and
    1 .. G+1 tokens per row, bound to `digest`; drafter step times per mode and per absorbed position, bound
    to `drafter_digest`."""
    block_size = drafter.info.block_size
    batch_sizes = sorted({min(2**i, max_batch) for i in range(max_batch.bit_length() + 1)})
    ms = [_verify_ms(target, b, block_size, repeats, context) for b in batch_sizes]  # [S][G+1]
    curve = np.maximum.accumulate(np.maximum.accumulate(np.array(ms), axis=1), axis=0)  # monotone in t and B
    raw = {m: [_draft_ms(drafter, target, b, repeats, context, s) for b in batch_sizes]  # [S] per mode
           for m, s in zip(MODES, (SamplingParams(), SAMPLED))}
    full = [_draft_ms(drafter, target, b, repeats, context, SamplingParams(), MAX_BACKLOG) for b in batch_sizes]
    absorb = [max(f - one, 0.0) / (MAX_BACKLOG - 1) for f, one in zip(full, raw["greedy"])]  # [S] per position
    table = CostTable(tuple(batch_sizes), tuple(range(1, block_size + 2)),
                      tuple(tuple(round(float(v), 3) for v in r) for r in curve),
                      {m: tuple(_monotone(v)) for m, v in raw.items()}, tuple(_monotone(absorb)), digest, drafter_digest)
    return table.to_manifest(raw_ms=[[round(v, 3) for v in r] for r in ms],
                             raw_draft_ms={m: [round(v, 3) for v in r] for m, r in raw.items()},
                             context=context, repeats=repeats)


def remeasure(bundle_root, repeats: int = 5, threads: int = 0, backend: str = "onnxruntime") -> dict[str, Any]:
    """Measure the cost table again on this machine with the bundle's verify and drafter engines of `backend`
    and store it in the manifest (replaced atomically; the other files and their checksums are untouched)."""
    from dspark_compile.bundle import costs_key, engine_role, load_bundle, write_manifest
    from dspark_compile.engine.base import EngineOptions, load_engine
    from dspark_compile.errors import BundleError
    from dspark_compile.runtime.drafter import DrafterInfo
    from dspark_compile.runtime.target import ModelInfo

    bundle = load_bundle(bundle_root)
    manifest = bundle.manifest
    if "drafter" not in manifest:
        raise BundleError(f"{bundle.root}: the bundle has no drafter; its cost table only serves speculation")

    verify, draft, key = engine_role("verify", backend), engine_role("drafter", backend), costs_key(backend)

    def engine(role: str):
        spec = bundle.engine(role)
        return load_engine(spec["backend"], bundle.path(spec["files"][0]), EngineOptions(threads=threads, yield_after_run=True))

    target = TargetModel(engine(verify), ModelInfo.from_manifest(manifest["model"]))
    drafter = DrafterModel(engine(draft), DrafterInfo.from_manifest(manifest["drafter"]))
    manifest[key] = measure_costs(target, drafter, int(manifest["recipe"]["shapes"]["max_batch"]),
                                  repeats=repeats, digest=manifest_engine_digest(manifest, verify),
                                  drafter_digest=manifest_engine_digest(manifest, draft))
    write_manifest(bundle.root, manifest)
    return manifest[key]
