"""STS fitting and the calibration measures."""

import numpy as np
import torch
import pytest

from dspark_compile.train.calibration import Calibration, HeldOut, auroc, brier, collect, ece, fit_sts, survivals
from tests.train.conftest import new_drafter

TRUE_T = (2.5, 0.5, 1.6, 3.0)


def _synthetic(n, seed):
    """Raw logits whose true conditional acceptance is sigmoid(logit / TRUE_T[k]); prefix labels."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(1.0, 2.5, size=(n, len(TRUE_T)))
    accept = rng.random(logits.shape) < 1 / (1 + np.exp(-logits / np.array(TRUE_T)))
    return logits, np.cumprod(accept, axis=1).astype(bool)


def test_sts_reduces_ece_on_miscalibrated_data():
    logits, labels = _synthetic(20000, 0)
    temps = fit_sts(logits, labels)
    assert np.allclose(temps, TRUE_T, rtol=0.25), temps
    test_logits, test_labels = _synthetic(20000, 1)  # measured on data the fit did not see
    raw = Calibration.measure(test_logits, test_labels, (1.0,) * 4)
    cal = Calibration.measure(test_logits, test_labels, temps)
    assert raw.ece > 0.04 and cal.ece < 0.015 and cal.ece < raw.ece / 3
    assert cal.brier < raw.brier
    assert all(np.diff(survivals(test_logits, temps), axis=1).ravel() <= 0)  # survivals never increase


def test_measures_against_definitions():
    rng = np.random.default_rng(0)
    pred, label = rng.random(300), rng.random(300) < 0.4
    pos, neg = pred[label], pred[~label]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc(pred, label) == pytest.approx(pairs)
    assert auroc(np.array([0.5, 0.5, 0.5]), np.array([True, False, True])) == pytest.approx(0.5)  # ties count half
    assert brier(pred, label) == pytest.approx(np.mean((pred - label) ** 2))
    # ECE: one bin [0.5, 0.55) holding predictions 0.52 with half positive labels -> |0.52 - 0.5|
    assert ece(np.full(4, 0.52), np.array([1, 0, 1, 0])) == pytest.approx(0.02)
    assert ece(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0


def test_collect_labels_prefix_acceptance(tiny_data, tiny_target):
    feats = tiny_data[3]
    d = new_drafter(tiny_target)
    held = collect(d, feats, anchors_per_chunk=5)
    G = d.block_size
    assert held.logits.shape == held.labels.shape and held.labels.shape[1] == G
    lengths = np.diff(feats.starts)
    first = np.maximum(feats.prompt_lengths, 1)
    assert held.labels.shape[0] == int(np.maximum(lengths - G - first, 0).sum())  # anchors with a full block
    assert np.all(np.diff(held.labels.astype(int), axis=1) <= 0)  # a prefix: once rejected, never again
    assert held.tau() == pytest.approx(1 + held.labels.sum(1).mean())


def test_visited_walks_the_anchors_the_runtime_drafts_from():
    """Two sequences of anchors in order; each visited anchor is followed by the one after its accepted drafts
    and the target's token: sequence 0 visits 0 (2 accepted) -> 3 (0) -> 4 (1) -> 6; sequence 1 visits 7 (6
    accepted; 7 + 7 is past its end) only."""
    labels = np.zeros((10, 6), bool)
    for row, n in ((0, 2), (1, 6), (3, 0), (4, 1), (6, 3), (7, 6), (8, 1)):
        labels[row, :n] = True
    held = HeldOut(np.arange(60.0).reshape(10, 6), labels, np.array([0] * 7 + [1] * 3))
    v = held.visited()
    assert v.sequence.tolist() == [0, 0, 0, 0, 1]
    assert v.logits[:, 0].tolist() == [0.0, 18.0, 24.0, 36.0, 42.0]  # rows 0, 3, 4, 6, 7
    assert v.tau() == pytest.approx(1 + (2 + 0 + 1 + 3 + 6) / 5)


def test_the_visited_anchors_are_collects_own_skipping_accepted_drafts(tiny_data, tiny_target):
    """Every visited anchor is one of collect's, and the walk skips the anchors inside accepted drafts."""
    held = collect(new_drafter(tiny_target), tiny_data[3], anchors_per_chunk=5)
    visited = held.visited_rows()
    assert 0 < visited.size <= held.labels.shape[0]
    assert held.visited().labels.tolist() == held.labels[visited].tolist()
    for s in np.unique(held.sequence):
        rows = np.flatnonzero(held.sequence == s)
        picked = visited[held.sequence[visited] == s].tolist()
        assert picked[0] == rows[0] and picked[-1] + held.labels[picked[-1]].sum() + 1 > rows[-1]
        assert all(b - a == held.labels[a].sum() + 1 for a, b in zip(picked, picked[1:]))


def test_offset_and_sts_remove_a_shift_temperatures_cannot():
    """True acceptance sigmoid((l - 1.2) / T_k): STS alone leaves a bias, the shared offset removes it."""
    from dspark_compile.train.calibration import fit_offset_sts

    def data(n, seed):
        rng = np.random.default_rng(seed)
        logits = rng.normal(1.0, 2.5, size=(n, len(TRUE_T)))
        accept = rng.random(logits.shape) < 1 / (1 + np.exp(-(logits - 1.2) / np.array(TRUE_T)))
        return logits, np.cumprod(accept, axis=1).astype(bool)

    logits, labels = data(20000, 0)
    delta, temps = fit_offset_sts(logits, labels)
    assert delta == pytest.approx(-1.2, abs=0.35), delta
    test_logits, test_labels = data(20000, 1)
    sts_only = Calibration.measure(test_logits, test_labels, fit_sts(logits, labels))
    both = Calibration.measure(test_logits + delta, test_labels, temps)
    assert both.ece < 0.012 and both.ece < sts_only.ece / 2, (both.ece, sts_only.ece)
    # data without a shift keep δ near 0
    delta0, _ = fit_offset_sts(*_synthetic(20000, 2))
    assert abs(delta0) <= 0.3


def test_shift_confidence_bias_rewrites_only_the_bias(tmp_path, tiny_target):
    from safetensors.torch import load_file

    from dspark_compile.drafter.checkpoint import WEIGHTS_FILE
    from dspark_compile.train.pipeline import shift_confidence_bias, write_drafter

    out = write_drafter(new_drafter(tiny_target), tmp_path / "d")
    before = load_file(str(out / WEIGHTS_FILE))
    shift_confidence_bias(out, -0.5)
    after = load_file(str(out / WEIGHTS_FILE))
    key = "confidence_head.proj.bias"
    assert float(after[key].float() - before[key].float()) == pytest.approx(-0.5, abs=1e-3)
    assert all(torch.equal(after[k], before[k]) for k in before if k != key)
    assert not list(out.glob("*.tmp"))
