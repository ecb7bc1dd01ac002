"""The three DSpark ops as ONNX functions (domain ``dspark``) that ONNX Runtime runs without callbacks.

Each body follows ``spec.SEMANTICS`` step for step, vectorised over rows; the numpy reference is the oracle.
G is read from input shapes (no ``block_size`` attribute): DraftSample draws its slots in an ONNX ``Loop``
(slot k's Markov bias needs the token of slot k-1); Verify and Schedule need no loop.
TensorRT engines replace these bodies by plugins of the same name (the parser prefers a registered plugin).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import AttributeProto, FunctionProto, ModelProto, NodeProto, TensorProto, helper

from dspark_compile.errors import ExportError
from dspark_compile.ops._builder import BOOL, DOUBLE, FLOAT, INT32, INT64, Builder
from dspark_compile.ops.spec import (DOMAIN, DRAFT_SAMPLE, OPS, PAD_TOKEN, SCHEDULE, VERIFY, ScheduleMode, get_spec,
                                     validate_node)

MIN_OPSET = 18
DEFAULT_OPSET = 18
ONNX_DTYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "int32": TensorProto.INT32}


# ----------------------------------------------------------------------------- shared pieces

# Top-p looks for its cut among the 64, then the 1,024 largest weights: when they hold at least p of the mass in
# every top-p row (the usual case for a language model), the vocabulary is never sorted; otherwise it is, in full.
# Every tier gives the cut of spec.SEMANTICS. (ONNX Runtime's TopK over 49,152 values, 16 rows: 1 ms for 16
# values, 2 ms for 64, 10 ms for 1,024.)
NUCLEUS_CANDIDATES = (64, 1024)
# ONNX Runtime's CumSum is a sequential kernel (about 13 ns an element here, against about 1 for a sum): totals
# are ReduceSums, and sample() finds its block of SAMPLE_BLOCK entries by block totals before a prefix sum inside
# it. The spec accumulates these sums in float64, where the order of additions does not change a decision.
SAMPLE_BLOCK = 256


def _total(b: Builder, x: str) -> str:
    """x.sum(-1, keepdims=True) of float32 x, accumulated and returned in float64."""
    return b.ReduceSum(b.Cast(x, to=DOUBLE), b.const([-1], np.int64), keepdims=1)


def _any(b: Builder, cond: str) -> str:
    """cond.any() as a scalar bool (an If condition)."""
    return b.Cast(b.ReduceMax(b.Cast(cond, to=INT64), keepdims=0), to=BOOL)


def _all(b: Builder, cond: str) -> str:
    """cond.all() as a scalar bool (an If condition)."""
    return b.Cast(b.ReduceMin(b.Cast(cond, to=INT64), keepdims=0), to=BOOL)


def _weights(b: Builder, z: str, t: str, k: str, p: str) -> tuple[str, str]:
    """filter() before its division: z [..., V] f32, t/p [..., 1] f32 (t > 0), k [..., 1] int64 -> (e [..., V] f32,
    S [..., 1] f64), q = e / float32(S). A batch where no row has top-k or top-p on (temperature sampling) takes one
    Exp over z; the filters (_filtered) run only when some row needs them. (ONNX Runtime copies an If branch's
    pass-through output: at 2 rows x 4 positions x 262,144 ids each copy cost about 4 ms.)"""
    zs = b.Div(z, t)                                                    # [..., V]
    V = b.Shape(z, start=-1)                                            # [1]
    m = b.ReduceMax(zs, b.const([-1], np.int64), keepdims=1)            # [..., 1] max, never removed by top-k
    k_on = b.And(b.Greater(k, b.const(0, np.int64)), b.Less(k, V))      # [..., 1]
    p_on = b.Less(p, b.const(1.0))                                      # [..., 1]
    filtered, plain = b.sub(), b.sub()
    e_f = _filtered(filtered, zs, m, V, k, k_on, p, p_on)
    e = b.If(_any(b, b.Or(k_on, p_on)), then_branch=filtered.graph("filtered", [], [(e_f, FLOAT)]),
             else_branch=plain.graph("unfiltered", [], [(plain.Exp(plain.Sub(zs, m)), FLOAT)]))  # [..., V]
    return e, _total(b, e)


def _filtered(b: Builder, zs: str, m: str, V: str, k: str, k_on: str, p: str, p_on: str) -> str:
    """exp(zs - m) [..., V] with top-k's and top-p's cuts (masked entries exactly 0): top-k sorts the batch's
    largest k values; top-p sorts candidates (_top_p_cut)."""
    zero_i, one_i = b.const(0, np.int64), b.const(1, np.int64)
    masked, unmasked = b.sub(), b.sub()
    K = masked.Reshape(masked.ReduceMax(masked.Where(k_on, k, one_i), keepdims=0), masked.const([1], np.int64))
    top, _ = masked.TopK(zs, K, axis=-1, largest=1, sorted=1, outputs=2)  # [..., K] descending
    column = masked.Concat(masked.Shape(zs, end=-1), masked.const([1], np.int64), axis=0)  # shape of z[..., :1]
    kth_index = masked.Expand(masked.Max(masked.Min(masked.Sub(k, one_i), masked.Sub(K, one_i)), zero_i), column)
    kth = masked.GatherElements(top, kth_index, axis=-1)                # [..., 1]
    kth = masked.Where(k_on, kth, masked.const(-np.inf))               # [..., 1] -inf: keep all
    zk = masked.Where(masked.GreaterOrEqual(zs, kth), zs, masked.const(-np.inf))  # ties with the k-th are kept
    e = b.If(_any(b, k_on), then_branch=masked.graph("top_k", [], [(masked.Exp(masked.Sub(zk, m)), FLOAT)]),
             else_branch=unmasked.graph("no_top_k", [], [(unmasked.Exp(unmasked.Sub(zs, m)), FLOAT)]))  # masked -> 0
    cut, uncut = b.sub(), b.sub()
    e_cut = _top_p_cut(cut, e, _total(cut, e), V, p, p_on)
    return b.If(_any(b, p_on), then_branch=cut.graph("top_p", [], [(e_cut, FLOAT)]),
                else_branch=uncut.graph("no_top_p", [], [(uncut.Identity(e), FLOAT)]))


def _probs(b: Builder, z: str, t: str, k: str, p: str) -> str:
    """filter(): z [..., V] f32, t/p [..., 1] f32 (t > 0), k [..., 1] int64 -> q [..., V] f32."""
    e, total = _weights(b, z, t, k, p)
    return b.Div(e, b.Cast(total, to=FLOAT))


def _top_p_cut(b: Builder, e: str, total: str, V: str, p: str, p_on: str) -> str:
    """e [..., V] with every value below its row's top-p cut set to 0: the cut is sought among the
    NUCLEUS_CANDIDATES largest values, tier by tier, and in the whole vocabulary sorted when they are too few."""
    one_i, axis = b.const(1, np.int64), b.const(-1, np.int64)
    target = b.Mul(b.Cast(p, to=DOUBLE), total)                         # [..., 1] f64 p * sum(e)

    def cut_at(g: Builder, s: str, c: str, n: str, target: str) -> str:
        j = g.Min(g.count(g.Less(c, target), axis=-1), g.Sub(n, one_i))  # [..., 1]
        return g.GatherElements(s, j, axis=-1)

    def tier(g: Builder, i: int) -> str:
        if i == len(NUCLEUS_CANDIDATES):
            e_sorted, _ = g.TopK(e, V, axis=-1, largest=1, sorted=1, outputs=2)  # [..., V] descending
            c = g.CumSum(g.Cast(e_sorted, to=DOUBLE), axis)             # the spec's c (f64)
            return cut_at(g, e_sorted, c, V, target)
        K = g.Min(g.const([NUCLEUS_CANDIDATES[i]], np.int64), V)
        e_top, _ = g.TopK(e, K, axis=-1, largest=1, sorted=1, outputs=2)  # [..., K] descending
        c_top = g.CumSum(g.Cast(e_top, to=DOUBLE), axis)                # [..., K] f64
        found = g.Or(g.Not(p_on), g.GreaterOrEqual(g.last(c_top), target))  # [..., 1] the cut lies among them
        among, beyond = g.sub(), g.sub()
        cut_k, cut_beyond = cut_at(among, e_top, c_top, K, target), tier(beyond, i + 1)
        return g.If(_all(g, found),
                    then_branch=among.graph(f"cut_among_{NUCLEUS_CANDIDATES[i]}", [], [(cut_k, FLOAT)]),
                    else_branch=beyond.graph(f"cut_beyond_{NUCLEUS_CANDIDATES[i]}", [], [(cut_beyond, FLOAT)]))

    # a row without top-p keeps every entry (e >= 0); kept entries times 1.0, the others times 0.0: exactly the
    # spec's where(e >= cut, e, 0) (ONNX Runtime's broadcasting Where: 2.8 ms at 16 rows x 49,152 in its profiler,
    # these three nodes 0.7)
    cut = b.Where(p_on, tier(b, 0), b.const(0.0))                      # [..., 1]
    return b.Mul(e, b.Cast(b.GreaterOrEqual(e, cut), to=FLOAT))


def _sample(b: Builder, w: str, u: str) -> str:
    """sample(): weights w [R, V] >= 0, u [R, 1] -> index [R, 1] int64, in two levels: the block of SAMPLE_BLOCK
    entries where the cumulative weight passes u*S (the last block with weight at most), then the index inside it
    (its last positive entry at most, so a zero-weight token is never drawn). w is padded to whole blocks before
    its cast to float64 (padding the float64 copy cost twice as much: 1 ms at 16 rows x 49,152)."""
    i64 = lambda v: b.const(v, np.int64)  # noqa: E731
    zero_i, one_i = i64(0), i64(1)
    V = b.Shape(w, start=-1)                                            # [1]
    Vp = b.Mul(b.Div(b.Add(V, i64(SAMPLE_BLOCK - 1)), i64(SAMPLE_BLOCK)), i64(SAMPLE_BLOCK))  # [1] V rounded up
    padded = b.Cast(b.Pad(w, b.Concat(i64([0, 0, 0]), b.Sub(Vp, V), axis=0)), to=DOUBLE)  # [R, Vp] f64
    blocks = b.Reshape(padded, i64([0, -1, SAMPLE_BLOCK]))              # [R, nb, SB]
    totals = b.ReduceSum(blocks, i64([-1]), keepdims=0)                 # [R, nb]
    c = b.CumSum(totals, i64(-1))                                       # [R, nb]
    x = b.Mul(b.Cast(u, to=DOUBLE), b.last(c))                          # [R, 1] u * S
    zero = b.const(0.0, np.float64)
    positive = lambda y: b.Cast(b.Greater(y, zero), to=FLOAT)  # noqa: E731
    last_block = b.ArgMax(positive(totals), axis=-1, keepdims=1, select_last_index=1)  # [R, 1]
    jb = b.Min(b.count(b.LessOrEqual(c, x), axis=-1), last_block)        # [R, 1] block index
    before = b.Where(b.Greater(jb, zero_i), b.GatherElements(c, b.Max(b.Sub(jb, one_i), zero_i), axis=-1),
                     zero)                                              # [R, 1] weight before the block
    block = b.GatherND(blocks, jb, batch_dims=1)                        # [R, SB]
    inside = b.Min(b.count(b.LessOrEqual(b.Add(before, b.CumSum(block, i64(-1))), x), axis=-1),
                   b.ArgMax(positive(block), axis=-1, keepdims=1, select_last_index=1))  # [R, 1]
    index = b.Add(b.Mul(jb, i64(SAMPLE_BLOCK)), inside)
    return b.Where(b.Greater(b.last(c), zero), index, zero_i)           # all weights 0: index 0, as the spec


def _sigmoid(b: Builder, x: str) -> str:
    one = b.const(1.0)
    return b.Div(one, b.Add(one, b.Exp(b.Neg(x))))


def _residual(b: Builder, p: str, q: str, ids: str) -> str:
    """max(0, p - q) [R, V] for p [R, V] and q [R, Vq] over the target ids ids [Vq] (q is 0 at every other id):
    the target mass left after a rejection (unnormalised), as ``reference.residual_weights``."""
    at = b.Expand(ids, b.Shape(q))                                      # [R, Vq]
    return b.ScatterElements(p, at, b.Relu(b.Sub(b.GatherElements(p, at, axis=1), q)), axis=1)


def _row_params(b: Builder, axes: list[int]) -> tuple[str, str, str, str]:
    """(greedy bool, safe temperature, top_k int64, top_p), each [B] unsqueezed on ``axes``."""
    ax = b.const(axes, np.int64)
    t = b.Unsqueeze("temperature", ax)
    greedy = b.Not(b.Greater(t, b.const(0.0)))
    return (greedy, b.Where(greedy, b.const(1.0), t), b.Unsqueeze(b.Cast("top_k", to=INT64), ax),
            b.Unsqueeze("top_p", ax))


def _dim(b: Builder, x: str, axis: int) -> str:
    """x.shape[axis] as an int64 [1] tensor."""
    return b.Shape(x, start=axis, end=axis + 1)


# ----------------------------------------------------------------------------- DraftSample

def _draft_sample_body(b: Builder) -> None:
    U = b.Cast("block_logits", to=FLOAT)                                # [B, G, Vd]
    Hs = b.Cast("block_hidden", to=FLOAT)                               # [B, G, H]
    W1 = b.Cast("markov_w1", to=FLOAT)                                  # [V, r]
    W2T = b.Transpose(b.Cast("markov_w2", to=FLOAT), perm=[1, 0])       # [r, Vd]
    ids = b.Cast("draft_vocab", to=INT64)                               # [Vd] target ids
    cw, cb = b.Cast("conf_w", to=FLOAT), b.Cast("conf_b", to=FLOAT)     # [H + r], [1]
    greedy, t, k, p = _row_params(b, [1])                               # [B, 1] each
    i64 = lambda v: b.const(v, np.int64)  # noqa: E731
    draft_range = b.Range(i64(0), b.Squeeze(_dim(b, U, 2)), i64(1))     # [Vd]
    G = b.Squeeze(_dim(b, U, 1))                                        # []
    survival0 = b.ConstantOfShape(b.Shape("anchor"), value=helper.make_tensor("one", FLOAT, [1], [1.0]))
    # A batch of greedy rows skips the filtered softmax (a softmax over Vd per slot) and the sampling draw.
    all_greedy = _all(b, greedy)                                        # scalar

    s = b.sub()                                                         # loop body: one slot
    it, cond, prev, survival = (s.fresh(n) for n in ("slot", "cond", "prev", "survival"))
    e = s.Gather(W1, prev, axis=0)                                      # [B, r]
    z = s.Add(s.Gather(U, it, axis=1), s.MatMul(e, W2T))                # [B, Vd]
    argmax = s.ArgMax(z, axis=1, keepdims=1)                            # [B, 1] int64, lowest index on ties
    then, other = s.sub(), s.sub()
    # An all-greedy batch carries a [B, 1] stand-in for q through the loop (its q_full is [B, G, 1] ones).
    token_t = then.Gather(ids, argmax, axis=0)                          # [B, 1] target id
    q_t = then.Cast(then.Equal(token_t, token_t), to=FLOAT)             # [B, 1] ones: q of the token
    q_sampled = _probs(other, z, t, k, p)                               # [B, Vd]
    u = other.Unsqueeze(other.Gather("uniforms", it, axis=1), other.const([1], np.int64))  # [B, 1]
    j_e = other.Where(greedy, argmax, _sample(other, q_sampled, u))     # [B, 1] int64 draft index
    q_d = other.Where(greedy, other.Cast(other.Equal(draft_range, j_e), to=FLOAT), q_sampled)  # [B, Vd]
    token_e = other.Gather(ids, j_e, axis=0)                            # [B, 1] target id
    token, q, q_tok = s.If(all_greedy, outputs=3,
                           then_branch=then.graph("slot_greedy", [], [(token_t, INT64), (q_t, FLOAT),
                                                                      (then.Identity(q_t), FLOAT)]),
                           else_branch=other.graph("slot_sampling", [], [
                               (token_e, INT64), (q_d, FLOAT), (other.GatherElements(q_d, j_e, axis=1), FLOAT)]))
    q_token = s.Squeeze(q_tok, s.const([1], np.int64))                  # [B]
    logit = s.Add(s.MatMul(s.Concat(s.Gather(Hs, it, axis=1), e, axis=1), cw), cb)  # [B]
    conf = _sigmoid(s, s.Div(logit, s.Gather("sts_temps", it)))         # [B]
    outs = [s.Identity(cond), s.Cast(s.Squeeze(token, s.const([1], np.int64)), to=INT32), s.Mul(survival, conf)]
    outs += [s.Identity(outs[1]), q_token, q, conf, s.Identity(outs[2])]
    body = s.graph("draft_slot", [(it, INT64, []), (cond, BOOL, []), (prev, INT32, None), (survival, FLOAT, None)],
                   list(zip(outs, [BOOL, INT32, FLOAT, INT32, FLOAT, FLOAT, FLOAT, FLOAT])))
    _, _, tok, qtok, qdraft, conf, surv = b.Loop(G, "", "anchor", survival0, body=body, outputs=7)  # [G, B, ...]
    for name, x, perm in (("draft_tokens", tok, [1, 0]), ("draft_q", qtok, [1, 0]),
                          ("confidences", conf, [1, 0]), ("survivals", surv, [1, 0])):
        b.Transpose(x, perm=perm, outputs=[name])
    # q_full: an all-greedy batch gives [B, G, 1] ones (the one-hot's entry at each drafted token, all a greedy
    # Verify row could read). Sampled: the loop's q [G, B, Vd] as [B, G, Vd], over the draft vocabulary (Verify
    # takes the draft_vocab beside it: Gemma's [B, G, V] scatter was half of its sampled drafter pass at 16 rows).
    ones, sampled = b.sub(), b.sub()
    b.If(all_greedy, outputs=["q_full"],
         then_branch=ones.graph("q_full_greedy", [], [(ones.Unsqueeze("draft_q", ones.const([2], np.int64)), FLOAT)]),
         else_branch=sampled.graph("q_full_sampled", [], [(sampled.Transpose(qdraft, perm=[1, 0, 2]), FLOAT)]))


# ----------------------------------------------------------------------------- Schedule

def _leading_count(b: Builder, ok: str) -> str:
    """Number of leading True entries of ok [B, G] along axis 1 -> [B] int64."""
    bad = b.CumSum(b.Cast(b.Not(ok), to=INT64), b.const(1, np.int64))
    return b.count(b.Equal(bad, b.const(0, np.int64)), axis=1, keepdims=0)


def _schedule_body(b: Builder) -> None:
    i64 = lambda v: b.const(v, np.int64)  # noqa: E731
    G = _dim(b, "survivals", 1)                                         # [1]
    live = b.Not(b.Equal("active", b.const(0, np.int32)))               # [B]
    live2 = b.Unsqueeze(live, i64([1]))                                 # [B, 1]
    lo, hi = b.Min(b.attr("min_len", AttributeProto.INT), G), b.Min(b.attr("max_len", AttributeProto.INT), G)
    mode = b.attr("mode", AttributeProto.INT)

    fixed = b.Expand(b.Min(b.attr("fixed_len", AttributeProto.INT), G), b.Shape("active"))  # [B]
    t = b.attr("threshold", AttributeProto.FLOAT)
    by_survival = _leading_count(b, b.GreaterOrEqual("survivals", t))
    # per slot: c_k >= t written as NOT (a_k < t * a_{k-1}), a_{-1} = 1 (spec.ScheduleMode)
    before = b.Concat(b.Expand(b.const([[1.0]]), b.Concat(_dim(b, "survivals", 0), i64([1]), axis=0)),
                      b.Slice("survivals", i64([0]), b.Sub(G, i64([1])), i64([1])), axis=1)  # [B, G]
    by_slot = _leading_count(b, b.Not(b.Less("survivals", b.Mul(before, t))))

    # cost mode, budget from lagged survivals only: theta(k) = (R + top-k sum) / cost[R + k - 1]
    R = b.count(live, axis=0, keepdims=0)                               # []
    lagged = b.Reshape(b.Where(live2, "lagged_survivals", b.const(-1.0)), i64([-1]))  # [B*G]
    BG = b.Shape(lagged)                                                # [1]
    lag_sorted, _ = b.TopK(lagged, BG, axis=0, outputs=2)               # [B*G] descending
    prefix = b.CumSum(b.Concat(b.const([0.0]), lag_sorted, axis=0), i64(0))  # [B*G + 1]
    ks = b.Range(i64(0), b.Add(b.Squeeze(BG), i64(1)), i64(1))          # [B*G + 1]
    n = b.Add(R, ks)
    N = b.Shape("cost_table")                                           # [1]
    valid = b.And(b.And(b.LessOrEqual(ks, b.Mul(R, G)), b.LessOrEqual(n, N)), b.GreaterOrEqual(n, i64(1)))
    cost = b.Gather("cost_table", b.Max(b.Min(b.Sub(n, i64(1)), b.Sub(N, i64(1))), i64(0)))
    theta = b.Where(valid, b.Div(b.Add(b.Cast(R, to=FLOAT), prefix), cost), b.const(-np.inf))
    budget = b.ArgMax(theta, axis=0, keepdims=1)                        # [1], first max wins
    # allocation: rank of every (position, row) among current survivals; flat index = pos * B + row
    current = b.Reshape(b.Transpose(b.Where(live2, "survivals", b.const(-1.0)), perm=[1, 0]), i64([-1]))
    _, order = b.TopK(current, BG, axis=0, outputs=2)                   # ties: lower flat index first
    rank = b.ScatterElements(b.ConstantOfShape(BG, value=helper.make_tensor("z", INT64, [1], [0])), order,
                             b.Range(i64(0), b.Squeeze(BG), i64(1)), axis=0)  # [B*G]
    chosen = b.Reshape(b.Less(rank, budget), b.Concat(G, i64([-1]), axis=0))  # [G, B]
    by_cost = b.count(chosen, axis=0, keepdims=0)                       # [B]

    def clamp(x):
        return b.Min(b.Max(x, lo), hi)

    lengths = b.Where(b.Equal(mode, i64(int(ScheduleMode.FIXED))), fixed,
                      b.Where(b.Equal(mode, i64(int(ScheduleMode.SURVIVAL))), clamp(by_survival),
                              b.Where(b.Equal(mode, i64(int(ScheduleMode.THRESHOLD))), clamp(by_slot), clamp(by_cost))))
    b.Cast(b.Where(live, lengths, i64(0)), to=INT32, outputs=["verify_lengths"])


# ----------------------------------------------------------------------------- Verify

def _verify_body(b: Builder) -> None:
    i64 = lambda v: b.const(v, np.int64)  # noqa: E731
    L = b.Cast("target_logits", to=FLOAT)                               # [B, G+1, V]
    greedy, t, k, p = _row_params(b, [1, 2])                            # [B, 1, 1]
    greedy = b.Squeeze(greedy, i64([2]))                                # [B, 1]
    G = _dim(b, "draft_tokens", 1)                                      # [1]
    d = b.Cast("draft_tokens", to=INT64)                                # [B, G]
    target = b.ArgMax(L, axis=2, keepdims=0)                            # [B, G+1] int64
    n_ver = b.Min(b.Max(b.Cast("verify_lengths", to=INT64), i64(0)), G)  # [B]
    n_ver = b.Unsqueeze(n_ver, i64([1]))                                # [B, 1]
    in_range = b.Less(b.Range(i64(0), b.Squeeze(G), i64(1)), n_ver)     # [B, G]

    # A batch of greedy rows needs neither the filtered softmax (a softmax over V per position) nor the
    # sampling draws: the If keeps their cost out of greedy decoding.
    all_greedy = _all(b, greedy)                                        # scalar
    then, other = b.sub(), b.sub()
    n_t, token_t = _accept_greedy(then, d, target, G, in_range)
    n_e, token_e = _accept_any(other, L, d, target, greedy, t, k, p, G, n_ver, in_range)
    n, token = b.If(all_greedy, outputs=2,
                    then_branch=then.graph("all_greedy", [], [(n_t, INT64), (token_t, INT64)]),
                    else_branch=other.graph("some_sampling", [], [(n_e, INT64), (token_e, INT64)]))

    pad = b.Expand(i64(PAD_TOKEN), b.Shape(token))                      # [B, 1]
    drafts = b.Concat(d, pad, axis=1)                                   # [B, G+1]
    pos = b.Range(i64(0), b.Add(b.Squeeze(G), i64(1)), i64(1))          # [G+1]
    out = b.Where(b.Less(pos, n), drafts, b.Where(b.Equal(pos, n), token, i64(PAD_TOKEN)))
    b.Cast(b.Squeeze(n, i64([1])), to=INT32, outputs=["accepted"])
    b.Cast(out, to=INT32, outputs=["out_tokens"])


def _head(b: Builder, x: str, G: str) -> str:
    """x[:, :G]."""
    return b.Slice(x, b.const([0], np.int64), G, b.const([1], np.int64))


def _accept_greedy(b: Builder, d: str, target: str, G: str, in_range: str) -> tuple[str, str]:
    """Every row greedy: accept while d_i == argmax; next = argmax at the first miss. -> n, token [B, 1]."""
    ok = b.And(b.Equal(d, _head(b, target, G)), in_range)               # [B, G]
    n = b.Unsqueeze(_leading_count(b, ok), b.const([1], np.int64))      # [B, 1]
    return n, b.GatherElements(target, n, axis=1)


def _accept_any(b: Builder, L, d, target, greedy, t, k, p, G, n_ver, in_range) -> tuple[str, str]:
    """Greedy and sampling rows mixed: the full rule (spec.VERIFY.doc). -> n, token [B, 1]."""
    i64 = lambda v: b.const(v, np.int64)  # noqa: E731
    e, total = _weights(b, L, t, k, p)                                  # [B, G+1, V], [B, G+1, 1]: P = e / total
    total = b.Cast(total, to=FLOAT)                                     # [B, G+1, 1] S
    # e at each draft, gathered at all G+1 positions (index 0 at the last) and then cut to G: slicing e to its first
    # G positions before the gather would copy [B, G, V]
    at = b.Concat(d, b.Expand(i64([[0]]), b.Concat(b.Shape(d, end=1), i64([1]), axis=0)), axis=1)  # [B, G+1]
    e_d = b.GatherElements(e, b.Unsqueeze(at, i64([2])), axis=2)        # [B, G+1, 1]
    p_d = b.Div(b.Squeeze(_head(b, e_d, G), i64([2])), b.Squeeze(_head(b, total, G), i64([2])))  # [B, G]
    u = "uniforms"                                                      # [B, 2G+1]
    accept = b.Or(b.GreaterOrEqual(p_d, "draft_q"), b.Less(b.Mul(_head(b, u, G), "draft_q"), p_d))
    ok = b.Or(b.And(greedy, b.Equal(d, _head(b, target, G))), b.And(b.Not(greedy), accept))  # [B, G]
    ok = b.And(ok, in_range)
    n = b.Unsqueeze(_leading_count(b, ok), i64([1]))                    # [B, 1] accepted

    p_n = b.Div(b.GatherND(e, n, batch_dims=1), b.GatherND(total, n, batch_dims=1))  # [B, V] P[b, n[b]]
    rejected = b.Less(n, n_ver)                                         # [B, 1]
    # After a rejection the draw is from the residual max(0, p - q) of q_full's row n (n < n_ver <= G). A batch
    # without rejections (every plain decoding step, G = 0) draws from p_n and skips it. The draw stays outside the
    # If although the pass-through copies p_n: nodes in an If branch ran slower than the same nodes outside it here
    # (4 Exps over 16 x 49,152: 1.84 vs 1.15 ms), and a draw in each branch made the 16-row step no faster.
    some, none = b.sub(), b.sub()
    q_n = some.GatherND("q_full", some.Min(n, some.Sub(G, i64(1))), batch_dims=1)  # [B, Vq]
    residual = _residual(some, p_n, q_n, some.Cast("draft_vocab", to=INT64))  # [B, V]
    eps = some.Cast(some.attr("residual_eps", AttributeProto.FLOAT), to=DOUBLE)
    use_residual = some.And(rejected, some.Greater(_total(some, residual), eps))  # [B, 1]
    w = some.Where(use_residual, residual, p_n)
    w = b.If(_any(b, rejected), then_branch=some.graph("residual", [], [(w, FLOAT)]),
             else_branch=none.graph("no_rejection", [], [(none.Identity(p_n), FLOAT)]))  # [B, V]
    u_next = b.Where(rejected, b.GatherElements(u, b.Add(n, G), axis=1),
                     b.GatherElements(u, b.Expand(b.Mul(G, i64(2)), b.Shape(n)), axis=1))  # [B, 1]
    sampled = _sample(b, w, u_next)                                     # [B, 1]
    return n, b.Where(greedy, b.GatherElements(target, n, axis=1), sampled)  # [B, 1]


_BODIES = {DRAFT_SAMPLE.name: _draft_sample_body, SCHEDULE.name: _schedule_body, VERIFY.name: _verify_body}
assert set(_BODIES) == set(OPS)


# ----------------------------------------------------------------------------- public helpers

def make_function(op_name: str, opset: int = DEFAULT_OPSET) -> FunctionProto:
    """The FunctionProto of ``op_name`` (inputs/outputs/attributes named as in its spec)."""
    spec = get_spec(op_name)
    if opset < MIN_OPSET:
        raise ExportError(f"{op_name}: the function body needs default-domain opset >= {MIN_OPSET}, got {opset}")
    b = Builder(prefix=f"_{spec.name}")
    _BODIES[spec.name](b)
    return helper.make_function(
        spec.domain, spec.name, list(spec.input_names), list(spec.output_names), b.nodes,
        [helper.make_opsetid("", opset)], attribute_protos=[helper.make_attribute(a.name, a.default)
                                                            for a in spec.attributes],
        doc_string=spec.doc)


def make_op_node(op_name: str, inputs: list[str], outputs: list[str], name: str | None = None,
                 **attrs) -> NodeProto:
    """A ``dspark::op_name`` node with every attribute written out (defaults filled in), validated."""
    spec = get_spec(op_name)
    resolved = spec.resolve_attrs(attrs)
    node = helper.make_node(spec.name, list(inputs), list(outputs), name=name or spec.name, domain=spec.domain,
                            **resolved)
    validate_node(node)
    return node


def _nodes(graph: onnx.GraphProto):
    """Every node of ``graph`` and of its subgraphs (Loop/If/Scan bodies)."""
    for node in graph.node:
        yield node
        for a in node.attribute:
            for g in ([a.g] if a.type == AttributeProto.GRAPH else list(a.graphs)):
                yield from _nodes(g)


def add_op_functions(model: ModelProto) -> ModelProto:
    """Attach the FunctionProtos of the DSpark ops ``model`` uses and import domain ``dspark``.

    Validates every DSpark node against its spec. Mutates and returns ``model``.
    """
    opsets = {o.domain: o.version for o in model.opset_import}
    opset = opsets.get("", opsets.get("ai.onnx", 0))
    used = sorted({n.op_type for n in _nodes(model.graph) if n.domain == DOMAIN and validate_node(n) is not None})
    if not used:
        return model
    if opset < MIN_OPSET:
        raise ExportError(f"DSpark functions need default-domain opset >= {MIN_OPSET}; the model has {opset} "
                          f"(upgrade it with onnx.version_converter first)")
    need = max(OPS[o].version for o in used)  # an op's version is the domain version it first appeared in
    if DOMAIN in opsets and opsets[DOMAIN] < need:
        raise ExportError(f"model imports domain '{DOMAIN}' version {opsets[DOMAIN]}; its ops need version {need}")
    if DOMAIN not in opsets:
        model.opset_import.append(helper.make_opsetid(DOMAIN, need))
    have = {(f.domain, f.name) for f in model.functions}
    model.functions.extend(make_function(o, opset) for o in used if (DOMAIN, o) not in have)
    model.ir_version = max(model.ir_version, 9)  # function attribute defaults need IR >= 9
    return model


def tensor_type(dtype: str, shape: tuple[str, ...], dims: dict[str, int | str] | None = None):
    """(elem_type, dims) for a spec dtype and symbolic shape; ``dims`` maps symbols to concrete dims."""
    dims = dims or {}
    out = [int(s) if s.isdigit() else dims.get(s, s) for s in shape]
    return ONNX_DTYPES[dtype], out


def make_op_model(op_name: str, dtypes: dict[str, str] | None = None, opset: int = DEFAULT_OPSET,
                  **attrs) -> ModelProto:
    """A model holding one ``op_name`` node whose graph inputs/outputs are the spec's (dynamic shapes).

    ``dtypes`` picks the dtype of inputs that allow several (default float32). For parity tests and
    plugin tests that build "a network with just the plugin".
    """
    spec = get_spec(op_name)
    dtypes = dtypes or {}
    for name, dt in dtypes.items():
        allowed = {t.name: t.dtypes for t in spec.inputs}
        if name not in allowed or dt not in allowed[name]:
            raise ExportError(f"{op_name}: input '{name}' cannot be {dt}; allowed: "
                              f"{ {n: list(d) for n, d in allowed.items()} }")

    def vi(t, dt):
        return helper.make_tensor_value_info(t.name, *tensor_type(dt, t.shape))

    inputs = [vi(t, dtypes.get(t.name, "float32" if "float32" in t.dtypes else t.dtypes[0])) for t in spec.inputs]
    outputs = [vi(t, t.dtypes[0]) for t in spec.outputs]
    node = make_op_node(op_name, list(spec.input_names), list(spec.output_names), **attrs)
    graph = helper.make_graph([node], f"{spec.name}_only", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return add_op_functions(model)
