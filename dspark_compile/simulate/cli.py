"""`dspark-compile simulate`: a thin layer over `simulate`/`replay`, bench's table and figures."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from dspark_compile.bench.cli import _ints, _names, reporter, write_results
from dspark_compile.bench.config import MODES

LEVELS = "1,2,4,8,16,32,64,128,256"


@click.command()
@click.option("--device", help="Roofline device: h200, h100, jetson-orin-agx-64gb, or a YAML path.")
@click.option("--model", "model_name", default="qwen3-8b", show_default=True, help="Roofline target + drafter (name or YAML).")
@click.option("--costs", "costs_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A measured cost table (JSON: measure-costs' table with a prefill grid, or a recorded fixture) "
                   "instead of the roofline.")
@click.option("--trace", "trace_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Acceptance recorded by `bench --trace`: survivals and accepted drafts of full-block rounds.")
@click.option("--profile", default=None, help="Synthetic acceptance: paper-mtbench (τ 3.72), paper-alpaca, "
              "paper-humaneval, paper-gsm8k, or a τ at γ = block size, e.g. 3.0 [default: paper-mtbench without --trace].")
@click.option("--concentration", default=4.0, show_default=True, type=float,
              help="Synthetic profile: κ of the per-round acceptance rate's Beta distribution (smaller: rounds differ more).")
@click.option("--persistence", default=0.8, show_default=True, type=click.FloatRange(0, 1),
              help="Synthetic profile: chance that a request's next round keeps its acceptance rate.")
@click.option("--levels", default=LEVELS, show_default=True, callback=_ints, help="Concurrent clients per load level.")
@click.option("--prompts", "n_prompts", default=256, show_default=True, type=click.IntRange(1),
              help="Synthetic workload: distinct prompts (a trace brings its own).")
@click.option("--prompt-tokens", default=512, show_default=True, type=click.IntRange(1), help="Synthetic workload.")
@click.option("--new-tokens", default=None, type=click.IntRange(2), help="Tokens per request [default: 256; a trace's own].")
@click.option("--requests-per-client", default=None, type=click.IntRange(1), help="[default: 1; a trace's own]")
@click.option("--max-batch", default=None, type=click.IntRange(1), help="[default: the highest level; a trace's own]")
@click.option("--fixed", default=None, callback=_ints, help="γ of the fixed arms [default: 2,4,block size].")
@click.option("--arms", "arm_names", default="", help="Only these arms, e.g. plain,fixed-4,cost [default: all].")
@click.option("--modes", default="greedy", show_default=True, help="greedy, sampled, or both.")
@click.option("--ragged", is_flag=True, help="Verify and drafter passes cost each row's own tokens (packed, as in "
              "vLLM) instead of every row padded to the longest (our runtime's [B, T] verify and [B, Δ] drafter graphs).")
@click.option("--passes", default=1, show_default=True, type=click.IntRange(1),
              help="Passes per arm and level, each with its own acceptance draws; rows are medians over them.")
@click.option("--in-situ", is_flag=True, help="With --costs FIXTURE and --trace: use the pass times the recorded "
              "bench itself measured where it has them (simulate.run.in_situ), the isolated table elsewhere.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write results.json and bench's PNG figures into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout instead of the table.")
def simulate(device, model_name, costs_file, trace_file, profile, concentration, persistence, levels, n_prompts,
             prompt_tokens, new_tokens, requests_per_client, max_batch, fixed, arm_names, modes, ragged, passes,
             in_situ, seed, output, as_json) -> None:
    """Replay the continuous batcher, scheduler and guard at concurrency 1..256 on a cost model (a device's
    roofline or a measured table), with recorded or synthetic acceptance. Same table and figures as bench."""
    from rich.console import Console

    from dspark_compile.bench.config import BenchConfig
    from dspark_compile.bench.report import render
    from dspark_compile.simulate.acceptance import PAPER_TAU, Profile, Recorded
    from dspark_compile.simulate.costs import Roofline
    from dspark_compile.simulate.run import (Workload, compare, in_situ as measured_in_situ, load_costs,
                                             simulate as run, trace_workload)
    from dspark_compile.simulate.trace import SimulateError, Trace

    if (device is None) == (costs_file is None):
        raise SimulateError("give one cost model: --device NAME (a roofline) or --costs FILE (a measured table)")
    trace = Trace.load(trace_file) if trace_file else None
    block = trace.block_size if trace else None
    costs = Roofline.load(device, model_name) if device else load_costs(costs_file, trace)
    if in_situ:
        if trace is None or device:
            raise SimulateError("--in-situ takes the pass times from the recorded bench: give --trace and --costs")
        costs = measured_in_situ(costs, trace)
    if block is None:
        block = int(costs.model["block_size"]) if isinstance(costs, Roofline) else 7
    bench = BenchConfig(levels=levels, new_tokens=new_tokens or (trace.new_tokens if trace else 256),
                        requests_per_client=requests_per_client or (trace.requests_per_client if trace else 1),
                        fixed_lens=fixed, modes=_names(modes), peers=(), arm_names=_names(arm_names), seed=seed,
                        repeats=passes)
    if trace and profile is None:
        source = Recorded(trace, bench.modes)
        work = trace_workload(trace, bench, seed)
        work = replace(work, max_batch=max_batch or work.max_batch)
    else:
        name = profile or "paper-mtbench"
        try:
            tau = PAPER_TAU[name] if name in PAPER_TAU else float(name)
        except ValueError:
            raise SimulateError(f"--profile {name!r}: expected one of {', '.join(PAPER_TAU)} or a number (τ)") from None
        source = Profile(tau, block, concentration, persistence, name)
        work = Workload((prompt_tokens,) * n_prompts, bench, max_batch or max(bench.levels), block_size=block, seed=seed)
    work = replace(work, ragged=ragged)
    console = Console(stderr=True)
    with console.status("simulating ...") as status:
        result = run(costs, source, work, meta=_meta(costs, source, work), progress=reporter(console, status))
    data = result.to_dict()
    if trace:
        data["compared_with_trace"] = compare(result, trace)
    if output:
        write_results(result, data, output, console)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    render(result, Console() if sys.stdout.isatty() else Console(width=160))
    for c in data.get("compared_with_trace", []):
        click.echo(f"vs recorded {c['mode']} {c['arm']} C={c['level']}: per-user {c['user_ratio']:.3f}x, "
                   f"total {c['throughput_ratio']:.3f}x")


def _meta(costs, source, work) -> dict:
    """What the simulation assumed, for results.json and the table's header notes."""
    from dspark_compile.simulate.acceptance import Profile
    from dspark_compile.simulate.costs import Roofline

    notes = [f"simulated: {costs.name}; acceptance "
             + (f"{source.name} (τ {source.tau} at γ = {source.block_size}, per-position {source.per_slot()}, "
                f"κ {source.concentration}, persistence {source.persistence})" if isinstance(source, Profile)
                else "recorded (full-block rounds of the trace)")]
    meta = {"notes": notes, "simulated": {"cost_model": costs.name, "context": work.context}}
    if isinstance(costs, Roofline):
        meta["simulated"]["sources"] = costs.sources
        fits = [lv for lv in work.bench.levels
                if costs.weight_gb() + costs.kv_gb(lv, max(work.prompt_tokens) + work.bench.new_tokens + work.block_size + 1)
                > costs.device["memory_gb"]]
        if fits:
            notes.append(f"the KV cache of levels {fits} does not fit in {costs.device['memory_gb']:.0f} GB beside the "
                         f"weights ({costs.weight_gb():.1f} GB): those rows are simulated as if it did")
    return meta
