"""A KV cache on the host (the target's or the drafter's): head-major, fixed capacity, per-row lengths.

One array [B, Hkv, S, D] per layer and per K/V, the layout attention multiplies in. A graph reads the
whole arrays in place (zero-copy) and `past_lengths` masks the rows past each length; those rows hold
finite values (zeros from the start, or K/V of tokens since rolled back), as the graph contract requires.
A step returns only its new rows, so committing n tokens of a row writes n rows per head, and rolling
back is a change of `lengths` alone (rejected slots are overwritten by the next commit). An engine that writes
in place (`TargetModel.in_place`) has put every new row at its position already: committing only counts them.

The graph attends over all S positions, so the capacity is sized per request (prompt + new tokens +
one verify block), not to the bundle's max_context.
"""

from __future__ import annotations

import numpy as np

from dspark_compile import graph_io as io
from dspark_compile.errors import GenerationError


class KVCache:
    def __init__(self, names: list[str], capacity: int, rows: int, kv_heads: int, head_dim: int, dtype: str,
                 shapes: list | None = None):
        """One [rows, kv_heads, capacity, head_dim] array per name, or per name its own (kv heads, head dim)
        from `shapes` (Gemma 4's full-attention layers are wider)."""
        self.names = list(names)
        self.capacity = capacity
        dims = shapes or [(kv_heads, head_dim)] * len(self.names)
        self.arrays = {n: np.zeros((rows, h, capacity, d), dtype=dtype)
                       for n, (h, d) in zip(self.names, dims)}  # [B, Hkv, S, D]
        self.lengths = np.zeros(rows, dtype=np.int64)  # [B] valid entries per row

    @property
    def rows(self) -> int:
        return self.lengths.shape[0]

    def past(self) -> dict[str, np.ndarray]:
        """Graph feeds `past_<name>`: the whole arrays [B, Hkv, S, D]; `past_lengths` masks the rest."""
        return {io.past(n): a for n, a in self.arrays.items()}

    def room(self) -> np.ndarray:
        return self.capacity - self.lengths  # [B]

    def commit(self, new: dict[str, np.ndarray] | None, counts: np.ndarray) -> None:
        """Append new[b, :, :counts[b]] of each `new_<name>` [B, Hkv, T, D] to row b; with `new` None the step
        wrote its rows into these arrays already (`TargetModel.in_place`), and only counts[b] of them are kept."""
        counts = np.asarray(counts, dtype=np.int64)  # [B]
        if np.any(counts > self.room()):
            row = int(np.argmax(counts > self.room()))
            raise GenerationError(f"row {row} would hold {int(self.lengths[row] + counts[row])} tokens; "
                                  f"the KV cache holds {self.capacity} (raise shapes.max_context)")
        if new is None:
            self.lengths += counts
            return
        if self.rows == 1:  # one user: plain slices (the index arrays below cost more than the copy)
            start, n = int(self.lengths[0]), int(counts[0])
            for name, arr in self.arrays.items():
                arr[0, :, start:start + n] = new[io.new(name)][0, :, :n]
            self.lengths += counts
            return
        rows = np.repeat(np.arange(self.rows), counts)  # [N] row of each committed token
        steps = np.arange(rows.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)  # [N] index in step
        slots = self.lengths[rows] + steps  # [N] cache position
        for n, arr in self.arrays.items():  # one gather/scatter per tensor (stacking them first costs more)
            arr[rows, :, slots] = new[io.new(n)][rows, :, steps]  # [N, Hkv, D] both sides
        self.lengths += counts

    def truncate(self, lengths: np.ndarray) -> None:
        """Roll rows back to `lengths` (never forward): a length change, no data moves."""
        lengths = np.asarray(lengths, dtype=np.int64)
        assert np.all(lengths <= self.lengths), "truncate only rolls back"
        self.lengths[:] = lengths  # in place: views of this cache see it

    def view(self, lo: int, hi: int) -> "KVCache":
        """Rows [lo, hi) as a cache sharing this one's memory (contiguous: the batch axis leads)."""
        out = KVCache.__new__(KVCache)
        out.names, out.capacity = self.names, self.capacity
        out.arrays = {n: a[lo:hi] for n, a in self.arrays.items()}
        out.lengths = self.lengths[lo:hi]  # a view: commits through `out` update this cache's lengths
        return out

    def move_row(self, src: int, dst: int) -> None:
        """Copy row `src` (its valid positions) over row `dst`, e.g. to close a gap left by a finished request."""
        n = int(self.lengths[src])
        for a in self.arrays.values():
            a[dst, :, :n] = a[src, :, :n]
        self.lengths[dst] = n

    def grow(self, capacity: int) -> None:
        """Make room for `capacity` positions per row (a copy; done rarely, when a longer request arrives)."""
        if capacity <= self.capacity:
            return
        for n, a in self.arrays.items():
            bigger = np.zeros(a.shape[:2] + (capacity,) + a.shape[3:], dtype=a.dtype)
            bigger[:, :, : self.capacity] = a
            self.arrays[n] = bigger
        self.capacity = capacity
