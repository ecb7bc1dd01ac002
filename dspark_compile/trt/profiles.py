"""Optimisation profiles from the recipe's shapes: one for prefill, one for decode/verify.

The target graph's symbolic dims (see export/target.py):
    B  rows in the batch          1 .. shapes.max_batch
    T  new tokens this pass       prefill: 1 .. prefill_chunk      decode: 1 .. γ+1
    K  positions giving logits    prefill: 1                       decode: 1 .. γ+1
    P  KV cache capacity          1 .. max_context in both: the runtime passes its whole head-major
                                  cache [B, Hkv, P, D], sized per request, and masks the unused rows
Every input's [min, opt, max] is built from these per-dim ranges, so dims shared between inputs
(B in every tensor) take the same value at each of min/opt/max, as TensorRT requires (#1808).
"""

from __future__ import annotations

from dataclasses import dataclass

from dspark_compile.config import ShapesConfig
from dspark_compile.engine.base import TensorSpec
from dspark_compile.errors import BuildError, EngineError

DimRange = tuple[int, int, int]
"""(min, opt, max) of one symbolic dim."""


@dataclass(frozen=True)
class Profile:
    """One optimisation profile: per-input (min, opt, max) shapes."""

    name: str
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]

    def contains(self, shapes: dict[str, tuple[int, ...]]) -> bool:
        """True when every given input shape lies within this profile's [min, max]."""
        for name, shape in shapes.items():
            lo, _, hi = self.shapes[name]
            if len(shape) != len(lo) or any(not (a <= s <= b) for a, s, b in zip(lo, shape, hi)):
                return False
        return True

    def to_dict(self) -> dict:
        return {"name": self.name, "shapes": {k: [list(s) for s in v] for k, v in self.shapes.items()}}


def target_dim_ranges(shapes: ShapesConfig, block_size: int) -> dict[str, dict[str, DimRange]]:
    """Per profile, the range of each symbolic dim of the target graph."""
    b = (1, shapes.max_batch, shapes.max_batch)
    ctx = shapes.max_context
    p = (1, max(ctx // 2, 1), ctx)  # capacity = prompt + new tokens + γ + 1 <= max_context, in every pass
    chunk = min(shapes.prefill_chunk, shapes.max_context)
    verify = min(block_size + 1, shapes.max_context)
    return {
        "prefill": {"B": b, "T": (1, chunk, chunk), "K": (1, 1, 1), "P": p},
        "decode": {"B": b, "T": (1, verify, verify), "K": (1, verify, verify), "P": p},
    }


def build_profiles(inputs: tuple[TensorSpec, ...], ranges: dict[str, dict[str, DimRange]]) -> list[Profile]:
    """Turn per-dim ranges into per-input shapes; an input dim without a range is a BuildError."""
    profiles = []
    for pname, dims in ranges.items():
        table = {}
        for spec in inputs:
            triple = ([], [], [])
            for d in spec.shape:
                if isinstance(d, int):
                    rng = (d, d, d)
                elif d in dims:
                    rng = dims[d]
                else:
                    raise BuildError(f"input '{spec.name}' {list(spec.shape)}: no profile range for dim '{d}' "
                                     f"in profile '{pname}' (known: {sorted(dims)})")
                for i in range(3):
                    triple[i].append(rng[i])
            table[spec.name] = tuple(tuple(t) for t in triple)
        profiles.append(Profile(pname, table))
    return profiles


def select_profile(profiles: list[Profile], shapes: dict[str, tuple[int, ...]]) -> int:
    """Index of the first profile holding these input shapes; an EngineError naming the ranges otherwise."""
    for i, prof in enumerate(profiles):
        if prof.contains(shapes):
            return i
    ranges = "; ".join(f"{p.name}: " + ", ".join(f"{n} {list(lo)}..{list(hi)}" for n, (lo, _, hi) in p.shapes.items())
                       for p in profiles)
    raise EngineError(f"input shapes {shapes} fit no optimisation profile of this engine ({ranges})")
