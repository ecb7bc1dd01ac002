"""Speculative sampling must be lossless: Monte-Carlo checks of Verify and of the lagged scheduler budget."""

import functools

import numpy as np
import pytest

from dspark_compile.ops import reference as R
from dspark_compile.ops import rng
from dspark_compile.ops.spec import DRAFT_SAMPLE, SCHEDULE, VERIFY, ScheduleMode

from ops_inputs import run_ort

F32 = np.float32
CHI2_CRIT_1E6 = {1: 23.9, 2: 27.6, 3: 30.7, 4: 33.4, 5: 35.9, 6: 38.3, 7: 40.5}  # upper 1e-6 quantiles


def follows(tokens: np.ndarray, p: np.ndarray, max_tv: float = 0.01) -> tuple[bool, str]:
    """Do ``tokens`` follow distribution ``p``? No draw outside its support, TV and chi-square bounds."""
    counts = np.bincount(tokens, minlength=p.size)
    n, support = counts.sum(), p > 0
    tv = 0.5 * np.abs(counts / n - p).sum()
    chi2 = float(((counts[support] - n * p[support]) ** 2 / (n * p[support])).sum())
    ok = counts[~support].sum() == 0 and tv <= max_tv and chi2 <= CHI2_CRIT_1E6[int(support.sum()) - 1]
    return ok, f"n={n} tv={tv:.4f} chi2={chi2:.1f} counts={counts.tolist()} expected={np.round(n * p).tolist()}"


# Target p (temperature 0.9, top-k 4 on V=6 leaves two tokens at 0); the draft q puts mass where p has none.
V, G = 6, 1
TARGET_LOGITS = np.array([1.0, 0.2, -0.5, 0.6, -1.0, 0.1], F32)
DRAFT = np.array([0.05, 0.1, 0.3, 0.15, 0.25, 0.15], F32)
ROW = dict(t=0.9, k=4, p=1.0)


def _verify_batch(n: int, seed: int) -> dict:
    """n independent rounds: d ~ q drawn by inverse CDF, then Verify inputs for G=1."""
    u_draft = rng.draft_uniforms(np.full(n, seed), np.arange(n), np.zeros(n, np.int64), G)  # [n, G]
    drafts = np.searchsorted(np.cumsum(DRAFT.astype(np.float64)), u_draft, side="right").astype(np.int32)
    return dict(
        target_logits=np.broadcast_to(TARGET_LOGITS, (n, G + 1, V)).copy(),
        draft_tokens=drafts, draft_q=DRAFT[drafts], q_full=np.broadcast_to(DRAFT, (n, G, V)).copy(),
        draft_vocab=np.arange(V, dtype=np.int32),
        verify_lengths=np.full(n, G, np.int32),
        uniforms=rng.verify_uniforms(np.full(n, seed), np.arange(n), np.zeros(n, np.int64), G),
        temperature=np.full(n, ROW["t"], F32), top_k=np.full(n, ROW["k"], np.int32),
        top_p=np.full(n, ROW["p"], F32))


P_TARGET = R.filter_probs(TARGET_LOGITS, ROW["t"], ROW["k"], ROW["p"]).astype(np.float64)


def _check_first_and_second(accepted, out_tokens):
    ok1, msg1 = follows(out_tokens[:, 0], P_TARGET)
    ok2, msg2 = follows(out_tokens[accepted >= 1, 1], P_TARGET, max_tv=0.015)
    return ok1 and ok2, f"first: {msg1}; second: {msg2}"


def test_verify_reference_is_lossless():
    accepted, out = R.verify(**_verify_batch(100_000, seed=11))
    ok, msg = _check_first_and_second(accepted, out)
    assert ok, msg
    assert 0.2 < (accepted == 0).mean() < 0.8  # both branches (accept, residual) are well represented


def test_verify_onnx_function_is_lossless():
    accepted, out = run_ort(VERIFY.name, _verify_batch(200_000, seed=12))
    ok, msg = _check_first_and_second(accepted, out)
    assert ok, msg


def _broken_onnx_verify(monkeypatch):
    """ORT Verify whose correction token is drawn from p instead of norm(max(0, p - q))."""
    import onnxruntime as ort

    from dspark_compile.ops import onnx_functions

    monkeypatch.setattr(onnx_functions, "_residual", lambda b, p, q, ids: b.Identity(p))
    session = ort.InferenceSession(onnx_functions.make_op_model(VERIFY.name).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return lambda **inputs: session.run(None, inputs)


def test_the_check_catches_a_broken_residual(monkeypatch):
    """Sampling the correction from p instead of the residual skews the output; the same check sees it."""
    accepted, out = _broken_onnx_verify(monkeypatch)(**_verify_batch(200_000, seed=12))
    ok, msg = _check_first_and_second(accepted, out)
    assert not ok, msg


@pytest.mark.exhaustive
def test_the_check_catches_a_broken_reference_residual(monkeypatch):
    monkeypatch.setattr(R, "residual_weights", lambda p, q: p)
    accepted, out = R.verify(**_verify_batch(100_000, seed=11))
    ok, msg = _check_first_and_second(accepted, out)
    assert not ok, msg


# ----------------------------------------------------------------------------- a draft-vocabulary drafter

# The drafter scores 4 of the 6 target tokens; tokens 1 and 4 lie outside its vocabulary but have target
# mass, so they can only come out through Verify's residual and bonus draws, and must at the target's rate.
SUBSET = np.array([0, 2, 3, 5], np.int32)
SUBSET_LOGITS = np.array([0.3, 1.2, -0.4, 0.5], F32)       # the drafter's own (wrong) preferences
MODES = {"temperature": dict(t=0.9, k=0, p=1.0), "top_k": dict(t=0.9, k=4, p=1.0),
         "top_p": dict(t=1.1, k=0, p=0.85), "greedy": dict(t=0.0, k=0, p=1.0)}


def _subset_round(n: int, mode: dict, seed: int, ort_path: bool):
    """n independent rounds of DraftSample (G=2, draft vocabulary SUBSET) then Verify, same row settings."""
    G2, rounds = 2, np.arange(n)
    row = dict(temperature=np.full(n, mode["t"], F32), top_k=np.full(n, mode["k"], np.int32),
               top_p=np.full(n, mode["p"], F32))
    draft_in = dict(block_logits=np.broadcast_to(SUBSET_LOGITS, (n, G2, SUBSET.size)).copy(),
                    block_hidden=np.zeros((n, G2, 1), F32), anchor=np.zeros(n, np.int32),
                    markov_w1=np.zeros((V, 1), F32), markov_w2=np.zeros((SUBSET.size, 1), F32), draft_vocab=SUBSET,
                    conf_w=np.zeros(2, F32), conf_b=np.zeros(1, F32), sts_temps=np.ones(G2, F32),
                    uniforms=rng.draft_uniforms(np.full(n, seed), np.zeros(n, np.int64), rounds, G2), **row)
    tokens, q, q_full = (run_ort(DRAFT_SAMPLE.name, draft_in) if ort_path else R.draft_sample(**draft_in))[:3]
    verify_in = dict(target_logits=np.broadcast_to(TARGET_LOGITS, (n, G2 + 1, V)).copy(), draft_tokens=tokens,
                     draft_q=q, q_full=q_full, draft_vocab=SUBSET if q_full.shape[2] > 1 else SUBSET[:1],
                     verify_lengths=np.full(n, G2, np.int32),
                     uniforms=rng.verify_uniforms(np.full(n, seed), np.zeros(n, np.int64), rounds, G2), **row)
    accepted, out = run_ort(VERIFY.name, verify_in) if ort_path else R.verify(**verify_in)
    return tokens, accepted, out


@pytest.mark.parametrize("ort_path", [pytest.param(False, marks=pytest.mark.slow), True],
                         ids=["reference", "onnxruntime"])  # the reference loops in Python: slow
@pytest.mark.parametrize("mode", list(MODES))
def test_draft_vocabulary_drafter_is_lossless(mode, ort_path):
    cfg = MODES[mode]
    tokens, accepted, out = _subset_round(60_000, cfg, seed=21 + len(mode), ort_path=ort_path)
    assert np.isin(tokens, SUBSET).all()                    # drafts are target ids inside the draft vocabulary
    if cfg["t"] <= 0:  # greedy: whatever the drafter proposed, the target's argmax comes out
        assert (out[:, 0] == np.argmax(TARGET_LOGITS)).all()
        return
    p = R.filter_probs(TARGET_LOGITS, cfg["t"], cfg["k"], cfg["p"]).astype(np.float64)
    assert p[[1, 4]].sum() > 0.1 or mode == "top_k"         # outside the draft vocabulary, yet likely
    ok1, msg1 = follows(out[:, 0], p)
    ok2, msg2 = follows(out[accepted >= 1, 1], p, max_tv=0.015)
    assert ok1 and ok2, f"first: {msg1}; second: {msg2}"
    assert 0.1 < (accepted == 0).mean() < 0.9               # accepts and residual draws both happen


# ----------------------------------------------------------------------------- paper, Appendix A

def _appendix_draft_inputs(uniforms: np.ndarray) -> dict:
    """DraftSample inputs of the toy for n rounds (uniforms [n, 2]); the anchor stays at token 0."""
    n = uniforms.shape[0]
    L = np.log(9.0)                                          # sigmoid(L) = 0.9
    return dict(block_logits=np.zeros((n, 2, 2), F32), block_hidden=np.zeros((n, 2, 1), F32),
                anchor=np.zeros(n, np.int32), markov_w1=np.array([[L], [-L]], F32), markov_w2=np.zeros((2, 1), F32),
                draft_vocab=np.arange(2, dtype=np.int32), conf_w=np.array([0, 1], F32), conf_b=np.zeros(1, F32), sts_temps=np.ones(2, F32),
                temperature=np.ones(n, F32), top_k=np.zeros(n, np.int32), top_p=np.ones(n, F32), uniforms=uniforms)


@functools.lru_cache(maxsize=None)
def _appendix_drafts(n_rounds: int) -> R.DraftSampleOutputs:
    """Every round's draft block (rounds are independent in this toy)."""
    zeros = np.zeros(n_rounds, np.int64)
    return R.draft_sample(**_appendix_draft_inputs(rng.draft_uniforms(zeros + 7, zeros, np.arange(n_rounds), 2)))


def _appendix_a(n_rounds: int, lagged: bool) -> np.ndarray:
    """R=1, G=2, SPS(1,2,3) = 1, 0.5, 0.45, p = (0.7, 0.3), q = (0.5, 0.5). Returns first emitted tokens.

    The confidence of slot 2 depends on the drafted x1 (through W1[x1]): c2 = 0.9 if x1 = 0 else 0.1, and
    c1 = 0.9 (the toy keeps the anchor at token 0). A budget from current survivals verifies the block only
    when x1 = 0, which biases the output; a budget from survivals two rounds old does not.
    """
    rounds = np.arange(n_rounds)
    drafts = _appendix_drafts(n_rounds)
    cost = (1 / np.array([1, 0.5, 0.45])).astype(F32)        # step time for n = 1, 2, 3 tokens
    lengths = np.zeros(n_rounds, np.int32)
    for t in range(n_rounds):                                # one request, rounds in sequence
        old = drafts.survivals[t - 2:t - 1] if t >= 2 else np.zeros((1, 2), F32)
        budget_from = old if lagged else drafts.survivals[t:t + 1]
        lengths[t] = R.schedule(drafts.survivals[t:t + 1], budget_from, cost, np.ones(1, np.int32),
                                mode=int(ScheduleMode.COST))[0]
    _, out = R.verify(
        target_logits=np.broadcast_to(np.log(np.array([0.7, 0.3], F32)), (n_rounds, 3, 2)).copy(),
        draft_tokens=drafts.draft_tokens, draft_q=drafts.draft_q, q_full=drafts.q_full,
        draft_vocab=np.arange(2, dtype=np.int32), verify_lengths=lengths,
        uniforms=rng.verify_uniforms(np.full(n_rounds, 7), np.zeros(n_rounds, np.int64), rounds, 2),
        temperature=np.ones(n_rounds, F32), top_k=np.zeros(n_rounds, np.int32), top_p=np.ones(n_rounds, F32))
    if not lagged:  # the mechanism: the whole block is verified exactly when x1 = 0
        assert np.array_equal(lengths == 2, drafts.draft_tokens[:, 0] == 0) and set(lengths) == {0, 2}
    return out[:, 0]


@pytest.mark.parametrize("lagged,expected", [(False, 0.85), (True, 0.70)])
def test_appendix_a_lagged_budget_keeps_target_distribution(lagged, expected):
    first = _appendix_a(20_000, lagged)
    assert abs(np.mean(first == 0) - expected) < 0.015, np.mean(first == 0)
    assert follows(first, np.array([0.7, 0.3]))[0] == lagged


def test_draft_and_schedule_ops_match_onnx_on_appendix_inputs():
    """The toy's inputs also run through the ONNX functions (spot check of the same path)."""
    inputs = _appendix_draft_inputs(np.array([[0.1, 0], [0.6, 0], [0.3, 0], [0.9, 0]], F32))
    ref = R.draft_sample(**inputs)
    ours = run_ort(DRAFT_SAMPLE.name, inputs)
    np.testing.assert_array_equal(ours[0], ref.draft_tokens)
    np.testing.assert_allclose(ours[4], ref.survivals, rtol=1e-6)
    cost = (1 / np.array([1, 0.5, 0.45])).astype(F32)
    for b in range(4):
        sched = dict(survivals=ref.survivals[b:b + 1], lagged_survivals=ref.survivals[b:b + 1], cost_table=cost,
                     active=np.ones(1, np.int32))
        (got,) = run_ort(SCHEDULE.name, sched, mode=int(ScheduleMode.COST))
        assert got[0] == R.schedule(**sched)[0] == (2 if ref.draft_tokens[b, 0] == 0 else 0)
