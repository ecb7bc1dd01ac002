"""The DSpark block drafter as an export-friendly PyTorch module.

One step (the graph `export.py` traces), B rows, Δ new context rows, P cached context rows, γ slots:

    ctx  = hidden_norm(fc(ctx_taps))                  fc in fp32; Δ new context rows
    h    = embed([anchor, MASK, ..., MASK])           γ slots at positions anchor_position + 0..γ-1
    per layer:  q = q_proj(norm(h)) (block slots only)
                keys/values = [cache ; k_proj(ctx) ; k_proj(norm(h))]   (k_norm on all, RoPE at absolute
                positions); the ctx rows are returned as the layer's new cache rows
    hs   = norm(h)                                     block_hidden [B, γ, H]
    U    = lm_head[draft_vocab](hs) (Gemma: softcapped) block_logits [B, γ, Vd] fp32

A drafter with a draft vocabulary (`draft_vocab`, Vd sorted target ids, EAGLE-3's draft-to-target map)
scores only those rows of the lm_head and of the Markov head's W2; without one, Vd = V.

A slot sees every block slot (non-causal) and every valid context row whose position is strictly
before the anchor's. Slot k predicts the token at anchor_position + k + 1. The Markov and confidence
heads and the STS temperatures are parameters here but are applied after the backbone
(`sampling.draft_step`, or the fused DraftSample op in the exported graph).

The backbone layers are the models package's `DecoderLayer`s (same parameter names and family
quirks), driven by `_layer_forward` below because their keys come from two sources.
"""

from __future__ import annotations

import torch
from torch import nn

from dspark_compile.drafter.config import DrafterConfig
from dspark_compile.errors import ModelError
from dspark_compile.models.arch import FULL, ArchConfig
from dspark_compile.models.base import DecoderLayer, apply_rope, make_norm, rope_cos_sin
from dspark_compile.ops.reference import check_draft_vocab


class MarkovHead(nn.Module):
    """bias_k = W2 · W1[x_{k-1}]: `markov_w1` Embedding(V, r), `markov_w2` Linear(r -> V) (weight [V, r])."""

    def __init__(self, vocab_size: int, rank: int):
        super().__init__()
        self.markov_w1 = nn.Embedding(vocab_size, rank)
        self.markov_w2 = nn.Linear(rank, vocab_size, bias=False)


class ConfidenceHead(nn.Module):
    """c_k logit = proj([hs_k ; W1[x_{k-1}]]), `proj` Linear(H + r -> 1)."""

    def __init__(self, in_features: int):
        super().__init__()
        self.proj = nn.Linear(in_features, 1)


class DSparkDrafter(nn.Module):
    """Block drafter sharing `embed_tokens` and `lm_head` with its target (frozen, not saved by us).

    Parameter names are the reference checkpoint's (`fc.weight`, `layers.0.self_attn.q_proj.weight`,
    `markov_head.markov_w1.weight`, ...). Build with `checkpoint.init_drafter` or `load_drafter`.
    """

    SHARED = ("embed_tokens.weight", "lm_head.weight")

    def __init__(self, config: DrafterConfig, arch: ArchConfig, embed_tokens: nn.Embedding, lm_head: nn.Linear):
        super().__init__()
        if arch.layer_types != (FULL,) * config.num_layers:
            raise ModelError(f"drafter layers must all be {FULL!r}, got {arch.layer_types}")
        spec, H = arch.family, arch.hidden_size
        self.config, self.arch = config, arch
        self.block_size = config.block_size
        self.mask_token_id = config.mask_token_id
        self.hidden_size, self.vocab_size = H, arch.vocab_size
        self.num_layers = arch.num_layers
        self.num_kv_heads, self.head_dim, _ = arch.dims(0)  # every drafter layer is full attention
        self.fc = nn.Linear(config.num_taps * H, H, bias=False, dtype=torch.float32)  # always fp32
        self.hidden_norm = make_norm(arch, H)
        self.layers = nn.ModuleList(DecoderLayer(arch, FULL, i) for i in range(config.num_layers))
        self.norm = make_norm(arch, H)
        self.markov_head = MarkovHead(arch.vocab_size, config.markov_rank)
        self.confidence_head = ConfidenceHead(H + config.markov_rank)
        self.embed_tokens = embed_tokens
        self.lm_head = lm_head
        # [Vd] target ids, set by the checkpoint or `set_draft_vocab`; None: the whole vocabulary
        size = config.draft_vocab_size
        self.register_buffer("draft_vocab", None if size is None else torch.arange(size, device="cpu"))
        table = arch.rope_table(FULL)
        self.rope_scaling = table.attention_scaling
        self.register_buffer("inv_freq", torch.tensor(table.inv_freq, dtype=torch.float32, device="cpu"),
                             persistent=False)  # [D/2]
        scale = H**0.5 if spec.embed_scale else 1.0
        self.register_buffer("embed_scale", torch.tensor(scale, device="cpu"), persistent=False)
        self.register_buffer("sts_temperatures", torch.tensor(config.sts_temperatures, dtype=torch.float32,
                                                              device="cpu"), persistent=False)  # [γ]

    @property
    def dtype(self) -> torch.dtype:
        """Backbone, block hidden and KV dtype (the target's); fc and block logits are fp32."""
        return self.embed_tokens.weight.dtype

    @property
    def draft_vocab_size(self) -> int:
        """Vd: the number of tokens the drafter scores (V without a draft vocabulary)."""
        return self.vocab_size if self.draft_vocab is None else int(self.draft_vocab.shape[0])

    def draft_rows(self, weight: torch.Tensor) -> torch.Tensor:
        """The draft vocabulary's rows of a [V, ...] weight (lm_head, Markov W2) -> [Vd, ...]."""
        return weight if self.draft_vocab is None else weight[self.draft_vocab]

    def set_draft_vocab(self, ids) -> None:
        """Score only the target ids `ids` (Vd, strictly increasing) from now on; None: the whole vocabulary.
        The config's `draft_vocab_size` follows, so the checkpoint records it."""
        if ids is not None:
            ids = torch.as_tensor(ids, dtype=torch.int64).cpu()
            if not check_draft_vocab(ids.numpy(), self.vocab_size):
                raise ModelError(f"draft vocabulary of {ids.numel()} ids is invalid: it must be non-empty, "
                                 f"strictly increasing and inside [0, {self.vocab_size})")
        self.config = self.config.replace(draft_vocab_size=None if ids is None else int(ids.numel()))
        self.draft_vocab = ids

    def draft_ids(self) -> torch.Tensor:
        """The target id of each draft-vocabulary entry, [Vd] int64."""
        return torch.arange(self.vocab_size) if self.draft_vocab is None else self.draft_vocab

    def kv_names(self) -> list[str]:
        """Names of the past/new KV tensors in forward order: key.0, value.0, key.1, ..."""
        return [f"{kind}.{i}" for i in range(self.num_layers) for kind in ("key", "value")]

    def own_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors a drafter checkpoint holds: everything but the shared embedding and lm_head."""
        return {k: v for k, v in self.state_dict().items() if k not in self.SHARED}

    def forward(self, ctx_taps, ctx_positions, ctx_counts, past_lengths, anchor, anchor_position, *past_kv):
        """ctx_taps [B, Δ, n_taps*H]; ctx_positions [B, Δ] int64; ctx_counts [B] int64 (valid new rows,
        right-padded); past_lengths [B] int64; anchor [B] int (x0); anchor_position [B] int64;
        past_kv: 2L tensors [B, Hkv, P, D] (cache row j holds position j; rows the mask hides must be finite).

        Returns (block_logits [B, γ, Vd] fp32, block_hidden [B, γ, H], *new_kv 2L x [B, Hkv, Δ, D]).
        One more tensor after past_kv, query_slots [S] int64 (the fused export's trace), makes the block
        outputs those slots' only (`run_block`).
        """
        query_slots = None
        if len(past_kv) == 2 * self.num_layers + 1:
            *past_kv, query_slots = past_kv
        return self.run_block(self.embed_block(anchor), ctx_taps, ctx_positions, ctx_counts, past_lengths,
                              anchor_position, *past_kv, query_slots=query_slots)

    def embed_block(self, anchor: torch.Tensor) -> torch.Tensor:
        """Block input embed([x0, MASK, ..., MASK]) [B, γ, H] for anchor [B] (Gemma: times sqrt(H))."""
        B, G = anchor.shape[0], self.block_size
        first = self.embed_tokens(anchor.long())[:, None, :]  # [B, 1, H]
        mask_row = self.embed_tokens.weight[self.mask_token_id]  # [H]
        h = torch.cat((first, mask_row.expand(B, G - 1, self.hidden_size)), dim=1)  # [B, γ, H]
        return h * self.embed_scale.to(h.dtype)  # sqrt(H) rounded to the dtype (Gemma), else 1

    def run_block(self, h, ctx_taps, ctx_positions, ctx_counts, past_lengths, anchor_position, *past_kv,
                  query_slots=None):
        """The backbone and lm_head on block inputs h [B, γ, H] (see `forward` for the other arguments).

        query_slots [S] int64 (the fused export's first S slots, `export.draft_slots`): the last layer computes
        only those slots' queries, attention output and MLP (its keys and values still come from all γ slots,
        which every slot sees), so block_logits/block_hidden are [B, S, ...]. The same numbers as slicing
        the full outputs, without the last layer's work for slots that are not drafted."""
        if len(past_kv) != 2 * self.num_layers:
            raise ModelError(f"expected {2 * self.num_layers} past KV tensors, got {len(past_kv)}")
        G, dtype = self.block_size, self.dtype
        ctx = self.hidden_norm(self.fc(ctx_taps.float())).to(dtype)  # [B, Δ, H]
        block_pos = anchor_position[:, None] + torch.arange(G, device=h.device)[None, :]  # [B, γ]
        rope_block = rope_cos_sin(block_pos, self.inv_freq, self.rope_scaling, dtype)  # [B, γ, 1, D] x 2
        rope_ctx = rope_cos_sin(ctx_positions, self.inv_freq, self.rope_scaling, dtype)  # [B, Δ, 1, D] x 2
        mask = self._mask(ctx_positions, ctx_counts, past_lengths, anchor_position, past_kv[0].shape[2])

        new_kv = []
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h, new_k, new_v = _layer_forward(layer, h, ctx, rope_block, rope_ctx, mask,
                                             past_kv[2 * i], past_kv[2 * i + 1], query_slots if i == last else None)
            new_kv += [new_k, new_v]
        hidden = self.norm(h)  # [B, γ, H]
        logits = nn.functional.linear(hidden, self.draft_rows(self.lm_head.weight)).float()  # [B, γ, Vd]
        if self.arch.final_softcap is not None:
            logits = torch.tanh(logits / self.arch.final_softcap) * self.arch.final_softcap
        return (logits, hidden, *new_kv)

    def _mask(self, ctx_positions, ctx_counts, past_lengths, anchor_position, P):
        """Keys a block slot may see, [B, 1, 1, 1, P+Δ+γ] bool (the same for every slot). Context keys
        need a valid row and a position < anchor_position."""
        B, T = ctx_positions.shape[0], ctx_positions.shape[1]
        past_idx = torch.arange(P, device=ctx_positions.device)  # [P] == position of cache row
        past_ok = (past_idx[None, :] < past_lengths[:, None]) & (past_idx[None, :] < anchor_position[:, None])
        new_idx = torch.arange(T, device=ctx_positions.device)  # [Δ]
        new_ok = (new_idx[None, :] < ctx_counts[:, None]) & (ctx_positions < anchor_position[:, None])  # [B, Δ]
        block_ok = torch.ones_like(anchor_position, dtype=torch.bool)[:, None].expand(B, self.block_size)
        allowed = torch.cat((past_ok, new_ok, block_ok), dim=-1)  # [B, S]
        return allowed[:, None, None, None, :]


def _layer_forward(layer: DecoderLayer, h, ctx, rope_block, rope_ctx, mask, past_k, past_v, queries=None):
    """One backbone layer. h [B, γ, H] block states; ctx [B, Δ, H] projected context (not normed per
    layer); mask [B, 1, 1, 1, S]; past_k/v [B, Hkv, P, D]. Returns h [B, γ, H] (with `queries` [Q] slot
    indices: [B, Q, H], those slots only; keys and values still come from every slot) and the context rows'
    new_k/new_v [B, Hkv, Δ, D]."""
    attn = layer.self_attn
    D = attn.head_dim
    x = layer.input_layernorm(h)
    xq, rope_q = x, rope_block
    if queries is not None:  # the rows whose outputs are wanted; the others only give keys and values
        h, xq = h.index_select(1, queries), x.index_select(1, queries)
        rope_q = tuple(r.index_select(1, queries) for r in rope_block)
    q = attn.q_proj(xq).view(h.shape[0], h.shape[1], attn.num_heads, D)  # [B, γ or Q, Hq, D]
    k_blk, v_blk = attn.project_kv(x)  # [B, γ, Hkv, D] x 2 (k_norm / Gemma 4's v_norm applied)
    k_ctx, v_ctx = attn.project_kv(ctx)  # [B, Δ, Hkv, D] x 2
    if attn.qk_norm:
        q = attn.q_norm(q)
    q, k_blk = apply_rope(q, *rope_q), apply_rope(k_blk, *rope_block)
    k_ctx = apply_rope(k_ctx, *rope_ctx)
    new_k, new_v = k_ctx.transpose(1, 2), v_ctx.transpose(1, 2)  # [B, Hkv, Δ, D]
    # Only the small new part is joined ([context ; block], Δ+γ rows); the cache is read in place.
    keys = torch.cat((new_k, k_blk.transpose(1, 2)), dim=2)  # [B, Hkv, Δ+γ, D]
    values = torch.cat((new_v, v_blk.transpose(1, 2)), dim=2)  # [B, Hkv, Δ+γ, D]
    out = attn.attend(q, past_k, past_v, keys, values, mask)  # [B, γ, Hq*D]; block keys always allowed
    return layer.residual(h, attn.o_proj(out)), new_k, new_v
