"""Autoregressive decode speed: a bundle's ONNX Runtime engine next to transformers' own `generate`.

Both arms decode the same prompts greedily for the same number of tokens with the same thread count;
repeats are interleaved across arms so machine noise hits both alike. Reported per batch size:
decode ms per step (= ms per token for each user), tokens/s over all rows, and prefill seconds.

    python benchmarks/ar_baseline.py bundles/smollm2-135m --batch 1 --batch 16 --new-tokens 64
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import click
import numpy as np

PROMPTS = [
    "What is the capital of France?", "Write a short poem about autumn leaves.",
    "Explain how a refrigerator works.", "Give three tips for writing clean Python code.",
    "Why is the sky blue?", "Summarise the plot of Romeo and Juliet.", "What is 17 times 23?",
    "List the planets of the solar system.", "How do vaccines train the immune system?",
    "Describe a good breakfast.", "Translate 'good morning' into Spanish and French.",
    "What does a compiler do?", "Name four famous painters.", "How do I boil an egg?",
    "What causes the seasons on Earth?", "Write a limerick about a cat.",
]


def _ours(rt, ids, n):
    """The runtime's own path with speculation off: the Verify-fused graph decoding one token per step."""
    from dspark_compile.config import SchedulerConfig
    from dspark_compile.runtime.sampling import SamplingParams

    res = rt.generate_ids(ids, n, [SamplingParams()] * len(ids), ignore_eos=True, scheduler=SchedulerConfig(mode="off"))
    prefill, total = res.timings["prefill"], res.timings["total"]
    return prefill, (total - prefill) / (n - 1)


def _hf(model, tokenizer, ids, n):
    import torch

    width = max(len(i) for i in ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batch = torch.tensor([[pad] * (width - len(i)) + i for i in ids])  # left padding for generate
    mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids])
    with torch.no_grad():
        t0 = time.perf_counter()
        model.generate(batch, attention_mask=mask, max_new_tokens=1, do_sample=False, pad_token_id=pad)
        ttft = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.generate(batch, attention_mask=mask, max_new_tokens=n, do_sample=False, pad_token_id=pad)
        total = time.perf_counter() - t0
    return ttft, (total - ttft) / (n - 1)


@click.command()
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--batch", "batches", multiple=True, type=int, default=(1, 16), show_default=True)
@click.option("--new-tokens", default=64, show_default=True)
@click.option("--repeats", default=3, show_default=True)
@click.option("--threads", default=2, show_default=True, help="Threads for both ONNX Runtime and torch.")
@click.option("--json", "as_json", is_flag=True)
def main(bundle: Path, batches: tuple[int, ...], new_tokens: int, repeats: int, threads: int, as_json: bool) -> None:
    import torch

    from dspark_compile.config import parse_recipe
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.sources import load_target

    torch.set_num_threads(threads)
    rt = Runtime.load(bundle, threads=threads)
    recipe = parse_recipe(rt.bundle.recipe, source=str(bundle / "manifest.json"))
    hf = load_target(recipe.target, recipe.resolve)
    hf.model.generation_config.eos_token_id = None  # both arms decode exactly new_tokens
    samples: dict[tuple[str, int], list[tuple[float, float]]] = {}
    arms = {"dspark-compile (onnxruntime)": lambda ids: _ours(rt, ids, new_tokens),
            "transformers generate (torch)": lambda ids: _hf(hf.model, hf.tokenizer, ids, new_tokens)}
    for b in batches:
        ids = [rt.encode(PROMPTS[i % len(PROMPTS)], chat=True) for i in range(b)]
        for arm in arms.values():  # warm-up, not measured
            arm(ids[:1])
        for _ in range(repeats):
            for name, arm in arms.items():
                samples.setdefault((name, b), []).append(arm(ids))
    rows = []
    for (name, b), vals in samples.items():
        step = statistics.median(v[1] for v in vals)
        rows.append({"arm": name, "batch": b, "decode_ms_per_token": round(step * 1e3, 2),
                     "tokens_per_s": round(b / step, 1), "prefill_s": round(statistics.median(v[0] for v in vals), 3),
                     "repeats": len(vals)})
    if as_json:
        click.echo(json.dumps({"bundle": str(bundle), "threads": threads, "new_tokens": new_tokens, "rows": rows}, indent=2))
        return
    click.echo(f"bundle {bundle}, {threads} threads, {new_tokens} new tokens, median of {repeats} interleaved repeats")
    click.echo(f"{'arm':32} {'batch':>5} {'ms/token':>9} {'tokens/s':>9} {'prefill s':>9}")
    for r in rows:
        click.echo(f"{r['arm']:32} {r['batch']:>5} {r['decode_ms_per_token']:>9} {r['tokens_per_s']:>9} {r['prefill_s']:>9}")
    ratio = {b: np.divide(*[next(r["decode_ms_per_token"] for r in rows if r["arm"] == a and r["batch"] == b)
                            for a in reversed(list(arms))]) for b in batches}
    click.echo("speed-up of dspark-compile over transformers: " + ", ".join(f"batch {b}: {v:.2f}x" for b, v in ratio.items()))


if __name__ == "__main__":
    main()
