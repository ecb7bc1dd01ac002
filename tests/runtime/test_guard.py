"""The cost scheduler's guard rail: rounds fall back to plain decoding when drafting does not pay, probes
keep the survivals fresh, and the output stays lossless (pending target taps survive skipped rounds)."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from dspark_compile.config import SchedulerConfig
from dspark_compile.runtime.autoregressive import decode_autoregressive
from dspark_compile.runtime.batcher import Batcher
from dspark_compile.runtime.guard import Guard, expected_speeds
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.scheduler import CostTable, Scheduler

G = 4
GREEDY = SamplingParams()
PROMPTS = ["The cat", "Once upon a time, in a land far away,", "x", "1, 2, 3, 4, 5,", "Hello, world. Hello"]
COST = SchedulerConfig(mode="cost")


def _table(draft_ms: float | None, sizes=(1, 2, 4), verify_ms: float = 1.0) -> CostTable:
    """A flat verify cost (verifying more is free) and a drafter step of `draft_ms`."""
    tokens = tuple(range(1, G + 2))
    return CostTable(sizes, tokens, tuple(tuple(verify_ms for _ in tokens) for _ in sizes), "sha",
                     None if draft_ms is None else tuple(draft_ms for _ in sizes))


def _decide(guard: Guard, scheduler: Scheduler, n: int, rows: int = 2, known: bool = True) -> list[bool]:
    survivals = np.full((rows, G), 0.9, np.float32)  # [B, G]
    live, seen = np.ones(rows, bool), np.full(rows, known)
    return [guard.drafts(scheduler, survivals, live, seen) for _ in range(n)]


# --------------------------------------------------------------------------- the decision alone

def test_expected_speeds():
    survivals = np.array([[0.9, 0.5, 0.1], [0.2, 0.1, 0.0]], np.float32)  # [R=2, G=3]
    verify_ms = np.arange(1, 7, dtype=np.float32)  # n tokens take n ms
    speculating, plain = expected_speeds(survivals, np.array([2, 0]), verify_ms, draft_ms=1.0)
    assert speculating == pytest.approx((2 + 0.9 + 0.5) / (1.0 + 4))  # 2 rows + 2 drafts = 4 tokens verified
    assert plain == pytest.approx(2 / 2)


def test_probes_cost_a_fixed_share_of_plain_time_and_reset_when_speculation_wins():
    """Verify costs 1 ms flat, a drafter pass 10 ms: plain wins; each plain round earns 3% of its 1 ms, so a
    probe (10 ms over a plain step) runs every 334th round."""
    slow = Scheduler(COST, G, _table(draft_ms=10.0))
    guard = Guard()
    assert np.flatnonzero(_decide(guard, slow, 700)).tolist() == [333, 667]
    assert _decide(guard, Scheduler(COST, G, _table(draft_ms=0.01)), 3) == [True] * 3  # speculation pays again
    assert guard.credit_ms == 0.0
    assert not any(_decide(guard, Scheduler(COST, G, _table(draft_ms=1e6)), 1000))  # never worth a probe


def test_rows_without_survivals_borrow_the_others_and_other_modes_always_draft():
    expensive = Scheduler(COST, G, _table(draft_ms=1e6))
    guard = Guard()
    _decide(guard, expensive, 2)
    assert _decide(Guard(), expensive, 1, known=False) == [True]  # no row has survivals, no prior: a probe
    guard.verified(np.full((2, G), 0.9, np.float32), np.full(2, G), np.full(2, 3))  # a drafting round: a prior
    assert _decide(guard, expensive, 1, known=False) == [False]  # new rows borrow the prior
    live, known = np.ones(3, bool), np.array([True, True, False])  # one row just joined
    survivals = np.full((3, G), 0.9, np.float32)
    survivals[2] = 0.0  # (its stale slot: ignored)
    assert not guard.drafts(expensive, survivals, live, known)  # borrows the others' survivals: still plain
    cheap = Scheduler(COST, G, _table(draft_ms=0.01))
    assert guard.drafts(cheap, survivals, live, known)
    off = Scheduler(COST.model_copy(update={"fallback": False}), G, _table(draft_ms=1e6))
    assert _decide(Guard(), off, 6) == [True] * 6
    assert _decide(Guard(), Scheduler(SchedulerConfig(mode="fixed"), G), 6) == [True] * 6


def test_without_measured_drafter_times_the_running_average_decides():
    old_bundle = Scheduler(COST, G, _table(draft_ms=None))
    guard = Guard()
    assert _decide(guard, old_bundle, 3) == [True] * 3  # nothing measured yet: draft
    guard.observe(rows=1, seconds=100.0)  # a slow pass over 1 row: the nearest batch size to 2 rows
    assert _decide(guard, old_bundle, 3) == [False] * 3
    fast = Guard()
    fast.observe(rows=2, seconds=1e-9)
    assert _decide(fast, old_bundle, 3) == [True] * 3


def test_cost_table_drafter_times():
    d = {"batch_sizes": [1, 2, 4], "tokens_per_row": [1, 2], "ms": [[1, 2], [2, 3], [3, 4]], "engine_sha256": "x"}
    assert CostTable.from_manifest(d).draft_for_rows(2) is None  # bundles built before the guard rail
    table = CostTable.from_manifest({**d, "draft_ms": [1.0, 2.0, 4.0]})
    assert table.draft_for_rows(3) == pytest.approx(3.0) and table.draft_for_rows(16) == pytest.approx(4.0)


def test_build_measures_the_drafter_and_binds_it_to_its_engine(bundles):
    from dspark_compile.costs import check_binding, engine_digest
    from dspark_compile.errors import GenerationError

    rt, _ = bundles("llama")
    manifest = rt.bundle.manifest
    costs = manifest["costs"]
    assert len(costs["draft_ms"]) == len(costs["batch_sizes"]) and costs["draft_ms"] == sorted(costs["draft_ms"])
    assert costs["drafter_sha256"] == engine_digest(manifest, "drafter") and rt.costs.draft_ms is not None
    check_binding(costs, manifest)
    with pytest.raises(GenerationError, match="cost table was measured on another drafter engine"):
        check_binding({**costs, "drafter_sha256": "0" * 64}, manifest)


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
    monkeypatch.setattr(rt, "costs", replace(rt.costs, draft_ms=(1e6,) * len(rt.costs.batch_sizes)))
    calls = _count_drafts(rt, monkeypatch)
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=COST)
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    assert len(calls) == 1  # round 1 (no survivals yet); then a probe never pays for itself
    assert all(r.stats.drafted_rounds == 1 for r in res)
    assert res.metrics()["drafted_share"] < 0.05


def test_a_request_joining_a_falling_back_batch_stays_lossless(bundles, monkeypatch):
    rt, plain = bundles("llama")
    monkeypatch.setattr(rt, "costs", replace(rt.costs, draft_ms=(1e6,) * len(rt.costs.batch_sizes)))
    b = Batcher(rt.target, rt.drafter, rt.scheduler(COST), 2, prefill_chunk=8, eos_ids=())
    first = b.submit(rt.encode(PROMPTS[1]), 30)
    while first.stats.rounds < 7:
        b.step()
    late = b.submit(rt.encode(PROMPTS[3]), 12)
    while late.stats.rounds < 1:
        b.step()
    assert late.stats.drafted_rounds == 0  # it borrows the first row's survivals: still no draft pays
    b.run()
    for req, p in ((first, PROMPTS[1]), (late, PROMPTS[3])):
        assert req.tokens == _plain(plain, [rt.encode(p)], req.max_new_tokens)[0]


def test_cheap_drafter_keeps_speculating(bundles, monkeypatch):
    rt, plain = bundles("llama")
    monkeypatch.setattr(rt, "costs", replace(_table(draft_ms=1e-3, sizes=rt.costs.batch_sizes),
                                             engine_sha256=rt.costs.engine_sha256))
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=COST)
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    m = res.metrics()
    assert m["drafted_share"] == 1.0 and m["tau"] > 1.1, m


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
        assert (b.dcache.lengths[:n] + b.batch.pending.counts == b.tcache.lengths[:n]).all()
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


def test_reality_scales_an_over_confident_forecast():
    """Survivals promising 0.9 per slot while nothing is ever accepted: the guard stops trusting them."""
    guard = Guard()
    table = _table(draft_ms=0.3)  # flat verify cost 1 ms: with survivals at face value drafting pays
    scheduler = Scheduler(COST, G, table)
    assert _decide(guard, scheduler, 1) == [True]
    survivals = np.full((2, G), 0.9, np.float32)
    for _ in range(5):
        guard.verified(survivals, np.full(2, G), np.zeros(2, np.int64))
    assert guard.reality == 0.0
    assert _decide(guard, scheduler, 3) == [False, False, False]
    for _ in range(200):  # the drafts now land as promised: the ratio recovers and drafting resumes
        guard.verified(survivals, np.full(2, G), np.full(2, 3))
    assert guard.reality > 0.8
    assert _decide(guard, scheduler, 4)[-1]
