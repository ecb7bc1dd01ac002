"""Per-row state of a batch in flight, with its join / move / take operations derived from the fields.

A `Rows` dataclass holds nothing but per-row values: numpy arrays with the rows on axis 0, lists with one
item per row, and nested `Rows`. Joining two batches, moving a row into a gap and keeping a subset of rows
are written once here, for every field, so a field added later is carried by all three without a second
edit (tests/runtime/test_rows.py adds one and checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from dspark_compile.errors import RequestFailed
from dspark_compile.runtime.sampling import SamplingParams

MAX_BACKLOG = 128
"""Most target positions a row may keep waiting for the drafter while rounds skip it (`Pending`); at this
many the next round drafts (absorbs them), so the backlog's memory and the drafter pass that absorbs it stay
bounded. The guard prices the backlog with the cost table's `absorb_ms`."""

SURVIVAL_PRIOR = 1.0
"""What a row that has not been drafted for yet is assumed to have: its lagged survivals (Schedule's budget)
and, batch-wide, the guard's acceptance before any verify round (`guard.Acceptance`)."""


def _join(a: Any, b: Any) -> Any:
    if isinstance(a, Rows):
        return a.join(b)
    if isinstance(a, list):
        return a + b
    shape = np.maximum(a.shape, b.shape)  # ragged trailing axes (a backlog of taps) are zero-padded
    pad = lambda x: np.pad(x, [(0, 0)] + [(0, int(s - n)) for s, n in zip(shape[1:], x.shape[1:])])  # noqa: E731
    return np.concatenate([pad(a), pad(b)])


def _take(a: Any, index: slice) -> Any:
    return a.take(index) if isinstance(a, Rows) else a[index]


def _move(a: Any, src: int, dst: int) -> None:
    if isinstance(a, Rows):
        a.move(src, dst)
    else:
        a[dst] = a[src]


class Rows:
    """Base of dataclasses whose every field is per-row (see the module docstring)."""

    def join(self, other: "Rows") -> "Rows":
        """This batch's rows, then `other`'s."""
        return type(self)(**{f.name: _join(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)})

    def take(self, index: slice) -> "Rows":
        """The rows of `index` (a slice)."""
        return type(self)(**{f.name: _take(getattr(self, f.name), index) for f in fields(self)})

    def move(self, src: int, dst: int) -> None:
        """Row `dst` becomes a copy of row `src` (closing the gap a finished row leaves), in place."""
        for f in fields(self):
            _move(getattr(self, f.name), src, dst)


@dataclass
class RowParams(Rows):
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


@dataclass
class Pending(Rows):
    """Target taps of positions the drafter has not seen yet, counts[b] valid per row.

    The taps live in a buffer with room to spare, so appending a round's taps writes only those
    (amortised O(1) per position, not a copy of the whole backlog each round)."""

    buffer: np.ndarray  # [B, capacity, n_taps*H]; positions past counts[b] are zeros or stale
    counts: np.ndarray  # [B] int64

    @classmethod
    def empty(cls, rows: int, width: int, dtype) -> "Pending":
        return cls(np.zeros((rows, 0, width), dtype=dtype), np.zeros(rows, dtype=np.int64))

    @property
    def taps(self) -> np.ndarray:
        """[B, Δ, n_taps*H] with Δ = the longest backlog: the drafter's `ctx_taps`."""
        width = int(self.counts.max(initial=0))
        return self.buffer if width == self.buffer.shape[1] else np.ascontiguousarray(self.buffer[:, :width])

    def backlog(self, live: np.ndarray) -> int:
        """The longest backlog among the rows where live [B] is set (0 when none is)."""
        return int(self.counts[live].max(initial=0))

    def extend(self, taps: np.ndarray, counts: np.ndarray) -> "Pending":
        """Append the first counts[b] rows of taps [B, T, W] to each row (in place when there is room)."""
        need = int((self.counts + counts).max(initial=0))
        if need > self.buffer.shape[1]:  # grow geometrically: each position is copied O(1) times overall
            room = max(need, 2 * self.buffer.shape[1])
            grown = np.zeros((taps.shape[0], room, taps.shape[2]), dtype=taps.dtype)  # [B, capacity', W]
            grown[:, : self.buffer.shape[1]] = self.buffer
            self.buffer = grown
        for b in np.flatnonzero(counts):
            c0, c1 = int(self.counts[b]), int(counts[b])
            self.buffer[b, c0:c0 + c1] = taps[b, :c1]
        self.counts = self.counts + counts
        return self


@dataclass
class RowStats:
    """What one request went through; aggregated by `metrics.summarise` (metrics only: nothing decides on it)."""

    rounds: int = 0
    drafted_rounds: int = 0  # rounds in which the drafter ran (the cost scheduler's guard may skip it)
    accepted: list[int] = field(default_factory=list)  # accepted drafts per round
    verify_lengths: list[int] = field(default_factory=list)
    time_to_first_token: float = 0.0
    seconds: float = 0.0


@dataclass(eq=False)
class Request:
    """One generation request and what it has produced so far: the one owner of its tokens and of whether,
    and why, it finished (a batch row is live exactly while its request's `finish_reason` is None)."""

    id: int
    prompt: list[int]
    max_new_tokens: int
    sampling: SamplingParams
    tokens: list[int] = field(default_factory=list)
    stats: RowStats = field(default_factory=RowStats)
    finish_reason: str | None = None  # "eos" | "length" | "stop" | "cancelled" | "error" once finished
    stop: tuple[str, ...] = ()
    """Stop strings: the request ends at the first token whose text completes one of them."""
    error: RequestFailed | None = None
    """Why the request failed inside an engine (finish_reason "error"); the other requests went on."""
    solo: bool = False
    """Prefill alone: its group's prefill failed, so each member is retried by itself to find the culprit."""

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


@dataclass
class RowState(Rows):
    """Everything per row that lives across rounds, in cache row order."""

    requests: list[Request]  # tokens, limits, finish reason and stats of each row
    anchor: np.ndarray  # [B] int64, last emitted token (not yet in the target cache)
    rounds: np.ndarray  # [B] uint32, RNG round counter per row
    params: RowParams
    pending: Pending  # target taps the drafter has not absorbed yet (of several rounds if it skipped some)
    survivals: np.ndarray  # [B, G] float32, of the last round that drafted
    lagged_survivals: np.ndarray  # [B, G] float32, of the drafting round before: Schedule's budget reads these

    @classmethod
    def start(cls, requests: list[Request], anchor: np.ndarray, pending: Pending, block_size: int) -> "RowState":
        """Rows for requests whose prompts are committed: `anchor` [n] their first tokens, `pending` the
        prompts' taps; no survivals yet (the prior)."""
        n = len(requests)
        prior = np.full((n, block_size), SURVIVAL_PRIOR, np.float32)  # [n, G]
        return cls(requests=list(requests), anchor=anchor.astype(np.int64), rounds=np.ones(n, np.uint32),
                   params=RowParams.of([r.sampling for r in requests], [r.id for r in requests]),
                   pending=pending, survivals=prior, lagged_survivals=prior.copy())

    @property
    def live(self) -> np.ndarray:
        """[B] bool: the rows whose request has not finished."""
        return np.array([r.finish_reason is None for r in self.requests], dtype=bool)

    def left(self) -> np.ndarray:
        """[B] int64: the tokens each row's request may still make."""
        return np.array([r.max_new_tokens - len(r.tokens) for r in self.requests], dtype=np.int64)
