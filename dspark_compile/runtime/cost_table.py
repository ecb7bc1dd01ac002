"""The cost table's format, defined once: what `costs.measure_costs` writes into the manifest and what the
scheduler and the guard read. Times are medians in ms, monotone in every axis.

    batch_sizes     [S]        the batch sizes measured (1, 2, 4, .. max_batch)
    tokens_per_row  [T]        1 .. G+1
    ms              [S][T]     verify pass of b rows × t tokens per row
    draft_ms        {greedy: [S], sampled: [S]}   one drafter pass (absorb one position, draft one block)
                               with every row greedy / every row sampled
    absorb_ms       [S]        what each further pending position adds to a drafter pass
    slot_ms         {greedy: [S], sampled: [S]}   the same drafter pass drafting one slot instead of all G
                               (optional: a pass of d slots is priced linearly between the two; without it,
                               at draft_ms whatever d)
    engine_sha256, drafter_sha256   the verify and drafter engines they were measured on
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dspark_compile.bundle import engine_digest
from dspark_compile.errors import GenerationError

MODES = ("greedy", "sampled")
MEASURE_COMMAND = "dspark-compile measure-costs BUNDLE"


@dataclass(frozen=True)
class CostTable:
    """A bundle's measured costs (see the module docstring for each field)."""

    batch_sizes: tuple[int, ...]
    tokens_per_row: tuple[int, ...]
    ms: tuple[tuple[float, ...], ...]  # [S][T]
    draft_ms: dict[str, tuple[float, ...]]  # mode -> [S]
    absorb_ms: tuple[float, ...]  # [S]
    engine_sha256: str
    drafter_sha256: str
    slot_ms: dict[str, tuple[float, ...]] | None = None  # mode -> [S], one slot drafted
    # prices already read (the table never changes): the guard asks every round, and interpolating afresh
    # cost about 0.2 ms a round, 1% of a one-row SmolLM2 step
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_manifest(cls, d: dict[str, Any]) -> "CostTable":
        """The manifest's `costs` (bundles of schema 3 on always have the drafter times)."""
        slot = d.get("slot_ms")
        return cls(tuple(d["batch_sizes"]), tuple(d["tokens_per_row"]), tuple(tuple(r) for r in d["ms"]),
                   {m: tuple(d["draft_ms"][m]) for m in MODES}, tuple(d["absorb_ms"]), d["engine_sha256"],
                   d["drafter_sha256"], {m: tuple(slot[m]) for m in MODES} if slot else None)

    def to_manifest(self, **extra: Any) -> dict[str, Any]:
        """The manifest's `costs` (plus `extra` keys kept for reading: raw times, context, repeats)."""
        slot = {"slot_ms": {m: list(v) for m, v in self.slot_ms.items()}} if self.slot_ms else {}
        return {"batch_sizes": list(self.batch_sizes), "tokens_per_row": list(self.tokens_per_row),
                "ms": [list(r) for r in self.ms], "draft_ms": {m: list(v) for m, v in self.draft_ms.items()},
                "absorb_ms": list(self.absorb_ms), **slot, "engine_sha256": self.engine_sha256,
                "drafter_sha256": self.drafter_sha256, **extra}

    def nearest(self, rows: int) -> int:
        """The index of the measured batch size nearest to `rows` (the first of two equally near)."""
        key = ("nearest", rows)
        if key not in self._memo:
            self._memo[key] = min(range(len(self.batch_sizes)), key=lambda i: abs(self.batch_sizes[i] - rows))
        return self._memo[key]

    def for_rows(self, rows: int, block_size: int) -> np.ndarray:
        """Step time for n = 1 .. rows*(block_size+1) tokens in a batch of `rows` rows: [N] float32.

        Each measured batch size's curve is read at n / rows tokens per row (linear between its points), and
        the two batch sizes around `rows` are interpolated linearly in rows (outside them: the nearest one).
        (Reading only the nearest size priced a round of 12 rows as one of 8: 72.5 ms in Gemma 3 270M's table,
        against 98.5 at 16; served plain rounds of 9-12 rows then taught the 8-row bucket a false slowdown.)
        """
        key = ("verify", rows, block_size)
        if key not in self._memo:
            n = np.arange(1, rows * (block_size + 1) + 1, dtype=np.float64)
            curves = np.array([np.interp(n / rows, self.tokens_per_row, ms) for ms in self.ms])  # [S, N]
            weights = [np.interp(rows, self.batch_sizes, e) for e in np.eye(len(self.batch_sizes))]  # [S] hat weights
            out = (np.asarray(weights) @ curves).astype(np.float32)
            out.setflags(write=False)
            self._memo[key] = out
        return self._memo[key]

    def draft_for_rows(self, rows: int, sampled: bool, backlog: int = 1, slots: int | None = None) -> float:
        """One drafter pass over `rows` rows in the served mode, absorbing `backlog` pending positions per row and
        drafting `slots` of the block (default: all) (ms), interpolated linearly in batch size and in slots."""
        key = ("draft", rows, sampled, slots)
        if key not in self._memo:
            mode = MODES[int(sampled)]
            one = np.interp(rows, self.batch_sizes, self.draft_ms[mode])
            g = self.tokens_per_row[-1] - 1  # the block size
            if self.slot_ms and slots is not None and slots < g and g > 1:
                first = np.interp(rows, self.batch_sizes, self.slot_ms[mode])
                one = first + (one - first) * (max(slots, 1) - 1) / (g - 1)
            self._memo[key] = (float(one), float(np.interp(rows, self.batch_sizes, self.absorb_ms)))
        one, absorb = self._memo[key]
        return one + max(backlog - 1, 0) * absorb


def manifest_engine_digest(manifest: dict[str, Any], role: str) -> str:
    """`engine_digest` of an engine's files as the manifest lists them."""
    return engine_digest(manifest["files"][f]["sha256"] for f in manifest["engines"][role]["files"])


def check_binding(costs: dict[str, Any], manifest: dict[str, Any], role: str = "verify",
                  drafter_role: str = "drafter") -> None:
    """Refuse a cost table measured on other engines (the verify engine's and the drafter's, under these
    manifest roles: `bundle.engine_role`)."""
    for key, role, engine in (("engine_sha256", role, "engine"), ("drafter_sha256", drafter_role, "drafter engine")):
        here = manifest_engine_digest(manifest, role) if role in manifest["engines"] else "none"
        measured_on = costs.get(key)
        if measured_on != here:
            raise GenerationError(f"the bundle's cost table was measured on another {engine} (sha256 "
                                  f"{str(measured_on)[:12]}…, this {engine} is {here[:12]}…); "
                                  f"re-measure it with: {MEASURE_COMMAND}")
