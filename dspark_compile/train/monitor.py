"""Watching a training run for overfitting: greedy slot accuracy on fixed blocks of held-out answers and of
training answers, every `training.eval_every` steps.

Per slot k, the accuracy is P(argmax z_k = the target's argmax at a+k), with the previous tokens teacher-
forced (the true x_{a+k}): slot 0 is exactly the greedy acceptance of the first draft; later slots measure
each slot given a correct prefix. A drafter that memorises its training answers shows it here first: the
training numbers keep rising while the held-out ones stall. The drafter is scored over the whole
vocabulary (as it drafts), whatever `train_vocab` the loss uses. Monitoring reads no training randomness,
so a monitored run trains exactly like an unmonitored one.
"""

from __future__ import annotations

import numpy as np
import torch

from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.drafter.sampling import markov_logits
from dspark_compile.train.blocks import Blocks, sample_blocks
from dspark_compile.train.data import Features
from dspark_compile.train.forward import block_forward, block_logits

MONITOR_SEED = 20261129
ROWS_PER_CHUNK = 256  # [rows, V] logits at a time (V = 49152: 50 MB in fp32)


def fixed_blocks(feats: Features, block_size: int, sequences: int = 16, anchors: int = 32) -> Blocks:
    """The same blocks every time for the same features (a fixed seed, its own generator)."""
    return sample_blocks(feats, np.random.default_rng(MONITOR_SEED), sequences, anchors, block_size)


def slot_accuracy(drafter: DSparkDrafter, blocks: Blocks) -> list[float]:
    """Teacher-forced greedy accuracy per slot [γ] (NaN for a slot with no valid block)."""
    G = drafter.block_size
    was_training = drafter.training
    drafter.eval()
    with torch.no_grad():
        v = blocks.valid  # [S, n, γ]
        hs = block_forward(drafter, blocks.taps, blocks.anchor_tokens, blocks.anchors)[v]  # [M, H]
        prev, want = blocks.prev[v], blocks.p_ids[v][:, 0]  # [M], [M] the target's argmax
        slot = torch.arange(G).expand_as(v)[v]  # [M]
        hit = torch.zeros(hs.shape[0], dtype=torch.bool)
        for i in range(0, hs.shape[0], ROWS_PER_CHUNK):
            rows = slice(i, i + ROWS_PER_CHUNK)
            z = markov_logits(drafter, block_logits(drafter, hs[rows])[None], prev[rows][None])[0]  # [m, Vd]
            hit[rows] = drafter.draft_ids()[z.argmax(-1)] == want[rows]
    drafter.train(was_training)
    counts = torch.bincount(slot, minlength=G).float()
    hits = torch.bincount(slot, weights=hit.float(), minlength=G)
    return [float(h / c) if c > 0 else float("nan") for h, c in zip(hits, counts)]
