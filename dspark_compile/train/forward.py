"""The drafter's training forward: many blocks of one sequence share that sequence's context.

At inference a block anchored at position a (token x_a) sees the projected target context of positions
< a and its own γ slots (`DSparkDrafter.forward`). Training draws n anchors per sequence; running each as
its own row would project the same context n times. Here the context is projected once per sequence and
per layer, and every block attends to it through a mask `position < anchor`, plus non-causally to its own
slots: the same function as `DSparkDrafter.forward` block by block (`tests/train` checks it), computed
with the drafter's own modules and parameters.

Shapes: S sequences (right-padded to L positions), n anchors per sequence, γ slots, H hidden.
"""

from __future__ import annotations

import torch

from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.models.base import apply_rope, rope_cos_sin


def context(drafter: DSparkDrafter, taps: torch.Tensor) -> torch.Tensor:
    """ctx = hidden_norm(fc(taps)) in fp32 -> the backbone dtype: taps [S, L, n_taps*H] -> [S, L, H]."""
    return drafter.hidden_norm(drafter.fc(taps.float())).to(drafter.dtype)


def block_forward(drafter: DSparkDrafter, taps: torch.Tensor, anchor_tokens: torch.Tensor,
                  anchor_positions: torch.Tensor) -> torch.Tensor:
    """Final-normed block states hs [S, n, γ, H] for anchors anchor_positions [S, n] (tokens [S, n]).

    Context row l of sequence s is visible to the blocks of s anchored at a > l; rows past a sequence's
    end are never visible because anchors lie inside the sequence.
    """
    S, L = taps.shape[0], taps.shape[1]
    n, G = anchor_positions.shape[1], drafter.block_size
    ctx = context(drafter, taps)  # [S, L, H]
    h = drafter.embed_block(anchor_tokens.reshape(-1)).view(S, n, G, -1)  # [S, n, γ, H]
    block_pos = anchor_positions[..., None] + torch.arange(G)  # [S, n, γ]
    rope_block = rope_cos_sin(block_pos.view(S, n * G), drafter.inv_freq, drafter.rope_scaling, drafter.dtype)
    ctx_pos = torch.arange(L).expand(S, L)  # [S, L]
    rope_ctx = rope_cos_sin(ctx_pos, drafter.inv_freq, drafter.rope_scaling, drafter.dtype)  # [S, L, 1, D] x 2
    visible = ctx_pos[:, None, :] < anchor_positions[..., None]  # [S, n, L]
    ctx_mask = visible[:, :, None, :].expand(S, n, G, L).reshape(S, 1, 1, n * G, L)  # [S, 1, 1, n*γ, L]
    for layer in drafter.layers:
        h = _layer(layer, h, ctx, rope_block, rope_ctx, ctx_mask)
    return drafter.norm(h)  # [S, n, γ, H]


def _layer(layer, h, ctx, rope_block, rope_ctx, ctx_mask):
    """One backbone layer over h [S, n, γ, H] with context ctx [S, L, H] (see `drafter.model._layer_forward`)."""
    attn = layer.self_attn
    S, n, G, _ = h.shape
    L, D, Hkv, Hq = ctx.shape[1], attn.head_dim, attn.num_kv_heads, attn.num_heads
    Gq = Hq // Hkv
    x = layer.input_layernorm(h).view(S, n * G, -1)  # [S, n*γ, H]
    q = attn.q_proj(x).view(S, n * G, Hq, D)
    k_blk, v_blk = attn.project_kv(x)  # [S, n*γ, Hkv, D] x 2 (k normed)
    k_ctx, v_ctx = attn.project_kv(ctx)  # [S, L, Hkv, D] x 2
    if attn.qk_norm:
        q = attn.q_norm(q)
    q, k_blk = apply_rope(q, *rope_block), apply_rope(k_blk, *rope_block)
    k_ctx = apply_rope(k_ctx, *rope_ctx)

    # Query head h uses kv head h // Gq (HF repeat_kv order).
    qh = q.view(S, n * G, Hkv, Gq, D).permute(0, 2, 3, 1, 4)  # [S, Hkv, Gq, n*γ, D]
    s_ctx = torch.matmul(qh, k_ctx.permute(0, 2, 3, 1)[:, :, None])  # [S, Hkv, Gq, n*γ, L]
    qb = q.view(S, n, G, Hkv, Gq, D).permute(0, 1, 3, 4, 2, 5)  # [S, n, Hkv, Gq, γ, D]
    kb = k_blk.view(S, n, G, Hkv, D).permute(0, 1, 3, 4, 2)[:, :, :, None]  # [S, n, Hkv, 1, D, γ]
    s_blk = torch.matmul(qb, kb)  # [S, n, Hkv, Gq, γ, γ]
    s_blk = s_blk.permute(0, 2, 3, 1, 4, 5).reshape(S, Hkv, Gq, n * G, G)  # [S, Hkv, Gq, n*γ, γ]
    scores = torch.cat((s_ctx, s_blk), dim=-1).float() * attn.scale  # [S, Hkv, Gq, n*γ, L+γ]
    if attn.softcap is not None:
        scores = torch.tanh(scores / attn.softcap) * attn.softcap
    full_mask = torch.cat((ctx_mask, torch.ones_like(ctx_mask[..., :G])), dim=-1)  # block keys always visible
    probs = torch.softmax(scores.masked_fill(~full_mask, float("-inf")), dim=-1).to(h.dtype)
    out = torch.matmul(probs[..., :L], v_ctx.permute(0, 2, 1, 3)[:, :, None])  # [S, Hkv, Gq, n*γ, D]
    pb = probs[..., L:].reshape(S, Hkv, Gq, n, G, G).permute(0, 3, 1, 2, 4, 5)  # [S, n, Hkv, Gq, γ, γ]
    vb = v_blk.view(S, n, G, Hkv, D).permute(0, 1, 3, 2, 4)[:, :, :, None]  # [S, n, Hkv, 1, γ, D]
    out_blk = torch.matmul(pb, vb).permute(0, 2, 3, 1, 4, 5).reshape(S, Hkv, Gq, n * G, D)
    out = (out + out_blk).permute(0, 3, 1, 2, 4).reshape(S, n * G, Hq * D)  # [S, n*γ, Hq*D]
    return layer.residual(h, attn.o_proj(out).view(S, n, G, -1))


def block_logits(drafter: DSparkDrafter, hidden: torch.Tensor, vocab_ids: torch.Tensor | None = None) -> torch.Tensor:
    """U = lm_head(hs) in fp32 (Gemma: softcapped), for hs [..., H] -> [..., Vd] over the drafter's draft
    vocabulary (V without one), or [..., V'] for the target ids `vocab_ids` [V'] only."""
    if vocab_ids is None:
        logits = torch.nn.functional.linear(hidden, drafter.draft_rows(drafter.lm_head.weight)).float()
    else:
        logits = torch.nn.functional.linear(hidden, drafter.lm_head.weight[vocab_ids]).float()
    cap = drafter.arch.final_softcap
    return torch.tanh(logits / cap) * cap if cap is not None else logits
