"""Measuring the costs the cost-based scheduler trades against: the target's verify pass and the drafter's.

Measured on the engines just built (or re-measured on the serving machine), never assumed: median step
time for B rows × t tokens per row of the verify pass, and for B rows of one drafter pass (one context row
absorbed, one block drafted, and one slot drafted) in greedy and in sampled mode, plus what absorbing more
pending positions adds;
all timed in the same interleaved rounds, fitted monotone (isotonic least squares) and bound to each
engine's file checksums. What served rounds really take, the guard learns as it runs (`runtime/guard.py`).
The table's format is `runtime/cost_table.py`.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from dspark_compile.ops.reference import DraftSampleOutputs
from dspark_compile.runtime.cost_table import MODES, CostTable, manifest_engine_digest
from dspark_compile.runtime.drafter import Draft, DrafterModel
from dspark_compile.runtime.rows import MAX_BACKLOG, Pending, RowParams
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import TargetModel

SAMPLED = SamplingParams(temperature=0.7)
"""The sampled mode the drafter is timed in (`bench`'s default sampled mode)."""


def _interleaved_ms(runs: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median wall time (ms) of each run over `repeats` rounds that call every run once in turn, after one
    warm-up round: a slow stretch of the machine falls on all of them alike, not on the few points measured
    while it lasted."""
    times: list[list[float]] = [[] for _ in runs]
    for r in range(repeats + 1):
        for i, run in enumerate(runs):
            t0 = time.perf_counter()
            run()
            if r:
                times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) * 1e3 for t in times]


def _verify_runs(target: TargetModel, b: int, block_size: int, context: int) -> list[Callable[[], object]]:
    """Verify steps of b rows for 1 .. block_size+1 tokens per row, after `context` cached positions."""
    cache = target.new_cache(b, context + block_size + 1)
    cache.lengths[:] = context  # a context of `context` cached positions (their values do not matter)
    params = RowParams.of([SamplingParams()] * b, list(range(b)))
    rounds, anchor = np.zeros(b, dtype=np.uint32), np.zeros(b, dtype=np.int64)

    def run(g: int) -> Callable[[], object]:
        draft = DraftSampleOutputs(draft_tokens=np.ones((b, g), np.int32), draft_q=np.ones((b, g), np.float32),
                                   q_full=np.zeros((b, g, 1), np.float32), confidences=np.ones((b, g), np.float32),
                                   survivals=np.ones((b, g), np.float32))
        lengths = np.full(b, g, dtype=np.int64)
        return lambda: target.verify(cache, anchor, Draft(draft, np.zeros(1, np.int32)), lengths, params, rounds)

    return [run(g) for g in range(block_size + 1)]


def _draft_run(drafter: DrafterModel, target: TargetModel, b: int, context: int, sampling: SamplingParams,
               backlog: int = 1, slots: int | None = None) -> Callable[[], object]:
    """A drafter step of b rows: absorb `backlog` context rows after `context` cached ones, draft `slots` of a
    block (default: all)."""
    info = target.info
    cache = drafter.new_cache(b, context + backlog + drafter.info.block_size + 1)
    width = len(info.tap_layers) * info.hidden_size
    pending = Pending(np.zeros((b, backlog, width), info.dtype), np.full(b, backlog, np.int64))
    params = RowParams.of([sampling] * b, list(range(b)))
    rounds, anchor = np.zeros(b, dtype=np.uint32), np.zeros(b, dtype=np.int64)

    def run():
        cache.lengths[:] = context  # the pass commits the absorbed rows: start from the same context each time
        drafter.draft(cache, pending, anchor, params, rounds, slots=slots)

    return run


def _isotonic(values) -> np.ndarray:
    """The non-decreasing sequence closest to `values` in least squares (pool adjacent violators): a point
    measured slow by chance is averaged with its neighbours instead of raising every point after it."""
    blocks: list[list[float]] = []  # [mean, weight]
    for v in np.asarray(values, dtype=np.float64):
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, w2), (m1, w1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2])
    return np.repeat([m for m, _ in blocks], [int(w) for _, w in blocks])


def _monotone(values) -> list[float]:
    return [round(float(v), 3) for v in _isotonic(values)]


def measure_costs(target: TargetModel, drafter: DrafterModel, max_batch: int, repeats: int = 5, context: int = 64,
                  digest: str = "", drafter_digest: str = "") -> dict[str, Any]:
    """The cost table (`CostTable.to_manifest`): verify step times for batch sizes 1, 2, 4, .. max_batch and
    1 .. G+1 tokens per row, bound to `digest`; drafter step times per mode and per absorbed position, bound
    to `drafter_digest`. Every point is timed in the same interleaved rounds, then fitted monotone."""
    block_size = drafter.info.block_size
    batch_sizes = sorted({min(2**i, max_batch) for i in range(max_batch.bit_length() + 1)})
    verify = [r for b in batch_sizes for r in _verify_runs(target, b, block_size, context)]  # [S*(G+1)]
    kinds = ((SamplingParams(), 1, None), (SAMPLED, 1, None), (SamplingParams(), MAX_BACKLOG, None),
             (SamplingParams(), 1, 1), (SAMPLED, 1, 1))  # (mode, backlog, slots): the last two draft one slot
    drafts = [_draft_run(drafter, target, b, context, sampling, backlog, slots) for sampling, backlog, slots in kinds
              for b in batch_sizes]  # [5*S]
    times = _interleaved_ms(verify + drafts, repeats)
    s = len(batch_sizes)
    ms = np.array(times[: len(verify)]).reshape(s, block_size + 1)  # [S, G+1]
    greedy, sampled, full, greedy1, sampled1 = (times[len(verify) + k * s: len(verify) + (k + 1) * s]
                                                for k in range(len(kinds)))  # [S] each
    raw = dict(zip(MODES, (greedy, sampled)))  # mode -> [S]; full: greedy, absorbing MAX_BACKLOG positions
    # one slot never costs more than the whole block (a noisy point is capped there)
    slot = {m: tuple(_monotone(np.minimum(one, whole))) for m, one, whole in
            zip(MODES, (greedy1, sampled1), (_isotonic(greedy), _isotonic(sampled)))}
    absorb = [max(f - one, 0.0) / (MAX_BACKLOG - 1) for f, one in zip(full, raw["greedy"])]  # [S] per position
    curve = np.array([_isotonic(r) for r in ms])  # monotone in tokens per row, then in batch size, then both
    curve = np.array([_isotonic(c) for c in curve.T]).T
    curve = np.maximum.accumulate(np.maximum.accumulate(curve, axis=1), axis=0)
    table = CostTable(tuple(batch_sizes), tuple(range(1, block_size + 2)),
                      tuple(tuple(round(float(v), 3) for v in r) for r in curve),
                      {m: tuple(_monotone(v)) for m, v in raw.items()}, tuple(_monotone(absorb)), digest,
                      drafter_digest, slot)
    return table.to_manifest(raw_ms=[[round(float(v), 3) for v in r] for r in ms],
                             raw_draft_ms={m: [round(v, 3) for v in r] for m, r in raw.items()},
                             context=context, repeats=repeats)


def remeasure(bundle_root, repeats: int = 5, threads: int = 0, backend: str = "onnxruntime") -> dict[str, Any]:
    """Measure the cost table again on this machine with the bundle's verify and drafter engines of `backend`
    and store it in the manifest (replaced atomically; the other files and their checksums are untouched)."""
    from dspark_compile.bundle import costs_key, engine_role, load_bundle, write_manifest
    from dspark_compile.engine.base import EngineOptions, load_engine
    from dspark_compile.errors import BundleError
    from dspark_compile.runtime.drafter import DRAFT_VOCAB_FILE, DrafterInfo, draft_vocabulary
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
    drafter = DrafterModel(engine(draft), DrafterInfo.from_manifest(manifest["drafter"]),
                           draft_vocabulary(bundle.path(DRAFT_VOCAB_FILE), target.info.vocab_size))
    manifest[key] = measure_costs(target, drafter, int(manifest["recipe"]["shapes"]["max_batch"]),
                                  repeats=repeats, digest=manifest_engine_digest(manifest, verify),
                                  drafter_digest=manifest_engine_digest(manifest, draft))
    write_manifest(bundle.root, manifest)
    return manifest[key]
