"""Peers of the runtime on the same target: llama.cpp on the bundle's own GGUF (`llama-cpp-python`), and
transformers peers on the same target weights: `generate`, and assisted generation by
prompt lookup (`prompt_lookup_num_tokens`; SmolLM2-135M is its family's smallest model, so there is no
assistant model with its tokenizer to pass as `assistant_model`).

`generate` has no continuous batching, so peers are measured with one client (concurrency 1) only. Neither
do llama-cpp-python's bindings (one sequence per `Llama`): at C clients llama.cpp would serve the
requests one after the other, so its throughput at any load is its one-client rate.
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


LLAMA_CPP_PIN = "llama-cpp-python==0.3.36"


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppPeer:
    """llama.cpp on the GGUF the bundle's target was built from, fed the same prompt token ids (the GGUF's
    own vocabulary), EOS ignored, `threads` threads."""

    def __init__(self, recipe, threads: int | None, n_ctx: int = 2048):
        from dspark_compile.bench.config import BenchError
        from dspark_compile.sources import gguf_file

        if not llama_cpp_available():
            raise BenchError(f"the llama-cpp peer needs llama-cpp-python: pip install {LLAMA_CPP_PIN} "
                             "(builds from source, ~10 min)")
        path = gguf_file(recipe.target, recipe.resolve)
        if path is None:
            raise BenchError(f"the llama-cpp peer runs the target's GGUF, but target.source = '{recipe.target.source}'")
        from llama_cpp import Llama

        kwargs = {"n_threads": threads, "n_threads_batch": threads} if threads else {}
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_batch=256, verbose=False, **kwargs)
        self.path = path

    def serve(self, kind: str, prompts: list[list[int]], order: list[int], new_tokens: int, sampling,
              lookup_tokens: int) -> LoadRun:
        """One client: generate for prompts[i], i in `order`, one after the other."""
        served = []
        t_start = time.perf_counter()
        for n, i in enumerate(order):
            self.llm.reset()
            if sampling.temperature > 0:
                self.llm.set_seed(sampling.seed + n)
                opts = {"temp": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
            else:
                opts = {"temp": 0.0, "top_k": 1, "top_p": 1.0}
            t0 = time.perf_counter()
            tokens, times = [], []
            for tok in self.llm.generate(prompts[i], repeat_penalty=1.0, min_p=0.0, reset=True, **opts):
                tokens.append(int(tok))
                times.append(time.perf_counter())
                if len(tokens) == new_tokens:
                    break
            stats = RowStats(rounds=len(tokens) - 1, time_to_first_token=times[0] - t0, seconds=times[-1] - t0)
            served.append(Served(i, tokens, times[0] - t0, times[-1] - t0, stats))
        return LoadRun(served, time.perf_counter() - t_start)
