"""A bounded closed-loop load of streaming `openai` clients, some hanging up mid-stream, and its checks:
nothing lost or duplicated, no row leaked, every completed greedy request equal to its offline twin."""

from __future__ import annotations

import asyncio
import random
import time

import numpy as np
import openai


def run_load(server, offline, model: str, prompts: list[str], lengths: tuple[int, ...], clients: int,
             per_client: int, chat: bool = False, hang_up: float = 0.2) -> str:
    """Drive `server` and check it; returns a line with TTFT and TPOT percentiles (client side)."""
    twins = {(p, n): r for n in lengths for p, r in zip(prompts, offline.generate(prompts, max_new_tokens=n, chat=chat))}
    before = {s: server.metric(f'dspark_requests_total{{finish_reason="{s}",state="{s}"}}') for s in ("cancelled", "failed")}
    finished_before = _finished(server)
    rng = random.Random(0)
    plan = [[(rng.choice(prompts), rng.choice(lengths), rng.random() < hang_up) for _ in range(per_client)]
            for _ in range(clients)]
    results = asyncio.run(_drive(server.url, model, plan, chat))

    completed = [r for r in results if not r["hung_up"]]
    hung_up = len(results) - len(completed)
    assert len(results) == clients * per_client and (hang_up == 0 or hung_up > 0)
    assert len({r["id"] for r in results}) == len(results), "a completion id was reused"
    for r in completed:
        ref = twins[(r["prompt"], r["max_tokens"])]
        assert r["finish_reasons"] == [{"eos": "stop", "length": "length"}[ref.finish_reason]], r
        assert r["text"] == ref.text and r["completion_tokens"] == len(ref.tokens), r

    deadline = time.monotonic() + 30  # the server notices hang-ups at its next step
    while time.monotonic() < deadline and (server.metric("dspark_queue_depth") or server.metric("dspark_batch_occupancy")):
        time.sleep(0.2)
    assert server.metric("dspark_queue_depth") == 0 and server.metric("dspark_batch_occupancy") == 0, "a row leaked"
    cancelled = server.metric('dspark_requests_total{finish_reason="cancelled",state="cancelled"}') - before["cancelled"]
    failed = server.metric('dspark_requests_total{finish_reason="failed",state="failed"}') - before["failed"]
    finished = _finished(server) - finished_before
    # every request ended exactly once; a hung-up one may have finished before the server saw it go
    assert failed == 0 and finished + cancelled == len(results) and finished >= len(completed)

    ttft = np.array([r["ttft"] for r in completed]) * 1e3
    tpot = np.array([r["tpot"] for r in completed if r["tpot"] is not None]) * 1e3
    return (f"{len(results)} requests from {clients} concurrent streaming clients, {hung_up} hung up: TTFT p50 "
            f"{np.percentile(ttft, 50):.0f} ms p99 {np.percentile(ttft, 99):.0f} ms; TPOT p50 "
            f"{np.percentile(tpot, 50):.1f} ms p99 {np.percentile(tpot, 99):.1f} ms")


def _finished(server) -> float:
    return sum(server.metric(f'dspark_requests_total{{finish_reason="{r}",state="finished"}}')
               for r in ("eos", "length", "stop"))


async def _drive(url: str, model: str, plan, chat: bool) -> list[dict]:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    try:
        per_client = await asyncio.gather(*(_client(client, model, requests, chat) for requests in plan))
    finally:
        await client.close()
    return [r for rs in per_client for r in rs]


async def _client(client, model: str, requests, chat: bool) -> list[dict]:
    out = []
    for prompt, max_tokens, hang_up in requests:
        t0 = time.perf_counter()
        args = dict(model=model, max_tokens=max_tokens, temperature=0, stream=True,
                    stream_options={"include_usage": True})
        if chat:
            stream = await client.chat.completions.create(messages=[{"role": "user", "content": prompt}], **args)
        else:
            stream = await client.completions.create(prompt=prompt, **args)
        r = {"prompt": prompt, "max_tokens": max_tokens, "hung_up": hang_up, "text": "", "finish_reasons": [],
             "completion_tokens": None, "ttft": None, "tpot": None, "id": None}
        async for chunk in stream:
            r["id"] = chunk.id
            if chunk.usage is not None:
                r["completion_tokens"] = chunk.usage.completion_tokens
            for choice in chunk.choices:
                if r["ttft"] is None:
                    r["ttft"] = time.perf_counter() - t0
                r["text"] += (choice.delta.content or "") if chat else choice.text
                if choice.finish_reason:
                    r["finish_reasons"].append(choice.finish_reason)
            if hang_up:
                await stream.close()
                break
        if not hang_up and r["completion_tokens"] and r["completion_tokens"] > 1:
            r["tpot"] = (time.perf_counter() - t0 - r["ttft"]) / (r["completion_tokens"] - 1)
        out.append(r)
    return out
