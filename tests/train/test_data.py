"""Prompt set, generation through the runtime, and feature extraction by the target engine."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from dspark_compile.errors import TrainingError
from dspark_compile.train.blocks import anchor_counts, sample_blocks
from dspark_compile.train.data import (Features, GenerationSettings, concat_features, extends, extract_features,
                                       generate_responses, load_prompts, read_sequences)
from tests.helpers import plain_target
from tests.train.conftest import PROMPTS


def test_prompt_set_is_varied_and_split_is_disjoint():
    train, held = load_prompts("train"), load_prompts("heldout")
    assert len(train) >= 5000 and 40 <= len(held) <= 100
    assert not {p.prompt for p in train} & {p.prompt for p in held}
    assert {p.category for p in held} == {"chat", "explanation", "code", "math", "list", "prose"}
    assert {p.category for p in train} == {p.category for p in held} | {"extraction", "rewrite"}  # (train only)
    assert len({p.id for p in train + held}) == len(train) + len(held)
    with pytest.raises(TrainingError, match="does not exist"):
        load_prompts("test")


def test_generation_resumes_and_is_seeded(tiny_data, tiny_bundles, tmp_path):
    from dspark_compile.runtime.api import Runtime

    path, out, seqs, _ = tiny_data
    assert [s.id for s in seqs] == [p.id for p in PROMPTS]
    assert all(1 <= len(s.response_ids) <= 24 for s in seqs)
    # a rerun reads the answers back instead of generating again (the file is unchanged)
    before = out.read_text()
    again = generate_responses(Runtime.load(path), PROMPTS, GenerationSettings(max_new_tokens=24, batch_size=3), out)
    assert again == seqs and out.read_text() == before
    # a fresh run with the same settings writes the same answers (seeded sampling)
    fresh = generate_responses(Runtime.load(path), PROMPTS, GenerationSettings(max_new_tokens=24, batch_size=3),
                               tmp_path / "r.jsonl")
    assert fresh == seqs
    assert sorted(read_sequences(tmp_path / "r.jsonl"), key=lambda s: s.id) == sorted(fresh, key=lambda s: s.id)


def test_answers_do_not_depend_on_the_batch_and_the_greedy_share_is_greedy(tiny_data, tmp_path):
    """One continuous batcher answers the same whatever its rows; a greedy first answer equals the runtime's
    greedy decoding of its prompt, a sampled one does not (seeded), and copies `ID~j` are never greedy."""
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.runtime.sampling import SamplingParams
    from dspark_compile.train.data import is_greedy, repeat_prompts

    path, _, seqs, _ = tiny_data
    rt = Runtime.load(path)
    wide = generate_responses(rt, PROMPTS, GenerationSettings(max_new_tokens=24, batch_size=32), tmp_path / "w.jsonl")
    assert wide == seqs  # (the fixture answered 3 at a time; the tiny bundle's max_batch is 4)
    prompts = repeat_prompts(PROMPTS, 2)
    flags = [is_greedy(p.id, 0.5) for p in prompts]
    assert any(flags) and not all(flags[: len(PROMPTS)]) and not any(flags[len(PROMPTS):])
    assert [is_greedy(p.id, 1.0) for p in prompts] == [True] * len(PROMPTS) + [False] * len(PROMPTS)
    mixed = generate_responses(rt, prompts, GenerationSettings(max_new_tokens=12, batch_size=5, greedy_share=0.5),
                               tmp_path / "m.jsonl")
    greedy = rt.generate_ids([list(s.prompt_ids) for s in mixed], 12, SamplingParams())
    assert [tuple(g.tokens) == s.response_ids for g, s in zip(greedy, mixed)] == flags


def test_runtime_batcher_rows_are_checked(tiny_data):
    from dspark_compile.errors import GenerationError
    from dspark_compile.runtime.api import Runtime

    rt = Runtime.load(tiny_data[0])
    assert rt.batcher(max_batch=3 * rt.max_batch).max_batch == 3 * rt.max_batch  # ONNX Runtime: any batch
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(GenerationError, match="max_batch"):
            rt.batcher(max_batch=bad)


def test_features_shapes_and_values(tiny_data, tiny_target, tmp_path):
    _, _, seqs, feats = tiny_data
    model, _ = tiny_target
    n = sum(len(s.prompt_ids) + len(s.response_ids) for s in seqs)
    width = len(model.tap_layers) * model.hidden_size
    assert feats.tokens.shape == (n,) and feats.taps.shape == (n, width) and feats.taps.dtype == np.float16
    assert feats.topk_ids.shape == feats.topk_probs.shape == (n, 16)
    assert feats.starts[-1] == n and feats.num_sequences == len(seqs)
    assert np.all(np.diff(feats.topk_probs.astype(np.float32), axis=1) <= 1e-3)  # sorted, descending
    assert 0 <= feats.meta["mean_dropped_mass"] < 1
    # the engine's taps and distribution equal the PyTorch target's on one whole sequence
    s = seqs[1]
    ids = torch.tensor([s.prompt_ids + s.response_ids])
    T = ids.shape[1]
    past = [torch.zeros(1, model.num_kv_heads, T, model.head_dim) for _ in model.kv_names()]  # room for T tokens
    with torch.no_grad():
        logits, taps, *_ = model(ids, torch.arange(T)[None], torch.zeros(1, dtype=torch.long),
                                 torch.arange(T)[None], *past)
    a = feats.starts[1]
    np.testing.assert_allclose(feats.taps[a : a + T], taps[0].numpy(), rtol=2e-3, atol=2e-3)
    top = torch.topk(torch.softmax(logits[0], -1), 16)
    np.testing.assert_allclose(feats.topk_probs[a : a + T], top.values.numpy(), atol=2e-3)
    assert (feats.topk_ids[a : a + T, 0] == top.indices[:, 0].numpy()).all()
    # save / load round trip
    again = Features.load(feats.save(tmp_path / "f"))
    assert all(np.array_equal(getattr(again, k), getattr(feats, k)) for k in ("tokens", "taps", "topk_ids", "starts"))
    meta = json.loads((tmp_path / "f" / "meta.json").read_text())
    meta["version"] = 99
    (tmp_path / "f" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(TrainingError, match="version 99"):
        Features.load(tmp_path / "f")


def test_features_extend_by_appending(tiny_data):
    """Features of the first sequences, extended by those of the rest, equal the features of all of them;
    `extends` refuses features of other answers or another top K."""
    path, _, seqs, feats = tiny_data
    head = extract_features(plain_target(path), seqs[:5], top_k=16, batch_tokens=64)
    assert extends(head, seqs, 16) and not extends(head, seqs, 8) and not extends(head, seqs[1:], 16)
    changed = replace(seqs[0], response_ids=seqs[0].response_ids[:-1] + (seqs[0].response_ids[-1] + 1,))
    assert not extends(head, [changed] + seqs[1:], 16)  # same ids, other tokens
    both = concat_features(head, extract_features(plain_target(path), seqs[5:], top_k=16, batch_tokens=64))
    assert both.meta["ids"] == feats.meta["ids"] and np.array_equal(both.starts, feats.starts)
    for name in ("tokens", "prompt_lengths"):
        assert np.array_equal(getattr(both, name), getattr(feats, name))
    np.testing.assert_allclose(both.taps.astype(np.float32), feats.taps.astype(np.float32), atol=2e-3, rtol=2e-3)
    np.testing.assert_allclose(both.topk_probs.astype(np.float32), feats.topk_probs.astype(np.float32), atol=2e-3)
    assert both.meta["mean_dropped_mass"] == pytest.approx(feats.meta["mean_dropped_mass"], abs=1e-3)
    other = extract_features(plain_target(path), seqs[5:], top_k=8, batch_tokens=64)
    with pytest.raises(TrainingError, match="top_k"):
        concat_features(head, other)


def test_taps_beyond_float16_are_kept_as_float32(tiny_data):
    """Gemma's residual stream exceeds float16's range (65504): the taps are then stored as float32, not inf."""
    path, _, seqs, feats = tiny_data
    target = plain_target(path)
    step = target.step
    target.step = lambda *a, **k: replace(out := step(*a, **k), taps=out.taps * 1e6)  # the real graph's taps, scaled
    loud = extract_features(target, seqs, top_k=16, batch_tokens=64)
    assert feats.taps.dtype == np.float16 and loud.taps.dtype == np.float32 and np.isfinite(loud.taps).all()
    np.testing.assert_allclose(loud.taps / 1e6, feats.taps.astype(np.float32), atol=2e-3, rtol=2e-3)


def test_interrupted_save_keeps_the_previous_features(tiny_data, tmp_path, monkeypatch):
    feats = tiny_data[3]
    folder = feats.save(tmp_path / "f")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    more = concat_features(feats, feats)
    real_save, calls = np.save, []

    def failing_save(path, arr):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stopped halfway through the arrays
        real_save(path, arr)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        more.save(folder)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no partial folder left behind
    again = Features.load(more.save(folder))  # a complete save replaces it whole
    assert again.num_sequences == 2 * feats.num_sequences and [p.name for p in tmp_path.iterdir()] == ["f"]


def test_blocks_labels_and_teacher_forcing(tiny_data):
    feats = tiny_data[3]
    G = 4
    b = sample_blocks(feats, np.random.default_rng(0), sequences=3, anchors=50, block_size=G)
    S, n = b.anchors.shape
    assert b.prev.shape == b.labels.shape == b.valid.shape == (S, n, G) and b.p_ids.shape == (S, n, G, 16)
    assert len(set(b.sequence.tolist())) == S and all(anchor_counts(feats)[b.sequence] > 0)
    for i, s in enumerate(b.sequence.tolist()):
        np.testing.assert_array_equal(b.taps[i, : feats.starts[s + 1] - feats.starts[s]].numpy(),
                                      feats.taps[feats.starts[s] : feats.starts[s + 1]].astype(np.float32))
        x = feats.tokens[feats.starts[s] : feats.starts[s + 1]]
        for j in range(n):
            if not b.valid[i, j, 0]:
                continue
            a = int(b.anchors[i, j])
            assert a >= feats.prompt_lengths[s]  # anchors are response positions
            assert b.anchor_tokens[i, j] == x[a] == b.prev[i, j, 0]
            for k in range(G):
                assert bool(b.valid[i, j, k]) == (a + k + 1 < len(x))  # the chain stops at the end
                if b.valid[i, j, k]:
                    assert b.prev[i, j, k] == x[a + k] and b.labels[i, j, k] == x[a + k + 1]
                    assert b.p_ids[i, j, k, 0] == feats.topk_ids[feats.starts[s] + a + k, 0]
