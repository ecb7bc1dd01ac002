"""Numpy reference of the three fused DSpark ops: the oracle every other implementation is checked against.

Written per row, float32 throughout (sums over a vocabulary in float64), in the order of operations given in
``spec.SEMANTICS``.
Outputs are NamedTuples whose field order is the spec's output order.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dspark_compile.errors import EngineError
from dspark_compile.ops.spec import DRAFT_SAMPLE, PAD_TOKEN, SCHEDULE, VERIFY, ScheduleMode

F32 = np.float32


# ----------------------------------------------------------------------------- shared filtering / sampling

def cumsum(w: np.ndarray) -> np.ndarray:
    """Sequential, index-order float32 prefix sum (Schedule's)."""
    return np.cumsum(w.astype(F32), dtype=F32)


def mass_cumsum(w: np.ndarray) -> np.ndarray:
    """Index-order prefix sum of float32 weights, accumulated in float64 (filter's and sample's)."""
    return np.cumsum(w.astype(F32).astype(np.float64))


def filter_probs(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """Filtered, normalised float32 distribution q [V] of one row of logits [V]; temperature > 0."""
    z = logits.astype(F32) / F32(temperature)               # [V]
    V = z.shape[0]
    z_sorted = np.sort(z)[::-1]                             # [V] descending
    if 0 < top_k < V:
        kth = z_sorted[top_k - 1]                           # ties with the k-th value are kept
        z = np.where(z >= kth, z, F32(-np.inf))
        z_sorted = np.where(z_sorted >= kth, z_sorted, F32(-np.inf))
    m = z_sorted[0]
    e = np.exp(z - m)                                       # [V], masked -> 0
    if top_p < 1:
        e_sorted = np.exp(z_sorted - m)                     # [V] the same values, descending
        c = mass_cumsum(e_sorted)                           # [V] float64
        j = min(int(np.count_nonzero(c < np.float64(F32(top_p)) * c[-1])), V - 1)  # first index with mass >= p
        e = np.where(e >= e_sorted[j], e, F32(0))           # ties with the boundary are kept
    return e / F32(mass_cumsum(e)[-1])


def sample_index(w: np.ndarray, u: float) -> int:
    """Inverse CDF of the non-negative weights w [V] at u in [0,1); never picks a zero-weight entry."""
    c = mass_cumsum(w)                                      # [V] float64
    total = c[-1]
    return int(min(np.count_nonzero(c <= np.float64(F32(u)) * total), np.count_nonzero(c < total)))


def sigmoid(x):
    """float32 1 / (1 + exp(-x))."""
    x = F32(x)
    return F32(1) / (F32(1) + np.exp(-x))


# ----------------------------------------------------------------------------- DraftSample

class DraftSampleOutputs(NamedTuple):
    """DraftSample's outputs in the spec's order: the one record of them (numpy here and in the runtime, torch
    tensors from `drafter.sampling.draft_step`)."""

    draft_tokens: np.ndarray  # [B, G] int32
    draft_q: np.ndarray       # [B, G] float32
    q_full: np.ndarray        # [B, G, Vd] float32, over the draft vocabulary ([B, G, 1] ones when all greedy)
    confidences: np.ndarray   # [B, G] float32
    survivals: np.ndarray     # [B, G] float32


def draft_sample(block_logits, block_hidden, anchor, markov_w1, markov_w2, draft_vocab, conf_w, conf_b, sts_temps,
                 temperature, top_k, top_p, uniforms) -> DraftSampleOutputs:
    """Reference DraftSample (see ``spec.DRAFT_SAMPLE.doc``)."""
    B, G, Vd = block_logits.shape
    w1 = markov_w1.astype(F32)                              # [V, r]
    w2 = markov_w2.astype(F32)                              # [Vd, r]
    ids = np.asarray(draft_vocab, np.int64)                 # [Vd] target ids
    cw = conf_w.astype(F32)                                 # [H + r]
    cb = F32(np.asarray(conf_b, F32).reshape(-1)[0])
    V = w1.shape[0]
    _expect(DRAFT_SAMPLE.name, "markov_w2", w2.shape == (Vd, w1.shape[1]), f"{w2.shape}, Vd={Vd}, {w1.shape}")
    _expect(DRAFT_SAMPLE.name, "draft_vocab", ids.shape == (Vd,) and Vd <= V and check_draft_vocab(ids, V),
            f"{ids.shape} ids in [{ids.min(initial=0)}, {ids.max(initial=0)}], V={V}")
    _expect(DRAFT_SAMPLE.name, "conf_w", cw.shape == (block_hidden.shape[2] + w1.shape[1],), str(cw.shape))
    out = DraftSampleOutputs(np.zeros((B, G), np.int32), np.zeros((B, G), F32), np.zeros((B, G, Vd), F32),
                             np.zeros((B, G), F32), np.zeros((B, G), F32))
    for b in range(B):
        prev, survival = int(anchor[b]), F32(1)
        for k in range(G):
            e = w1[prev]                                    # [r]
            z = block_logits[b, k].astype(F32) + w2 @ e     # [Vd]
            if temperature[b] <= 0:
                j = int(np.argmax(z))                       # lowest index wins ties
                q = np.zeros(Vd, F32)
                q[j] = 1
            else:
                q = filter_probs(z, temperature[b], int(top_k[b]), top_p[b])  # [Vd]
                j = sample_index(q, uniforms[b, k])
            token = int(ids[j])
            x = np.concatenate([block_hidden[b, k].astype(F32), e])          # [H + r]
            c = sigmoid((F32(cw @ x) + cb) / F32(sts_temps[k]))
            survival = survival * c
            out.draft_tokens[b, k], out.draft_q[b, k] = token, q[j]
            out.q_full[b, k] = q                            # over the draft vocabulary
            out.confidences[b, k], out.survivals[b, k] = c, survival
            prev = token
    if np.all(np.asarray(temperature) <= 0):  # an all-greedy batch: [B, G, 1] ones stand for the one-hots
        return out._replace(q_full=out.draft_q[:, :, None].copy())
    return out


def full_q(q_full: np.ndarray, draft_tokens: np.ndarray, draft_vocab: np.ndarray) -> np.ndarray:
    """DraftSample's q_full [B, G, Vd] in full: an all-greedy batch's [B, G, 1] ones as their one-hots over the
    draft vocabulary draft_vocab [Vd]."""
    ids = np.asarray(draft_vocab, np.int64)
    if q_full.shape[2] == ids.shape[0]:
        return q_full
    out = np.zeros(q_full.shape[:2] + ids.shape, F32)
    np.put_along_axis(out, np.searchsorted(ids, draft_tokens.astype(np.int64))[..., None], q_full, axis=2)
    return out


def target_q(q: np.ndarray, draft_vocab: np.ndarray, vocab_size: int) -> np.ndarray:
    """A draft distribution q [..., Vd] over target ids [..., V]: 0 outside the draft vocabulary."""
    out = np.zeros(q.shape[:-1] + (vocab_size,), F32)
    out[..., np.asarray(draft_vocab, np.int64)] = q
    return out


def check_draft_vocab(ids: np.ndarray, vocab_size: int) -> bool:
    """Whether ids [Vd] is a valid draft vocabulary: non-empty, strictly increasing, inside [0, V)."""
    ids = np.asarray(ids)
    return bool(ids.ndim == 1 and ids.size >= 1 and ids[0] >= 0 and ids[-1] < vocab_size
                and np.all(np.diff(ids) > 0))


# ----------------------------------------------------------------------------- Schedule

_SCHEDULE_DEFAULTS = {a.name: a.default for a in SCHEDULE.attributes}
_VERIFY_DEFAULTS = {a.name: a.default for a in VERIFY.attributes}


def schedule(survivals, lagged_survivals, cost_table, active, *, mode=_SCHEDULE_DEFAULTS["mode"],
             fixed_len=_SCHEDULE_DEFAULTS["fixed_len"], threshold=_SCHEDULE_DEFAULTS["threshold"],
             min_len=_SCHEDULE_DEFAULTS["min_len"], max_len=_SCHEDULE_DEFAULTS["max_len"]) -> np.ndarray:
    """Reference Schedule: verify_lengths [B] int32 (see ``spec.SCHEDULE.doc``)."""
    attrs = SCHEDULE.resolve_attrs(dict(mode=mode, fixed_len=fixed_len, threshold=threshold,
                                        min_len=min_len, max_len=max_len))
    B, G = survivals.shape
    live = np.asarray(active) != 0                          # [B]
    lo, hi = min(attrs["min_len"], G), min(attrs["max_len"], G)
    if attrs["mode"] == ScheduleMode.FIXED:
        lengths = np.full(B, min(attrs["fixed_len"], G))
    elif attrs["mode"] == ScheduleMode.SURVIVAL:
        lengths = np.array([_leading(survivals[b] >= F32(attrs["threshold"])) for b in range(B)])
        lengths = np.clip(lengths, lo, hi)
    elif attrs["mode"] == ScheduleMode.THRESHOLD:  # own confidence c_k >= t, as NOT (a_k < t * a_{k-1})
        a = np.asarray(survivals, F32)
        before = np.concatenate([np.ones((B, 1), F32), a[:, :-1]], axis=1)  # a_{k-1}, a_{-1} = 1
        lengths = np.array([_leading(~(a[b] < F32(attrs["threshold"]) * before[b])) for b in range(B)])
        lengths = np.clip(lengths, lo, hi)
    else:
        budget = cost_budget(lagged_survivals, cost_table, live)
        lengths = np.clip(allocate(survivals, live, budget), lo, hi)
    return np.where(live, lengths, 0).astype(np.int32)


def cost_budget(lagged_survivals, cost_table, live) -> int:
    """K = argmax_k (R + top-k lagged sum) / cost(R + k): global, no early break, first max wins."""
    cost = np.asarray(cost_table, F32)                      # [N]
    _expect(SCHEDULE.name, "cost_table", cost.size >= 1 and bool(np.all(cost > 0)), "needs N >= 1 costs > 0")
    R = int(np.count_nonzero(live))
    cand = np.sort(lagged_survivals[live].astype(F32).ravel())[::-1]     # [R*G] descending
    prefix = np.concatenate([[F32(0)], cumsum(cand)])                     # [R*G + 1]
    best_k, best = 0, F32(-np.inf)
    for k in range(cand.size + 1):
        n = R + k                                           # tokens in the verify batch
        if not 1 <= n <= cost.size:
            continue
        theta = (F32(R) + prefix[k]) / cost[n - 1]          # expected tokens per unit time
        if theta > best:
            best_k, best = k, theta
    return best_k


def allocate(survivals, live, budget: int) -> np.ndarray:
    """Per-row count among the top-``budget`` current survivals of live rows (ties: position, then row)."""
    rows, cols = np.nonzero(np.broadcast_to(live[:, None], survivals.shape))
    order = np.lexsort((rows, cols, -survivals[rows, cols].astype(F32)))  # primary key last
    chosen = rows[order[:budget]]
    return np.bincount(chosen, minlength=survivals.shape[0])


def _leading(ok: np.ndarray) -> int:
    """Number of leading True entries."""
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else int(ok.size)


# ----------------------------------------------------------------------------- Verify

class VerifyOutputs(NamedTuple):
    accepted: np.ndarray    # [B] int32
    out_tokens: np.ndarray  # [B, G+1] int32


def verify(target_logits, draft_tokens, draft_q, q_full, draft_vocab, verify_lengths, uniforms, temperature, top_k,
           top_p, *, residual_eps=_VERIFY_DEFAULTS["residual_eps"]) -> VerifyOutputs:
    """Reference Verify (see ``spec.VERIFY.doc``)."""
    eps = F32(VERIFY.resolve_attrs({"residual_eps": residual_eps})["residual_eps"])
    B, G = draft_tokens.shape
    V = target_logits.shape[2]
    ids = np.asarray(draft_vocab, np.int64)                 # [Vq] target ids of q_full's entries
    _expect(VERIFY.name, "target_logits", target_logits.shape[1] == G + 1, f"{target_logits.shape}, G={G}")
    _expect(VERIFY.name, "uniforms", uniforms.shape == (B, 2 * G + 1), str(uniforms.shape))
    accepted = np.zeros(B, np.int32)
    out_tokens = np.full((B, G + 1), PAD_TOKEN, np.int32)
    for b in range(B):
        n_ver = int(np.clip(verify_lengths[b], 0, G))
        if temperature[b] <= 0:
            n, token = _verify_greedy_row(target_logits[b], draft_tokens[b], n_ver)
        else:
            # a dummy q_full ([B, G, 1]) is fine for a row that verifies nothing: q is never read
            if n_ver:
                _expect(VERIFY.name, "draft_vocab", ids.shape == q_full.shape[2:] and check_draft_vocab(ids, V),
                        f"{ids.shape} ids for q_full {q_full.shape} (a sampling row verifies {n_ver} drafts), V={V}")
            q_row = target_q(q_full[b], ids, V) if n_ver else q_full[b]  # [G, V]
            n, token = _verify_sampling_row(target_logits[b], draft_tokens[b], draft_q[b], q_row, n_ver,
                                            uniforms[b], float(temperature[b]), int(top_k[b]), top_p[b], eps)
        accepted[b] = n
        out_tokens[b, :n], out_tokens[b, n] = draft_tokens[b, :n], token
    return VerifyOutputs(accepted, out_tokens)


def _verify_greedy_row(logits, drafts, n_ver) -> tuple[int, int]:
    """logits [G+1, V], drafts [G] -> (accepted, correction/bonus token)."""
    target = np.argmax(logits.astype(F32), axis=-1)         # [G+1], lowest index wins ties
    n = _leading(drafts[:n_ver] == target[:n_ver])
    return n, int(target[n])


def _verify_sampling_row(logits, drafts, draft_q, q_full, n_ver, u, t, k, p, eps) -> tuple[int, int]:
    """logits [G+1, V], drafts/draft_q [G], q_full [G, V], u [2G+1] -> (accepted, next token)."""
    G = drafts.shape[0]
    for i in range(n_ver):
        p_i = filter_probs(logits[i], t, k, p)              # [V]
        p_d, q_d = p_i[drafts[i]], F32(draft_q[i])
        if p_d >= q_d or F32(u[i]) * q_d < p_d:             # accept with probability min(1, p/q)
            continue
        residual = residual_weights(p_i, q_full[i])         # [V]
        use = residual if mass_cumsum(residual)[-1] > eps else p_i
        return i, sample_index(use, u[G + i])
    return n_ver, sample_index(filter_probs(logits[n_ver], t, k, p), u[2 * G])


def residual_weights(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """max(0, p - q) [V]: what the target still owes after a rejection (unnormalised)."""
    return np.maximum(p - q.astype(F32), F32(0))


def _expect(op: str, name: str, ok: bool, got: str) -> None:
    if not ok:
        raise EngineError(f"{op}: input '{name}' has an unexpected shape or value: {got}")
