"""Closed-loop load on one continuous batcher: C clients, each submitting its next prompt as soon as its
previous request finishes, until each has had `per_client` requests served."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dspark_compile.runtime.rows import RowStats


@dataclass
class Served:
    """One finished request, timed from its submission (wall clock, seconds)."""

    prompt: int  # index into the prompt list
    tokens: list[int]
    ttft: float  # submission -> first token
    latency: float  # submission -> last token
    stats: RowStats


@dataclass
class LoadRun:
    """One closed-loop run of one arm at one concurrency level."""

    served: list[Served]
    wall: float  # first submission -> last token
    # (survival of slot k, whether slots 1..k were all accepted) for every verified slot: [N] each
    survivals: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    outcomes: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    timings: dict[str, float] = field(default_factory=dict)  # seconds in draft, schedule, verify, host, prefill
    # acceptance trace: one (prompt, verified length, accepted drafts, survivals [G]) per drafted row-round
    drafts: list[tuple[int, int, int, list[float]]] = field(default_factory=list)
    # per decoding step: (rows in the verify pass, tokens per row, verify s, draft s, prefill s, whole step s)
    steps: list[tuple[int, int, float, float, float, float]] = field(default_factory=list)


def schedule(clients: int, per_client: int, n_prompts: int) -> list[list[int]]:
    """Prompt indices per client: client c's k-th request gets prompt (c + k·clients) mod n, the same for
    every arm at a level, so arms are compared on the same requests."""
    return [[(c + k * clients) % n_prompts for k in range(per_client)] for c in range(clients)]


class SurvivalLog:
    """The drafter as the batcher sees it, keeping the last round's survivals [B, G] (a copy of a small
    output the step already has), so calibration needs no extra pass."""

    def __init__(self, drafter):
        self.inner = drafter
        self.info = drafter.info
        self.last: np.ndarray | None = None

    def new_cache(self, rows: int, capacity: int):
        return self.inner.new_cache(rows, capacity)

    def draft(self, *args, **kwargs):
        out = self.inner.draft(*args, **kwargs)
        self.last = out.sample.survivals.copy()  # [B, G]
        return out


def closed_loop(batcher, log: SurvivalLog | None, prompts: list[list[int]], plan: list[list[int]],
                new_tokens: int, sampling, clock=time.perf_counter) -> LoadRun:
    """Drive `batcher` with one client per entry of `plan` (its prompt indices, in order).

    `log` must be the drafter the batcher was built with (or None). The batcher must ignore EOS and
    keep time with the same `clock` (the simulator's is virtual).
    """
    queues = [list(p) for p in plan]
    owner: dict[int, tuple[int, int, float]] = {}  # request id -> (client, prompt index, submission time)
    served: list[Served] = []
    pairs_s, pairs_ok = [], []
    drafts, steps = [], []

    def submit(client: int) -> None:
        if queues[client]:
            i = queues[client].pop(0)
            owner[batcher.submit(prompts[i], new_tokens, sampling).id] = (client, i, clock())

    t_start = clock()
    for c in range(len(queues)):
        submit(c)
    while batcher.busy:
        rounds = {r.id: r.stats.rounds for r in batcher.rows}  # rows joining in this step start at 0
        if log is not None:
            log.last = None
        spent, prefilled, t_step = dict(batcher.batch.timings), batcher.prefill_seconds, clock()
        touched = batcher.step()
        stepped = [(b, req) for b, req in enumerate(batcher.rows) if req.stats.rounds > rounds.get(req.id, 0)]
        if stepped:
            timed = {k: batcher.batch.timings[k] - spent.get(k, 0.0) for k in ("verify", "draft")}
            steps.append((len(batcher.rows), max(req.stats.verify_lengths[-1] for _, req in stepped) + 1,
                          timed["verify"], timed["draft"], batcher.prefill_seconds - prefilled, clock() - t_step))
        if log is not None and log.last is not None:
            for b, req in stepped:
                v, a = req.stats.verify_lengths[-1], req.stats.accepted[-1]
                pairs_s.extend(log.last[b, :v].tolist())
                pairs_ok.extend(k < a for k in range(v))
                drafts.append((owner[req.id][1], v, a, [round(x, 4) for x in log.last[b].tolist()]))
        for req in touched:
            if req.finished:
                client, prompt, submitted = owner.pop(req.id)
                t0 = batcher.t0  # the batcher's clock starts at its creation
                served.append(Served(prompt, list(req.tokens), t0 + req.stats.time_to_first_token - submitted,
                                     t0 + req.stats.seconds - submitted, req.stats))
                submit(client)
    wall = clock() - t_start
    assert len(served) == sum(len(p) for p in plan), "every planned request is served"
    timings = {**batcher.batch.timings, "prefill": batcher.prefill_seconds}
    return LoadRun(served, wall, np.array(pairs_s, np.float32), np.array(pairs_ok, bool), timings, drafts, steps)
