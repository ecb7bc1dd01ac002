"""τ of a bundle's drafter on the held-out prompts, measured by the runtime itself.

    python -m dspark_compile.train.evaluate BUNDLE [--max-new-tokens 128] [--batch 16] [--split heldout]

Greedy decoding, the full block verified every round (scheduler `fixed`, fixed_len = γ), the prompts in
the chat template, batched; prints the runtime's metrics aggregated over all requests (τ counts the
bonus/correction token) as JSON, overall and per prompt category.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from dspark_compile.train.data import load_prompts


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

    out = {"split": split, "max_new_tokens": max_new_tokens, "block_size": gamma, "all": summary(rows)}
    for cat in sorted({c for c, _, _ in rows}):
        m = summary([r for r in rows if r[0] == cat])
        out[cat] = {"requests": m["requests"], "tau": m["tau"], "acceptance_per_position": m["acceptance_per_position"]}
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
