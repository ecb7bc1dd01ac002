"""Time the one-token target step of several bundles side by side, interleaved (3 passes per shape).

    python scripts/step_ab.py BUNDLE [BUNDLE ...] [--shapes 1x90,4x90,16x90,16x200]

A shape RxS is R rows with a cache of room for S positions (S - 20 of them filled). Reads only each bundle's
`target_verify.onnx` and manifest, so bundles built by older checkouts compare too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dspark_compile.engine.base import EngineOptions, load_engine
from dspark_compile.runtime.rows import RowParams
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import ModelInfo, TargetModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--shapes", default="1x90,4x90,16x90,16x200")
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()

    models = {}
    for root in args.bundles:
        manifest = json.loads((root / "manifest.json").read_text())
        engine = load_engine("onnxruntime", root / "target_verify.onnx", EngineOptions(yield_after_run=True))
        models[str(root)] = TargetModel(engine, ModelInfo.from_manifest(manifest["model"]))
    for shape in args.shapes.split(","):
        rows, room = (int(v) for v in shape.split("x"))
        params = RowParams.of([SamplingParams()] * rows, list(range(rows)))
        anchor, none = np.zeros(rows, np.int64), np.zeros(rows, np.int64)
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(3):  # passes, interleaved across bundles
            for name, target in models.items():
                cache = target.new_cache(rows, room)
                step = []
                for _ in range(args.steps):
                    cache.lengths[:] = room - 20
                    t0 = time.perf_counter()
                    target.verify(cache, anchor, None, none, params, np.zeros(rows, np.uint32))
                    step.append(time.perf_counter() - t0)
                times[name].append(round(1000 * float(np.median(step[3:])), 1))
        print(f"{rows} rows, room for {room}: " + "; ".join(f"{n}: {t} ms" for n, t in times.items()))


if __name__ == "__main__":
    main()
