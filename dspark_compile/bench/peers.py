"""transformers peers of the runtime, on the same target weights: `generate`, and assisted generation by
prompt lookup (`prompt_lookup_num_tokens`; SmolLM2-135M is its family's smallest model, so there is no
assistant model with its tokenizer to pass as `assistant_model`).

`generate` has no continuous batching, so peers are measured with one client (concurrency 1) only.
"""

from __future__ import annotations

import time

from dspark_compile.bench.load import LoadRun, Served
from dspark_compile.runtime.rows import RowStats


class _Clock:
    """A `generate` streamer that notes when each put of new tokens arrives (the first put is the prompt)."""

    def __init__(self):
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def target_recipe(recipe: dict, source: str):
    """The bundle's recipe as the peers need it: the target only. The drafter's path was relative to a
    recipe file the bundle does not keep, and the peers do not use it."""
    from dspark_compile.config import parse_recipe

    return parse_recipe({k: v for k, v in recipe.items() if k != "draft"}, source=source)


class HFPeer:
    """The bundle's target as a transformers model (fp32, the weights the bundle was built from)."""

    def __init__(self, recipe, threads: int | None):
        import torch

        from dspark_compile.sources import load_target

        if threads:
            torch.set_num_threads(threads)
        loaded = load_target(recipe.target, recipe.resolve)
        self.model = loaded.model.eval()
        self.model.generation_config.eos_token_id = None  # every arm generates exactly new_tokens
        self.pad = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0

    def serve(self, kind: str, prompts: list[list[int]], order: list[int], new_tokens: int, sampling,
              lookup_tokens: int) -> LoadRun:
        """One client: generate for prompts[i], i in `order`, one after the other."""
        import torch

        extra = {"prompt_lookup_num_tokens": lookup_tokens} if kind == "prompt-lookup" else {}
        if sampling.temperature > 0:
            extra.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        else:
            extra.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        served = []
        t_start = time.perf_counter()
        for n, i in enumerate(order):
            torch.manual_seed(sampling.seed + n)
            clock = _Clock()
            ids = torch.tensor([prompts[i]])  # [1, T]
            t0 = time.perf_counter()
            with torch.no_grad():
                out = self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                          min_new_tokens=None, pad_token_id=self.pad, streamer=clock, **extra)
            tokens = out[0, ids.shape[1]:].tolist()
            puts = clock.times[1:]  # after the prompt: the first token, then one put per decoding round
            stats = RowStats(rounds=len(puts) - 1, time_to_first_token=puts[0] - t0, seconds=puts[-1] - t0)
            served.append(Served(i, tokens, puts[0] - t0, puts[-1] - t0, stats))
        return LoadRun(served, time.perf_counter() - t_start)
