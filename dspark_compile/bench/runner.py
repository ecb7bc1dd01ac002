"""The benchmark loop: every arm at every load level and sampling mode, warm-up first, repeats interleaved."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Callable

from dspark_compile.bench.config import Arm, BenchConfig, BenchError, load_prompts, peer_arms, runtime_arms, select
from dspark_compile.bench.load import LoadRun, SurvivalLog, closed_loop, schedule
from dspark_compile.bench.report import BenchResult, summarise

Progress = Callable[[str, int, int], None]  # (what is running, cells done, cells in all)


class _Bench:
    """One loaded bundle (and, when asked for, its transformers twin) that runs arms on demand."""

    def __init__(self, bundle: Path, config: BenchConfig):
        from dspark_compile.runtime.api import Runtime
        from dspark_compile.runtime.sampling import SamplingParams

        self.config = config
        self.rt = Runtime.load(bundle, threads=config.threads)
        tok = self.rt.tokenizer
        self.chat = bool(tok.chat_template) if config.chat is None else config.chat
        self.texts = load_prompts(config.prompts)
        self.prompts = [self.rt.encode(t, self.chat) for t in self.texts]
        self.block = self.rt.drafter.info.block_size if self.rt.drafter else 0
        arms, self.notes = runtime_arms(config, self.rt.scheduler_config, self.block, self.rt.costs is not None)
        peers = peer_arms(config)
        if any(a.peer for a in peers) and 1 not in config.levels:
            self.notes.append("the transformers peers run at concurrency 1 only, which is not among the levels")
            peers = [a for a in peers if not a.peer]
        self.arms = select(arms + peers, config.arm_names)
        self.sampling = {"greedy": SamplingParams(),
                         "sampled": SamplingParams(temperature=config.temperature, top_p=config.top_p, seed=config.seed)}
        self.peers = {}
        if any(a.peer for a in self.arms):
            from dspark_compile.bench.peers import HFPeer, LlamaCppPeer, target_recipe

            recipe = target_recipe(self.rt.bundle.recipe, str(Path(bundle) / "manifest.json"))
            if any(a.peer == "llama-cpp" for a in self.arms):
                self.peers["llama-cpp"] = LlamaCppPeer(recipe, config.threads)
            if any(a.peer and a.peer != "llama-cpp" for a in self.arms):
                hf = HFPeer(recipe, config.threads)
                self.peers.update({p: hf for p in ("generate", "prompt-lookup")})

    def levels_of(self, arm: Arm) -> tuple[int, ...]:
        return (1,) if arm.peer else self.config.levels

    def run(self, arm: Arm, mode: str, level: int, per_client: int, new_tokens: int) -> LoadRun:
        plan = schedule(level, per_client, len(self.prompts))
        sampling = self.sampling[mode]
        if arm.url:
            from dspark_compile.bench.http import http_closed_loop

            return http_closed_loop(arm.url, self.prompts, plan, new_tokens, sampling)
        if arm.peer:
            return self.peers[arm.peer].serve(arm.peer, self.prompts, plan[0], new_tokens, sampling, self.config.prompt_lookup_tokens)
        from dspark_compile.runtime.batcher import Batcher

        rt = self.rt
        log = SurvivalLog(rt.drafter) if arm.speculative else None
        batcher = Batcher(rt.target, log, rt.scheduler(arm.scheduler), rt.max_batch, rt.prefill_chunk, eos_ids=())
        return closed_loop(batcher, log, self.prompts, plan, new_tokens, sampling)

    def meta(self, bundle: Path) -> dict:
        m = self.rt.bundle.manifest
        return {"bundle": str(bundle), "model": m["recipe"]["name"], "block_size": self.block,
                "drafter": m.get("drafter", {}).get("source") if self.rt.drafter else None,
                "max_batch": self.rt.max_batch, "prefill_chunk": self.rt.prefill_chunk,
                "scheduler": self.rt.scheduler_config.model_dump(), "threads": self.config.threads, "cpu_count": os.cpu_count(),
                "chat": self.chat, "prompt_file": str(self.config.prompts), "prompts": len(self.prompts),
                "mean_prompt_tokens": round(sum(map(len, self.prompts)) / len(self.prompts), 1),
                "arms": [a.name for a in self.arms], "notes": list(self.notes),
                "cost_table": m["costs"] if self.rt.costs else None}  # what the cost scheduler budgets with


def run_bench(bundle: str | Path, config: BenchConfig = BenchConfig(), progress: Progress | None = None) -> BenchResult:
    """Measure every arm of `config` on `bundle` under closed-loop load; see `BenchResult` for what comes back.

    Each arm is warmed up once per mode at the highest level (not measured); then each repeat runs every
    (level, mode) cell with all arms back to back, the arms' order rotated from one repeat to the next.
    """
    bench = _Bench(Path(bundle), config)
    if not bench.arms:
        raise BenchError("no arms left to run")
    cells = [(rep, level, mode, arm) for rep in range(config.repeats) for level in config.levels
             for mode in config.modes for arm in _rotate([a for a in bench.arms if level in bench.levels_of(a)], rep)]
    total = len(bench.arms) * len(config.modes) + len(cells)
    done = 0
    for arm in bench.arms:
        for mode in config.modes:
            if progress:
                progress(f"warm-up {arm.name} {mode}", done, total)
            bench.run(arm, mode, max(bench.levels_of(arm)), 1, config.warmup_tokens)
            done += 1
    runs: dict[tuple[str, str, int], list[LoadRun]] = defaultdict(list)
    for rep, level, mode, arm in cells:
        if progress:
            progress(f"repeat {rep + 1}/{config.repeats}  C={level}  {mode}  {arm.name}", done, total)
        runs[(mode, arm.name, level)].append(bench.run(arm, mode, level, config.requests_per_client, config.new_tokens))
        done += 1
    if progress:
        progress("done", done, total)
    result = summarise(config, bench.meta(Path(bundle)), bench.arms, runs)
    result.runs, result.prompt_tokens = dict(runs), [len(p) for p in bench.prompts]
    return result


def _rotate(items: list, k: int) -> list:
    k %= max(len(items), 1)
    return items[k:] + items[:k]
