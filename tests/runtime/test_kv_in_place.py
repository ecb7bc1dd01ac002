"""The target's cache written in place (`export.cache_writes`, `TargetModel.in_place`) computes what the copying
path computes: the same logits, taps and cache rows, bit for bit, through prefills, multi-token steps, rollbacks
and batches whose rows differ in length."""

import numpy as np
import pytest

from dspark_compile import graph_io as io
from dspark_compile.errors import EngineError
from dspark_compile.runtime.target import TargetModel
from tests.conftest import FAMILIES
from tests.helpers import plain_target


def _copying(model: TargetModel) -> TargetModel:
    """The same engine run through `Engine.run`: new rows returned, committed by copy."""
    other = TargetModel(model.engine, model.info)
    other.in_place = {}
    other._outputs = [o.name for o in model.engine.outputs if not o.name.startswith(io.PRESENT)]
    return other


@pytest.mark.parametrize("family", FAMILIES)
def test_in_place_steps_equal_copying_steps(bundles, family):
    _, plain = bundles(family)
    assert plain.in_place and len(plain.in_place) == len(plain.info.kv_names)
    assert all(io.present(n) in {o.name for o in plain.engine.outputs} for n in plain.info.kv_names)
    copying = _copying(plain)
    rng = np.random.default_rng(0)
    vocab = plain.info.vocab_size
    prompts = [rng.integers(0, vocab, 9), rng.integers(0, vocab, 4)]
    caches, results = [], []
    for model in (plain, copying):
        cache = model.new_cache(2, 48)
        last, _ = model.prefill(cache, prompts, 4)  # chunks of 4: the second row ends first
        steps = [last]
        for t, keep in ((1, [1, 1]), (3, [2, 3]), (4, [1, 4]), (2, [0, 2])):  # rejected rows stay past the length
            tokens = np.random.default_rng(t).integers(0, vocab, (2, t))
            out = model.step(cache, tokens, np.broadcast_to(np.arange(t), (2, t)))
            cache.commit(out.new_kv, np.array(keep))
            steps += [out.logits, out.taps]
        caches.append(cache)
        results.append(steps)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(caches[0].lengths, caches[1].lengths)
    for name in plain.info.kv_names:
        for row, n in enumerate(caches[0].lengths):
            np.testing.assert_array_equal(caches[0].arrays[name][row, :, :n], caches[1].arrays[name][row, :, :n])


def test_an_in_place_input_must_be_contiguous(bundles):
    _, plain = bundles("llama")
    cache = plain.new_cache(1, 16)
    feeds = {io.INPUT_IDS: np.array([[1]]), io.POSITIONS: np.array([[0]]), io.PAST_LENGTHS: np.zeros(1, np.int64),
             io.LOGIT_INDEX: np.array([[0]]), **cache.past()}
    name = io.past(plain.info.kv_names[0])
    feeds[name] = np.asfortranarray(np.zeros(feeds[name].shape, np.float32))
    with pytest.raises(EngineError, match=f"'{name}' is written in place"):
        plain.engine.run_in_place(feeds, plain.in_place, plain._outputs)
