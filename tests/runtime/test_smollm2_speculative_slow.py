"""SmolLM2-135M with the shipped trained drafter: speculative greedy output equals plain greedy output over
10 prompts x 128 tokens, with drafts really accepted (slow: builds the real bundle)."""

import pytest

from dspark_compile.config import SchedulerConfig
from dspark_compile.runtime.sampling import SamplingParams

pytestmark = pytest.mark.real_model

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

    recipe = load_recipe(RECIPES / "smollm2-135m.yaml")
    return Runtime.load(build_bundle(recipe, tmp_path_factory.mktemp("smollm2-spec") / "bundle"))


@pytest.mark.parametrize("scheduler", [SchedulerConfig(mode="fixed"), SchedulerConfig(mode="cost", fallback=False),
                                       SchedulerConfig(mode="cost")], ids=["fixed", "cost-always-drafts", "cost"])
def test_speculative_equals_plain(runtime, scheduler):
    ids = [runtime.encode(p, chat=True) for p in PROMPTS]
    greedy = [SamplingParams()] * len(ids)
    plain = runtime.generate_ids(ids, 128, greedy, ignore_eos=True, scheduler=SchedulerConfig(mode="off"))
    spec = runtime.generate_ids(ids, 128, greedy, ignore_eos=True, scheduler=scheduler)
    assert [r.tokens for r in spec] == [r.tokens for r in plain]
    if scheduler.mode == "fixed":
        assert spec.metrics()["tau"] > 1.2  # drafts really get accepted


def test_default_bundle_drafter_graph_ends_in_schedule(runtime):
    """The default bundle's drafter graph ends DraftSample → Schedule with the recipe's scheduler settings,
    and the cost runs above took their verify lengths from it (same settings)."""
    import onnx

    from dspark_compile.ops.spec import DOMAIN
    from dspark_compile.runtime.scheduler import schedule_attrs

    bundle = runtime.bundle
    graph = onnx.load(str(bundle.path(bundle.engine("drafter")["files"][0])), load_external_data=False).graph
    ops = [n.op_type for n in graph.node if n.domain == DOMAIN]
    assert ops == ["DraftSample", "Schedule"]
    assert graph.output[-1].name == "verify_lengths"
    assert bundle.manifest["drafter"]["schedule"] == schedule_attrs(runtime.scheduler_config)
    assert runtime.drafter.info.schedule == schedule_attrs(SchedulerConfig(mode="cost", fallback=False))
