"""What one Verify costs in ONNX Runtime, greedy vs sampled, against another revision's ONNX function bodies.

    python scripts/verify_cost.py [--against REV] [--vocab 49152] [--rows 1,16] [--drafts 0,7] [--threads 2]

For each batch (rows B, drafts G: G = 0 is a plain decoding step) and mode (greedy; T 0.7; T 0.7 with top-p
0.9), the single-op model of this checkout's `ops/onnx_functions.py` and of REV's (default HEAD) run the same
inputs, alternating, best of 3 x 10 runs. The logits are Gaussian with standard deviation 4 over the vocabulary,
a language model's rough shape (its top 64 tokens hold most of the mass at T 0.7).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from dspark_compile.ops import onnx_functions
from dspark_compile.ops.spec import VERIFY

MODES = {"greedy": (0.0, 1.0), "T0.7": (0.7, 1.0), "T0.7 top-p 0.9": (0.7, 0.9)}


def functions_at(rev: str):
    """The ops/onnx_functions module as it was at git revision `rev`."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "show", f"{rev}:dspark_compile/ops/onnx_functions.py"], cwd=root, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "onnx_functions_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("dspark_compile.ops.onnx_functions_then", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(B: int, G: int, V: int, temperature: float, top_p: float) -> dict:
    rs = np.random.default_rng([B, G])
    return dict(
        target_logits=(4 * rs.standard_normal((B, G + 1, V))).astype(np.float32),   # [B, G+1, V]
        draft_tokens=rs.integers(0, V, (B, G)).astype(np.int32),                   # [B, G]
        draft_q=rs.uniform(0.05, 1.0, (B, G)).astype(np.float32),                  # [B, G]
        q_full=np.full((B, G, V), 1.0 / V, np.float32),                            # [B, G, V]
        draft_vocab=np.arange(V, dtype=np.int32),  # [V] a drafter scoring the whole vocabulary (ops version 2)
        verify_lengths=np.full(B, G, np.int32),                                    # [B]
        uniforms=rs.uniform(0, 1, (B, 2 * G + 1)).astype(np.float32),              # [B, 2G+1]
        temperature=np.full(B, temperature, np.float32), top_k=np.zeros(B, np.int32),
        top_p=np.full(B, top_p, np.float32))


def best_ms(session: ort.InferenceSession, feed: dict, runs: int = 10, passes: int = 3) -> float:
    session.run(None, feed)
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        for _ in range(runs):
            session.run(None, feed)
        best = min(best, (time.perf_counter() - start) / runs)
    return best * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision whose bodies to compare (default HEAD)")
    parser.add_argument("--vocab", type=int, default=49152)
    parser.add_argument("--rows", default="1,16")
    parser.add_argument("--drafts", default="0,7")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.log_severity_level = 3
    sessions = {name: ort.InferenceSession(module.make_op_model(VERIFY.name).SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
                for name, module in ((args.against, functions_at(args.against)), ("this checkout", onnx_functions))}
    print(f"| rows | drafts | mode | {args.against} | this checkout |\n| ---: | ---: | --- | ---: | ---: |")
    for B in map(int, args.rows.split(",")):
        for G in map(int, args.drafts.split(",")):
            for mode, (t, p) in MODES.items():
                feed = inputs(B, G, args.vocab, t, p)
                ms = {name: [] for name in sessions}
                for _ in range(2):  # alternate: this machine drifts
                    for name, session in sessions.items():
                        ms[name].append(best_ms(session, feed))
                cells = " | ".join(f"{min(v):.2f} ms" for v in ms.values())
                print(f"| {B} | {G} | {mode} | {cells} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
