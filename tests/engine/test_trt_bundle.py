"""The TensorRT bundle path up to the first native call: profiles for every graph input, clear errors."""

import pytest

from dspark_compile.bundle import load_bundle
from dspark_compile.engine.base import TensorSpec
from dspark_compile.errors import BuildError
from dspark_compile.trt.bundle import check_available, dim_ranges
from dspark_compile.trt.profiles import build_profiles
from tests.helpers import tiny_recipe


def _specs(entry):
    return tuple(TensorSpec(s["name"], tuple(s["shape"]), s["dtype"]) for s in entry["inputs"])


@pytest.mark.parametrize("role", ["verify", "drafter"])
def test_every_input_dim_has_a_range_in_every_profile(tiny_bundles, role):
    recipe = tiny_recipe("llama")
    bundle = load_bundle(tiny_bundles("llama"), verify=False)
    g, vocab = bundle.manifest["drafter"]["block_size"], bundle.manifest["drafter"]["draft_vocab_size"]
    profiles = build_profiles(_specs(bundle.engine(role)), dim_ranges(recipe, role, g, vocab))
    assert len(profiles) == 2
    for p in profiles:
        for name, (lo, opt, hi) in p.shapes.items():
            assert all(a <= b <= c for a, b, c in zip(lo, opt, hi)), (p.name, name)
    decode = profiles[1].shapes
    if role == "verify":
        assert decode["draft_tokens"][2] == (recipe.shapes.max_batch, g)
        assert decode["uniforms"][2] == (recipe.shapes.max_batch, 2 * g + 1)
    else:  # the first drafter call absorbs a whole prompt
        assert profiles[0].shapes["ctx_taps"][2][1] == recipe.shapes.max_context


def test_missing_tensorrt_or_gpu_is_a_clear_build_error():
    with pytest.raises(BuildError, match="tensorrt|TensorRT|CUDA|GPU|libcuda"):
        check_available(tiny_recipe("llama"))


def test_build_with_tensorrt_fails_fast_and_leaves_nothing(tmp_path):
    from dspark_compile.build import build_bundle
    from dspark_compile.config import parse_recipe

    data = tiny_recipe("llama").to_dict()
    data["backends"] = ["onnxruntime", "tensorrt"]
    with pytest.raises(BuildError, match="TensorRT|tensorrt|GPU|CUDA"):
        build_bundle(parse_recipe(data), tmp_path / "b")
    assert list(tmp_path.iterdir()) == []
