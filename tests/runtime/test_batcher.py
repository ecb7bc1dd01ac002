"""Continuous batching: requests join mid-run, wait in a queue past max_batch, get cancelled, stream;
every request's greedy output still equals plain greedy decoding of that prompt alone."""

import pytest

from dspark_compile.config import SchedulerConfig
from dspark_compile.errors import GenerationError
from dspark_compile.runtime.api import Runtime
from dspark_compile.runtime.autoregressive import decode_autoregressive
from dspark_compile.runtime.batcher import Batcher
from dspark_compile.runtime.sampling import SamplingParams
from tests.helpers import plain_target

GREEDY = SamplingParams()
PROMPTS = ["a", "The cat sat on the mat.", "Once upon a time " * 6, "1 2 3", "xyz xyz", "Hello!", "q"]


@pytest.fixture(scope="module")
def setup(tiny_bundles):
    path = tiny_bundles("qwen3")
    return Runtime.load(path), plain_target(path)


def _expected(plain, ids, n):
    return decode_autoregressive(plain, [ids], n, [GREEDY], eos_ids=())[0].tokens


def _batcher(rt, max_batch, mode="fixed"):
    sched = rt.scheduler(SchedulerConfig(mode=mode))
    return Batcher(rt.target, rt.drafter, sched, max_batch, prefill_chunk=8, eos_ids=())


def test_requests_join_mid_run_and_overflow_waits(setup):
    rt, plain = setup
    b = _batcher(rt, max_batch=3)
    first = [b.submit(rt.encode(p), 12) for p in PROMPTS[:2]]
    for _ in range(3):
        b.step()
    assert all(len(r.tokens) > 0 for r in first) and not any(r.finished for r in first)
    later = [b.submit(rt.encode(p), 10 + i) for i, p in enumerate(PROMPTS[2:])]  # 5 more: 2 must wait
    b.step()
    assert len(b.queue) >= 2  # queued, not dropped
    most_rows = 0
    while b.busy:
        b.step()
        most_rows = max(most_rows, len(b.rows))
    assert most_rows <= 3
    for req, prompt in zip(first + later, PROMPTS):
        assert req.finish_reason == "length" and len(req.tokens) == req.max_new_tokens
        assert req.tokens == _expected(plain, rt.encode(prompt), req.max_new_tokens), prompt


def test_long_prompt_prefills_in_chunks_while_others_decode(setup):
    rt, plain = setup
    b = _batcher(rt, max_batch=4)
    short = b.submit(rt.encode("hi"), 30)
    b.step()
    long = b.submit(rt.encode("Once upon a time " * 6), 8)  # 102 tokens: 13 chunks of 8
    progress = []
    while long.stats.time_to_first_token == 0.0:
        before = len(short.tokens)
        b.step()
        progress.append(len(short.tokens) - before)
    assert len(progress) >= 10 and all(p >= 1 for p in progress[:-1])  # decoding went on meanwhile
    b.run()
    assert short.tokens == _expected(plain, rt.encode("hi"), 30)
    assert long.tokens == _expected(plain, rt.encode("Once upon a time " * 6), 8)


def test_cancel_frees_the_row_and_leaves_others_untouched(setup):
    rt, plain = setup
    b = _batcher(rt, max_batch=2)
    keep, drop, waiting = (b.submit(rt.encode(p), 20) for p in PROMPTS[:3])
    for _ in range(3):
        b.step()
    b.cancel(drop)
    assert drop.finish_reason == "cancelled"
    b.step()
    assert waiting in b.rows or waiting in b.joining  # the freed row went to the queued request
    b.run()
    assert len(drop.tokens) < 20
    assert keep.tokens == _expected(plain, rt.encode(PROMPTS[0]), 20)
    assert waiting.tokens == _expected(plain, rt.encode(PROMPTS[2]), 20)
    queued = b.submit(rt.encode("never runs"), 5)
    b.cancel(queued)
    assert queued.finish_reason == "cancelled" and not b.busy


def test_stream_yields_the_same_text(setup):
    rt, _ = setup
    pieces = {0: "", 1: ""}
    reasons = {}
    for i, text, reason in rt.stream(["Hello there", "abc"], max_new_tokens=12):
        pieces[i] += text
        if reason:
            reasons[i] = reason
    full = rt.generate(["Hello there", "abc"], max_new_tokens=12)
    assert [pieces[0], pieces[1]] == [r.text for r in full]
    assert set(reasons) == {0, 1}


def test_bad_submissions(setup):
    rt, _ = setup
    b = _batcher(rt, max_batch=2)
    with pytest.raises(GenerationError, match="prompt is empty"):
        b.submit([], 4)
    with pytest.raises(GenerationError, match="max_new_tokens = 0"):
        b.submit([5], 0)
    with pytest.raises(GenerationError, match="needs a context of"):
        b.submit([5] * 250, 64)


def test_stop_strings_end_a_request_cleanly(tiny_bundles):
    rt = Runtime.load(tiny_bundles("llama"))
    prompts = ["Once upon a time", "1 2 3"]  # the tiny llama answers the first with one letter, repeated
    sched = SchedulerConfig(mode="fixed")
    full = rt.generate(prompts, max_new_tokens=24, scheduler=sched)
    text = full[0].text
    assert len(text) >= 10 and len(set(text)) == 1, text
    res = rt.generate(prompts, max_new_tokens=24, scheduler=sched, stop=(text[:5], "never appears"))
    # ends at the 5th token (the one completing the stop string); the stop string is cut from the text
    assert res[0].finish_reason == "stop" and res[0].tokens == full[0].tokens[:5] and res[0].text == ""
    assert res[1].tokens == full[1].tokens and res[1].finish_reason == full[1].finish_reason
    res = rt.generate(prompts[:1], max_new_tokens=24, scheduler=sched, stop=(text[:1] + "!",))
    assert res[0].finish_reason == full[0].finish_reason and res[0].tokens == full[0].tokens
    with pytest.raises(GenerationError, match="stop string is empty"):
        rt.generate(prompts, stop=("",))
