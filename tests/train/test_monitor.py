"""Overfitting watch: greedy slot accuracy on fixed blocks, and a watched run trains like an unwatched one."""

import math

import numpy as np
import torch

from dspark_compile.drafter.sampling import markov_logits
from dspark_compile.train.forward import block_forward, block_logits
from dspark_compile.train.loop import train, trainable
from dspark_compile.train.monitor import fixed_blocks, slot_accuracy
from tests.train.conftest import new_drafter
from tests.train.test_loop import CFG


def _argmax(d, blocks):
    """The drafter's teacher-forced argmax per (block, slot) [S, n, γ], computed in one piece."""
    with torch.no_grad():
        hs = block_forward(d, blocks.taps, blocks.anchor_tokens, blocks.anchors)  # [S, n, γ, H]
        S, n, G, H = hs.shape
        z = markov_logits(d, block_logits(d, hs).view(S * n, G, -1), blocks.prev.view(S * n, G))
    return z.argmax(-1).view(S, n, G)


def test_slot_accuracy_counts_hits_per_slot(tiny_data, tiny_target):
    feats = tiny_data[3]
    d = new_drafter(tiny_target)
    blocks = fixed_blocks(feats, d.block_size, sequences=4, anchors=6)
    again = fixed_blocks(feats, d.block_size, sequences=4, anchors=6)
    assert torch.equal(blocks.anchors, again.anchors)  # fixed: the same blocks every time
    mine = _argmax(d, blocks)
    ids = blocks.p_ids.clone()
    ids[..., 0] = mine  # the target "agrees" with every draft
    assert slot_accuracy(d, blocks._replace(p_ids=ids)) == [1.0] * d.block_size
    ids[:, :, 1, 0] = mine[:, :, 1] + 1  # slot 1 now always wrong
    acc = slot_accuracy(d, blocks._replace(p_ids=ids))
    assert acc[1] == 0.0 and acc[0] == acc[2] == 1.0
    # the real blocks: hits counted over valid slots only
    v = blocks.valid
    want = [float((mine[..., k] == blocks.p_ids[..., k, 0])[v[..., k]].float().mean()) for k in range(d.block_size)]
    got = slot_accuracy(d, blocks)
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(got, want))
    d.train()
    slot_accuracy(d, blocks)
    assert d.training  # the mode is restored


def test_watched_run_trains_like_an_unwatched_one(tiny_data, tiny_target, tmp_path):
    feats = tiny_data[3]
    cfg = CFG.model_copy(update={"eval_every": 3})
    plain = new_drafter(tiny_target)
    train(plain, feats, cfg, tmp_path / "a")
    watched = new_drafter(tiny_target)
    monitor = {"held-out": fixed_blocks(feats, watched.block_size, 3, 5)}
    history = train(watched, feats, cfg, tmp_path / "b", monitor=monitor)
    assert [h.step for h in history if h.monitor] == [3, 6, 8]  # every 3 steps and the last
    assert all(len(h.monitor["held-out"]) == watched.block_size for h in history if h.monitor)
    for (name, a), (_, b) in zip(trainable(plain), trainable(watched)):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    np.testing.assert_allclose(history[-1].monitor["held-out"], slot_accuracy(watched, monitor["held-out"]))
