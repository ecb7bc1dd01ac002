"""From raw runs to figures: one row per (mode, arm, level), survival calibration, the losslessness check,
the headline ratios; as a rich table for people and a dict for machines."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dspark_compile.bench.config import Arm, BenchConfig
from dspark_compile.bench.load import LoadRun
from dspark_compile.runtime.metrics import summarise as step_metrics

CALIBRATION_BINS = 10


@dataclass
class BenchResult:
    config: BenchConfig
    meta: dict[str, Any]
    rows: list[dict[str, Any]]  # one per (mode, arm, level); see `_row`
    calibration: dict[str, dict[str, Any]]  # "mode/arm" -> reliability of survivals
    greedy_check: dict[str, Any]
    headline: dict[str, Any]
    # the raw runs by (mode, arm, level) and the prompts' token counts, for acceptance traces (not in to_dict)
    runs: dict[tuple[str, str, int], list[LoadRun]] = field(default_factory=dict, repr=False)
    prompt_tokens: list[int] = field(default_factory=list, repr=False)

    def row(self, mode: str, arm: str, level: int) -> dict[str, Any] | None:
        return next((r for r in self.rows if (r["mode"], r["arm"], r["level"]) == (mode, arm, level)), None)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BenchResult":
        """The inverse of `to_dict` (e.g. to redraw the figures of a saved results.json)."""
        from pathlib import Path

        c = dict(d["config"])
        for k in ("levels", "modes", "peers", "arm_names"):
            c[k] = tuple(c[k])
        c["fixed_lens"] = tuple(c["fixed_lens"]) if c["fixed_lens"] else None
        c["prompts"] = Path(c["prompts"])
        return cls(BenchConfig(**c), d["meta"], d["rows"], d["calibration"], d["greedy_check"], d["headline"])

    def to_dict(self) -> dict[str, Any]:
        config = {k: (str(v) if k == "prompts" else v) for k, v in asdict(self.config).items()}
        return {"config": config, "meta": self.meta, "rows": self.rows, "calibration": self.calibration,
                "greedy_check": self.greedy_check, "headline": self.headline}


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 5) if values else None


def _row(mode: str, arm: Arm, level: int, runs: list[LoadRun], block: int) -> dict[str, Any]:
    served = [s for r in runs for s in r.served]
    m = step_metrics([s.tokens for s in served], [s.stats for s in served], {}, block)
    tpot = [(s.latency - s.ttft) / (len(s.tokens) - 1) for s in served]
    ttft = [s.ttft for s in served]
    lengths = [v for s in served for v in s.stats.verify_lengths]
    spent = {k: sum(r.timings.get(k, 0.0) for r in runs) for k in ("draft", "schedule", "verify", "host", "prefill")}
    wall = sum(r.wall for r in runs)
    per_repeat = [sum(len(s.tokens) for s in r.served) / r.wall for r in runs]  # all clients' tokens/s, each repeat
    return {
        "mode": mode, "arm": arm.name, "level": level, "speculative": arm.speculative, "peer": arm.peer is not None,
        "repeats": len(runs), "requests": len(served), "tokens": sum(len(s.tokens) for s in served),
        # what one user sees: tokens over the time from submission to the last token (median over requests)
        "user_tokens_per_s": round(statistics.median(len(s.tokens) / s.latency for s in served), 2),
        # all clients together: tokens over the run's wall time (median over repeats)
        "throughput_tokens_per_s": round(statistics.median(per_repeat), 2),
        "throughput_by_repeat": [round(v, 2) for v in per_repeat],
        "ttft_p50_s": _pct(ttft, 50), "ttft_p99_s": _pct(ttft, 99),
        "tpot_p50_s": _pct(tpot, 50), "tpot_p99_s": _pct(tpot, 99),
        "tau": m["tau"],
        "acceptance_per_position": m["acceptance_per_position"] if arm.speculative else [],
        "mean_verify_length": m["mean_verify_length"],
        "zero_verify_share": round(sum(v == 0 for v in lengths) / len(lengths), 4) if arm.speculative and lengths else None,
        # rounds that ran the drafter (the cost arm's guard decodes plainly when drafting does not pay)
        "drafted_share": m["drafted_share"] if arm.peer is None else None,
        "verify_length_histogram": m["verify_length_histogram"] if arm.speculative else {},
        # where the wall time went (the rest: the benchmark's own bookkeeping and, for peers, everything)
        "time_share": {k: round(v / wall, 4) for k, v in spent.items()} if arm.peer is None and not arm.url else {},
    }


def _calibration(runs: list[LoadRun]) -> dict[str, Any] | None:
    """Reliability of survivals s_k = P(drafts 1..k all accepted) over every verified slot k."""
    s = np.concatenate([r.survivals for r in runs])
    ok = np.concatenate([r.outcomes for r in runs]).astype(np.float64)
    if not s.size:
        return None
    bins = np.minimum((s * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)  # [N]
    table = []
    for b in range(CALIBRATION_BINS):
        sel = bins == b
        if sel.any():
            table.append({"bin": [b / CALIBRATION_BINS, (b + 1) / CALIBRATION_BINS], "count": int(sel.sum()),
                          "mean_survival": round(float(s[sel].mean()), 4), "accepted_rate": round(float(ok[sel].mean()), 4)})
    ece = sum(t["count"] * abs(t["mean_survival"] - t["accepted_rate"]) for t in table) / s.size
    return {"slots": int(s.size), "ece": round(float(ece), 4), "brier": round(float(np.mean((s - ok) ** 2)), 4),
            "bins": table}


def _greedy_check(runs: dict, arms: list[Arm]) -> dict[str, Any]:
    """Greedy outputs per prompt: identical across every runtime arm (lossless speculation), and how often
    the peers (transformers, llama.cpp) agree with them (another engine or quantization: near-ties may flip)."""
    ours: dict[int, set[tuple[int, ...]]] = {}
    theirs: list[tuple[int, tuple[int, ...]]] = []
    peers: set[str] = set()
    for (mode, name, _), cell in runs.items():
        if mode != "greedy":
            continue
        peer = next(a for a in arms if a.name == name).peer
        for s in (x for r in cell for x in r.served):
            if peer:
                peers.add(name)
                theirs.append((s.prompt, tuple(s.tokens)))
            else:
                ours.setdefault(s.prompt, set()).add(tuple(s.tokens))
    differing = sorted(p for p, outs in ours.items() if len(outs) > 1)
    agree = [ours.get(p) == {t} for p, t in theirs]
    return {"prompts": len(ours), "identical_across_runtime_arms": not differing, "differing_prompts": differing,
            "peer_arms": sorted(peers), "peer_requests": len(agree),
            "peer_agreement": round(sum(agree) / len(agree), 4) if agree else None}


def _headline(rows: list[dict], levels: tuple[int, ...]) -> dict[str, Any]:
    """Speed-ups against plain decoding that the issue asks for, per mode."""
    by = {(r["mode"], r["arm"], r["level"]): r for r in rows}
    out: dict[str, Any] = {}
    top = 16 if 16 in levels else max(levels)
    for mode in dict.fromkeys(r["mode"] for r in rows):
        plain = {lv: by.get((mode, "plain", lv)) for lv in levels}
        spec = [r for r in rows if r["mode"] == mode and r["speculative"]]
        h: dict[str, Any] = {}
        if plain.get(1):
            h["per_user_speedup_c1"] = {r["arm"]: round(r["user_tokens_per_s"] / plain[1]["user_tokens_per_s"], 3)
                                        for r in rows if r["mode"] == mode and r["level"] == 1 and r["arm"] != "plain"}
        fixed = [r for r in spec if r["arm"].startswith("fixed-") and r["level"] == top]
        cost = by.get((mode, "cost", top))
        if cost and plain.get(top):
            h[f"cost_throughput_vs_plain_c{top}"] = round(cost["throughput_tokens_per_s"] / plain[top]["throughput_tokens_per_s"], 3)
        if cost and fixed:
            best = max(fixed, key=lambda r: r["throughput_tokens_per_s"])
            h[f"cost_throughput_vs_best_fixed_c{top}"] = round(cost["throughput_tokens_per_s"] / best["throughput_tokens_per_s"], 3)
            h["best_fixed"] = best["arm"]
        server = by.get((mode, "server", top))
        if server and plain.get(top):  # bench --url: what HTTP costs over the same batcher in-process
            h[f"server_throughput_vs_plain_c{top}"] = round(server["throughput_tokens_per_s"] / plain[top]["throughput_tokens_per_s"], 3)
        h["net_negative"] = [f"{r['arm']}@C={r['level']}" for r in spec
                             if plain.get(r["level"]) and r["throughput_tokens_per_s"] < plain[r["level"]]["throughput_tokens_per_s"]]
        h["cost_mean_verify_length_by_level"] = {r["level"]: r["mean_verify_length"] for r in spec if r["arm"] == "cost"}
        h["cost_drafted_share_by_level"] = {r["level"]: r["drafted_share"] for r in spec if r["arm"] == "cost"}
        out[mode] = h
    return out


def summarise(config: BenchConfig, meta: dict, arms: list[Arm], runs: dict[tuple[str, str, int], list[LoadRun]]) -> BenchResult:
    block = meta["block_size"]
    arm_of = {a.name: a for a in arms}
    rows = [_row(mode, arm_of[name], level, cell, block) for (mode, name, level), cell in runs.items()]
    order = {a.name: i for i, a in enumerate(arms)}
    rows.sort(key=lambda r: (config.modes.index(r["mode"]), r["level"], order[r["arm"]]))
    for r in rows:
        plain = next((p for p in rows if (p["mode"], p["arm"], p["level"]) == (r["mode"], "plain", r["level"])), None)
        r["user_speedup"] = round(r["user_tokens_per_s"] / plain["user_tokens_per_s"], 3) if plain else None
        r["throughput_speedup"] = round(r["throughput_tokens_per_s"] / plain["throughput_tokens_per_s"], 3) if plain else None
        # paired with plain's pass of the same repeat (run minutes apart, not a quarter of an hour): their spread
        # is how far this machine's drift alone moves the ratio
        r["throughput_speedup_by_repeat"] = ([round(a / b, 3) for a, b in zip(r["throughput_by_repeat"],
                                                                                plain["throughput_by_repeat"])]
                                             if plain and len(plain["throughput_by_repeat"]) == r["repeats"] else None)
    calibration = {}
    for mode in config.modes:
        for a in arms:
            if a.speculative:
                cal = _calibration([x for (m, n, _), cell in runs.items() if (m, n) == (mode, a.name) for x in cell])
                if cal:
                    calibration[f"{mode}/{a.name}"] = cal
    meta = {**meta, "notes": meta["notes"] + _stale_costs(meta.get("cost_table"), rows)}
    return BenchResult(config, meta, rows, calibration, _greedy_check(runs, arms), _headline(rows, config.levels))


def _stale_costs(costs: dict | None, rows: list[dict]) -> list[str]:
    """A note when the cost table's one-row, one-token step disagrees with this run's plain step by over 2x:
    the cost scheduler then budgets against another machine's (or another load's) costs."""
    plain = next((r for r in rows if r["arm"] == "plain" and r["level"] == 1 and r["mode"] == "greedy"), None)
    if not costs or not plain or not plain["tpot_p50_s"]:
        return []
    table, measured = costs["ms"][0][0], plain["tpot_p50_s"] * 1e3
    if 0.5 <= table / measured <= 2:
        return []
    return [f"the bundle's cost table says {table:.1f} ms for a one-row, one-token step; plain decoding took "
            f"{measured:.1f} ms per token here: the cost scheduler budgets with stale costs (re-measure with "
            "dspark-compile measure-costs BUNDLE on a quiet machine)"]


def render(result: BenchResult, console) -> None:
    """The table (one line per mode, level and arm) and the headline, on a rich console."""
    from rich.table import Table

    meta, cfg = result.meta, result.config
    console.print(f"[bold]{meta['model']}[/bold] ({meta['bundle']}): drafter {meta['drafter'] or 'none'}, γ = "
                  f"{meta['block_size']}, {meta['prompts']} prompts (mean {meta['mean_prompt_tokens']} tokens"
                  f"{', chat' if meta['chat'] else ''}), {cfg.new_tokens} new tokens, {cfg.requests_per_client} "
                  f"requests per client, median over {cfg.repeats} interleaved repeats, threads {meta['threads'] or 'auto'} "
                  f"of {meta['cpu_count']} cores")
    for note in meta["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    table = Table(title="closed-loop load: C clients, each sends its next prompt when the last one is done")
    cols = ("mode", "C", "arm", "user tok/s", "× plain", "total tok/s", "× plain (per repeat)", "TTFT p50/p99 ms",
            "TPOT p50/p99 ms", "τ", "mean ℓ", "ℓ=0", "drafted", "draft/verify time")
    for c in cols:
        table.add_column(c, justify="left" if c in ("mode", "arm") else "right")
    ms = lambda a, b: f"{a * 1e3:.0f}/{b * 1e3:.0f}"  # noqa: E731
    previous = None
    for r in result.rows:
        if previous and (r["mode"], r["level"]) != previous:
            table.add_section()
        previous = (r["mode"], r["level"])
        slower = r["throughput_speedup"] is not None and r["throughput_speedup"] < 1 and r["speculative"]
        total = f"[red]{_x(r['throughput_speedup'])}[/red]" if slower else _x(r["throughput_speedup"])
        paired = r.get("throughput_speedup_by_repeat")
        if paired and len(paired) > 1 and r["arm"] != "plain":
            total += f" [dim]({min(paired):.2f}-{max(paired):.2f})[/dim]"
        table.add_row(r["mode"], str(r["level"]), r["arm"], f"{r['user_tokens_per_s']:.1f}", _x(r["user_speedup"]),
                      f"{r['throughput_tokens_per_s']:.1f}", total,
                      ms(r["ttft_p50_s"], r["ttft_p99_s"]), ms(r["tpot_p50_s"], r["tpot_p99_s"]),
                      f"{r['tau']:.2f}" if r["tau"] else "-", f"{r['mean_verify_length']:.2f}" if r["speculative"] else "-",
                      f"{r['zero_verify_share']:.0%}" if r["zero_verify_share"] is not None else "-",
                      f"{r['drafted_share']:.0%}" if r["speculative"] and r.get("drafted_share") is not None else "-",
                      f"{r['time_share']['draft']:.0%}/{r['time_share']['verify']:.0%}" if r["time_share"] else "-")
    console.print(table)
    g = result.greedy_check
    console.print(f"greedy tokens identical across runtime arms: {'[green]yes' if g['identical_across_runtime_arms'] else '[red]NO'}"
                  f"[/] ({g['prompts']} prompts)" + (f"; peers ({', '.join(g.get('peer_arms', []))}) agree on "
                                                    f"{g['peer_agreement']:.0%} of {g['peer_requests']} requests"
                                                    if g["peer_requests"] else ""))
    for mode in cfg.modes:
        cals = {k.split("/")[1]: c for k, c in result.calibration.items() if k.startswith(mode + "/")}
        if cals:
            console.print(f"survival calibration, {mode} (ECE / Brier over verified slots): "
                          + ", ".join(f"{a} {c['ece']:.3f}/{c['brier']:.3f}" for a, c in cals.items()))
    top = 16 if 16 in cfg.levels else max(cfg.levels)
    for mode, h in result.headline.items():
        console.print(f"[bold]{mode}[/bold]")
        if "per_user_speedup_c1" in h:
            console.print("  per-user speed-up over plain at C=1: "
                          + ", ".join(f"{a} {_x(v)}" for a, v in h["per_user_speedup_c1"].items()))
        if f"cost_throughput_vs_plain_c{top}" in h:
            console.print(f"  cost arm's throughput at C={top}: {_x(h[f'cost_throughput_vs_plain_c{top}'])} plain"
                          + (f", {_x(h[f'cost_throughput_vs_best_fixed_c{top}'])} the best fixed arm ({h['best_fixed']})"
                             if "best_fixed" in h else ""))
        if h["cost_mean_verify_length_by_level"]:
            console.print("  cost arm's mean verified drafts by load: "
                          + ", ".join(f"C={c}: {v:.2f}" for c, v in h["cost_mean_verify_length_by_level"].items()))
        drafted = {c: v for c, v in h.get("cost_drafted_share_by_level", {}).items() if v is not None}
        if drafted:
            console.print("  cost arm's rounds that ran the drafter by load (the rest fell back to plain): "
                          + ", ".join(f"C={c}: {v:.0%}" for c, v in drafted.items()))
        console.print("  net-negative (throughput below plain): " + (", ".join(h["net_negative"]) or "nowhere"))


def _x(v: float | None) -> str:
    return f"{v:.2f}×" if v is not None else "-"
