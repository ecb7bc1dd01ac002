"""The supported decoder families, one declarative spec each."""

from dspark_compile.models.spec import FamilySpec, register

# SmolLM2, Llama 2/3, Mistral (Mistral slides every layer when `sliding_window` is set).
LLAMA = register(
    FamilySpec(
        name="llama",
        model_types=("llama", "mistral"),
        all_layers_slide=True,
    )
)

# Qwen3 dense: Llama plus a per-head RMSNorm on q and k.
QWEN3 = register(
    FamilySpec(
        name="qwen3",
        model_types=("qwen3",),
        qk_norm=True,
    )
)

# Gemma 3 text decoder ("gemma3" is the multimodal wrapper; its text part sits under text_config).
GEMMA3 = register(
    FamilySpec(
        name="gemma3",
        model_types=("gemma3_text", "gemma3"),
        norm_plus_one=True,
        qk_norm=True,
        sandwich_norms=True,
        embed_scale=True,
        activation_key="hidden_activation",
        query_scale_key="query_pre_attn_scalar",
        rope_per_layer_type=True,
    )
)

# Gemma 2: Gemma 3 without q/k norm, with one RoPE for all layers and capped attention scores.
GEMMA2 = register(
    FamilySpec(
        name="gemma2",
        model_types=("gemma2",),
        norm_plus_one=True,
        sandwich_norms=True,
        embed_scale=True,
        activation_key="hidden_activation",
        query_scale_key="query_pre_attn_scalar",
        attn_softcap_key="attn_logit_softcapping",
    )
)

# Gemma 4 dense text decoder (Gemma 4 12B is `gemma4_unified`; its text part sits under text_config):
# Gemma 3's layout with plain-w norms scaled in fp32, a weightless value norm, unscaled scores, a stored
# per-layer output scale, and wider heads on the full-attention layers (global_head_dim; with
# attention_k_eq_v fewer KV heads and V = K's projection) using proportional (partial) RoPE.
GEMMA4 = register(
    FamilySpec(
        name="gemma4",
        model_types=("gemma4_text", "gemma4", "gemma4_unified_text", "gemma4_unified"),
        qk_norm=True,
        sandwich_norms=True,
        embed_scale=True,
        activation_key="hidden_activation",
        rope_per_layer_type=True,
        norm_scale_fp32=True,
        value_norm=True,
        unit_query_scale=True,
        layer_scalar=True,
        global_layer_dims=True,
    )
)
