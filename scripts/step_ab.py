"""Time the one-token target step of several bundles side by side, one step of each in turn.

    python scripts/step_ab.py BUNDLE [BUNDLE ...] [--shapes 1x90,4x90,16x90,16x200] [--steps 150] [--drafter]

A shape RxS is R rows with a cache of room for S positions (S - 20 of them filled). The bundles take turns
step by step (A, B, C, A, B, C, ...), so a slow spell of this shared machine falls on all of them alike;
each line gives the median and quartiles per bundle. Reads only each bundle's `target_verify.onnx` and
manifest, so bundles built by older checkouts compare too. `--drafter` times one greedy drafter pass instead
(`drafter.onnx`: one context row absorbed after S - 20, one block drafted), as the cost table measures it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from dspark_compile.engine.base import EngineOptions, load_engine
from dspark_compile.runtime.rows import RowParams
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import ModelInfo, TargetModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--shapes", default="1x90,4x90,16x90,16x200")
    ap.add_argument("--steps", type=int, default=150, help="timed steps per bundle (--drafter: per pass of 3)")
    ap.add_argument("--drafter", action="store_true", help="time the drafter pass instead of the target step")
    args = ap.parse_args()
    if args.drafter:
        return _drafters(args)

    models = {}
    for root in args.bundles:
        manifest = json.loads((root / "manifest.json").read_text())
        engine = load_engine("onnxruntime", root / "target_verify.onnx", EngineOptions(yield_after_run=True))
        models[str(root)] = TargetModel(engine, ModelInfo.from_manifest(manifest["model"]))
    for shape in args.shapes.split(","):
        rows, room = (int(v) for v in shape.split("x"))
        params = RowParams.of([SamplingParams()] * rows, list(range(rows)))
        anchor, none = np.zeros(rows, np.int64), np.zeros(rows, np.int64)
        caches = {name: target.new_cache(rows, room) for name, target in models.items()}
        times: dict[str, list[float]] = {name: [] for name in models}
        for i in range(args.steps + 5):  # the first 5 warm up
            for name, target in models.items():
                caches[name].lengths[:] = room - 20
                t0 = time.perf_counter()
                target.verify(caches[name], anchor, None, none, params, np.zeros(rows, np.uint32))
                if i >= 5:
                    times[name].append(1000 * (time.perf_counter() - t0))
        print(f"{rows} rows, room for {room}: " + "; ".join(
            f"{n}: median {np.median(t):.1f} ms (quartiles {np.percentile(t, 25):.1f}-{np.percentile(t, 75):.1f})"
            for n, t in times.items()))


def _drafters(args) -> None:
    from dspark_compile.costs import _draft_run, _interleaved_ms
    from dspark_compile.runtime.drafter import DRAFT_VOCAB_FILE, DrafterInfo, DrafterModel, draft_vocabulary

    models = {}
    for root in args.bundles:
        manifest = json.loads((root / "manifest.json").read_text())
        engine = load_engine("onnxruntime", root / "drafter.onnx", EngineOptions(yield_after_run=True))
        target = SimpleNamespace(info=ModelInfo.from_manifest(manifest["model"]))  # _draft_run reads only its dims
        vocab = draft_vocabulary(root / DRAFT_VOCAB_FILE, int(manifest["model"]["vocab_size"]))
        models[str(root)] = (DrafterModel(engine, DrafterInfo.from_manifest(manifest["drafter"]), vocab), target)
    for shape in args.shapes.split(","):
        rows, room = (int(v) for v in shape.split("x"))
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(3):  # passes, interleaved across bundles
            for name, (drafter, target) in models.items():
                run = _draft_run(drafter, target, rows, room - 20, SamplingParams())
                times[name].append(round(_interleaved_ms([run], args.steps)[0], 1))
        print(f"drafter, {rows} rows, context {room - 20}: " + "; ".join(f"{n}: {t} ms" for n, t in times.items()))


if __name__ == "__main__":
    main()
