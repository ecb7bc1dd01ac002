"""Weight loading: shared storage, ties, dtype conversion, and errors that name the tensors."""

import pytest
import torch

from dspark_compile.errors import ModelError
from dspark_compile.models import build_model, from_hf_model
from dspark_compile.models.tiny import tiny_hf_model


def test_weights_are_shared_not_copied():
    hf = tiny_hf_model("qwen3")
    model = from_hf_model(hf)
    hf_params = dict(hf.named_parameters())
    for name, param in model.named_parameters():
        source = "lm_head.weight" if name == "lm_head.weight" else "model." + name
        assert param.data_ptr() == hf_params[source].data_ptr(), name
    assert not any(p.requires_grad for p in model.parameters())


def test_tied_embeddings_stay_one_tensor_after_conversion():
    hf = tiny_hf_model("llama")
    assert hf.config.tie_word_embeddings
    model = build_model(hf.config, hf.state_dict(), dtype=torch.float16)
    assert model.lm_head.weight is model.embed_tokens.weight
    assert model.embed_tokens.weight.dtype == torch.float16
    state = dict(hf.state_dict())
    del state["lm_head.weight"]  # tied checkpoints often omit it
    assert build_model(hf.config, state).lm_head.weight is not None


def test_config_attributes_and_kv_names():
    hf = tiny_hf_model("gemma3")
    model = from_hf_model(hf, tap_layers=[0, 2])
    text = hf.config
    assert (model.num_layers, model.num_kv_heads, model.head_dim) == (6, 2, 16)
    assert (model.hidden_size, model.vocab_size, model.tap_layers) == (text.hidden_size, text.vocab_size, (0, 2))
    assert model.dtype == torch.float32
    assert model.kv_names()[:3] == ["key.0", "value.0", "key.1"] and len(model.kv_names()) == 12


def test_missing_tensor_is_named():
    hf = tiny_hf_model("qwen3")
    state = dict(hf.state_dict())
    del state["model.layers.1.self_attn.k_norm.weight"]
    with pytest.raises(ModelError, match=r"model\.layers\.1\.self_attn\.k_norm\.weight"):
        build_model(hf.config, state)


def test_unexpected_tensor_is_named():
    hf = tiny_hf_model("llama")
    state = dict(hf.state_dict())
    state["model.layers.0.self_attn.q_proj.bias"] = torch.zeros(64)
    with pytest.raises(ModelError, match=r"q_proj\.bias"):
        build_model(hf.config, state)


def test_wrong_shape_is_a_model_error():
    hf = tiny_hf_model("llama")
    state = dict(hf.state_dict())
    state["model.norm.weight"] = torch.ones(3)
    with pytest.raises(ModelError, match="norm.weight"):
        build_model(hf.config, state)
