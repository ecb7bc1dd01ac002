"""The §5 loss on hand-made cases."""

import math

import torch

from dspark_compile.train.losses import drafter_loss, l1_to_topk, slot_weights


def _softmax(z):
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


def test_one_slot_by_hand():
    z = [2.0, 1.0, 0.0, -1.0]
    p_ids, p_probs = [0, 1], [0.6, 0.3]  # 0.1 of the target's mass is outside the stored top 2
    conf = 0.5
    q = _softmax(z)
    ce = -math.log(q[1])  # label 1
    l1 = abs(q[0] - 0.6) + abs(q[1] - 0.3) + q[2] + q[3]
    c_star = 1 - l1 / 2
    sig = 1 / (1 + math.exp(-conf))
    bce = -(c_star * math.log(sig) + (1 - c_star) * math.log(1 - sig))
    got = drafter_loss(torch.tensor([z]), torch.tensor([conf]), torch.tensor([1]), torch.tensor([p_ids]),
                       torch.tensor([p_probs]), torch.tensor([0]), block_size=4)
    assert math.isclose(float(got.total), 0.1 * ce + 0.9 * l1 + bce, rel_tol=1e-5)
    assert math.isclose(got.ce, ce, rel_tol=1e-5) and math.isclose(got.l1, l1, rel_tol=1e-5)
    assert got.accuracy == 0.0 and got.slots == 1


def test_slot_weights_and_normalisation():
    assert torch.allclose(slot_weights(3), torch.tensor([1.0, math.exp(-0.25), math.exp(-0.5)]))
    z = torch.tensor([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    ids, probs = torch.tensor([[0], [1]]), torch.tensor([[1.0], [1.0]])
    parts = [drafter_loss(z[i : i + 1], torch.zeros(1), torch.tensor([i]), ids[i : i + 1], probs[i : i + 1],
                          torch.tensor([k]), 7).total for i, k in ((0, 0), (1, 2))]
    both = drafter_loss(z, torch.zeros(2), torch.tensor([0, 1]), ids, probs, torch.tensor([0, 2]), 7).total
    w0, w2 = 1.0, math.exp(-0.5)
    assert math.isclose(float(both), (w0 * parts[0] + w2 * parts[1]) / (w0 + w2), rel_tol=1e-5)


def test_topk_l1_is_exact_with_the_whole_vocabulary_and_bounded_otherwise():
    gen = torch.Generator().manual_seed(0)
    z, t = torch.randn(5, 50, generator=gen), torch.randn(5, 50, generator=gen) * 2
    log_q, p = torch.log_softmax(z, -1), torch.softmax(t, -1)
    exact = (log_q.exp() - p).abs().sum(-1)
    full = torch.topk(p, 50)
    torch.testing.assert_close(l1_to_topk(log_q, full.indices, full.values), exact)
    top = torch.topk(p, 10)
    dropped = 1 - top.values.sum(-1)
    assert torch.all((l1_to_topk(log_q, top.indices, top.values) - exact).abs() <= dropped + 1e-6)


def test_a_label_outside_the_draft_vocabulary_adds_no_cross_entropy():
    """Greedy answers can hold a token outside the draft vocabulary (index -1 there): it has no logit to
    raise, so the slot keeps its L1 and BCE terms and drops CE, and counts as a miss."""
    z, ids, probs = torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[0, -1]]), torch.tensor([[0.5, 0.4]])
    outside = drafter_loss(z, torch.zeros(1), torch.tensor([-1]), ids, probs, torch.tensor([0]), 7)
    inside = drafter_loss(z, torch.zeros(1), torch.tensor([0]), ids, probs, torch.tensor([0]), 7)
    assert outside.ce == 0.0 and inside.ce > 0 and outside.l1 == inside.l1
    assert math.isclose(float(outside.total), float(inside.total) - 0.1 * inside.ce, rel_tol=1e-5)
    assert outside.accuracy == 0.0 and inside.accuracy == 1.0
