"""Sequential Temperature Scaling (DSpark §2), the shared confidence offset, and the measurements.

Slot k's confidence is c_k = sigmoid(l_k / T_k), the prefix survival a_k = Π_{i<=k} c_i estimates
P(slots 0..k all accepted). STS fits T_0, T_1, ... left to right: T_k minimises, over a 1-D grid, the
Expected Calibration Error of a_k against the binary prefix-acceptance labels of slot k, with T_{<k}
already fixed. A positive temperature keeps each slot's order, so AUROC per slot is unchanged.

Offset. The confidence head is trained towards the *sampling* acceptance 1 − ½‖q − p‖₁ (§5), while the
labels here are *greedy* acceptance (argmax q = argmax p), which is lower where the target is unsure: the
raw confidences are too high by roughly a constant in logit space, which no temperature removes (it can
only stretch logits around 0). `fit_offset_sts` therefore also fits one shift δ of the raw logit, shared
by every slot, with STS on top of each candidate: l_k -> (l_k + δ) / T_k. δ folds into the head's bias
(`confidence_head.proj.bias`), so the checkpoint format, the fused ops and the kernels stay as they are.

Labels come from blocks verified in full (scheduler off): `collect` drafts greedily at every anchor of
held-out sequences the target answered greedily, exactly as the runtime's greedy step would, and marks
slot k accepted iff every draft up to k equals the target's argmax after the accepted prefix.
`HeldOut.visited` keeps the anchors the runtime actually drafts from (each one after the previous round's
accepted drafts). They follow rejections and are accepted less often than the average anchor (SmolLM2's
drafter: τ 1.96 there against 2.23 at every anchor; the runtime measures 1.94), so `calibrate` also checks
the calibration there: confidences that were fitted on every anchor could promise too much where they are
used. (For SmolLM2's they do not: the head sees the same hidden states, ECE 0.69% there.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.drafter.sampling import confidence_logits
from dspark_compile.train.data import Features
from dspark_compile.train.forward import block_forward, block_logits

ECE_BINS = 20
GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))
"""Candidate temperatures, log-spaced from 0.05 to 20 (1.0 is on the grid)."""


def survivals(logits: np.ndarray, temperatures) -> np.ndarray:
    """a [N, γ] = cumulative product of sigmoid(logits [N, γ] / T [γ])."""
    t = np.asarray(temperatures, dtype=np.float64)
    return np.cumprod(1.0 / (1.0 + np.exp(-logits / t)), axis=1)


def ece(pred: np.ndarray, label: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected Calibration Error over `bins` equal-width bins of [0, 1]: Σ_b n_b/N |mean pred − mean label|."""
    pred, label = np.ravel(pred).astype(np.float64), np.ravel(label).astype(np.float64)
    if pred.size == 0:
        return 0.0
    idx = np.minimum((pred * bins).astype(np.int64), bins - 1)
    n = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, pred, bins) - np.bincount(idx, label, bins))
    return float(gap.sum() / pred.size) if n.sum() else 0.0


def auroc(pred: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); nan when a class is missing."""
    pred, label = np.ravel(pred).astype(np.float64), np.ravel(label).astype(bool)
    pos, neg = int(label.sum()), int((~label).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(pred, kind="mergesort")
    ranks = np.empty(pred.size, np.float64)
    sorted_pred = pred[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_pred, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[label].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def brier(pred: np.ndarray, label: np.ndarray) -> float:
    pred, label = np.ravel(pred).astype(np.float64), np.ravel(label).astype(np.float64)
    return float(np.mean((pred - label) ** 2)) if pred.size else 0.0


def fit_sts(logits: np.ndarray, labels: np.ndarray, grid: np.ndarray = GRID) -> tuple[float, ...]:
    """Per-slot temperatures, fitted left to right (logits, labels [N, γ]; labels are prefix acceptance).

    Ties in ECE go to the temperature closest to 1 (the least change)."""
    G = logits.shape[1]
    temps: list[float] = []
    prefix = np.ones(logits.shape[0])
    order = np.argsort(np.abs(np.log(grid)), kind="stable")  # try T closest to 1 first
    for k in range(G):
        errs = [ece(prefix / (1.0 + np.exp(-logits[:, k] / grid[j])), labels[:, k]) for j in order]
        best = float(grid[order[int(np.argmin(errs))]])
        temps.append(round(best, 4))
        prefix = prefix / (1.0 + np.exp(-logits[:, k] / best))
    return tuple(temps)


OFFSETS = np.round(np.arange(-3.0, 3.0001, 0.1), 4)
"""Candidate shifts of the raw confidence logit (0 is on the grid)."""


def fit_offset_sts(logits: np.ndarray, labels: np.ndarray, offsets: np.ndarray = OFFSETS,
                   grid: np.ndarray = GRID) -> tuple[float, tuple[float, ...]]:
    """(δ, temperatures): for every δ on `offsets`, STS on logits + δ; keeps the pair whose survivals have
    the lowest pooled ECE on these data (ties: the δ closest to 0)."""
    best = None
    for delta in sorted(offsets, key=abs):
        temps = fit_sts(logits + delta, labels, grid)
        err = ece(survivals(logits + delta, temps), labels)
        if best is None or err < best[0] - 1e-12:
            best = (err, float(delta), temps)
    return best[1], best[2]


@dataclass
class Calibration:
    """Measurements of survivals against labels, pooled over slots, plus per-slot numbers."""

    ece: float
    auroc: float
    brier: float
    ece_per_slot: list[float]
    blocks: int

    @classmethod
    def measure(cls, logits: np.ndarray, labels: np.ndarray, temperatures) -> "Calibration":
        a = survivals(logits, temperatures)
        return cls(ece=ece(a, labels), auroc=auroc(a, labels), brier=brier(a, labels),
                   ece_per_slot=[ece(a[:, k], labels[:, k]) for k in range(a.shape[1])], blocks=int(a.shape[0]))


@dataclass
class HeldOut:
    """Greedy drafting at every full-block anchor of held-out sequences."""

    logits: np.ndarray  # [N, γ] raw confidence logits (prev = the drafter's own previous draft)
    labels: np.ndarray  # [N, γ] bool, prefix acceptance under greedy verification
    sequence: np.ndarray  # [N] index of the anchor's sequence

    def tau(self) -> float:
        """Mean tokens per round with the full block verified, the bonus included: 1 + accepted drafts."""
        return float(1.0 + self.labels.sum(1).mean()) if self.labels.size else 0.0

    def acceptance(self) -> list[float]:
        """P(slots 0..k accepted) per slot k (the runtime's acceptance_per_position, full blocks)."""
        return [round(float(v), 4) for v in self.labels.mean(0)]

    def subset(self, rows: np.ndarray) -> "HeldOut":
        return HeldOut(self.logits[rows], self.labels[rows], self.sequence[rows])

    def visited_rows(self) -> np.ndarray:
        """Rows of the anchors the runtime drafts from when it verifies the full block every round: each
        sequence's first anchor, then the one after each round's accepted drafts and the target's own token
        (a + n + 1). These follow a rejection, so they are harder than the average anchor: the runtime's τ is
        this subset's, not every anchor's. Needs `collect`'s layout (each sequence's anchors consecutive, in
        order)."""
        rows = []
        for s in np.unique(self.sequence):
            seq = np.flatnonzero(self.sequence == s)  # [n] consecutive anchors of sequence s
            i = 0
            while i < seq.size:
                rows.append(seq[i])
                i += int(self.labels[seq[i]].sum()) + 1
        return np.asarray(rows, dtype=np.int64)

    def visited(self) -> "HeldOut":
        return self.subset(self.visited_rows())

    def halves(self) -> dict[str, "HeldOut"]:
        """{"fit": the even-numbered sequences' blocks, "eval": the odd ones'}."""
        return {"fit": self.subset(self.sequence % 2 == 0), "eval": self.subset(self.sequence % 2 == 1)}


@torch.no_grad()
def collect(drafter: DSparkDrafter, feats: Features, anchors_per_chunk: int = 256) -> HeldOut:
    """Draft greedily (Markov head fed the drafter's own tokens, as `draft_step` does) at every anchor a of
    every sequence with a full block after it (a + γ < length); label slot k with the target's argmax at
    a + k (the top-1 of its stored distribution) along the greedy held-out sequence."""
    G = drafter.block_size
    logits, labels, seq_of = [], [], []
    w1 = drafter.markov_head.markov_w1.weight.float()  # [V, r]
    w2 = drafter.draft_rows(drafter.markov_head.markov_w2.weight).float()  # [Vd, r]
    ids = drafter.draft_ids()  # [Vd] target ids
    top1 = np.asarray(feats.topk_ids[:, 0]).astype(np.int64)
    for s in range(feats.num_sequences):
        start, end, p = int(feats.starts[s]), int(feats.starts[s + 1]), int(feats.prompt_lengths[s])
        length = end - start
        anchors = np.arange(max(p, 1), length - G)
        if anchors.size == 0:
            continue
        taps = torch.from_numpy(np.asarray(feats.taps[start:end], dtype=np.float32))[None]  # [1, L, W]
        for c in range(0, anchors.size, anchors_per_chunk):
            a = anchors[c : c + anchors_per_chunk]
            tok = torch.from_numpy(np.asarray(feats.tokens[start + a], dtype=np.int64))[None]  # [1, n]
            hs = block_forward(drafter, taps, tok, torch.from_numpy(a)[None])[0]  # [n, γ, H]
            U = block_logits(drafter, hs)  # [n, γ, Vd]
            prev = tok[0]
            drafts, conf = [], []
            for k in range(G):
                e = w1[prev]  # [n, r]
                conf.append(confidence_logits(drafter, hs[None, :, k], prev[None])[0])  # [n]
                prev = ids[torch.argmax(U[:, k] + e @ w2.T, dim=-1)]  # [n] target ids
                drafts.append(prev)
            d = torch.stack(drafts, 1).numpy()  # [n, γ]
            target = top1[start + a[:, None] + np.arange(G)]  # [n, γ] target argmax at a+k
            logits.append(torch.stack(conf, 1).numpy().astype(np.float64))
            labels.append(np.cumprod(d == target, axis=1).astype(bool))
            seq_of.append(np.full(a.size, s))
    if not logits:
        return HeldOut(np.zeros((0, G)), np.zeros((0, G), bool), np.zeros(0, np.int64))
    return HeldOut(np.concatenate(logits), np.concatenate(labels), np.concatenate(seq_of))
