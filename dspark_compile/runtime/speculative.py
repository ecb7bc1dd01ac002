"""Speculative decoding: the step (draft → schedule → verify → accept → commit) over a batch of rows.

The step knows no backend: it talks to a drafter, a scheduler and a target, each of which wraps an
engine. With the scheduler off it is plain autoregressive decoding through the same fused graph; in cost
mode the guard (`guard.Guard`) may run a round that way too, when drafting is not expected to pay.
The loop around it, with requests joining and leaving, is `batcher.Batcher`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from dspark_compile.runtime.drafter import DrafterModel
from dspark_compile.runtime.guard import Guard
from dspark_compile.runtime.kvcache import KVCache
from dspark_compile.runtime.rows import Pending, RowParams, RowStats
from dspark_compile.runtime.scheduler import Scheduler
from dspark_compile.runtime.target import TargetModel


@dataclass
class Batch:
    """Everything that lives across rounds for the rows decoding together."""

    target_cache: KVCache
    draft_cache: KVCache | None
    pending: Pending  # target taps the drafter has not absorbed yet (of several rounds if it skipped some)
    anchor: np.ndarray  # [B] int64, last emitted token (not yet in the target cache)
    params: RowParams
    rounds: np.ndarray  # [B] uint32, RNG round counter per row
    live: np.ndarray  # [B] bool
    lag: list[np.ndarray]  # survivals of the last two rounds that drafted, oldest first, each [B, G]
    limits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [B] max new tokens per row
    eos: frozenset[int] = frozenset()
    tokens: list[list[int]] = field(default_factory=list)  # emitted tokens per row
    reasons: list[str] = field(default_factory=list)  # "length" until a row stops otherwise
    stats: list[RowStats] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("draft", "schedule", "verify", "host"), 0.0))
    guard: Guard = field(default_factory=Guard)


def speculative_step(batch: Batch, drafter: DrafterModel | None, scheduler: Scheduler, target: TargetModel):
    """One round for every row: returns (out_tokens [B, g+1], kept [B]) where row b emitted
    out_tokens[b, :kept[b]] (its accepted drafts, then the correction or bonus token)."""
    clock = _Clock(batch.timings)
    draft = None
    lengths = np.zeros(batch.live.shape[0], dtype=np.int64)  # [B] drafts each row verifies
    speculating = scheduler.speculates and drafter is not None
    with clock("schedule"):
        drafting = speculating and _drafts(batch, scheduler)
    if drafting:
        with clock("draft"):
            draft = drafter.draft(batch.draft_cache, batch.pending, batch.anchor, batch.params, batch.rounds,
                                  schedule=scheduler.feeds(batch.lag[0], batch.live))
        batch.guard.observe(int(batch.live.sum()), clock.last)
        with clock("schedule"):
            # The budget sees only survivals two rounds old (lossless, paper App. A); allocation the current ones.
            # The drafter graph's Schedule node chose them already (fed lag[0]) when built with these settings.
            lengths = scheduler.choose(draft, batch.lag[0], batch.live)
            batch.lag = [batch.lag[1], draft.survivals]
    with clock("verify"):
        out = target.verify(batch.target_cache, batch.anchor, draft, lengths, batch.params, batch.rounds)
    with clock("host"):
        if drafting:
            batch.guard.verified(draft.survivals[batch.live], lengths[batch.live], out.accepted[batch.live])
        kept = np.where(batch.live, out.accepted.astype(np.int64) + 1, 0)  # [B] anchor + accepted drafts
        batch.target_cache.commit(out.new_kv, kept)  # rejected slots: only not counted (overwritten later)
        # the drafter absorbs these positions the next round it runs; until then they accumulate
        skipped = speculating and not drafting
        batch.pending = batch.pending.extend(out.taps, kept) if skipped else Pending(out.taps, kept)
        batch.anchor = np.where(batch.live, out.out_tokens[np.arange(kept.shape[0]), out.accepted], batch.anchor)
        batch.rounds = batch.rounds + batch.live.astype(np.uint32)
        for b in np.flatnonzero(batch.live):
            batch.stats[b].rounds += 1
            batch.stats[b].drafted_rounds += int(drafting)
            batch.stats[b].accepted.append(int(out.accepted[b]))
            batch.stats[b].verify_lengths.append(int(lengths[b]))
    return out.out_tokens, kept


def _drafts(batch: Batch, scheduler: Scheduler) -> bool:
    """Whether this round runs the drafter: the guard's call, from the newest survivals [B, G] of each row."""
    known = np.array([s.drafted_rounds > 0 for s in batch.stats], dtype=bool)  # [B] rows that have survivals
    return batch.guard.drafts(scheduler, batch.lag[1], batch.live, known)


class _Clock:
    """`with clock("verify"):` adds the block's wall time to timings["verify"] (and keeps it in `last`)."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.last = 0.0

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        yield
        self.last = time.perf_counter() - t0
        self.timings[name] += self.last


def emit(batch: Batch, out_tokens: np.ndarray, kept: np.ndarray, now: float, rows=None) -> list[int]:
    """Hand each live row (of `rows`, default all) its new tokens, cut at EOS or its length limit (the
    row then stops). Returns the rows that received tokens."""
    touched = []
    for b in np.flatnonzero(batch.live) if rows is None else [r for r in rows if batch.live[r]]:
        row, stats = batch.tokens[b], batch.stats[b]
        if not row:
            stats.time_to_first_token = now
        touched.append(int(b))
        for tok in out_tokens[b, : kept[b]].tolist():
            row.append(tok)
            if tok in batch.eos or len(row) >= batch.limits[b]:
                batch.reasons[b] = "eos" if tok in batch.eos else "length"
                batch.live[b] = False
                stats.seconds = now
                break
    return touched
