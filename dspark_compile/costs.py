"""The measured costs the cost-based scheduler trades against: the target's verify pass and the drafter's.

Measured on the engines just built (or re-measured on the serving machine), never assumed: median step
time for B rows × t tokens per row of the verify pass, and for B rows of one drafter pass (one context row
absorbed, one block drafted), made monotone, and bound to each engine's file checksums.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from typing import Any

import numpy as np

from dspark_compile.errors import GenerationError
from dspark_compile.runtime.drafter import Draft, DrafterModel
from dspark_compile.runtime.rows import Pending, RowParams
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import TargetModel


def engine_digest(manifest: dict[str, Any], role: str) -> str:
    """One sha256 over the checksums of an engine's files, as listed in the manifest."""
    files = manifest["engines"][role]["files"]
    return hashlib.sha256("".join(manifest["files"][f]["sha256"] for f in files).encode()).hexdigest()


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
        draft = Draft(tokens=np.ones((b, g), np.int32), q=np.ones((b, g), np.float32),
                      q_full=np.zeros((b, g, 1), np.float32), confidences=np.ones((b, g), np.float32),
                      survivals=np.ones((b, g), np.float32))
        lengths = np.full(b, g, dtype=np.int64)
        row.append(_median_ms(lambda: target.verify(cache, anchor, draft, lengths, params, rounds), repeats))
    return row


def _draft_ms(drafter: DrafterModel, target: TargetModel, b: int, repeats: int, context: int) -> float:
    """Drafter step time (ms) of b rows: absorb one context row after `context` cached ones, draft one block."""
    info = target.info
    cache = drafter.new_cache(b, context + drafter.info.block_size + 1)
    pending = Pending(np.zeros((b, 1, len(info.tap_layers) * info.hidden_size), info.dtype), np.ones(b, np.int64))
    params = RowParams.of([SamplingParams()] * b, list(range(b)))
    rounds, anchor = np.zeros(b, dtype=np.uint32), np.zeros(b, dtype=np.int64)

    def run():
        cache.lengths[:] = context  # the pass commits the absorbed row: start from the same context each time
        drafter.draft(cache, pending, anchor, params, rounds)

    return _median_ms(run, repeats)


def measure_costs(target: TargetModel, block_size: int, max_batch: int, repeats: int = 5, context: int = 64,
                  digest: str = "", drafter: DrafterModel | None = None, drafter_digest: str = "") -> dict[str, Any]:
    """Median verify step time (ms) for batch sizes 1, 2, 4, .. max_batch and 1 .. block_size+1 tokens per row;
    with a drafter, also its step time per batch size (`draft_ms`, bound to `drafter_digest`)."""
    batch_sizes = sorted({min(2**i, max_batch) for i in range(max_batch.bit_length() + 1)})
    ms = [_verify_ms(target, b, block_size, repeats, context) for b in batch_sizes]  # [batch sizes][G+1]
    curve = np.maximum.accumulate(np.maximum.accumulate(np.array(ms), axis=1), axis=0)  # monotone in t and B
    costs = {"batch_sizes": batch_sizes, "tokens_per_row": list(range(1, block_size + 2)),
             "ms": [[round(float(v), 3) for v in r] for r in curve], "raw_ms": [[round(v, 3) for v in r] for r in ms],
             "context": context, "repeats": repeats, "engine_sha256": digest}
    if drafter is not None:
        raw = [_draft_ms(drafter, target, b, repeats, context) for b in batch_sizes]  # [batch sizes]
        costs.update(draft_ms=[round(float(v), 3) for v in np.maximum.accumulate(raw)],
                     raw_draft_ms=[round(v, 3) for v in raw], drafter_sha256=drafter_digest)
    return costs


def check_binding(costs: dict[str, Any], manifest: dict[str, Any], role: str = "verify",
                  drafter_role: str = "drafter") -> None:
    """Refuse a cost table measured on another engine (the verify engine's, and the drafter's for `draft_ms`)."""
    _check_digest(costs.get("engine_sha256"), engine_digest(manifest, role), "engine")
    if costs.get("draft_ms") is not None:
        here = engine_digest(manifest, drafter_role) if drafter_role in manifest["engines"] else "none"
        _check_digest(costs.get("drafter_sha256"), here, "drafter engine")


def _check_digest(measured_on, digest: str, engine: str) -> None:
    if measured_on != digest:
        raise GenerationError(f"the bundle's cost table was measured on another {engine} (sha256 "
                              f"{str(measured_on)[:12]}…, this {engine} is {digest[:12]}…); "
                              "re-measure it with: dspark-compile measure-costs BUNDLE")


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
    manifest[key] = measure_costs(target, drafter.info.block_size, int(manifest["recipe"]["shapes"]["max_batch"]),
                                  repeats=repeats, digest=engine_digest(manifest, verify), drafter=drafter,
                                  drafter_digest=engine_digest(manifest, draft))
    write_manifest(bundle.root, manifest)
    return manifest[key]
