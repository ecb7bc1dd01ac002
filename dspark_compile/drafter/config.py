"""The drafter's configuration: one frozen dataclass, read from and written to the reference
(DeepSpec) `config.json`, and the checks that tie a drafter to its target.

A reference `config.json` is the target's (text) HF config with the drafter's layer count and these
keys added (also accepted nested under `dspark_config`):

    architectures ["Qwen3DSparkModel"], num_hidden_layers, block_size, mask_token_id,
    target_layer_ids, markov_rank, markov_head_type "vanilla", enable_confidence_head,
    confidence_head_with_markov, num_anchors, tie_word_embeddings false, sts_temperatures (ours; optional)

DeepSpec's loader (deepseek-ai/DeepSpec afdfa7c, `deepspec/modeling/dspark/qwen3/modeling.py`
`Qwen3DSparkModel.__init__`) asserts target_layer_ids, mask_token_id, num_anchors (a training setting,
512 in every shipped config), enable_confidence_head and markov_rank, then markov_head_type and
confidence_head_with_markov; we always write them. DeepSpec options the fused DraftSample op cannot run
are refused on load naming the field: a tap of -1 (the embedding output), no confidence head
(`enable_confidence_head` false or `confidence_head_with_markov` false), no Markov head (`markov_rank`
0) or another Markov head type (`gated`, `rnn`).

Every backbone layer is full attention (the reference writes `layer_types` all "full_attention")
and uses the full-attention RoPE table of the target.

MASK token: Qwen3 reserves 151669 and Gemma 4 (the reference's Gemma) uses 4. A target with no
reserved mask token gets, unless the caller names one, its `pad_token_id`, else the last vocabulary
id: the MASK only has to be a fixed embedding row the drafter was trained with, and pad/last ids are
rarely or never produced as real context, so they never collide with the anchor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dspark_compile.config import DEFAULT_BLOCK_SIZE  # the open checkpoints' γ
from dspark_compile.errors import ModelError
from dspark_compile.models.arch import FULL, ArchConfig, arch_from_hf
from dspark_compile.models.spec import get_family
from dspark_compile.models.taps import check_tap_layers, default_tap_layers

MARKOV_HEAD_TYPE = "vanilla"
DEFAULT_NUM_ANCHORS = 512  # DeepSpec's training setting; its loader requires the key
DEFAULT_NUM_LAYERS = 5
DEFAULT_MARKOV_RANK = 256

# The `architectures` name we write per family. On load any "*DSparkModel" name is accepted: the
# family comes from `model_type`, which is what the backbone actually is.
ARCHITECTURES = {
    "llama": "LlamaDSparkModel",
    "qwen3": "Qwen3DSparkModel",
    "gemma2": "Gemma2DSparkModel",
    "gemma3": "Gemma3DSparkModel",
    "gemma4": "Gemma4DSparkModel",
}
ARCH_SUFFIX = "DSparkModel"

# Mask ids reserved by the published drafters' targets (model_type -> id).
RESERVED_MASK_IDS = {"qwen3": 151669}

# Keys of config.json that describe the drafter rather than the backbone.
_DSPARK_KEYS = (
    "architectures", "num_hidden_layers", "layer_types", "block_size", "mask_token_id", "target_layer_ids",
    "num_target_layers", "markov_rank", "markov_head_type", "enable_confidence_head",
    "confidence_head_with_markov", "tie_word_embeddings", "sts_temperatures", "draft_vocab_size", "dspark_config",
    "num_anchors", "target_model_type", "target_text_model_type",
)
# HF bookkeeping not worth carrying from the target into the drafter's config.
_DROPPED_TARGET_KEYS = ("auto_map", "_name_or_path", "_commit_hash", "text_config", "vision_config", "audio_config",
                        "per_layer_config")  # Gemma 4's is per target layer: kept as global_head_dim etc. instead


@dataclass(frozen=True)
class DrafterConfig:
    """Everything that defines a DSpark drafter besides its weights.

    family:            model family name of the backbone (= the target's family).
    num_layers:        backbone decoder layers.
    block_size:        γ, slots per block = draft tokens per step.
    mask_token_id:     token id embedded in slots 1..γ-1.
    target_layer_ids:  target layers whose outputs are concatenated as context features.
    markov_rank:       r of the Markov head (W1 [V, r], W2 [V, r]).
    sts_temperatures:  one STS temperature per slot (> 0); 1.0 = uncalibrated.
    num_target_layers: layer count of the target the drafter was built for (None if unknown).
    draft_vocab_size:  Vd, the size of the draft vocabulary the drafter scores (the tensor `draft_vocab`
                       holds its target ids); None: the whole vocabulary.
    backbone:          the HF text-config keys of the target (rope, heads, eps, ...), as in config.json.
    """

    family: str
    num_layers: int
    block_size: int
    mask_token_id: int
    target_layer_ids: tuple[int, ...]
    markov_rank: int
    sts_temperatures: tuple[float, ...]
    num_target_layers: int | None
    backbone: Mapping[str, Any] = field(compare=False, repr=False)
    draft_vocab_size: int | None = None

    def __post_init__(self):
        def bad(key, value, allowed):
            raise ModelError(f"drafter config: {key}={value!r} is invalid; allowed: {allowed}")

        for key in ("num_layers", "block_size", "markov_rank"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                bad(key, value, "an integer >= 1")
        vocab = self.backbone.get("vocab_size")
        if not isinstance(self.mask_token_id, int) or not 0 <= self.mask_token_id < (vocab or 2**31):
            bad("mask_token_id", self.mask_token_id, f"an id in [0, {vocab})")
        if len(self.sts_temperatures) != self.block_size or not all(t > 0 for t in self.sts_temperatures):
            bad("sts_temperatures", list(self.sts_temperatures), f"{self.block_size} values > 0 (one per slot)")
        if self.num_target_layers is not None:
            check_tap_layers(self.target_layer_ids, self.num_target_layers)
        size = self.draft_vocab_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or not 1 <= size <= (vocab or 2**31)):
            bad("draft_vocab_size", size, f"null, or an integer in [1, {vocab}]")

    @property
    def num_taps(self) -> int:
        return len(self.target_layer_ids)

    def arch(self) -> ArchConfig:
        """The backbone's resolved architecture: the target's dims, `num_layers` full-attention layers."""
        from transformers import AutoConfig

        kwargs = dict(self.backbone)
        model_type = kwargs.pop("model_type", None)
        kwargs["num_hidden_layers"] = self.num_layers
        if get_family(model_type).global_layer_dims:  # Gemma 4 derives per-layer dims from layer_types at init
            kwargs["layer_types"] = [FULL] * self.num_layers
        try:
            hf_config = AutoConfig.for_model(model_type, **kwargs)
        except (ValueError, TypeError, KeyError) as err:
            raise ModelError(f"drafter config: model_type {model_type!r} does not build an HF config: {err}") from err
        # Set after construction: configs without `layer_types` (Llama, Mistral) would warn or slide.
        hf_config.layer_types = [FULL] * self.num_layers
        spec = get_family(model_type)
        if spec.name != self.family:
            raise ModelError(f"drafter config: model_type {model_type!r} is family {spec.name!r}, not {self.family!r}")
        return arch_from_hf(hf_config, spec)

    def to_json(self) -> dict[str, Any]:
        """config.json in the reference layout (backbone keys first, then the DSpark keys)."""
        out = {k: v for k, v in self.backbone.items() if k not in _DSPARK_KEYS}
        out.update(
            architectures=[ARCHITECTURES[self.family]],
            num_hidden_layers=self.num_layers,
            layer_types=[FULL] * self.num_layers,
            block_size=self.block_size,
            mask_token_id=self.mask_token_id,
            target_layer_ids=list(self.target_layer_ids),
            markov_rank=self.markov_rank,
            markov_head_type=MARKOV_HEAD_TYPE,
            enable_confidence_head=True,
            confidence_head_with_markov=True,
            num_anchors=DEFAULT_NUM_ANCHORS,
            tie_word_embeddings=False,
            sts_temperatures=list(self.sts_temperatures),
        )
        if self.num_target_layers is not None:
            out["num_target_layers"] = self.num_target_layers
        if self.draft_vocab_size is not None:
            out["draft_vocab_size"] = self.draft_vocab_size
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str = "config.json") -> "DrafterConfig":
        """Parse a reference config.json (DSpark keys top-level or under `dspark_config`)."""
        cfg = _flatten(raw, where)

        def need(key):
            if key not in cfg:
                raise ModelError(f"{where}: missing key '{key}' (a DSpark drafter config needs it)")
            return cfg[key]

        archs = need("architectures")
        if not (isinstance(archs, list) and len(archs) == 1 and str(archs[0]).endswith(ARCH_SUFFIX)):
            raise ModelError(f"{where}: architectures={archs!r} is not a DSpark drafter; expected one "
                             f"'*{ARCH_SUFFIX}' name such as {sorted(ARCHITECTURES.values())}")
        _refuse_unsupported(cfg, where, need)
        block_size = int(need("block_size"))
        temps = cfg.get("sts_temperatures")
        return cls(
            family=get_family(str(need("model_type"))).name,
            num_layers=int(need("num_hidden_layers")),
            block_size=block_size,
            mask_token_id=int(need("mask_token_id")),
            target_layer_ids=tuple(int(j) for j in need("target_layer_ids")),
            markov_rank=int(need("markov_rank")),
            sts_temperatures=tuple(float(t) for t in temps) if temps is not None else (1.0,) * block_size,
            num_target_layers=int(cfg["num_target_layers"]) if cfg.get("num_target_layers") is not None else None,
            backbone={k: v for k, v in cfg.items() if k not in _DSPARK_KEYS + ("per_layer_config",)},
            draft_vocab_size=cfg.get("draft_vocab_size"),
        )

    @classmethod
    def for_target(cls, target_hf_config, *, num_layers: int = DEFAULT_NUM_LAYERS,
                   block_size: int = DEFAULT_BLOCK_SIZE, target_layer_ids: Iterable[int] | None = None,
                   markov_rank: int = DEFAULT_MARKOV_RANK, mask_token_id: int | None = None,
                   sts_temperatures: Iterable[float] | None = None) -> "DrafterConfig":
        """A new drafter for the target with HF config `target_hf_config` (its text config is used).

        target_layer_ids defaults to five taps spread from layer 1 to L-2; mask_token_id to
        `default_mask_token_id`.
        """
        text = target_hf_config.get_text_config()
        spec = get_family(text.model_type)
        backbone = {k: v for k, v in text.to_dict().items() if k not in _DROPPED_TARGET_KEYS + _DSPARK_KEYS}
        backbone["model_type"] = text.model_type
        if spec.global_layer_dims:  # the keys DeepSpec's Gemma 4 drafter reads (gemma4/config.py)
            full = text.per_layer_config[FULL]
            backbone.update(global_head_dim=full.head_dim, num_global_key_value_heads=full.num_key_value_heads)
            # Gemma4DSparkDecoderLayer asserts both (gemma4/modeling.py); gemma4_unified_text configs lack them
            backbone.setdefault("enable_moe_block", False)
            backbone.setdefault("hidden_size_per_layer_input", 0)
        n_target = int(text.num_hidden_layers)
        taps = default_tap_layers(n_target) if target_layer_ids is None else tuple(int(j) for j in target_layer_ids)
        return cls(
            family=spec.name,
            num_layers=num_layers,
            block_size=block_size,
            mask_token_id=default_mask_token_id(text) if mask_token_id is None else int(mask_token_id),
            target_layer_ids=taps,
            markov_rank=markov_rank,
            sts_temperatures=(1.0,) * block_size if sts_temperatures is None else tuple(map(float, sts_temperatures)),
            num_target_layers=n_target,
            backbone=backbone,
        )

    def replace(self, **changes) -> "DrafterConfig":
        """A copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def default_mask_token_id(text_config) -> int:
    """The MASK id for a target: its config's `mask_token_id`, a reserved id of its family, else its
    pad id, else the last vocabulary id (see the module docstring)."""
    for candidate in (getattr(text_config, "mask_token_id", None),
                      RESERVED_MASK_IDS.get(text_config.model_type),
                      getattr(text_config, "pad_token_id", None)):
        if isinstance(candidate, int) and 0 <= candidate < text_config.vocab_size:
            return candidate
    return int(text_config.vocab_size) - 1


def check_compatible(config: DrafterConfig, arch: ArchConfig, target) -> None:
    """Refuse a drafter that cannot run on `target` (a `DecoderLM`); the message names both values."""
    pairs = [
        ("family", config.family, target.family),
        ("hidden size", arch.hidden_size, target.hidden_size),
        ("vocabulary size", arch.vocab_size, target.vocab_size),
        ("target layer count", config.num_target_layers or target.num_layers, target.num_layers),
        ("tap count", config.num_taps, len(target.tap_layers)),
        ("tapped target layers", list(config.target_layer_ids), list(target.tap_layers)),
    ]
    for what, ours, theirs in pairs:
        if ours != theirs:
            raise ModelError(f"drafter does not match the target: {what} is {ours!r} in the drafter "
                             f"but {theirs!r} in the target")


def _refuse_unsupported(cfg: Mapping[str, Any], where: str, need) -> None:
    """DeepSpec options that the fused DraftSample op cannot run (see the module docstring), in the order
    DeepSpec's own loader reads them, so the message names the field that decides."""
    def refuse(key, value, why):
        raise ModelError(f"{where}: {key}={value!r} is not supported: {why}")

    if need("markov_rank") == 0:
        refuse("markov_rank", 0, f"DraftSample needs a Markov head ({MARKOV_HEAD_TYPE!r}, rank >= 1)")
    if need("markov_head_type") != MARKOV_HEAD_TYPE:
        refuse("markov_head_type", cfg["markov_head_type"],
               f"DraftSample implements only the {MARKOV_HEAD_TYPE!r} Markov head (bias = W2 W1[x])")
    if need("enable_confidence_head") is not True:
        refuse("enable_confidence_head", cfg["enable_confidence_head"],
               "the scheduler needs the confidence head's survivals")
    if need("confidence_head_with_markov") is not True:
        refuse("confidence_head_with_markov", cfg["confidence_head_with_markov"],
               "DraftSample's confidence reads [hidden ; W1[x]]")
    taps = need("target_layer_ids")
    if not isinstance(taps, list) or not all(isinstance(j, int) and not isinstance(j, bool) for j in taps):
        raise ModelError(f"{where}: target_layer_ids={taps!r} must be a list of layer ids")
    if -1 in taps:
        refuse("target_layer_ids", taps, "tap -1 (the embedding output) is not exported by the target graph; "
               "taps must be decoder layers 0..L-2")


def _flatten(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    cfg = {k: v for k, v in raw.items() if k != "dspark_config"}
    nested = raw.get("dspark_config") or {}
    if not isinstance(nested, Mapping):
        raise ModelError(f"{where}: dspark_config must be an object, got {type(nested).__name__}")
    for key, value in nested.items():
        if key in cfg and cfg[key] != value:
            raise ModelError(f"{where}: '{key}' is {cfg[key]!r} at the top level but {value!r} in dspark_config")
        cfg[key] = value
    return cfg
