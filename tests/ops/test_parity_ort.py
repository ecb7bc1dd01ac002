"""Reference (numpy) vs ONNX function bodies in ONNX Runtime, over sweeps of shapes, dtypes and modes.

Integer outputs must be identical (same uniforms); float outputs within a few ulp-level tolerances.
The full sweep is marked slow; a representative subset runs by default.
"""

import itertools

import numpy as np
import pytest

from dspark_compile.ops import reference as R
from dspark_compile.ops.spec import DRAFT_SAMPLE, SCHEDULE, VERIFY, ScheduleMode

from ops_inputs import KINDS, draft_inputs, run_ort, schedule_inputs, verify_inputs

BIG_V = 151936


def _sweep(fast):
    """All (B, G, V, dtype, kind); the ones in ``fast`` run by default, the rest under -m exhaustive (or -m slow)."""
    for case in itertools.product((1, 3, 16), (1, 4, 8), (7, 1000, BIG_V), ("float32", "float16"), KINDS):
        yield case if fast(*case) else pytest.param(*case, marks=pytest.mark.exhaustive)
    yield BIG_V and (1, 2, BIG_V, "float16", "mixed")  # one big-vocabulary case in the default run


def _fast(B, G, V, dtype, kind):
    return B <= 3 and G <= 4 and V <= 1000 and (dtype == "float32" or kind in ("greedy", "mixed"))


def _check(name, ours, ref):
    ours = np.asarray(ours)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, f"{name}: {ours.shape}/{ours.dtype} vs {ref.shape}"
    if ref.dtype.kind == "i":
        np.testing.assert_array_equal(ours, ref, err_msg=name)
    else:
        np.testing.assert_allclose(ours, ref, rtol=2e-5, atol=2e-6, err_msg=name)


@pytest.mark.parametrize("subset", [False, True], ids=["full_vocab", "draft_vocab"])
@pytest.mark.parametrize("B,G,V,dtype,kind", list(_sweep(_fast)))
def test_draft_sample(B, G, V, dtype, kind, subset):
    """With a draft vocabulary (a random sorted subset of about 2/3 of V) and without."""
    vd = max(1, 2 * V // 3) if subset else None
    inputs = draft_inputs(np.random.default_rng([B, G, V, len(kind)]), B, G, V, kind, np.dtype(dtype), vd=vd)
    ref = R.draft_sample(**inputs)
    all_greedy = bool((inputs["temperature"] <= 0).all())
    ids = inputs["draft_vocab"]
    assert ref.q_full.shape[2] == (1 if all_greedy else ids.size)  # all greedy: [B, G, 1] ones, else over Vd
    # tokens are target ids of the draft vocabulary; q_full over it holds each one's q at its draft index
    q_full = R.full_q(ref.q_full, ref.draft_tokens, ids)
    assert np.isin(ref.draft_tokens, ids).all()
    np.testing.assert_array_equal(np.take_along_axis(q_full, np.searchsorted(ids, ref.draft_tokens)[..., None], 2)[
        ..., 0], ref.draft_q)
    ours = run_ort(DRAFT_SAMPLE.name, inputs)
    keep = _rows_agreeing_up_to_rounding(ours[0], ref, inputs["uniforms"])
    for name, o, expected in zip(DRAFT_SAMPLE.output_names, ours, ref):
        _check(name, np.where(keep.reshape(keep.shape + (1,) * (o.ndim - 2)), o, expected), expected)


# The two implementations' exp may differ by an ulp (spec.SEMANTICS), so a sampling decision can differ when it
# falls that close to a boundary: about 1e-8 of the row's mass over 150k tokens (margins seen: 1e-9).
ROUNDING = 1e-6


def _draw_margin(w: np.ndarray, u: float) -> float:
    """How far u*S lies from the nearest cumulative boundary of the weights w, relative to S."""
    c = R.mass_cumsum(w)
    x = np.float64(np.float32(u)) * c[-1]
    i = int(np.searchsorted(c, x, side="right"))
    lo, hi = (c[i - 1] if i else 0.0), c[min(i, c.size - 1)]
    return min(x - lo, hi - x) / c[-1]


def _rows_agreeing_up_to_rounding(tokens: np.ndarray, ref, uniforms) -> np.ndarray:
    """[B, G] mask of the draws to compare: in a row whose first different draw (slot k) was within ROUNDING
    of a boundary in the reference, slots k.. follow another chain and are not compared; any other
    difference fails."""
    keep = np.ones(tokens.shape, bool)
    for b, k in zip(*np.nonzero(tokens != ref.draft_tokens)):
        if keep[b, k]:
            margin = _draw_margin(ref.q_full[b, k], uniforms[b, k])
            assert margin < ROUNDING, (f"row {b} slot {k}: draw {tokens[b, k]} vs {ref.draft_tokens[b, k]}, "
                                       f"margin {margin}")
            keep[b, k:] = False
    return keep


def _verify_row_within_rounding(inputs, b: int, ref_n: int) -> bool:
    """Whether row b's reference path passed within ROUNDING of a decision boundary: an accept test
    (u*q against p_d, or p_d against q) up to its first rejection, or the final draw."""
    G = inputs["draft_tokens"].shape[1]
    t, k, p = inputs["temperature"][b], int(inputs["top_k"][b]), inputs["top_p"][b]
    if t <= 0:
        return False
    u = inputs["uniforms"][b]
    logits = inputs["target_logits"][b]
    for i in range(min(ref_n + 1, int(inputs["verify_lengths"][b]))):
        p_d = np.float64(R.filter_probs(logits[i], t, k, p)[inputs["draft_tokens"][b, i]])
        q = np.float64(inputs["draft_q"][b, i])
        if abs(p_d - q) <= ROUNDING * q or abs(np.float64(u[i]) * q - p_d) <= ROUNDING * max(p_d, 1e-30):
            return True
    n_ver = int(inputs["verify_lengths"][b])
    p_n = R.filter_probs(logits[ref_n], t, k, p)
    if ref_n < n_ver:
        residual = R.residual_weights(p_n, R.target_q(inputs["q_full"][b, ref_n], inputs["draft_vocab"], p_n.size))
        w = residual if R.mass_cumsum(residual)[-1] > R._VERIFY_DEFAULTS["residual_eps"] else p_n
        return _draw_margin(w, u[G + ref_n]) < ROUNDING
    return _draw_margin(p_n, u[2 * G]) < ROUNDING


@pytest.mark.parametrize("subset", [False, True], ids=["full_vocab", "draft_vocab"])
@pytest.mark.parametrize("B,G,V,dtype,kind", list(_sweep(_fast)))
def test_verify(B, G, V, dtype, kind, subset):
    """Drafts from the whole vocabulary, and from a draft vocabulary (a random sorted subset of 2/3 of V)."""
    vd = max(1, 2 * V // 3) if subset else None
    inputs = verify_inputs(np.random.default_rng([B, G, V, len(kind), 1]), B, G, V, kind, np.dtype(dtype), vd=vd)
    ref = R.verify(**inputs)
    ours = run_ort(VERIFY.name, inputs)
    differ = (ours[0] != ref.accepted) | (ours[1] != ref.out_tokens).any(axis=1)  # [B]
    for b in np.flatnonzero(differ):  # only a decision within rounding of its boundary may differ
        assert _verify_row_within_rounding(inputs, int(b), int(ref.accepted[b])), f"row {b}"
    for name, o, expected in zip(VERIFY.output_names, ours, ref):
        same = ~differ.reshape((-1,) + (1,) * (o.ndim - 1))
        _check(name, np.where(same, o, expected), expected)


def test_verify_reaches_every_path():
    """The generated inputs exercise rejections, full acceptance (bonus) and zero-length rows."""
    inputs = verify_inputs(np.random.default_rng(5), 16, 4, 7, "mixed")
    accepted, _ = R.verify(**inputs)
    lengths = inputs["verify_lengths"]
    assert (accepted < lengths).any() and ((accepted == lengths) & (lengths > 0)).any() and (lengths == 0).any()


def test_verify_greedy_accepts_dummy_q_full():
    inputs = verify_inputs(np.random.default_rng(3), 3, 4, 50, "greedy")
    inputs["q_full"], inputs["draft_vocab"] = np.zeros((3, 4, 1), np.float32), np.zeros(1, np.int32)
    ref = R.verify(**inputs)
    for ours, expected in zip(run_ort(VERIFY.name, inputs), ref):
        np.testing.assert_array_equal(ours, expected)


def test_ties_lowest_index_and_top_k_ties():
    """Greedy argmax ties pick the lowest index; top-k keeps every value tied with the k-th."""
    inputs = draft_inputs(np.random.default_rng(0), 2, 2, 6, "greedy")
    inputs["block_logits"][:] = np.array([0, 3, 1, 3, 3, 0], np.float32)
    inputs["markov_w2"][:] = 0
    inputs["temperature"][1] = 1.0
    inputs["top_k"][1] = 2
    ref = R.draft_sample(**inputs)
    ours = run_ort(DRAFT_SAMPLE.name, inputs)
    assert (ref.draft_tokens[0] == 1).all()
    np.testing.assert_allclose(ref.q_full[1, 0], [0, 1 / 3, 0, 1 / 3, 1 / 3, 0], rtol=1e-6)
    for name, o, e in zip(DRAFT_SAMPLE.output_names, ours, ref):
        _check(name, o, e)


MODES = [dict(mode=int(ScheduleMode.FIXED), fixed_len=2), dict(mode=int(ScheduleMode.FIXED)),
         dict(mode=int(ScheduleMode.SURVIVAL), threshold=0.4),
         dict(mode=int(ScheduleMode.SURVIVAL), threshold=0.2, min_len=1, max_len=3),
         dict(mode=int(ScheduleMode.THRESHOLD), threshold=0.6),
         dict(mode=int(ScheduleMode.THRESHOLD), threshold=0.3, min_len=1, max_len=3),
         dict(mode=int(ScheduleMode.COST)), dict(mode=int(ScheduleMode.COST), min_len=1, max_len=5)]


def _schedule_cases():
    for B, G, attrs in itertools.product((1, 3, 16), (1, 4, 8), MODES):
        fast = B <= 3 or attrs["mode"] == ScheduleMode.COST
        yield (B, G, attrs) if fast else pytest.param(B, G, attrs, marks=pytest.mark.exhaustive)


@pytest.mark.parametrize("B,G,attrs", list(_schedule_cases()))
def test_schedule(B, G, attrs):
    rs = np.random.default_rng([B, G, attrs["mode"], len(attrs)])
    for trial in range(8):
        N = [None, 1, B + 1, 2 * B * G + 3][trial % 4]
        inputs = schedule_inputs(rs, B, G, N)
        if trial == 5:
            inputs["active"][:] = 0
        if trial == 6:  # ties everywhere: order is position first, then row
            inputs["survivals"][:] = 0.5
            inputs["lagged_survivals"][:] = 0.9
        (ours,) = run_ort(SCHEDULE.name, inputs, **attrs)
        _check("verify_lengths", ours, R.schedule(**inputs, **attrs))


def test_function_attribute_defaults_apply_when_node_omits_them():
    """A node written without attributes (as other exporters may) uses the spec defaults."""
    from dspark_compile.ops.onnx_functions import make_op_model

    model = make_op_model(SCHEDULE.name)
    del model.graph.node[0].attribute[:]
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = schedule_inputs(np.random.default_rng(1), 3, 4)
    np.testing.assert_array_equal(session.run(None, inputs)[0], R.schedule(**inputs))


@pytest.mark.parametrize("residual_eps", [0.0, 1.0])
def test_verify_residual_eps_reaches_the_body(residual_eps):
    """With residual_eps = 1 every rejection falls back to p; the attribute must change ORT's answer too."""
    inputs = verify_inputs(np.random.default_rng(9), 16, 4, 7, "sample")
    ref = R.verify(**inputs, residual_eps=residual_eps)
    ours = run_ort(VERIFY.name, inputs, residual_eps=residual_eps)
    for name, o, e in zip(VERIFY.output_names, ours, ref):
        _check(name, o, e)
    other = R.verify(**inputs, residual_eps=1.0 - residual_eps)
    assert not np.array_equal(ref.out_tokens, other.out_tokens)


@pytest.mark.parametrize("kind", ["greedy", "mixed"])
def test_verify_without_drafts_is_a_plain_decode_step(kind):
    """G = 0 (prefill, speculation off, or a round where every row verifies nothing): the op emits
    the target's own next token (argmax, or a draw from p with the bonus uniform)."""
    inputs = verify_inputs(np.random.default_rng(11), 5, 0, 300, kind)
    inputs["q_full"], inputs["draft_vocab"] = np.zeros((5, 0, 1), np.float32), np.zeros(1, np.int32)
    ref = R.verify(**inputs)
    for ours, expected in zip(run_ort(VERIFY.name, inputs), ref):
        np.testing.assert_array_equal(ours, expected)
    assert (ref.accepted == 0).all() and ref.out_tokens.shape == (5, 1)


@pytest.mark.parametrize("scale, tier", [(3.0, 0), (1.5, 1), (0.25, 2)], ids=["among_64", "among_1024", "full_sort"])
def test_top_p_cut_among_candidates_or_by_full_sort(scale, tier):
    """A vocabulary beyond NUCLEUS_CANDIDATES: a peaked distribution's top-p cut lies among the 64 largest
    values, a flatter one's among the 1,024, a flat one's beyond them (the body sorts in full); each agrees with
    the reference, in Verify and in DraftSample, with top-k on one row too."""
    from dspark_compile.ops.onnx_functions import NUCLEUS_CANDIDATES

    V = 4 * NUCLEUS_CANDIDATES[-1]
    rs = np.random.default_rng(600)
    inputs = verify_inputs(rs, 4, 3, V, "top_p")
    inputs["top_k"][1] = 2000  # top-k and top-p on one row
    inputs["target_logits"] *= np.float32(scale / 2)
    kept = [np.count_nonzero(R.filter_probs(z, t, int(k), p)) for zs, t, k, p in
            zip(inputs["target_logits"], inputs["temperature"], inputs["top_k"], inputs["top_p"]) for z in zs]
    assert np.searchsorted(NUCLEUS_CANDIDATES, max(kept)) == tier and max(kept) > 1
    for name, ours, expected in zip(VERIFY.output_names, run_ort(VERIFY.name, inputs), R.verify(**inputs)):
        _check(name, ours, expected)

    draft = draft_inputs(rs, 4, 3, V, "top_p", vd=V - 5)
    draft["block_logits"] *= np.float32(scale / 2)
    for name, ours, expected in zip(DRAFT_SAMPLE.output_names, run_ort(DRAFT_SAMPLE.name, draft),
                                    R.draft_sample(**draft)):
        _check(name, ours, expected)
