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
the drafter. While plain wins, probes still draft now and then to refresh the survivals: each plain round earns `PROBE_BUDGET` (3%) of its step time as credit, and a probe
runs when the credit covers its cost (a drafter pass plus the longest verify, over the plain step), so
probing costs at most about 3% of the decode time whatever the load. Rows that joined since the last
draft borrow the other rows' survivals, or the last drafting round's. The decision reads only past rounds,
never this round's draft, so the output is distributed as plain decoding's whatever it decides (greedy:
the same tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dspark_compile.runtime.scheduler import Scheduler

PROBE_BUDGET = 0.03  # share of the plain decode time that probes may cost while plain wins
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


@dataclass(frozen=True)
class Forecast:
    speculating: float  # expected tokens per ms
    plain: float
    plain_ms: float  # one plain step of the live rows
    probe_ms: float  # what a probe costs over a plain step: the drafter pass and the longest verify


@dataclass
class Guard:
    """Decides, round by round, whether the drafter runs; lives with the batch across rounds."""

    credit_ms: float = 0.0  # probe budget earned by plain rounds since the drafter last ran
    prior: np.ndarray | None = None  # [G] mean survivals of the last drafting round (for rows without any)
    draft_ema_ms: dict[int, float] = field(default_factory=dict)  # live rows -> drafter step time (ms), EMA
    promised: float = 0.0  # Σ survivals of the drafts verified so far (decayed like an EMA)
    accepted: float = 0.0  # drafts actually accepted among them (same decay)

    def drafts(self, scheduler: Scheduler, survivals: np.ndarray, live: np.ndarray, known: np.ndarray) -> bool:
        """Whether this round drafts. survivals [B, G]: each row's newest survivals; live [B] bool;
        known [B] bool: whether the row has survivals yet (a row that just joined has none: it borrows the
        known rows' mean, or the last drafting round's; with neither, the round drafts)."""
        if not scheduler.guarded:
            return True
        forecast = self._forecast(scheduler, survivals, live, known)
        if forecast is None or forecast.speculating > forecast.plain:  # nothing to forecast from, or it pays
            self.credit_ms = 0.0
            return True
        self.credit_ms += PROBE_BUDGET * forecast.plain_ms
        if self.credit_ms < forecast.probe_ms:
            return False
        self.credit_ms = 0.0  # a probe
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
        if survivals.shape[0]:
            self.prior = survivals.mean(0)

    @property
    def reality(self) -> float:
        """Accepted / promised drafts so far (1 before anything was verified), at most 1."""
        return min(1.0, self.accepted / self.promised) if self.promised > REALITY_MIN_PROMISED else 1.0

    def _forecast(self, scheduler: Scheduler, survivals: np.ndarray, live: np.ndarray,
                  known: np.ndarray) -> "Forecast | None":
        rows = int(live.sum())
        draft_ms = self._draft_ms(scheduler, rows)
        if rows == 0 or draft_ms is None:
            return None
        if not known[live].all():  # rows that joined since the last draft borrow survivals
            borrowed = survivals[live & known].mean(0) if known[live].any() else self.prior  # [G]
            if borrowed is None:
                return None
            survivals = np.where((live & ~known)[:, None], borrowed, survivals)  # [B, G]
        lengths = scheduler.predict(survivals, live)[live]  # [R]
        verify_ms = scheduler.cost.for_rows(rows, scheduler.block_size)  # [R*(G+1)]
        speculating, plain = expected_speeds(survivals[live], lengths, verify_ms, draft_ms, self.reality)
        return Forecast(speculating, plain, plain_ms=float(verify_ms[rows - 1]),
                        probe_ms=draft_ms + float(verify_ms[-1] - verify_ms[rows - 1]))

    def _draft_ms(self, scheduler: Scheduler, rows: int) -> float | None:
        """The bundle's measured drafter step for `rows` rows, else the running EMA at the nearest batch size."""
        measured = scheduler.cost.draft_for_rows(rows)
        if measured is not None or not self.draft_ema_ms:
            return measured
        return self.draft_ema_ms[min(self.draft_ema_ms, key=lambda r: abs(r - rows))]
