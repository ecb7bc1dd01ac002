"""The reference drafter loss (DSpark §5), per slot k of every valid block:

    w_k   = exp(-k / 4)                                     later slots matter less
    q_k   = softmax(z_k),  z_k = U_k + W2 · W1[x_{k-1}]    (Markov-corrected, teacher-forced x_{k-1})
    l_k   = 0.1 · CE(q_k, x*_k) + 0.9 · ‖q_k − p_k‖₁ + 1.0 · BCEWithLogits(c_k, c*_k)
    c*_k  = clamp(1 − ½‖q_k − p_k‖₁, 0, 1), detached      (the chance q_k's draw is accepted under p_k)
    loss  = Σ w_k l_k / Σ w_k                               over the valid (block, slot) pairs

p_k is the target's distribution, stored as its top K (ids, probs); mass outside it counts as 0, so
‖q − p‖₁ = Σ_{i∈topK} |q_i − p_i| + (1 − Σ_{i∈topK} q_i) (see `data` for the error this makes).

Training may restrict the softmax to a vocabulary subset V' (`blocks.training_vocab`: the tokens with the
most target mass, plus every label; EAGLE-3 drafts over such a subset, we only train over it): q_k is then
normalised over V', and top-K entries outside V' are dropped like the mass beyond K (ids −1 here). On two
CPU cores the [slots, V] logits dominate a step; V' = V/4 makes a step about 3x cheaper. The drafter
still drafts over the whole vocabulary; the held-out numbers (`calibration.collect`) use it. A drafter with a
draft vocabulary (`training.draft_vocab`) trains over exactly its ids; a label outside them (index −1) adds no
CE, since the drafter can never draft it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

CE_WEIGHT, L1_WEIGHT, BCE_WEIGHT = 0.1, 0.9, 1.0
SLOT_DECAY = 4.0


def slot_weights(block_size: int) -> torch.Tensor:
    """w_k = exp(-k / 4), k = 0..γ-1 [γ]."""
    return torch.exp(-torch.arange(block_size, dtype=torch.float32) / SLOT_DECAY)


def l1_to_topk(log_q: torch.Tensor, p_ids: torch.Tensor, p_probs: torch.Tensor) -> torch.Tensor:
    """‖q − p‖₁ per row for log q [M, V] and p given as its top K: ids [M, K], probs [M, K] -> [M].
    Entries with id −1 are left out (their p counts as dropped mass)."""
    inside = p_ids >= 0  # [M, K]
    q_top = log_q.gather(-1, p_ids.clamp(min=0)).exp() * inside  # [M, K]
    return ((q_top - p_probs * inside).abs().sum(-1) + (1.0 - q_top.sum(-1))).clamp(min=0.0)


@dataclass
class LossParts:
    total: torch.Tensor  # [] the weighted objective
    ce: float  # weighted means of the parts, for logs
    l1: float
    bce: float
    accuracy: float  # argmax z == label, unweighted over valid slots
    slots: int  # valid (block, slot) pairs


def drafter_loss(z: torch.Tensor, conf_logits: torch.Tensor, labels: torch.Tensor, p_ids: torch.Tensor,
                 p_probs: torch.Tensor, slot: torch.Tensor, block_size: int) -> LossParts:
    """The objective over M valid slots: z [M, V] Markov logits, conf_logits [M], labels [M],
    p_ids/p_probs [M, K] (the target's top K), slot [M] (k of each row)."""
    log_q = torch.log_softmax(z.float(), dim=-1)  # [M, V]
    # A label outside the draft vocabulary (-1) gets no CE: the drafter can never draft it. L1 still counts
    # the target's mass on it as missed.
    inside = labels >= 0  # [M]
    ce = -log_q.gather(-1, labels.clamp(min=0)[:, None])[:, 0] * inside  # [M]
    l1 = l1_to_topk(log_q, p_ids, p_probs)  # [M]
    target_c = (1.0 - 0.5 * l1).clamp(0.0, 1.0).detach()  # [M]
    bce = F.binary_cross_entropy_with_logits(conf_logits.float(), target_c, reduction="none")  # [M]
    w = slot_weights(block_size)[slot]  # [M]
    norm = w.sum().clamp(min=1e-12)

    def mean(x):
        return (w * x).sum() / norm

    total = CE_WEIGHT * mean(ce) + L1_WEIGHT * mean(l1) + BCE_WEIGHT * mean(bce)
    acc = (z.argmax(-1) == labels).float().mean() if labels.numel() else torch.zeros(())
    ce, l1, bce = ce.detach(), l1.detach(), bce.detach()
    return LossParts(total=total, ce=float(mean(ce)), l1=float(mean(l1)), bce=float(mean(bce)),
                     accuracy=float(acc), slots=int(labels.numel()))
