"""The cost scheduler's guard rail: rounds fall back to plain decoding when drafting does not pay, probes
keep the acceptance fresh, and the output stays lossless (pending target taps survive skipped rounds)."""

import itertools
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from dspark_compile.config import SchedulerConfig
from dspark_compile.runtime.autoregressive import decode_autoregressive
from dspark_compile.runtime.batcher import Batcher
from dspark_compile.runtime.cost_table import MODES, CostTable
from dspark_compile.runtime.guard import MARGIN, MIN_REALIZED, PROBE_BUDGET, Guard
from dspark_compile.runtime.rows import MAX_BACKLOG
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.scheduler import Scheduler, schedule_attrs

G = 4
GREEDY = SamplingParams()
PROMPTS = ["The cat", "Once upon a time, in a land far away,", "x", "1, 2, 3, 4, 5,", "Hello, world. Hello"]
COST = SchedulerConfig(mode="cost")


def _table(draft_ms: float, sizes=(1, 2, 4), verify_ms: float = 1.0, absorb_ms: float = 0.0,
           sampled_ms: float | None = None) -> CostTable:
    """A flat verify cost (verifying more is free) and a drafter step of `draft_ms` (`sampled_ms` in sampled mode)."""
    tokens = tuple(range(1, G + 2))
    same = lambda v: tuple(v for _ in sizes)  # noqa: E731
    return CostTable(sizes, tokens, tuple(same(verify_ms)[:1] * len(tokens) for _ in sizes),
                     {"greedy": same(draft_ms), "sampled": same(draft_ms if sampled_ms is None else sampled_ms)},
                     same(absorb_ms), "sha", "sha")


def _decide(guard: Guard, n: int, rows: int = 2, sampled: bool = False, backlog: int = 1) -> list[bool]:
    return [guard.drafts(rows, sampled, backlog) for _ in range(n)]


def _untimed(monkeypatch) -> None:
    """The guard learns from rounds without their wall time: its decisions follow the (patched) table alone."""
    record = Guard.record
    monkeypatch.setattr(Guard, "record", lambda self, s, d, lengths, acc, ms: record(self, s, d, lengths, acc, None))


def _reject_all(guard: Guard, rounds: int = 50, sampled: bool = False) -> None:
    for _ in range(rounds):  # every row verifies all G drafts and accepts none
        guard.record(sampled, True, np.full(2, G), np.zeros(2, np.int64), None)


# --------------------------------------------------------------------------- the decision alone

def test_acceptance_decides_and_probes_cost_a_fixed_share_of_plain_time():
    """Verify costs 1 ms flat, a drafter pass 2.5 ms, 2 rows: with every draft accepted (the prior) drafting
    pays (2·5 tokens in 3.5 ms against 2 in 1 ms); once nothing is accepted, plain wins and each plain round
    earns PROBE_BUDGET of its 1 ms, so a probe (3.5 ms, less plain's time for the tokens it delivers, plain
    priced at the bar) runs every ceil(loss / PROBE_BUDGET) rounds."""
    guard = Guard(_table(draft_ms=2.5), G)
    assert _decide(guard, 3) == [True] * 3  # the prior: every draft accepted
    _reject_all(guard)
    _decide(guard, 1)  # (sets the depth: one plain round's credit is owed back below)
    tokens = 1 + np.cumsum(guard.acceptance.rates(False))[guard.depth - 1]  # per row, what is left of the prior
    assert 1 <= tokens < 1.02
    loss = 3.5 - tokens * 1.0 / (1 + MARGIN)  # ms: the probe's time less plain's (at the bar) for its tokens
    guard.credit_ms = 0.0
    every = math.ceil(loss / (PROBE_BUDGET * 1.0) - 1e-9)
    probes = np.flatnonzero(_decide(guard, 3 * every + 5)).tolist()
    assert probes == [every - 1, 2 * every - 1, 3 * every - 1]
    for _ in range(200):  # the drafts now land: acceptance recovers and drafting resumes, the credit reset
        guard.record(False, True, np.full(2, G), np.full(2, G), None)
    assert _decide(guard, 3) == [True] * 3 and guard.credit_ms == 0.0


def test_no_probe_where_no_acceptance_could_pay_and_other_modes_always_draft():
    guard = Guard(_table(draft_ms=1e6), G)
    assert not any(_decide(guard, 2000))  # not even the first round: it could not pay at any acceptance
    assert guard.credit_ms == 0.0
    off = Scheduler(COST.model_copy(update={"fallback": False}), G, _table(draft_ms=1e6))
    fixed = Scheduler(SchedulerConfig(mode="fixed"), G)
    assert off.guard is None and fixed.guard is None
    params = _params(2)
    assert off.drafts(params, np.ones(2, bool), 1) and fixed.drafts(params, np.ones(2, bool), 1)


def test_acceptance_is_kept_per_sampling_mode_and_priced_with_that_modes_drafter():
    guard = Guard(_table(draft_ms=2.5), G)
    _reject_all(guard, sampled=True)  # sampled requests are not accepted; greedy ones were never seen
    assert _decide(guard, 2, sampled=True) == [False, False] and _decide(guard, 2) == [True, True]
    pricey = Guard(_table(draft_ms=2.5, sampled_ms=20.0), G)  # the sampled drafter pass costs more
    assert _decide(pricey, 1) == [True] and _decide(pricey, 1, sampled=True) == [False]


def test_measured_round_times_correct_the_tables_prices():
    """The table says verifying is 1 ms flat and a drafter pass 2.5 ms; with nothing accepted plain wins. Served
    plain rounds that take 10 ms (10x the table) price drafting alike until a drafting round is timed: plain
    still wins. A drafting round at its table price (3.5 ms) makes drafting pay; drafting rounds that then take
    50 ms (14x their price) tip it back to plain."""
    guard = Guard(_table(draft_ms=2.5), G)
    _reject_all(guard)
    assert not any(_decide(guard, 5))
    for _ in range(3):
        guard.record(False, False, np.zeros(2, np.int64), np.zeros(2, np.int64), 10.0)
    assert guard.times.slowdown[0, 1] == pytest.approx(10.0)  # rows 2: the bucket of batch size 2
    assert guard.times.slowdown[1, 1] == 1.0 and not any(_decide(guard, 5))  # drafting priced at 35 ms
    guard.record(False, True, np.full(2, 1), np.zeros(2, np.int64), 3.5)
    assert guard.times.slowdown[1, 1] == pytest.approx(1.0)
    assert _decide(guard, 1) == [True]  # 2 tokens in 3.5 ms beat 2 in 10 ms
    guard.record(False, True, np.full(2, 1), np.zeros(2, np.int64), 50.0)
    assert guard.times.slowdown[1, 1] > 3.5
    for _ in range(20):
        guard.record(False, True, np.full(2, 1), np.zeros(2, np.int64), 50.0)
    assert guard.times.slowdown[1, 1] == pytest.approx(50.0 / 3.5, rel=0.2)
    assert _decide(guard, 1) == [False]
    assert guard.times.slowdown[:, 0].tolist() == [1.0, 1.0]  # other batch sizes keep their own


def test_a_long_backlog_keeps_its_table_price():
    """A drafting round after a drafting round absorbs at most the G+1 positions it kept: its wall time teaches
    the slowdown. One that absorbs a longer backlog (a joining prompt, skipped rounds) does not."""
    guard = Guard(_table(draft_ms=2.5), G)
    assert guard.drafts(2, False, backlog=G + 2)
    guard.record(False, True, np.ones(2, np.int64), np.ones(2, np.int64), 35.0)
    assert guard.times.slowdown[1, 1] == 1.0
    guard.refresh_ms = 0.0  # (1% of that 35 ms round would buy a plain round now: see the refresh test)
    assert guard.drafts(2, False, backlog=G + 1)
    guard.record(False, True, np.ones(2, np.int64), np.ones(2, np.int64), 35.0)
    assert guard.times.slowdown[1, 1] == pytest.approx(35.0 / 3.5)


def test_realized_drafting_rate_overrules_the_model():
    """Rows that verify one draft and accept it teach the acceptance nothing beyond position 1 (the prior stays
    there), so the model expects 5 tokens a round; the 2 per 3.5 ms that the rounds deliver lose to plain's
    1 per ms, and after MIN_REALIZED such rounds the guard stops drafting (it still probes)."""
    guard = Guard(_table(draft_ms=2.5), G)
    assert guard.drafts(2, False, 1)
    for _ in range(MIN_REALIZED):
        guard.record(False, True, np.ones(2, np.int64), np.ones(2, np.int64), 3.5)
    assert guard.times.realized(False, 1, guard.depth) == pytest.approx(2 / 3.5)
    decisions = _decide(guard, 300)
    assert 0 < sum(decisions) < 5
    assert guard.times.realized(True, 1, guard.depth) is None  # sampled rows: not seen yet


def test_a_probe_is_priced_at_its_expected_loss():
    """Drafting rounds that deliver 3 tokens a row in 3.5 ms (0.857 a row per ms) lose to plain's 1 per ms
    raised to the bar (1 + MARGIN): a probe is expected to lose 3.5 - 3 / (1 + MARGIN) ms (0.64 at 5%), so at
    1% of each 1 ms plain round one runs every 65 rounds (pricing it as if it delivered one token a row,
    3.5 - 1 ms, gave one in 250)."""
    guard = Guard(_table(draft_ms=2.5), G)
    for _ in range(MIN_REALIZED):
        guard.drafts(2, False, 1)  # prices the drafter pass for `record`
        guard.record(False, True, np.full(2, G), np.full(2, 2), 3.5)  # the table's price: no slowdown
    assert guard.times.realized(False, 1, guard.depth) == pytest.approx(3 / 3.5)
    every = math.ceil(_PROBE_LOSS / (PROBE_BUDGET * 1.0) - 1e-9)
    probes = np.flatnonzero(_decide(guard, 3 * every + 1)).tolist()
    assert len(probes) == 3 and np.diff(probes).tolist() == [every, every]  # the first sooner:
    # the plain rounds among the first MIN_REALIZED earned credit too


_PROBE_LOSS = 3.5 - 3 / (1 + MARGIN)  # ms, the probe above: its time less plain's (at the bar) for 3 tokens a row


def test_a_probe_that_loses_more_than_expected_delays_the_next():
    """As above, a probe is expected to lose 0.64 ms. One that takes 8.5 ms and delivers 3 tokens a row (3 plain
    1 ms rounds' worth) lost 5.5 ms: what it lost beyond the estimate is owed, so at 1% of each 1 ms plain round
    the next probe waits at least 500 rounds. A probe that cost what it was expected to owes nothing."""
    def probed(ms: float) -> Guard:
        guard = Guard(_table(draft_ms=2.5), G)
        for _ in range(MIN_REALIZED):
            guard.drafts(2, False, 1)
            guard.record(False, True, np.full(2, G), np.full(2, 2), 3.5)
        assert any(guard.drafts(2, False, 1) for _ in range(100))  # stops at the probe (see the test above)
        guard.record(False, True, np.full(2, G), np.full(2, 2), ms)
        return guard

    assert probed(3.5).credit_ms == 0.0
    slow = probed(8.5)
    assert slow.credit_ms == pytest.approx(-(8.5 - 3 * 1.0 - _PROBE_LOSS))
    assert not any(_decide(slow, 500))


def test_drafting_must_beat_plain_by_the_margin():
    """Rounds that deliver 3 tokens a row beat plain's 1 per ms by a share below MARGIN: plain, with probes only
    (frequent this close to the bar, where each is expected to lose little); by a share above it: drafting."""
    def share_drafted(gain: float) -> float:
        guard = Guard(_table(draft_ms=2.5), G)
        ms = 3 / (1 + gain)  # a drafting round's time, 3 tokens a row at (1 + gain) per ms
        for _ in range(MIN_REALIZED):
            guard.drafts(2, False, 1)
            guard.record(False, True, np.full(2, G), np.full(2, 2), ms)
        return float(np.mean(_decide(guard, 200)))

    assert share_drafted(MARGIN / 2) < 0.2 and share_drafted(2 * MARGIN) > 0.9


def test_at_one_row_drafting_must_only_beat_plain():
    """One row has no other row to fall out of step with: drafting that beats plain by less than MARGIN drafts
    there, and drafting that loses to plain does not (probes only)."""
    def share_drafted(gain: float) -> float:
        guard = Guard(_table(draft_ms=2.5), G)
        ms = 3 / (1 + gain)  # a drafting round's time, 3 tokens at (1 + gain) per ms
        for _ in range(MIN_REALIZED):
            guard.drafts(1, False, 1)
            guard.record(False, True, np.full(1, G), np.full(1, 2), ms)
        return float(np.mean([guard.drafts(1, False, 1) for _ in range(200)]))

    assert share_drafted(MARGIN / 2) > 0.9 and share_drafted(-MARGIN / 2) < 0.2


def test_rows_in_step_stay_in_step_unless_drafting_pays_for_the_prefills_it_causes():
    """Two rows with the same tokens left finish together. Every draft accepted (the prior), drafting makes 5
    tokens a row in 3.5 ms against plain's 1 ms a token: 0.15 ms saved per row and token, so over n tokens
    2·0.15·n ms, against one one-row step (1 ms) for the prompt that would then join alone: it drafts from
    n = 4 tokens left, not at 3. Once drafting does not pay, rows in step get no probe; rows apart do."""
    guard = Guard(_table(draft_ms=2.5), G)
    assert not guard.drafts(2, False, 1, in_step=3) and guard.drafts(2, False, 1, in_step=4)
    assert guard.drafts(2, False, 1, in_step=0)  # rows apart: the plain rule
    _reject_all(guard)
    assert not any(guard.drafts(2, False, 1, in_step=50) for _ in range(1000))
    assert any(_decide(guard, 1000))  # apart, the probes resume
    fresh = Guard(_table(draft_ms=2.5), G)
    assert fresh.drafts(1, False, 1, in_step=1)  # one row is in step with no other: the plain rule
    assert not fresh.drafts(2, False, 1, in_step=1)
    sched = Scheduler(COST, G, _table(draft_ms=2.5))  # the step passes each row's tokens left
    live = np.array([True, True, False])
    assert not sched.drafts(_params(3), live, 1, left=np.array([3, 3, 9]))  # the finished row does not count
    assert sched.drafts(_params(3), live, 1, left=np.array([3, 4, 3])) and sched.drafts(_params(3), live, 1)


def test_a_drafting_round_verifies_at_most_the_guards_depth():
    """Verifying costs 1 ms for up to 2 tokens per row and 10 ms beyond, so the best depth is 1 whatever the
    acceptance: Schedule's lengths are capped there (a deep row would make every padded row pay 10 ms)."""
    sizes, tokens = (1, 2, 4), tuple(range(1, G + 2))
    steep = CostTable(sizes, tokens, tuple((1.0, 1.0, 10.0, 10.0, 10.0) for _ in sizes),
                      dict.fromkeys(MODES, (0.5,) * 3), (0.0,) * 3, "sha", "sha")
    sched = Scheduler(COST, G, steep)
    assert sched.drafts(_params(2), np.ones(2, bool), 1) and sched.guard.depth == 1
    draft = SimpleNamespace(verify_lengths=np.array([4, 0]), schedule=schedule_attrs(COST))
    assert sched.choose(draft, np.ones((2, G), np.float32), np.ones(2, bool)).tolist() == [1, 0]
    fixed = Scheduler(SchedulerConfig(mode="fixed"), G)  # no guard: Schedule's lengths as they are
    draft = SimpleNamespace(verify_lengths=np.array([4, 4]), schedule=schedule_attrs(fixed.config))
    assert fixed.choose(draft, np.ones((2, G), np.float32), np.ones(2, bool)).tolist() == [4, 4]


def test_the_backlog_is_priced_and_bounded():
    guard = Guard(_table(draft_ms=2.5, absorb_ms=0.1), G)
    assert _decide(guard, 1, backlog=1) == [True]
    assert _decide(guard, 1, backlog=20) == [False]  # absorbing 19 more positions: 2.5 + 1.9 ms, does not pay
    never = Guard(_table(draft_ms=1e6), G)
    assert _decide(never, 1, backlog=MAX_BACKLOG - 1) == [False]
    assert _decide(never, 1, backlog=MAX_BACKLOG) == [True]  # at the bound the pending taps are absorbed


def test_cost_table_round_trip_and_drafter_times():
    table = _table(draft_ms=2.0, sampled_ms=3.0, absorb_ms=0.5)
    table = CostTable.from_manifest(table.to_manifest(raw_ms=[]))
    assert table.draft_for_rows(3, sampled=False) == pytest.approx(2.0)
    assert table.draft_for_rows(16, sampled=True, backlog=3) == pytest.approx(3.0 + 2 * 0.5)
    assert table.slot_ms is None and table.draft_for_rows(3, sampled=False, slots=1) == pytest.approx(2.0)
    one_slot = replace(table, slot_ms={"greedy": (1.0, 1.0, 1.0), "sampled": (1.5, 1.5, 1.5)})
    one_slot = CostTable.from_manifest(one_slot.to_manifest(raw_ms=[]))
    assert one_slot.draft_for_rows(2, sampled=True, slots=1) == pytest.approx(1.5)
    assert one_slot.draft_for_rows(2, sampled=False, slots=G) == pytest.approx(2.0)


def test_verify_prices_between_measured_batch_sizes_are_interpolated():
    """Measured at 8 rows (10 ms a token per row) and 16 (20 ms): 12 rows cost 15 ms, not the 8-row 10 ms; the
    measured sizes are exact and sizes outside them take the nearest one's curve."""
    tokens = tuple(range(1, G + 2))
    table = CostTable((8, 16), tokens, (tuple(10.0 * t for t in tokens), tuple(20.0 * t for t in tokens)),
                      {m: (1.0, 1.0) for m in MODES}, (0.0, 0.0), "sha", "sha")
    assert table.for_rows(8, G)[[7, 15]].tolist() == [10.0, 20.0]  # 1 and 2 tokens per row
    assert table.for_rows(12, G)[[11, 23, 17]].tolist() == [15.0, 30.0, 22.5]  # 1, 2 and 1.5 tokens per row
    assert table.for_rows(4, G)[3] == 10.0 and table.for_rows(32, G)[31] == 20.0


def test_while_drafting_wins_plain_is_measured_again_at_the_probe_budget():
    """Plain rounds measured at 10 ms (the table's 1 ms, on a machine slowed then) make drafting win: 2 tokens a
    row in 3.5 ms against 2 in 10. Drafting rounds earn 1% of their time toward a plain round, priced at what it
    is expected to lose (2/0.2 - 2/(4/3.5) = 8.25 ms), so one runs about every 236 drafting rounds; now plain
    rounds take 1 ms again, and each re-measurement moves plain's slowdown toward it until plain wins."""
    guard = Guard(_table(draft_ms=2.5), G)
    _reject_all(guard)
    for _ in range(3):
        guard.record(False, False, np.zeros(2, np.int64), np.zeros(2, np.int64), 10.0)
    assert guard.drafts(2, False, 1) is False  # drafting priced as plain's rounds are, 10x the table
    guard.record(False, True, np.ones(2, np.int64), np.ones(2, np.int64), 3.5)  # then timed at its price
    decisions = []
    for _ in range(3000):
        drafting = guard.drafts(2, False, 1)
        decisions.append(drafting)
        if drafting:  # one draft verified per row and accepted: 2 tokens a row in 3.5 ms
            guard.record(False, True, np.ones(2, np.int64), np.ones(2, np.int64), 3.5)
        else:
            guard.record(False, False, np.zeros(2, np.int64), np.zeros(2, np.int64), 1.0)
    plain_rounds = np.flatnonzero(~np.array(decisions))
    first = math.ceil(8.25 / (PROBE_BUDGET * 3.5) - 1e-9) - 1  # the timed round before the loop earned too
    assert plain_rounds[0] == first  # rounds 0 .. first-1 drafted, earning 0.035 ms each
    assert np.diff(plain_rounds[:10]).tolist() == sorted(np.diff(plain_rounds[:10]).tolist(), reverse=True)
    assert guard.times.slowdown[0, 1] == pytest.approx(1.0, abs=0.05)  # plain re-measured: it wins again
    assert sum(decisions[-500:]) <= 5  # drafting only in probes now (each expected to lose 3.5·(1 - 0.57))


def _params(n: int):
    from dspark_compile.runtime.rows import RowParams

    return RowParams.of([GREEDY] * n, list(range(n)))


def test_cost_points_are_timed_in_turn_and_fitted_monotone():
    from dspark_compile.costs import _interleaved_ms, _isotonic

    calls = []
    assert len(_interleaved_ms([lambda i=i: calls.append(i) for i in range(3)], repeats=2)) == 3
    assert calls == [0, 1, 2] * 3  # a warm-up round, then 2 timed rounds, each timing every point in turn
    # a point measured slow by chance is pooled with its neighbours, not carried into every point after it
    assert _isotonic([36.1, 34.8, 35.3, 40.4]).tolist() == pytest.approx([35.4, 35.4, 35.4, 40.4])
    noisy = np.random.default_rng(0).normal(size=50).cumsum()
    fit = _isotonic(noisy)
    assert np.all(np.diff(fit) >= 0) and fit.sum() == pytest.approx(noisy.sum())  # least squares keeps the mean


def test_build_measures_the_drafter_and_binds_it_to_its_engine(bundles):
    from dspark_compile.errors import GenerationError
    from dspark_compile.runtime.cost_table import check_binding, manifest_engine_digest

    rt, _ = bundles("llama")
    manifest = rt.bundle.manifest
    costs = manifest["costs"]
    for mode in ("greedy", "sampled"):
        times = costs["draft_ms"][mode]
        assert len(times) == len(costs["batch_sizes"]) and times == sorted(times)
    assert len(costs["absorb_ms"]) == len(costs["batch_sizes"])
    ms = np.array(costs["ms"])  # [S, G+1]
    assert np.all(np.diff(ms, axis=0) >= 0) and np.all(np.diff(ms, axis=1) >= 0)
    assert costs["drafter_sha256"] == manifest_engine_digest(manifest, "drafter")
    check_binding(costs, manifest)
    with pytest.raises(GenerationError, match="cost table was measured on another drafter engine"):
        check_binding({**costs, "drafter_sha256": "0" * 64}, manifest)


def test_the_guard_lives_as_long_as_the_runtime(bundles, monkeypatch):
    rt, _ = bundles("llama")
    _untimed(monkeypatch)
    monkeypatch.setattr(rt, "costs", _table(draft_ms=1e-3, sizes=rt.costs.batch_sizes))  # drafting pays
    sched = rt.scheduler(COST)
    seen = [sched.guard.acceptance.tried[0, 0]]
    for _ in range(2):
        rt.generate_ids([rt.encode(PROMPTS[0])], 12, [GREEDY], ignore_eos=True, scheduler=COST)
        assert rt.scheduler(COST) is sched  # each batch goes on from what the ones before learnt
        seen.append(sched.guard.acceptance.tried[0, 0])
    assert seen[0] < seen[1] < seen[2], seen


# --------------------------------------------------------------------------- end to end, lossless

def _plain(plain, ids, n):
    return [d.tokens for d in decode_autoregressive(plain, ids, n, [GREEDY] * len(ids), prefill_chunk=32, eos_ids=())]


def _count_drafts(rt, monkeypatch) -> list[int]:
    """Rows in each drafter pass from now on."""
    calls, draft = [], rt.drafter.draft

    def counted(cache, pending, anchor, *args, **kwargs):
        calls.append(anchor.shape[0])
        return draft(cache, pending, anchor, *args, **kwargs)

    monkeypatch.setattr(rt.drafter, "draft", counted)
    return calls


def test_expensive_drafter_falls_back_to_plain(bundles, monkeypatch):
    rt, plain = bundles("llama")
    monkeypatch.setattr(rt, "costs", _expensive(rt.costs))
    calls = _count_drafts(rt, monkeypatch)
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=COST)
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    assert len(calls) == 0  # no acceptance could pay for this drafter: not even a probe
    assert all(r.stats.drafted_rounds == 0 for r in res)
    assert res.metrics()["drafted_share"] < 0.05


def test_a_request_joining_a_falling_back_batch_stays_lossless(bundles, monkeypatch):
    rt, plain = bundles("llama")
    monkeypatch.setattr(rt, "costs", _expensive(rt.costs))
    b = Batcher(rt.target, rt.drafter, rt.scheduler(COST), 2, prefill_chunk=8, eos_ids=())
    first = b.submit(rt.encode(PROMPTS[1]), 30)
    while first.stats.rounds < 7:
        b.step()
    late = b.submit(rt.encode(PROMPTS[3]), 12)
    while late.stats.rounds < 1:
        b.step()
    assert late.stats.drafted_rounds == 0  # still no draft pays
    b.run()
    for req, p in ((first, PROMPTS[1]), (late, PROMPTS[3])):
        assert req.tokens == _plain(plain, [rt.encode(p)], req.max_new_tokens)[0]


def test_cheap_drafter_keeps_speculating(bundles, monkeypatch):
    rt, plain = bundles("llama")
    _untimed(monkeypatch)
    monkeypatch.setattr(rt, "costs", _table(draft_ms=1e-3, sizes=rt.costs.batch_sizes))
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=COST)
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    m = res.metrics()
    assert m["drafted_share"] == 1.0 and m["tau"] > 1.1, m


def _expensive(costs: CostTable) -> CostTable:
    """Every drafter pass priced at 1e6 ms, whatever the slots it drafts (`slot_ms` too)."""
    slow = {m: (1e6,) * len(costs.batch_sizes) for m in costs.draft_ms}
    return replace(costs, draft_ms=slow, slot_ms=slow if costs.slot_ms else None)


def _forced(monkeypatch, pattern):
    """Make the guard follow `pattern` (cycled) instead of the costs."""
    decisions = itertools.cycle(pattern)
    monkeypatch.setattr(Guard, "drafts", lambda self, *args: next(decisions))


def test_pending_taps_accumulate_across_skipped_rounds(bundles, monkeypatch):
    rt, plain = bundles("llama")
    _forced(monkeypatch, [True, False, False, True, True, False, False, False])
    b = Batcher(rt.target, rt.drafter, rt.scheduler(COST), 3, prefill_chunk=8, eos_ids=())
    reqs = [b.submit(rt.encode(p), 16) for p in PROMPTS[:2]]
    for _ in range(4):
        b.step()
    reqs += [b.submit(rt.encode(p), 10 + i) for i, p in enumerate(PROMPTS[2:])]  # join mid-run, some wait
    while b.busy:
        b.step()
        n = len(b.rows)
        # every committed target position is either in the drafter's cache or still pending for it
        assert (b.dcache.lengths[:n] + b.batch.rows.pending.counts == b.tcache.lengths[:n]).all()
    for req, p in zip(reqs, PROMPTS):
        assert req.tokens == _plain(plain, [rt.encode(p)], req.max_new_tokens)[0]
    assert 0 < sum(r.stats.drafted_rounds for r in reqs) < sum(r.stats.rounds for r in reqs)


def test_drafter_context_is_the_same_after_skipped_rounds(bundles, monkeypatch):
    rt, _ = bundles("llama")
    ids = rt.encode(PROMPTS[1])

    def context(pattern):
        _forced(monkeypatch, pattern)
        b = Batcher(rt.target, rt.drafter, rt.scheduler(COST), 1, prefill_chunk=8, eos_ids=())
        req = b.submit(ids, 24)
        b.run()
        n = int(b.dcache.lengths[0])
        return req.tokens, {k: v[0, :, :n] for k, v in b.dcache.arrays.items()}  # [Hkv, n, D] each

    tokens, always = context([True])
    tokens_skipping, skipping = context([True, False, False, False, True, False])
    assert tokens_skipping == tokens
    for name, a in always.items():
        n = min(a.shape[1], skipping[name].shape[1])
        assert n > len(ids)
        np.testing.assert_allclose(skipping[name][:, :n], a[:, :n], rtol=1e-3, atol=1e-4, err_msg=name)


def test_a_round_drafts_and_is_priced_at_the_slots_a_row_can_verify():
    """A drafter pass drafts only the slots a row can verify (`Scheduler.slots`). With one slot drafted in 0.5 ms
    and the whole block in 10 ms (verify 1 ms flat, 2 rows), rounds that accept exactly the first draft pay at
    depth 1 (2 tokens per row in 1.5 ms against 1 in 1 ms) though not at the whole block's price: the guard
    drafts one slot. A table without one-slot times prices every depth at the whole block and stays plain."""
    with_slots = replace(_table(draft_ms=10.0), slot_ms={m: (0.5, 0.5, 0.5) for m in MODES})
    for table, drafting in ((with_slots, True), (_table(draft_ms=10.0), False)):
        scheduler = Scheduler(COST, G, table)
        for _ in range(60):  # every row verifies all G drafts and accepts exactly the first
            scheduler.guard.record(False, True, np.full(2, G), np.ones(2, np.int64), None)
        assert scheduler.guard.drafts(2, False, 1) is drafting
        if drafting:
            assert scheduler.guard.depth == 1 and scheduler.slots() == 1
    assert with_slots.draft_for_rows(1, False, slots=1) == 0.5 and with_slots.draft_for_rows(1, False) == 10.0
    assert with_slots.draft_for_rows(1, False, slots=3) == pytest.approx(0.5 + 9.5 * 2 / 3)
    assert Scheduler(SchedulerConfig(mode="fixed", fixed_len=2), G, with_slots).slots() == 2
    assert Scheduler(SchedulerConfig(mode="survival"), G, with_slots).slots() == G


def test_what_deep_drafting_delivered_does_not_stand_for_a_shallower_depth():
    """One row; verifying 1-2 tokens costs 1 ms, 5 tokens 2 ms; a drafter pass 0.2 ms. Rounds capped at depth 4
    (where the prior, every draft accepted, puts the guard) delivered 1.5 tokens in 2.2 ms: below plain's 1 per
    ms. With slot 1 accepted half the time and the rest never, depth 1 is expected to deliver 1.5 tokens in 1.2
    ms: it drafts at depth 1, not reading the depth-4 rounds (pooled over depths, they kept it plain)."""
    table = CostTable((1, 2, 4), tuple(range(1, G + 2)), ((1.0, 1.0, 1.5, 1.8, 2.0),) * 3,
                      {"greedy": (0.2,) * 3, "sampled": (0.2,) * 3}, (0.0,) * 3, "sha", "sha")
    guard = Guard(table, G)
    assert guard.drafts(1, False, 1) and guard.depth == G  # the prior: every draft accepted
    for _ in range(MIN_REALIZED):
        guard.times.add_drafting(False, 0, G, 1.5, 2.2)
    assert guard.times.realized(False, 0, G) == pytest.approx(1.5 / 2.2)
    guard.acceptance.tried[0] = np.full(G, 100.0)
    guard.acceptance.accepted[0] = np.array([50.0, 0.0, 0.0, 0.0])
    assert guard.drafts(1, False, 1) and guard.depth == 1
    assert guard.times.realized(False, 0, 1) is None  # the model's estimate, 1.5 / 1.2 per ms, decided


def test_a_deep_position_tried_less_is_not_estimated_above_a_shallower_one():
    """Rows verify the depths Schedule allots, often one or two: the deep positions' tallies keep more of the prior
    (every draft accepted). A row accepts k drafts only if it accepted k - 1, so the estimate at k is capped by
    the one at k - 1; the model's best depth is then the shallow one the rounds support, not the whole block
    (read alone, the deep tallies rose with the position and the guard drafted, and probed, the whole block)."""
    table = CostTable((1, 2, 4), tuple(range(1, G + 2)), ((1.0, 1.1, 1.6, 2.1, 2.6),) * 3,
                      {"greedy": (0.2,) * 3, "sampled": (0.2,) * 3}, (0.0,) * 3, "sha", "sha")
    guard, rng = Guard(table, G), np.random.default_rng(0)
    for _ in range(30):  # one row verifies 1 draft and accepts it 40% of the time; deeper positions untried
        guard.record(False, True, np.array([1]), (rng.random(1) < 0.4).astype(np.int64), None)
    raw = guard.acceptance.accepted[0] / guard.acceptance.tried[0]
    assert raw[1] > raw[0]  # the untried positions still hold most of the prior
    rates = guard.acceptance.rates(False)
    assert np.all(np.diff(rates) <= 0) and rates[0] == pytest.approx(raw[0])
    assert guard.drafts(1, False, 1) and guard.depth == 1
