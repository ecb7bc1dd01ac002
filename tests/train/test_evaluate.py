"""τ on the held-out prompts through the runtime (tiny bundle with a random drafter)."""

import pytest

from dspark_compile.errors import GenerationError
from dspark_compile.runtime.api import Runtime
from dspark_compile.train.evaluate import ends_in_loop, heldout_tau


def test_heldout_tau_aggregates_runtime_metrics(tiny_bundles):
    out = heldout_tau(Runtime.load(tiny_bundles("llama")), max_new_tokens=6, batch_size=32)
    m = out["all"]
    categories = [v for k, v in out.items() if isinstance(v, dict) and "tau" in v and k not in ("all", "not_looping")]
    assert m["requests"] == sum(v["requests"] for v in categories)
    assert out["not_looping"]["requests"] <= m["requests"] and all(0 <= v["looping"] <= 1 for v in categories)
    assert 1.0 <= m["tau"] <= out["block_size"] + 1 and m["mean_verify_length"] > 0
    assert len(m["acceptance_per_position"]) == out["block_size"]


def test_needs_a_drafter():
    from types import SimpleNamespace

    with pytest.raises(GenerationError, match="no drafter"):
        heldout_tau(SimpleNamespace(drafter=None), max_new_tokens=2)


def test_a_loop_is_a_periodic_tail():
    assert ends_in_loop([7, 8, 9] * 20) and ends_in_loop([1, 2] + [5] * 48)
    assert not ends_in_loop(list(range(60))) and not ends_in_loop([5] * 47)  # no repeat / shorter than the tail
    assert not ends_in_loop(list(range(30)) * 2)  # period 30 > LOOP_PERIOD
    assert ends_in_loop(list(range(30)) * 2, max_period=30) and not ends_in_loop([1, 2, 3] * 16 + [4])
