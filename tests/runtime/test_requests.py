"""Every request is validated at the door (GenerationError) and isolated: a request that fails inside an engine
fails alone (RequestFailed), its row is freed and the others go on, token for token as if alone."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspark_compile.config import SchedulerConfig
from dspark_compile.errors import GenerationError, RequestFailed
from dspark_compile.runtime.api import Runtime
from dspark_compile.runtime.batcher import Batcher, Request
from dspark_compile.runtime.sampling import SamplingParams

GREEDY = SamplingParams()


@pytest.fixture(scope="module")
def rt(tiny_bundles):
    return Runtime.load(tiny_bundles("llama"))


def _batcher(rt, max_batch=3):
    return Batcher(rt.target, rt.drafter, rt.scheduler(SchedulerConfig(mode="fixed", fixed_len=3)), max_batch,
                   prefill_chunk=4, eos_ids=())


_SOLO: dict = {}


def _solo(rt, prompt, n):
    """The request run alone through a fresh batcher (the reference every batched run must equal)."""
    key = (tuple(prompt), n)
    if key not in _SOLO:
        b = _batcher(rt, 1)
        req = b.submit(list(prompt), n)
        b.run()
        _SOLO[key] = req.tokens
    return _SOLO[key]


@pytest.mark.parametrize("call, message", [
    # before the fix: a str was split into one prompt per character (5 results for "hello")
    (lambda rt: rt.generate("hello"), "prompts must be a list of strings, got str (wrap a single prompt in a list)"),
    (lambda rt: rt.generate([b"hi"]), "a prompt must be a str, got bytes"),
    (lambda rt: rt.generate(["\udcff"]), "the prompt is not valid UTF-8 text"),
    # before: fewer sampling settings than prompts silently dropped prompts
    (lambda rt: rt.generate_ids([[5], [6], [7]], 3, [GREEDY]), "one SamplingParams for all prompts or one per prompt (3)"),
    # before: a negative id wrapped around; an out-of-vocabulary id broke the engine
    (lambda rt: rt.generate_ids([[5, -1]], 3, GREEDY), r"prompt token 1 = -1: token ids are integers in [0, 512)"),
    (lambda rt: rt.generate_ids([[512]], 3, GREEDY), "prompt token 0 = 512"),
    (lambda rt: rt.generate_ids([[5, 2.0]], 3, GREEDY), "prompt token 1 = 2.0"),
    (lambda rt: rt.generate_ids([[True]], 3, GREEDY), "prompt token 0 = True"),
    (lambda rt: rt.generate_ids(["hello"], 3, GREEDY), "must be a list of integers, got str (encode text first"),
    (lambda rt: rt.generate_ids([[5]], 2.5, GREEDY), "max_new_tokens = 2.5: must be an integer >= 1"),
    (lambda rt: rt.generate_ids([[5]], 3, SamplingParams(temperature=1.0, top_k=600)), "top_k = 600: at most the vocabulary"),
    (lambda rt: rt.batcher().submit([5], 3, stop="x"), "stop must be a list of strings"),
    (lambda rt: rt.batcher().submit([5], 3, sampling={"temperature": 1}), "sampling must be a SamplingParams"),
])
def test_bad_requests_are_refused_at_the_door(rt, call, message):
    with pytest.raises(GenerationError) as err:
        call(rt)
    assert message in str(err.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 1e-40}, "temperature = 1e-40: must be 0 (greedy) or a number in [0.001, 100]"),  # before: id 0
    ({"temperature": float("nan")}, "temperature = nan"),
    ({"temperature": float("inf")}, "temperature = inf"),
    ({"temperature": "1"}, "temperature = '1'"),
    ({"top_k": 3_000_000_000}, "top_k = 3000000000: must be an integer in [0, 2^31 - 1]"),
    ({"top_k": 2.0}, "top_k = 2.0"),
    ({"top_p": float("nan")}, "top_p = nan"),
    ({"seed": -1}, "seed = -1"),
    ({"seed": True}, "seed = True"),
])
def test_sampling_settings_are_checked(kwargs, message):
    with pytest.raises(GenerationError) as err:
        SamplingParams(**kwargs)
    assert message in str(err.value)


def _poisoned(b: Batcher, vocab: int) -> Request:
    """A request with an out-of-vocabulary id slipped past the door (as a bug elsewhere could): the real
    engine fails on it."""
    req = Request(next(b._ids), [3, vocab + 7, 4], 4, GREEDY)
    b.queue.append(req)
    return req


def test_a_request_failing_in_the_engine_fails_alone(rt):
    # before the fix: every later step() raised ONNX Runtime's error; the good requests never finished
    b = _batcher(rt)
    good = [b.submit([7, 8, 9], 6), b.submit([10, 11], 5)]
    b.step()
    bad = _poisoned(b, rt.target.info.vocab_size)
    late = b.submit([12, 13, 14, 15, 16], 4)  # joins in the same group as the bad one
    b.run()
    assert bad.finish_reason == "error" and isinstance(bad.error, RequestFailed) and bad.tokens == []
    assert "failed in the engine while reading its prompt" in str(bad.error)
    for req in good + [late]:
        assert req.error is None and req.tokens == _solo(rt, req.prompt, req.max_new_tokens)
    b.step()
    assert b.rows == [] and b.batch.rows.live.shape == (0,)


def test_a_failed_decoding_round_ends_its_rows_and_the_batcher_goes_on(rt, monkeypatch):
    b = _batcher(rt)
    first = b.submit([7, 8, 9], 8)
    b.step()
    real, calls = rt.target.verify, []

    def failing_once(*args, **kwargs):  # a fault injected into the real engine call
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("device lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(rt.target, "verify", failing_once)
    b.step()
    assert first.finish_reason == "error" and "device lost" in str(first.error)
    after = b.submit([7, 8, 9], 5)
    b.run()
    assert after.tokens == _solo(rt, [7, 8, 9], 5)


_INVALID = [[], [-1], [600], [1.5], "abc", [None]]
_OPS = st.one_of(
    st.tuples(st.just("submit"), st.lists(st.integers(0, 511), min_size=1, max_size=9), st.integers(1, 6)),
    st.tuples(st.just("invalid"), st.sampled_from(range(len(_INVALID))), st.integers(-2, 6)),
    st.tuples(st.just("poison"), st.just(0), st.just(0)),
    st.tuples(st.just("cancel"), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("step"), st.integers(1, 3), st.just(0)),
)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_OPS, min_size=1, max_size=10))
def test_random_submits_cancels_and_bad_requests(rt, ops):
    """Property: whatever arrives in whatever order, each valid request's greedy output equals its solo run
    (a prefix of it when cancelled), bad requests are refused or fail alone, and no row is left behind."""
    b = _batcher(rt)
    valid, poisoned = [], []
    for op, a, n in ops:
        if op == "submit":
            valid.append(b.submit(a, n))
        elif op == "invalid":
            with pytest.raises(GenerationError):
                b.submit(_INVALID[a], n)
        elif op == "poison":
            poisoned.append(_poisoned(b, rt.target.info.vocab_size))
        elif op == "cancel" and valid + poisoned:
            b.cancel((valid + poisoned)[a % len(valid + poisoned)])
        elif op == "step":
            for _ in range(a):
                b.step()
    b.run()
    b.step()
    assert b.rows == [] and b.joining == [] and not b.queue and b.prefill is None
    assert b.batch.rows.live.shape == (0,) and b.batch.rows.anchor.shape == (0,)
    for req in valid:
        solo = _solo(rt, req.prompt, req.max_new_tokens)
        if req.finish_reason == "cancelled":
            assert req.tokens == solo[: len(req.tokens)]
        else:
            assert req.error is None and req.finish_reason == "length" and req.tokens == solo
    for req in poisoned:
        assert req.finish_reason in ("error", "cancelled") and req.tokens == []
        assert req.finish_reason == "cancelled" or isinstance(req.error, RequestFailed)
