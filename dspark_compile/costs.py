"""The measured cost curve of the target's verify pass, which the cost-based scheduler trades against.

Measured on the engine just built (or re-measured on the serving machine), never assumed: median step
time for B rows × t tokens per row, made monotone, and bound to the engine files' checksums.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from typing import Any

import numpy as np

from dspark_compile.errors import GenerationError
from dspark_compile.runtime.drafter import Draft
from dspark_compile.runtime.rows import RowParams
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import TargetModel


def engine_digest(manifest: dict[str, Any], role: str) -> str:
    """One sha256 over the checksums of an engine's files, as listed in the manifest."""
    files = manifest["engines"][role]["files"]
    return hashlib.sha256("".join(manifest["files"][f]["sha256"] for f in files).encode()).hexdigest()


def measure_costs(target: TargetModel, block_size: int, max_batch: int, repeats: int = 5, context: int = 64,
                  digest: str = "") -> dict[str, Any]:
    """Median verify step time (ms) for batch sizes 1, 2, 4, .. max_batch and 1 .. block_size+1 tokens per row."""
    batch_sizes = sorted({min(2**i, max_batch) for i in range(max_batch.bit_length() + 1)})
    tokens_per_row = list(range(1, block_size + 2))
    ms = []
    for b in batch_sizes:
        cache = target.new_cache(b, context + block_size + 1)
        cache.lengths[:] = context  # a context of `context` cached positions (their values do not matter)
        params = RowParams.of([SamplingParams()] * b, list(range(b)))
        rounds = np.zeros(b, dtype=np.uint32)
        anchor = np.zeros(b, dtype=np.int64)
        row = []
        for t in tokens_per_row:
            g = t - 1
            draft = Draft(tokens=np.ones((b, g), np.int32), q=np.ones((b, g), np.float32),
                          q_full=np.zeros((b, g, 1), np.float32), confidences=np.ones((b, g), np.float32),
                          survivals=np.ones((b, g), np.float32))
            lengths = np.full(b, g, dtype=np.int64)
            times = []
            for _ in range(repeats + 1):  # the first run warms up
                t0 = time.perf_counter()
                target.verify(cache, anchor, draft, lengths, params, rounds)
                times.append(time.perf_counter() - t0)
            row.append(statistics.median(times[1:]) * 1e3)
        ms.append(row)
    curve = np.maximum.accumulate(np.maximum.accumulate(np.array(ms), axis=1), axis=0)  # monotone in t and B
    return {"batch_sizes": batch_sizes, "tokens_per_row": tokens_per_row,
            "ms": [[round(float(v), 3) for v in r] for r in curve], "raw_ms": [[round(v, 3) for v in r] for r in ms],
            "context": context, "repeats": repeats, "engine_sha256": digest}


def check_binding(costs: dict[str, Any], manifest: dict[str, Any], role: str = "verify") -> None:
    """Refuse a cost table measured on another engine."""
    digest = engine_digest(manifest, role)
    if costs.get("engine_sha256") != digest:
        raise GenerationError(f"the bundle's cost table was measured on another engine (sha256 "
                              f"{str(costs.get('engine_sha256'))[:12]}…, this engine is {digest[:12]}…); "
                              "re-measure it with: dspark-compile measure-costs BUNDLE")


def remeasure(bundle_root, repeats: int = 5, threads: int = 0) -> dict[str, Any]:
    """Measure the cost table again on this machine with the bundle's verify engine and store it in the
    manifest (replaced atomically; the other files and their checksums are untouched)."""
    import json
    import os

    from dspark_compile.bundle import MANIFEST, load_bundle
    from dspark_compile.engine.base import EngineOptions, load_engine
    from dspark_compile.errors import BundleError
    from dspark_compile.runtime.target import ModelInfo

    bundle = load_bundle(bundle_root)
    manifest = bundle.manifest
    if "drafter" not in manifest:
        raise BundleError(f"{bundle.root}: the bundle has no drafter; its cost table only serves speculation")
    spec = bundle.engine("verify")
    engine = load_engine(spec["backend"], bundle.path(spec["files"][0]), EngineOptions(threads=threads))
    manifest["costs"] = measure_costs(TargetModel(engine, ModelInfo.from_manifest(manifest["model"])),
                                      int(manifest["drafter"]["block_size"]), int(manifest["recipe"]["shapes"]["max_batch"]),
                                      repeats=repeats, digest=engine_digest(manifest, "verify"))
    tmp = bundle.path(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.chmod(0o644)
    os.replace(tmp, bundle.path(MANIFEST))
    return manifest["costs"]
