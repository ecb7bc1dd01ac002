"""Simulated engines: the runtime's engine interface, answered by a cost model and an acceptance source.

The real `TargetModel`, `DrafterModel`, `Batcher`, speculative step, `Scheduler` (the `Schedule` op) and
guard run unchanged on top; only the two graphs are replaced. Each call advances a virtual clock by what the
cost model says it takes. Token ids carry the prompt: a simulated prompt is its index + 1 repeated, and
every token the engines emit repeats the row's first input token, so a row's anchor always names its prompt.

The drafter engine draws each row's survivals [G] and how many of its drafts the target would accept
(`AcceptanceSource`); the verify engine, called next on the same rows, accepts min(verified, that many),
which is what greedy and sampled verification do with a fixed draft and fixed uniforms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dspark_compile.engine.base import Engine, TensorSpec
from dspark_compile.runtime.drafter import DrafterInfo
from dspark_compile.runtime.target import ModelInfo
from dspark_compile.simulate.costs import CostModel

KV = ("key.0", "value.0")  # one layer, one head, one dim: the caches' bookkeeping is real, their data tiny
_KV_SPECS = tuple(TensorSpec(f"new_{n}", ("B", 1, "T", 1), "float32") for n in KV)


class VirtualClock:
    """Seconds since the simulation started; engines advance it."""

    def __init__(self):
        self.now = 0.0
        self.spent = dict.fromkeys(("draft", "verify", "prefill", "host"), 0.0)

    def __call__(self) -> float:
        return self.now

    def advance(self, what: str, ms: float) -> None:
        self.now += ms / 1e3
        self.spent[what] += ms / 1e3


class AcceptanceSource:
    """Per row (its prompt and whether it samples): survivals [G] and the drafts the target would accept."""

    def draw(self, prompts: np.ndarray, sampled: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """prompts [B] (ids), sampled [B] bool -> survivals [B, G] float, drafts the target would accept [B]."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget any state carried from round to round (a new run starts)."""


@dataclass
class Shared:
    """What the drafter engine hands the verify engine within one round."""

    would_accept: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [B]


def model_info(max_context: int) -> ModelInfo:
    return ModelInfo(family="simulated", vocab_size=1 << 20, hidden_size=1, num_layers=1, num_kv_heads=1, head_dim=1,
                     tap_layers=(0,), kv_names=KV, dtype="float32", eos_token_ids=(), pad_token_id=0,
                     max_context=max_context)


def drafter_info(block_size: int) -> DrafterInfo:
    return DrafterInfo(block_size=block_size, num_layers=1, num_kv_heads=1, head_dim=1, kv_names=KV, dtype="float32")


class SimTarget(Engine):
    """The Verify-fused target graph (also serves prefill chunks)."""

    inputs = ()
    outputs = (TensorSpec("accepted", ("B",), "int32"), TensorSpec("out_tokens", ("B", "K"), "int32"),
               TensorSpec("taps", ("B", "T", 1), "float32"), *_KV_SPECS)

    def __init__(self, costs: CostModel, clock: VirtualClock, shared: Shared, ragged: bool = False):
        self.costs, self.clock, self.shared = costs, clock, shared
        self.ragged = ragged  # verify costs the rows' own lengths (packed), not B × the longest (ours: padded)

    def run(self, feeds, outputs=None):
        ids = feeds["input_ids"]  # [B, T]
        rows, t = ids.shape
        k = feeds["logit_index"].shape[1]
        prefill = k != t  # prefill asks for the last position's logits only; verify for all T
        lengths = feeds["verify_lengths"].astype(np.int64)  # [B]
        per_row = float(np.mean(lengths + 1)) if self.ragged and not prefill else t
        self.clock.advance("prefill" if prefill else "verify",
                           self.costs.forward_ms(rows, per_row, feeds["past_lengths"], prefill))
        accepted = np.zeros(rows, np.int64)
        if not prefill:
            self.clock.advance("host", self.costs.host_ms(rows))
            if lengths.any():
                accepted = np.minimum(lengths, self.shared.would_accept)
        return {"accepted": accepted.astype(np.int32),
                "out_tokens": np.repeat(ids[:, :1], k, axis=1).astype(np.int32),  # [B, K] the row's tag
                "taps": np.zeros((rows, t, 1), np.float32),
                **{f"new_{n}": np.zeros((rows, 1, t, 1), np.float32) for n in KV}}


class SimDrafter(Engine):
    """The drafter graph ending in DraftSample: survivals and would-be acceptance from `source`."""

    inputs = ()
    outputs = (TensorSpec("draft_tokens", ("B", "G"), "int32"), TensorSpec("survivals", ("B", "G"), "float32"),
               *_KV_SPECS)

    def __init__(self, costs: CostModel, clock: VirtualClock, shared: Shared, source: AcceptanceSource,
                 block_size: int, seed: int, ragged: bool = False):
        self.costs, self.clock, self.shared, self.source = costs, clock, shared, source
        self.block = block_size
        self.rng = np.random.default_rng(seed)
        self.ragged = ragged  # absorb each row's own context rows (packed), not B × the most (ours: padded)

    def run(self, feeds, outputs=None):
        anchor = feeds["anchor"].astype(np.int64)  # [B] the rows' tags: prompt index + 1
        rows, delta = anchor.shape[0], feeds["ctx_taps"].shape[1]
        absorbed = float(np.mean(feeds["ctx_counts"])) if self.ragged else delta
        self.clock.advance("draft", self.costs.draft_ms(rows, absorbed, feeds["past_lengths"]))
        survivals, would = self.source.draw(anchor - 1, feeds["temperature"] > 0, self.rng)  # [B, G], [B]
        self.shared.would_accept = would
        g = self.block
        return {"draft_tokens": np.repeat(anchor[:, None], g, axis=1).astype(np.int32),
                "draft_q": np.ones((rows, g), np.float32), "q_full": np.ones((rows, g, 1), np.float32),
                "confidences": _confidences(survivals), "survivals": survivals.astype(np.float32),
                **{f"new_{n}": np.zeros((rows, 1, delta, 1), np.float32) for n in KV}}


def _confidences(survivals: np.ndarray) -> np.ndarray:
    """c_k = s_k / s_{k-1} (s_0 = 1): [B, G]."""
    prev = np.concatenate([np.ones_like(survivals[:, :1]), survivals[:, :-1]], axis=1)
    return (survivals / np.maximum(prev, 1e-9)).astype(np.float32)
