"""τ on the held-out prompts through the runtime (tiny bundle with a random drafter)."""

import pytest

from dspark_compile.errors import GenerationError
from dspark_compile.runtime.api import Runtime
from dspark_compile.train.evaluate import heldout_tau


def test_heldout_tau_aggregates_runtime_metrics(tiny_bundles):
    out = heldout_tau(Runtime.load(tiny_bundles("llama")), max_new_tokens=6, batch_size=32)
    m = out["all"]
    categories = [v for k, v in out.items() if isinstance(v, dict) and "tau" in v and k != "all"]
    assert m["requests"] == sum(v["requests"] for v in categories)
    assert 1.0 <= m["tau"] <= out["block_size"] + 1 and m["mean_verify_length"] > 0
    assert len(m["acceptance_per_position"]) == out["block_size"]


def test_needs_a_drafter():
    from types import SimpleNamespace

    with pytest.raises(GenerationError, match="no drafter"):
        heldout_tau(SimpleNamespace(drafter=None), max_new_tokens=2)
