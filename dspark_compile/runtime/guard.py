"""The cost scheduler's guard rail: a round runs plain, without the drafter pass, when speculating is not
expected to pay.

State (two named quantities, kept for as long as the runtime, across batches and requests):

    acceptance   per sampling mode (greedy / sampled) and draft position k = 1..G: the share of the rows
                 that verified at least k drafts which accepted at least k (decayed tallies of Verify's
                 `accepted`, about the last 20 drafting rounds; before any, the prior `SURVIVAL_PRIOR`, the
                 same one Schedule's budget starts new rows from)
    credit_ms    the probe budget earned by plain rounds since the drafter last ran

Decision rule, for R live rows in mode m (sampled if any row samples), from the cost table (`cost_table.py`):

    E(d)         = Σ_{k≤d} acceptance[m, k]                            expected accepted drafts per row at depth d
    draft        = draft_ms[m](R) + (backlog - 1)·absorb_ms(R)         the drafter pass, its pending backlog priced
    speculating  = max over d of  R·(1 + E(d)) / (draft + verify_ms(R, R·(1 + d)))     tokens per ms
    plain        = R / verify_ms(R, R)

    speculating > plain                        → draft (credit reset)
    backlog ≥ MAX_BACKLOG                      → draft: the pending taps are absorbed (credit reset)
    even E(d) = d (every draft accepted) loses → plain, and no probe: acceptance could not change the answer
    otherwise                                  → plain; credit += PROBE_BUDGET·plain step; once the credit covers
                                                 a probe (draft + the longest verify over a plain step) it
                                                 drafts once (credit reset) to refresh the acceptance

So probing costs at most PROBE_BUDGET of the decode time, and nothing where no acceptance could pay. The
decision reads only past rounds, never this round's draft, so the output is distributed as plain decoding's
whatever it decides (greedy: the same tokens). The guard is pure numpy over a `CostTable`: a simulator can
drive it with any table.
"""

from __future__ import annotations

import numpy as np

from dspark_compile.runtime.cost_table import CostTable
from dspark_compile.runtime.rows import MAX_BACKLOG, SURVIVAL_PRIOR

PROBE_BUDGET = 0.03  # share of the plain decode time that probes may cost while plain wins
DECAY = 0.05  # per drafting round, of the acceptance tallies (about the last 20 rounds count)


class Acceptance:
    """Decayed tallies, per mode (0 greedy, 1 sampled) and draft position, of rows that verified ≥ k drafts
    (`tried`) and of those that accepted ≥ k (`accepted`), starting from one prior observation."""

    def __init__(self, block_size: int):
        self.tried = np.ones((2, block_size))  # [2, G]
        self.accepted = np.full((2, block_size), SURVIVAL_PRIOR)  # [2, G]

    def rates(self, sampled: bool) -> np.ndarray:
        """[G] acceptance per draft position in this mode."""
        return self.accepted[int(sampled)] / self.tried[int(sampled)]

    def add(self, sampled: bool, lengths: np.ndarray, accepted: np.ndarray) -> None:
        """One drafting round's live rows: verified lengths [R], accepted drafts [R]."""
        k = np.arange(1, self.tried.shape[1] + 1)[None, :]  # [1, G]
        m = int(sampled)
        self.tried[m] = (1 - DECAY) * self.tried[m] + (lengths[:, None] >= k).sum(0)
        self.accepted[m] = (1 - DECAY) * self.accepted[m] + ((lengths[:, None] >= k) & (accepted[:, None] >= k)).sum(0)


class Guard:
    """Decides, round by round, whether the drafter runs (see the module docstring)."""

    def __init__(self, cost: CostTable, block_size: int, min_len: int = 0, max_len: int = 32):
        self.cost = cost
        self.block_size = block_size
        lo, hi = min(min_len, block_size), min(max_len, block_size)  # Schedule clamps its depths to these
        self.depths = np.arange(max(lo, 1), hi + 1)  # [D] the drafting depths it may choose
        self.acceptance = Acceptance(block_size)
        self.credit_ms = 0.0

    def drafts(self, rows: int, sampled: bool, backlog: int) -> bool:
        """Whether this round drafts, for `rows` live rows, any of them sampled, the longest pending backlog."""
        if backlog >= MAX_BACKLOG:  # the pending taps must be absorbed (bounded backlog)
            self.credit_ms = 0.0
            return True
        if rows == 0 or self.depths.size == 0:
            return False  # nothing to draft for, or Schedule would verify no draft (max_len 0)
        verify_ms = self.cost.for_rows(rows, self.block_size)  # [R*(G+1)] time for n = 1.. tokens
        draft_ms = self.cost.draft_for_rows(rows, sampled, backlog)
        plain = rows / float(verify_ms[rows - 1])
        if self._speed(rows, self.acceptance.rates(sampled), verify_ms, draft_ms) > plain:
            self.credit_ms = 0.0
            return True
        if self._speed(rows, np.ones(self.block_size), verify_ms, draft_ms) <= plain:
            return False  # even with every draft accepted it would not pay: nothing to probe for
        self.credit_ms += PROBE_BUDGET * float(verify_ms[rows - 1])
        if self.credit_ms < draft_ms + float(verify_ms[-1] - verify_ms[rows - 1]):
            return False
        self.credit_ms = 0.0  # a probe
        return True

    def verified(self, sampled: bool, lengths: np.ndarray, accepted: np.ndarray) -> None:
        """Record a drafting round's live rows: verified lengths [R], accepted drafts [R]."""
        self.acceptance.add(sampled, lengths, accepted)

    def _speed(self, rows: int, rates: np.ndarray, verify_ms: np.ndarray, draft_ms: float) -> float:
        """The best expected tokens per ms of speculating over the allowed depths, acceptance `rates` [G]."""
        expected = np.cumsum(rates)[self.depths - 1]  # [D] E(d)
        ms = draft_ms + verify_ms[rows * (1 + self.depths) - 1]  # [D]
        return float(np.max(rows * (1 + expected) / ms))
