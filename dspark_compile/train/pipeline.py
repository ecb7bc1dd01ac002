"""Recipe-level training and calibration, as `dspark-compile train-draft` and `calibrate` run them.

A work folder holds everything a run produces and reuses it when run again (an interrupted run resumes):

    WORK/bundle/                       the recipe's target without a drafter (built unless --bundle is given)
    WORK/{train,heldout}/responses.jsonl   the target's answers (train: sampled; held-out: greedy)
    WORK/{train,heldout}/features/     taps and top-K target distributions (`data.Features`)
    WORK/checkpoints/checkpoint.pt     the training state (`loop`)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from dspark_compile.bundle import replaced_atomically
from dspark_compile.config import DraftConfig, Recipe, TrainingConfig
from dspark_compile.errors import TrainingError
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.train.data import (Features, GenerationSettings, Progress, concat_features, extends,
                                       extract_features, generate_responses, load_prompts, repeat_prompts)

Step = Callable[[str], contextlib.AbstractContextManager]
MAX_DRAFTER_BYTES = 25_000_000


@contextlib.contextmanager
def _quiet(name: str):
    yield


def generation_settings(cfg: TrainingConfig, split: str) -> GenerationSettings:
    """Training answers are sampled (cfg temperature/top-p/top-k) but for the greedy share of first answers;
    held-out answers are greedy, as τ is measured."""
    if split == "train":
        sampling = SamplingParams(cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p, seed=cfg.seed)
        return GenerationSettings(cfg.max_new_tokens, sampling, cfg.generation_batch, cfg.greedy_share)
    return GenerationSettings(cfg.max_new_tokens, SamplingParams(seed=cfg.seed), cfg.generation_batch)


def target_bundle(recipe: Recipe, work: Path, bundle: Path | None = None, step: Step = _quiet) -> Path:
    """A bundle of the recipe's target: `bundle` if given (checked against the recipe), else WORK/bundle,
    built without a drafter when missing."""
    from dspark_compile.build import build_bundle
    from dspark_compile.bundle import load_bundle
    from dspark_compile.errors import BundleError

    path = Path(bundle) if bundle is not None else Path(work) / "bundle"
    if bundle is None and not (path / "manifest.json").is_file():
        with step("build the target bundle (no drafter)"):
            build_bundle(recipe.model_copy(update={"draft": DraftConfig()}), path, force=True)
    b = load_bundle(path, verify=False)
    ours = recipe.to_dict()["target"]
    theirs = b.recipe.get("target")
    if theirs != ours:
        raise (TrainingError if bundle is not None else BundleError)(
            f"{path}: the bundle was built for another target ({theirs}); the recipe names {ours}")
    return path


def prepare_features(recipe: Recipe, split: str, work: Path, bundle: Path, step: Step = _quiet,
                     progress: Progress | None = None) -> Features:
    """The split's features: loaded from WORK when extracted before, else generated and extracted."""
    from dspark_compile.bundle import load_bundle
    from dspark_compile.engine.base import load_engine
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.runtime.target import ModelInfo, TargetModel

    folder = Path(work) / split
    cfg = recipe.training
    answers = cfg.answers_per_prompt if split == "train" else 1  # held-out prompts: one greedy answer each
    prompts = repeat_prompts(load_prompts(split)[: cfg.max_prompts], answers)
    old = None
    if (folder / "features" / "meta.json").is_file():
        old = Features.load(folder / "features")
        if old.meta.get("prompts", len(prompts) if answers == 1 else None) == len(prompts):
            return old  # (features written before `prompts` was recorded held one answer per prompt)
    rt = Runtime.load(bundle)
    with step(f"answer the {split} prompts with the target ({len(prompts)} answers)"):
        seqs = generate_responses(rt, prompts, generation_settings(cfg, split), folder / "responses.jsonl", progress)
    del rt
    seqs = [s for s in seqs if s.response_ids]  # (an empty answer has no position to train on)
    if old is not None and not extends(old, seqs, cfg.top_k_probs):
        old = None  # other answers or settings: extract everything again
    reused = old.num_sequences if old is not None else 0
    b = load_bundle(bundle, verify=False)
    engine = load_engine("onnxruntime", b.path(b.engine("target")["files"][0]))
    plain = TargetModel(engine, ModelInfo.from_manifest(b.model))  # the unfused graph: logits at every position
    with step(f"extract taps and target distributions ({split}: {len(seqs) - reused} answers"
              + (f", {reused} extracted before)" if reused else ")")):
        feats = extract_features(plain, seqs[reused:], top_k=cfg.top_k_probs, progress=progress)
        if old is not None:
            feats = concat_features(old, feats)
        feats.meta["prompts"] = len(prompts)
        feats.save(folder / "features")
    return feats


def load_target_model(recipe: Recipe):
    """The recipe's target as a PyTorch `DecoderLM` (fp32): the drafter shares its embedding and lm_head."""
    from dspark_compile.build import checkpoint_config, resolve_taps
    from dspark_compile.models import from_hf_model
    from dspark_compile.sources import load_target

    loaded = load_target(recipe.target, recipe.resolve)
    model = from_hf_model(loaded.model, resolve_taps(recipe, loaded.config.num_hidden_layers,
                                                     checkpoint_config(recipe)))
    model.requires_grad_(False)
    return model, loaded.config


def write_drafter(drafter, out: Path, dtype: str = "float16", with_shared: bool = False) -> Path:
    """The drafter in the reference format, its own tensors stored as `dtype`, written atomically;
    `with_shared` adds the target's embedding and lm_head (what DeepSpec's loader needs)."""
    import torch

    from dspark_compile.drafter.checkpoint import CONFIG_FILE, WEIGHTS_FILE, save_drafter

    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    save_drafter(drafter, tmp, with_shared=with_shared, dtype=getattr(torch, dtype))
    for f in (CONFIG_FILE, WEIGHTS_FILE):
        (tmp / f).chmod(0o644)  # a checkpoint is meant to be shared (and committed)
    if out.exists():
        for f in (CONFIG_FILE, WEIGHTS_FILE):
            os.replace(tmp / f, out / f)  # keeps other files (a README) in place
        shutil.rmtree(tmp)
    else:
        tmp.rename(out)
    return out


@dataclass
class TrainReport:
    out: Path
    steps: int
    final_loss: float
    final_accuracy: float
    trainable_params: int
    bytes_on_disk: int
    train_positions: int
    mean_dropped_mass: float
    monitor: dict | None = None  # the last greedy slot accuracies (name -> [γ]), when watched


DEEPSPEC_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def export_for_deepspec(recipe: Recipe, out: Path, drafter_dir: Path | None = None, dtype: str = "bf16") -> Path:
    """Write the drafter at `drafter_dir` (default: the recipe's checkpoint) as a checkpoint DeepSpec's
    `*DSparkModel.from_pretrained` opens: our config.json (every key its loader asserts) and one safetensors
    file with the target's embed_tokens/lm_head included, every tensor in `dtype` (DeepSpec's trainer
    saves bf16). STS temperatures stay in config.json, which DeepSpec ignores (it reads raw confidences)."""
    from dspark_compile.drafter.checkpoint import load_drafter

    if dtype not in DEEPSPEC_DTYPES:
        raise TrainingError(f"dtype {dtype!r} is not one of {sorted(DEEPSPEC_DTYPES)}")
    if drafter_dir is None:
        if recipe.draft.source != "checkpoint":
            raise TrainingError(f"recipe {recipe.name!r} has draft.source {recipe.draft.source!r}: name the drafter "
                                f"to export (--drafter DIR) or give the recipe a draft checkpoint")
        drafter_dir = recipe.resolve(recipe.draft.path)
    model, _ = load_target_model(recipe)
    drafter = load_drafter(drafter_dir, model)
    return write_drafter(drafter, Path(out), dtype=DEEPSPEC_DTYPES[dtype], with_shared=True)


def train_draft(recipe: Recipe, out: Path, work: Path, bundle: Path | None = None, steps: int | None = None,
                stop_after: int | None = None, step: Step = _quiet, progress: Progress | None = None,
                on_step=None, init: Path | None = None) -> TrainReport:
    """Self-distil a drafter for the recipe's target into `out` (reference format, fp16 tensors), starting
    from the trainable tensors of the drafter at `init` when given (a checkpoint in WORK still wins)."""
    from dspark_compile.build import checkpoint_config, resolve_block_size
    from dspark_compile.drafter.checkpoint import init_drafter
    from dspark_compile.drafter.config import DrafterConfig
    from dspark_compile.train.loop import check_resumable, train, trainable

    cfg = recipe.training if steps is None else recipe.training.model_copy(update={"steps": steps})
    if recipe.draft.source == "checkpoint" and not recipe.resolve(recipe.draft.path).exists():
        # the drafter the recipe will ship is the one being trained: taps and block size resolve as without one
        recipe = recipe.model_copy(update={"draft": DraftConfig()})
    work = Path(work)
    check_resumable(cfg, work / "checkpoints")  # before any answer is generated for nothing
    path = target_bundle(recipe, work, bundle, step)
    feats = prepare_features(recipe, "train", work, path, step, progress)
    if feats.response_positions().size == 0:
        raise TrainingError(f"{work / 'train'}: the target's answers hold no tokens to train on")
    monitor = None
    if cfg.eval_every:
        from dspark_compile.train.monitor import fixed_blocks

        held = prepare_features(recipe, "heldout", work, path, step, progress)
        G = resolve_block_size(recipe, checkpoint_config(recipe))
        monitor = {name: fixed_blocks(f, G) for name, f in (("held-out", held), ("train", feats))
                   if f.response_positions().size}
    with step("load the target (shared embedding and lm_head)"):
        model, hf_config = load_target_model(recipe)
        dcfg = DrafterConfig.for_target(hf_config, num_layers=cfg.num_layers,
                                        block_size=resolve_block_size(recipe, checkpoint_config(recipe)),
                                        target_layer_ids=model.tap_layers, markov_rank=cfg.markov_rank)
        drafter = init_drafter(dcfg, model, seed=cfg.seed)
        if init is not None:
            warm_start(drafter, Path(init))
        if cfg.draft_vocab is not None:
            drafter.set_draft_vocab(choose_draft_vocab(feats, cfg.draft_vocab, model.vocab_size, path))
    history = train(drafter, feats, cfg, work / "checkpoints", on_step=on_step, stop_after=stop_after,
                    monitor=monitor)
    with step(f"write the drafter to {out}"):
        write_drafter(drafter, out)
    size = sum(f.stat().st_size for f in Path(out).iterdir() if f.is_file())
    last = history[-1] if history else None
    return TrainReport(out=Path(out), steps=last.step if last else 0, final_loss=last.loss if last else float("nan"),
                       final_accuracy=last.accuracy if last else float("nan"),
                       trainable_params=sum(p.numel() for _, p in trainable(drafter)), bytes_on_disk=size,
                       train_positions=int(feats.response_positions().size),
                       mean_dropped_mass=float(feats.meta.get("mean_dropped_mass", 0.0)),
                       monitor=next((h.monitor for h in reversed(history) if h.monitor), None))


def choose_draft_vocab(feats: Features, size: int, vocab_size: int, bundle: Path) -> np.ndarray:
    """The `size` ids with the most target mass on the training answers, plus the bundle's EOS ids."""
    from dspark_compile.bundle import load_bundle
    from dspark_compile.train.blocks import select_draft_vocab

    eos = load_bundle(bundle, verify=False).model.get("eos_token_ids", [])
    return select_draft_vocab(feats, size, vocab_size, always=eos)


@dataclass
class DraftVocabReport:
    drafter: Path
    size: int  # Vd, EOS included
    coverage: float  # mean target probability inside the draft vocabulary over the training positions


def add_draft_vocab(recipe: Recipe, drafter_path: Path, size: int | None, work: Path, bundle: Path | None = None,
                    step: Step = _quiet, progress: Progress | None = None) -> DraftVocabReport:
    """Give a trained drafter a draft vocabulary chosen from the target's mass on the recipe's training answers
    (generated into WORK when missing); `size` None removes it. The drafter's weights are unchanged: it
    scores a subset of the rows it was trained with."""
    from dspark_compile.drafter.checkpoint import load_drafter
    from dspark_compile.train.blocks import draft_vocab, vocab_coverage

    path = target_bundle(recipe, Path(work), bundle, step)
    feats = prepare_features(recipe, "train", Path(work), path, step, progress)
    with step("load the target and the drafter"):
        model, _ = load_target_model(recipe)
        drafter = load_drafter(drafter_path, model)
    drafter.set_draft_vocab(None if size is None else choose_draft_vocab(feats, size, model.vocab_size, path))
    with step(f"write the drafter to {drafter_path}"):
        write_drafter(drafter, drafter_path)
    vocab = draft_vocab(drafter)
    return DraftVocabReport(Path(drafter_path), drafter.draft_vocab_size, vocab_coverage(feats, vocab))


def warm_start(drafter, init: Path) -> None:
    """Copy the trainable tensors of the drafter checkpoint at `init` into `drafter` (fp32 master weights);
    every tensor must be there with the same shape."""
    import torch
    from safetensors.torch import load_file

    from dspark_compile.drafter.checkpoint import WEIGHTS_FILE
    from dspark_compile.train.loop import trainable

    path = Path(init) / WEIGHTS_FILE
    if not path.is_file():
        raise TrainingError(f"{path}: no drafter weights to start from (--init names a drafter directory)")
    tensors = load_file(str(path))
    with torch.no_grad():
        for name, param in trainable(drafter):
            if name not in tensors or tuple(tensors[name].shape) != tuple(param.shape):
                got = "missing" if name not in tensors else f"shape {tuple(tensors[name].shape)}"
                raise TrainingError(f"{path}: tensor {name!r} is {got}; this drafter needs {tuple(param.shape)} "
                                    "(the recipe's num_layers/markov_rank must match the drafter's)")
            param.copy_(tensors[name].float())


@dataclass
class CalibrationReport:
    temperatures: tuple[float, ...]
    offset: float  # δ added to the confidence head's bias (0 with offset=False)
    before: dict  # split name ("fit", "eval") -> Calibration
    after: dict  # with δ and the temperatures written
    sts_only: dict  # with STS alone (the reference method), for comparison
    sts_only_temperatures: tuple[float, ...]
    tau_full_block: float  # greedy, γ drafts verified every round, all held-out anchors
    acceptance: list[float]  # P(slots 0..k accepted), all held-out anchors
    blocks: int  # the blocks fitted and checked (the anchors the runtime visits, or every anchor)
    sequences: int
    anchors: str = "every"  # fitted on: "every" held-out anchor, or those the runtime visits (`HeldOut.visited`)
    current: dict = field(default_factory=dict)  # with the drafter's temperatures as it was (its offset is in it)
    visited: dict = field(default_factory=dict)  # as written, at the anchors the runtime visits, per half
    tau_visited: float = 0.0  # τ along the anchors the runtime visits (what `evaluate` measures)
    acceptance_visited: list[float] = field(default_factory=list)
    extras: dict = field(default_factory=dict)


def calibrate_drafter(recipe: Recipe, drafter_path: Path, work: Path, bundle: Path | None = None,
                      step: Step = _quiet, progress: Progress | None = None, write: bool = True,
                      offset: bool = True, anchors: str = "every") -> CalibrationReport:
    """Fit the confidence offset δ (with `offset`) and STS temperatures on half of the held-out sequences
    (even ones), measure before/after on both halves, and (with `write`) store the temperatures in the
    drafter's config.json and δ in its confidence-head bias. `anchors`: "every" fits on every held-out
    anchor, "visited" on the blocks the runtime drafts (`HeldOut.visited`, about half as many); the report
    measures the result on both."""
    from dspark_compile.drafter.checkpoint import load_drafter
    from dspark_compile.train.calibration import Calibration, collect, fit_offset_sts, fit_sts

    if anchors not in ("visited", "every"):
        raise TrainingError(f"anchors = {anchors!r}: expected 'visited' or 'every'")
    work = Path(work)
    path = target_bundle(recipe, work, bundle, step)
    feats = prepare_features(recipe, "heldout", work, path, step, progress)
    with step("draft at every held-out anchor (full blocks)"):
        model, _ = load_target_model(recipe)
        drafter = load_drafter(drafter_path, model)
        held = collect(drafter, feats)
    if held.labels.shape[0] == 0:
        raise TrainingError("no held-out sequence is long enough for one full block")
    visited = held.visited()
    used = visited if anchors == "visited" else held
    halves = used.halves()
    fit = halves["fit"]
    sts = fit_sts(fit.logits, fit.labels)
    delta, temps = fit_offset_sts(fit.logits, fit.labels) if offset else (0.0, sts)
    ones = (1.0,) * drafter.block_size
    report = CalibrationReport(
        temperatures=temps, offset=delta,
        before={k: Calibration.measure(h.logits, h.labels, ones) for k, h in halves.items()},
        after={k: Calibration.measure(h.logits + delta, h.labels, temps) for k, h in halves.items()},
        sts_only={k: Calibration.measure(h.logits, h.labels, sts) for k, h in halves.items()},
        current={k: Calibration.measure(h.logits, h.labels, drafter.config.sts_temperatures)
                 for k, h in halves.items()},
        visited={k: Calibration.measure(h.logits + delta, h.labels, temps) for k, h in visited.halves().items()},
        sts_only_temperatures=sts,
        tau_full_block=held.tau(), acceptance=held.acceptance(), blocks=int(used.labels.shape[0]),
        sequences=int(np.unique(held.sequence).size), anchors=anchors, tau_visited=visited.tau(),
        acceptance_visited=visited.acceptance())
    if write:
        shift_confidence_bias(drafter_path, delta)
        set_temperatures(drafter_path, temps)
    return report


def shift_confidence_bias(drafter_path: Path, delta: float) -> None:
    """Add δ to `confidence_head.proj.bias` in the drafter's model.safetensors (replaced atomically)."""
    if delta == 0.0:
        return
    from safetensors.torch import load_file, save_file

    from dspark_compile.drafter.checkpoint import WEIGHTS_FILE

    path = Path(drafter_path) / WEIGHTS_FILE
    tensors = load_file(str(path))
    key = "confidence_head.proj.bias"
    if key not in tensors:
        raise TrainingError(f"{path}: no tensor {key!r} to shift (a drafter without a confidence head?)")
    bias = tensors[key]
    tensors[key] = (bias.float() + delta).to(bias.dtype)
    with replaced_atomically(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})


def set_temperatures(drafter_path: Path, temperatures) -> None:
    """Store `sts_temperatures` in a drafter's config.json (validated, replaced atomically)."""
    from dspark_compile.drafter.checkpoint import CONFIG_FILE
    from dspark_compile.drafter.config import DrafterConfig

    cfg_path = Path(drafter_path) / CONFIG_FILE
    raw = json.loads(cfg_path.read_text())
    if isinstance(raw.get("dspark_config"), dict):
        raw["dspark_config"].pop("sts_temperatures", None)
    raw["sts_temperatures"] = [float(t) for t in temperatures]
    DrafterConfig.from_json(raw, where=str(cfg_path))  # refuses a wrong count or a value <= 0
    with replaced_atomically(cfg_path) as tmp:
        tmp.write_text(json.dumps(raw, indent=2) + "\n")
