"""The drafter as the runtime sees it: one engine (context delta + one block, ending DraftSample → Schedule)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dspark_compile import graph_io as io
from dspark_compile.engine.base import Engine
from dspark_compile.errors import EngineError
from dspark_compile.ops.reference import DraftSampleOutputs, check_draft_vocab
from dspark_compile.runtime.kvcache import KVCache
from dspark_compile.runtime.rows import Pending, RowParams


@dataclass(frozen=True)
class DrafterInfo:
    """Drafter dimensions, as recorded in the bundle manifest under `drafter`."""

    block_size: int
    num_layers: int
    num_kv_heads: int
    head_dim: int
    kv_names: tuple[str, ...]
    dtype: str
    schedule: dict[str, Any] | None = None  # Schedule attributes of the graph's Schedule node (None: no node)

    @classmethod
    def from_manifest(cls, d: dict[str, Any]) -> "DrafterInfo":
        return cls(**{k: d[k] for k in ("block_size", "num_layers", "num_kv_heads", "head_dim", "dtype")},
                   kv_names=tuple(d["kv_names"]), schedule=d.get("schedule"))


@dataclass(frozen=True)
class Draft:
    """One drafter pass of S slots: DraftSample's outputs (`sample`, the op's one record: draft_tokens [B, S] int32,
    draft_q [B, S], q_full [B, S, Vd] over the draft vocabulary ([B, S, 1] ones when every row is greedy),
    confidences [B, S], survivals [B, S] non-increasing per row), the target ids of q_full's entries (`vocab` [Vd]
    int32, Verify takes them beside it) and what the graph's Schedule node chose."""

    sample: DraftSampleOutputs
    vocab: np.ndarray  # [Vd] int32, DraftSample's draft_vocab
    verify_lengths: np.ndarray | None = None  # [B] int32, the graph's Schedule output (None: no Schedule node)
    schedule: dict[str, Any] | None = None  # the attributes that Schedule node was built with


DRAFT_VOCAB_FILE = "draft_vocab.npy"
"""The bundle file beside the drafter graph holding its DraftSample's draft_vocab [Vd] int32 (the same ids as the
graph's weight), which Verify takes with q_full; a file of its own so that the runtime needs no ONNX parser."""


def draft_vocabulary(path: Path, vocab_size: int) -> np.ndarray:
    """The draft vocabulary [Vd] int32 saved at `path` (`DRAFT_VOCAB_FILE` of a bundle), ids of a target
    vocabulary of `vocab_size`."""
    try:
        ids = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path}: cannot read the draft vocabulary: {exc}") from None
    if ids.dtype != np.int32 or not check_draft_vocab(ids, vocab_size):
        raise EngineError(f"{path}: expected a non-empty, strictly increasing int32 vector of token ids in "
                          f"[0, {vocab_size}), got {ids.dtype} {ids.shape}")
    return ids


class DrafterModel:
    """Runs the drafter engine over its own context cache (target taps projected per layer)."""

    def __init__(self, engine: Engine, info: DrafterInfo, vocab: np.ndarray):
        self.engine = engine
        self.info = info
        self.vocab = vocab  # [Vd] int32 target ids of DraftSample's q_full entries

    def new_cache(self, rows: int, capacity: int) -> KVCache:
        i = self.info
        return KVCache(list(i.kv_names), capacity, rows, i.num_kv_heads, i.head_dim, i.dtype)

    def draft(self, cache: KVCache, pending: Pending, anchor: np.ndarray, params: RowParams,
              rounds: np.ndarray, schedule: dict[str, np.ndarray] | None = None, slots: int | None = None) -> Draft:
        """Absorb the pending context rows (committed to `cache`) and draft the first `slots` (default: all γ)
        slots of one block after `anchor`: the Draft's arrays are [B, slots, ...] (`export.draft_slots`).

        The anchor sits right after the context: its position is the cache length plus the pending rows.
        `schedule`: the graph's Schedule inputs (`Scheduler.feeds`); without them (cost measurement) the
        node runs on neutral ones (no lagged survivals, unit costs, every row active).
        """
        g = self.info.block_size
        slots = g if slots is None else slots
        if not 1 <= slots <= g:
            raise ValueError(f"slots = {slots}: a drafter pass drafts 1 .. {g} slots")
        from dspark_compile.ops import rng

        delta = pending.taps.shape[1]
        positions = cache.lengths[:, None] + np.arange(delta, dtype=np.int64)[None, :]  # [B, Δ]
        feeds = {
            io.CTX_TAPS: pending.taps,
            io.CTX_POSITIONS: positions,
            io.CTX_COUNTS: pending.counts,
            io.PAST_LENGTHS: cache.lengths.copy(),
            io.ANCHOR: anchor.astype(np.int32),
            io.ANCHOR_POSITION: cache.lengths + pending.counts,  # [B]
            **cache.past(),
            **params.feeds(),
            # [B, S]; greedy rows never read them (spec.DRAFT_SAMPLE): an all-greedy batch skips the hashing
            "uniforms": np.zeros((anchor.shape[0], slots), np.float32) if params.all_greedy
            else rng.draft_uniforms(params.seeds, params.requests, rounds, slots),
        }
        if self.info.schedule is not None:
            rows = anchor.shape[0]
            feeds.update(schedule or {"lagged_survivals": np.zeros((rows, g), np.float32),  # [B, G]
                                      "cost_table": np.ones(rows * (g + 1), np.float32),  # [N]
                                      "active": np.ones(rows, np.int32)})  # [B]
        out = self.engine.run(feeds)
        cache.commit({k: v for k, v in out.items() if k.startswith(io.NEW)}, pending.counts)
        # (the graph's outputs are [B, S] already; an engine that drafts whole blocks, the simulator's, is cut)
        return Draft(DraftSampleOutputs(*(out[name][:, :slots] for name in DraftSampleOutputs._fields)), self.vocab,
                     verify_lengths=out.get("verify_lengths"), schedule=self.info.schedule)
