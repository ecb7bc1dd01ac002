"""The engine loop on the tiny bundle, without HTTP: job lifetimes, the queue limit, draining."""

from __future__ import annotations

import threading

import pytest

from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.serve.engine import Engine, Job, Refused, State


class Sink:
    def __init__(self):
        self.updates, self.done = [], threading.Event()

    def __call__(self, update):
        self.updates.append(update)
        if update.last:
            self.done.set()


def _job(rt, prompt: str, max_tokens: int) -> tuple[Job, Sink]:
    sink = Sink()
    return Job(rt.encode(prompt), max_tokens, SamplingParams(), (), sink), sink


def test_drain_lets_requests_finish_and_refuses_new_ones(offline):
    batcher = offline.batcher()
    engine = Engine(batcher, max_queue=2, block_size=batcher.block)
    jobs = [_job(offline, p, 6) for p in ("hello", "abc")]
    for job, _ in jobs:
        engine.submit(job)  # before the loop runs: both wait in the queue
    with pytest.raises(Refused) as full:
        engine.submit(_job(offline, "one too many", 2)[0])
    assert full.value.status == 429 and full.value.retry_after
    engine.drain(timeout=600)
    with pytest.raises(Refused) as closing:
        engine.submit(_job(offline, "late", 2)[0])
    assert closing.value.status == 503
    engine.start()
    try:
        refs = offline.generate(["hello", "abc"], max_new_tokens=6)
        for (job, sink), ref in zip(jobs, refs):
            assert sink.done.wait(120)
            states = [u.state for u in sink.updates]
            assert states[0] is State.QUEUED and states[-1] is State.FINISHED and job.state is State.FINISHED
            assert set(states[1:-1]) <= {State.RUNNING}
            assert list(sink.updates[-1].tokens) == ref.tokens and sink.updates[-1].finish_reason == ref.finish_reason
        assert engine.idle
    finally:
        engine.stop()


def test_drain_deadline_fails_requests_in_flight(offline):
    batcher = offline.batcher()
    engine = Engine(batcher, block_size=batcher.block)
    jobs = [_job(offline, p, 200) for p in ("hello", "abc", "Dear diary,")]
    for job, _ in jobs:
        engine.submit(job)
    engine.drain(timeout=0)
    engine.start()
    try:
        for job, sink in jobs:
            assert sink.done.wait(120)
            last = sink.updates[-1]
            assert job.state is State.FAILED and last.status == 503 and "shut down" in last.error
        assert engine.idle
    finally:
        engine.stop()
