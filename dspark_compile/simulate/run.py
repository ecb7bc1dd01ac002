"""The replay: the bench's closed-loop load through the real batcher, scheduler and guard, on simulated engines.

Every (mode, level, arm) cell builds a fresh `Batcher` over the simulated target and drafter, as `bench` does,
and drives it with `bench.load.closed_loop` on the virtual clock; the rows, table and figures are `bench`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from dspark_compile.bench.config import BenchConfig, runtime_arms, select
from dspark_compile.bench.load import SurvivalLog, closed_loop, schedule
from dspark_compile.bench.report import BenchResult, summarise
from dspark_compile.config import SchedulerConfig
from dspark_compile.runtime.batcher import Batcher
from dspark_compile.runtime.drafter import DrafterModel
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.scheduler import Scheduler
from dspark_compile.runtime.target import TargetModel
from dspark_compile.simulate.acceptance import Recorded
from dspark_compile.simulate.costs import CostModel, MeasuredCosts, scheduler_costs
from dspark_compile.simulate.engine import (AcceptanceSource, Shared, SimDrafter, SimTarget, VirtualClock,
                                            drafter_info, model_info)
from dspark_compile.simulate.trace import SimulateError, Trace, read_json


@dataclass(frozen=True)
class Workload:
    """What the simulated clients send: prompts (token counts; index = prompt id) and the bench's settings."""

    prompt_tokens: tuple[int, ...]
    bench: BenchConfig
    max_batch: int
    prefill_chunk: int = 256
    block_size: int = 7
    scheduler: SchedulerConfig = SchedulerConfig(mode="cost")
    seed: int = 0
    ragged: bool = False
    """Verify and drafter passes cost each row's own tokens (a packed batch, as vLLM runs it); False: every
    row is padded to the longest, as our runtime's [B, T] verify and [B, Δ] drafter graphs are."""

    @property
    def context(self) -> int:
        """The typical context of a decoding row: the mean prompt plus half the new tokens."""
        return int(sum(self.prompt_tokens) / len(self.prompt_tokens) + self.bench.new_tokens / 2)


def simulate(costs: CostModel, source: AcceptanceSource, work: Workload, meta: dict | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> BenchResult:
    """Every arm at every level and mode of `work.bench`, replayed; a `BenchResult` like `run_bench`'s."""
    cfg = work.bench
    batch_sizes = sorted({min(2**i, work.max_batch) for i in range(work.max_batch.bit_length() + 1)})
    table = costs.schedule_table(batch_sizes, work.block_size, work.context)
    cost_table = scheduler_costs(table)
    arms, notes = runtime_arms(cfg, work.scheduler, work.block_size, has_costs=True)
    arms = select(arms, cfg.arm_names)
    sampling = {"greedy": SamplingParams(), "sampled": SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p,
                                                                      seed=cfg.seed)}
    prompts = [[i + 1] * n for i, n in enumerate(work.prompt_tokens)]  # a prompt's tokens name it (engine.py)
    max_context = max(work.prompt_tokens) + cfg.new_tokens + work.block_size + 1
    runs, cells = {}, [(lv, m, a) for lv in cfg.levels for m in cfg.modes for a in arms]
    for done, (level, mode, arm) in enumerate(cells):
        if progress:
            progress(f"C={level}  {mode}  {arm.name}", done, len(cells))
        runs[(mode, arm.name, level)] = [_pass(costs, source, work, arm, level, mode, sampling[mode], prompts,
                                               cost_table, max_context, seed=work.seed + 7919 * level + 104729 * p)
                                         for p in range(cfg.repeats)]  # acceptance drawn anew each pass
    if progress:
        progress("done", len(cells), len(cells))
    meta = {"bundle": "(simulated)", "model": costs.name, "block_size": work.block_size, "drafter": "simulated",
            "max_batch": work.max_batch, "prefill_chunk": work.prefill_chunk, "threads": None, "cpu_count": None,
            "chat": False, "prompt_file": None, "prompts": len(prompts),
            "mean_prompt_tokens": round(sum(work.prompt_tokens) / len(prompts), 1), "arms": [a.name for a in arms],
            "notes": notes, "cost_table": table, **(meta or {})}
    return summarise(cfg, meta, arms, runs)


def _pass(costs, source, work, arm, level, mode, sampling, prompts, cost_table, max_context, seed):
    """One closed-loop pass of one arm at one level on a fresh batcher, on the virtual clock."""
    cfg = work.bench
    clock, shared = VirtualClock(), Shared()
    source.reset()
    target = TargetModel(SimTarget(costs, clock, shared, work.ragged), model_info(max_context))
    drafter = SurvivalLog(DrafterModel(SimDrafter(costs, clock, shared, source, work.block_size, seed=seed,
                                                  ragged=work.ragged), drafter_info(work.block_size),
                                        np.zeros(1, np.int32)))  # the simulated q_full is a [B, G, 1] dummy
    scheduler = Scheduler(arm.scheduler, work.block_size, cost_table if arm.scheduler.mode == "cost" else None)
    batcher = Batcher(target, drafter if arm.speculative else None, scheduler, work.max_batch, work.prefill_chunk,
                      eos_ids=(), clock=clock)
    plan = schedule(level, cfg.requests_per_client, len(prompts))
    run = closed_loop(batcher, drafter if arm.speculative else None, prompts, plan, cfg.new_tokens, sampling,
                      clock=clock)
    run.timings = {**clock.spent, "schedule": 0.0}  # virtual seconds (the host share is in "host")
    return run


def trace_workload(trace: Trace, bench: BenchConfig, seed: int = 0) -> Workload:
    """The workload a trace was recorded under: its prompts' lengths, batch shape and scheduler settings."""
    return Workload(trace.prompt_tokens, bench, trace.max_batch, trace.prefill_chunk, trace.block_size,
                    SchedulerConfig(**trace.scheduler) if trace.scheduler else SchedulerConfig(mode="cost"), seed)


def host_fit(trace: Trace) -> tuple[float, float]:
    """The runtime's own time per decoding step, a + b·rows (ms), fitted by least squares to the trace's
    steps: whole step minus its verify, drafter and prefill passes."""
    steps = np.array([s for r in trace.runs for s in r.steps], np.float64)  # [n, 6]
    if len(steps) < 2:
        raise SimulateError("the trace has fewer than 2 timed steps: cannot fit the host time per step")
    rest = (steps[:, 5] - steps[:, 2] - steps[:, 3] - steps[:, 4]) * 1e3  # [n] ms
    a, b = np.linalg.lstsq(np.stack([np.ones(len(steps)), steps[:, 0]], 1), rest, rcond=None)[0]
    return round(float(a), 4), round(float(b), 4)


def load_costs(path, trace: Trace | None) -> MeasuredCosts:
    """A measured cost model from JSON: a recorded fixture (`recorded.costs_before/after`, averaged) or a
    `measure_costs` table with a `prefill` grid and optionally `host_ms` [a, b] (else fitted to `trace`)."""
    from pathlib import Path

    path = Path(path)
    d = read_json(path, "cost table")
    if "recorded" in d:
        rec = d["recorded"]
        d = {**mean_costs(rec["costs_before"], rec["costs_after"])}
        trace = trace or Trace.load(path)
    host = tuple(d["host_ms"]) if "host_ms" in d else host_fit(trace) if trace else (0.0, 0.0)
    return MeasuredCosts.from_dict(f"measured costs {path.name}", d, host, trace.cost_table if trace else None)


def in_situ(costs: MeasuredCosts, trace: Trace, min_steps: int = 20) -> MeasuredCosts:
    """`costs` with the pass times the bench itself measured (`trace`'s timed decoding steps) where it has them.

    A cell of the verify table (rows x tokens per row) that at least `min_steps` steps without a prefill ran
    takes their median time; the other cells, and the drafter's times, are scaled by the median in-situ /
    isolated ratio of the steps. An isolated `measure_costs` loop and the same pass inside the bench differ
    by more than the machine's noise on a 2-core CPU (README, "At GPU scale (simulated)"): this separates
    the simulator's own error (batching, scheduling, acceptance, host time) from the cost table's.
    """
    steps = np.array([s for r in trace.runs for s in r.steps if s[4] == 0], np.float64)  # [n, 6], no prefill
    if not len(steps):
        raise SimulateError("the trace has no timed decoding steps: cannot measure the passes in situ")
    rows, tokens, verify_ms, draft_ms = steps[:, 0], steps[:, 1], steps[:, 2] * 1e3, steps[:, 3] * 1e3
    ctx = np.zeros(0)
    isolated = np.array([costs.forward_ms(int(b), float(t), ctx, False) for b, t in zip(rows, tokens)])  # [n]
    drafting = draft_ms > 0
    absorbed = float(np.mean(tokens[drafting])) if drafting.any() else 1.0  # context rows each drafter pass absorbs
    draft_iso = np.array([costs.draft_ms(int(b), absorbed, ctx) for b in rows[drafting]])
    verify_scale = float(np.median(verify_ms / isolated))
    draft_scale = float(np.median(draft_ms[drafting] / draft_iso)) if drafting.any() else 1.0
    verify = costs.verify * verify_scale  # [batch sizes, G+1]
    for i, b in enumerate(costs.batch_sizes):
        for j in range(verify.shape[1]):
            cell = (rows == b) & (tokens == j + 1)
            if cell.sum() >= min_steps:
                verify[i, j] = float(np.median(verify_ms[cell]))
    absorb = costs.absorb and {**costs.absorb, "ms": (np.array(costs.absorb["ms"]) * draft_scale).tolist()}
    return replace(costs, name=f"{costs.name}, in situ", verify=verify, draft=costs.draft * draft_scale, absorb=absorb)


def mean_costs(a: dict, b: dict) -> dict:
    """Elementwise mean of two measurements of the same table (verify, drafter and prefill ms)."""
    def avg(x, y):  # (drafter times per sampling mode since bundle schema 4)
        if isinstance(x, dict):
            return {k: avg(x[k], y[k]) for k in x}
        return np.round((np.array(x) + np.array(y)) / 2, 3).tolist()

    out = {**a, "ms": avg(a["ms"], b["ms"]), "draft_ms": avg(a["draft_ms"], b["draft_ms"]),
           "prefill": {**a["prefill"], "ms": avg(a["prefill"]["ms"], b["prefill"]["ms"])}}
    if "draft_absorb" in a:
        out["draft_absorb"] = {**a["draft_absorb"], "ms": avg(a["draft_absorb"]["ms"], b["draft_absorb"]["ms"])}
    return out


def replay(trace: Trace, costs: CostModel, bench: BenchConfig, seed: int = 0, progress=None) -> BenchResult:
    """The trace's own workload, with acceptance drawn from its full-block rounds, on `costs`."""
    return simulate(costs, Recorded(trace, bench.modes), trace_workload(trace, bench, seed),
                    meta={"model": f"{trace.model} (replayed on {costs.name})"}, progress=progress)


def compare(result: BenchResult, trace: Trace) -> list[dict]:
    """Simulated vs recorded per-user and total tokens/s, per (mode, arm, level) both have."""
    out = []
    for r in result.rows:
        real = trace.run(r["mode"], r["arm"], r["level"])
        if real is not None:
            out.append({"mode": r["mode"], "arm": r["arm"], "level": r["level"],
                        "user_measured": real.user_tokens_per_s, "user_simulated": r["user_tokens_per_s"],
                        "user_ratio": round(r["user_tokens_per_s"] / real.user_tokens_per_s, 4),
                        "throughput_measured": real.throughput_tokens_per_s,
                        "throughput_simulated": r["throughput_tokens_per_s"],
                        "throughput_ratio": round(r["throughput_tokens_per_s"] / real.throughput_tokens_per_s, 4)})
    return out
