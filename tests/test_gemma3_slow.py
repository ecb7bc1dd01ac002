"""Gemma 3 270M (recipes/gemma3-270m.yaml, issue 19) end to end on the real model: our greedy decoding equals
transformers' on the same GGUF-loaded model, and speculative greedy decoding with the shipped drafter
(drafters/gemma3-270m) equals plain decoding (slow: builds the real 1 GB bundle, about 5 minutes)."""

import numpy as np
import pytest
import torch

from dspark_compile.config import SchedulerConfig
from dspark_compile.runtime.sampling import SamplingParams

pytestmark = pytest.mark.real_model

# A base model without a chat template: plain-text continuations.
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Once upon a time, in a small village by the sea,",
    "The three primary colors are",
    "To make a cup of tea, first",
    "Photosynthesis is the process by which",
    "import numpy as np\n\n# compute the mean of a list\n",
    "Q: What is 12 times 13?\nA:",
]


@pytest.fixture(scope="module")
def gemma3(tmp_path_factory):
    """The recipe's bundle (its target and the shipped drafter, int8), and the transformers model it was traced
    from."""
    from dspark_compile.build import build_bundle
    from dspark_compile.config import load_recipe
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.sources import load_target
    from tests.helpers import RECIPES

    recipe = load_recipe(RECIPES / "gemma3-270m.yaml")
    assert recipe.draft.source == "checkpoint" and recipe.quantization.drafter == "int8"
    path = build_bundle(recipe, tmp_path_factory.mktemp("gemma3") / "bundle")
    hf = load_target(recipe.target, recipe.resolve).model
    hf.generation_config.eos_token_id = None  # (both decode exactly 64 tokens)
    return Runtime.load(path), hf


def test_greedy_equals_transformers_generate(gemma3):
    rt, hf = gemma3
    assert rt.tokenizer.chat_template is None and rt.info.vocab_size == 262144
    for prompt in PROMPTS:
        ids = rt.encode(prompt)
        ours = rt.generate_ids([ids], 64, [SamplingParams()], ignore_eos=True,
                               scheduler=SchedulerConfig(mode="off"))[0].tokens
        with torch.no_grad():
            ref = hf.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                              max_new_tokens=64, do_sample=False)[0, len(ids):].tolist()
        assert ours == ref, prompt


@pytest.mark.parametrize("scheduler", [SchedulerConfig(mode="fixed"), SchedulerConfig(mode="cost", fallback=False)],
                         ids=["fixed", "cost-always-drafts"])
def test_speculative_equals_plain(gemma3, scheduler):
    rt, _ = gemma3
    ids = [rt.encode(p) for p in PROMPTS]
    greedy = [SamplingParams()] * len(ids)
    plain = rt.generate_ids(ids, 64, greedy, ignore_eos=True, scheduler=SchedulerConfig(mode="off"))
    spec = rt.generate_ids(ids, 64, greedy, ignore_eos=True, scheduler=scheduler)
    assert [r.tokens for r in spec] == [r.tokens for r in plain]
    assert sum(sum(r.stats.accepted) for r in spec) > len(PROMPTS)  # the trained drafter's drafts were accepted


def test_the_tied_embedding_is_stored_once(gemma3):
    """268M parameters in fp32: the 262,144 x 640 embedding (also the lm_head) is written once."""
    rt, hf = gemma3
    params = sum(p.numel() for p in hf.parameters())  # transformers ties lm_head to the embedding
    weights = rt.bundle.path(rt.bundle.engine("target")["files"][0]).with_suffix(".weights")
    size = weights.stat().st_size
    print(f"target weights {size / 1e6:.0f} MB for {params / 1e6:.1f}M parameters")
    assert size < params * 4 * 1.01


def test_sampled_decoding_stays_in_the_filter(gemma3):
    """Top-k 5 at T 0.8: every sampled token is among the 5 most likely of the target's (plain) logits."""
    from tests.helpers import plain_target

    rt, _ = gemma3
    ids = rt.encode(PROMPTS[0])
    out = rt.generate_ids([ids], 8, [SamplingParams(temperature=0.8, top_k=5, seed=3)], ignore_eos=True,
                          scheduler=SchedulerConfig(mode="fixed"))[0].tokens
    target = plain_target(rt.bundle.root)
    seq = np.array([ids + out], dtype=np.int64)
    cache = target.new_cache(1, seq.shape[1])
    logits = target.step(cache, seq, np.arange(seq.shape[1])[None]).logits[0]  # [T, V]
    for j, tok in enumerate(out):
        assert tok in np.argsort(-logits[len(ids) - 1 + j])[:5]
