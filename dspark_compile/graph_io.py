"""The bundle graphs' input and output names, defined once: the exporters name the graphs' I/O with them,
the build checks and feeds them, the runtime feeds and reads them (a misspelt name is an import error, not a
feed mismatch at run time). The fused ops' own tensors (DraftSample's outputs, Verify's inputs and outputs,
the sampling inputs) keep the names `ops/spec.py` gives them.
"""

from __future__ import annotations

# the target graph (prefill, decode and, fused with Verify, verify)
INPUT_IDS = "input_ids"  # [B, T] int64, new tokens after each row's cached ones
POSITIONS = "positions"  # [B, T] int64
PAST_LENGTHS = "past_lengths"  # [B] int64, valid cache entries per row (the drafter graph's too)
LOGIT_INDEX = "logit_index"  # [B, K] int64, which of the T positions produce logits
LOGITS = "logits"  # [B, K, V] float32 (the unfused graph only)
TAPS = "taps"  # [B, T, n_taps*H], the tapped hidden states the drafter absorbs

# the drafter graph (absorb the pending context rows, then draft one block ending in DraftSample)
CTX_TAPS = "ctx_taps"  # [B, Δ, n_taps*H]
CTX_POSITIONS = "ctx_positions"  # [B, Δ] int64
CTX_COUNTS = "ctx_counts"  # [B] int64, valid context rows per row
ANCHOR = "anchor"  # [B] int32, the last emitted token
ANCHOR_POSITION = "anchor_position"  # [B] int64

PAST, NEW = "past_", "new_"  # + a KV tensor's name: its cache input [B, Hkv, P, D] / new rows [B, Hkv, T, D]
PRESENT = "present_"  # + a KV tensor's name: the cache with the new rows written [B, Hkv, P, D] (ONNX Runtime graphs)


def past(kv: str) -> str:
    """The cache input of KV tensor `kv`: [B, Hkv, P, D]."""
    return PAST + kv


def new(kv: str) -> str:
    """The new rows of KV tensor `kv` a step returns: [B, Hkv, T, D]."""
    return NEW + kv


def present(kv: str) -> str:
    """The cache input of KV tensor `kv` with the step's new rows written at their positions: [B, Hkv, P, D].
    A backend that can bind it to the cache input's own memory writes the cache in place
    (`export.cache_writes`); the others read `new(kv)`."""
    return PRESENT + kv
