"""Test harness: a KV cache in the runtime's layout ([B, Hkv, S_max, D], one length per row) and
the HF reference run."""

from __future__ import annotations

import torch

from dspark_compile.models import DecoderLM

GARBAGE = 1e4
"""Value of cache rows no step has written: finite (the contract) but far off, so that a row that
leaks through the mask changes the logits."""


class StepCache:
    """Feeds a DecoderLM ragged steps and commits its new_kv, like the runtime does.

    Unused rows start as GARBAGE (large but finite, as the graph contract requires) and every call
    passes `slack` garbage rows past the longest row, so a masking bug shows up as a mismatch.
    """

    def __init__(self, model: DecoderLM, batch: int, capacity: int = 64, slack: int = 2):
        self.kv = [torch.full((batch, hkv, capacity, d), GARBAGE, dtype=model.dtype) for hkv, d in model.kv_shapes()]
        self.lengths = torch.zeros(batch, dtype=torch.long)  # [B]
        self.model, self.capacity, self.slack = model, capacity, slack

    def step(self, rows: list[list[int]], pad_id: int = 0):
        """Run one step with rows[b] new tokens for row b (right-padded); logits for all T positions."""
        B, T = len(rows), max(len(r) for r in rows)
        counts = torch.tensor([len(r) for r in rows])
        input_ids = torch.full((B, T), pad_id, dtype=torch.long)  # [B, T]
        for b, r in enumerate(rows):
            input_ids[b, : len(r)] = torch.tensor(r)
        positions = self.lengths[:, None] + torch.arange(T)[None, :]  # [B, T]
        logit_index = torch.arange(T)[None, :].expand(B, T)  # [B, K=T]
        P = min(int((self.lengths + counts).max()) + self.slack, self.capacity)  # room for the new tokens
        with torch.no_grad():
            logits, taps, *new_kv = self.model(
                input_ids, positions, self.lengths.clone(), logit_index, *[c[:, :, :P] for c in self.kv]
            )
        for b in range(B):
            start, n = int(self.lengths[b]), int(counts[b])
            for cache, new in zip(self.kv, new_kv):
                cache[b, :, start : start + n] = new[b, :, :n]  # [Hkv, n, D]
        self.lengths += counts
        return logits, taps  # [B, T, V], [B, T, n_taps*H]


def hf_reference(hf, tokens: list[int]):
    """HF logits [N, V] and hidden states (tuple of [N, H]) for one unpadded sequence."""
    with torch.no_grad():
        out = hf(torch.tensor([tokens]), output_hidden_states=True)
    return out.logits[0].float(), tuple(h[0] for h in out.hidden_states)
