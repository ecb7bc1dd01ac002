"""Which target layers feed the drafter: a tap j is the output of decoder layer j (HF hidden_states[j+1])."""

from __future__ import annotations

from collections.abc import Iterable

from dspark_compile.errors import ModelError


def default_tap_layers(num_layers: int) -> tuple[int, ...]:
    """Five taps spread evenly from layer 1 to layer L-2: sorted unique round(linspace(1, L-2, 5))."""
    if num_layers < 3:
        raise ModelError(f"a target needs at least 3 layers to tap (1 .. L-2), got {num_layers}")
    last = num_layers - 2
    return tuple(sorted({round(1 + k * (last - 1) / 4) for k in range(5)}))


def check_tap_layers(tap_layers: Iterable[int], num_layers: int) -> tuple[int, ...]:
    """Taps must be strictly increasing layer ids in [0, L-2] (the last layer's HF output is normed)."""
    taps = tuple(int(j) for j in tap_layers)
    if not taps:
        raise ModelError("tap_layers is empty; the drafter needs at least one target layer")
    if any(b <= a for a, b in zip(taps, taps[1:])):
        raise ModelError(f"tap_layers {list(taps)} must be strictly increasing")
    if taps[0] < 0 or taps[-1] > num_layers - 2:
        raise ModelError(f"tap_layers {list(taps)} must lie in [0, {num_layers - 2}] for a {num_layers}-layer model")
    return taps
