"""Random inputs for the DSpark ops and an ONNX Runtime runner with cached sessions (test helpers)."""

from __future__ import annotations

import functools

import numpy as np

from dspark_compile.ops import rng
from dspark_compile.ops.onnx_functions import make_op_model
from dspark_compile.ops.spec import get_spec

F32 = np.float32
KINDS = ("greedy", "sample", "top_k", "top_p", "mixed")


def row_params(rs: np.random.Generator, B: int, V: int, kind: str):
    """temperature [B], top_k [B], top_p [B] for a sampling kind; 'mixed' cycles through all per row."""
    kinds = [KINDS[(b + rs.integers(4)) % 4] if kind == "mixed" else kind for b in range(B)]
    if kind == "mixed":
        kinds = [k if b % 5 else "both" for b, k in enumerate(kinds)]
    t = np.array([0.0 if k == "greedy" else rs.uniform(0.5, 1.5) for k in kinds], F32)
    top_k = np.array([rs.integers(1, min(V, 50) + 1) if k in ("top_k", "both") else 0 for k in kinds], np.int32)
    top_p = np.array([rs.uniform(0.2, 0.95) if k in ("top_p", "both") else 1.0 for k in kinds], F32)
    return t, top_k, top_p


def _uniform_rows(rs, B):
    return rs.integers(0, 2**32, B, dtype=np.uint64), np.arange(B), rs.integers(0, 1000, B)


def draft_inputs(rs, B, G, V, kind, dtype=F32, H=8, r=4, vd=None) -> dict:
    """DraftSample inputs over a target vocabulary of V; a draft vocabulary of `vd` random target ids
    (sorted; None: all V)."""
    t, top_k, top_p = row_params(rs, B, V if vd is None else vd, kind)
    ids = np.arange(V) if vd is None else np.sort(rs.choice(V, vd, replace=False))
    Vd = ids.size
    return dict(
        block_logits=(2 * rs.normal(size=(B, G, Vd))).astype(dtype),        # [B, G, Vd]
        block_hidden=rs.normal(size=(B, G, H)).astype(dtype),               # [B, G, H]
        anchor=rs.integers(0, V, B).astype(np.int32),                       # [B]
        markov_w1=rs.normal(size=(V, r)).astype(dtype),                     # [V, r]
        markov_w2=(0.5 * rs.normal(size=(Vd, r))).astype(dtype),            # [Vd, r]
        draft_vocab=ids.astype(np.int32),                                   # [Vd]
        conf_w=(0.3 * rs.normal(size=H + r)).astype(dtype),                 # [H + r]
        conf_b=np.array([0.2], dtype),                                      # [1]
        sts_temps=rs.uniform(0.5, 2.0, G).astype(F32),                      # [G]
        temperature=t, top_k=top_k, top_p=top_p,
        uniforms=rng.draft_uniforms(*_uniform_rows(rs, B), G),              # [B, G]
    )


def verify_inputs(rs, B, G, V, kind, dtype=F32, vd=None) -> dict:
    """Drafts that agree with the target often enough to reach every accept/reject/bonus path; drawn over a
    draft vocabulary of `vd` random target ids (sorted; None: all V), q_full over it."""
    from dspark_compile.ops import reference as R

    t, top_k, top_p = row_params(rs, B, V if vd is None else vd, kind)
    ids = np.arange(V) if vd is None else np.sort(rs.choice(V, vd, replace=False))
    logits = (2 * rs.normal(size=(B, G + 1, V))).astype(F32)               # [B, G+1, V]
    q_full = np.zeros((B, G, ids.size), F32)                                # [B, G, Vd]
    drafts, draft_q = np.zeros((B, G), np.int32), np.ones((B, G), F32)    # greedy rows: q = 1 (never read)
    for b in range(B):
        for i in range(G):
            if t[b] <= 0:
                drafts[b, i] = np.argmax(logits[b, i]) if rs.random() < 0.8 else rs.integers(V)
                j = min(np.searchsorted(ids, drafts[b, i]), ids.size - 1)
                q_full[b, i, j] = ids[j] == drafts[b, i]                    # the one-hot, where it is drawable
            else:
                z = logits[b, i, ids] + rs.normal(scale=0.7, size=ids.size).astype(F32)
                q_full[b, i] = R.filter_probs(z, t[b], int(top_k[b]), top_p[b])
                j = R.sample_index(q_full[b, i], rs.random())
                drafts[b, i], draft_q[b, i] = ids[j], q_full[b, i, j]
    return dict(
        target_logits=logits.astype(dtype), draft_tokens=drafts, draft_q=draft_q,
        q_full=q_full, draft_vocab=ids.astype(np.int32), verify_lengths=rs.integers(0, G + 1, B).astype(np.int32),
        uniforms=rng.verify_uniforms(*_uniform_rows(rs, B), G),             # [B, 2G+1]
        temperature=t, top_k=top_k, top_p=top_p,
    )


def schedule_inputs(rs, B, G, N=None) -> dict:
    def surv():
        return np.cumprod(rs.uniform(0.3, 1.0, (B, G)), axis=1).astype(F32)  # [B, G] non-increasing
    N = N or B * (G + 1)
    n = np.arange(1, N + 1)
    cost = (1 + 0.03 * n ** rs.uniform(1, 1.6) + rs.uniform(0, 0.05, N)).astype(F32)  # noisy, not monotone
    active = (rs.random(B) < 0.8).astype(np.int32)
    return dict(survivals=surv(), lagged_survivals=surv(), cost_table=cost, active=active)


@functools.lru_cache(maxsize=None)
def _session(op_name: str, dtypes: tuple, attrs: tuple):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    model = make_op_model(op_name, dict(dtypes), **dict(attrs))
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def run_ort(op_name: str, inputs: dict, **attrs) -> list[np.ndarray]:
    """Run the single-op model of ``op_name`` in ONNX Runtime; input dtypes are taken from ``inputs``."""
    spec = get_spec(op_name)
    dtypes = tuple(sorted((t.name, inputs[t.name].dtype.name) for t in spec.inputs if len(t.dtypes) > 1))
    return _session(op_name, dtypes, tuple(sorted(attrs.items()))).run(None, inputs)
