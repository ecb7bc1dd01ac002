"""A bounded load test: 64 concurrent streaming clients (some hang up mid-stream) against the tiny bundle.

Nothing may be lost or duplicated, no batch row may leak, and every greedy completion that ran to the end must
equal its offline twin token for token (its text and token count).
"""

from __future__ import annotations

import asyncio
import random
import time

import numpy as np
import openai

CLIENTS = 64
PER_CLIENT = 2
PROMPTS = ["The quick brown fox", "hello", "Once upon a time, in a land far away", "abc", "1 2 3 4",
           "What is the capital of France?", "zzz", "Dear diary,"]
LENGTHS = (4, 10)


def test_64_streams_with_disconnects(server, offline):
    twins = {(p, n): r for n in LENGTHS
             for p, r in zip(PROMPTS, offline.generate(PROMPTS, max_new_tokens=n))}
    before = {s: server.metric(f'dspark_requests_total{{finish_reason="{r}",state="{s}"}}')
              for s, r in (("cancelled", "cancelled"), ("failed", "failed"))}
    finished_before = _finished(server)
    rng = random.Random(0)
    plan = [[(rng.choice(PROMPTS), rng.choice(LENGTHS), rng.random() < 0.2) for _ in range(PER_CLIENT)]
            for _ in range(CLIENTS)]
    results = asyncio.run(_drive(server.url, plan))

    completed = [r for r in results if not r["hung_up"]]
    hung_up = len(results) - len(completed)
    assert len(results) == CLIENTS * PER_CLIENT and hung_up > 0 and len(completed) > CLIENTS
    assert len({r["id"] for r in results}) == len(results), "a completion id was reused"
    for r in completed:
        ref = twins[(r["prompt"], r["max_tokens"])]
        assert r["finish_reasons"] == [{"eos": "stop", "length": "length"}[ref.finish_reason]], r
        assert r["text"] == ref.text and r["completion_tokens"] == len(ref.tokens), r

    deadline = time.monotonic() + 20  # the server notices hang-ups at its next step
    while time.monotonic() < deadline and (server.metric("dspark_queue_depth") or server.metric("dspark_batch_occupancy")):
        time.sleep(0.2)
    assert server.metric("dspark_queue_depth") == 0 and server.metric("dspark_batch_occupancy") == 0, "a row leaked"
    cancelled = server.metric('dspark_requests_total{finish_reason="cancelled",state="cancelled"}') - before["cancelled"]
    failed = server.metric('dspark_requests_total{finish_reason="failed",state="failed"}') - before["failed"]
    finished = _finished(server) - finished_before
    # every request ended exactly once; a hung-up one may have finished before the server saw it go
    assert failed == 0 and finished + cancelled == len(results) and finished >= len(completed)

    ttft = np.array([r["ttft"] for r in completed])
    tpot = np.array([r["tpot"] for r in completed if r["tpot"] is not None])
    print(f"\n{len(results)} requests, {CLIENTS} concurrent streams, {hung_up} hung up: TTFT p50 "
          f"{np.percentile(ttft, 50) * 1e3:.0f} ms p99 {np.percentile(ttft, 99) * 1e3:.0f} ms; TPOT p50 "
          f"{np.percentile(tpot, 50) * 1e3:.1f} ms p99 {np.percentile(tpot, 99) * 1e3:.1f} ms")


def _finished(server) -> float:
    return sum(server.metric(f'dspark_requests_total{{finish_reason="{r}",state="finished"}}')
               for r in ("eos", "length", "stop"))


async def _drive(url: str, plan) -> list[dict]:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)
    try:
        per_client = await asyncio.gather(*(_client(client, requests) for requests in plan))
    finally:
        await client.close()
    return [r for rs in per_client for r in rs]


async def _client(client, requests) -> list[dict]:
    out = []
    for prompt, max_tokens, hang_up in requests:
        t0 = time.perf_counter()
        stream = await client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=max_tokens,
                                                 temperature=0, stream=True, stream_options={"include_usage": True})
        r = {"prompt": prompt, "max_tokens": max_tokens, "hung_up": hang_up, "text": "", "finish_reasons": [],
             "completion_tokens": None, "ttft": None, "tpot": None, "id": None}
        async for chunk in stream:
            r["id"] = chunk.id
            if chunk.usage is not None:
                r["completion_tokens"] = chunk.usage.completion_tokens
            for choice in chunk.choices:
                if r["ttft"] is None:
                    r["ttft"] = time.perf_counter() - t0
                r["text"] += choice.text
                if choice.finish_reason:
                    r["finish_reasons"].append(choice.finish_reason)
            if hang_up:
                await stream.close()
                break
        if not hang_up and r["completion_tokens"] and r["completion_tokens"] > 1:
            r["tpot"] = (time.perf_counter() - t0 - r["ttft"]) / (r["completion_tokens"] - 1)
        out.append(r)
    return out
