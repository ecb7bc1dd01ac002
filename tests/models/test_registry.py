"""Registry, tiny-config coverage, tap defaults and config validation."""

import pytest
from transformers import GPT2Config

from dspark_compile.errors import ModelError
from dspark_compile.models import (
    build_model,
    check_tap_layers,
    default_tap_layers,
    get_family,
    supported_families,
    supported_model_types,
)
from dspark_compile.models.arch import arch_from_hf
from dspark_compile.models.tiny import tiny_hf_config, tiny_hf_model

from .conftest import CASES


def test_core_families_registered():
    assert {"llama", "qwen3", "gemma3"} <= set(supported_families())
    assert {"llama", "mistral", "qwen3", "gemma3_text", "gemma3"} <= set(supported_model_types())


@pytest.mark.parametrize("family", supported_families())
def test_every_registered_model_type_has_a_tiny_config(family):
    spec = get_family(family)
    for model_type in spec.model_types:
        config = tiny_hf_config(family, model_type)
        assert config.model_type == model_type
        assert get_family(config.model_type) is spec


def test_every_registered_model_type_has_a_parity_case():
    covered = {CASES[name][1] or get_family(CASES[name][0]).model_types[0] for name in CASES}
    assert covered == set(supported_model_types())


def test_unknown_model_type_names_it_and_lists_supported():
    with pytest.raises(ModelError) as info:
        get_family("gpt2")
    message = str(info.value)
    assert "'gpt2'" in message
    assert all(model_type in message for model_type in supported_model_types())


def test_build_model_rejects_unknown_architecture():
    with pytest.raises(ModelError, match="gpt2"):
        build_model(GPT2Config(n_layer=2), {})


@pytest.mark.parametrize(
    "num_layers, taps",
    [(3, (1,)), (4, (1, 2)), (6, (1, 2, 3, 4)), (28, (1, 7, 14, 20, 26)), (36, (1, 9, 18, 26, 34))],
)
def test_default_tap_layers(num_layers, taps):
    assert default_tap_layers(num_layers) == taps


def test_default_tap_layers_needs_three_layers():
    with pytest.raises(ModelError, match="at least 3 layers"):
        default_tap_layers(2)


@pytest.mark.parametrize("taps", [(), (2, 1), (1, 1), (-1, 2), (1, 4)])
def test_bad_tap_layers(taps):
    with pytest.raises(ModelError, match="tap_layers"):
        check_tap_layers(taps, num_layers=5)


def test_dynamic_rope_is_rejected():
    config = tiny_hf_config("llama", rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4})
    with pytest.raises(ModelError, match="'dynamic'"):
        arch_from_hf(config, get_family("llama"))


def test_unknown_layer_type_is_rejected():
    config = tiny_hf_config("qwen3")
    config.layer_types = ["full_attention"] * 4 + ["linear_attention"]
    with pytest.raises(ModelError, match="linear_attention"):
        arch_from_hf(config, get_family("qwen3"))


def test_llama3_rope_uses_transformers_helper():
    rope = {"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    model = tiny_hf_model("llama", rope_parameters=rope)
    arch = arch_from_hf(model.config, get_family("llama"))
    hf_inv_freq = model.model.rotary_emb.inv_freq
    assert arch.rope_table("full_attention").inv_freq == tuple(hf_inv_freq.tolist())
