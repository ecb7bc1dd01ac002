"""τ of a bundle's drafter on the held-out prompts, measured by the runtime itself.

    python -m dspark_compile.train.evaluate BUNDLE [--max-new-tokens 128] [--batch 16] [--split heldout]

Greedy decoding, the full block verified every round (scheduler `fixed`, fixed_len = γ), the prompts in
the chat template, batched; prints the runtime's metrics aggregated over all requests (τ counts the
bonus/correction token) as JSON, overall and per prompt category.

A greedy answer that ends in a loop (`ends_in_loop`: its last LOOP_TAIL tokens repeat with a period of at
most LOOP_PERIOD; a base model's greedy decoding often does) is easy to draft, so each category also reports
the share of its answers that do (`looping`), and the whole split τ over the answers that do not.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from dspark_compile.train.data import load_prompts

LOOP_TAIL = 48  # tokens at the end of an answer that must repeat ...
LOOP_PERIOD = 24  # ... with at most this period


def ends_in_loop(tokens: list[int], tail: int = LOOP_TAIL, max_period: int = LOOP_PERIOD) -> bool:
    """Whether the last `tail` tokens are periodic with a period of at most `max_period` (False when shorter)."""
    t = tokens[-tail:]
    return len(t) == tail and any(t[p:] == t[:-p] for p in range(1, max_period + 1))


def heldout_tau(runtime, split: str = "heldout", max_new_tokens: int = 128, batch_size: int = 16) -> dict:
    """Runtime metrics (`metrics.summarise`) over the split's prompts, overall and per category."""
    from dspark_compile.config import SchedulerConfig
    from dspark_compile.errors import GenerationError
    from dspark_compile.runtime.metrics import summarise
    from dspark_compile.runtime.sampling import SamplingParams

    if runtime.drafter is None:
        raise GenerationError("the bundle has no drafter: there is no τ to measure")
    gamma = runtime.drafter.info.block_size
    sched = SchedulerConfig(mode="fixed", fixed_len=gamma)
    prompts = load_prompts(split)
    chat = bool(runtime.tokenizer.chat_template)
    rows, timings = [], defaultdict(float)
    for i in range(0, len(prompts), batch_size):
        batch = prompts[i : i + batch_size]
        res = runtime.generate_ids([runtime.encode(p.prompt, chat=chat) for p in batch], max_new_tokens,
                                   [SamplingParams()] * len(batch), scheduler=sched)
        rows += [(p.category, c.tokens, c.stats) for p, c in zip(batch, res)]
        for k, v in res.timings.items():
            timings[k] += v

    def summary(sel):
        return summarise([t for _, t, _ in sel], [s for _, _, s in sel], dict(timings), gamma)

    def looping(sel):
        return round(sum(ends_in_loop(t) for _, t, _ in sel) / len(sel), 4)

    fresh = [r for r in rows if not ends_in_loop(r[1])]
    out = {"split": split, "max_new_tokens": max_new_tokens, "block_size": gamma,
           "all": {**summary(rows), "looping": looping(rows)},
           "not_looping": {"requests": len(fresh), "tau": summary(fresh)["tau"] if fresh else None}}
    for cat in sorted({c for c, _, _ in rows}):
        sel = [r for r in rows if r[0] == cat]
        m = summary(sel)
        out[cat] = {"requests": m["requests"], "tau": m["tau"], "acceptance_per_position": m["acceptance_per_position"],
                    "looping": looping(sel)}
    return out


def main() -> None:
    import argparse

    from dspark_compile.runtime.api import Runtime

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--split", default="heldout")
    args = ap.parse_args()
    print(json.dumps(heldout_tau(Runtime.load(args.bundle), args.split, args.max_new_tokens, args.batch), indent=2))


if __name__ == "__main__":
    main()
