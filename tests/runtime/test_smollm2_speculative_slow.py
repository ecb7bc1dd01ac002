"""SmolLM2-135M with a (random, untrained) drafter: speculative greedy output equals plain greedy output
over 10 prompts x 128 tokens (slow: builds the real bundle)."""

import pytest

from dspark_compile.config import SchedulerConfig
from dspark_compile.runtime.sampling import SamplingParams

pytestmark = pytest.mark.slow

PROMPTS = [
    "What is the capital of France?", "Write a haiku about the sea.", "Explain why the sky is blue.",
    "List three prime numbers greater than 10.", "def fibonacci(n):", "Give me a tip for learning a language.",
    "What is 12 times 13?", "Describe a cat in one sentence.", "Name the planets of the solar system.",
    "How does a refrigerator keep food cold?",
]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    from dspark_compile.build import build_bundle
    from dspark_compile.config import load_recipe
    from dspark_compile.runtime.api import Runtime
    from tests.helpers import RECIPES

    data = load_recipe(RECIPES / "smollm2-135m.yaml").to_dict()
    data["draft"] = {"source": "random", "num_layers": 1, "markov_rank": 32, "seed": 0}
    from dspark_compile.config import parse_recipe

    recipe = parse_recipe(data, base_dir=RECIPES)
    return Runtime.load(build_bundle(recipe, tmp_path_factory.mktemp("smollm2-spec") / "bundle"))


@pytest.mark.parametrize("mode", ["fixed", "cost"])
def test_speculative_equals_plain(runtime, mode):
    ids = [runtime.encode(p, chat=True) for p in PROMPTS]
    greedy = [SamplingParams()] * len(ids)
    plain = runtime.generate_ids(ids, 128, greedy, ignore_eos=True, scheduler=SchedulerConfig(mode="off"))
    spec = runtime.generate_ids(ids, 128, greedy, ignore_eos=True, scheduler=SchedulerConfig(mode=mode))
    assert [r.tokens for r in spec] == [r.tokens for r in plain]
