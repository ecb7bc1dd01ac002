"""Verification depth per row: the `Schedule` op over a measured cost table.

The op runs on the host, through its one definition (`ops.reference.schedule`, which the ONNX function
body and the CUDA plugin are checked against bit for bit): the runtime needs neither onnx to build a
one-op graph nor a session to run it, so a runtime-only install (no compile stack) schedules exactly
as a full one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dspark_compile.config import SchedulerConfig
from dspark_compile.errors import GenerationError
from dspark_compile.ops import reference
from dspark_compile.ops.spec import ScheduleMode

_MODES = {"fixed": int(ScheduleMode.FIXED), "survival": int(ScheduleMode.SURVIVAL), "cost": int(ScheduleMode.COST),
          "threshold": int(ScheduleMode.THRESHOLD)}


def schedule_attrs(config: SchedulerConfig) -> dict[str, int | float]:
    """The `Schedule` op's attributes for a scheduler setting (mode "off" never runs the op)."""
    return dict(mode=_MODES[config.mode], fixed_len=config.fixed_len, threshold=config.threshold,
                min_len=config.min_len, max_len=config.max_len)


@dataclass(frozen=True)
class CostTable:
    """Median step times (ms) measured at build, per batch size: the verify pass for 1..G+1 tokens per row
    and, in bundles built since the guard rail, the drafter pass (one block)."""

    batch_sizes: tuple[int, ...]
    tokens_per_row: tuple[int, ...]
    ms: tuple[tuple[float, ...], ...]  # [len(batch_sizes)][len(tokens_per_row)], monotone in both
    engine_sha256: str
    draft_ms: tuple[float, ...] | None = None  # [len(batch_sizes)], monotone; None in older bundles

    @classmethod
    def from_manifest(cls, d: dict[str, Any]) -> "CostTable":
        draft = d.get("draft_ms")
        return cls(tuple(d["batch_sizes"]), tuple(d["tokens_per_row"]), tuple(tuple(r) for r in d["ms"]),
                   d["engine_sha256"], tuple(draft) if draft else None)

    def for_rows(self, rows: int, block_size: int) -> np.ndarray:
        """Step time for n = 1 .. rows*(block_size+1) tokens in a batch of `rows` rows: [N] float32.

        Uses the curve measured at the nearest batch size, interpolated linearly in total tokens.
        """
        i = int(np.argmin([abs(b - rows) for b in self.batch_sizes]))
        b = self.batch_sizes[i]
        n_measured = np.array([b * t for t in self.tokens_per_row], dtype=np.float64) * rows / b
        n = np.arange(1, rows * (block_size + 1) + 1, dtype=np.float64)
        return np.interp(n, n_measured, np.array(self.ms[i])).astype(np.float32)

    def draft_for_rows(self, rows: int) -> float | None:
        """The drafter's step time for `rows` rows, interpolated linearly in batch size (None: not measured)."""
        if self.draft_ms is None:
            return None
        return float(np.interp(rows, self.batch_sizes, self.draft_ms))


class Scheduler:
    """Picks how many drafted tokens each live row verifies this round."""

    def __init__(self, config: SchedulerConfig, block_size: int, cost: CostTable | None = None):
        if config.mode == "cost" and cost is None:
            raise GenerationError("scheduler mode 'cost' needs the bundle's measured cost table; this bundle has "
                                  "none (rebuild it, or choose fixed/threshold/survival)")
        self.config = config
        self.block_size = block_size
        self.cost = cost

    @property
    def speculates(self) -> bool:
        return self.config.mode != "off"

    @property
    def guarded(self) -> bool:
        """Whether a round may skip the drafter when plain decoding is expected to be faster (see guard.py)."""
        return self.config.mode == "cost" and self.config.fallback

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
        """Verify lengths [B] int64 from current survivals [B, G] and survivals two rounds old [B, G]."""
        out = reference.schedule(np.asarray(survivals, dtype=np.float32), **self.feeds(lagged, live),
                                 **schedule_attrs(self.config))
        return out.astype(np.int64)

    def choose(self, draft, lagged: np.ndarray, live: np.ndarray) -> np.ndarray:
        """This round's lengths [B] int64: the drafter graph's own Schedule output when that node was built
        with this scheduler's settings (it was fed `feeds(lagged, live)`), else the op run here."""
        if draft.verify_lengths is not None and draft.schedule == schedule_attrs(self.config):
            return draft.verify_lengths.astype(np.int64)
        return self.lengths(draft.survivals, lagged, live)

    def predict(self, survivals: np.ndarray, live: np.ndarray) -> np.ndarray:
        """The lengths [B] the op would choose if the next draft had these survivals [B, G] (budget and
        allocation both from them): the guard's forecast, before any drafting."""
        return self.lengths(survivals, survivals, live)
