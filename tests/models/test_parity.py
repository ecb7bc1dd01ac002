"""Parity of DecoderLM with transformers' own implementation (eager attention, fp32).

Every case of conftest.CASES; sequences run past the tiny sliding windows (4 tokens).
"""

import pytest
import torch

from dspark_compile.models import build_model

from .harness import StepCache, hf_reference

LOGIT_ATOL = 1e-4
TAP_ATOL = 1e-4


def tokens(seed: int, n: int) -> list[int]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(3, 512, (n,), generator=gen).tolist()


def assert_logits_match(ours: torch.Tensor, ref: torch.Tensor):
    """ours/ref [N, V]: close and with the same top-1 at every position."""
    torch.testing.assert_close(ours, ref, atol=LOGIT_ATOL, rtol=0)
    assert torch.equal(ours.argmax(-1), ref.argmax(-1))


def test_prefill_logits_and_taps(pair):
    hf, model = pair
    seq = tokens(0, 11)
    ref_logits, ref_hidden = hf_reference(hf, seq)
    cache = StepCache(model, batch=1, slack=0)  # P == 0: the empty-cache path
    logits, taps = cache.step([seq])
    assert logits.dtype == torch.float32
    assert_logits_match(logits[0], ref_logits)
    ref_taps = torch.cat([ref_hidden[j + 1] for j in model.tap_layers], dim=-1)  # [N, n_taps*H]
    assert taps.shape == (1, len(seq), len(model.tap_layers) * model.hidden_size)
    torch.testing.assert_close(taps[0], ref_taps, atol=TAP_ATOL, rtol=1e-5)


def test_prefill_last_token_only(pair):
    """K=1 with the last real token's index: the prefill shape the runtime uses."""
    hf, model = pair
    seq = tokens(1, 7)
    ref_logits, _ = hf_reference(hf, seq)
    T = len(seq) + 2  # two padding tokens after the real ones
    input_ids = torch.tensor([seq + [0, 0]])
    past = [torch.zeros(1, hkv, T, d) for hkv, d in model.kv_shapes()]  # room for T tokens
    with torch.no_grad():
        logits, taps, *new_kv = model(
            input_ids, torch.arange(T)[None], torch.tensor([0]), torch.tensor([[len(seq) - 1]]), *past
        )
    assert logits.shape == (1, 1, model.vocab_size)
    assert len(new_kv) == 2 * model.num_layers
    assert all(kv.shape == (1, hkv, T, d) for kv, (hkv, d) in zip(new_kv, model.kv_shapes()))
    assert_logits_match(logits[0], ref_logits[-1:])


def test_decode_with_cache(pair):
    """Prefill, single-token decodes, a T=4 step, more decodes: each equals HF on the full sequence."""
    hf, model = pair
    seq = tokens(2, 16)
    ref_logits, _ = hf_reference(hf, seq)
    cache = StepCache(model, batch=1)
    done = 0
    for n in (6, 1, 1, 1, 4, 1, 2):
        logits, _ = cache.step([seq[done : done + n]])
        assert_logits_match(logits[0], ref_logits[done : done + n])
        done += n
    assert done == len(seq)


def test_batched_ragged_rows(pair):
    """Right-padded rows with different lengths and past_lengths, each equal to HF on the row alone."""
    hf, model = pair
    seqs = [tokens(10 + b, 14) for b in range(3)]
    refs = [hf_reference(hf, s)[0] for s in seqs]
    cache = StepCache(model, batch=3)
    schedule = [(7, 3, 5), (1, 4, 2), (3, 1, 1), (1, 2, 4)]  # new tokens per row and step
    done = [0, 0, 0]
    for counts in schedule:
        rows = [seqs[b][done[b] : done[b] + n] for b, n in enumerate(counts)]
        logits, taps = cache.step(rows)
        assert torch.isfinite(logits).all() and torch.isfinite(taps).all(), "padded queries must stay finite"
        for b, n in enumerate(counts):
            assert_logits_match(logits[b, :n], refs[b][done[b] : done[b] + n])
            done[b] += n


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs(pair, dtype):
    """Half weights: finite fp32 logits near the fp32 model, KV and taps in the model dtype."""
    hf, model = pair
    half = build_model(hf.config, hf.state_dict(), model.tap_layers, dtype=dtype)
    seq = tokens(3, 9)
    ref_logits, _ = hf_reference(hf, seq)
    cache = StepCache(half, batch=1)
    logits, taps = cache.step([seq[:5]])
    more, _ = cache.step([seq[5:]])
    got = torch.cat([logits[0], more[0]])
    assert got.dtype == torch.float32 and taps.dtype == dtype and cache.kv[0].dtype == dtype
    assert torch.isfinite(got).all()
    # 0.1, or twice transformers' own error in this dtype where that is larger (Gemma 4's unscaled q·k of
    # normed q/k: HF's bf16 logits are 0.25 off its fp32 ones on the tiny case)
    atol = 0.1
    if model.arch.family.unit_query_scale:
        import copy

        with torch.no_grad():
            hf_half = copy.deepcopy(hf).to(dtype)(torch.tensor([seq])).logits[0].float()
        atol = max(atol, 2 * float((hf_half - ref_logits).abs().max()))
    torch.testing.assert_close(got, ref_logits, atol=atol, rtol=0)
