"""Whether a round drafts and how many drafted tokens each row verifies: the `Schedule` op over the measured
cost table, and in cost mode the guard (`guard.py`) in front of it.

The op runs on the host, through its one definition (`ops.reference.schedule`, which the ONNX function
body and the CUDA plugin are checked against bit for bit): the runtime needs neither onnx to build a
one-op graph nor a session to run it, so a runtime-only install (no compile stack) schedules exactly
as a full one.
"""

from __future__ import annotations

import numpy as np

from dspark_compile.config import SchedulerConfig
from dspark_compile.errors import GenerationError
from dspark_compile.ops import reference
from dspark_compile.ops.spec import ScheduleMode
from dspark_compile.runtime.cost_table import CostTable
from dspark_compile.runtime.guard import Guard
from dspark_compile.runtime.rows import RowParams


def schedule_attrs(config: SchedulerConfig) -> dict[str, int | float]:
    """The `Schedule` op's attributes for a scheduler setting (mode "off" never runs the op)."""
    return dict(mode=int(ScheduleMode[config.mode.upper()]), fixed_len=config.fixed_len,
                threshold=config.threshold, min_len=config.min_len, max_len=config.max_len)


def _sampled(params: RowParams, live: np.ndarray) -> bool:
    """Whether the round serves sampled requests (any live row samples): the guard's mode."""
    return bool(np.any(params.temperature[live] > 0))


class Scheduler:
    """Picks, round by round, whether the drafter runs and how many drafts each live row verifies. In cost
    mode with the fallback on it owns the guard, whose state lasts as long as the scheduler (a `Runtime`
    keeps one scheduler per setting)."""

    def __init__(self, config: SchedulerConfig, block_size: int, cost: CostTable | None = None):
        if config.mode == "cost" and cost is None:
            raise GenerationError("scheduler mode 'cost' needs the bundle's measured cost table; this bundle has "
                                  "none (rebuild it, or choose fixed/threshold/survival)")
        self.config = config
        self.block_size = block_size
        self.cost = cost
        self.guard = Guard(cost, block_size, config.min_len, config.max_len) if self.guarded else None

    @property
    def speculates(self) -> bool:
        return self.config.mode != "off"

    @property
    def guarded(self) -> bool:
        """Whether a round may skip the drafter when plain decoding is expected to be faster (see guard.py)."""
        return self.config.mode == "cost" and self.config.fallback

    def drafts(self, params: RowParams, live: np.ndarray, backlog: int, left: np.ndarray | None = None) -> bool:
        """Whether this round runs the drafter (always, unless the guard says plain is faster), for the rows
        where live [B] is set, the longest pending backlog among them and the tokens each row has left [B]."""
        if self.guard is None:
            return self.speculates
        left = np.zeros(0, np.int64) if left is None else left[live]
        in_step = int(left[0]) if left.size > 1 and np.all(left == left[0]) else 0
        return self.guard.drafts(int(live.sum()), _sampled(params, live), backlog, in_step)

    def slots(self) -> int:
        """How many slots of the block this round's drafter pass drafts: no more than a row can verify. Fixed
        mode verifies fixed_len; in cost mode the guard's depth caps every row (`choose`), set by this round's
        `drafts`; otherwise Schedule may allow up to max_len."""
        g, c = self.block_size, self.config
        if c.mode == "fixed":
            cap = c.fixed_len
        elif self.guard is not None:
            cap = self.guard.depth
        else:
            cap = c.max_len
        return max(1, min(cap, g))

    def record(self, params: RowParams, live: np.ndarray, drafted: bool, lengths: np.ndarray, accepted: np.ndarray,
               seconds: float) -> None:
        """A round's outcome, for the guard: whether it drafted, verified lengths [B], accepted drafts [B] (of the
        live rows [B]) and the round's wall time."""
        if self.guard is not None:
            self.guard.record(_sampled(params, live), drafted, lengths[live], accepted[live], seconds * 1e3)

    def feeds(self, lagged: np.ndarray, live: np.ndarray) -> dict[str, np.ndarray]:
        """Schedule's inputs besides the current survivals: survivals two drafting rounds old [B, G], the
        cost table [N] of the live rows (ones outside cost mode) and active [B] int32."""
        rows = lagged.shape[0]
        n_live = max(int(live.sum()), 1)
        table = self.cost.for_rows(n_live, self.block_size) if self.cost else np.ones(rows * (self.block_size + 1),
                                                                                      np.float32)
        return {"lagged_survivals": np.ascontiguousarray(lagged, dtype=np.float32), "cost_table": table,
                "active": live.astype(np.int32)}

    def lengths(self, survivals: np.ndarray, lagged: np.ndarray, live: np.ndarray) -> np.ndarray:
        """Verify lengths [B] int64 from current survivals [B, S] of the S slots drafted and survivals two rounds
        old [B, G] (their first S, as the drafter graph's Schedule node reads them)."""
        lagged = np.asarray(lagged)[:, : survivals.shape[1]]
        out = reference.schedule(np.asarray(survivals, dtype=np.float32), **self.feeds(lagged, live),
                                 **schedule_attrs(self.config))
        return out.astype(np.int64)

    def choose(self, draft, lagged: np.ndarray, live: np.ndarray) -> np.ndarray:
        """This round's lengths [B] int64: the drafter graph's own Schedule output when that node was built
        with this scheduler's settings (it was fed `feeds(lagged, live)`), else the op run here; in cost mode
        with the guard, at most the guard's depth (decided from past rounds only, so still lossless)."""
        if draft.verify_lengths is not None and draft.schedule == schedule_attrs(self.config):
            lengths = draft.verify_lengths.astype(np.int64)
        else:
            lengths = self.lengths(draft.sample.survivals, lagged, live)
        return lengths if self.guard is None else np.minimum(lengths, self.guard.depth)
