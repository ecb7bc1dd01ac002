"""The drafter module: shapes, parameter names, block attention semantics, cache consistency against an
independent from-scratch oracle, and the heads (draft_step) against the DraftSample reference."""

import numpy as np
import pytest
import torch

from dspark_compile.drafter import confidence_logits, draft_step, markov_logits
from dspark_compile.models import supported_families
from dspark_compile.ops import reference as R
from dspark_compile.ops import rng

from .conftest import BLOCK, CASES, RANK
from .harness import DraftCache, oracle_block, step_inputs


def test_every_family_has_a_drafter_case():
    assert {family for family, _ in CASES.values()} == set(supported_families())


@pytest.mark.parametrize("name", sorted(CASES))
def test_shapes_and_own_tensors(cases, name):
    _, target, d = cases(name)
    logits, hidden, *new_kv = d(*step_inputs(d, B=3, T=2, P=4, seed=0))
    V, H = target.vocab_size, target.hidden_size
    assert logits.shape == (3, BLOCK, V) and logits.dtype == torch.float32
    assert hidden.shape == (3, BLOCK, H)
    assert len(new_kv) == 2 * d.num_layers and all(t.shape == (3, d.num_kv_heads, 2, d.head_dim) for t in new_kv)
    assert torch.isfinite(logits).all() and torch.isfinite(hidden).all()
    own = d.own_state_dict()
    assert "embed_tokens.weight" not in own and "lm_head.weight" not in own
    assert d.embed_tokens is target.embed_tokens and d.lm_head is target.lm_head  # shared, not copied
    assert own["fc.weight"].shape == (H, d.config.num_taps * H) and own["fc.weight"].dtype == torch.float32
    assert own["markov_head.markov_w1.weight"].shape == own["markov_head.markov_w2.weight"].shape == (V, RANK)
    assert own["confidence_head.proj.weight"].shape == (1, H + RANK)


def test_gemma_quirks(cases):
    _, target, d = cases("gemma2")  # tiny gemma2: final_logit_softcapping = 3
    logits = d(*step_inputs(d, B=2, T=3, P=2, seed=1))[0]
    assert logits.abs().max() < 3.0
    _, target, d = cases("gemma3")  # every drafter layer is full attention, with the full-attention RoPE
    torch.testing.assert_close(d.inv_freq, target.inv_freq_full_attention, rtol=0, atol=0)
    assert d.arch.layer_types == ("full_attention",) * d.num_layers and d.arch.sliding_window is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_cached_steps_match_from_scratch_oracle(cases, name):
    """Three ragged steps through the cache (garbage beyond each row) = recomputing each block from
    all of the row's context with the reference formulation."""
    _, _, d = cases(name)
    gen = torch.Generator().manual_seed(3)
    width = d.config.num_taps * d.hidden_size
    cache = DraftCache(d, batch=3)
    for sizes in ([5, 1, 3], [1, 3, 2], [2, 1, 4]):
        rows = [torch.randn(n, width, generator=gen) for n in sizes]
        anchor = torch.randint(0, d.vocab_size, (3,), generator=gen)
        logits, hidden = cache.step(rows, anchor)
        for b in range(3):
            ref_logits, ref_hidden = oracle_block(d, cache.taps[b], int(anchor[b]), int(cache.lengths[b]))
            torch.testing.assert_close(logits[b], ref_logits, atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(hidden[b], ref_hidden, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["qwen3", "gemma3"])
def test_context_at_or_after_the_anchor_is_invisible(cases, name):
    """Valid context rows (cached or new) at positions >= anchor_position do not reach the block."""
    _, _, d = cases(name)
    taps, pos, counts, lengths, anchor, _, *kv = step_inputs(d, B=2, T=4, P=3, seed=5)
    kv = [torch.randn_like(t) for t in kv]  # every cache row valid: positions 0..2, new rows at 3..6
    counts[:], lengths[:], pos[:] = 4, 3, torch.arange(3, 7)

    def run(taps, kv, anchor_position):
        return d(taps, pos, counts, lengths, anchor, torch.full((2,), anchor_position), *kv)[:2]

    for anchor_position, hidden_taps, hidden_cache in [(5, 2, None), (2, 0, 2)]:
        base = run(taps, kv, anchor_position)
        taps2, kv2 = taps.clone(), [t.clone() for t in kv]
        taps2[:, hidden_taps:] += 10.0  # new rows at positions >= anchor_position
        if hidden_cache is not None:
            for t in kv2:
                t[:, :, hidden_cache:] += 10.0  # cache rows at positions >= anchor_position
        for a, b in zip(base, run(taps2, kv2, anchor_position)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    visible = taps.clone()
    visible[:, 1] += 1.0  # position 4 < 5: does matter
    assert not torch.allclose(run(visible, kv, 5)[0], run(taps, kv, 5)[0])
    visible_kv = [t.clone() for t in kv]
    visible_kv[0][:, :, 1] += 1.0  # cache position 1 < 2
    assert not torch.allclose(run(taps, visible_kv, 2)[0], run(taps, kv, 2)[0])


@pytest.mark.parametrize("name", ["llama", "gemma2"])
def test_block_attention_is_non_causal(cases, name):
    """Perturbing any one slot's input changes every slot's output (a causal block would leave earlier
    slots untouched)."""
    _, _, d = cases(name)
    taps, pos, counts, lengths, anchor, anchor_position, *kv = step_inputs(d, B=2, T=2, P=3, seed=6)
    h = d.embed_block(anchor)
    base = d.run_block(h, taps, pos, counts, lengths, anchor_position, *kv)[1]
    for k in range(d.block_size):
        bumped = h.clone()
        bumped[:, k] += 0.5
        out = d.run_block(bumped, taps, pos, counts, lengths, anchor_position, *kv)[1]
        changed = (out - base).abs().amax(dim=-1)  # [B, γ]
        assert (changed > 1e-6).all(), f"slot {k} did not reach every slot: {changed}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_query_slots_give_those_slots_of_the_whole_block(cases, name):
    """With query_slots the last layer computes only those slots (keys and values still from all γ): the
    block outputs are the whole block's at those slots, in their order, and the new context K/V unchanged;
    the extra trailing tensor of `forward` (the fused export's trace) does the same."""
    _, _, d = cases(name)
    inputs = step_inputs(d, B=3, T=2, P=4, seed=8)
    taps, pos, counts, lengths, anchor, anchor_position, *kv = inputs
    whole = d.run_block(d.embed_block(anchor), taps, pos, counts, lengths, anchor_position, *kv)
    for slots in ([0], [0, 1, 2], list(range(d.block_size)), [d.block_size - 1, 1]):
        idx = torch.tensor(slots)
        for got in (d.run_block(d.embed_block(anchor), taps, pos, counts, lengths, anchor_position, *kv,
                                query_slots=idx), d(*inputs, idx)):
            assert got[0].shape[1] == got[1].shape[1] == len(slots)
            torch.testing.assert_close(got[0], whole[0][:, idx], atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(got[1], whole[1][:, idx], atol=2e-5, rtol=1e-4)
            for a, b in zip(got[2:], whole[2:]):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


def _ds_inputs(d, B, kind, seed):
    gen = np.random.default_rng(seed)
    logits, hidden = d(*step_inputs(d, B=B, T=2, P=3, seed=seed))[:2]
    greedy = kind == "greedy"
    temperature = np.where(greedy | (np.arange(B) % 3 == 0), 0.0, gen.uniform(0.5, 1.5, B)).astype(np.float32)
    top_k = np.where(np.arange(B) % 3 == 1, 5, 0).astype(np.int32)
    top_p = np.where(np.arange(B) % 3 == 2, 0.8, 1.0).astype(np.float32)
    uniforms = rng.draft_uniforms(np.arange(B), np.arange(B), np.full(B, 7), d.block_size)
    anchor = torch.from_numpy(gen.integers(0, d.vocab_size, B).astype(np.int32))
    return logits, hidden, anchor, temperature, top_k, top_p, uniforms


@pytest.mark.parametrize("kind", ["greedy", "mixed"])
@pytest.mark.parametrize("name", ["qwen3", "gemma3"])
def test_draft_step_matches_the_draft_sample_reference(cases, name, kind):
    _, _, d = cases(name)
    logits, hidden, anchor, t, k, p, u = _ds_inputs(d, B=6, kind=kind, seed=9)
    ours = draft_step(d, logits, hidden, anchor, torch.from_numpy(t), torch.from_numpy(k), torch.from_numpy(p),
                      torch.from_numpy(u))
    w = d.own_state_dict()
    ref = R.draft_sample(logits.numpy(), hidden.numpy(), anchor.numpy(), w["markov_head.markov_w1.weight"].numpy(),
                         d.draft_rows(w["markov_head.markov_w2.weight"]).numpy(),
                         d.draft_ids().numpy().astype(np.int32), w["confidence_head.proj.weight"][0].numpy(),
                         w["confidence_head.proj.bias"].numpy(), d.sts_temperatures.numpy(), t, k, p, u)
    np.testing.assert_array_equal(ours.draft_tokens.numpy(), ref.draft_tokens)
    for field in ("draft_q", "q_full", "confidences", "survivals"):
        np.testing.assert_allclose(getattr(ours, field).numpy(), getattr(ref, field), rtol=1e-5, atol=1e-6,
                                   err_msg=field)


def test_teacher_forced_heads_agree_with_draft_step(cases):
    _, _, d = cases("llama")
    logits, hidden, anchor, t, k, p, u = _ds_inputs(d, B=4, kind="greedy", seed=2)
    out = draft_step(d, logits, hidden, anchor, torch.from_numpy(t), torch.from_numpy(k), torch.from_numpy(p),
                     torch.from_numpy(u))
    prev = torch.cat((anchor[:, None], out.draft_tokens[:, :-1]), dim=1)  # [B, γ]
    assert torch.equal(markov_logits(d, logits, prev).argmax(-1).int(), out.draft_tokens)
    conf = torch.sigmoid(confidence_logits(d, hidden, prev) / d.sts_temperatures)
    torch.testing.assert_close(conf, out.confidences)
    torch.testing.assert_close(out.survivals, torch.cumprod(conf, dim=1))
