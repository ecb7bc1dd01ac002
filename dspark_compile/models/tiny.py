"""Tiny random configs for every registered model_type (tests, recipes, smoke runs).

Sizes are small but not degenerate: GQA (4 query / 2 kv heads), head_dim different from
hidden/heads where the family allows it, sliding windows short enough to bite in a few tokens.
"""

from __future__ import annotations

import torch
from transformers import (
    AutoModelForCausalLM,
    Gemma2Config,
    Gemma3Config,
    Gemma3TextConfig,
    LlamaConfig,
    MistralConfig,
    PreTrainedConfig,
    Qwen3Config,
    SiglipVisionConfig,
)

from dspark_compile.errors import ModelError
from dspark_compile.models.spec import get_family

_COMMON = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=5,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=256,
    initializer_range=0.05,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)


def _gemma3_text(**overrides) -> Gemma3TextConfig:
    kwargs = dict(
        _COMMON,
        num_hidden_layers=6,
        query_pre_attn_scalar=24,
        sliding_window=4,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2,
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
            "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1_000_000.0},
        },
        tie_word_embeddings=True,
    )
    if "num_hidden_layers" in overrides and "layer_types" not in overrides:  # keep the 2 sliding : 1 full pattern
        kwargs["layer_types"] = [kwargs["layer_types"][i % 3] for i in range(overrides["num_hidden_layers"])]
    return Gemma3TextConfig(**{**kwargs, **overrides})


def _gemma3_multimodal(**overrides) -> Gemma3Config:
    vision = SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14
    )
    text = _gemma3_text(**overrides).to_dict()
    return Gemma3Config(text_config=text, vision_config=vision.to_dict(), mm_tokens_per_image=4)


def _gemma4_text(model_type: str = "gemma4_text", **overrides):
    """Gemma 4 12B's features, tiny: 5:1 sliding/full layers with a short window, wider full-attention heads
    (global_head_dim) with fewer KV heads and V = K (attention_k_eq_v), proportional RoPE on a quarter of the
    full heads' dims, final-logit softcapping, tied embeddings, no per-layer inputs / MoE / shared KV."""
    from transformers import Gemma4TextConfig, Gemma4UnifiedTextConfig

    kwargs = dict(_COMMON, num_hidden_layers=6, head_dim=16, global_head_dim=32, num_global_key_value_heads=1,
                  attention_k_eq_v=True, sliding_window=4, final_logit_softcapping=3.0, tie_word_embeddings=True,
                  rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
                                   "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25,
                                                      "rope_theta": 1_000_000.0}})
    n = overrides.get("num_hidden_layers", kwargs["num_hidden_layers"])  # 5 sliding : 1 full, the last full
    kwargs["layer_types"] = ["full_attention" if (i + 1) % 6 == 0 or i == n - 1 else "sliding_attention"
                             for i in range(n)]
    if model_type == "gemma4_text":
        kwargs.update(hidden_size_per_layer_input=0, enable_moe_block=False, vocab_size_per_layer_input=512)
        return Gemma4TextConfig(**{**kwargs, **overrides})
    return Gemma4UnifiedTextConfig(**{**kwargs, **overrides})


def _gemma4_multimodal(model_type: str, **overrides):
    from transformers import Gemma4Config, Gemma4UnifiedConfig

    text = _gemma4_text(model_type + "_text", **overrides).to_dict()
    return (Gemma4Config if model_type == "gemma4" else Gemma4UnifiedConfig)(text_config=text)


_FACTORIES = {
    "llama": lambda **o: LlamaConfig(**{**_COMMON, "tie_word_embeddings": True, **o}),
    "mistral": lambda **o: MistralConfig(**{**_COMMON, "sliding_window": 4, "tie_word_embeddings": False, **o}),
    "qwen3": lambda **o: Qwen3Config(**{**_COMMON, "head_dim": 32, "tie_word_embeddings": False, **o}),
    "gemma2": lambda **o: Gemma2Config(
        **{
            **_COMMON,
            "query_pre_attn_scalar": 24,
            "sliding_window": 4,
            "attn_logit_softcapping": 2.0,  # low enough to bend the tiny model's scores
            "final_logit_softcapping": 3.0,
            **o,
        }
    ),
    "gemma3_text": _gemma3_text,
    "gemma3": _gemma3_multimodal,
    "gemma4_text": _gemma4_text,
    "gemma4_unified_text": lambda **o: _gemma4_text("gemma4_unified_text", **o),
    "gemma4": lambda **o: _gemma4_multimodal("gemma4", **o),
    "gemma4_unified": lambda **o: _gemma4_multimodal("gemma4_unified", **o),
}


def tiny_hf_config(family: str, model_type: str | None = None, **overrides) -> PreTrainedConfig:
    """A tiny HF config for `family` (default: its first model_type); overrides go to the text config."""
    spec = get_family(family)
    model_type = model_type or spec.model_types[0]
    if model_type not in spec.model_types:
        raise ModelError(f"model_type {model_type!r} is not served by family {spec.name!r}: {list(spec.model_types)}")
    if model_type not in _FACTORIES:
        raise ModelError(f"no tiny config for model_type {model_type!r}; have {sorted(_FACTORIES)}")
    return _FACTORIES[model_type](**overrides)


def tiny_hf_model(family: str, seed: int = 0, model_type: str | None = None, **overrides):
    """A seeded random HF causal LM (fp32, eager attention) from `tiny_hf_config`.

    Norm weights are jittered: HF initialises them to a constant, which would hide a norm that
    scales by w instead of (1 + w) or is applied in the wrong place.
    """
    config = tiny_hf_config(family, model_type, **overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.add_(torch.empty_like(param).uniform_(-0.5, 0.5))
        for name, buf in model.named_buffers():
            if name.endswith("layer_scalar"):  # Gemma 4's stored per-layer scale: 1 would hide a missing one
                buf.uniform_(0.5, 1.5)
    return model
