"""Per-request sampling settings and the plain (non-speculative) next-token choice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dspark_compile.errors import GenerationError


@dataclass(frozen=True)
class SamplingParams:
    """temperature 0 means greedy (argmax, lowest id on ties); top_k 0 and top_p 1 switch those filters off."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.temperature >= 0.0):
            raise GenerationError(f"temperature = {self.temperature}: must be >= 0 (0 is greedy)")
        if self.top_k < 0:
            raise GenerationError(f"top_k = {self.top_k}: must be >= 0 (0 is off)")
        if not (0.0 < self.top_p <= 1.0):
            raise GenerationError(f"top_p = {self.top_p}: must be in (0, 1] (1 is off)")
        if not (0 <= self.seed < 2**32):
            raise GenerationError(f"seed = {self.seed}: must be in [0, 2^32)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def next_tokens(logits: np.ndarray, sampling: list[SamplingParams], request_ids: list[int], round_: int) -> np.ndarray:
    """Choose one token per row from logits [B, V]: argmax for greedy rows; otherwise the filtered
    distribution (the ops' one definition) sampled by inverse CDF. Plain decoding draws each token as
    the bonus draw of its round (counter-based stream BONUS), so runs are reproducible per seed."""
    out = logits.argmax(axis=-1).astype(np.int64)  # [B]; numpy's argmax takes the lowest index on ties
    rows = [b for b, s in enumerate(sampling) if not s.greedy]
    if rows:
        from dspark_compile.ops import reference, rng

        for b in rows:
            s = sampling[b]
            probs = reference.filter_probs(logits[b], s.temperature, s.top_k, s.top_p)  # [V]
            u = float(rng.uniform(s.seed, request_ids[b], round_, rng.BONUS, 0))
            out[b] = reference.sample_index(probs, u)
    return out
