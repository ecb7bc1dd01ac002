"""The cost scheduler's guard rail: a round runs plain, without the drafter pass, when speculating is not
expected to pay.

State (kept for as long as the runtime, across batches and requests; per batch-size bucket b = the cost
table's nearest measured batch size):

    acceptance   per sampling mode (greedy / sampled) and draft position k = 1..G: the share of the rows
                 that verified at least k drafts which accepted at least k (decayed tallies of Verify's
                 `accepted`, about the last 20 drafting rounds; before any, the prior `SURVIVAL_PRIOR`, the
                 same one Schedule's budget starts new rows from), capped by the share at k - 1
    slowdown     per arm (plain / drafting) and bucket: measured round time over its cost-table price
                 (decayed, about the last 10 rounds; 1 before any). The table is measured on bare engine
                 calls at build; served rounds also pay the host's work and the machine as it is now. Until a
                 drafting round has been timed in a bucket, drafting is priced with plain's slowdown there: the
                 table's bias as the served rounds show it (pricing drafting at the bare table while plain pays
                 its measured 1.23x made the guard draft at 8 clients on Gemma 3 270M, where it loses).
                 Drafting rounds teach it only when they absorb what one round kept (at most G+1 positions
                 per row): what absorbing a longer backlog (a joining prompt, skipped rounds) adds keeps the
                 table's absorb_ms price.
    realized     per mode, bucket and depth cap d: tokens per row per ms that drafting rounds capped at d
                 actually delivered, with the depths Schedule actually chose (decayed more slowly than the
                 acceptance, about the last 50 such rounds: what one request's hard stretch delivers is not what
                 drafting delivers). Per depth: the first rounds draft deep (the prior accepts everything), and
                 what they delivered said nothing of the depth the guard picks once acceptance is learned; pooled,
                 SmolLM2's one-client greedy rounds kept reading them and drafted in 2% of the rounds
    credit_ms    the probe budget earned by plain rounds since the drafter last ran, less what the last probe
                 lost beyond its estimate
    refresh_ms   the same budget earned by drafting rounds since the last plain round: it buys a plain round
                 now and then, so plain's slowdown is measured as the machine is now, not as it was when
                 drafting last lost

Decision rule, for R live rows in mode m (sampled if any row samples), from the cost table (`cost_table.py`):

    E(d)         = Σ_{k≤d} acceptance[m, k]                            expected accepted drafts per row at depth d
    draft(d)     = draft_ms[m](R, d slots) + (backlog - 1)·absorb_ms(R)   the drafter pass drafting d slots (the
                                                                       most a row verifies), its backlog priced
    modelled     = max over d of R·(1 + E(d)) / (slowdown[draft]·(draft(d) + verify_ms(R, R·(1 + d))))  tokens/ms
    speculating  = R·realized[m, depth]  once ≥ MIN_REALIZED drafting rounds at that depth were seen in this
                   bucket and mode, else modelled
    plain        = R / (slowdown[plain]·verify_ms(R, R))
    bar          = plain·(1 + MARGIN), R ≥ 2; plain at one row          what drafting must beat (see MARGIN)
    depth        = the d at which modelled peaks: a drafting round verifies at most this many drafts per row
                   (Schedule allocates within it), so the round costs no more than the model priced; the
                   rows are padded to the longest, and one deep row would make every row pay its depth

    backlog ≥ MAX_BACKLOG                      → draft: the pending taps are absorbed (credit reset)
    R ≥ 2 rows in step, n tokens left each     → draft only if speculating > bar and drafting saves more over the
                                                 n tokens, n·R·(1/plain - 1/speculating), than R - 1 one-row
                                                 steps cost (the one-row prefill passes of the prompts that join
                                                 rows no longer finishing together); no probe, no refresh
    speculating > bar                          → draft (credit reset; refresh_ms += PROBE_BUDGET·its measured
                                                 ms); once refresh_ms covers a plain round's expected loss,
                                                 that round runs plain (refresh_ms reset) and measures plain
    even E(d) = d (every draft accepted) ≤ bar → plain, and no probe: acceptance could not change the answer
    otherwise                                  → plain; credit += PROBE_BUDGET·plain step; once the credit covers
                                                 a probe's expected loss it drafts once (credit reset) to refresh
                                                 acceptance and realized

    a plain round's expected loss = R/plain - R/speculating: what the R tokens it delivers cost beyond drafting.
    a probe's expected loss = probe_ms·(1 - speculating/bar), probe_ms = the drafter pass + the verify at
    `depth`: the time a probe takes less the time plain decoding would take for the tokens it is expected
    to deliver (plain priced at the bar). Where speculating is estimated just below the bar a probe costs little
    and runs often, so a stretch of rejected drafts does not keep the guard plain for the rest of a run; far
    below, it runs rarely.
    Once the probe has run, its measured loss (its wall time less the plain rounds' time for the tokens it
    delivered) is charged: what it lost beyond the estimate is left as a debt on the credit, so the next probe
    waits longer (the estimate reads past rounds, which may have been easier than this one).

So probing costs at most about PROBE_BUDGET of the decode time (as measured), and nothing where no
acceptance could pay; refreshing the plain side costs as much where drafting wins. The decision reads only
past rounds (their outcomes and wall times), never this round's draft, so the output is distributed as plain
decoding's whatever it decides (greedy: the same tokens). The guard is pure numpy over a `CostTable`: a
simulator can drive it with any table and a virtual clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dspark_compile.runtime.cost_table import CostTable
from dspark_compile.runtime.rows import MAX_BACKLOG, SURVIVAL_PRIOR

PROBE_BUDGET = 0.01  # share of the plain decode time that probes may cost while plain wins
DECAY = 0.05  # per drafting round, of the acceptance tallies (about the last 20 rounds count)
RATE_DECAY = 0.02  # per drafting round, of the realized rate's tallies (about the last 50 rounds count)
TIME_DECAY = 0.1  # per round, of the measured slowdowns (about the last 10 rounds count)
MIN_REALIZED = 8  # drafting rounds in a bucket and mode before their realized rate replaces the model's
# drafting must beat plain by this share. What a round's price does not see costs about this much where drafting
# breaks even (Gemma 3 270M, 4 and 8 clients, bench time shares): drafting puts rows out of step, so the prompts
# that join pay one-row prefill passes instead of sharing one (prefill 9.7% of the time vs plain's 6.6% at 4
# clients, 11.6% vs 8.8% at 8), and the rows' finishing times spread (at 8 clients 0.98x plain per user, 0.87x
# in total: the last client finishes late)
MARGIN = 0.05
# One row has none of these costs (no other row to fall out of step with, no join to share), so at one row the bar
# is plain itself: with the 5% margin there, SmolLM2's q4 cost arm drafted in 3% of its one-client rounds and ran at
# plain's speed while drafting one slot every round ran 1.08x plain (greedy; sampled 1.12x; bench of ac3af0d).
# Rows in step (the same number of tokens left, e.g. a batch of prompts started together with one budget) finish
# in the same round, and the prompts that replace them share one prefill pass. One drafting round puts them out
# of step for good (each row accepts its own number of drafts): hence the in-step rule of `_decide`. On Gemma 3
# 270M at 4 clients sampled, a guard that drafted 3% of its rounds (its probes) lost 5% of the total throughput.


class Acceptance:
    """Decayed tallies, per mode (0 greedy, 1 sampled) and draft position, of rows that verified ≥ k drafts
    (`tried`) and of those that accepted ≥ k (`accepted`), starting from one prior observation."""

    def __init__(self, block_size: int):
        self.tried = np.ones((2, block_size))  # [2, G]
        self.accepted = np.full((2, block_size), SURVIVAL_PRIOR)  # [2, G]

    def rates(self, sampled: bool) -> np.ndarray:
        """[G] acceptance per draft position in this mode, non-increasing: a row accepts k drafts only if it
        accepted k - 1. Rows verify the depths Schedule allots, often short, so deep positions are tried less
        and keep more of the prior; read alone, their tallies rose with the position (SmolLM2 at one client:
        0.08, 0.14, 0.32, ...), the model's best depth stayed the whole block, and the guard probed only there."""
        m = int(sampled)
        return np.minimum.accumulate(self.accepted[m] / self.tried[m])

    def add(self, sampled: bool, lengths: np.ndarray, accepted: np.ndarray) -> None:
        """One drafting round's live rows: verified lengths [R], accepted drafts [R]."""
        k = np.arange(1, self.tried.shape[1] + 1)[None, :]  # [1, G]
        m = int(sampled)
        self.tried[m] = (1 - DECAY) * self.tried[m] + (lengths[:, None] >= k).sum(0)
        self.accepted[m] = (1 - DECAY) * self.accepted[m] + ((lengths[:, None] >= k) & (accepted[:, None] >= k)).sum(0)


class RoundTimes:
    """What served rounds cost, per batch-size bucket [S]: `slowdown` [2 arms, S] (measured round ms over the
    table's price; arm 0 plain, 1 drafting) and the realized rate of drafting rounds per mode and depth cap
    [2, S, G+1] (decayed tokens per row over decayed ms; `drafted` counts the rounds behind it)."""

    def __init__(self, buckets: int, block_size: int):
        self.slowdown = np.ones((2, buckets))  # [arm, S]
        self.timed = np.zeros((2, buckets))  # [arm, S] rounds seen (capped: only the start matters)
        self.tokens = np.zeros((2, buckets, block_size + 1))  # [mode, S, depth] decayed tokens per row
        self.ms = np.zeros((2, buckets, block_size + 1))  # [mode, S, depth] decayed ms of the same rounds
        self.drafted = np.zeros((2, buckets, block_size + 1), dtype=np.int64)  # [mode, S, depth]

    def add(self, arm: int, bucket: int, ms: float, price_ms: float) -> None:
        """A round's measured wall time against its price: the first replaces the prior, later ones decay in."""
        timed, slow = float(self.timed[arm, bucket]), float(self.slowdown[arm, bucket])  # scalars: numpy's
        w = max(TIME_DECAY, 1.0 / (timed + 1))  # element arithmetic costs µs a round, the same result
        self.slowdown[arm, bucket] = slow + w * (ms / max(price_ms, 1e-9) - slow)
        self.timed[arm, bucket] = min(timed + 1, 1 / TIME_DECAY)

    def add_drafting(self, sampled: bool, bucket: int, depth: int, tokens_per_row: float, ms: float) -> None:
        i = (int(sampled), bucket, depth)
        self.tokens[i] = (1 - RATE_DECAY) * float(self.tokens[i]) + tokens_per_row
        self.ms[i] = (1 - RATE_DECAY) * float(self.ms[i]) + ms
        self.drafted[i] += 1

    def realized(self, sampled: bool, bucket: int, depth: int) -> float | None:
        """Tokens per row per ms of drafting rounds here capped at `depth`, or None before MIN_REALIZED of them."""
        i = (int(sampled), bucket, depth)
        return float(self.tokens[i] / self.ms[i]) if self.drafted[i] >= MIN_REALIZED else None


class Guard:
    """Decides, round by round, whether the drafter runs, and learns from each round's outcome and wall time
    (see the module docstring)."""

    def __init__(self, cost: CostTable, block_size: int, min_len: int = 0, max_len: int = 32):
        self.cost = cost
        self.block_size = block_size
        lo, hi = min(min_len, block_size), min(max_len, block_size)  # Schedule clamps its depths to these
        self.depths = np.arange(max(lo, 1), hi + 1)  # [D] the drafting depths it may choose
        self.acceptance = Acceptance(block_size)
        self.times = RoundTimes(len(cost.batch_sizes), block_size)
        self.credit_ms = 0.0
        self.refresh_ms = 0.0
        self._draft_price = 0.0  # the table's price of the drafter pass, as of the last decision
        self._backlog = 1  # the longest pending backlog, as of the last decision
        self._probe_loss = None  # ms a probe decided this round is expected to lose (None: not a probe)
        self.depth = block_size  # the most drafts a row verifies in a drafting round: the modelled best depth
        self._memo: dict[tuple[int, bool, int], _Prices] = {}  # the table's prices, per (rows, sampled, backlog)

    def drafts(self, rows: int, sampled: bool, backlog: int, in_step: int = 0) -> bool:
        """Whether this round drafts, for `rows` live rows, any of them sampled, the longest pending backlog;
        `in_step`: the tokens every row still has to make when all have the same number left (0 otherwise)."""
        # every slot; _decide prices the depth it picks instead (a pass drafts only the slots a row can verify)
        self._draft_price = self.cost.draft_for_rows(max(rows, 1), sampled, backlog)
        self._backlog = backlog
        self._probe_loss = None
        drafting = self._decide(rows, sampled, backlog, in_step)
        if drafting:
            self.credit_ms = 0.0
        return drafting

    def _decide(self, rows: int, sampled: bool, backlog: int, in_step: int = 0) -> bool:
        if rows == 0 or self.depths.size == 0:
            return backlog >= MAX_BACKLOG  # nothing to draft for, or Schedule would verify no draft (max_len 0)
        p = self._prices(rows, sampled, backlog)
        slow_plain, slow_draft = float(self.times.slowdown[0, p.bucket]), float(self.times.slowdown[1, p.bucket])
        if not self.times.timed[1, p.bucket]:  # no drafting round timed here yet: the bias plain's rounds show
            slow_draft = slow_plain
        plain = rows / (slow_plain * p.plain_ms)  # tokens per ms
        modelled = self._speeds(rows, self.acceptance.rates(sampled), slow_draft, p)  # [D]
        best = int(np.argmax(modelled))
        self.depth, self._draft_price = int(self.depths[best]), float(p.draft_ms[best])
        if backlog >= MAX_BACKLOG:  # the pending taps must be absorbed (bounded backlog)
            return True
        realized = self.times.realized(sampled, p.bucket, self.depth)
        speculating = float(modelled[best]) if realized is None else rows * realized  # tokens per ms
        bar = plain * (1 + MARGIN) if rows > 1 else plain  # what drafting must beat (see MARGIN)
        if in_step and rows > 1:  # rows that finish together: drafting would put them out of step for good
            apart_ms = (rows - 1) * self._prices(1, sampled, 1).plain_ms  # one-row prefills
            return speculating > bar and in_step * rows * (1 / plain - 1 / speculating) > apart_ms
        if speculating > bar:
            if self.refresh_ms >= rows / plain - rows / speculating:  # a plain round, at its expected loss
                self.refresh_ms = 0.0
                return False
            return True
        self.refresh_ms = 0.0
        if self._speeds(rows, np.ones(self.block_size), slow_draft, p).max() <= bar:
            return False  # even with every draft accepted it would not pay: nothing to probe for
        self.credit_ms += PROBE_BUDGET * rows / plain
        probe_ms = slow_draft * float(p.round_ms[best])
        loss = probe_ms * (1 - speculating / bar)
        if self.credit_ms >= loss - 1e-9:  # a probe, at its expected loss
            self._probe_loss = loss
            return True
        return False

    def _prices(self, rows: int, sampled: bool, backlog: int) -> "_Prices":
        """The cost table's prices for `rows` rows in one mode with one backlog, read once (asked every round)."""
        key = (rows, sampled, backlog)
        if key not in self._memo:
            verify_ms = self.cost.for_rows(rows, self.block_size)  # [R*(G+1)] time for n = 1.. tokens
            draft_ms = np.array([self.cost.draft_for_rows(rows, sampled, backlog, int(d)) for d in self.depths])
            round_ms = draft_ms + verify_ms[rows * (1 + self.depths) - 1]  # [D] a drafting round at depth d
            self._memo[key] = _Prices(self.cost.nearest(rows), float(verify_ms[rows - 1]), draft_ms, round_ms)
        return self._memo[key]

    def record(self, sampled: bool, drafted: bool, lengths: np.ndarray, accepted: np.ndarray,
               ms: float | None) -> None:
        """A round's outcome for its live rows: whether it drafted, verified lengths [R] (0 in a plain round),
        accepted drafts [R], and its wall time in ms (None: learn the acceptance only)."""
        rows = lengths.shape[0]
        if rows == 0:
            return
        if drafted:
            self.acceptance.add(sampled, lengths, accepted)
        if ms is None:
            return
        bucket = self.cost.nearest(rows)
        verify_ms = self.cost.for_rows(rows, self.block_size)
        kept = float(np.mean(accepted + 1)) if drafted else 1.0  # tokens per row the round delivered
        if drafted and self._probe_loss is not None:  # a probe: its loss beyond the estimate is owed
            plain_ms = float(self.times.slowdown[0, bucket]) * float(verify_ms[rows - 1])  # a plain round, as measured
            lost = ms - kept * plain_ms
            self.credit_ms -= max(lost - self._probe_loss, 0.0)
        price = float(verify_ms[rows * (1 + int(lengths.max())) - 1])  # the rows are padded to the longest
        if not drafted or self._backlog <= self.block_size + 1:  # a longer backlog (a prompt, skipped rounds) keeps
            # its table price: a drafting round after a drafting round absorbs at most the G+1 tokens it kept
            self.times.add(int(drafted), bucket, ms, price + self._draft_price * drafted)
        if drafted:
            self.refresh_ms += PROBE_BUDGET * ms  # what a plain round to re-measure plain may cost
            self.times.add_drafting(sampled, bucket, self.depth, kept, ms)

    def _speeds(self, rows: int, rates: np.ndarray, slowdown: float, prices: "_Prices") -> np.ndarray:
        """[D] expected tokens per ms of speculating at each allowed depth d (every row verifying d drafts, the
        drafter drafting d slots), acceptance `rates` [G], at table prices × the drafting rounds' slowdown."""
        expected = np.cumsum(rates)[self.depths - 1]  # [D] E(d)
        return rows * (1 + expected) / (slowdown * prices.round_ms)


@dataclass(frozen=True)
class _Prices:
    """The cost table read for R rows in one mode with one backlog (`Guard._prices`)."""

    bucket: int  # the nearest measured batch size's index
    plain_ms: float  # a plain round: R tokens, one per row
    draft_ms: np.ndarray  # [D] the drafter pass drafting d slots, the backlog absorbed
    round_ms: np.ndarray  # [D] a drafting round at depth d: the drafter pass + the verify of R·(1 + d) tokens
