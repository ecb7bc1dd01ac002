"""Training blocks: anchors drawn from the response positions of a few sequences, with their teacher-forced
inputs, labels and target distributions gathered from the extracted features.

A block anchored at position a of a sequence x (length L) has slots k = 0..γ-1:
    input    x_a (slot 0), MASK (slots 1..γ-1)         the drafter's block
    prev_k   x_{a+k}                                    teacher-forced previous token of the Markov head
    label_k  x_{a+k+1}                                  valid while a+k+1 < L (the chain stops at the end)
    p_k      the target's next-token distribution at a+k (its stored top K)
Anchors are response positions only (a >= prompt length), where the drafter works at inference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from dspark_compile.train.data import Features


class Blocks(NamedTuple):
    sequence: torch.Tensor  # [S] int64 index of each row's sequence in the features
    taps: torch.Tensor  # [S, L, n_taps*H] float32, zero past each sequence's end
    anchors: torch.Tensor  # [S, n] int64 position of each anchor in its sequence
    anchor_tokens: torch.Tensor  # [S, n] int64
    prev: torch.Tensor  # [S, n, γ] int64 x_{a+k}
    labels: torch.Tensor  # [S, n, γ] int64 x_{a+k+1}
    valid: torch.Tensor  # [S, n, γ] bool (padding anchors and labels past the end are False)
    p_ids: torch.Tensor  # [S, n, γ, K] int64
    p_probs: torch.Tensor  # [S, n, γ, K] float32


def anchor_counts(feats: Features) -> np.ndarray:
    """Anchors each sequence offers: response positions with at least one label after them [S]."""
    lengths = np.diff(feats.starts)
    return np.maximum(lengths - np.maximum(feats.prompt_lengths, 1) - 1, 0)


def sample_blocks(feats: Features, rng: np.random.Generator, sequences: int, anchors: int, block_size: int) -> Blocks:
    """`sequences` sequences (chance proportional to their anchors, without replacement), each with up to
    `anchors` distinct anchors drawn uniformly; missing anchors are padding (valid False)."""
    counts = anchor_counts(feats)
    pool = np.flatnonzero(counts)
    chosen = rng.choice(pool, size=min(sequences, pool.size), replace=False, p=counts[pool] / counts[pool].sum())
    picks = []
    for s in chosen:
        first = max(int(feats.prompt_lengths[s]), 1)
        picks.append(first + np.sort(rng.choice(int(counts[s]), size=min(anchors, int(counts[s])), replace=False)))
    return make_blocks(feats, chosen, picks, anchors, block_size)


def make_blocks(feats: Features, seqs, picks: list[np.ndarray], anchors: int, block_size: int) -> Blocks:
    """Blocks for the given anchor positions `picks[i]` of sequence `seqs[i]` (padded to `anchors` per sequence)."""
    S, n, G = len(seqs), anchors, block_size
    lengths = np.array([feats.starts[s + 1] - feats.starts[s] for s in seqs], dtype=np.int64)  # [S]
    L = int(lengths.max())
    taps = np.zeros((S, L, feats.taps.shape[1]), np.float32)
    pos = np.zeros((S, n), np.int64)
    real = np.zeros((S, n), bool)
    for i, s in enumerate(seqs):
        a0 = feats.starts[s]
        taps[i, : lengths[i]] = feats.taps[a0 : a0 + lengths[i]]
        m = len(picks[i])
        pos[i, :m], real[i, :m] = picks[i], True
        pos[i, m:] = picks[i][0] if m else 0
    k = np.arange(G)
    at = pos[..., None] + k  # [S, n, γ] position of prev_k / of p_k
    valid = real[..., None] & (at + 1 < lengths[:, None, None])
    glob = np.asarray(feats.starts)[np.asarray(seqs)][:, None, None] + np.minimum(at, lengths[:, None, None] - 1)
    nxt = np.asarray(feats.starts)[np.asarray(seqs)][:, None, None] + np.minimum(at + 1, lengths[:, None, None] - 1)
    tokens = np.asarray(feats.tokens)
    return Blocks(
        sequence=torch.tensor([int(s) for s in seqs], dtype=torch.int64),
        taps=torch.from_numpy(taps),
        anchors=torch.from_numpy(pos),
        anchor_tokens=torch.from_numpy(tokens[glob[..., 0]].astype(np.int64)),
        prev=torch.from_numpy(tokens[glob].astype(np.int64)),
        labels=torch.from_numpy(tokens[nxt].astype(np.int64)),
        valid=torch.from_numpy(valid),
        p_ids=torch.from_numpy(np.asarray(feats.topk_ids)[glob].astype(np.int64)),
        p_probs=torch.from_numpy(np.asarray(feats.topk_probs)[glob].astype(np.float32)),
    )


class Vocab(NamedTuple):
    """The output vocabulary of the training softmax: `ids` [V'] (sorted) and `index` [V] (position in
    `ids`, -1 for tokens left out)."""

    ids: torch.Tensor
    index: torch.Tensor


def training_vocab(feats: Features, size: int | None, vocab_size: int) -> Vocab | None:
    """The `size` tokens with the most target probability over the training positions (summed from the
    stored top K), plus every token that occurs as a label; None (the full vocabulary) when `size` is None
    or covers it. Tokens outside it get no logit during training (see `losses` for what that changes)."""
    if size is None or size >= vocab_size:
        return None
    labels = np.asarray(feats.tokens[feats.response_positions()])
    return _vocab(torch.from_numpy(select_draft_vocab(feats, size, vocab_size, always=labels)), vocab_size)


def _vocab(ids: torch.Tensor, vocab_size: int) -> Vocab:
    """The Vocab of sorted target ids [V']: the ids and each target id's position among them (-1: outside)."""
    index = torch.full((vocab_size,), -1, dtype=torch.int64)
    index[ids] = torch.arange(ids.numel())
    return Vocab(ids, index)


def draft_vocab(drafter) -> Vocab | None:
    """A drafter's own draft vocabulary as the training softmax's (it only ever scores those ids)."""
    if drafter.draft_vocab is None:
        return None
    return _vocab(drafter.draft_vocab.clone(), drafter.vocab_size)


def select_draft_vocab(feats: Features, size: int, vocab_size: int, always=()) -> np.ndarray:
    """The `size` target ids with the most target probability over the training positions (summed from the
    stored top K), plus the ids in `always` (EOS), sorted: a drafter's draft vocabulary."""
    rows = feats.response_positions()
    mass = np.bincount(np.asarray(feats.topk_ids[rows]).ravel(),
                       np.asarray(feats.topk_probs[rows], dtype=np.float64).ravel(), minlength=vocab_size)
    keep = np.zeros(vocab_size, bool)
    keep[np.argsort(-mass, kind="stable")[:size]] = True
    keep[np.asarray(always, dtype=np.int64)] = True
    return np.flatnonzero(keep)


def vocab_coverage(feats: Features, vocab: Vocab | None) -> float:
    """Mean target probability (stored top K) that falls inside `vocab` over the training positions."""
    rows = feats.response_positions()
    probs = np.asarray(feats.topk_probs[rows], dtype=np.float64)
    if vocab is None:
        return float(probs.sum(-1).mean()) if rows.size else 0.0
    inside = vocab.index.numpy()[np.asarray(feats.topk_ids[rows])] >= 0
    return float((probs * inside).sum(-1).mean()) if rows.size else 0.0
