"""The target's KV cache on the host: sequence-major, fixed capacity, per-row lengths.

One array [S, B, Hkv, D] per layer and per K/V. A graph reads the zero-copy prefix [:P] with
P = max(lengths); a step returns only its new rows, so committing n tokens of a row writes n rows and
rolling back is a change of `lengths` alone (rejected slots are overwritten by the next step).
"""

from __future__ import annotations

import numpy as np

from dspark_compile.errors import GenerationError


class KVCache:
    def __init__(self, names: list[str], capacity: int, rows: int, kv_heads: int, head_dim: int, dtype: str):
        self.names = list(names)
        self.capacity = capacity
        # np.zeros maps untouched pages lazily, so a generous capacity costs memory only when used.
        self.arrays = {n: np.zeros((capacity, rows, kv_heads, head_dim), dtype=dtype) for n in names}
        self.lengths = np.zeros(rows, dtype=np.int64)  # [B] valid entries per row

    @property
    def rows(self) -> int:
        return self.lengths.shape[0]

    def past(self) -> dict[str, np.ndarray]:
        """Graph feeds `past_<name>`: views [P, B, Hkv, D] of the cache, P = longest row."""
        p = int(self.lengths.max(initial=0))
        return {f"past_{n}": a[:p] for n, a in self.arrays.items()}

    def room(self) -> np.ndarray:
        return self.capacity - self.lengths  # [B]

    def commit(self, new: dict[str, np.ndarray], counts: np.ndarray) -> None:
        """Append the first counts[b] rows of each `new_<name>` [T, B, Hkv, D] to row b."""
        counts = np.asarray(counts, dtype=np.int64)  # [B]
        if np.any(counts > self.room()):
            row = int(np.argmax(counts > self.room()))
            raise GenerationError(f"row {row} would hold {int(self.lengths[row] + counts[row])} tokens; "
                                  f"the KV cache holds {self.capacity} (raise shapes.max_context)")
        rows = np.repeat(np.arange(self.rows), counts)  # [N] row of each committed token
        steps = np.arange(rows.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)  # [N] index in step
        slots = self.lengths[rows] + steps  # [N] cache position
        for n, arr in self.arrays.items():
            arr[slots, rows] = new[f"new_{n}"][steps, rows]
        self.lengths += counts

    def truncate(self, lengths: np.ndarray) -> None:
        """Roll rows back to `lengths` (never forward): a length change, no data moves."""
        lengths = np.asarray(lengths, dtype=np.int64)
        assert np.all(lengths <= self.lengths), "truncate only rolls back"
        self.lengths = lengths.copy()
