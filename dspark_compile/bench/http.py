"""Closed-loop load on a running server (`bench --url`): the plan `closed_loop` runs in-process, sent over the
OpenAI API instead (streamed, prompts as token ids so both sides do the same work, ids returned so the greedy
check can compare the server's outputs with the in-process arms')."""

from __future__ import annotations

import asyncio
import time

from dspark_compile.bench.config import BenchError
from dspark_compile.bench.load import LoadRun, Served
from dspark_compile.runtime.rows import RowStats
from dspark_compile.runtime.sampling import SamplingParams


def http_closed_loop(url: str, prompts: list[list[int]], plan: list[list[int]], new_tokens: int,
                     sampling: SamplingParams) -> LoadRun:
    """Drive the server at `url` with one client per entry of `plan`; it must run with --ignore-eos."""
    return asyncio.run(_run(url.rstrip("/") + "/v1", prompts, plan, new_tokens, sampling))


async def _run(base: str, prompts, plan, new_tokens: int, sampling: SamplingParams) -> LoadRun:
    import openai

    client = openai.AsyncOpenAI(base_url=base, api_key="unused", max_retries=0, timeout=3600)
    try:
        try:
            model = (await client.models.list()).data[0].id
        except openai.APIConnectionError:
            raise BenchError(f"no server answers at {base} (start one: dspark-compile serve BUNDLE --ignore-eos)") from None
        served: list[Served] = []
        args = dict(model=model, max_tokens=new_tokens, temperature=sampling.temperature, top_p=sampling.top_p,
                    seed=sampling.seed, stream=True, extra_body={"top_k": sampling.top_k, "return_token_ids": True})

        async def user(indices: list[int]) -> None:
            for i in indices:
                t0 = time.perf_counter()
                tokens, ttft = [], None
                async for chunk in await client.completions.create(prompt=prompts[i], **args):
                    for choice in chunk.choices:
                        ids = getattr(choice, "token_ids", None) or []
                        if ids and ttft is None:
                            ttft = time.perf_counter() - t0
                        tokens += ids
                if len(tokens) != new_tokens:
                    raise BenchError(f"the server at {base} generated {len(tokens)} of {new_tokens} tokens: "
                                     "start it with --ignore-eos so every request does the same work")
                served.append(Served(i, tokens, ttft, time.perf_counter() - t0, RowStats()))

        t_start = time.perf_counter()
        await asyncio.gather(*(user(list(p)) for p in plan))
        return LoadRun(served, time.perf_counter() - t_start)
    finally:
        await client.close()
