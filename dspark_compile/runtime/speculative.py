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
from typing import Callable

import numpy as np

from dspark_compile.runtime.drafter import DrafterModel
from dspark_compile.runtime.kvcache import KVCache
from dspark_compile.runtime.rows import Pending, RowState
from dspark_compile.runtime.scheduler import Scheduler
from dspark_compile.runtime.target import TargetModel


@dataclass
class Batch:
    """The rows decoding together (`RowState`, per row) and what they share."""

    rows: RowState
    target_cache: KVCache  # a view of the batcher's cache: the rows' positions
    draft_cache: KVCache | None
    eos: frozenset[int] = frozenset()
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("draft", "schedule", "verify", "host"), 0.0))
    clock: Callable[[], float] = time.perf_counter  # seconds (the simulator's engines advance a virtual one)


def speculative_step(batch: Batch, drafter: DrafterModel | None, scheduler: Scheduler, target: TargetModel):
    """One round for every row: returns (out_tokens [B, g+1], kept [B]) where row b emitted
    out_tokens[b, :kept[b]] (its accepted drafts, then the correction or bonus token)."""
    clock = _Clock(batch.timings, batch.clock)
    start = batch.clock()
    rows = batch.rows
    live = rows.live  # [B] bool
    draft = None
    lengths = np.zeros(live.shape[0], dtype=np.int64)  # [B] drafts each row verifies
    speculating = scheduler.speculates and drafter is not None
    with clock("schedule"):  # the guard's call, from past rounds only
        drafting = speculating and scheduler.drafts(rows.params, live, rows.pending.backlog(live), rows.left())
    if drafting:
        with clock("draft"):
            draft = drafter.draft(batch.draft_cache, rows.pending, rows.anchor, rows.params, rows.rounds,
                                  schedule=scheduler.feeds(rows.lagged_survivals, live), slots=scheduler.slots())
        with clock("schedule"):
            # The budget sees only survivals two rounds old (lossless, paper App. A); allocation the current ones.
            # The drafter graph's Schedule node chose them already (fed them) when built with these settings.
            lengths = scheduler.choose(draft, rows.lagged_survivals, live)
            rows.lagged_survivals, rows.survivals = rows.survivals, _whole_block(draft.sample.survivals, rows.survivals)
    with clock("verify"):
        out = target.verify(batch.target_cache, rows.anchor, draft, lengths, rows.params, rows.rounds)
    with clock("host"):
        kept = np.where(live, out.accepted.astype(np.int64) + 1, 0)  # [B] anchor + accepted drafts
        batch.target_cache.commit(out.new_kv, kept)  # rejected slots: only not counted (overwritten later)
        # the drafter absorbs these positions the next round it runs; until then they accumulate
        skipped = speculating and not drafting
        rows.pending = rows.pending.extend(out.taps, kept) if skipped else Pending(out.taps, kept)
        rows.anchor = np.where(live, out.out_tokens[np.arange(kept.shape[0]), out.accepted], rows.anchor)
        rows.rounds = rows.rounds + live.astype(np.uint32)
        for b in np.flatnonzero(live):
            stats = rows.requests[b].stats
            stats.rounds += 1
            stats.drafted_rounds += int(drafting)
            stats.accepted.append(int(out.accepted[b]))
            stats.verify_lengths.append(int(lengths[b]))
    # the guard learns from the round's outcome and what it took (the next round's decision reads it)
    scheduler.record(rows.params, live, drafting, lengths, out.accepted, batch.clock() - start)
    return out.out_tokens, kept


def _whole_block(survivals: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Survivals [B, S] of the S slots drafted as [B, G] (`like`'s width): 0 for the slots not drafted."""
    if survivals.shape[1] == like.shape[1]:
        return survivals
    out = np.zeros(like.shape, np.float32)
    out[:, : survivals.shape[1]] = survivals
    return out


class _Clock:
    """`with clock("verify"):` adds the block's wall time to timings["verify"]."""

    def __init__(self, timings: dict[str, float], now: Callable[[], float]):
        self.timings = timings
        self.now = now

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = self.now()
        yield
        self.timings[name] += self.now() - t0


def emit(batch: Batch, out_tokens: np.ndarray, kept: np.ndarray, now: float, rows=None) -> list[int]:
    """Hand each live row (of `rows`, default all) its new tokens, cut at EOS or its length limit (the
    row's request then finishes). Returns the rows that received tokens."""
    touched = []
    requests, live = batch.rows.requests, batch.rows.live
    for b in np.flatnonzero(live) if rows is None else [r for r in rows if live[r]]:
        req = requests[b]
        if not req.tokens:
            req.stats.time_to_first_token = now
        touched.append(int(b))
        for tok in out_tokens[b, : kept[b]].tolist():
            req.tokens.append(tok)
            if tok in batch.eos or len(req.tokens) >= req.max_new_tokens:
                req.finish_reason = "eos" if tok in batch.eos else "length"
                req.stats.seconds = now
                break
    return touched
