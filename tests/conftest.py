import os

# Keep the test run deterministic and polite on a 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

SLOW_KINDS = ("exhaustive", "real_model", "toolchain")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Each kind of long test is also `slow`: out of the default run, and `-m slow` still selects them all."""
    for item in items:
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker(pytest.mark.slow)

FAMILIES = ("llama", "qwen3", "gemma3")


@pytest.fixture(scope="session")
def tiny_bundles(tmp_path_factory):
    """Build each tiny recipe's bundle once per test session (lazily, per family)."""
    from dspark_compile.build import build_bundle

    from tests.helpers import tiny_recipe

    root = tmp_path_factory.mktemp("bundles")
    built = {}

    def get(family: str):
        if family not in built:
            built[family] = build_bundle(tiny_recipe(family), root / family)
        return built[family]

    return get
