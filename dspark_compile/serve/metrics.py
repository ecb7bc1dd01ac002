"""Prometheus metrics of a serving engine (the `prometheus-client` library), one registry per server.

Counters and histograms are updated on the engine thread when a job ends; gauges read the engine when
scraped. τ, acceptance per position and the drafted share are ratios of counters, so a scrape sees their value
over the server's life (and `rate()` of the counters gives them over any window).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)


class ServerMetrics:
    """The serving metrics; `bind(engine)` wires the gauges that read the engine's state."""

    def __init__(self, block_size: int):
        self.registry = r = CollectorRegistry()
        self.requests = Counter("dspark_requests", "Requests that ended, by final state and finish reason",
                                ["state", "finish_reason"], registry=r)
        self.rejected = Counter("dspark_requests_rejected", "Requests refused at the door, by HTTP status",
                                ["status"], registry=r)
        self.prompt_tokens = Counter("dspark_prompt_tokens", "Prompt tokens of requests that ended", registry=r)
        self.generated = Counter("dspark_generation_tokens", "Tokens generated", registry=r)
        self.rounds = Counter("dspark_verify_rounds", "Verify rounds (one per row per speculative step)", registry=r)
        self.drafted = Counter("dspark_drafted_rounds", "Verify rounds in which the drafter ran", registry=r)
        self.ttft = Histogram("dspark_time_to_first_token_seconds", "Arrival to first token", registry=r,
                              buckets=LATENCY_BUCKETS)
        self.tpot = Histogram("dspark_time_per_output_token_seconds", "Mean time per token after the first",
                              registry=r, buckets=TOKEN_BUCKETS)
        self.depth = Histogram("dspark_verify_depth", "Drafted tokens verified per round (0: a plain round)",
                               registry=r, buckets=tuple(range(block_size + 1)))
        self.tried = Counter("dspark_draft_position_verified", "Rounds that verified draft position k",
                             ["position"], registry=r)
        self.accepted = Counter("dspark_draft_position_accepted", "Rounds that accepted draft positions 1..k",
                                ["position"], registry=r)
        self.queue_depth = Gauge("dspark_queue_depth", "Requests accepted and waiting for their first token",
                                 registry=r)
        self.occupancy = Gauge("dspark_batch_occupancy", "Requests receiving tokens (batch rows in use)", registry=r)
        self.tau = Gauge("dspark_tau", "Tokens per verify round over the server's life (τ)", registry=r)
        self.drafted_share = Gauge("dspark_drafted_share", "Share of verify rounds that ran the drafter", registry=r)
        self.acceptance = Gauge("dspark_acceptance", "Acceptance rate of draft position k, given it was verified",
                                ["position"], registry=r)
        self._ended_requests = 0
        self._sums = {"tokens": 0, "rounds": 0, "drafted": 0}
        self._per_position = [[0, 0] for _ in range(block_size)]  # [verified, accepted] per position 1..γ

    def bind(self, engine) -> None:
        self.queue_depth.set_function(lambda: engine.queued)
        self.occupancy.set_function(lambda: engine.running)

    def ended(self, job, block_size: int) -> None:
        """Record a job that ended (engine thread)."""
        from dspark_compile.serve.engine import State

        req = job.request
        reason = (req.finish_reason if req is not None else None) or "none"
        self.requests.labels(job.state.value, reason if job.state is State.FINISHED else job.state.value).inc()
        if req is None:
            return
        self.prompt_tokens.inc(len(req.prompt))
        n = len(req.tokens)
        self.generated.inc(n)
        if job.first_token is not None:
            self.ttft.observe(job.first_token - job.arrived)
            if n > 1 and job.ended is not None:
                self.tpot.observe((job.ended - job.first_token) / (n - 1))
        s = req.stats
        self.rounds.inc(s.rounds)
        self.drafted.inc(s.drafted_rounds)
        for v, a in zip(s.verify_lengths, s.accepted):
            self.depth.observe(v)
            for k in range(1, min(v, block_size) + 1):
                self._per_position[k - 1][0] += 1
                self.tried.labels(str(k)).inc()
                if a >= k:
                    self._per_position[k - 1][1] += 1
                    self.accepted.labels(str(k)).inc()
        self._ended_requests += 1 if n else 0
        sums = self._sums
        sums["tokens"] += n
        sums["rounds"] += s.rounds
        sums["drafted"] += s.drafted_rounds
        if sums["rounds"]:
            # τ as `runtime.metrics.summarise` defines it: the prefill's first token is not a round's
            self.tau.set((sums["tokens"] - self._ended_requests) / sums["rounds"])
            self.drafted_share.set(sums["drafted"] / sums["rounds"])
        for k, (tried, ok) in enumerate(self._per_position, start=1):
            if tried:
                self.acceptance.labels(str(k)).set(ok / tried)

    def scrape(self) -> bytes:
        return generate_latest(self.registry)
