"""Drafter checkpoints in the reference (DeepSpec) format: `config.json` + safetensors.

Tensor names (no prefix): `fc.weight [H, n_taps*H]`, `hidden_norm.weight`,
`layers.{i}.self_attn.{q,k,v,o}_proj.weight`, `layers.{i}.self_attn.{q,k}_norm.weight` (q/k-norm
families), `layers.{i}.mlp.{gate,up,down}_proj.weight`, `layers.{i}.{input,post_attention}_layernorm.weight`
(+ `{pre,post}_feedforward_layernorm` for Gemma), `norm.weight`, `markov_head.markov_w1.weight [V, r]`,
`markov_head.markov_w2.weight [V, r]`, `confidence_head.proj.weight [1, H+r]`, `confidence_head.proj.bias [1]`.
`embed_tokens.weight` / `lm_head.weight` are accepted on load (and must equal the target's) but never
written: the drafter shares the target's. STS temperatures travel in config.json (`sts_temperatures`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from dspark_compile.drafter.config import DrafterConfig, check_compatible
from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.errors import ModelError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"  # sharded HF checkpoints


def _build(config: DrafterConfig, target) -> DSparkDrafter:
    arch = config.arch()
    check_compatible(config, arch, target)
    drafter = DSparkDrafter(config, arch, target.embed_tokens, target.lm_head)
    drafter.requires_grad_(False)
    return drafter


def _cast(drafter: DSparkDrafter, dtype: torch.dtype) -> DSparkDrafter:
    """Everything in `dtype` (the target's), except fc which stays fp32."""
    for name, module in drafter.named_children():
        if name not in ("embed_tokens", "lm_head"):
            module.to(torch.float32 if name == "fc" else dtype)
    return drafter.eval()


def init_drafter(config: DrafterConfig, target, seed: int = 0, norm_jitter: float = 0.0) -> DSparkDrafter:
    """A randomly initialised drafter for `target` (a `DecoderLM`), reproducible from `seed`.

    Linear/embedding weights ~ N(0, initializer_range), biases 0, norms neutral (1, or 0 for Gemma's
    1 + w norms) plus U(-norm_jitter, norm_jitter) so tests can see a misplaced norm. Like `load_drafter`
    it returns an eval-mode module with every parameter frozen; to train, unfreeze all but the shared
    `embed_tokens` and `lm_head` (which are the target's own modules).
    """
    drafter = _build(config, target)
    std = float(config.backbone.get("initializer_range") or 0.02)
    gen = torch.Generator().manual_seed(seed)
    plus_one = drafter.arch.family.norm_plus_one
    with torch.no_grad():
        for name, param in drafter.named_parameters():
            if name in DSparkDrafter.SHARED:
                continue
            if name.endswith("norm.weight"):
                value = torch.full(param.shape, 0.0 if plus_one else 1.0)
                value += (torch.rand(param.shape, generator=gen) * 2 - 1) * norm_jitter
            elif name.endswith("bias"):
                value = torch.zeros(param.shape)
            else:
                value = torch.randn(param.shape, generator=gen) * std
            param.copy_(value)
    return _cast(drafter, target.dtype)


def save_drafter(drafter: DSparkDrafter, out_dir: str | Path) -> Path:
    """Write `config.json` and `model.safetensors` (reference names, no shared tensors) to `out_dir`."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(json.dumps(drafter.config.to_json(), indent=2) + "\n")
    tensors = {k: v.detach().contiguous() for k, v in drafter.own_state_dict().items()}
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    return out


def load_drafter(path: str | Path, target) -> DSparkDrafter:
    """Load a reference-format drafter from directory `path` onto `target` (a `DecoderLM`).

    Refuses (ModelError, naming both values) a drafter whose family, hidden size, vocabulary or taps
    differ from the target's, and any missing, unexpected or misshapen tensor. Weights are cast to
    the target's dtype (fc to fp32).
    """
    path = Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise ModelError(f"{path}: no {CONFIG_FILE}; a drafter checkpoint is a directory with "
                         f"{CONFIG_FILE} and {WEIGHTS_FILE}")
    try:
        raw = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise ModelError(f"{config_path}: not valid JSON: {err}") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{config_path}: a drafter config is a JSON object, got {type(raw).__name__}")
    try:
        config = DrafterConfig.from_json(raw, where=str(config_path))
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelError(f"{config_path}: malformed drafter config ({type(exc).__name__}: {exc})") from None
    drafter = _build(config, target)
    tensors = _read_tensors(path)

    expected = {k: v.shape for k, v in drafter.own_state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected) - set(DSparkDrafter.SHARED))
    if missing or unexpected:
        raise ModelError(f"{path}: tensors do not match a {config.family} drafter with {config.num_layers} layers: "
                         f"missing {missing[:6]}, unexpected {unexpected[:6]}")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != tuple(shape):
            raise ModelError(f"{path}: tensor '{name}' has shape {list(tensors[name].shape)}, "
                             f"expected {list(shape)} from {CONFIG_FILE}")
    for name in DSparkDrafter.SHARED:
        if name in tensors:
            _check_shared(path, name, tensors[name], drafter.state_dict()[name])
    drafter.load_state_dict({k: tensors[k] for k in expected}, strict=False)
    return _cast(drafter, target.dtype)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if (path / INDEX_FILE).is_file():
        try:
            files = sorted(set(json.loads((path / INDEX_FILE).read_text())["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path / INDEX_FILE}: not a safetensors index ({type(exc).__name__}: {exc})") from None
    elif (path / WEIGHTS_FILE).is_file():
        files = [WEIGHTS_FILE]
    else:
        raise ModelError(f"{path}: neither {WEIGHTS_FILE} nor {INDEX_FILE}")
    tensors: dict[str, torch.Tensor] = {}
    for name in files:
        try:
            tensors.update(load_file(str(path / name)))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{path / name}: cannot read the weights (truncated or not safetensors): {exc}") from None
    return tensors


def _check_shared(path: Path, name: str, theirs: torch.Tensor, ours: torch.Tensor) -> None:
    """A stored copy of a shared tensor must be the target's (compared in the coarser of both dtypes)."""
    if tuple(theirs.shape) != tuple(ours.shape):
        raise ModelError(f"{path}: checkpoint '{name}' has shape {list(theirs.shape)}, "
                         f"the target's has {list(ours.shape)}")
    coarse = min((theirs.dtype, ours.dtype), key=lambda d: torch.finfo(d).bits)
    if not torch.equal(theirs.to(coarse), ours.to(coarse)):
        diff = (theirs.float() - ours.float()).abs().max().item()
        raise ModelError(f"{path}: checkpoint '{name}' differs from the target's (max |diff| {diff:.3g}); "
                         f"the drafter was trained against another target")
