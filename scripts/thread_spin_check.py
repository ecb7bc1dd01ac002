"""Time a bundle's verify pass alone and right after a drafter pass, with the drafter's workers spinning
after their run (ONNX Runtime's default) and stopping (`EngineOptions.yield_after_run`, what the runtime
uses). README, "Threads".

    python scripts/thread_spin_check.py bundles/smollm2-135m [--rows 1] [--drafts 2] [--repeats 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dspark_compile.bundle import load_bundle
from dspark_compile.engine.base import EngineOptions, load_engine
from dspark_compile.ops.reference import DraftSampleOutputs
from dspark_compile.runtime.drafter import DRAFT_VOCAB_FILE, Draft, DrafterInfo, DrafterModel, draft_vocabulary
from dspark_compile.runtime.rows import Pending, RowParams
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import ModelInfo, TargetModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("--drafts", type=int, default=2, help="drafts verified per row (the pass has drafts+1 tokens)")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()

    bundle = load_bundle(args.bundle)
    manifest, b, g, context = bundle.manifest, args.rows, args.drafts, 64
    info = ModelInfo.from_manifest(manifest["model"])
    path = {role: bundle.path(bundle.engine(role)["files"][0]) for role in ("verify", "drafter")}
    target = TargetModel(load_engine("onnxruntime", path["verify"]), info)
    params = RowParams.of([SamplingParams()] * b, list(range(b)))
    rounds, anchor = np.zeros(b, np.uint32), np.zeros(b, np.int64)
    cache = target.new_cache(b, context + g + 1)
    draft = DraftSampleOutputs(draft_tokens=np.ones((b, g), np.int32), draft_q=np.ones((b, g), np.float32),
                               q_full=np.zeros((b, g, 1), np.float32), confidences=np.ones((b, g), np.float32),
                               survivals=np.ones((b, g), np.float32))
    lengths = np.full(b, g, np.int64)

    def verify_ms(before=None) -> float:
        times = []
        for _ in range(args.repeats):
            if before is not None:
                before()
            cache.lengths[:] = context
            t0 = time.perf_counter()
            target.verify(cache, anchor, Draft(draft, np.zeros(1, np.int32)), lengths, params, rounds)
            times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times[3:]))

    print(f"verify pass, {b} row(s) x {g + 1} tokens, median of {args.repeats}:")
    print(f"  alone:                                  {verify_ms():6.1f} ms")
    for yield_after_run in (False, True):
        drafter = DrafterModel(load_engine("onnxruntime", path["drafter"], EngineOptions(yield_after_run=yield_after_run)),
                               DrafterInfo.from_manifest(manifest["drafter"]),
                               draft_vocabulary(bundle.path(DRAFT_VOCAB_FILE), info.vocab_size))
        dcache = drafter.new_cache(b, context + drafter.info.block_size + 1)
        pending = Pending(np.zeros((b, 1, len(info.tap_layers) * info.hidden_size), info.dtype), np.ones(b, np.int64))

        def draft_pass():
            dcache.lengths[:] = context
            drafter.draft(dcache, pending, anchor, params, rounds)

        label = "stop spinning" if yield_after_run else "spin (default)"
        print(f"  after a drafter pass, drafter {label:15s} {verify_ms(draft_pass):6.1f} ms")


if __name__ == "__main__":
    main()
