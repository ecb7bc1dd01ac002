"""The drafter's heads in PyTorch: Markov bias, confidence, and `draft_step`, the torch twin of the fused
DraftSample op (same semantics as `ops.reference.draft_sample`, see `ops.spec.SEMANTICS`).

The differentiable pieces (`markov_logits`, `confidence_logits`) take the previous tokens as an input so
training can teacher-force them; `draft_step` draws them left to right as inference does.
"""

from __future__ import annotations

import torch

from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.ops.reference import DraftSampleOutputs


def markov_logits(drafter: DSparkDrafter, block_logits: torch.Tensor, prev_tokens: torch.Tensor) -> torch.Tensor:
    """z_k = U_k + W2 · W1[x_{k-1}] over the draft vocabulary: block_logits [B, γ, Vd], prev_tokens [B, γ]
    (target ids, x_{-1} = anchor) -> [B, γ, Vd]."""
    head = drafter.markov_head
    e = head.markov_w1(prev_tokens.long()).float()  # [B, γ, r]
    return block_logits.float() + e @ drafter.draft_rows(head.markov_w2.weight).float().T  # [B, γ, Vd]


def confidence_logits(drafter: DSparkDrafter, block_hidden: torch.Tensor, prev_tokens: torch.Tensor) -> torch.Tensor:
    """Uncalibrated confidence logits w · [hs_k ; W1[x_{k-1}]] + b: [B, γ, H], [B, γ] -> [B, γ] fp32."""
    e = drafter.markov_head.markov_w1(prev_tokens.long()).float()  # [B, γ, r]
    features = torch.cat((block_hidden.float(), e), dim=-1)  # [B, γ, H + r]
    proj = drafter.confidence_head.proj
    return features @ proj.weight.float()[0] + proj.bias.float()[0]  # [B, γ]


def filter_probs(z: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """spec filter(): z [B, V] fp32, temperature [B] (> 0), top_k [B] int, top_p [B] -> q [B, V] fp32."""
    z = z / temperature[:, None]  # [B, V]
    V = z.shape[-1]
    z_sorted = torch.sort(z, dim=-1, descending=True).values  # [B, V]
    k = top_k.long()[:, None]  # [B, 1]
    k_on = (k > 0) & (k < V)
    kth = z_sorted.gather(-1, (k - 1).clamp(0, V - 1))  # [B, 1]; ties with the k-th value are kept
    neg_inf = torch.tensor(float("-inf"))
    z = torch.where(~k_on | (z >= kth), z, neg_inf)
    z_sorted = torch.where(~k_on | (z_sorted >= kth), z_sorted, neg_inf)
    m = z_sorted[:, :1]
    e = torch.exp(z - m)  # [B, V]; masked -> 0
    e_sorted = torch.exp(z_sorted - m)  # [B, V] descending
    c = torch.cumsum(e_sorted.double(), dim=-1)  # sums over the vocabulary in float64, as the spec
    j = (c < top_p[:, None].double() * c[:, -1:]).sum(-1, keepdim=True).clamp(max=V - 1)  # [B, 1]
    keep = (top_p[:, None] >= 1) | (e >= e_sorted.gather(-1, j))
    e = torch.where(keep, e, torch.zeros(()))
    return e / e.double().sum(-1, keepdim=True).float()


def sample_index(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """spec sample(): inverse CDF of weights w [B, V] >= 0 at u [B] -> index [B] int64."""
    c = torch.cumsum(w.double(), dim=-1)  # [B, V] float64
    total = c[:, -1:]
    below = (c <= u[:, None].double() * total).sum(-1)
    return torch.minimum(below, (c < total).sum(-1))


@torch.no_grad()
def draft_step(drafter: DSparkDrafter, block_logits: torch.Tensor, block_hidden: torch.Tensor, anchor: torch.Tensor,
               temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor,
               uniforms: torch.Tensor) -> DraftSampleOutputs:
    """Markov-corrected drafting plus STS-calibrated confidences, slot by slot, as DraftSample does.

    block_logits [B, γ, Vd], block_hidden [B, γ, H], anchor [B]; temperature [B] (<= 0: greedy row),
    top_k [B] (0 = off), top_p [B] (>= 1 = off), uniforms [B, γ] (rng stream DRAFT). Tokens are target ids;
    q_full [B, γ, Vd] lives on the draft vocabulary (`drafter.draft_ids()`); [B, γ, 1] ones if every row is greedy.
    """
    B, G, Vd = block_logits.shape
    ids = drafter.draft_ids()  # [Vd] target ids
    w1 = drafter.markov_head.markov_w1.weight.float()  # [V, r]
    w2 = drafter.draft_rows(drafter.markov_head.markov_w2.weight).float()  # [Vd, r]
    proj = drafter.confidence_head.proj
    cw, cb = proj.weight.float()[0], proj.bias.float()[0]  # [H + r], []
    temps = drafter.sts_temperatures  # [γ]
    greedy = temperature <= 0  # [B]
    safe_t = torch.where(greedy, torch.ones_like(temperature), temperature).float()
    prev = anchor.long()  # [B]
    survival = torch.ones(B)
    outs = []
    for k in range(G):
        e = w1[prev]  # [B, r]
        z = block_logits[:, k].float() + e @ w2.T  # [B, Vd]
        q_sampled = filter_probs(z, safe_t, top_k, top_p.float())
        j = torch.where(greedy, torch.argmax(z, dim=-1), sample_index(q_sampled, uniforms[:, k].float()))  # [B]
        q_d = torch.where(greedy[:, None], torch.nn.functional.one_hot(j, Vd).float(), q_sampled)  # [B, Vd]
        token = ids[j]
        logit = torch.cat((block_hidden[:, k].float(), e), dim=-1) @ cw + cb  # [B]
        conf = 1.0 / (1.0 + torch.exp(-(logit / temps[k])))
        survival = survival * conf
        outs.append((token.int(), q_d.gather(-1, j[:, None])[:, 0], q_d, conf, survival))
        prev = token
    tokens, q_tok, q_full, conf, surv = (torch.stack(x, dim=1) for x in zip(*outs))
    if bool(greedy.all()):  # as the op: an all-greedy batch's one-hots are given as [B, γ, 1] ones
        q_full = q_tok[:, :, None].clone()
    return DraftSampleOutputs(tokens, q_tok, q_full, conf, surv)  # [B, γ], [B, γ], [B, γ, Vd or 1], [B, γ], [B, γ]
