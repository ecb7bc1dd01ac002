"""The one decoder shared by every family, written for export: a flat KV interface, no Python control
flow on tensor values, masks built from comparisons, head-major caches.

Forward contract (the ONNX exporter and the runtimes depend on it, see `DecoderLM.forward`):

    input_ids [B, T], positions [B, T], past_lengths [B], logit_index [B, K], past_kv 2L x [B, Hkv, P, D]
    -> logits [B, K, V] fp32, taps [B, T, n_taps*H], new_kv 2L x [B, Hkv, T, D]

The cache is head-major, the layout attention multiplies in, so the graph reads it in place: the runtime
passes its whole [B, Hkv, S_max, D] array per layer as `past_*` and `past_lengths` masks the unused
rows. Attention reads the cache with the new keys/values placed at their own rows (`attend_in_place`),
so the cache must have room for the step's tokens, and a K-token pass equals K one-token steps bit for bit.
Committing n tokens writes n rows per head and rolling back is only a length change. Cache index
equals absolute position.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from transformers.activations import ACT2FN

from dspark_compile.errors import ModelError
from dspark_compile.models.arch import FULL, SLIDING, ArchConfig
from dspark_compile.models.taps import check_tap_layers


class RMSNorm(nn.Module):
    """RMSNorm over the last dim, statistics in fp32 like HF.

    plus_one (Gemma): y = (x̂ · (1 + w)) in fp32, then cast. Otherwise (Llama): y = w · cast(x̂).
    """

    def __init__(self, dim: int, eps: float, plus_one: bool, scale_fp32: bool = False, with_weight: bool = True):
        super().__init__()
        if with_weight:
            self.weight = nn.Parameter(torch.empty(dim))
        self.eps = eps
        self.plus_one = plus_one
        self.scale_fp32 = scale_fp32  # Gemma 4: y = (x̂ · w) in fp32, then cast
        self.with_weight = with_weight  # Gemma 4's value norm has no weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        if not self.with_weight:
            return normed.type_as(x)
        if self.plus_one:
            return (normed * (1.0 + self.weight.float())).type_as(x)
        if self.scale_fp32:
            return (normed * self.weight.float()).type_as(x)
        return self.weight * normed.type_as(x)


def make_norm(arch: ArchConfig, dim: int, with_weight: bool = True) -> RMSNorm:
    """The family's RMSNorm over `dim`."""
    spec = arch.family
    return RMSNorm(dim, arch.rms_norm_eps, spec.norm_plus_one, spec.norm_scale_fp32, with_weight)


def rope_cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor, scaling: float, dtype: torch.dtype):
    """cos and signed sin [B, T, 1, D] for absolute `positions` [B, T] and inv_freq [D/2] (angles in fp32), as
    `apply_rope` takes them: cos = [cos a, cos a], sin = [-sin a, sin a] (HF's rotate-half sin with the sign
    of the rotation's first half moved into it)."""
    angles = positions[..., None].float() * inv_freq  # [B, T, D/2]
    emb = torch.cat((angles, angles), dim=-1)[:, :, None, :]  # [B, T, 1, D]
    sin = angles.sin()[:, :, None, :]  # [B, T, 1, D/2]
    return (emb.cos() * scaling).to(dtype), (torch.cat((-sin, sin), dim=-1) * scaling).to(dtype)


PAD_STRIPE = 128
"""ONNX Runtime's MatMulNBits (int8 activations) splits M into stripes of this many rows and multiplies a stripe of
one row with another kernel, which rounds differently (measured, ORT 1.32, 1/2/4 threads: the rows that differ
from the same rows in a larger product are exactly the last one when M mod 128 = 1)."""


def pad_row(x: torch.Tensor, width: int) -> torch.Tensor:
    """x [N, width] -> [N + p, width]: a zero row appended when N mod PAD_STRIPE = 1 (p = 1), so that no real row
    is ever multiplied alone (`DecoderLM.row_pad`); otherwise x itself (p = 0). p is computed in the graph from
    N. `width` is a Python int, so the traced zero row is a constant (x.shape[-1] would trace a Shape ->
    ConstantOfShape chain)."""
    n = x.shape[0]
    pad = (n + PAD_STRIPE - 2) % PAD_STRIPE // (PAD_STRIPE - 1)  # 1 when n mod 128 = 1, else 0 (integer ops trace)
    return torch.cat((x, torch.zeros(1, width, dtype=x.dtype, device=x.device)), dim=0)[: n + pad]


class _WriteRows(torch.autograd.Function):
    """cache [B, Hkv, S, D] with updates [B, Hkv, T, D] written at index [B, Hkv, T, 3] (batch row, kv head,
    cache row); exported as one ScatterND, which copies whole D-element rows. (ScatterElements, its first
    form, read an index per element: 5% of a one-token SmolLM2 q4 step and 3.5% of a 43-token prefill
    more, same bytes out.)"""

    @staticmethod
    def forward(ctx, cache, index, updates):
        out = cache.clone()
        out[index[..., 0], index[..., 1], index[..., 2]] = updates
        return out

    @staticmethod
    def symbolic(g, cache, index, updates):
        return g.op("ScatterND", cache, index, updates)


def write_rows(cache: torch.Tensor, index: torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
    """A copy of cache [B, Hkv, S, D] with updates [B, Hkv, T, D] at index [B, Hkv, T, 3] (`scatter_rows`)."""
    return _WriteRows.apply(cache, index, updates)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half RoPE (HF convention) on x [B, T, heads, D] with `rope_cos_sin`'s cos and signed sin:
    x·cos + [x2, x1]·[-sin, sin], which is HF's x·cos + [-x2, x1]·[sin, sin] bit for bit ((-a)·b = a·(-b) in
    IEEE arithmetic) without a Neg node per rotation (one per q and k of every layer)."""
    half = int(x.shape[-1]) // 2  # D is static: a constant in the traced graph, not a Shape/Gather/Div chain
    first, second = torch.split(x, half, dim=-1)  # one Split node (two Slices need a known shape to be fused)
    return x * cos + torch.cat((second, first), dim=-1) * sin


class Attention(nn.Module):
    """Grouped-query attention over [past cache ; new tokens] with an explicit boolean mask."""

    def __init__(self, arch: ArchConfig, layer: int = 0):
        super().__init__()
        spec = arch.family
        hkv, hd, self.k_eq_v = arch.dims(layer)
        self.num_heads, self.num_kv_heads, self.head_dim = arch.num_heads, hkv, hd
        self.scale = arch.query_scale
        self.softcap = arch.attn_softcap
        self.q_proj = nn.Linear(arch.hidden_size, arch.num_heads * hd, bias=arch.attention_bias)
        self.k_proj = nn.Linear(arch.hidden_size, hkv * hd, bias=arch.attention_bias)
        if not self.k_eq_v:  # Gemma 4 full layers with attention_k_eq_v: V is K's projection
            self.v_proj = nn.Linear(arch.hidden_size, hkv * hd, bias=arch.attention_bias)
        self.o_proj = nn.Linear(arch.num_heads * hd, arch.hidden_size, bias=arch.attention_bias)
        self.qk_norm = spec.qk_norm
        if spec.qk_norm:
            self.q_norm = make_norm(arch, hd)
            self.k_norm = make_norm(arch, hd)
        self.v_norm = make_norm(arch, hd, with_weight=False) if spec.value_norm else None

    def project_kv(self, x, rows: tuple | None = None):
        """Keys (normed, before RoPE) and values [B, T, Hkv, D] of x [B, T, H], or of x [B*T + p, H] with
        `rows` = (B, T): row-padded (`DecoderLM.row_pad`), a pad row dropped after the projections."""
        B, T = rows or (x.shape[0], x.shape[1])
        k = _unpad(self.k_proj(x), rows).view(B, T, self.num_kv_heads, self.head_dim)
        v = k if self.k_eq_v else _unpad(self.v_proj(x), rows).view(B, T, self.num_kv_heads, self.head_dim)
        if self.qk_norm:
            k = self.k_norm(k)
        if self.v_norm is not None:
            v = self.v_norm(v)
        return k, v

    def forward(self, x, cos, sin, mask, past_k, past_v):
        """x [B, T, H], or [B*T + p, H] row-padded (`DecoderLM.row_pad`); cos/sin [B, T, 1, D]; mask (rows
        [B, Hkv, T, D] int64, allowed [B, 1, G*T, P] bool), see `attend_in_place`; past_k/v [B, Hkv, P, D].
        Returns out (x's layout) [B, T, H] or [B*T + p, H], new_k/new_v [B, Hkv, T, D]."""
        B, T = cos.shape[0], cos.shape[1]
        rows = (B, T) if x.dim() == 2 else None
        q = _unpad(self.q_proj(x), rows).view(B, T, self.num_heads, self.head_dim)  # [B, T, Hq, D]
        k, v = self.project_kv(x, rows)  # [B, T, Hkv, D] x 2
        if self.qk_norm:
            q = self.q_norm(q)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        new_k, new_v = k.transpose(1, 2), v.transpose(1, 2)  # [B, Hkv, T, D]
        out = self.attend_in_place(q, past_k, past_v, new_k, new_v, *mask, flat=rows is not None)  # [B, T, Hq*D]
        if rows is not None:  # [B*T, Hq*D] -> [B*T + p, Hq*D]
            out = pad_row(out, self.num_heads * self.head_dim)
        return self.o_proj(out), new_k, new_v

    def attend_in_place(self, q, past_k, past_v, new_k, new_v, rows, allowed, flat: bool = False):
        """Attention of q [B, T, Hq, D] over the cache with the new keys/values written at their own rows.

        rows [B, Hkv, T, 3] int64: (batch row, kv head, cache row) of each new token's key/value
        (`DecoderLM.scatter_rows`, built once per graph and shared by the layers); allowed [B, 1, G*T, S] bool
        (`query_rows_mask`). Every
        key, cached or new, sits at its absolute position, so a query's sums run over the same keys in the
        same order whether the tokens before it came in this pass or in earlier ones: a K-token verify pass
        computes what K one-token steps compute, bit for bit (the split [past ; new] layout of `attend` sums
        the same terms in another order). Costs one copy of each [B, Hkv, S, D] cache tensor per layer
        (`write_rows`); placing rows by gather + select instead moved about 4x the bytes and made a 16-row
        step 2x slower than the split layout.
        """
        keys = write_rows(past_k, rows, new_k)  # [B, Hkv, S, D]: a copy, new rows written
        values = write_rows(past_v, rows, new_v)
        return self.attend(q, keys, values, None, None, allowed, flat)

    def query_rows_mask(self, allowed):
        """allowed [B, 1, 1, T, S] -> [B, 1, G*T, S], the mask in `attend`'s query-row order (row g*T + t is
        query head g of a kv head at token t). Built once per graph and read by every layer."""
        B, T, S = allowed.shape[0], allowed.shape[3], allowed.shape[4]
        G = self.num_heads // self.num_kv_heads
        return allowed.expand(B, 1, G, T, S).reshape(B, 1, G * T, S)

    def attend(self, q, past_k, past_v, new_k, new_v, mask, flat: bool = False):
        """Softmax attention of q [B, T, Hq, D] over [past ; new] keys without joining them.

        past_k/v [B, Hkv, P, D] (rows the mask hides may hold any finite values); new_k/v [B, Hkv, N, D], or
        None for no new part (N = 0, fewer graph nodes); mask [B, 1, 1, T or 1, P+N] bool, or [B, 1, G*T, P+N]
        already in query-row order (`query_rows_mask`: no reshapes of the scores around it), every query row
        allowing at least one key. Returns [B, T, Hq*D], or with `flat` [B*T, Hq*D].
        """
        B, T, P = q.shape[0], q.shape[1], past_k.shape[2]
        Hkv, D = self.num_kv_heads, self.head_dim
        G = self.num_heads // Hkv
        # Query head h uses kv head h // G (HF repeat_kv order): the G heads of one kv head become G*T
        # query rows, so both products below read K/V in place (no repeat, no transpose of the cache).
        q = q.view(B, T, Hkv, G, D).permute(0, 2, 3, 1, 4).reshape(B, Hkv, G * T, D)  # [B, Hkv, G*T, D]
        scores = torch.matmul(q, past_k.transpose(-1, -2))  # [B, Hkv, G*T, P]
        if new_k is not None:
            scores = torch.cat((scores, torch.matmul(q, new_k.transpose(-1, -2))), dim=-1)  # [B, Hkv, G*T, P+N]
        by_row = mask.dim() == 4  # [B, 1, G*T, P+N]: the mask already lists the query rows
        if not by_row:
            scores = scores.view(B, Hkv, G, T, -1)  # [B, Hkv, G, T, P+N] against mask [B, 1, 1, T, P+N]
        scores = scores.float() * self.scale
        if self.softcap is not None:
            scores = torch.tanh(scores / self.softcap) * self.softcap
        scores = scores.masked_fill(~mask, float("-inf"))  # hidden rows get probability exactly 0
        probs = torch.softmax(scores, dim=-1).to(past_v.dtype)
        if not by_row:
            probs = probs.view(B, Hkv, G * T, -1)  # [B, Hkv, G*T, P+N]
        # 0 * finite = 0, so hidden cache rows drop out of the sum as long as they are finite (the contract).
        if new_v is None:
            out = torch.matmul(probs, past_v)  # [B, Hkv, G*T, D]
        else:
            out = torch.matmul(probs[..., :P], past_v) + torch.matmul(probs[..., P:], new_v)  # [B, Hkv, G*T, D]
        out = out.view(B, Hkv, G, T, D).permute(0, 3, 1, 2, 4)  # [B, T, Hkv, G, D]
        return out.reshape(-1, self.num_heads * D) if flat else out.reshape(B, T, self.num_heads * D)


def _unpad(y: torch.Tensor, rows: tuple | None) -> torch.Tensor:
    """y [B*T + p, C] -> [B*T, C] (a pad row dropped, `pad_row`) when `rows` = (B, T) is given, else y unchanged."""
    return y if rows is None else y[: rows[0] * rows[1]]


class MLP(nn.Module):
    """Gated MLP: down(act(gate(x)) * up(x))."""

    def __init__(self, arch: ArchConfig):
        super().__init__()
        self.gate_proj = nn.Linear(arch.hidden_size, arch.intermediate_size, bias=arch.mlp_bias)
        self.up_proj = nn.Linear(arch.hidden_size, arch.intermediate_size, bias=arch.mlp_bias)
        self.down_proj = nn.Linear(arch.intermediate_size, arch.hidden_size, bias=arch.mlp_bias)
        self.act_fn = ACT2FN[arch.activation]

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Pre-norm decoder layer; with `sandwich_norms` the sublayer outputs are normed too (Gemma)."""

    def __init__(self, arch: ArchConfig, layer_type: str, layer: int = 0):
        super().__init__()
        spec = arch.family
        self.layer_type = layer_type
        self.sandwich = spec.sandwich_norms
        self.self_attn = Attention(arch, layer)
        self.mlp = MLP(arch)
        norm_names = ["input_layernorm", "post_attention_layernorm"]
        if spec.sandwich_norms:
            norm_names += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        for name in norm_names:
            setattr(self, name, make_norm(arch, arch.hidden_size))
        if spec.layer_scalar:  # Gemma 4: a stored output scale (a persistent buffer in HF's state dict)
            self.register_buffer("layer_scalar", torch.ones(1, device="cpu"))
        else:
            self.layer_scalar = None

    def residual(self, h, attn):
        """The rest of the layer after attention: h [B, T, H] and attention's output [B, T, H]."""
        if self.sandwich:
            h = h + self.post_attention_layernorm(attn)
            h = h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))
        else:  # Llama naming: post_attention_layernorm is the pre-MLP norm
            h = h + attn
            h = h + self.mlp(self.post_attention_layernorm(h))
        return h if self.layer_scalar is None else h * self.layer_scalar.to(h.dtype)

    def forward(self, h, cos, sin, mask, past_k, past_v):
        attn, new_k, new_v = self.self_attn(self.input_layernorm(h), cos, sin, mask, past_k, past_v)
        return self.residual(h, attn), new_k, new_v  # [B, T, H], [B, Hkv, T, D] x 2


class DecoderLM(nn.Module):
    """Decoder-only LM with tapped hidden states and an explicit head-major KV interface.

    Parameter names mirror the HF text model without its prefix (`layers.0.self_attn.q_proj.weight`,
    `embed_tokens.weight`, `norm.weight`, `lm_head.weight`); build it with `models.build_model`.
    """

    def __init__(self, arch: ArchConfig, tap_layers: Iterable[int]):
        super().__init__()
        self.arch = arch
        self.family = arch.family.name
        self.num_layers = arch.num_layers
        self.num_kv_heads = arch.num_kv_heads
        self.head_dim = arch.head_dim
        self.hidden_size = arch.hidden_size
        self.vocab_size = arch.vocab_size
        self.tap_layers = check_tap_layers(tap_layers, arch.num_layers)
        self.embed_tokens = nn.Embedding(arch.vocab_size, arch.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(arch, lt, i) for i, lt in enumerate(arch.layer_types))
        self.norm = make_norm(arch, arch.hidden_size)
        self.lm_head = nn.Linear(arch.hidden_size, arch.vocab_size, bias=False)
        # Constants as non-persistent fp32 buffers (not traced literals); explicit device so that a
        # model built under the meta device still gets real values. build_model moves them.
        for layer_type, table in arch.rope:
            inv_freq = torch.tensor(table.inv_freq, dtype=torch.float32, device="cpu")  # [D/2]
            self.register_buffer(f"inv_freq_{layer_type}", inv_freq, persistent=False)
        embed_scale = torch.tensor(arch.hidden_size**0.5 if arch.family.embed_scale else 1.0, device="cpu")
        self.register_buffer("embed_scale", embed_scale, persistent=False)
        self.row_pad = False
        """Export with the hidden states as rows [B*T + p, H], a zero row after the real ones when B*T mod 128 = 1
        (`pad_row`), so that no linear layer multiplies a real row alone. Set for quantized targets
        (`export_target(row_pad=True)`): ONNX Runtime's MatMulNBits computes M = 1 (and a last thread stripe of
        one row, M mod 128 = 1) with another kernel than M >= 2, which rounds differently, so without the pad a
        K-token verify would not compute what K one-token steps compute. Row-wise layers (norms, MLP, residual
        adds) run on the rows; only attention sees [B, T, ...]. The same arithmetic per real row, so the same
        logits. (The pad was once always there: a one-row step with one draft then multiplied 3 rows, where
        MatMulNBits takes rows in pairs, and a 2-row decode step 3 as well.)"""

    @property
    def dtype(self) -> torch.dtype:
        """Weight, activation, tap and KV dtype (logits are always fp32)."""
        return self.embed_tokens.weight.dtype

    def kv_names(self) -> list[str]:
        """Names of the past/new KV tensors in forward order: key.0, value.0, key.1, ..."""
        return [f"{kind}.{i}" for i in range(self.num_layers) for kind in ("key", "value")]

    def kv_shapes(self) -> list[tuple[int, int]]:
        """(kv heads, head dim) of each KV tensor, in `kv_names` order (Gemma 4's full layers differ)."""
        return [self.arch.dims(i)[:2] for i in range(self.num_layers) for _ in ("key", "value")]

    def _masks(self, positions, past_lengths, S):
        """(slot [B, T], {layer type: allowed [B, 1, 1, T, S]}) for `attend_in_place`.

        New token t of row b goes to cache row slot[b, t] = past_lengths[b] + t (== its position); query t sees
        rows s <= positions[b, t]. The caller's cache must have room: S >= past_lengths[b] + T for every row (the
        runtime sizes it so; a padded token past the end is clamped onto the last row, which no query of a
        row within the contract reads).
        """
        T = positions.shape[1]
        rows = torch.arange(S, device=positions.device)  # [S] == absolute position of cache row
        slot = (past_lengths[:, None] + torch.arange(T, device=positions.device)[None, :]).clamp(max=S - 1)  # [B, T]
        allowed = rows[None, None, :] <= positions[:, :, None]  # [B, T, S]
        masks = {FULL: allowed[:, None, None]}
        if SLIDING in self.arch.layer_types:
            near = (positions[:, :, None] - rows[None, None, :]) < self.arch.sliding_window  # [B, T, S]
            masks[SLIDING] = (allowed & near)[:, None, None]
        return slot, masks

    @staticmethod
    def scatter_rows(slot, kv_heads: int):
        """slot [B, T] -> [B, Hkv, T, 3] int64: (batch row, kv head, cache row) of each new key/value row, the
        index `write_rows` takes (built once per graph, where an index_put built its index in every layer)."""
        B, T = slot.shape[0], slot.shape[1]
        batch = torch.arange(B, device=slot.device)[:, None, None, None].expand(B, kv_heads, T, 1)
        head = torch.arange(kv_heads, device=slot.device)[None, :, None, None].expand(B, kv_heads, T, 1)
        return torch.cat((batch, head, slot[:, None, :, None].expand(B, kv_heads, T, 1)), dim=-1)

    def _unpadded(self, h, B, T):
        """The hidden states as [B, T, H], whether or not they run row-padded."""
        return h[: B * T].reshape(B, T, self.hidden_size) if self.row_pad else h

    def forward(self, input_ids, positions, past_lengths, logit_index, *past_kv):
        """input_ids [B, T] int64; positions [B, T] int64 (absolute); past_lengths [B] int64 (valid cache
        rows per batch row); logit_index [B, K] int64 (which of the T new tokens get logits);
        past_kv: 2L tensors [B, Hkv, P, D] (key.0, value.0, ...); rows j >= past_lengths[b] are ignored
        but must be finite (they are masked out of the scores, and 0 * inf is NaN in probs @ V).

        Returns (logits [B, K, V] fp32, taps [B, T, n_taps*H], *new_kv 2L x [B, Hkv, T, D]).
        Query t of row b sees cache row j < past_lengths[b] and new token t' <= t (sliding layers also
        need positions[b, t] - pos < sliding_window). Padded query rows give finite garbage.
        """
        if len(past_kv) != 2 * self.num_layers:
            raise ModelError(f"expected {2 * self.num_layers} past KV tensors, got {len(past_kv)}")
        h = self.embed_tokens(input_ids)  # [B, T, H]
        if self.arch.family.embed_scale:  # sqrt(H) rounded to the weight dtype, as HF does
            h = h * self.embed_scale.to(h.dtype)
        B, T = input_ids.shape[0], input_ids.shape[1]
        if self.row_pad:
            h = pad_row(h.reshape(B * T, self.hidden_size), self.hidden_size)  # [B*T + p, H] (pad_row)
        slot, masks = self._masks(positions, past_lengths, past_kv[0].shape[2])
        shared = {}  # what attention needs per layer shape, built once and read by every layer of that shape
        rope = {
            lt: rope_cos_sin(positions, getattr(self, f"inv_freq_{lt}"), table.attention_scaling, h.dtype)
            for lt, table in self.arch.rope
        }  # layer type -> cos, sin [B, T, 1, D]

        taps, new_kv = [], []
        for i, layer in enumerate(self.layers):
            cos, sin = rope[layer.layer_type]
            past_k, past_v = past_kv[2 * i], past_kv[2 * i + 1]
            attn = layer.self_attn
            key = (layer.layer_type, attn.num_kv_heads, attn.head_dim, attn.num_heads)
            if key not in shared:  # (cache rows [B, Hkv, T, D], mask [B, 1, G*T, S])
                shared[key] = (self.scatter_rows(slot, attn.num_kv_heads),
                               attn.query_rows_mask(masks[layer.layer_type]))
            h, new_k, new_v = layer(h, cos, sin, shared[key], past_k, past_v)
            new_kv += [new_k, new_v]
            if i in self.tap_layers:
                taps.append(self._unpadded(h, B, T))

        index = logit_index[:, :, None].expand(-1, -1, self.hidden_size)  # [B, K, H]
        picked = torch.gather(self._unpadded(h, B, T), 1, index)  # [B, K, H]
        if self.row_pad:  # the lm_head's rows padded too: [B*K + p, H] -> [B*K + p, V] -> [B, K, V]
            K = logit_index.shape[1]
            logits = self.lm_head(pad_row(self.norm(picked).reshape(B * K, self.hidden_size), self.hidden_size))[: B * K]
            logits = logits.reshape(B, K, self.vocab_size).float()
        else:
            logits = self.lm_head(self.norm(picked)).float()  # [B, K, V]
        if self.arch.final_softcap is not None:
            logits = torch.tanh(logits / self.arch.final_softcap) * self.arch.final_softcap
        # tap_layers is strictly increasing, so layer order is tap order.
        return (logits, torch.cat(taps, dim=-1), *new_kv)  # taps [B, T, n_taps*H]
