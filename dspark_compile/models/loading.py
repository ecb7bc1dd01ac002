"""Build a `DecoderLM` from an HF config and state dict without a second copy of the weights."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from dspark_compile.errors import ModelError
from dspark_compile.models.arch import arch_from_hf
from dspark_compile.models.base import DecoderLM
from dspark_compile.models.spec import get_family
from dspark_compile.models.taps import default_tap_layers

# Where HF keeps the text decoder inside a checkpoint: causal LMs, then multimodal wrappers.
TEXT_PREFIXES = ("model.", "model.language_model.", "language_model.model.")


def _text_prefix(state_dict: Mapping[str, torch.Tensor]) -> str:
    for prefix in TEXT_PREFIXES:
        if prefix + "embed_tokens.weight" in state_dict:
            return prefix
    tried = ", ".join(p + "embed_tokens.weight" for p in TEXT_PREFIXES)
    sample = ", ".join(list(state_dict)[:5])
    raise ModelError(f"state dict has none of [{tried}]; its first keys are [{sample}]")


def build_model(
    hf_config,
    state_dict: Mapping[str, torch.Tensor],
    tap_layers: Iterable[int] | None = None,
    dtype: torch.dtype | None = None,
) -> DecoderLM:
    """DecoderLM for `hf_config` holding the tensors of `state_dict` (HF names).

    Tensors already in `dtype` (default: the embedding's dtype) are shared, not copied; tied
    embeddings stay one tensor. tap_layers defaults to `default_tap_layers(num_layers)`.
    """
    spec = get_family(hf_config.model_type)
    arch = arch_from_hf(hf_config, spec)
    taps = default_tap_layers(arch.num_layers) if tap_layers is None else tuple(tap_layers)  # checked by DecoderLM
    prefix = _text_prefix(state_dict)
    dtype = dtype or state_dict[prefix + "embed_tokens.weight"].dtype

    with torch.device("meta"):  # shapes only; real tensors are assigned below
        model = DecoderLM(arch, taps)
    sources = {name: prefix + name for name in model.state_dict()}
    sources["lm_head.weight"] = prefix + "embed_tokens.weight" if arch.tie_word_embeddings else "lm_head.weight"
    missing = [src for src in sources.values() if src not in state_dict]
    if missing:
        raise ModelError(f"state dict lacks {len(missing)} tensors needed by family {spec.name!r}: {missing[:6]}")
    unexpected = sorted(set(k for k in state_dict if k.startswith(prefix)) - set(sources.values()))
    if unexpected:
        raise ModelError(f"state dict has tensors family {spec.name!r} does not use: {unexpected[:6]}")

    converted: dict[int, torch.Tensor] = {}  # id(source tensor) -> tensor in dtype, so ties stay shared
    weights = {}
    for name, src in sources.items():
        tensor = state_dict[src]
        if id(tensor) not in converted:
            converted[id(tensor)] = tensor.detach().to(dtype)
        weights[name] = converted[id(tensor)]
    model.requires_grad_(False)
    try:
        model.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as err:
        raise ModelError(f"weights do not fit family {spec.name!r} built from the config: {err}") from err
    if arch.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight  # one parameter, so exporters store it once
    return model.to(model.embed_tokens.weight.device).eval()  # moves only the small buffers


def from_hf_model(hf_model, tap_layers: Iterable[int] | None = None) -> DecoderLM:
    """DecoderLM sharing the weights of a loaded HF causal LM (or Gemma 3 multimodal wrapper)."""
    return build_model(hf_model.config, hf_model.state_dict(), tap_layers, dtype=hf_model.dtype)
