"""Acceptance traces: what a real run's drafter promised (survivals) and what the target accepted, per round.

`dspark-compile bench --trace FILE` writes one; `dspark-compile simulate` replays it. The file (JSON, schema 1):

    kind: "dspark-acceptance-trace", schema: 1
    model, drafter, block_size G, max_batch, prefill_chunk, new_tokens
    prompt_tokens: [n] token count of each benchmark prompt (as the bench encoded them)
    cost_table: the bundle's measured cost table (what the cost scheduler budgeted with), or null
    runs: one per (mode, arm, level): wall_s, user_tokens_per_s, throughput_tokens_per_s,
          drafts: [[prompt, verified ℓ, accepted a, [s_1 .. s_G]], ...]  one per drafted row-round
          steps:  [[rows, tokens per row, verify s, draft s, prefill s, step s], ...]  one per decoding step

Only rounds that verified the whole block (ℓ = G) show how many drafts *would* have been accepted at every
depth (a < ℓ says exactly where the first rejection was; a = ℓ < G says only "at least ℓ"), so the replay
draws from those: the fixed-G arm's rounds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dspark_compile.errors import DSparkError

KIND = "dspark-acceptance-trace"
SCHEMA = 1


class SimulateError(DSparkError):
    """A simulation input (trace, cost model, device or model file, setting) is missing or invalid."""


def read_json(path: Path, what: str, hint: str = "") -> Any:
    """The parsed JSON file at `path`, or an error naming it (`what`: what it should have been)."""
    if not path.is_file():
        raise SimulateError(f"{what} {path} not found" + (f" ({hint})" if hint else ""))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SimulateError(f"{path}: not JSON ({e})") from None


@dataclass(frozen=True)
class TraceRun:
    mode: str
    arm: str
    level: int
    wall_s: float
    user_tokens_per_s: float
    throughput_tokens_per_s: float
    drafts: list = field(repr=False)  # [[prompt, ℓ, a, [s_1..s_G]], ...]
    steps: list = field(repr=False)  # [[rows, t, verify_s, draft_s, prefill_s, step_s], ...]


@dataclass(frozen=True)
class Trace:
    model: str
    drafter: str | None
    block_size: int
    max_batch: int
    prefill_chunk: int
    new_tokens: int
    requests_per_client: int
    prompt_tokens: tuple[int, ...]
    cost_table: dict[str, Any] | None
    runs: tuple[TraceRun, ...]
    scheduler: dict[str, Any] | None = None  # the recipe's scheduler settings (the arms vary the mode)

    @classmethod
    def from_bench(cls, result) -> "Trace":
        """From a `BenchResult` that still holds its raw runs (as `run_bench` returns it)."""
        by_cell = {(r["mode"], r["arm"], r["level"]): r for r in result.rows}
        runs = []
        for (mode, arm, level), cell in result.runs.items():
            row = by_cell[(mode, arm, level)]
            if row["peer"]:
                continue
            runs.append(TraceRun(mode, arm, level, round(sum(r.wall for r in cell), 4), row["user_tokens_per_s"],
                                 row["throughput_tokens_per_s"], [list(d) for r in cell for d in r.drafts],
                                 [[n, t, *(round(x, 6) for x in rest)] for r in cell for n, t, *rest in r.steps]))
        meta = result.meta
        return cls(meta["model"], meta["drafter"], meta["block_size"], meta["max_batch"], meta.get("prefill_chunk", 256),
                   result.config.new_tokens, result.config.requests_per_client, tuple(result.prompt_tokens),
                   meta.get("cost_table"), tuple(runs), meta.get("scheduler"))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "schema": SCHEMA, "model": self.model, "drafter": self.drafter,
                "block_size": self.block_size, "max_batch": self.max_batch, "prefill_chunk": self.prefill_chunk,
                "new_tokens": self.new_tokens, "requests_per_client": self.requests_per_client,
                "prompt_tokens": list(self.prompt_tokens), "cost_table": self.cost_table,
                "scheduler": self.scheduler, "runs": [r.__dict__ for r in self.runs]}

    def save(self, path: str | Path) -> None:
        """Write the trace as JSON (one line per run's lists, so the file stays diffable)."""
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Trace":
        path = Path(path)
        d = read_json(path, "acceptance trace", "record one with: dspark-compile bench BUNDLE --trace FILE")
        if not isinstance(d, dict) or d.get("kind") != KIND:
            raise SimulateError(f"{path}: not an acceptance trace (kind = {d.get('kind') if isinstance(d, dict) else None!r}, "
                                f"expected {KIND!r})")
        if d.get("schema") != SCHEMA:
            raise SimulateError(f"{path}: trace schema {d.get('schema')!r}; this version reads schema {SCHEMA}")
        try:
            runs = tuple(TraceRun(**r) for r in d["runs"])
            return cls(d["model"], d["drafter"], int(d["block_size"]), int(d["max_batch"]), int(d["prefill_chunk"]),
                       int(d["new_tokens"]), int(d["requests_per_client"]), tuple(d["prompt_tokens"]),
                       d["cost_table"], runs, d.get("scheduler"))
        except (KeyError, TypeError) as e:
            raise SimulateError(f"{path}: malformed trace ({type(e).__name__}: {e})") from None

    def run(self, mode: str, arm: str, level: int) -> TraceRun | None:
        return next((r for r in self.runs if (r.mode, r.arm, r.level) == (mode, arm, level)), None)

    def full_rounds(self, mode: str) -> dict[int, np.ndarray]:
        """prompt -> [n, G+1] rounds of the fixed-G arm (all verified the whole block): G survivals, then
        accepted drafts. (Other arms' full-block rounds are not an unbiased sample: the cost arm verifies
        all G when the survivals are high.)"""
        g = self.block_size
        pools: dict[int, list] = {}
        for r in self.runs:
            if r.mode == mode and r.arm == f"fixed-{g}":
                for prompt, verified, accepted, survivals in r.drafts:
                    if verified == g:
                        pools.setdefault(int(prompt), []).append([*survivals, accepted])
        if not pools:
            raise SimulateError(f"the trace has no {mode} rounds that verified all {g} drafts (record it with the "
                                f"fixed-{g} arm: dspark-compile bench BUNDLE --arms fixed-{g},... --trace FILE)")
        return {p: np.array(v, np.float64) for p, v in pools.items()}
