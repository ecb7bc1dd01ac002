"""Record the CPU validation fixture of `dspark-compile simulate` (tests/simulate/fixtures/).

    PYTHONPATH=$PWD .venv/bin/python scripts/record_simulate_fixture.py bundles/smollm2-135m \
        tests/simulate/fixtures/smollm2-cpu.json

One greedy closed-loop bench (levels 1, 2, 4, 8, medians of 3 interleaved passes; plain, fixed 2/4/7, threshold, cost; 32 new tokens, 2 requests
per client) with its acceptance trace and step times, between two measurements of the bundle's step costs on
the same machine (verify and drafter per batch size 1-8 and tokens per row, as `measure-costs` does; the
prefill of a group of prompts of the bench's lengths; the drafter absorbing 1, 8 or 48 context rows per row,
as after a request joins with its prompt). The fixture keeps all three: the trace (drafted rounds
of the fixed-γ arm only, the ones the replay draws from), the measured costs before and after, and the
bench's own figures that the replay must reproduce.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time

import numpy as np


def prefill_ms(rt, rows: list[int], tokens: list[int], repeats: int) -> list[list[float]]:
    """Median time (ms) to prefill `r` prompts of `t` tokens each in one chunk: [len(rows)][len(tokens)]."""
    from dspark_compile.runtime.rows import RowParams
    from dspark_compile.runtime.sampling import SamplingParams

    table = []
    for r in rows:
        line = []
        for t in tokens:
            params = RowParams.of([SamplingParams()] * r, list(range(r)))
            times = []
            for _ in range(repeats + 1):
                cache = rt.target.new_cache(r, t + 16)
                t0 = time.perf_counter()
                rt.target.prefill(cache, [np.ones(t, np.int64)] * r, rt.prefill_chunk, params, np.zeros(r, np.uint32))
                times.append(time.perf_counter() - t0)
            line.append(round(statistics.median(times[1:]) * 1e3, 3))
        table.append(line)
    return table


def absorb_ms(rt, rows: list[int], absorbed: list[int], repeats: int, context: int = 64) -> list[list[float]]:
    """Median drafter pass (ms) of `r` rows absorbing `a` context rows each (a joining row brings its whole
    prompt; the others are padded to it), then drafting one block: [len(rows)][len(absorbed)]."""
    from dspark_compile.runtime.rows import Pending, RowParams
    from dspark_compile.runtime.sampling import SamplingParams

    info, g = rt.target.info, rt.drafter.info.block_size
    table = []
    for r in rows:
        params = RowParams.of([SamplingParams()] * r, list(range(r)))
        line = []
        for a in absorbed:
            cache = rt.drafter.new_cache(r, context + a + g + 1)
            pending = Pending(np.zeros((r, a, len(info.tap_layers) * info.hidden_size), info.dtype), np.full(r, a, np.int64))
            times = []
            for _ in range(repeats + 1):
                cache.lengths[:] = context
                t0 = time.perf_counter()
                rt.drafter.draft(cache, pending, np.zeros(r, np.int64), params, np.zeros(r, np.uint32))
                times.append(time.perf_counter() - t0)
            line.append(round(statistics.median(times[1:]) * 1e3, 3))
        table.append(line)
    return table


def measure(rt, rows: list[int], tokens: list[int], repeats: int) -> dict:
    from dspark_compile.costs import measure_costs

    costs = measure_costs(rt.target, rt.drafter, max(rows), repeats=repeats)
    costs["prefill"] = {"rows": rows, "tokens": tokens, "ms": prefill_ms(rt, rows, tokens, repeats)}
    absorbed = [1, 8, 48]
    costs["draft_absorb"] = {"rows": rows, "absorbed": absorbed, "ms": absorb_ms(rt, rows, absorbed, repeats)}
    return costs


def write(path: str, fixture: dict) -> None:
    with open(path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("out")
    ap.add_argument("--levels", default="1,2,4,8")
    ap.add_argument("--repeats", type=int, default=5, help="per measured cost")
    ap.add_argument("--bench-repeats", type=int, default=3,
                    help="interleaved passes of the bench (its rows are medians over them: minute-to-minute drift of "
                         "the machine averages out)")
    ap.add_argument("--no-after", action="store_true", help="measure the costs before the bench only")
    args = ap.parse_args()

    from dspark_compile.bench import BenchConfig, run_bench
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.simulate.trace import Trace

    levels = tuple(int(v) for v in args.levels.split(","))
    rt = Runtime.load(args.bundle)
    rows, tokens = [r for r in (1, 2, 4, 8) if r <= max(levels)], [32, 40, 48]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_before = os.getloadavg()
    before = measure(rt, rows, tokens, args.repeats)
    config = BenchConfig(levels=levels, modes=("greedy",), peers=(), new_tokens=32, requests_per_client=2,
                         repeats=args.bench_repeats)
    result = run_bench(args.bundle, config, progress=lambda what, done, total: print(f"[{done}/{total}] {what}", flush=True))
    fixture = Trace.from_bench(result).to_dict()
    full = f"fixed-{fixture['block_size']}"
    for run in fixture["runs"]:  # the replay draws from the full-block rounds only: keep the file small
        if run["arm"] != full:
            run["drafts"] = []
    fixture["recorded"] = {"started": started, "cpu_count": os.cpu_count(), "load_before": load_before,
                           "load_after": os.getloadavg(), "command": "scripts/record_simulate_fixture.py",
                           "costs_before": before, "costs_after": before}
    write(args.out, fixture)  # the bench is the expensive part: keep it whatever happens next
    if not args.no_after:
        fixture["recorded"]["costs_after"] = measure(rt, rows, tokens, args.repeats)
        write(args.out, fixture)
    for r in result.rows:
        print(r["arm"], r["level"], r["user_tokens_per_s"], r["throughput_tokens_per_s"], r["tau"])


if __name__ == "__main__":
    main()
