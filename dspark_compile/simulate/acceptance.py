"""Where a simulated draft's survivals and acceptance come from: a recorded trace, or a stated profile."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dspark_compile.simulate.engine import AcceptanceSource
from dspark_compile.simulate.trace import SimulateError, Trace


class Recorded(AcceptanceSource):
    """Rounds of a real run that verified the whole block, drawn uniformly (with replacement) from those of
    the row's own prompt (all prompts' when it has none), per sampling mode."""

    def __init__(self, trace: Trace, modes: tuple[str, ...]):
        self.block = trace.block_size
        self.pools = {m: trace.full_rounds(m) for m in modes}  # mode -> prompt -> [n, G+1]
        self.everything = {m: np.concatenate(list(p.values())) for m, p in self.pools.items()}

    def draw(self, prompts, sampled, rng):
        g = self.block
        out = np.empty((prompts.shape[0], g + 1))
        for b, (p, s) in enumerate(zip(prompts.tolist(), sampled.tolist())):
            mode = "sampled" if s else "greedy"
            if mode not in self.pools:
                raise SimulateError(f"the trace has no {mode} rounds; record it with --modes {mode}")
            pool = self.pools[mode].get(p, self.everything[mode])
            out[b] = pool[rng.integers(len(pool))]
        return out[:, :g], out[:, g].astype(np.int64)


@dataclass
class Profile(AcceptanceSource):
    """A synthetic drafter: each row-round has one per-slot acceptance rate c ~ Beta(κ·m, κ·(1-m)); slot k is
    accepted with probability c given slots < k were (so drafts are accepted up to the first failure), and
    the drafter knows c exactly: survivals s_k = c^k (perfectly calibrated; the paper's calibrated ECE is ~1%).

    `mean` m is solved so that the mean tokens per round with the whole block verified, E[1 + Σ_k c^k],
    equals `tau`; κ sets how much rounds differ (the room a per-row scheduler has to pick rows). Text is
    easier or harder for stretches, so a request keeps its c from one round to the next with probability
    `persistence` (else draws a new one; the distribution of c stays the same)."""

    tau: float
    block_size: int
    concentration: float = 4.0
    persistence: float = 0.8
    name: str = "synthetic"
    _current: dict = field(default_factory=dict, repr=False)  # prompt -> its request's current c

    @property
    def mean(self) -> float:
        lo, hi = 1e-4, 1 - 1e-4
        for _ in range(30):  # E[τ] grows with m
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.expected_tau(mid) < self.tau else (lo, mid)
        return (lo + hi) / 2

    def expected_tau(self, m: float) -> float:
        c = self._sample(m)[:, None]  # [n, 1]
        return float(np.mean(1 + np.sum(c ** np.arange(1, self.block_size + 1), axis=1)))

    def _sample(self, m: float, n: int = 20_000) -> np.ndarray:
        """A fixed-seed sample of c ~ Beta(κm, κ(1-m)) (the same for every m: the search is smooth)."""
        k = self.concentration
        return np.random.default_rng(0).beta(k * m, k * (1 - m), size=n)

    def __post_init__(self):
        if not 1 <= self.tau <= self.block_size + 1:
            raise SimulateError(f"profile τ = {self.tau}: must lie in [1, {self.block_size + 1}] for γ = {self.block_size}")
        if self.concentration <= 0:
            raise SimulateError(f"profile concentration = {self.concentration}: must be > 0")
        if not 0 <= self.persistence <= 1:
            raise SimulateError(f"profile persistence = {self.persistence}: must be in [0, 1]")
        self._m = self.mean

    def reset(self) -> None:
        self._current.clear()

    def draw(self, prompts, sampled, rng):
        m, k, g = self._m, self.concentration, self.block_size
        fresh = rng.beta(k * m, k * (1 - m), size=prompts.shape[0])  # [B]
        keep = rng.random(prompts.shape[0]) < self.persistence  # [B]
        c = np.array([self._current[p] if kp and p in self._current else f
                      for p, kp, f in zip(prompts.tolist(), keep.tolist(), fresh.tolist())])  # [B]
        self._current.update(zip(prompts.tolist(), c.tolist()))
        survivals = c[:, None] ** np.arange(1, g + 1)[None, :]  # [B, G]
        ok = rng.random((prompts.shape[0], g)) < c[:, None]  # [B, G] slot accepted given its prefix was
        would = np.cumprod(ok, axis=1).sum(axis=1)  # [B] drafts up to the first failure
        return survivals, would.astype(np.int64)

    def per_slot(self) -> list[float]:
        """Expected P(drafts 1..k accepted), k = 1..G (what `bench` reports as acceptance per position)."""
        c = self._sample(self._m)
        return [round(float(np.mean(c**k)), 4) for k in range(1, self.block_size + 1)]


# Published τ (tokens per round, bonus included; γ = 7, temperature 1, no scheduler) of DSpark's Qwen3-8B
# drafter (the paper, via /work/shared/reference/dspark-algorithm.md §7).
PAPER_TAU = {"paper-mtbench": 3.72, "paper-alpaca": 3.58, "paper-humaneval": 5.52, "paper-gsm8k": 6.17}
