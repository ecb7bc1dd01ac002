"""What a drafter's training answers hold: the target mass and top-1 inside draft vocabularies of several sizes,
and the share of answers that end in a loop (the rule of `train.evaluate.ends_in_loop`), per category.

    python scripts/training_answers.py WORK/train/features BUNDLE [--sizes 2048,4096,8192,16384,32768]

WORK: a `train-draft` work folder (its extracted features); BUNDLE: a bundle of the recipe's target (its
vocabulary size and EOS ids, which every draft vocabulary keeps). The vocabularies are chosen as `train-draft`
chooses one (`select_draft_vocab`); the mass is the stored top K's (`vocab_coverage`).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from dspark_compile.bundle import load_bundle
from dspark_compile.train.blocks import _vocab, select_draft_vocab, vocab_coverage
from dspark_compile.train.data import Features
from dspark_compile.train.evaluate import ends_in_loop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features", type=Path)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--sizes", default="2048,4096,8192,16384,32768")
    args = ap.parse_args()
    feats = Features.load(args.features, mmap=True)
    model = load_bundle(args.bundle, verify=False).model
    vocab_size, eos = model["vocab_size"], model.get("eos_token_ids", [])

    top1 = np.asarray(feats.topk_ids[feats.response_positions(), 0])
    print(f"{feats.response_positions().size:,} answer positions; the stored top {feats.meta['top_k']} hold "
          f"{vocab_coverage(feats, None):.2%} of the target mass")
    print("| Vd | target mass inside | target top-1 inside |\n| ---: | ---: | ---: |")
    for size in (int(s) for s in args.sizes.split(",")):
        vocab = _vocab(torch.from_numpy(select_draft_vocab(feats, size, vocab_size, always=eos)), vocab_size)
        print(f"| {size:,} | {vocab_coverage(feats, vocab):.2%} | {(vocab.index.numpy()[top1] >= 0).mean():.2%} |")

    answers, loops = Counter(), Counter()
    for i, name in enumerate(feats.meta["ids"]):
        category = name.rsplit("-", 1)[0]
        tokens = feats.tokens[feats.starts[i] + feats.prompt_lengths[i] : feats.starts[i + 1]].tolist()
        answers[category] += 1
        loops[category] += ends_in_loop(tokens)
    shares = ", ".join(f"{c} {loops[c] / answers[c]:.0%}" for c in sorted(answers))
    print(f"answers that end in a loop: {sum(loops.values()) / sum(answers.values()):.0%} of "
          f"{sum(answers.values()):,} ({shares})")


if __name__ == "__main__":
    main()
