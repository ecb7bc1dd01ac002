"""Shared test helpers: tiny bundles built once per session from the shipped tiny recipes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@lru_cache(maxsize=None)
def tiny_recipe(family: str):
    from dspark_compile.config import load_recipe

    return load_recipe(RECIPES / f"tiny-{family}.yaml")


@lru_cache(maxsize=None)
def tiny_hf_model(family: str):
    """The same random transformers model the tiny recipe builds (same seed, same config)."""
    from dspark_compile.sources import load_target

    recipe = tiny_recipe(family)
    return load_target(recipe.target, recipe.resolve)


def plain_target(bundle_path):
    """The bundle's unfused target graph (logits out) as a TargetModel: the plain-decoding reference."""
    from dspark_compile.bundle import load_bundle
    from dspark_compile.engine.base import load_engine
    from dspark_compile.runtime.target import ModelInfo, TargetModel

    bundle = load_bundle(bundle_path, verify=False)
    engine = load_engine("onnxruntime", bundle.path(bundle.engine("target")["files"][0]))
    return TargetModel(engine, ModelInfo.from_manifest(bundle.model))


def deepspec_fixtures():
    """The reference's own artifacts (`shared/fixtures/deepspec`, see its README): beside the clone in CI
    (`../shared/fixtures/deepspec`), or where $DSPARK_SHARED_FIXTURES points. Skips the test when absent."""
    import os

    import pytest

    root = Path(os.environ.get("DSPARK_SHARED_FIXTURES", RECIPES.parents[1] / "shared" / "fixtures"))
    path = root / "deepspec"
    if not (path / "ckpt_deepspec" / "config.json").is_file():
        pytest.skip(f"DeepSpec fixtures not found at {path} (set DSPARK_SHARED_FIXTURES to the fixtures folder)")
    return path


def builder_paths(manifest) -> list[str]:
    """Strings in a manifest that look like paths of the machine that built it: absolute paths (anywhere in
    a string) and references to the checkout it was built in. A bundle that travels records names."""
    import json
    import re

    root = str(Path(__file__).resolve().parents[1])
    found = []

    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and (root in value or re.search(r"(^|[\s(='\"])(/|~/)[\w.-]+/", value)):
            found.append(value)

    manifest = json.loads(json.dumps(manifest))
    # quantized layers are named by their ONNX nodes, which read like absolute paths ('/fc/MatMul') and are not
    for section in manifest.get("quantization", {}).values():
        for layer in section.get("layers", []):
            layer.pop("name", None)
    walk(manifest)
    return found
