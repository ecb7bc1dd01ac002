"""Semantics of the numpy reference on small hand-checked cases (ties, filters, greedy, scheduler modes)."""

import numpy as np
import pytest

from dspark_compile.errors import EngineError, ExportError
from dspark_compile.ops import reference as R
from dspark_compile.ops.spec import PAD_TOKEN, ScheduleMode

F32 = np.float32


def test_top_k_keeps_ties_with_kth_value():
    x = np.array([1, 3, 3, 2, 0], F32)
    np.testing.assert_array_equal(R.filter_probs(x, 1.0, 1, 1.0), [0, 0.5, 0.5, 0, 0])
    q = R.filter_probs(x, 1.0, 3, 1.0)
    assert np.count_nonzero(q) == 3 and q[0] == 0 and q[4] == 0


def test_top_k_off_values():
    x = np.random.default_rng(0).normal(size=9).astype(F32)
    full = R.filter_probs(x, 0.7, 0, 1.0)
    np.testing.assert_array_equal(R.filter_probs(x, 0.7, 9, 1.0), full)
    np.testing.assert_array_equal(R.filter_probs(x, 0.7, 100, 1.0), full)
    assert abs(float(full.sum()) - 1) < 1e-6


def test_top_p_smallest_set_reaching_mass():
    logits = np.log(np.array([0.1, 0.4, 0.3, 0.2], F32))
    np.testing.assert_allclose(R.filter_probs(logits, 1.0, 0, 0.7), [0, 4 / 7, 3 / 7, 0], rtol=1e-6)
    np.testing.assert_allclose(R.filter_probs(logits, 1.0, 0, 0.71), [0, 4 / 9, 3 / 9, 2 / 9], rtol=1e-6)
    np.testing.assert_array_equal(R.filter_probs(logits, 1.0, 0, 0.0), [0, 1, 0, 0])


def test_top_p_keeps_boundary_ties():
    logits = np.log(np.array([0.4, 0.3, 0.3], F32))
    np.testing.assert_allclose(R.filter_probs(logits, 1.0, 0, 0.5), [0.4, 0.3, 0.3], rtol=1e-6)


def test_sample_index_inverse_cdf_skips_zero_weights():
    w = np.array([0, 0.25, 0, 0.75, 0], F32)
    assert [R.sample_index(w, u) for u in (0.0, 0.2499, 0.25, 0.9999)] == [1, 1, 3, 3]
    assert R.sample_index(w, 1 - 2**-24) == 3
    assert R.sample_index(np.array([2, 2], F32), 0.5) == 1  # unnormalised weights are fine


def _draft_inputs(B=2, G=3, V=5, H=4, r=2, seed=0):
    rs = np.random.default_rng(seed)
    return dict(block_logits=rs.normal(size=(B, G, V)).astype(F32),
                block_hidden=rs.normal(size=(B, G, H)).astype(F32),
                anchor=rs.integers(0, V, B).astype(np.int32),
                markov_w1=rs.normal(size=(V, r)).astype(F32), markov_w2=rs.normal(size=(V, r)).astype(F32),
                draft_vocab=np.arange(V, dtype=np.int32),
                conf_w=rs.normal(size=H + r).astype(F32), conf_b=np.array([0.1], F32),
                sts_temps=np.linspace(1, 2, G).astype(F32), temperature=np.zeros(B, F32),
                top_k=np.zeros(B, np.int32), top_p=np.ones(B, F32), uniforms=rs.random((B, G), dtype=F32))


def test_draft_greedy_markov_chain_and_survivals():
    inp = _draft_inputs()
    out = R.draft_sample(**inp)
    for b in range(2):
        prev, a = inp["anchor"][b], 1.0
        for k in range(3):
            e = inp["markov_w1"][prev]
            z = inp["block_logits"][b, k] + inp["markov_w2"] @ e
            assert out.draft_tokens[b, k] == np.argmax(z)
            assert out.draft_q[b, k] == 1 and out.q_full[b, k].tolist() == [1.0]  # all greedy: [B, G, 1] ones
            logit = inp["conf_w"] @ np.concatenate([inp["block_hidden"][b, k], e]) + 0.1
            c = 1 / (1 + np.exp(-logit / inp["sts_temps"][k]))
            a *= c
            assert abs(out.confidences[b, k] - c) < 1e-6 and abs(out.survivals[b, k] - a) < 1e-6
            prev = out.draft_tokens[b, k]


def test_draft_sampling_uses_uniform_and_reports_q():
    inp = _draft_inputs(seed=1)
    inp["temperature"][:] = 0.8
    out = R.draft_sample(**inp)
    assert np.allclose(out.q_full.sum(-1), 1, atol=1e-6)
    assert np.array_equal(out.draft_q, np.take_along_axis(out.q_full, out.draft_tokens[..., None], -1)[..., 0])
    inp["uniforms"][:] = 0.0  # u = 0 picks the lowest-index token with positive mass
    assert (R.draft_sample(**inp).draft_tokens == 0).all()


def test_verify_greedy_accepts_prefix_and_ties_lowest_index():
    logits = np.zeros((1, 4, 3), F32)
    logits[0, 0, 2] = logits[0, 1, 1] = 1
    logits[0, 2] = [5, 5, 0]  # tie -> 0
    d = np.array([[2, 1, 1]], np.int32)
    args = (np.ones((1, 3), F32), np.zeros((1, 3, 1), F32), np.zeros(1, np.int32))
    rest = (np.zeros((1, 7), F32), np.zeros(1, F32), np.zeros(1, np.int32), np.ones(1, F32))
    acc, out = R.verify(logits, d, *args, np.array([3], np.int32), *rest)
    assert acc[0] == 2 and out[0].tolist() == [2, 1, 0, PAD_TOKEN]
    acc, out = R.verify(logits, d, *args, np.array([1], np.int32), *rest)
    assert acc[0] == 1 and out[0].tolist() == [2, 1, PAD_TOKEN, PAD_TOKEN]
    acc, out = R.verify(logits, d, *args, np.array([0], np.int32), *rest)
    assert acc[0] == 0 and out[0].tolist() == [2, PAD_TOKEN, PAD_TOKEN, PAD_TOKEN]


def test_verify_sampling_rules():
    p = np.array([0.5, 0.3, 0.2], F32)
    logits = np.log(np.tile(p, (1, 2, 1)))                    # [1, 2, V]
    q = np.array([[[0.2, 0.6, 0.2]]], F32)                    # [1, 1, V]
    common = dict(temperature=np.ones(1, F32), top_k=np.zeros(1, np.int32), top_p=np.ones(1, F32))
    lens, ids = np.array([1], np.int32), np.arange(3, dtype=np.int32)

    def run(d, u):
        return R.verify(logits, np.array([[d]], np.int32), q[:, :, d], q, ids, lens, np.array([u], F32), **common)

    acc, out = run(0, [0.99, 0.0, 0.0])                        # p >= q: always accepted
    assert acc[0] == 1 and out[0, 0] == 0
    acc, out = run(1, [0.49, 0.0, 0.0])                        # u*q = 0.294 < 0.3: accepted
    assert acc[0] == 1
    acc, out = run(1, [0.51, 0.0, 0.99])                       # rejected; residual = (0.3, 0, 0) -> 0
    assert acc[0] == 0 and out[0].tolist() == [0, PAD_TOKEN]
    with pytest.raises(EngineError, match="q_full"):
        R.verify(logits, np.array([[1]], np.int32), q[:, :, 1], q[..., :1], ids, lens, np.zeros((1, 3), F32), **common)


def test_schedule_modes():
    surv = np.array([[0.9, 0.6, 0.3], [0.8, 0.7, 0.65], [0.99, 0.98, 0.97]], F32)
    active = np.array([1, 1, 0], np.int32)
    cost = np.array([1, 1.05, 1.1, 1.15, 1.3, 1.45, 2, 3, 4], F32)
    fixed = R.schedule(surv, surv, cost, active, mode=ScheduleMode.FIXED, fixed_len=2)
    assert fixed.tolist() == [2, 2, 0] and fixed.dtype == np.int32
    thr = R.schedule(surv, surv, cost, active, mode=ScheduleMode.SURVIVAL, threshold=0.65)
    assert thr.tolist() == [1, 3, 0]
    assert R.schedule(surv, surv, cost, active, mode=1, threshold=0.65, max_len=2).tolist() == [1, 2, 0]
    # per slot: own confidences c = [0.9, 0.667, 0.5] and [0.8, 0.875, 0.929]: row 0 stops at c_2 < 0.65
    slot = R.schedule(surv, surv, cost, active, mode=ScheduleMode.THRESHOLD, threshold=0.65)
    assert slot.tolist() == [2, 3, 0]
    # cost: R=2; theta(k) = (2 + top-k sum) / cost[1 + k]; best k = 4 (0.9+0.8+0.7+0.65) -> 5.05/1.45 beats 4.4/1.3
    assert R.cost_budget(surv, cost, active != 0) == 4
    assert R.schedule(surv, surv, cost, active, mode=ScheduleMode.COST).tolist() == [1, 3, 0]


def test_schedule_cost_uses_lagged_for_budget_and_breaks_ties_by_position_then_row():
    cur = np.array([[0.5, 0.5], [0.5, 0.5]], F32)
    lagged = np.array([[0.9, 0.9], [0.9, 0.0]], F32)
    cost = np.array([1, 1, 1, 1, 1.1, 10], F32)  # theta(3) = 4.7/1.1 is the best
    assert R.cost_budget(lagged, cost, np.array([True, True])) == 3
    # top-3 of equal current survivals: (row0,pos0), (row1,pos0), (row0,pos1)
    assert R.schedule(cur, lagged, cost, np.array([1, 1], np.int32)).tolist() == [2, 1]


def test_schedule_global_argmax_without_early_break():
    lagged = np.array([[0.5, 0.5, 0.5, 0.5]], F32)
    cost = np.array([1.0, 1.6, 1.7, 1.8, 1.9], F32)  # theta: 1, .94, 1.18, 1.39, 1.58 -> dips then wins
    assert R.cost_budget(lagged, cost, np.array([True])) == 4


def test_schedule_rejects_bad_attributes():
    s = np.zeros((1, 2), F32)
    with pytest.raises(ExportError, match="min_len <= max_len"):
        R.schedule(s, s, np.ones(1, F32), np.ones(1, np.int32), min_len=3, max_len=2)
    with pytest.raises(ExportError, match="mode.*one of 0, 1, 2"):
        R.schedule(s, s, np.ones(1, F32), np.ones(1, np.int32), mode=5)


def test_threshold_is_per_slot_and_survival_is_cumulative_hand_worked():
    """The case written out in spec.ScheduleMode: t = 0.5, c = [0.9, 0.8, 0.6, 0.4] ->
    a = [0.9, 0.72, 0.432, 0.1728]; DeepSpec's per-slot rule verifies 3, the survival rule 2."""
    c = np.array([0.9, 0.8, 0.6, 0.4], F32)
    a = np.cumprod(c, dtype=F32)[None]  # [1, 4], the way DraftSample multiplies (left to right, float32)
    np.testing.assert_allclose(a[0], [0.9, 0.72, 0.432, 0.1728], rtol=1e-6)
    args = (a, a, np.ones(5, F32), np.ones(1, np.int32))
    assert R.schedule(*args, mode=ScheduleMode.THRESHOLD, threshold=0.5).tolist() == [3]
    assert R.schedule(*args, mode=ScheduleMode.SURVIVAL, threshold=0.5).tolist() == [2]
    assert R.schedule(*args, mode=ScheduleMode.THRESHOLD, threshold=0.5, max_len=2).tolist() == [2]  # clamped
    assert R.schedule(*args, mode=ScheduleMode.THRESHOLD, threshold=0.95, min_len=1).tolist() == [1]
    assert R.schedule(*args, mode=ScheduleMode.THRESHOLD, threshold=0.0).tolist() == [4]  # DeepSpec: t <= 0 -> all
    # a confidence after a low one counts on its own: c = [0.4, 0.9] stops at slot 0 in both rules
    b = np.cumprod(np.array([0.9, 0.3, 0.99, 0.99], F32), dtype=F32)[None]
    assert R.schedule(b, b, np.ones(5, F32), np.ones(1, np.int32), mode=ScheduleMode.THRESHOLD,
                      threshold=0.5).tolist() == [1]
