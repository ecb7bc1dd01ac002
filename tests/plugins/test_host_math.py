"""The shared math (plugins/common) compiled by g++ equals ops/reference.py and ops/rng.py bit for bit.

Bit-for-bit holds where both sides fix the order of operations: numpy's float32 exp (reproduced in
dsparkMath.h), IEEE division, sequential float32 prefix sums. The only numpy calls whose summation order
is unspecified are the two matrix products of DraftSample (Markov bias, confidence logit), computed by
BLAS; the DraftSample test therefore draws weights and activations on a dyadic grid, where every product
and partial sum is exact in float32 and any summation order gives the same bits.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from dspark_compile.ops import reference as ref
from dspark_compile.ops import rng
from dspark_compile.ops.spec import SCHEDULE, ScheduleMode

F32, I32, U32 = np.float32, np.int32, np.uint32


def _p(a: np.ndarray) -> ctypes.c_void_p:
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


def _c(a, dtype) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    if got.dtype.kind == "f":
        both_nan = np.isnan(got) & np.isnan(want)
        bad = (got.view(f"u{got.itemsize}") != want.view(f"u{want.itemsize}")) & ~both_nan
    else:
        bad = got != want
    assert not bad.any(), f"{int(bad.sum())} of {bad.size} differ; first at {np.argwhere(bad)[0]}: " \
                          f"got {got[bad][:4]}, want {want[bad][:4]}"


I64 = ctypes.c_int64


def test_exp_matches_numpy(host_lib):
    gen = np.random.default_rng(0)
    x = np.concatenate([gen.uniform(-110, 95, 400_000), gen.normal(0, 3, 100_000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 88.72283935546875, -103.97208404541015625]])
    x = _c(np.concatenate([x.astype(F32), gen.integers(0, 2**32, 200_000, dtype=np.uint64).astype(U32).view(F32)]),
           F32)
    y = np.empty_like(x)
    host_lib.dspark_exp(_p(x), _p(y), I64(x.size))
    with np.errstate(all="ignore"):
        _same_bits(y, np.exp(x))


def test_counter_hash_and_uniforms_match_rng(host_lib):
    gen = np.random.default_rng(1)
    n = 50_000
    cols = [_c(gen.integers(0, 2**32, n, dtype=np.uint64), U32) for _ in range(5)]
    cols[3] = _c(gen.integers(0, 4, n), U32)  # stream ids
    cols[0][:3] = [0, 0xFFFFFFFF, 12345]
    h, u = np.empty(n, U32), np.empty(n, F32)
    host_lib.dspark_uniform(*map(_p, cols), I64(n), _p(h), _p(u))
    _same_bits(h, rng.hash_u32(*cols))
    _same_bits(u, rng.uniform(*cols))
    assert u.min() >= 0 and u.max() < 1


def _filter(host_lib, z, t, k, p):
    q = np.empty_like(z)
    host_lib.dspark_filter_probs(_p(z), I64(z.size), ctypes.c_float(t), ctypes.c_int32(k), ctypes.c_float(p), _p(q))
    return q


@pytest.mark.parametrize("V", [1, 7, 1000, 4099])
def test_filter_and_sample_match_reference(host_lib, V):
    gen = np.random.default_rng(V)
    settings = [(1.0, 0, 1.0), (0.7, 50, 1.0), (1.3, 0, 0.9), (0.5, 20, 0.8), (2.0, V, 0.5), (1.0, 1, 1.0),
                (0.9, 3, 0.0), (1.0, -4, 0.999)]
    for trial, (t, k, p) in enumerate(settings):
        z = gen.normal(0, 4, V).astype(F32)
        if trial % 2:
            z = z.astype(np.float16).astype(F32)  # fp16 logits: ties and coarse values
        if trial == 3:
            z[: V // 2] = z[0]  # many ties at one value
        z = _c(z, F32)
        want = ref.filter_probs(z, t, k, F32(p))
        _same_bits(_filter(host_lib, z, t, k, p), want)
        for u in [0.0, 0.5, float(gen.random()), 1 - 2**-24]:
            got = host_lib.dspark_sample_index(_p(want), I64(V), ctypes.c_float(u))
            assert got == ref.sample_index(want, F32(u))


def _dyadic(gen, shape, scale_bits=3, span=2):
    """Multiples of 2^-scale_bits in [-span, span]: products and sums of a few hundred stay exact."""
    return (gen.integers(-span << scale_bits, (span << scale_bits) + 1, shape) / (1 << scale_bits)).astype(F32)


@pytest.mark.parametrize("B,G,V,H,r,Vd", [(1, 1, 5, 3, 2, None), (3, 4, 257, 8, 16, None),
                                          (4, 7, 1031, 16, 8, None), (4, 5, 1031, 8, 4, 300)])
def test_draft_sample_matches_reference(host_lib, B, G, V, H, r, Vd):
    gen = np.random.default_rng(B * 100 + V + (Vd or 0))
    ids = _c(np.arange(V) if Vd is None else np.sort(gen.choice(V, Vd, replace=False)), I32)
    Vd = ids.size
    logits = _c(_dyadic(gen, (B, G, Vd), 2, 8), F32)
    hidden = _c(_dyadic(gen, (B, G, H)), F32)
    anchor = _c(gen.integers(0, V, B), I32)
    w1, w2 = _c(_dyadic(gen, (V, r)), F32), _c(_dyadic(gen, (Vd, r)), F32)
    conf_w, conf_b = _c(_dyadic(gen, (H + r,), 4, 1), F32), _c([0.25], F32)
    sts = _c(gen.uniform(0.5, 2.0, G), F32)
    temperature = _c([0.0, 0.8, 1.0, 1.7][:B] + [1.0] * max(0, B - 4), F32)
    top_k = _c(gen.choice([0, 5, 40], B), I32)
    top_p = _c(gen.choice([1.0, 0.9, 0.5], B), F32)
    uniforms = _c(rng.draft_uniforms(np.arange(B) + 7, np.arange(B), np.full(B, 3), G), F32)
    want = ref.draft_sample(logits, hidden, anchor, w1, w2, ids, conf_w, conf_b, sts, temperature, top_k, top_p,
                            uniforms)
    got = ref.DraftSampleOutputs(np.empty((B, G), I32), np.empty((B, G), F32), np.empty((B, G, Vd), F32),
                                 np.empty((B, G), F32), np.empty((B, G), F32))
    rc = host_lib.dspark_draft_sample(
        I64(B), I64(G), I64(V), I64(Vd), I64(H), I64(r),
        *map(_p, (logits, hidden, anchor, w1, w2, ids, conf_w, conf_b, sts, temperature, top_k, top_p, uniforms)),
        *map(_p, got))
    assert rc == 0
    want = want._replace(q_full=ref.full_q(want.q_full, want.draft_tokens, ids))  # the plugin writes the one-hots
    for name, g, w in zip(want._fields, got, want):
        _same_bits(g, w), name


def test_draft_sample_refuses_an_unsorted_draft_vocabulary(host_lib):
    B, G, V, Vd, H, r = 1, 1, 6, 3, 2, 1
    ins = [np.zeros((B, G, Vd), F32), np.zeros((B, G, H), F32), np.zeros(B, I32), np.zeros((V, r), F32),
           np.zeros((Vd, r), F32), _c([4, 2, 5], I32), np.zeros(H + r, F32), np.zeros(1, F32), np.ones(G, F32),
           np.zeros(B, F32), np.zeros(B, I32), np.ones(B, F32), np.zeros((B, G), F32)]
    outs = [np.empty((B, G), I32), np.empty((B, G), F32), np.empty((B, G, Vd), F32), np.empty((B, G), F32),
            np.empty((B, G), F32)]
    rc = host_lib.dspark_draft_sample(I64(B), I64(G), I64(V), I64(Vd), I64(H), I64(r), *map(_p, ins + outs))
    assert rc == -3


def _schedule(host_lib, surv, lagged, cost, active, attrs):
    B, G = surv.shape
    out = np.empty(B, I32)
    rc = host_lib.dspark_schedule(I64(B), I64(G), I64(cost.size), _p(surv), _p(lagged), _p(cost), _p(active),
                                  ctypes.c_int32(attrs["mode"]), ctypes.c_int32(attrs["fixed_len"]),
                                  ctypes.c_float(attrs["threshold"]), ctypes.c_int32(attrs["min_len"]),
                                  ctypes.c_int32(attrs["max_len"]), _p(out))
    assert rc == 0
    return out


def _survivals(gen, B, G):
    s = np.cumprod(gen.uniform(0.3, 1.0, (B, G)), axis=1).astype(F32)
    s[0, :] = s[0, 0]  # equal survivals: the position/row tie-breaks decide
    return _c(np.round(s * 64) / 64 if gen.random() < 0.5 else s, F32)


@pytest.mark.parametrize("mode", list(ScheduleMode))
def test_schedule_matches_reference(host_lib, mode):
    gen = np.random.default_rng(int(mode))
    for trial in range(25):
        B, G = int(gen.integers(1, 9)), int(gen.integers(1, 8))
        surv, lagged = _survivals(gen, B, G), _survivals(gen, B, G)
        n = int(gen.integers(1, B * (G + 1) + 3))
        cost = _c(1.0 + np.cumsum(gen.uniform(0.0, 0.2, n)), F32)  # rising step time, > 0
        active = _c(gen.random(B) < 0.8, I32)
        lo = int(gen.integers(0, 3))
        attrs = SCHEDULE.resolve_attrs(dict(mode=int(mode), fixed_len=int(gen.integers(0, 9)),
                                            threshold=float(gen.choice([0.0, 0.3, 0.55, 1.0])),
                                            min_len=lo, max_len=lo + int(gen.integers(0, 8))))
        want = ref.schedule(surv, lagged, cost, active, **attrs)
        _same_bits(_schedule(host_lib, surv, lagged, cost, active, attrs), want)


@pytest.mark.parametrize("B,G,V", [(1, 1, 3), (3, 0, 50), (6, 3, 101), (8, 7, 2053)])
def test_verify_matches_reference(host_lib, B, G, V):
    gen = np.random.default_rng(B + G + V)
    for trial in range(3):
        target = gen.normal(0, 3, (B, G + 1, V)).astype(F32)
        if trial == 1:
            target = target.astype(np.float16).astype(F32)
        target = _c(target, F32)
        temperature = _c(gen.choice([0.0, 0.7, 1.0, 1.5], B), F32)
        top_k = _c(gen.choice([0, 3, 50], B), I32)
        top_p = _c(gen.choice([1.0, 0.95, 0.6], B), F32)
        # the drafter scores the whole vocabulary (trial 0) or a draft vocabulary of about half of it
        ids = _c(np.arange(V) if trial == 0 else np.sort(gen.choice(V, max(1, V // 2), replace=False)), I32)
        q_full = np.zeros((B, G, ids.size), F32)
        drafts, draft_q = np.zeros((B, G), I32), np.ones((B, G), F32)
        u_draft = rng.draft_uniforms(np.arange(B), np.arange(B), np.full(B, trial), G)
        for b in range(B):
            for i in range(G):
                noisy = target[b, i] + gen.normal(0, 1.0, V).astype(F32)  # a drafter that is close, not equal
                if temperature[b] <= 0:  # greedy rows never read q
                    drafts[b, i] = np.argmax(noisy) if gen.random() < 0.3 else np.argmax(target[b, i])
                else:
                    q_full[b, i] = ref.filter_probs(noisy[ids], temperature[b], int(top_k[b]), top_p[b])
                    j = ref.sample_index(q_full[b, i], u_draft[b, i])
                    drafts[b, i], draft_q[b, i] = ids[j], q_full[b, i, j]
        draft_q = _c(draft_q, F32)
        lengths = _c(gen.integers(-1, G + 2, B), I32)
        uniforms = _c(rng.verify_uniforms(np.arange(B) + 1, np.arange(B), np.full(B, trial), G), F32)
        eps = 1e-6 if trial != 2 else 0.5  # a large eps exercises the fall-back to p
        want = ref.verify(target, drafts, draft_q, q_full, ids, lengths, uniforms, temperature, top_k, top_p,
                          residual_eps=eps)
        acc, toks = np.empty(B, I32), np.empty((B, G + 1), I32)
        rc = host_lib.dspark_verify(I64(B), I64(G), I64(V), I64(ids.size), *map(_p, (target, drafts, draft_q, q_full,
                                    ids, lengths, uniforms, temperature, top_k, top_p)), ctypes.c_float(eps),
                                    _p(acc), _p(toks))
        assert rc == 0
        _same_bits(acc, want.accepted)
        _same_bits(toks, want.out_tokens)
