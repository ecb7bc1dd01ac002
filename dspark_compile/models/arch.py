"""Resolve an HF config into the plain numbers the shared decoder needs (`ArchConfig`).

Everything HF-config-shaped is read here, once; `base.py` never sees a transformers config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.activations import ACT2FN
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from dspark_compile.errors import ModelError
from dspark_compile.models.spec import FamilySpec

FULL = "full_attention"
SLIDING = "sliding_attention"
LAYER_TYPES = (FULL, SLIDING)

# RoPE variants whose frequencies are fixed at load time. "dynamic" and "longrope" recompute them from
# the running sequence length, which a static graph with a reusable cache cannot follow.
STATIC_ROPE_TYPES = ("default", "linear", "llama3", "yarn", "proportional")

# Gemma 4 options the export does not implement (PLE, MoE, shared KV, bidirectional text), with the value
# that means "off": a config with anything else is refused naming the key.
_GEMMA4_OFF = {"hidden_size_per_layer_input": (0, None), "enable_moe_block": (False, None),
               "num_kv_shared_layers": (0, None), "use_bidirectional_attention": (None, "vision")}


@dataclass(frozen=True)
class RopeTable:
    """Inverse frequencies [D/2] (as exact float32 values) and the cos/sin post-scale of one layer type."""

    inv_freq: tuple[float, ...]
    attention_scaling: float


@dataclass(frozen=True)
class ArchConfig:
    """The resolved architecture of one decoder: dims, per-layer attention kind and RoPE tables."""

    family: FamilySpec
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    rms_norm_eps: float
    activation: str
    attention_bias: bool
    mlp_bias: bool
    query_scale: float  # multiplies q·k
    attn_softcap: float | None
    final_softcap: float | None
    sliding_window: int | None  # query at p sees key at j iff p - j < sliding_window (sliding layers)
    layer_types: tuple[str, ...]  # one of LAYER_TYPES per layer
    rope: tuple[tuple[str, RopeTable], ...]  # (layer_type, table) for each layer type in use
    tie_word_embeddings: bool
    layer_dims: tuple[tuple[int, int, bool], ...] = ()  # per layer (kv heads, head dim, V = K projection)

    def rope_table(self, layer_type: str) -> RopeTable:
        return dict(self.rope)[layer_type]

    def dims(self, layer: int) -> tuple[int, int, bool]:
        """(kv heads, head dim, keys double as values) of decoder layer `layer`."""
        return self.layer_dims[layer] if self.layer_dims else (self.num_kv_heads, self.head_dim, False)


def _get(cfg, key: str, default=None):
    value = getattr(cfg, key, default)
    return default if value is None else value


def _layer_types(cfg, spec: FamilySpec, num_layers: int) -> tuple[str, ...]:
    window = getattr(cfg, "sliding_window", None)
    types = getattr(cfg, "layer_types", None)
    if types is None:
        uniform = SLIDING if spec.all_layers_slide and window is not None else FULL
        types = [uniform] * num_layers
    types = tuple(types)
    if len(types) != num_layers:
        raise ModelError(f"config.layer_types has {len(types)} entries but num_hidden_layers is {num_layers}")
    unknown = sorted(set(types) - set(LAYER_TYPES))
    if unknown:
        raise ModelError(f"unsupported layer types {unknown} in config.layer_types; supported: {list(LAYER_TYPES)}")
    if SLIDING in types and not window:
        raise ModelError(f"config.layer_types has {SLIDING!r} layers but config.sliding_window is {window!r}")
    return types


def _rope_table(cfg, layer_type: str | None, head_dim: int) -> RopeTable:
    params = cfg.rope_parameters if layer_type is None else cfg.rope_parameters[layer_type]
    rope_type = params.get("rope_type", "default")
    where = "config.rope_parameters" + ("" if layer_type is None else f"[{layer_type!r}]")
    if rope_type not in STATIC_ROPE_TYPES:
        raise ModelError(f"unsupported rope_type {rope_type!r} in {where}; supported: {list(STATIC_ROPE_TYPES)}")
    if params.get("partial_rotary_factor", 1.0) != 1.0 and rope_type != "proportional":  # proportional pads
        raise ModelError(f"partial_rotary_factor={params['partial_rotary_factor']} in {where} is not supported")
    if rope_type == "default":  # each HF model computes this itself; ROPE_INIT_FUNCTIONS has no entry
        exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
        inv_freq, scaling = 1.0 / (params["rope_theta"] ** exponents), 1.0
    else:
        kwargs = {} if layer_type is None else {"layer_type": layer_type}
        inv_freq, scaling = ROPE_INIT_FUNCTIONS[rope_type](cfg, None, **kwargs)
    return RopeTable(tuple(inv_freq.float().tolist()), float(scaling))


def arch_from_hf(hf_config, spec: FamilySpec) -> ArchConfig:
    """Read the text decoder of `hf_config` (a multimodal config's text_config) for family `spec`."""
    cfg = hf_config.get_text_config()
    num_layers = cfg.num_hidden_layers
    num_heads = cfg.num_attention_heads
    layer_types = _layer_types(cfg, spec, num_layers)
    if spec.global_layer_dims:  # head_dim / num_key_value_heads are per layer (reading them globally raises)
        _refuse_gemma4_options(cfg)
        type_dims = {}
        for lt in set(layer_types):
            layer_cfg = cfg.per_layer_config[lt]
            type_dims[lt] = (layer_cfg.num_key_value_heads, layer_cfg.head_dim,
                             bool(getattr(cfg, "attention_k_eq_v", False)) and lt == FULL)
        num_kv_heads, head_dim, _ = type_dims[layer_types[0]]
    else:
        head_dim = _get(cfg, "head_dim", cfg.hidden_size // num_heads)
        num_kv_heads = _get(cfg, "num_key_value_heads", num_heads)
        type_dims = {lt: (num_kv_heads, head_dim, False) for lt in set(layer_types)}
    if spec.rope_per_layer_type:
        rope = tuple((lt, _rope_table(cfg, lt, type_dims[lt][1])) for lt in sorted(set(layer_types)))
    else:
        table = _rope_table(cfg, None, head_dim)
        rope = tuple((lt, table) for lt in sorted(set(layer_types)))
    query_scale_base = head_dim if spec.query_scale_key is None else getattr(cfg, spec.query_scale_key)
    if spec.unit_query_scale:
        query_scale_base = 1.0
    activation = getattr(cfg, spec.activation_key, None)
    if activation not in ACT2FN:
        raise ModelError(
            f"config.{spec.activation_key}={activation!r} is not a known activation (family {spec.name!r})"
        )
    return ArchConfig(
        family=spec,
        num_layers=num_layers,
        hidden_size=cfg.hidden_size,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        intermediate_size=cfg.intermediate_size,
        vocab_size=cfg.vocab_size,
        rms_norm_eps=cfg.rms_norm_eps,
        activation=activation,
        attention_bias=bool(_get(cfg, "attention_bias", False)),
        mlp_bias=bool(_get(cfg, "mlp_bias", False)),
        query_scale=float(query_scale_base) ** -0.5,
        attn_softcap=None if spec.attn_softcap_key is None else getattr(cfg, spec.attn_softcap_key, None),
        final_softcap=getattr(cfg, "final_logit_softcapping", None),
        sliding_window=getattr(cfg, "sliding_window", None) if SLIDING in layer_types else None,
        layer_types=layer_types,
        rope=rope,
        tie_word_embeddings=bool(_get(hf_config, "tie_word_embeddings", False)),
        layer_dims=tuple(type_dims[lt] for lt in layer_types) if spec.global_layer_dims else (),
    )


def _refuse_gemma4_options(cfg) -> None:
    for key, allowed in _GEMMA4_OFF.items():
        value = getattr(cfg, key, allowed[0])
        if value not in allowed:
            raise ModelError(f"config.{key}={value!r} is not supported (Gemma 4 per-layer inputs, MoE blocks, "
                             f"shared KV and bidirectional text attention are not exported); supported: "
                             f"{[a for a in allowed]}")
