"""The shared-context training forward equals the drafter's own forward, block by block."""

import pytest
import torch

from dspark_compile.drafter import DrafterConfig, init_drafter
from dspark_compile.models import from_hf_model
from dspark_compile.models.tiny import tiny_hf_model
from dspark_compile.train.forward import block_forward, block_logits


@pytest.mark.parametrize("family", ["llama", "qwen3", "gemma3"])
def test_block_forward_equals_drafter_forward(family):
    torch.manual_seed(0)
    hf = tiny_hf_model(family, seed=1234)
    target = from_hf_model(hf)
    cfg = DrafterConfig.for_target(hf.config, num_layers=2, block_size=4, markov_rank=8)
    d = init_drafter(cfg, target, seed=0, norm_jitter=0.3)
    S, L = 3, 11
    taps = torch.randn(S, L, cfg.num_taps * d.hidden_size)  # [S, L, n_taps*H]
    anchors = torch.tensor([[1, 3, 5, 10], [2, 2, 7, 9], [4, 6, 8, 1]])  # [S, n], repeats allowed
    tokens = torch.randint(0, d.vocab_size, anchors.shape)
    with torch.no_grad():
        hs = block_forward(d, taps, tokens, anchors)  # [S, n, γ, H]
        U = block_logits(d, hs)
        for s in range(S):
            for i in range(anchors.shape[1]):
                past = [torch.zeros(1, d.num_kv_heads, 0, d.head_dim) for _ in d.kv_names()]
                logits, hidden, *_ = d(taps[s : s + 1], torch.arange(L)[None], torch.tensor([L]),
                                       torch.tensor([0]), tokens[s, i : i + 1], anchors[s, i : i + 1], *past)
                torch.testing.assert_close(hidden[0], hs[s, i], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(logits[0], U[s, i], atol=1e-5, rtol=1e-5)
