"""Teacher-forced quality of a quantized target graph against a reference (fp32) graph on held-out text.

    python benchmarks/quant_quality.py REF.onnx QUANT.onnx TOKENIZER_DIR FILE [FILE ...] [--tokens 256]
        [--llama-cpp MODEL.gguf]

Each FILE is cut into passages of --tokens tokens; both graphs score every position in one pass. Prints the
top-1 agreement (the quantized argmax equals the reference's) and the perplexity of each graph on the text.
With --llama-cpp, llama.cpp (`llama-cpp-python`) scores the same token ids with the GGUF as it ships, and
its agreement with the reference and perplexity are printed beside ours.
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
    ap.add_argument("--llama-cpp", dest="gguf", help="also score the passages with llama.cpp on this GGUF")
    args = ap.parse_args()
    import onnxruntime as ort
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.log_severity_level = 3
    ref, quant = (ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]) for p in (args.ref, args.quant))
    for path, sess in ((args.ref, ref), (args.quant, quant)):
        if "logits" not in [o.name for o in sess.get_outputs()]:
            raise SystemExit(f"{path}: no 'logits' output; give a bundle's target.onnx (target_verify.onnx ends in Verify)")
    past = [i for i in ref.get_inputs() if i.name.startswith("past_key.")]
    layers, kv_heads, head_dim = len(past), past[0].shape[1], past[0].shape[3]
    scorers = {"ref": lambda ids: _logits(ref, ids, layers, kv_heads, head_dim),
               "quant": lambda ids: _logits(quant, ids, layers, kv_heads, head_dim)}
    if args.gguf:
        scorers["llama.cpp"] = _llama_cpp(args.gguf, args.tokens, args.threads)
    agree = dict.fromkeys(scorers, 0)
    n = 0
    nll = dict.fromkeys(scorers, 0.0)
    for path in args.files:
        ids = np.array(tok(open(path).read())["input_ids"], np.int64)
        for lo in range(0, len(ids) - args.tokens + 1, args.tokens):
            piece = ids[lo : lo + args.tokens]
            out = {k: score(piece) for k, score in scorers.items()}
            n += len(piece) - 1
            for k, lg in out.items():
                agree[k] += int((out["ref"][:-1].argmax(-1) == lg[:-1].argmax(-1)).sum())
                lg = lg[:-1].astype(np.float64)
                lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
                nll[k] += float((lse - lg[np.arange(len(piece) - 1), piece[1:]]).sum())
    print(f"positions {n}: perplexity ref {math.exp(nll['ref'] / n):.3f}")
    for k in [k for k in scorers if k != "ref"]:
        print(f"{k}: top-1 agreement with ref {agree[k] / n:.4f}; perplexity {math.exp(nll[k] / n):.3f}")


def _llama_cpp(gguf: str, tokens: int, threads: int):
    """A scorer: llama.cpp's logits [T, V] for token ids, every position (logits_all)."""
    from llama_cpp import Llama

    llm = Llama(model_path=gguf, n_ctx=tokens, n_batch=tokens, logits_all=True, verbose=False,
                n_threads=threads, n_threads_batch=threads)

    def score(ids: np.ndarray) -> np.ndarray:
        llm.reset()
        llm.eval(ids.tolist())
        return np.array(llm.scores[: len(ids)], np.float32)

    return score


if __name__ == "__main__":
    main()
