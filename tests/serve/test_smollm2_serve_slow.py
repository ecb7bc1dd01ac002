"""SmolLM2-135M with the shipped drafter behind `dspark-compile serve` (slow: builds the real bundle): 64
concurrent streaming chat clients, some hanging up; every completed greedy answer equals `run`'s, nothing is
lost or leaked; TTFT and TPOT percentiles are printed (-s)."""

import pytest

from tests.serve.conftest import ServerProcess
from tests.serve.load import run_load

pytestmark = pytest.mark.slow

PROMPTS = ["What is the capital of France?", "Write a haiku about the sea.", "Explain why the sky is blue.",
           "List three prime numbers greater than 10.", "def fibonacci(n):", "What is 12 times 13?",
           "Describe a cat in one sentence.", "How does a refrigerator keep food cold?"]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    from dspark_compile.build import build_bundle
    from dspark_compile.config import load_recipe
    from tests.helpers import RECIPES

    return build_bundle(load_recipe(RECIPES / "smollm2-135m.yaml"), tmp_path_factory.mktemp("smollm2-serve") / "bundle")


def test_smollm2_64_streams(smollm2):
    from dspark_compile.runtime.api import Runtime

    server = ServerProcess(smollm2, timeout=300)
    try:
        line = run_load(server, Runtime.load(smollm2), "smollm2-135m", PROMPTS, (16, 32), clients=64, per_client=1,
                        chat=True)
        print("\n" + line)
    finally:
        assert server.terminate(60) == 0
