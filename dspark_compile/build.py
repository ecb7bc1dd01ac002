"""`build`: recipe -> bundle. Load the target, trace it to ONNX, check it in ONNX Runtime, write the bundle."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from dspark_compile import graph_io as io
from dspark_compile.bundle import BundleWriter
from dspark_compile.config import Recipe
from dspark_compile.errors import BuildError, ExportError, RecipeError

StepReporter = Callable[[str], contextlib.AbstractContextManager]

EXPORT_CHECK_ATOL = {"fp32": 1e-3, "fp16": 5e-2}
"""Largest |logit| difference allowed between the traced graph in ONNX Runtime and PyTorch."""


@contextlib.contextmanager
def _quiet_step(name: str) -> Iterator[None]:
    yield


def checkpoint_config(recipe: Recipe):
    """The `DrafterConfig` of the recipe's drafter checkpoint (config.json only), or None without one."""
    from dspark_compile.drafter.checkpoint import read_drafter_config

    return read_drafter_config(recipe.resolve(recipe.draft.path)) if recipe.draft.source == "checkpoint" else None


def _from_checkpoint(recipe: Recipe, key: str, value, ckpt, ckpt_key: str, theirs):
    """`auto` (or an equal value) takes the checkpoint's; a different explicit value is a RecipeError naming both."""
    if ckpt is None:
        return value
    if value != "auto" and value != theirs:
        shown = list(value) if isinstance(value, tuple) else value
        theirs_shown = list(theirs) if isinstance(theirs, tuple) else theirs
        raise RecipeError(f"{key} = {shown!r}, but the drafter checkpoint {recipe.draft.path} has {ckpt_key} = "
                          f"{theirs_shown!r} (its config.json); set {key}: auto or the checkpoint's value")
    return theirs


def resolve_block_size(recipe: Recipe, ckpt=None) -> int:
    """γ: the checkpoint's block size (`auto` or equal), the recipe's, or the default 7 (`auto`, no checkpoint)."""
    from dspark_compile.config import DEFAULT_BLOCK_SIZE

    value = _from_checkpoint(recipe, "speculation.block_size", recipe.speculation.block_size, ckpt, "block_size",
                             ckpt.block_size if ckpt else None)
    return DEFAULT_BLOCK_SIZE if value == "auto" else int(value)


def resolve_taps(recipe: Recipe, num_layers: int, ckpt=None) -> tuple[int, ...]:
    """The drafter checkpoint's taps (recipe `auto` or equal), the recipe's, or the default spread; never the
    final layer (HF returns it normed)."""
    from dspark_compile.models import default_tap_layers

    if ckpt is not None and ckpt.num_target_layers not in (None, num_layers):
        raise RecipeError(f"the drafter checkpoint {recipe.draft.path} was trained for a target with "
                          f"{ckpt.num_target_layers} layers (its num_target_layers), but the target has {num_layers}: "
                          f"it belongs to another model")
    taps = _from_checkpoint(recipe, "target.tap_layers", recipe.target.tap_layers, ckpt, "target_layer_ids",
                            ckpt.target_layer_ids if ckpt else None)
    if taps == "auto":
        return default_tap_layers(num_layers)
    bad = [t for t in taps if t > num_layers - 2]
    if bad or len(set(taps)) != len(taps):
        raise RecipeError(f"target.tap_layers = {list(taps)}: layers must be distinct and in 0..{num_layers - 2} "
                          f"(the target has {num_layers} layers; the last one is never tapped)")
    return tuple(taps)


def _eos_ids(config, tokenizer) -> tuple[int, ...]:
    ids = config.eos_token_id
    ids = list(ids) if isinstance(ids, (list, tuple)) else ([ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return tuple(sorted(set(int(i) for i in ids)))


def check_export(model, engine, rows: int = 2, tokens: int = 5) -> float:
    """Run a short random batch through PyTorch and ONNX Runtime; return max |logit| difference."""
    import torch

    rng = np.random.default_rng(0)
    ids = rng.integers(0, model.vocab_size, size=(rows, tokens), dtype=np.int64)  # [B, T]
    positions = np.broadcast_to(np.arange(tokens, dtype=np.int64), (rows, tokens)).copy()  # [B, T]
    lengths = np.zeros(rows, dtype=np.int64)  # [B]
    index = np.broadcast_to(np.arange(tokens, dtype=np.int64), (rows, tokens)).copy()  # [B, K=T]
    dtype = "float16" if model.dtype == torch.float16 else "float32"
    past = [np.zeros((rows, hkv, tokens, d), dtype=dtype) for hkv, d in model.kv_shapes()]  # room for the new tokens
    feeds = {io.INPUT_IDS: ids, io.POSITIONS: positions, io.PAST_LENGTHS: lengths, io.LOGIT_INDEX: index}
    feeds.update({io.past(n): p for n, p in zip(model.kv_names(), past)})
    got = engine.run(feeds, [io.LOGITS])[io.LOGITS]
    with torch.no_grad():
        ref = model(*(torch.from_numpy(a) for a in (ids, positions, lengths, index, *past)))[0].float().numpy()
    if not np.array_equal(got.argmax(-1), ref.argmax(-1)):
        raise ExportError("the ONNX graph and the PyTorch model disagree on the top-1 token of a random input")
    return float(np.abs(got - ref).max())


def _spec_dicts(graph) -> dict[str, list]:
    return {"inputs": [s.to_dict() for s in graph.inputs], "outputs": [s.to_dict() for s in graph.outputs]}


def _model_manifest(model, target, recipe: Recipe) -> dict:
    import torch

    eos = _eos_ids(target.config, target.tokenizer)
    pad = target.tokenizer.pad_token_id if target.tokenizer.pad_token_id is not None else eos[0]
    return {
        "family": target.config.model_type, "vocab_size": model.vocab_size, "hidden_size": model.hidden_size,
        "num_layers": model.num_layers, "num_kv_heads": model.num_kv_heads, "head_dim": model.head_dim,
        "tap_layers": list(model.tap_layers), "kv_names": list(model.kv_names()),
        **({"kv_shapes": [list(x) for x in model.kv_shapes()]}
           if len(set(model.kv_shapes())) > 1 else {}),  # per KV tensor where layers differ (Gemma 4)
        "dtype": "float16" if model.dtype == torch.float16 else "float32",
        "eos_token_ids": list(eos), "pad_token_id": int(pad), "max_context": recipe.shapes.max_context,
    }


def _load_drafter(recipe: Recipe, model, target_config):
    """The recipe's drafter for the exported target `model`: a checkpoint, or random init from a seed."""
    from dspark_compile.drafter.checkpoint import init_drafter, load_drafter
    from dspark_compile.drafter.config import DEFAULT_MARKOV_RANK, DrafterConfig

    d = recipe.draft
    if d.source == "random":
        cfg = DrafterConfig.for_target(target_config, num_layers=d.num_layers,
                                       markov_rank=DEFAULT_MARKOV_RANK if d.markov_rank == "auto" else d.markov_rank,
                                       mask_token_id=None if d.mask_token_id == "auto" else d.mask_token_id,
                                       block_size=resolve_block_size(recipe), target_layer_ids=model.tap_layers)
        return init_drafter(cfg, model, seed=d.seed), f"random ({d.num_layers} layers, seed {d.seed})"
    return load_drafter(recipe.resolve(d.path), model), f"checkpoint {recipe.resolve(d.path).name}"  # settings: _build


def check_checkpoint_settings(recipe: Recipe):
    """Read the recipe's drafter checkpoint config (None without one) and refuse an explicit block size, tap
    list, Markov rank or mask id that differs from it (RecipeError naming both); cheap, run before any work."""
    ckpt = checkpoint_config(recipe)
    if ckpt is not None:
        d = recipe.draft
        resolve_block_size(recipe, ckpt)
        _from_checkpoint(recipe, "target.tap_layers", recipe.target.tap_layers, ckpt, "target_layer_ids",
                         ckpt.target_layer_ids)
        _from_checkpoint(recipe, "draft.markov_rank", d.markov_rank, ckpt, "markov_rank", ckpt.markov_rank)
        _from_checkpoint(recipe, "draft.mask_token_id", d.mask_token_id, ckpt, "mask_token_id", ckpt.mask_token_id)
    return ckpt


RECIPE_PATHS = (("target", "path"), ("draft", "path"), ("tensorrt", "timing_cache"), ("tensorrt", "plugin_library"))
"""Recipe keys that hold file paths: recorded in a manifest by name and content hash, never by location."""

COMPILE_STACK = ("torch", "transformers", "onnx", "onnxscript", "safetensors")


def require_compile_stack(command: str) -> None:
    """A BuildError naming the missing packages when the compile extra is not installed (runtime-only install)."""
    import importlib.util

    missing = [m for m in COMPILE_STACK if importlib.util.find_spec(m) is None]
    if missing:
        raise BuildError(f"`{command}` needs the compile stack, which this install lacks ({', '.join(missing)} "
                         "not installed): pip install 'dspark-compile[compile]'. A runtime-only install loads and "
                         "runs bundles (run, inspect, engines, pack, unpack).")


def portable_recipe(recipe: Recipe) -> tuple[dict, dict]:
    """The resolved recipe for a manifest with each path replaced by its file or folder name, and
    {key: {"name", "sha256"}} for the inputs those paths named: the builder's folders mean nothing on the
    device and would leak its layout."""
    from dspark_compile.bundle import tree_sha256

    data, inputs = recipe.to_dict(), {}
    for section, key in RECIPE_PATHS:
        value = data[section][key]
        if value is None:
            continue
        path = recipe.resolve(value)
        data[section][key] = path.name
        inputs[f"{section}.{key}"] = {"name": path.name, "sha256": tree_sha256(path) if path.exists() else None}
    return data, inputs


def _schedule_attrs(recipe: Recipe) -> dict:
    """The drafter graph's Schedule attributes: the recipe's scheduler (mode "off" never runs it: defaults)."""
    from dspark_compile.config import SchedulerConfig
    from dspark_compile.runtime.scheduler import schedule_attrs

    sched = recipe.speculation.scheduler
    return schedule_attrs(sched if sched.mode != "off" else SchedulerConfig())


def _files_digest(root: Path, files) -> str:
    from dspark_compile.bundle import engine_digest, sha256_file

    return engine_digest(sha256_file(root / f) for f in files)


def plan_bundle(recipe: Recipe) -> dict:
    """A dry run: everything `build_bundle` checks before exporting, from configs and safetensors headers only
    (no weights read, nothing written, no TensorRT needed): the target's family and architecture, the taps,
    block size, mask and Markov rank against the drafter checkpoint, the drafter's tensor names and shapes.
    Returns what the build would produce."""
    from types import SimpleNamespace

    from dspark_compile.models.arch import arch_from_hf
    from dspark_compile.models.spec import get_family
    from dspark_compile.models.taps import check_tap_layers
    from dspark_compile.sources import load_target_config

    ckpt = check_checkpoint_settings(recipe)
    config = load_target_config(recipe.target, recipe.resolve)
    spec = get_family(config.model_type)
    arch = arch_from_hf(config, spec)
    taps = check_tap_layers(resolve_taps(recipe, arch.num_layers, ckpt), arch.num_layers)
    plan = {"name": recipe.name, "target": {"family": spec.name, "model_type": config.model_type,
                                            "num_layers": arch.num_layers, "hidden_size": arch.hidden_size,
                                            "vocab_size": arch.vocab_size, "tap_layers": list(taps)},
            "precision": recipe.precision, "backends": list(recipe.backends), "shapes": recipe.shapes.model_dump(),
            "engines": ["target", "verify"] + (["drafter"] if recipe.draft.source != "none" else [])}
    if ckpt is not None:
        from dspark_compile.drafter.checkpoint import check_drafter_files

        seen = SimpleNamespace(family=spec.name, hidden_size=arch.hidden_size, vocab_size=arch.vocab_size,
                               num_layers=arch.num_layers, tap_layers=taps)
        check_drafter_files(recipe.resolve(recipe.draft.path), seen)
    if recipe.draft.source != "none":
        plan["drafter"] = {"source": recipe.draft.source, "block_size": resolve_block_size(recipe, ckpt),
                           **({"num_layers": ckpt.num_layers, "markov_rank": ckpt.markov_rank,
                               "mask_token_id": ckpt.mask_token_id} if ckpt else {})}
    if "tensorrt" in recipe.backends:
        plan["tensorrt"] = "plans built at build time; needs TensorRT, a GPU and the plugin library (not checked)"
    return plan


def _quantize_graph(root: Path, files, spec, recipe: Recipe):
    """Quantize an exported graph in place (its .onnx and weights file); see dspark_compile.quantize."""
    from dspark_compile.quantize.passes import GGUFBlocks, quantize_file
    from dspark_compile.sources import gguf_file

    gguf = GGUFBlocks(gguf_file(recipe.target, recipe.resolve)) if spec.scheme == "gguf" else None
    return quantize_file(root, files[0], files[1], spec, gguf)


def build_bundle(recipe: Recipe, out: Path, force: bool = False, step: StepReporter = _quiet_step,
                 notify: Callable[[str], None] = lambda message: None) -> Path:
    """Build the bundle for `recipe` at `out`; on any failure nothing is left at `out` or beside it.

    `force` replaces only an existing bundle (never another folder, the recipe's folder or one above it);
    `notify` hears about leftovers of interrupted builds that are swept. I/O errors (a read-only or full
    disk, ...) become BuildErrors."""
    require_compile_stack("build")
    try:
        return _build(recipe, Path(out), force, step, notify)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise BuildError(f"{out}: writing the bundle failed: {exc.strerror or exc}{where}; nothing was left "
                         "behind") from None


def _build(recipe: Recipe, out: Path, force: bool, step: StepReporter, notify: Callable[[str], None]) -> Path:
    from dspark_compile.costs import measure_costs
    from dspark_compile.engine.base import EngineOptions, load_engine
    from dspark_compile.export.target import export_target, fuse_verify_graph
    from dspark_compile.models import from_hf_model
    from dspark_compile.runtime.drafter import DRAFT_VOCAB_FILE, DrafterInfo, DrafterModel
    from dspark_compile.runtime.target import ModelInfo, TargetModel
    from dspark_compile.sources import load_target

    if "tensorrt" in recipe.backends:  # fail before the long export when TensorRT, a GPU or the plugins are missing
        from dspark_compile.trt.bundle import check_available

        check_available(recipe)
    ckpt = check_checkpoint_settings(recipe)
    started = time.perf_counter()
    with BundleWriter(out, overwrite=force, protect=(Path(recipe.base_dir),), notify=notify) as writer:
        with step("load target"):
            target = load_target(recipe.target, recipe.resolve)
            taps = resolve_taps(recipe, target.config.num_hidden_layers, ckpt)
            model = from_hf_model(target.model, taps)
            if recipe.precision == "fp16":
                model = model.half()
            del target.model
        with step("trace target to ONNX"):
            graph = export_target(model, writer.root, row_pad=recipe.quantization.target != "none")
        with step("check the graph in ONNX Runtime"):
            engine = load_engine("onnxruntime", writer.root / "target.onnx")
            diff = check_export(model, engine)
            del engine
            if diff > EXPORT_CHECK_ATOL[recipe.precision]:
                raise ExportError(f"ONNX Runtime and PyTorch logits differ by {diff:.3g} "
                                  f"(allowed {EXPORT_CHECK_ATOL[recipe.precision]})")
        quantized = {}
        if (spec := recipe.quantization.for_graph("target")) is not None:
            with step(f"quantize the target's weights ({spec.scheme})"):
                quantized["target"] = _quantize_graph(writer.root, graph.files, spec, recipe)
        with step("fuse Verify into the target graph"):
            verify = fuse_verify_graph(graph, writer.root)
        engines = {
            "target": {"backend": "onnxruntime", "files": list(graph.files), **_spec_dicts(graph),
                       "export_check": {"max_abs_logit_diff": diff}},
            "verify": {"backend": "onnxruntime", "files": list(verify.files), **_spec_dicts(verify)},
        }
        recorded, inputs = portable_recipe(recipe)
        manifest = {"recipe": recorded, "inputs": inputs, "source": target.description,
                    "model": _model_manifest(model, target, recipe), "engines": engines}
        if recipe.draft.source != "none":
            from dspark_compile.drafter.export import export_drafter

            with step("trace drafter to ONNX, ending in DraftSample -> Schedule"):
                drafter, desc = _load_drafter(recipe, model, target.config)
                dgraph = export_drafter(drafter, writer.root, schedule=_schedule_attrs(recipe),
                                        share_with=writer.root / graph.files[0])
            if (spec := recipe.quantization.for_graph("drafter")) is not None:
                with step(f"quantize the drafter's weights ({spec.scheme})"):
                    quantized["drafter"] = _quantize_graph(writer.root, dgraph.files, spec, recipe)
            engines["drafter"] = {"backend": "onnxruntime", "files": list(dgraph.files), **_spec_dicts(dgraph)}
            draft_vocab = drafter.draft_ids().numpy().astype(np.int32)  # [Vd] Verify's ids beside q_full
            np.save(writer.root / DRAFT_VOCAB_FILE, draft_vocab)
            manifest["drafter"] = {
                "source": desc, "source_sha256": inputs.get("draft.path", {}).get("sha256"),
                "block_size": dgraph.block_size, "num_layers": drafter.config.num_layers,
                "num_kv_heads": drafter.num_kv_heads, "head_dim": drafter.head_dim,
                "kv_names": list(drafter.kv_names()), "dtype": manifest["model"]["dtype"],
                "sts_temperatures": list(drafter.config.sts_temperatures),
                "draft_vocab_size": drafter.draft_vocab_size,  # Vd: q_full's last dim (Verify's Vq)
                "schedule": dgraph.schedule,
            }
            with step("measure the verify and drafter costs"):
                turns = EngineOptions(yield_after_run=True)  # as the runtime opens them (README, "Threads")
                engine = load_engine("onnxruntime", writer.root / verify.files[0], turns)
                draft_model = DrafterModel(load_engine("onnxruntime", writer.root / dgraph.files[0], turns),
                                           DrafterInfo.from_manifest(manifest["drafter"]), draft_vocab)
                manifest["costs"] = measure_costs(
                    TargetModel(engine, ModelInfo.from_manifest(manifest["model"])), draft_model,
                    recipe.shapes.max_batch, digest=_files_digest(writer.root, verify.files),
                    drafter_digest=_files_digest(writer.root, dgraph.files))
                del engine, draft_model
        if "tensorrt" in recipe.backends:
            from dspark_compile.trt.bundle import build_trt_engines

            with step("build TensorRT engines"):
                fused = {"verify": verify, **({"drafter": dgraph} if recipe.draft.source != "none" else {})}
                block = dgraph.block_size if recipe.draft.source != "none" else 0
                vocab = manifest["drafter"]["draft_vocab_size"] if recipe.draft.source != "none" else 1
                engines.update(build_trt_engines(recipe, writer.root, fused, block, vocab))
        if quantized:
            manifest["quantization"] = {role: r.summary() for role, r in quantized.items()}
        with step("save tokenizer"):
            target.tokenizer.save_pretrained(str(writer.root / "tokenizer"))
        manifest.update(tokenizer="tokenizer", build_seconds=round(time.perf_counter() - started, 1))
        with step("write manifest"):
            return writer.commit(manifest)
