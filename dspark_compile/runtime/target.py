"""The target model as the runtime sees it: one engine, a KV cache, prefill and step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dspark_compile import graph_io as io
from dspark_compile.engine.base import Engine
from dspark_compile.errors import GenerationError
from dspark_compile.runtime.kvcache import KVCache
from dspark_compile.runtime.rows import Pending, RowParams

if TYPE_CHECKING:
    from dspark_compile.runtime.drafter import Draft


@dataclass(frozen=True)
class ModelInfo:
    """Target dimensions and token ids, as recorded in the bundle manifest under `model`."""

    family: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_kv_heads: int
    head_dim: int
    tap_layers: tuple[int, ...]
    kv_names: tuple[str, ...]
    dtype: str
    eos_token_ids: tuple[int, ...]
    pad_token_id: int
    max_context: int
    kv_shapes: tuple[tuple[int, int], ...] | None = None  # per KV tensor where layers differ (Gemma 4)

    @classmethod
    def from_manifest(cls, model: dict[str, Any]) -> "ModelInfo":
        shapes = model.get("kv_shapes")
        return cls(**{**model, "tap_layers": tuple(model["tap_layers"]), "kv_names": tuple(model["kv_names"]),
                      "eos_token_ids": tuple(model["eos_token_ids"]),
                      "kv_shapes": tuple(tuple(x) for x in shapes) if shapes else None})


@dataclass
class StepOutput:
    logits: np.ndarray | None  # [B, K, V] float32 (unfused graph)
    accepted: np.ndarray | None  # [B] int32 (Verify-fused graph)
    out_tokens: np.ndarray | None  # [B, K] int32 (Verify-fused graph)
    taps: np.ndarray  # [B, T, n_taps*H]
    new_kv: dict[str, np.ndarray] | None  # new_<kv name>: [B, Hkv, T, D]; None: written into the cache in place


def verify_feeds(params: RowParams, rounds: np.ndarray, lengths: np.ndarray, draft: Draft | None) -> dict:
    """Verify's inputs for g = max(lengths) drafts per row (g = 0: a plain decode step)."""
    from dspark_compile.ops import rng

    b, g = lengths.shape[0], int(lengths.max(initial=0))
    q_full, vocab = np.zeros((b, g, 1), np.float32), np.zeros(1, np.int32)  # dummies (read by no row)
    if draft is None or g == 0:
        tokens, q = np.zeros((b, 0), np.int32), np.zeros((b, 0), np.float32)
    else:
        tokens, q = draft.sample.draft_tokens[:, :g], np.ascontiguousarray(draft.sample.draft_q[:, :g])  # [B, g]
        # greedy rows never read q_full: the dummies (the ONNX drafter's own all-greedy form) save copying the
        # B*g*Vd one-hot floats that the TensorRT plugin writes
        if not params.all_greedy:
            q_full, vocab = np.ascontiguousarray(draft.sample.q_full[:, :g]), draft.vocab  # [B, g, Vd], [Vd]
    return {
        "draft_tokens": np.ascontiguousarray(tokens, dtype=np.int32), "draft_q": q, "q_full": q_full,
        "draft_vocab": vocab,
        "verify_lengths": lengths.astype(np.int32),
        # [B, 2g+1]; greedy rows never read them (spec.VERIFY), so an all-greedy batch skips the hashing
        "uniforms": np.zeros((b, 2 * g + 1), np.float32) if params.all_greedy
        else rng.verify_uniforms(params.seeds, params.requests, rounds, g),
        **params.feeds(),
    }


class TargetModel:
    """Runs a target engine over a `KVCache`; knows nothing of drafting or scheduling.

    The engine is either the plain graph (`logits` out) or the Verify-fused one (`accepted`,
    `out_tokens` out: full logits never leave the engine).
    """

    def __init__(self, engine: Engine, info: ModelInfo):
        self.engine = engine
        self.info = info
        self.fused = any(o.name == "out_tokens" for o in engine.outputs)
        names = {o.name for o in engine.outputs}
        # the graph's cache writes bound to the cache arrays themselves (export.cache_writes): a step writes its new
        # rows in place, and committing is counting them; otherwise it returns them (new_*) and commit copies
        self.in_place = {io.present(n): io.past(n) for n in info.kv_names} if (
            engine.writes_in_place and all(io.present(n) in names for n in info.kv_names)) else {}
        self._outputs = [o.name for o in engine.outputs if not o.name.startswith(io.PRESENT)
                         and not (self.in_place and o.name.startswith(io.NEW))]

    def new_cache(self, rows: int, capacity: int) -> KVCache:
        if capacity > self.info.max_context:
            raise GenerationError(f"{capacity} tokens per request asked for; this bundle holds at most "
                                  f"{self.info.max_context} (shapes.max_context in the recipe)")
        i = self.info
        return KVCache(list(i.kv_names), capacity, rows, i.num_kv_heads, i.head_dim, i.dtype, i.kv_shapes)

    def step(self, cache: KVCache, tokens: np.ndarray, logit_index: np.ndarray, extra: dict | None = None) -> StepOutput:
        """One pass over new tokens [B, T] (right-padded) placed after each row's cached ones.

        Nothing is committed: the caller commits as many new rows per request as it keeps.
        """
        t = tokens.shape[1]
        positions = cache.lengths[:, None] + np.arange(t, dtype=np.int64)[None, :]  # [B, T]
        feeds = {
            io.INPUT_IDS: np.ascontiguousarray(tokens, dtype=np.int64),
            io.POSITIONS: positions,
            io.PAST_LENGTHS: cache.lengths.copy(),
            io.LOGIT_INDEX: np.ascontiguousarray(logit_index, dtype=np.int64),
            **cache.past(),
            **(extra or {}),
        }
        if self.in_place:
            out = self.engine.run_in_place(feeds, self.in_place, self._outputs)
            new_kv = None  # already in the cache, at rows lengths .. lengths + T
        else:
            out = self.engine.run(feeds, self._outputs)
            new_kv = {k: v for k, v in out.items() if k.startswith(io.NEW)}
        return StepOutput(logits=out.get(io.LOGITS), accepted=out.get("accepted"), out_tokens=out.get("out_tokens"),
                          taps=out[io.TAPS], new_kv=new_kv)

    def verify(self, cache: KVCache, anchor: np.ndarray, draft: Draft | None, lengths: np.ndarray,
               params: RowParams, rounds: np.ndarray) -> StepOutput:
        """One pass over [anchor, d_1 .. d_g] per row (g = max(lengths)), ending in Verify."""
        g = int(lengths.max(initial=0))
        tokens = np.zeros((anchor.shape[0], g + 1), dtype=np.int64)  # [B, g+1]
        tokens[:, 0] = anchor
        if g:
            tokens[:, 1:] = draft.sample.draft_tokens[:, :g]
        index = np.broadcast_to(np.arange(g + 1, dtype=np.int64), tokens.shape)  # [B, g+1] all positions
        return self.step(cache, tokens, index, verify_feeds(params, rounds, lengths, draft))

    def start_prefill(self, cache: KVCache, prompts: list[np.ndarray]) -> "Prefill":
        """Check prompts against the cache rows they will fill; nothing runs yet."""
        if len(prompts) != cache.rows:
            raise ValueError("one prompt per cache row")
        lengths = np.array([len(p) for p in prompts], dtype=np.int64)  # [B]
        if np.any(lengths == 0):
            raise GenerationError(f"prompt {int(np.argmin(lengths))} is empty: at least one token is needed")
        if np.any(lengths >= cache.room()):
            row = int(np.argmax(lengths >= cache.room()))
            raise GenerationError(f"prompt {row} has {int(lengths[row])} tokens; with the tokens to generate it "
                                  f"exceeds the context of {cache.capacity}")
        rows = cache.rows
        last = np.zeros((rows, self.info.vocab_size), np.float32) if not self.fused else np.zeros(rows, np.int64)
        width = len(self.info.tap_layers) * self.info.hidden_size
        return Prefill(prompts, lengths, 0, last, Pending.empty(rows, width, self.info.dtype))

    def prefill_chunk(self, cache: KVCache, pf: "Prefill", chunk: int, params: RowParams | None = None,
                      rounds: np.ndarray | None = None) -> None:
        """Commit the next `chunk` tokens of every prompt of `pf` (rows whose prompt ended add nothing)."""
        rows = cache.rows
        counts = np.clip(pf.lengths - pf.start, 0, chunk)  # [B] tokens of each row in this chunk
        tokens = np.full((rows, int(counts.max())), self.info.pad_token_id, dtype=np.int64)  # [B, T]
        for b, p in enumerate(pf.prompts):
            tokens[b, : counts[b]] = p[pf.start : pf.start + counts[b]]
        index = np.maximum(counts - 1, 0)[:, None]  # [B, 1]
        extra = verify_feeds(params, rounds, np.zeros(rows, np.int64), None) if self.fused else None
        out = self.step(cache, tokens, index, extra)
        cache.commit(out.new_kv, counts)
        pf.pending = pf.pending.extend(out.taps, counts)
        ends_here = (counts > 0) & (pf.start + counts == pf.lengths)
        pf.last[ends_here] = out.logits[ends_here, 0] if not self.fused else out.out_tokens[ends_here, 0]
        pf.start += chunk

    def prefill(self, cache: KVCache, prompts: list[np.ndarray], chunk: int, params: RowParams | None = None,
                rounds: np.ndarray | None = None) -> tuple[np.ndarray, Pending]:
        """Commit whole prompts in chunks of `chunk` tokens.

        Returns, per row, the last prompt token's logits [B, V] (plain graph) or the first generated
        token [B] (fused graph: Verify with no drafts), and the prompts' taps for the drafter.
        """
        pf = self.start_prefill(cache, prompts)
        while not pf.done:
            self.prefill_chunk(cache, pf, chunk, params, rounds)
        return pf.last, pf.pending


@dataclass
class Prefill:
    """Prompts being committed chunk by chunk (so decoding rows need not wait for a long prompt)."""

    prompts: list[np.ndarray]
    lengths: np.ndarray  # [B]
    start: int  # next prompt offset
    last: np.ndarray  # [B, V] logits (plain graph) or [B] first tokens (fused graph), set as prompts end
    pending: Pending  # the prompts' taps so far

    @property
    def done(self) -> bool:
        return self.start >= int(self.lengths.max())
