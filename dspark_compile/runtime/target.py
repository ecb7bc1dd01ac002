"""The target model as the runtime sees it: one engine, a KV cache, prefill and step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dspark_compile.engine.base import Engine
from dspark_compile.errors import GenerationError
from dspark_compile.runtime.kvcache import KVCache


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

    @classmethod
    def from_manifest(cls, model: dict[str, Any]) -> "ModelInfo":
        return cls(**{**model, "tap_layers": tuple(model["tap_layers"]), "kv_names": tuple(model["kv_names"]),
                      "eos_token_ids": tuple(model["eos_token_ids"])})


@dataclass
class StepOutput:
    logits: np.ndarray  # [B, K, V] float32
    taps: np.ndarray  # [B, T, n_taps*H]
    new_kv: dict[str, np.ndarray]  # new_<kv name>: [T, B, Hkv, D]


class TargetModel:
    """Runs the target engine over a `KVCache`; knows nothing of speculation."""

    def __init__(self, engine: Engine, info: ModelInfo):
        self.engine = engine
        self.info = info

    def new_cache(self, rows: int, capacity: int) -> KVCache:
        if capacity > self.info.max_context:
            raise GenerationError(f"{capacity} tokens per request asked for; this bundle holds at most "
                                  f"{self.info.max_context} (shapes.max_context in the recipe)")
        i = self.info
        return KVCache(list(i.kv_names), capacity, rows, i.num_kv_heads, i.head_dim, i.dtype)

    def step(self, cache: KVCache, tokens: np.ndarray, logit_index: np.ndarray) -> StepOutput:
        """One pass over new tokens [B, T] (right-padded) placed after each row's cached ones.

        Nothing is committed: the caller commits as many new rows per request as it keeps.
        """
        t = tokens.shape[1]
        positions = cache.lengths[:, None] + np.arange(t, dtype=np.int64)[None, :]  # [B, T]
        feeds = {
            "input_ids": np.ascontiguousarray(tokens, dtype=np.int64),
            "positions": positions,
            "past_lengths": cache.lengths.copy(),
            "logit_index": np.ascontiguousarray(logit_index, dtype=np.int64),
            **cache.past(),
        }
        out = self.engine.run(feeds)
        new_kv = {k: v for k, v in out.items() if k.startswith("new_")}
        return StepOutput(logits=out["logits"], taps=out["taps"], new_kv=new_kv)

    def prefill(self, cache: KVCache, prompts: list[np.ndarray], chunk: int) -> np.ndarray:
        """Commit whole prompts (in chunks of `chunk` tokens); return the last prompt token's logits [B, V]."""
        if len(prompts) != cache.rows:
            raise ValueError("one prompt per cache row")
        lengths = np.array([len(p) for p in prompts], dtype=np.int64)  # [B]
        if np.any(lengths == 0):
            raise GenerationError(f"prompt {int(np.argmin(lengths))} is empty: at least one token is needed")
        if np.any(lengths >= cache.room()):
            row = int(np.argmax(lengths >= cache.room()))
            raise GenerationError(f"prompt {row} has {int(lengths[row])} tokens; with the tokens to generate it "
                                  f"exceeds the context of {cache.capacity}")
        last = np.zeros((cache.rows, self.info.vocab_size), dtype=np.float32)  # [B, V]
        for start in range(0, int(lengths.max()), chunk):
            counts = np.clip(lengths - start, 0, chunk)  # [B] tokens of each row in this chunk
            tokens = np.full((cache.rows, int(counts.max())), self.info.pad_token_id, dtype=np.int64)  # [B, T]
            for b, p in enumerate(prompts):
                tokens[b, : counts[b]] = p[start : start + counts[b]]
            index = np.maximum(counts - 1, 0)[:, None]  # [B, 1]
            out = self.step(cache, tokens, index)
            cache.commit(out.new_kv, counts)
            ends_here = (counts > 0) & (start + counts == lengths)
            last[ends_here] = out.logits[ends_here, 0]
        return last
