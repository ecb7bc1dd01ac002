"""Per-request sampling settings and the plain (non-speculative) next-token choice."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dspark_compile.errors import GenerationError


MIN_TEMPERATURE = 1e-3
"""The smallest positive temperature: logits / T stays far inside float32 (a denormal T made every
probability NaN and sampled id 0). Below it, ask for greedy (0), which is what such a T means anyway."""
MAX_TEMPERATURE = 100.0
INT32_MAX = 2**31 - 1


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return (_is_int(v) or isinstance(v, (float, np.floating))) and math.isfinite(v)


@dataclass(frozen=True)
class SamplingParams:
    """temperature 0 means greedy (argmax, lowest id on ties); top_k 0 and top_p 1 switch those filters off.

    Checked when made (types included: a request's settings are validated at the door); top_k against the
    vocabulary when the request is submitted."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        t = self.temperature
        if not _is_real(t) or not (t == 0.0 or MIN_TEMPERATURE <= t <= MAX_TEMPERATURE):
            raise GenerationError(f"temperature = {t!r}: must be 0 (greedy) or a number in "
                                  f"[{MIN_TEMPERATURE}, {MAX_TEMPERATURE:g}]")
        if not _is_int(self.top_k) or not (0 <= self.top_k <= INT32_MAX):
            raise GenerationError(f"top_k = {self.top_k!r}: must be an integer in [0, 2^31 - 1] (0 is off)")
        if not _is_real(self.top_p) or not (0.0 < self.top_p <= 1.0):
            raise GenerationError(f"top_p = {self.top_p!r}: must be a number in (0, 1] (1 is off)")
        if not _is_int(self.seed) or not (0 <= self.seed < 2**32):
            raise GenerationError(f"seed = {self.seed!r}: must be an integer in [0, 2^32)")

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
