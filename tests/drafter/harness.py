"""Test harness: random drafter-step inputs, a ragged cache driver in the runtime's layout, and an
independent per-row oracle of the drafter block written from the reference formulation."""

from __future__ import annotations

import torch

from dspark_compile.drafter import DSparkDrafter

GARBAGE = 1e4
"""Value of cache rows past each length: finite (the contract) but far off, so that a row that leaks
through the mask changes the outputs."""


def step_inputs(drafter: DSparkDrafter, B: int, T: int, P: int, seed: int):
    """Forward inputs for ragged rows: counts in [0, T], lengths in [0, P], GARBAGE past the valid rows."""
    gen = torch.Generator().manual_seed(seed)
    past_lengths = torch.randint(0, P + 1, (B,), generator=gen)  # [B]
    counts = torch.randint(0, T + 1, (B,), generator=gen)  # [B]
    if T:
        counts[0] = T  # at least one full row
    taps = torch.randn(B, T, drafter.config.num_taps * drafter.hidden_size, generator=gen)  # [B, T, n*H]
    positions = past_lengths[:, None] + torch.arange(T)[None, :]  # [B, T]
    kv = []
    for _ in drafter.kv_names():
        cache = torch.randn(B, drafter.num_kv_heads, P, drafter.head_dim, generator=gen)  # [B, Hkv, P, D]
        cache[(past_lengths[:, None] <= torch.arange(P)[None, :])[:, None, :, None].expand_as(cache)] = GARBAGE
        kv.append(cache)
    anchor = torch.randint(0, drafter.vocab_size, (B,), generator=gen, dtype=torch.int32)
    return (taps, positions, counts, past_lengths, anchor, past_lengths + counts, *kv)


class DraftCache:
    """Feeds a drafter ragged steps and commits its new context K/V like the runtime; remembers every
    row's taps so that `oracle_block` can recompute the block from scratch."""

    def __init__(self, drafter: DSparkDrafter, batch: int, capacity: int = 32, slack: int = 2):
        shape = (batch, drafter.num_kv_heads, capacity, drafter.head_dim)
        self.kv = [torch.full(shape, GARBAGE) for _ in drafter.kv_names()]
        self.lengths = torch.zeros(batch, dtype=torch.long)  # [B]
        self.taps = [torch.zeros(0, drafter.config.num_taps * drafter.hidden_size) for _ in range(batch)]
        self.drafter, self.capacity, self.slack = drafter, capacity, slack

    def step(self, rows: list[torch.Tensor], anchor: torch.Tensor):
        """rows[b]: new taps [n_b, n*H] of row b; anchor [B]. Returns block logits [B, γ, V], hidden."""
        B, T = len(rows), max(r.shape[0] for r in rows)
        counts = torch.tensor([r.shape[0] for r in rows])
        taps = torch.zeros(B, T, rows[0].shape[1])
        for b, r in enumerate(rows):
            taps[b, : r.shape[0]] = r
            self.taps[b] = torch.cat((self.taps[b], r))
        positions = self.lengths[:, None] + torch.arange(T)[None, :]
        P = min(int(self.lengths.max()) + self.slack, self.capacity)
        with torch.no_grad():
            logits, hidden, *new_kv = self.drafter(taps, positions, counts, self.lengths.clone(), anchor,
                                                   self.lengths + counts, *[c[:, :, :P] for c in self.kv])
        for b in range(B):
            start, n = int(self.lengths[b]), int(counts[b])
            for cache, new in zip(self.kv, new_kv):
                cache[b, :, start : start + n] = new[b, :, :n]  # [Hkv, n, D]
        self.lengths += counts
        return logits, hidden


def _rope(x, positions, inv_freq, scaling):
    """x [S, heads, D] rotated at positions [S] (rotate-half convention)."""
    angles = positions[:, None].float() * inv_freq[None, :]  # [S, D/2]
    cos = torch.cat((angles, angles), -1).cos()[:, None] * scaling
    sin = torch.cat((angles, angles), -1).sin()[:, None] * scaling
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


@torch.no_grad()
def oracle_block(d: DSparkDrafter, taps: torch.Tensor, anchor: int, anchor_position: int):
    """One row from scratch: taps [N, n*H] at positions 0..N-1 -> (logits [γ, V], hidden [γ, H])."""
    G, spec = d.block_size, d.arch.family
    keep = torch.arange(taps.shape[0]) < anchor_position
    ctx = d.hidden_norm(d.fc(taps[keep].float()))  # [n, H]
    ctx_pos = torch.arange(taps.shape[0])[keep]
    ids = torch.tensor([anchor] + [d.mask_token_id] * (G - 1))
    h = d.embed_tokens(ids) * (d.hidden_size**0.5 if spec.embed_scale else 1.0)  # [γ, H]
    blk_pos = anchor_position + torch.arange(G)
    key_pos = torch.cat((ctx_pos, blk_pos))
    for layer in d.layers:
        a = layer.self_attn
        x = layer.input_layernorm(h)
        kv_in = torch.cat((ctx, x))  # [n + γ, H]  reference: [k_proj(ctx) ; k_proj(block)]
        q = a.q_proj(x).view(G, a.num_heads, a.head_dim)
        k = a.k_proj(kv_in).view(-1, a.num_kv_heads, a.head_dim)
        v = k if a.k_eq_v else a.v_proj(kv_in).view(-1, a.num_kv_heads, a.head_dim)  # Gemma 4: V = K proj
        if spec.qk_norm:
            q, k = a.q_norm(q), a.k_norm(k)
        if spec.value_norm:  # weightless RMSNorm (Gemma 4)
            v = v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + d.arch.rms_norm_eps)
        q = _rope(q, blk_pos, d.inv_freq, d.rope_scaling)
        k = _rope(k, key_pos, d.inv_freq, d.rope_scaling)
        rep = a.num_heads // a.num_kv_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)  # [S, Hq, D]
        scores = torch.einsum("thd,shd->hts", q, k) * a.scale  # no mask: all these keys are visible
        if a.softcap is not None:
            scores = torch.tanh(scores / a.softcap) * a.softcap
        out = a.o_proj(torch.einsum("hts,shd->thd", scores.softmax(-1), v).reshape(G, -1))
        if spec.sandwich_norms:
            h = h + layer.post_attention_layernorm(out)
            h = h + layer.post_feedforward_layernorm(layer.mlp(layer.pre_feedforward_layernorm(h)))
        else:
            h = h + out
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        if spec.layer_scalar:
            h = h * layer.layer_scalar
    hidden = d.norm(h)
    logits = d.lm_head(hidden).float()
    if d.arch.final_softcap is not None:
        logits = torch.tanh(logits / d.arch.final_softcap) * d.arch.final_softcap
    return logits, hidden
