"""Family specs: what distinguishes one decoder family from another, as data, and their registry.

A family is a frozen bag of flags read by the one shared decoder in `base.py`. Adding a family means
adding a spec in `families.py` and a tiny config in `tiny.py`; nothing else branches on the family.
"""

from __future__ import annotations

from dataclasses import dataclass

from dspark_compile.errors import ModelError


@dataclass(frozen=True)
class FamilySpec:
    """Architecture choices of one decoder family (all read by `base.DecoderLM`).

    name:               registry name ("llama", "qwen3", "gemma3").
    model_types:        HF `config.model_type` values served by this family.
    norm_plus_one:      RMSNorm scales by (1 + w) in fp32 (Gemma); otherwise by w after casting the
                        normalised activation back to the model dtype (Llama/Qwen).
    qk_norm:            per-head RMSNorm on queries and keys before RoPE.
    sandwich_norms:     post-attention and pre/post-feedforward norms around the MLP (Gemma 2/3).
    embed_scale:        multiply embeddings by sqrt(hidden_size), rounded to the weight dtype.
    activation_key:     config attribute naming the MLP activation (an `ACT2FN` key).
    query_scale_key:    config attribute whose value s scales scores by s**-0.5; None means head_dim.
    attn_softcap_key:   config attribute with the tanh cap on attention scores, or None when the family
                        never caps them. HF Gemma 3 stores `attn_logit_softcapping` but ignores it, so
                        gemma3 leaves this None to stay equal to the reference (Gemma 2 would set it).
    rope_per_layer_type: `config.rope_parameters` is keyed by layer type (Gemma 3 sliding/full).
    all_layers_slide:   with no `config.layer_types`, every layer uses `config.sliding_window` when it
                        is set (Mistral); otherwise layers without `layer_types` are full attention.
    norm_scale_fp32:    RMSNorm scales by w in fp32, then casts (Gemma 4), instead of w times the cast
                        normalised activation (Llama/Qwen); equal in fp32.
    value_norm:         a weightless RMSNorm on the values (Gemma 4).
    unit_query_scale:   scores are q·k unscaled (the q/k norms carry the scale; Gemma 4).
    layer_scalar:       each layer's output is multiplied by its stored `layer_scalar` [1] (Gemma 4).
    global_layer_dims:  full-attention layers use `config.per_layer_config` (global_head_dim and, with
                        `attention_k_eq_v`, num_global_key_value_heads and V = the K projection; Gemma 4).
    """

    name: str
    model_types: tuple[str, ...]
    norm_plus_one: bool = False
    qk_norm: bool = False
    sandwich_norms: bool = False
    embed_scale: bool = False
    activation_key: str = "hidden_act"
    query_scale_key: str | None = None
    attn_softcap_key: str | None = None
    rope_per_layer_type: bool = False
    all_layers_slide: bool = False
    norm_scale_fp32: bool = False
    value_norm: bool = False
    unit_query_scale: bool = False
    layer_scalar: bool = False
    global_layer_dims: bool = False


_BY_MODEL_TYPE: dict[str, FamilySpec] = {}
_BY_NAME: dict[str, FamilySpec] = {}


def register(spec: FamilySpec) -> FamilySpec:
    """Add `spec` to the registry; a name or model_type registered twice is a programming error."""
    assert spec.name not in _BY_NAME, f"family {spec.name!r} registered twice"
    for model_type in spec.model_types:
        assert model_type not in _BY_MODEL_TYPE, f"model_type {model_type!r} registered twice"
        _BY_MODEL_TYPE[model_type] = spec
    _BY_NAME[spec.name] = spec
    return spec


def get_family(model_type: str) -> FamilySpec:
    """The family serving HF `model_type` (a family name is accepted too); ModelError if none does."""
    spec = _BY_MODEL_TYPE.get(model_type) or _BY_NAME.get(model_type)
    if spec is None:
        raise ModelError(
            f"unsupported model_type {model_type!r}; supported model_types: "
            f"{', '.join(supported_model_types())} (families: {', '.join(supported_families())})"
        )
    return spec


def supported_families() -> tuple[str, ...]:
    """Registered family names, sorted."""
    return tuple(sorted(_BY_NAME))


def supported_model_types() -> tuple[str, ...]:
    """Every HF model_type some family serves, sorted."""
    return tuple(sorted(_BY_MODEL_TYPE))
