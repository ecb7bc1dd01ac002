"""PNG figures of a benchmark result (matplotlib, imported only here, headless)."""

from __future__ import annotations

from pathlib import Path

from dspark_compile.bench.report import BenchResult

FIGURES = ("speedup.png", "throughput.png", "verify_tau.png", "latency.png", "acceptance_calibration.png")


def _series(result: BenchResult, mode: str, key: str, arms: list[str]):
    """arm -> (levels, values) for rows of `mode` that have `key`."""
    out = {}
    for arm in arms:
        rows = [r for r in result.rows if r["mode"] == mode and r["arm"] == arm and r.get(key) is not None]
        if rows:
            out[arm] = ([r["level"] for r in rows], [r[key] for r in rows])
    return out


def _arms(result: BenchResult, speculative_only: bool = False) -> list[str]:
    seen = dict.fromkeys(r["arm"] for r in result.rows if r["speculative"] or not speculative_only)
    return list(seen)


def _style(arm: str, colors: dict[str, str]) -> dict:
    if arm == "plain":
        return {"color": "black", "linestyle": "--", "marker": "o"}
    if arm.startswith("hf-"):
        return {"color": colors[arm], "marker": "*", "markersize": 12, "linestyle": "none"}
    return {"color": colors[arm], "marker": "o", "linewidth": 2.2 if arm == "cost" else 1.4}


def _colors(arms: list[str]) -> dict[str, str]:
    """One colour per arm, the same in every figure."""
    return {"plain": "black", **{a: f"C{i}" for i, a in enumerate(a for a in arms if a != "plain")}}


def _grid(plt, result: BenchResult, panels: list[tuple[str, str]], title: str):
    """One column per sampling mode, one row per (key, label) panel; x = concurrency."""
    modes = list(dict.fromkeys(r["mode"] for r in result.rows))
    fig, axes = plt.subplots(len(panels), len(modes), figsize=(5.5 * len(modes), 3.6 * len(panels)), squeeze=False)
    levels = sorted({r["level"] for r in result.rows})
    for j, mode in enumerate(modes):
        for i, (_, label) in enumerate(panels):
            ax = axes[i][j]
            ax.set_xscale("log", base=2)
            ax.set_xticks(levels, [str(c) for c in levels])
            ax.set_xlabel("concurrent clients")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        axes[0][j].set_title(f"{mode}")
    fig.suptitle(f"{title} — {result.meta['model']}, drafter: {result.meta['drafter'] or 'none'}")
    return fig, axes, modes


def write_plots(result: BenchResult, out: Path) -> list[Path]:
    """Write the figures into `out` (created); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append(out / name)

    everyone = _arms(result)
    spec = _arms(result, speculative_only=True)
    colors = _colors(everyone)
    # the longest fixed arm verifies every slot; the cost arm is the one that budgets by survivals
    detail = [a for a in spec if a.startswith("fixed-")][-1:] + [a for a in spec if a == "cost"]

    def lines(name: str, title: str, panels: list[tuple[str, str]], arms: list[str], shade_below_one: bool = False):
        """One line per arm in every (mode, panel) cell, y from 0 (speed-ups: the area below 1 shaded)."""
        fig, axes, modes = _grid(plt, result, panels, title)
        for j, mode in enumerate(modes):
            for i, (key, _) in enumerate(panels):
                ax = axes[i][j]
                if shade_below_one:
                    ax.axhspan(0, 1, color="red", alpha=0.06)
                for arm, (x, y) in _series(result, mode, key, arms).items():
                    ax.plot(x, y, label=arm, **_style(arm, colors))
                ax.set_ylim(bottom=0)
        axes[0][-1].legend(fontsize=8)
        save(fig, name)

    lines("speedup.png", "speed-up over plain decoding (below 1: speculation costs)",
          [("user_speedup", "per-user tokens/s ÷ plain"), ("throughput_speedup", "total tokens/s ÷ plain")],
          everyone, shade_below_one=True)
    lines("throughput.png", "speed under load",
          [("user_tokens_per_s", "per-user tokens/s"), ("throughput_tokens_per_s", "total tokens/s")], everyone)
    if spec:
        lines("verify_tau.png", "verification depth, τ and drafter use vs load",
              [("mean_verify_length", "mean verified drafts per round"), ("tau", "τ (tokens per round)"),
               ("zero_verify_share", "share of rounds verifying nothing"),
               ("drafted_share", "share of rounds that ran the drafter")], spec)

    panels = [("ttft", "time to first token (ms)"), ("tpot", "time per output token (ms)")]
    fig, axes, modes = _grid(plt, result, panels, "latency: p50 (solid) and p99 (dotted)")
    for j, mode in enumerate(modes):
        for i, (key, _) in enumerate(panels):
            ax = axes[i][j]
            for arm in (a for a in everyone if not a.startswith("hf-")):
                color = colors[arm]
                for q, ls in (("p50", "-"), ("p99", ":")):
                    for _, (x, y) in _series(result, mode, f"{key}_{q}_s", [arm]).items():
                        ax.plot(x, [v * 1e3 for v in y], color=color, linestyle=ls, marker="o", markersize=3,
                                label=arm if q == "p50" else None)
            ax.set_ylim(bottom=0)
    axes[0][-1].legend(fontsize=8)
    save(fig, "latency.png")

    if spec:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        for arm in detail:
            for mode, ls in (("greedy", "-"), ("sampled", "--")):
                row = min((r for r in result.rows if r["mode"] == mode and r["arm"] == arm), key=lambda r: r["level"],
                          default=None)
                acc = [(k + 1, a) for k, a in enumerate(row["acceptance_per_position"])] if row else []
                acc = [(k, a) for k, a in acc if a is not None]
                if acc:
                    left.plot(*zip(*acc), color=colors[arm], linestyle=ls, marker="o", label=f"{arm} ({mode}, C={row['level']})")
        left.set_xlabel("draft position k")
        left.set_xticks(range(1, result.meta["block_size"] + 1))
        left.set_ylabel("P(drafts 1..k accepted | k verified)")
        left.set_ylim(0, 1)
        left.grid(alpha=0.3)
        left.legend(fontsize=7)
        left.set_title("per-position acceptance")
        right.plot([0, 1], [0, 1], color="grey", linestyle=":")
        for key, cal in ((k, c) for k, c in result.calibration.items() if k.split("/")[1] in detail):
            x = [b["mean_survival"] for b in cal["bins"]]
            y = [b["accepted_rate"] for b in cal["bins"]]
            right.plot(x, y, marker="o", label=f"{key} (ECE {cal['ece']:.3f}, {cal['slots']} slots)", color=colors[key.split("/")[1]],
                       linestyle="-" if key.startswith("greedy") else "--")
        right.set_xlabel("survival s_k (predicted P(drafts 1..k accepted))")
        right.set_ylabel("observed rate")
        right.set_xlim(0, 1)
        right.set_ylim(0, 1)
        right.grid(alpha=0.3)
        right.legend(fontsize=7)
        right.set_title("calibration of survivals (verified slots, all levels)")
        fig.suptitle(f"{result.meta['model']}, drafter: {result.meta['drafter']}")
        save(fig, "acceptance_calibration.png")
    return written
