"""Per-row state of a batch in flight: sampling settings, counters, caches' companions, outputs."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from dspark_compile.runtime.sampling import SamplingParams


@dataclass
class RowParams:
    """The fused ops' per-row inputs, as arrays over the batch."""

    temperature: np.ndarray  # [B] float32, 0 = greedy
    top_k: np.ndarray  # [B] int32, 0 = off
    top_p: np.ndarray  # [B] float32, 1 = off
    seeds: np.ndarray  # [B] uint32
    requests: np.ndarray  # [B] uint32, request ids (a counter of the RNG)

    @classmethod
    def of(cls, sampling: list[SamplingParams], request_ids: list[int]) -> "RowParams":
        return cls(
            temperature=np.array([s.temperature for s in sampling], dtype=np.float32),
            top_k=np.array([s.top_k for s in sampling], dtype=np.int32),
            top_p=np.array([s.top_p for s in sampling], dtype=np.float32),
            seeds=np.array([s.seed for s in sampling], dtype=np.uint32),
            requests=np.array(request_ids, dtype=np.uint32),
        )

    @property
    def all_greedy(self) -> bool:
        return bool(np.all(self.temperature <= 0))

    def feeds(self) -> dict[str, np.ndarray]:
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p}

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Every per-row array, in field order (for joining, moving and dropping rows)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def concat(self, other: "RowParams") -> "RowParams":
        return RowParams(*(np.concatenate([x, y]) for x, y in zip(self.arrays(), other.arrays())))

    def rows(self, index) -> "RowParams":
        return RowParams(*(a[index] for a in self.arrays()))


@dataclass
class Pending:
    """Target taps of positions the drafter has not seen yet: [B, Δ, n_taps*H] with valid counts [B]."""

    taps: np.ndarray
    counts: np.ndarray  # [B] int64

    @classmethod
    def empty(cls, rows: int, width: int, dtype) -> "Pending":
        return cls(np.zeros((rows, 0, width), dtype=dtype), np.zeros(rows, dtype=np.int64))

    def extend(self, taps: np.ndarray, counts: np.ndarray) -> "Pending":
        """Append the first counts[b] rows of taps [B, T, W] to each row (chunked prefill)."""
        width = int((self.counts + counts).max(initial=0))
        out = np.zeros((taps.shape[0], width, taps.shape[2]), dtype=taps.dtype)  # [B, Δ', W]
        for b in range(taps.shape[0]):
            c0, c1 = int(self.counts[b]), int(counts[b])
            out[b, :c0] = self.taps[b, :c0]
            out[b, c0:c0 + c1] = taps[b, :c1]
        return Pending(out, self.counts + counts)


@dataclass
class RowStats:
    """What one request went through; aggregated by `metrics.summarise`."""

    rounds: int = 0
    drafted_rounds: int = 0  # rounds in which the drafter ran (the cost scheduler's guard may skip it)
    accepted: list[int] = field(default_factory=list)  # accepted drafts per round
    verify_lengths: list[int] = field(default_factory=list)
    time_to_first_token: float = 0.0
    seconds: float = 0.0
