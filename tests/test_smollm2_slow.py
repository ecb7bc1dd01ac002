"""The fp32 reference recipe end to end on the real SmolLM2-135M-Instruct (slow: about 3 minutes)."""

import pytest
import torch

from dspark_compile.runtime.sampling import SamplingParams

pytestmark = pytest.mark.real_model

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain in two sentences why the sky is blue.",
    "List three prime numbers greater than 10.",
    "def fibonacci(n):",
    "Give me a tip for learning a new language.",
]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    from dspark_compile.build import build_bundle
    from dspark_compile.config import load_recipe
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.sources import load_target
    from tests.helpers import RECIPES

    recipe = load_recipe(RECIPES / "smollm2-135m-fp32.yaml")
    path = build_bundle(recipe, tmp_path_factory.mktemp("smollm2") / "bundle")
    hf = load_target(recipe.target, recipe.resolve).model
    hf.generation_config.eos_token_id = None  # (min_new_tokens would instead mask EOS out of the logits)
    return Runtime.load(path), hf


def test_greedy_equals_transformers_generate(smollm2):
    rt, hf = smollm2
    for prompt in PROMPTS:
        ids = rt.encode(prompt, chat=True)
        ours = rt.generate_ids([ids], 64, [SamplingParams()], ignore_eos=True)[0].tokens
        with torch.no_grad():  # the generation config has no EOS: both decode exactly 64 tokens
            ref = hf.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                              max_new_tokens=64, do_sample=False)[0, len(ids):].tolist()
        assert ours == ref, prompt


def test_chat_answer_is_sensible(smollm2):
    rt, _ = smollm2
    out = rt.generate(["What is the capital of France?"], max_new_tokens=32, chat=True)[0]
    assert "Paris" in out.text and out.finish_reason == "eos"


def test_default_bundle_manifest_has_no_builder_paths(smollm2):
    """The default recipe names its drafter by a relative path and its target by package: the manifest keeps
    names and hashes only."""
    from tests.helpers import builder_paths

    rt, _ = smollm2
    manifest = rt.bundle.manifest
    assert builder_paths(manifest) == []
    assert manifest["drafter"]["source"] == "checkpoint smollm2-135m" and len(manifest["drafter"]["source_sha256"]) == 64
    assert manifest["recipe"]["draft"]["path"] == "smollm2-135m"

