"""Continuous batching: requests join and leave between speculative steps.

Cache rows are laid out [decoding rows | joining group | free]. A joining group's prompts are committed
one chunk per step (so decoding rows never wait for a long prompt), then the group joins the decoding
rows; rows that finish or are cancelled are closed up by moving the last decoding row into the gap.
Requests beyond `max_batch` wait in a queue (never dropped).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dspark_compile.errors import RequestFailed
from dspark_compile.runtime.drafter import DrafterModel
from dspark_compile.runtime.requests import check_request
from dspark_compile.runtime.rows import Pending, Request, RowParams, RowState
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.scheduler import Scheduler
from dspark_compile.runtime.speculative import Batch, emit, speculative_step
from dspark_compile.runtime.target import Prefill, TargetModel

__all__ = ["Batcher", "Generation", "Request", "generate"]


class Batcher:
    """Runs requests through `speculative_step` with rows joining and leaving between steps."""

    def __init__(self, target: TargetModel, drafter: DrafterModel | None, scheduler: Scheduler, max_batch: int,
                 prefill_chunk: int, eos_ids: tuple[int, ...] | None = None,
                 detokenize: Callable[[list[int]], str] | None = None, clock: Callable[[], float] = time.perf_counter):
        self.target, self.drafter, self.scheduler = target, drafter, scheduler
        self.clock = clock  # seconds; the simulator's engines advance a virtual one
        self.max_batch, self.prefill_chunk = max_batch, prefill_chunk
        self.eos = frozenset(target.info.eos_token_ids if eos_ids is None else eos_ids)
        self.detokenize = detokenize
        self.block = drafter.info.block_size if drafter else 0
        self.tcache = target.new_cache(max_batch, 16)
        self.dcache = drafter.new_cache(max_batch, 16) if drafter else None
        self.queue: deque[Request] = deque()
        self.joining: list[Request] = []
        self.prefill: Prefill | None = None
        self.batch = self._empty_batch()
        self.prefill_seconds = 0.0
        self._ids = itertools.count()
        self.t0 = clock()

    # ------------------------------------------------------------------ requests in and out
    def submit(self, prompt: list[int], max_new_tokens: int, sampling: SamplingParams = SamplingParams(),
               stop: tuple[str, ...] = ()) -> Request:
        """Queue a request; it joins the batch when a row is free. Everything is checked here (GenerationError):
        nothing a caller passes can make an engine fail later."""
        info = self.target.info
        prompt, stop = check_request(prompt, max_new_tokens, sampling, stop, info.vocab_size, info.max_context,
                                     self.block, can_stop=self.detokenize is not None)
        req = Request(next(self._ids), prompt, int(max_new_tokens), sampling, stop=stop)
        self.queue.append(req)
        return req

    def cancel(self, req: Request) -> None:
        """Stop a request; its row is freed at the next step."""
        if req.finished:
            return
        if req in self.queue:
            self.queue.remove(req)
        req.finish_reason = "cancelled"  # a decoding or joining row stops with it

    @property
    def rows(self) -> list[Request]:
        """The decoding rows' requests, in cache row order."""
        return self.batch.rows.requests

    @property
    def busy(self) -> bool:
        return bool(self.queue or self.joining or any(not r.finished for r in self.rows))

    # ------------------------------------------------------------------ one step
    def step(self) -> list[Request]:
        """Close finished rows, admit queued requests, prefill one chunk, run one speculative round.
        Returns the requests that received tokens (or finished) in this step."""
        touched: list[Request] = []
        if not self.joining:
            self._close_finished()
            self._admit()
        if self.joining:
            try:
                touched += self._prefill_step()
            except Exception as exc:  # noqa: BLE001 (isolated: only the joining requests are affected)
                touched += self._prefill_failed(exc)
        live = self.batch.rows.live
        if live.any():
            try:
                out_tokens, kept = speculative_step(self.batch, self.drafter, self.scheduler, self.target)
            except Exception as exc:  # noqa: BLE001
                touched += self._fail(np.flatnonzero(live).tolist(), exc)
            else:
                touched += [self.rows[b] for b in emit(self.batch, out_tokens, kept, self._now())]
        touched = list(dict.fromkeys(touched))
        self._check_stop_strings(touched)
        return touched

    def run(self) -> None:
        while self.busy:
            self.step()

    # ------------------------------------------------------------------ internals
    def _now(self) -> float:
        return self.clock() - self.t0

    def _empty_batch(self) -> Batch:
        width = len(self.target.info.tap_layers) * self.target.info.hidden_size
        rows = RowState.start([], np.zeros(0, np.int64), Pending.empty(0, width, self.target.info.dtype), self.block)
        return Batch(rows, target_cache=self.tcache.view(0, 0),
                     draft_cache=self.dcache.view(0, 0) if self.dcache else None, eos=self.eos, clock=self.clock)

    def _prefill_failed(self, exc: Exception) -> list[Request]:
        """A joining group's prefill raised: a lone request fails (its rows were never decoding rows, so they
        are simply not joined); a group goes back to the queue front to be prefilled one by one."""
        group, self.joining, self.prefill = self.joining, [], None
        if len(group) == 1:
            req = group[0]
            if not req.finished:
                req.error = RequestFailed(f"request {req.id} failed in the engine while reading its prompt: "
                                          f"{_one_line(exc)}")
                req.finish_reason = "error"
            return [req]
        for req in reversed(group):
            req.solo = True
            if not req.finished:  # (cancelled while joining: gone)
                self.queue.appendleft(req)
        return []

    def _fail(self, rows: list[int], exc: Exception) -> list[Request]:
        """The decoding rows' round raised. Their inputs were all checked at the door (ids in the vocabulary,
        finite settings), so the failure is the engine's, not one request's: these rows end with the error,
        their cache rows are freed at the next step, and the batcher goes on serving."""
        for i in rows:
            req = self.rows[i]
            req.error = RequestFailed(f"request {req.id} failed in the engine during decoding: {_one_line(exc)}")
            req.finish_reason = "error"
        return [self.rows[i] for i in rows]

    def _admit(self) -> None:
        free = self.max_batch - len(self.rows)
        if not self.queue or free <= 0:
            return
        size = 1 if self.queue[0].solo else sum(1 for _ in itertools.takewhile(lambda r: not r.solo, self.queue))
        group = [self.queue.popleft() for _ in range(min(free, size))]
        need = max(len(r.prompt) + r.max_new_tokens + self.block + 1 for r in group)
        for cache in filter(None, (self.tcache, self.dcache)):
            cache.grow(need)
        lo, hi = len(self.rows), len(self.rows) + len(group)
        for cache in filter(None, (self.tcache, self.dcache)):
            cache.lengths[lo:hi] = 0
        self._refresh_views()
        self.joining = group
        self.prefill = self.target.start_prefill(self.tcache.view(lo, hi), [np.array(r.prompt) for r in group])

    def _prefill_step(self) -> list[Request]:
        lo, hi = len(self.rows), len(self.rows) + len(self.joining)
        params = RowParams.of([r.sampling for r in self.joining], [r.id for r in self.joining])
        t0 = self.clock()
        self.target.prefill_chunk(self.tcache.view(lo, hi), self.prefill, self.prefill_chunk, params,
                                  np.zeros(hi - lo, np.uint32))
        self.prefill_seconds += self.clock() - t0
        if not self.prefill.done:
            return []
        group, pf = self.joining, self.prefill
        self.joining, self.prefill = [], None
        self._join(group, pf)
        first = np.zeros((hi, 1), np.int64)  # [n, 1]: the joiners' first tokens, from the prefill
        first[lo:, 0] = pf.last
        rows = list(range(lo, hi))
        emit(self.batch, first, np.ones(hi, np.int64), self._now(), rows=rows)
        return [self.rows[i] for i in rows]

    def _join(self, group: list[Request], pf: Prefill) -> None:
        self.batch.rows = self.batch.rows.join(RowState.start(group, pf.last, pf.pending, self.block))
        self._refresh_views()

    def _refresh_views(self) -> None:
        n = len(self.rows)
        self.batch.target_cache = self.tcache.view(0, n)
        self.batch.draft_cache = self.dcache.view(0, n) if self.dcache else None

    def _check_stop_strings(self, touched: list[Request]) -> None:
        """End requests whose text now contains a stop string, keeping tokens up to the one completing it."""
        for req in touched:
            if not req.stop or req.finish_reason == "cancelled":
                continue
            text = self.detokenize(req.tokens)
            if not any(s in text for s in req.stop):
                continue
            keep = next(k for k in range(1, len(req.tokens) + 1)
                        if any(s in self.detokenize(req.tokens[:k]) for s in req.stop))
            del req.tokens[keep:]
            req.finish_reason = "stop"

    def _close_finished(self) -> None:
        """Move the last decoding row into each finished row's slot, then shrink the batch."""
        rows = self.batch.rows
        for i in sorted((i for i, r in enumerate(rows.requests) if r.finished), reverse=True):
            last = len(rows.requests) - 1
            if i != last:
                for cache in filter(None, (self.tcache, self.dcache)):
                    cache.move_row(last, i)
                rows.move(last, i)
            rows = rows.take(slice(0, last))
        self.batch.rows = rows
        self._refresh_views()


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:500]}"


@dataclass
class Generation:
    """Requests' results and where the time went (seconds: draft, schedule, verify, host, prefill, total)."""

    rows: list[Request]
    timings: dict[str, float]


def generate(target: TargetModel, drafter: DrafterModel | None, scheduler: Scheduler, prompts: list[list[int]],
             max_new_tokens: int, sampling: list[SamplingParams], prefill_chunk: int = 256,
             eos_ids: tuple[int, ...] | None = None, max_batch: int | None = None,
             stop: tuple[str, ...] = (), detokenize: Callable[[list[int]], str] | None = None) -> Generation:
    """Run all prompts to completion (at most `max_batch` at a time; the rest wait their turn).

    `eos_ids` defaults to the bundle's; () always generates `max_new_tokens` (comparisons, benchmarks).
    """
    batcher = Batcher(target, drafter, scheduler, max_batch or len(prompts), prefill_chunk, eos_ids, detokenize)
    requests = [batcher.submit(p, max_new_tokens, s, stop) for p, s in zip(prompts, sampling)]
    batcher.run()
    failed = next((r for r in requests if r.error is not None), None)
    if failed is not None:
        raise failed.error
    timings = {**batcher.batch.timings, "prefill": batcher.prefill_seconds, "total": batcher._now()}
    return Generation(requests, timings)
