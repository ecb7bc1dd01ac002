"""Run the DSpark CUDA kernels on a GPU against the numpy reference, without TensorRT.

    python scripts/gpu_check.py [--batch 64 --gamma 7 --vocab 151936 --dtype float16 --iters 20]

Needs: nvcc, PyTorch with CUDA (device buffers, events). Compiles plugins/ kernels plus
plugins/common/gpuCheckEntry.cu into a .so for this GPU (-arch=native), runs DraftSample, Verify and
Schedule, and prints per op: agreement with ops/reference.py (integer outputs: share identical; float
outputs: max |error|), time per call and achieved memory bandwidth (from the bytes each README states).
A few minutes on a datacenter GPU; most of it is the numpy reference.
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dspark_compile.ops import reference as ref  # noqa: E402
from dspark_compile.ops import rng  # noqa: E402

PLUGINS = ROOT / "plugins"
SOURCES = ["common/gpuCheckEntry.cu", "draftSamplePlugin/draftSampleKernels.cu", "verifyPlugin/verifyKernels.cu",
           "schedulePlugin/scheduleKernels.cu"]
F32, I32 = np.float32, np.int32


def build(out: Path) -> ctypes.CDLL:
    lib = out / "libdspark_gpu_check.so"
    cmd = ["nvcc", "-std=c++17", "-O3", "--fmad=false", "-arch=native", "-shared", "-Xcompiler", "-fPIC",
           f"-I{PLUGINS / 'common'}", *(str(PLUGINS / s) for s in SOURCES), "-o", str(lib)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"compiled kernels in {time.perf_counter() - t:.0f} s")
    return ctypes.CDLL(str(lib))


def timed(torch, fn, iters: int) -> float:
    """Mean milliseconds per call, with CUDA events (after one warm-up call)."""
    fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def report(name: str, ms: float, nbytes: float, checks: dict[str, str]) -> None:
    print(f"{name:12s} {ms:8.3f} ms/call  {nbytes / ms / 1e6:8.1f} GB/s (of {nbytes / 1e9:.2f} GB moved)  "
          + "  ".join(f"{k}: {v}" for k, v in checks.items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--gamma", type=int, default=7)
    ap.add_argument("--vocab", type=int, default=151936)
    ap.add_argument("--hidden", type=int, default=2560)
    ap.add_argument("--rank", type=int, default=256)
    ap.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible to PyTorch", file=sys.stderr)
        return 2
    print(f"device: {torch.cuda.get_device_name()}  B={args.batch} γ={args.gamma} V={args.vocab} {args.dtype}")
    B, G, V, H, r = args.batch, args.gamma, args.vocab, args.hidden, args.rank
    code = {"float32": 0, "float16": 1}[args.dtype]
    sT = np.dtype(args.dtype).itemsize
    gen = np.random.default_rng(0)
    dev = lambda a: torch.from_numpy(np.ascontiguousarray(a)).cuda()  # noqa: E731
    ptr = lambda t: ctypes.c_void_p(t.data_ptr())  # noqa: E731
    I64 = ctypes.c_int64
    with tempfile.TemporaryDirectory() as tmp:
        lib = build(Path(tmp))
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)

        # ---------------------------------------------------------------- DraftSample
        ids = np.sort(gen.choice(V, max(1, V // 4), replace=False)).astype(I32)  # [Vd] draft vocabulary
        Vd = ids.size
        logits = (gen.standard_normal((B, G, Vd)) * 3).astype(args.dtype)    # [B, G, Vd]
        hidden = (gen.standard_normal((B, G, H)) * 0.5).astype(args.dtype)   # [B, G, H]
        w1 = (gen.standard_normal((V, r)) * 0.05).astype(args.dtype)         # [V, r]
        w2 = (gen.standard_normal((Vd, r)) * 0.05).astype(args.dtype)        # [Vd, r]
        conf_w = (gen.standard_normal(H + r) * 0.02).astype(args.dtype)      # [H + r]
        conf_b = np.array([0.5], args.dtype)
        anchor = gen.integers(0, V, B).astype(I32)
        sts = gen.uniform(0.8, 1.5, G).astype(F32)
        temperature = np.where(np.arange(B) % 4 == 0, 0.0, 0.8).astype(F32)  # a quarter greedy rows
        top_k = np.where(np.arange(B) % 3 == 0, 50, 0).astype(I32)
        top_p = np.where(np.arange(B) % 2 == 0, 0.9, 1.0).astype(F32)
        u_draft = rng.draft_uniforms(np.arange(B), np.arange(B), np.zeros(B, np.int64), G)
        ins = [dev(x) for x in (logits, hidden, anchor, w1, w2, ids, conf_w, conf_b, sts, temperature, top_k, top_p,
                                u_draft)]
        outs = [torch.empty((B, G), dtype=torch.int32, device="cuda"), torch.empty((B, G), device="cuda"),
                torch.empty((B, G, Vd), device="cuda"), torch.empty((B, G), device="cuda"),
                torch.empty((B, G), device="cuda")]
        ws = torch.empty(lib.dspark_gpu_draft_sample_ws(I64(B), I64(Vd)), dtype=torch.uint8, device="cuda")
        call = lambda: lib.dspark_gpu_draft_sample(I64(B), I64(G), I64(V), I64(Vd), I64(H), I64(r), code,  # noqa: E731
                                                   *map(ptr, ins), *map(ptr, outs), ptr(ws), stream)
        assert call() == 0
        ms = timed(torch, call, args.iters)
        t = time.perf_counter()
        want = ref.draft_sample(logits, hidden, anchor, w1, w2, ids, conf_w, conf_b, sts, temperature, top_k, top_p,
                                u_draft)
        print(f"(numpy reference DraftSample: {time.perf_counter() - t:.0f} s)")
        got = [o.cpu().numpy() for o in outs]
        nbytes = G * -(-B // 16) * Vd * r * sT + B * G * Vd * sT + B * G * Vd * 4 + G * B * Vd * 4 * 2
        report("DraftSample", ms, nbytes, {
            "tokens equal": f"{np.mean(got[0] == want.draft_tokens):.4f}",
            "max|q_full|err": f"{np.abs(got[2] - want.q_full).max():.2e}",
            "max|conf|err": f"{np.abs(got[3] - want.confidences).max():.2e}",
            "max|surv|err": f"{np.abs(got[4] - want.survivals).max():.2e}"})

        # ---------------------------------------------------------------- Verify (drafts from the reference)
        target = (gen.standard_normal((B, G + 1, V)) * 3).astype(args.dtype)  # [B, G+1, V]
        target[:, :G] += logits  # a target that agrees with the drafter often
        drafts, draft_q, q_full = want.draft_tokens, want.draft_q, want.q_full
        lengths = gen.integers(0, G + 1, B).astype(I32)
        u_verify = rng.verify_uniforms(np.arange(B), np.arange(B), np.zeros(B, np.int64), G)
        ins = [dev(x) for x in (target, drafts, draft_q, q_full, ids, lengths, u_verify, temperature, top_k, top_p)]
        acc, toks = torch.empty(B, dtype=torch.int32, device="cuda"), torch.empty((B, G + 1), dtype=torch.int32,
                                                                                   device="cuda")
        ws = torch.empty(lib.dspark_gpu_verify_ws(I64(B), I64(G), I64(V)), dtype=torch.uint8, device="cuda")
        call = lambda: lib.dspark_gpu_verify(I64(B), I64(G), I64(V), I64(Vd), code, ctypes.c_float(1e-6),  # noqa: E731
                                             *map(ptr, ins), ptr(acc), ptr(toks), ptr(ws), stream)
        assert call() == 0
        ms = timed(torch, call, args.iters)
        want_v = ref.verify(target, drafts, draft_q, q_full, ids, lengths, u_verify, temperature, top_k, top_p)
        nbytes = B * (G + 1) * V * sT * 2 + B * V * (sT + 4) * 3
        report("Verify", ms, nbytes, {"accepted equal": f"{np.mean(acc.cpu().numpy() == want_v.accepted):.4f}",
                                       "tokens equal": f"{np.mean(toks.cpu().numpy() == want_v.out_tokens):.4f}"})

        # ---------------------------------------------------------------- Schedule (cost mode)
        surv, lagged = want.survivals, np.roll(want.survivals, 1, axis=0)
        cost = (1.0 + 0.004 * np.arange(B * (G + 1))).astype(F32)
        active = (gen.random(B) < 0.9).astype(I32)
        ins = [dev(x) for x in (surv, lagged, cost, active)]
        lens = torch.empty(B, dtype=torch.int32, device="cuda")
        ws = torch.empty(lib.dspark_gpu_schedule_ws(I64(B), I64(G)), dtype=torch.uint8, device="cuda")
        call = lambda: lib.dspark_gpu_schedule(I64(B), I64(G), I64(cost.size), 2, 0, 0, G, ctypes.c_float(0.5),  # noqa: E731
                                               *map(ptr, ins), ptr(lens), ptr(ws), stream)
        assert call() == 0
        ms = timed(torch, call, args.iters)
        want_s = ref.schedule(surv, lagged, cost, active, mode=2, min_len=0, max_len=G)
        report("Schedule", ms, B * G * 8 + cost.size * 4, {"lengths equal": str(bool(np.array_equal(lens.cpu().numpy(), want_s)))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
