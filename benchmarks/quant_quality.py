"""Teacher-forced quality of a quantized target graph against a reference (fp32) graph on held-out text.

    python benchmarks/quant_quality.py REF.onnx QUANT.onnx TOKENIZER_DIR FILE [FILE ...] [--tokens 256]

Each FILE is cut into passages of --tokens tokens; both graphs score every position in one pass. Prints the
top-1 agreement (the quantized argmax equals the reference's) and the perplexity of each graph on the text.
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def _logits(sess, ids: np.ndarray, layers: int, kv_heads: int, head_dim: int) -> np.ndarray:
    t = ids.shape[0]
    feeds = {"input_ids": ids[None], "positions": np.arange(t)[None], "past_lengths": np.zeros(1, np.int64),
             "logit_index": np.arange(t)[None]}
    for i in range(layers):
        for kind in ("key", "value"):
            feeds[f"past_{kind}.{i}"] = np.zeros((1, kv_heads, t, head_dim), np.float32)
    return sess.run(["logits"], feeds)[0][0]  # [T, V]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ref"), ap.add_argument("quant"), ap.add_argument("tokenizer"), ap.add_argument("files", nargs="+")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import onnxruntime as ort
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.log_severity_level = 3
    ref, quant = (ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]) for p in (args.ref, args.quant))
    past = [i for i in ref.get_inputs() if i.name.startswith("past_key.")]
    layers, kv_heads, head_dim = len(past), past[0].shape[1], past[0].shape[3]
    agree = n = 0
    nll = {"ref": 0.0, "quant": 0.0}
    for path in args.files:
        ids = np.array(tok(open(path).read())["input_ids"], np.int64)
        for lo in range(0, len(ids) - args.tokens + 1, args.tokens):
            piece = ids[lo : lo + args.tokens]
            out = {k: _logits(s, piece, layers, kv_heads, head_dim) for k, s in (("ref", ref), ("quant", quant))}
            agree += int((out["ref"][:-1].argmax(-1) == out["quant"][:-1].argmax(-1)).sum())
            n += len(piece) - 1
            for k, lg in out.items():
                lg = lg[:-1].astype(np.float64)
                lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
                nll[k] += float((lse - lg[np.arange(len(piece) - 1), piece[1:]]).sum())
    print(f"positions {n}: top-1 agreement {agree / n:.4f}; perplexity ref {math.exp(nll['ref'] / n):.3f}, "
          f"quantized {math.exp(nll['quant'] / n):.3f}")


if __name__ == "__main__":
    main()
