"""Metrics of a generation, per request and aggregated: τ, acceptance, verify lengths, time split, speed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from dspark_compile.runtime.rows import RowStats


def summarise(tokens: list[list[int]], stats: list[RowStats], timings: dict[str, float], block_size: int) -> dict[str, Any]:
    """Aggregate metrics over a batch's requests (see the README for definitions)."""
    emitted = sum(len(t) for t in tokens)
    rounds = sum(s.rounds for s in stats)
    drafted = sum(s.drafted_rounds for s in stats)
    lengths = [v for s in stats for v in s.verify_lengths]
    accepted = [a for s in stats for a in s.accepted]
    per_position = []
    for k in range(1, block_size + 1):
        tried = sum(1 for v in lengths if v >= k)
        per_position.append(round(sum(1 for v, a in zip(lengths, accepted) if v >= k and a >= k) / tried, 4)
                            if tried else None)
    total = timings.get("total", 0.0)
    tpot = [(s.seconds - s.time_to_first_token) / (len(t) - 1) for t, s in zip(tokens, stats) if len(t) > 1]
    return {
        "requests": len(tokens),
        "tokens": emitted,
        "rounds": rounds,
        # τ: tokens emitted per verify round, the bonus/correction included (the prefill's token excluded)
        "tau": round((emitted - len(tokens)) / rounds, 4) if rounds else None,
        # share of rounds that ran the drafter (below 1: the cost scheduler's guard decoded plainly)
        "drafted_share": round(drafted / rounds, 4) if rounds else None,
        "acceptance_per_position": per_position,
        "mean_verify_length": round(float(np.mean(lengths)), 4) if lengths else 0.0,
        "verify_length_histogram": {int(k): v for k, v in sorted(Counter(lengths).items())},
        "time_split_s": {k: round(v, 4) for k, v in timings.items()},
        "tokens_per_s": round(emitted / total, 2) if total else None,
        "time_to_first_token_s": round(float(np.mean([s.time_to_first_token for s in stats])), 4),
        "time_per_output_token_s": round(float(np.mean(tpot)), 5) if tpot else None,
    }
