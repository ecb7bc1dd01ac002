"""Drafter checkpoints in the reference (DeepSpec) format: `config.json` + safetensors.

Tensor names (no prefix): `fc.weight [H, n_taps*H]`, `hidden_norm.weight`,
`layers.{i}.self_attn.{q,k,v,o}_proj.weight`, `layers.{i}.self_attn.{q,k}_norm.weight` (q/k-norm
families), `layers.{i}.mlp.{gate,up,down}_proj.weight`, `layers.{i}.{input,post_attention}_layernorm.weight`
(+ `{pre,post}_feedforward_layernorm` for Gemma), `norm.weight`, `markov_head.markov_w1.weight [V, r]`,
`markov_head.markov_w2.weight [V, r]`, `confidence_head.proj.weight [1, H+r]`, `confidence_head.proj.bias [1]`,
and, for a drafter with a draft vocabulary (config `draft_vocab_size`), `draft_vocab [Vd]` int64: the sorted
target ids it scores (the Markov W2 keeps all V rows; export slices it).
`embed_tokens.weight` / `lm_head.weight` are accepted on load (and must equal the target's) and written
only when asked (`save_drafter(..., with_shared=True)`, what `dspark-compile export-drafter` does): DeepSpec's
`from_pretrained` initialises them randomly when they are missing. STS temperatures travel in config.json
(`sts_temperatures`; DeepSpec ignores the key).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from dspark_compile.drafter.config import DrafterConfig, check_compatible
from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.errors import ModelError
from dspark_compile.ops.reference import check_draft_vocab

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


def save_drafter(drafter: DSparkDrafter, out_dir: str | Path, *, with_shared: bool = False,
                 dtype: torch.dtype | None = None) -> Path:
    """Write `config.json` and `model.safetensors` (reference names) to `out_dir`.

    with_shared: also write the target's `embed_tokens.weight` and `lm_head.weight` (a tied lm_head is
    written as its own copy), so that DeepSpec's `from_pretrained` finds every tensor it builds.
    dtype: cast every tensor to it (DeepSpec's trainer saves bf16); default: as held (fc fp32).
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(json.dumps(drafter.config.to_json(), indent=2) + "\n")
    held = drafter.state_dict() if with_shared else drafter.own_state_dict()
    # .clone(): safetensors refuses tensors sharing storage (a tied lm_head is the embedding itself)
    tensors = {k: v.detach().to(dtype if dtype is not None and v.is_floating_point() else v.dtype).contiguous().clone()
               for k, v in held.items()}  # (the draft vocabulary's ids stay integers)
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    return out


def load_drafter(path: str | Path, target) -> DSparkDrafter:
    """Load a reference-format drafter from directory `path` onto `target` (a `DecoderLM`).

    Refuses (ModelError, naming both values) a drafter whose family, hidden size, vocabulary or taps
    differ from the target's, and any missing, unexpected or misshapen tensor. Weights are cast to
    the target's dtype (fc to fp32).
    """
    path = Path(path)
    config = read_drafter_config(path)
    drafter = _build(config, target)
    tensors = _read_tensors(path)

    expected = {k: v.shape for k, v in drafter.own_state_dict().items()}
    _check_shapes(path, config, expected, {k: v.shape for k, v in tensors.items()})
    for name in DSparkDrafter.SHARED:
        if name in tensors:
            _check_shared(path, name, tensors[name], drafter.state_dict()[name])
    drafter.load_state_dict({k: tensors[k] for k in expected}, strict=False)
    if drafter.draft_vocab is not None and not check_draft_vocab(drafter.draft_vocab.numpy(), drafter.vocab_size):
        raise ModelError(f"{path}: tensor 'draft_vocab' must hold strictly increasing target ids in "
                         f"[0, {drafter.vocab_size})")
    return _cast(drafter, target.dtype)


def _check_shapes(path: Path, config: DrafterConfig, expected: dict, found: dict) -> None:
    """Every tensor `expected` (name -> shape) is `found` with its shape; nothing else but the shared ones."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected) - set(DSparkDrafter.SHARED))
    if missing or unexpected:
        raise ModelError(f"{path}: tensors do not match a {config.family} drafter with {config.num_layers} layers: "
                         f"missing {missing[:6]}, unexpected {unexpected[:6]}")
    for name, shape in expected.items():
        if tuple(found[name]) != tuple(shape):
            raise ModelError(f"{path}: tensor '{name}' has shape {list(found[name])}, "
                             f"expected {list(shape)} from {CONFIG_FILE}")


def check_drafter_files(path: str | Path, target) -> DrafterConfig:
    """What `load_drafter` checks, from config.json and the safetensors headers only (no weights are read):
    `target` needs only family, hidden_size, vocab_size, num_layers and tap_layers (see `check_compatible`)."""
    from safetensors import SafetensorError, safe_open
    from torch import nn

    path = Path(path)
    config = read_drafter_config(path)
    arch = config.arch()
    check_compatible(config, arch, target)
    with torch.device("meta"):
        drafter = DSparkDrafter(config, arch, nn.Embedding(arch.vocab_size, arch.hidden_size),
                                nn.Linear(arch.hidden_size, arch.vocab_size, bias=False))
    found = {}
    for name in _weight_files(path):
        try:
            with safe_open(str(path / name), "pt") as f:
                found.update({k: tuple(f.get_slice(k).get_shape()) for k in f.keys()})
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{path / name}: cannot read the weights (truncated or not safetensors): {exc}") from None
    _check_shapes(path, config, {k: v.shape for k, v in drafter.own_state_dict().items()}, found)
    for name in DSparkDrafter.SHARED:
        if name in found and tuple(found[name]) != (arch.vocab_size, arch.hidden_size):
            raise ModelError(f"{path}: checkpoint '{name}' has shape {list(found[name])}, the target's has "
                             f"{[arch.vocab_size, arch.hidden_size]}")
    return config


def read_drafter_config(path: str | Path) -> DrafterConfig:
    """The `DrafterConfig` of the checkpoint directory `path` (config.json only; no weights are read)."""
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
        return DrafterConfig.from_json(raw, where=str(config_path))
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelError(f"{config_path}: malformed drafter config ({type(exc).__name__}: {exc})") from None


def _weight_files(path: Path) -> list[str]:
    if (path / INDEX_FILE).is_file():
        try:
            return sorted(set(json.loads((path / INDEX_FILE).read_text())["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path / INDEX_FILE}: not a safetensors index ({type(exc).__name__}: {exc})") from None
    if (path / WEIGHTS_FILE).is_file():
        return [WEIGHTS_FILE]
    raise ModelError(f"{path}: neither {WEIGHTS_FILE} nor {INDEX_FILE}")


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for name in _weight_files(path):
        try:
            tensors.update(load_file(str(path / name)))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{path / name}: cannot read the weights (truncated or not safetensors): {exc}") from None
    return tensors


def _check_shared(path: Path, name: str, theirs: torch.Tensor, ours: torch.Tensor) -> None:
    """A stored copy of a shared tensor must be the target's, up to storing one value in two dtypes.

    Equal when rounding the checkpoint's copy to the target's dtype gives the target's exactly, or the other
    way round (a bf16 checkpoint of a bf16 target built in fp32 or fp16: fp16(bf16 x) is what the fp16
    target holds). Otherwise each element may differ by half a unit in the last place of each dtype at its
    magnitude (both are roundings of one real value; subnormals: their fixed spacing); anything larger means
    another target. Comparing in the dtype with fewer bits is wrong for bf16 vs fp16 (both 16 bits).
    """
    if tuple(theirs.shape) != tuple(ours.shape):
        raise ModelError(f"{path}: checkpoint '{name}' has shape {list(theirs.shape)}, "
                         f"the target's has {list(ours.shape)}")
    if torch.equal(theirs.to(ours.dtype), ours) or torch.equal(ours.to(theirs.dtype), theirs):
        return
    a, b = theirs.double(), ours.double()
    tol = sum(_half_ulp(torch.maximum(a.abs(), b.abs()), d) for d in {theirs.dtype, ours.dtype})
    excess = (a - b).abs() - tol
    if bool((excess > 0).any()):
        diff = (a - b).abs().max().item()
        raise ModelError(f"{path}: checkpoint '{name}' differs from the target's (max |diff| {diff:.3g}, beyond "
                         f"the rounding of {theirs.dtype} vs {ours.dtype}); the drafter was trained against "
                         f"another target")


def _half_ulp(magnitude: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Half the spacing of `dtype` values at `magnitude` (float64): 2^(floor(log2 m) - mantissa bits - 1),
    never below half the subnormal spacing."""
    info = torch.finfo(dtype)
    mantissa = round(-torch.log2(torch.tensor(info.eps, dtype=torch.float64)).item())
    exponent = torch.floor(torch.log2(magnitude.clamp_min(info.smallest_normal)))
    return torch.pow(2.0, exponent - mantissa - 1)
