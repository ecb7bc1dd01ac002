"""Training steps reduce the loss; a resumed run equals an uninterrupted one; the schedule."""

import math

import numpy as np
import pytest
import torch

from dspark_compile.config import TrainingConfig
from dspark_compile.errors import TrainingError
from dspark_compile.train.blocks import sample_blocks
from dspark_compile.train.loop import CHECKPOINT, blocks_loss, lr_factor, train, trainable
from tests.train.conftest import new_drafter

CFG = TrainingConfig(steps=8, sequences_per_step=3, anchors_per_sequence=6, lr=3e-3, warmup=0.25, bf16=False,
                     checkpoint_every=2)


def test_lr_schedule():
    assert [round(lr_factor(s, 100, 0.04), 4) for s in (0, 3)] == [0.25, 1.0]
    assert math.isclose(lr_factor(52, 100, 0.04), 0.5, abs_tol=1e-9) and lr_factor(100, 100, 0.04) == 0.0


def test_steps_reduce_the_loss_and_leave_shared_weights_alone(tiny_data, tiny_target, tmp_path):
    feats = tiny_data[3]
    d = new_drafter(tiny_target)
    shared = d.lm_head.weight.clone()
    probe = sample_blocks(feats, np.random.default_rng(123), 4, 8, d.block_size)
    with torch.no_grad():
        before = float(blocks_loss(d, probe).total)
    train(d, feats, CFG.model_copy(update={"steps": 12}), tmp_path)
    with torch.no_grad():
        after = float(blocks_loss(d, probe).total)
    assert after < before - 0.05, (before, after)
    assert torch.equal(d.lm_head.weight, shared) and not d.lm_head.weight.requires_grad


def test_resume_equals_uninterrupted(tiny_data, tiny_target, tmp_path):
    feats = tiny_data[3]
    whole = new_drafter(tiny_target)
    h_whole = train(whole, feats, CFG, tmp_path / "a")
    part = new_drafter(tiny_target)
    train(part, feats, CFG, tmp_path / "b", stop_after=3)  # checkpoint at step 3 (the last of this run)
    resumed = new_drafter(tiny_target)  # a fresh process: nothing carried over but the checkpoint
    h_resumed = train(resumed, feats, CFG, tmp_path / "b")
    assert [h.step for h in h_resumed] == list(range(1, 9))
    assert [round(h.loss, 6) for h in h_resumed] == [round(h.loss, 6) for h in h_whole]
    for (name, a), (_, b) in zip(trainable(whole), trainable(resumed)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    with pytest.raises(TrainingError, match="lr"):
        train(new_drafter(tiny_target), feats, CFG.model_copy(update={"lr": 1e-3}), tmp_path / "b")
    assert (tmp_path / "b" / CHECKPOINT).is_file() and not (tmp_path / "b" / (CHECKPOINT + ".tmp")).exists()
    # `steps` alone may change: the run is extended from where it stopped
    longer = train(new_drafter(tiny_target), feats, CFG.model_copy(update={"steps": 10}), tmp_path / "b")
    assert [h.step for h in longer] == list(range(1, 11)) and longer[-1].steps == 10


def test_vocab_subset_loss(tiny_data, tiny_target):
    from dspark_compile.train.blocks import Vocab, training_vocab, vocab_coverage

    feats = tiny_data[3]
    d = new_drafter(tiny_target)
    V = d.vocab_size
    assert training_vocab(feats, None, V) is None and training_vocab(feats, V, V) is None
    vocab = training_vocab(feats, 20, V)
    labels = feats.tokens[feats.response_positions()]
    assert set(labels.tolist()) <= set(vocab.ids.tolist()) and len(vocab.ids) >= 20
    assert vocab_coverage(feats, None) >= vocab_coverage(feats, vocab) > 0.0
    blocks = sample_blocks(feats, np.random.default_rng(0), 3, 6, d.block_size)
    everything = Vocab(torch.arange(V), torch.arange(V))
    with torch.no_grad():
        full, same, sub = (blocks_loss(d, blocks, vocab=v) for v in (None, everything, vocab))
    assert math.isclose(float(full.total), float(same.total), rel_tol=1e-5)
    assert sub.ce <= full.ce + 1e-6  # a softmax over fewer tokens gives the labels more mass


def test_warm_start_copies_the_trainable_tensors(tiny_target, tmp_path):
    from dspark_compile.train.pipeline import warm_start, write_drafter

    src = new_drafter(tiny_target, seed=1)
    write_drafter(src, tmp_path / "d")
    dst = new_drafter(tiny_target, seed=2)
    warm_start(dst, tmp_path / "d")
    for (name, a), (_, b) in zip(trainable(src), trainable(dst)):
        torch.testing.assert_close(a.half().float(), b, rtol=0, atol=0, msg=name)  # stored as fp16
    with pytest.raises(TrainingError, match="no drafter weights"):
        warm_start(dst, tmp_path / "none")


def test_checkpoints_without_newer_settings_resume(tiny_data, tiny_target, tmp_path):
    """A checkpoint written before a setting existed resumes when the setting keeps its default."""
    feats = tiny_data[3]
    train(new_drafter(tiny_target), feats, CFG, tmp_path, stop_after=2)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=False)
    del state["config"]["answers_per_prompt"]
    torch.save(state, tmp_path / CHECKPOINT)
    assert [h.step for h in train(new_drafter(tiny_target), feats, CFG, tmp_path)][-1] == 8
    with pytest.raises(TrainingError, match="answers_per_prompt"):
        train(new_drafter(tiny_target), feats, CFG.model_copy(update={"answers_per_prompt": 2}), tmp_path)


def test_tap_noise_scales_with_each_vector_and_resumes(tiny_data, tiny_target, tmp_path):
    from dspark_compile.train.loop import with_tap_noise

    feats = tiny_data[3]
    blocks = sample_blocks(feats, np.random.default_rng(5), 3, 6, 4)
    noisy = with_tap_noise(blocks, 0.1, np.random.default_rng(0))
    rms = blocks.taps.pow(2).mean(-1).sqrt()  # [S, L]
    live = rms > 0
    rel = (noisy.taps - blocks.taps).pow(2).mean(-1).sqrt()[live] / rms[live]
    assert 0.07 < float(rel.mean()) < 0.13  # ~ the asked 10% of each vector's RMS
    assert torch.equal(noisy.taps[~live], blocks.taps[~live])  # padding stays zero
    assert torch.equal(noisy.labels, blocks.labels)
    # noise and weight decay are training settings: the loss path differs, a resumed run still matches
    cfg = CFG.model_copy(update={"tap_noise": 0.2, "weight_decay": 0.01})
    h_whole = train(new_drafter(tiny_target), feats, cfg, tmp_path / "a")
    h_plain = train(new_drafter(tiny_target), feats, CFG, tmp_path / "c")
    assert [round(h.loss, 6) for h in h_whole] != [round(h.loss, 6) for h in h_plain]
    train(new_drafter(tiny_target), feats, cfg, tmp_path / "b", stop_after=3)
    h_resumed = train(new_drafter(tiny_target), feats, cfg, tmp_path / "b")
    assert [round(h.loss, 6) for h in h_resumed] == [round(h.loss, 6) for h in h_whole]
