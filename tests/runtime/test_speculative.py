"""Speculative decoding is lossless: greedy output equals plain greedy decoding token for token, and
sampled output follows the same distribution as plain sampling.

The drafter here is a "copy drafter" (see conftest.py): it proposes the previous token.
"""

import numpy as np
import pytest

from dspark_compile.config import SchedulerConfig
from dspark_compile.runtime.api import Runtime
from dspark_compile.runtime.autoregressive import decode_autoregressive
from dspark_compile.runtime.rows import RowParams
from dspark_compile.runtime.sampling import SamplingParams
from tests.conftest import FAMILIES

GREEDY = SamplingParams()
MODES = ("fixed", "threshold", "cost", "off")
PROMPTS = ["The cat", "Once upon a time, in a land far away,", "x", "1, 2, 3, 4, 5,", "Hello, world. Hello"]


def _plain(plain, ids, n, sampling=None):
    sampling = sampling or [GREEDY] * len(ids)
    return [d.tokens for d in decode_autoregressive(plain, ids, n, sampling, prefill_chunk=32, eos_ids=())]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", MODES)
def test_greedy_speculative_equals_plain(bundles, family, mode):
    rt, plain = bundles(family)
    ids = [rt.encode(p) for p in PROMPTS]  # mixed prompt lengths in one batch
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=SchedulerConfig(mode=mode))
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    m = res.metrics()
    if mode == "off":
        assert m["tau"] == 1.0 and m["mean_verify_length"] == 0.0
    elif mode != "cost":  # (cost mode may rightly verify little: it follows the cost curve measured here)
        assert m["tau"] > 1.1, m  # drafts were accepted: the multi-token commit paths ran


@pytest.mark.parametrize("mode", ["fixed", "cost"])
def test_draft_vocabulary_drafter_is_lossless_and_shares_the_embedding(bundles, mode):
    """A drafter that scores 3 ids in 4: greedy output equals plain decoding, drafts are accepted, and the
    bundle stores the embedding once (the drafter graph reads it from target.weights)."""
    import onnx

    rt, plain = bundles("llama", 4, draft_vocab=True)
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=SchedulerConfig(mode=mode))
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    if mode == "fixed":
        assert res.metrics()["tau"] > 1.1
    root = rt.bundle.root
    graph = onnx.load(str(root / "drafter.onnx"), load_external_data=False).graph
    where = {t.name: {e.key: e.value for e in t.external_data}.get("location") for t in graph.initializer}
    assert where["embed_tokens.weight"] == "target.weights"
    assert "target.weights" in rt.bundle.engine("drafter")["files"]
    assert not any(len(t.dims) == 2 and t.dims[0] == 64 and t.dims[1] >= 256 for t in graph.initializer), \
        "the lm_head rows are read from the embedding, not stored"


@pytest.mark.parametrize("gamma", [1, 8])
@pytest.mark.parametrize("rows", [1, 16])
def test_block_sizes_and_batch_sizes(bundles, gamma, rows):
    rt, plain = bundles("llama", gamma)
    ids = [rt.encode(PROMPTS[i % len(PROMPTS)] * (1 + i % 3)) for i in range(rows)]
    res = rt.generate_ids(ids, 24, [GREEDY] * rows, ignore_eos=True, scheduler=SchedulerConfig(mode="fixed"))
    assert [r.tokens for r in res] == _plain(plain, ids, 24)
    assert res.metrics()["tau"] > 1.0


def test_eos_and_limits_cut_a_round(bundles):
    rt, plain = bundles("qwen3")
    ids = [rt.encode(p) for p in PROMPTS]
    free = _plain(plain, ids, 30)
    stop = free[1][7]
    res = rt.generate_ids(ids, 30, [GREEDY] * len(ids), scheduler=SchedulerConfig(mode="fixed"))
    rt_eos = Runtime(rt.bundle)  # same bundle, EOS swapped for a token the plain decode emits
    rt_eos.target.info = rt_eos.info = type(rt.info)(**{**rt.info.__dict__, "eos_token_ids": (stop,)})
    res = rt_eos.generate_ids(ids, 30, [GREEDY] * len(ids), scheduler=SchedulerConfig(mode="fixed"))
    for row, expected in zip(res, free):
        if stop in expected:
            assert row.tokens == expected[: expected.index(stop) + 1] and row.finish_reason == "eos"
        else:
            assert row.tokens == expected and row.finish_reason == "length"
    short = rt.generate_ids(ids, 3, [GREEDY] * len(ids), ignore_eos=True, scheduler=SchedulerConfig(mode="fixed"))
    assert [r.tokens for r in short] == [f[:3] for f in free]


# --------------------------------------------------------------------------- sampling is lossless

def _chi2_critical(df: int, z: float = 3.29) -> float:
    """Upper chi-square quantile (Wilson-Hilferty), z = 3.29: a 1-in-2000 false alarm rate."""
    return df * (1 - 2 / (9 * df) + z * np.sqrt(2 / (9 * df))) ** 3


def same_distribution(a: list[tuple], b: list[tuple]) -> bool:
    """Two-sample chi-square test of homogeneity over the observed outcomes (sparse cells pooled)."""
    keys = sorted(set(a) | set(b))
    ca = np.array([a.count(k) for k in keys], float)
    cb = np.array([b.count(k) for k in keys], float)
    small = (ca + cb) < 10
    if small.any():
        ca = np.append(ca[~small], ca[small].sum())
        cb = np.append(cb[~small], cb[small].sum())
    table = np.stack([ca, cb])
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / np.maximum(expected, 1e-12)).sum())
    return stat < _chi2_critical(table.shape[1] - 1)


def _samples(fn, rows: int, batches: int) -> list[tuple]:
    out = []
    for batch in range(batches):
        sampling = [SamplingParams(temperature=1.0, top_k=3, seed=batch * rows + r) for r in range(rows)]
        out += [tuple(t[1:3]) for t in fn(sampling)]  # tokens 2-3: the first comes from the prefill alone
    return out


def spec_and_plain_samples(rt, plain, ids: list[int], rows: int = 250, batches: int = 8):
    """Tokens 2-3 of `rows` x `batches` sampled sequences, speculative (fixed γ) and plain (other seeds)."""

    def speculative(sampling):
        res = rt.generate_ids([ids] * rows, 3, sampling, ignore_eos=True, scheduler=SchedulerConfig(mode="fixed"))
        return [r.tokens for r in res]

    def plain_sampling(sampling):
        sampling = [SamplingParams(temperature=s.temperature, top_k=s.top_k, seed=s.seed + 10**6) for s in sampling]
        return _plain(plain, [ids] * rows, 3, sampling)

    return _samples(speculative, rows, batches), _samples(plain_sampling, rows, batches)


@pytest.mark.parametrize("draft_vocab", [False, True], ids=["full_vocab", "draft_vocab"])
def test_sampled_sequences_follow_the_plain_distribution(bundles, draft_vocab):
    rt, plain = bundles("llama", 2, draft_vocab)
    ids = rt.encode("abab")
    rows, batches = 250, 8

    def accept_everything(sampling):
        """A broken accept rule: every draft accepted (the output is then the drafter's, not the target's)."""
        params = RowParams.of(sampling, list(range(rows)))
        rounds = np.zeros(rows, np.uint32)
        first, pending = rt.target.prefill(rt.target.new_cache(rows, 64), [np.array(ids)] * rows, 32, params, rounds)
        draft = rt.drafter.draft(rt.drafter.new_cache(rows, 64), pending, first, params, rounds + 1)
        return [[int(f), *d] for f, d in zip(first, draft.sample.draft_tokens.tolist())]

    spec, ref = spec_and_plain_samples(rt, plain, ids, rows, batches)
    broken = _samples(accept_everything, rows, batches)
    assert same_distribution(spec, ref)
    assert not same_distribution(broken, ref)  # the test can fail: a wrong accept rule is caught


@pytest.mark.parametrize("mode", ["cost", "threshold"])
def test_the_drafter_graph_schedules_and_the_runtime_uses_its_choice(bundles, monkeypatch, mode):
    """The drafter graph ends DraftSample → Schedule with the recipe's settings (cost here). With those
    settings the runtime takes the graph's verify lengths, which equal the host op's on the same inputs
    (lagged survivals two drafting rounds old, the live rows' cost curve); other settings run the host op."""
    from dspark_compile.runtime.scheduler import Scheduler, schedule_attrs

    rt, plain = bundles("llama")
    config = SchedulerConfig(mode=mode, fallback=False)
    baked = rt.bundle.manifest["drafter"]["schedule"]
    assert (baked == schedule_attrs(config)) == (mode == "cost")
    rounds = []
    choose = Scheduler.choose

    def checked(self, draft, lagged, live):
        got = choose(self, draft, lagged, live)
        assert draft.verify_lengths is not None and draft.schedule == baked
        host = self.lengths(draft.sample.survivals, lagged, live)
        assert np.array_equal(got, host), (got, host)
        rounds.append(bool(np.array_equal(got, draft.verify_lengths)))
        return got

    monkeypatch.setattr(Scheduler, "choose", checked)
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 24, [GREEDY] * len(ids), ignore_eos=True, scheduler=config)
    assert [r.tokens for r in res] == _plain(plain, ids, 24)
    assert len(rounds) > 3
    if mode == "cost":
        assert all(rounds)


def test_engines_that_take_turns_stop_spinning_after_their_runs(bundles):
    """Neither the drafter's nor the target's workers may spin into the other's run (README, "Threads")."""
    entry = "session.force_spinning_stop"
    rt, _ = bundles("llama")
    for engine in (rt.drafter.engine, rt.target.engine):
        assert engine.session.get_session_options().get_session_config_entry(entry) == "1"
