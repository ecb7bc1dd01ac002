"""How fast the target answers training prompts: answers/hour and answer positions/hour, per batching.

    python scripts/answer_rate.py BUNDLE [--prompts 96] [--batches 16,32,64] [--repeats 1]

BUNDLE: a bundle of the recipe's target (e.g. WORK/bundle of `train-draft`). Arms, on the same training
prompts (every k-th of the packaged train split, so all categories), with the recipe's training sampling:

    static-16     what `train-draft` did before: batches of 16 prompts run to their longest answer
    continuous-B  `train.data.generate_responses`: one continuous batcher of B rows

Arms alternate within a repeat (this machine drifts); answers are written to a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dspark_compile.config import SchedulerConfig, TrainingConfig
from dspark_compile.runtime.api import Runtime
from dspark_compile.train.data import GenerationSettings, generate_responses, load_prompts, prompt_seed
from dspark_compile.train.pipeline import generation_settings


def static(rt: Runtime, prompts, settings: GenerationSettings, size: int = 16) -> int:
    """The former `generate_responses`: length-sorted batches of `size`, each run until all its answers end."""
    chat = bool(rt.tokenizer.chat_template)
    encoded = sorted(((rt.encode(p.prompt, chat=chat), p) for p in prompts), key=lambda e: len(e[0]))
    s = settings.sampling
    tokens = 0
    for i in range(0, len(encoded), size):
        batch = encoded[i: i + size]
        sampling = [replace(s, seed=prompt_seed(s.seed, p.id)) for _, p in batch]
        res = rt.generate_ids([ids for ids, _ in batch], settings.max_new_tokens, sampling,
                              scheduler=SchedulerConfig(mode="off"))
        tokens += sum(len(c.tokens) for c in res)
    return tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--prompts", type=int, default=96)
    ap.add_argument("--batches", default="16,32,64")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--temperature", type=float, help="instead of the training default (0.7; 0 = greedy)")
    ap.add_argument("--top-p", type=float, help="instead of the training default (0.8)")
    ap.add_argument("--top-k", type=int, default=0, help="top-k (default 0: off)")
    args = ap.parse_args()

    rt = Runtime.load(args.bundle)
    train = load_prompts("train")
    prompts = train[:: max(1, len(train) // args.prompts)][: args.prompts]
    settings = generation_settings(TrainingConfig(), "train")
    s = settings.sampling
    t = s.temperature if args.temperature is None else args.temperature
    settings = replace(settings, sampling=replace(s, temperature=t, top_k=args.top_k if t else 0,
                                                   top_p=(s.top_p if args.top_p is None else args.top_p) if t else 1.0))
    print(f"{len(prompts)} prompts, {settings.sampling}", flush=True)
    arms = ["static-16"] + [f"continuous-{b}" for b in args.batches.split(",")]
    rows = []
    for rep in range(args.repeats):
        for arm in arms:
            t0 = time.perf_counter()
            if arm == "static-16":
                tokens = static(rt, prompts, settings)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    seqs = generate_responses(rt, prompts, replace(settings, batch_size=int(arm.split("-")[1])),
                                              Path(tmp) / "responses.jsonl")
                tokens = sum(len(s.response_ids) for s in seqs)
            sec = time.perf_counter() - t0
            rows.append((rep, arm, sec, tokens))
            print(f"repeat {rep} {arm:>14}: {len(prompts)} answers, {tokens} positions in {sec:6.1f} s = "
                  f"{len(prompts) * 3600 / sec:6.0f} answers/h, {tokens * 3600 / sec / 1e3:6.0f}k positions/h, "
                  f"{tokens / sec:5.1f} tok/s", flush=True)


if __name__ == "__main__":
    main()
