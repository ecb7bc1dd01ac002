"""The cost scheduler's guard rail: a round runs plain, without the drafter pass, when speculating is not
expected to pay.

Before drafting, the guard forecasts the round from the newest survivals the batch has (those of the last
round that drafted): the depths d_b the `Schedule` op would choose from them, then the expected speed, in
tokens per ms over the B live rows, of

    speculating:  Σ_b (1 + Σ_{k<d_b} s_{b,k}) / (draft_ms(B) + verify_ms(B, Σ_b (1 + d_b)))
    plain:        B / verify_ms(B, B)

The survivals' expected accepted drafts are scaled by how many were actually accepted so far against how
many the survivals promised (`reality`, a running ratio over the rounds that drafted), so a drafter that
is over-confident in the serving mode (its calibration fitted for greedy, the requests sampled; or no
training at all) cannot talk the guard into drafting. When plain is at least as fast, the round skips
the drafter. Every `every`-th such round it drafts anyway
(a probe, to refresh the survivals), `every` doubling from 4 to 64 while plain keeps winning and starting
again at 4 once speculation wins. The decision reads only past rounds, never this round's draft, so the
output is distributed as plain decoding's whatever it decides (greedy: the same tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dspark_compile.runtime.scheduler import Scheduler

PROBE_FIRST, PROBE_MAX = 4, 64
EMA_WEIGHT = 0.3  # of the newest drafter step, when the bundle's cost table has no drafter times
REALITY_DECAY = 0.05  # per drafting round, of the accepted/promised tallies (about the last 20 rounds)
REALITY_MIN_PROMISED = 2.0  # promised drafts before the ratio is trusted


def expected_speeds(survivals: np.ndarray, lengths: np.ndarray, verify_ms: np.ndarray,
                    draft_ms: float, reality: float = 1.0) -> tuple[float, float]:
    """(speculating, plain) expected tokens per ms of R live rows: survivals [R, G] and lengths [R] of the
    live rows, verify_ms [N] the verify step time for n = 1..N tokens in the batch; the survivals'
    expected accepted drafts are scaled by `reality` (accepted / promised so far)."""
    rows = lengths.shape[0]
    verified = np.arange(survivals.shape[1])[None, :] < lengths[:, None]  # [R, G]
    tokens = rows + reality * float(np.sum(survivals, where=verified))  # correction/bonus + accepted drafts
    speculating = tokens / (draft_ms + float(verify_ms[rows + int(lengths.sum()) - 1]))
    return speculating, rows / float(verify_ms[rows - 1])


@dataclass
class Guard:
    """Decides, round by round, whether the drafter runs; lives with the batch across rounds."""

    every: int = PROBE_FIRST  # while plain wins, the drafter still runs every `every`-th round
    waited: int = 0  # rounds decided plain since the drafter last ran
    draft_ema_ms: dict[int, float] = field(default_factory=dict)  # live rows -> drafter step time (ms), EMA
    promised: float = 0.0  # Σ survivals of the drafts verified so far (decayed like an EMA)
    accepted: float = 0.0  # drafts actually accepted among them (same decay)

    def drafts(self, scheduler: Scheduler, survivals: np.ndarray, live: np.ndarray, known: np.ndarray) -> bool:
        """Whether this round drafts. survivals [B, G]: each row's newest survivals; live [B] bool;
        known [B] bool: whether the row has survivals yet (a row that just joined has none: it borrows the
        known rows' mean; with no known row at all, the round drafts)."""
        if not scheduler.guarded:
            return True
        speeds = self._forecast(scheduler, survivals, live, known)
        if speeds is None:  # nothing to forecast from: a probe
            self.waited = 0
            return True
        speculating, plain = speeds
        if speculating > plain:
            self.every, self.waited = PROBE_FIRST, 0
            return True
        self.waited += 1
        if self.waited < self.every:
            return False
        self.every, self.waited = min(2 * self.every, PROBE_MAX), 0
        return True

    def observe(self, rows: int, seconds: float) -> None:
        """Record one drafter pass over `rows` live rows (the estimate for bundles that did not measure it)."""
        ms, old = seconds * 1e3, self.draft_ema_ms.get(rows)
        self.draft_ema_ms[rows] = ms if old is None else (1 - EMA_WEIGHT) * old + EMA_WEIGHT * ms

    def verified(self, survivals: np.ndarray, lengths: np.ndarray, accepted: np.ndarray) -> None:
        """Record a drafting round's live rows: survivals [R, G], verified lengths [R], accepted drafts [R]."""
        verified = np.arange(survivals.shape[1])[None, :] < lengths[:, None]  # [R, G]
        keep = 1.0 - REALITY_DECAY
        self.promised = keep * self.promised + float(np.sum(survivals, where=verified))
        self.accepted = keep * self.accepted + float(accepted.sum())

    @property
    def reality(self) -> float:
        """Accepted / promised drafts so far (1 before anything was verified), at most 1."""
        return min(1.0, self.accepted / self.promised) if self.promised > REALITY_MIN_PROMISED else 1.0

    def _forecast(self, scheduler: Scheduler, survivals: np.ndarray, live: np.ndarray,
                  known: np.ndarray) -> tuple[float, float] | None:
        rows = int(live.sum())
        draft_ms = self._draft_ms(scheduler, rows)
        if rows == 0 or draft_ms is None or not known[live].any():
            return None
        if not known[live].all():  # rows that joined since the last draft: the known rows' mean survivals
            survivals = np.where((live & ~known)[:, None], survivals[live & known].mean(0), survivals)  # [B, G]
        lengths = scheduler.predict(survivals, live)[live]  # [R]
        verify_ms = scheduler.cost.for_rows(rows, scheduler.block_size)  # [R*(G+1)]
        return expected_speeds(survivals[live], lengths, verify_ms, draft_ms, self.reality)

    def _draft_ms(self, scheduler: Scheduler, rows: int) -> float | None:
        """The bundle's measured drafter step for `rows` rows, else the running EMA at the nearest batch size."""
        measured = scheduler.cost.draft_for_rows(rows)
        if measured is not None or not self.draft_ema_ms:
            return measured
        return self.draft_ema_ms[min(self.draft_ema_ms, key=lambda r: abs(r - rows))]
