"""Plain autoregressive decoding over the target engine: the baseline speculation must equal and beat."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dspark_compile.runtime.sampling import SamplingParams, next_tokens
from dspark_compile.runtime.target import TargetModel


@dataclass
class Decoded:
    """One request's result: generated ids, why it stopped, and its timings."""

    tokens: list[int] = field(default_factory=list)
    finish_reason: str = "length"  # "eos" | "length"
    time_to_first_token: float = 0.0
    seconds: float = 0.0


def decode_autoregressive(target: TargetModel, prompts: list[list[int]], max_new_tokens: int,
                          sampling: list[SamplingParams], prefill_chunk: int = 256,
                          eos_ids: tuple[int, ...] | None = None,
                          request_ids: list[int] | None = None) -> list[Decoded]:
    """Generate up to `max_new_tokens` per prompt, all prompts as one batch; rows stop at EOS.

    `eos_ids` defaults to the bundle's; pass () to always generate `max_new_tokens` (benchmarks).
    """
    b = len(prompts)
    request_ids = request_ids if request_ids is not None else list(range(b))
    eos = np.array(target.info.eos_token_ids if eos_ids is None else eos_ids, dtype=np.int64)
    capacity = max(len(p) for p in prompts) + max_new_tokens
    cache = target.new_cache(b, capacity)
    results = [Decoded() for _ in range(b)]
    live = np.ones(b, dtype=bool)  # [B]
    t0 = time.perf_counter()
    logits, _ = target.prefill(cache, [np.asarray(p, dtype=np.int64) for p in prompts], prefill_chunk)  # [B, V]
    for step in range(max_new_tokens):
        chosen = next_tokens(logits, sampling, request_ids, step)  # [B]
        now = time.perf_counter() - t0
        for r in np.flatnonzero(live):
            res = results[r]
            res.tokens.append(int(chosen[r]))
            if step == 0:
                res.time_to_first_token = now
            if chosen[r] in eos:
                res.finish_reason, live[r] = "eos", False
            elif len(res.tokens) == max_new_tokens:
                live[r] = False
            if not live[r]:
                res.seconds = now
        if not live.any():
            break
        out = target.step(cache, chosen[:, None].astype(np.int64), np.zeros((b, 1), dtype=np.int64))
        cache.commit(out.new_kv, live.astype(np.int64))  # finished rows keep their cache as it is
        logits = out.logits[:, 0]  # [B, V]
    return results
