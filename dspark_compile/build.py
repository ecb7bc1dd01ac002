"""`build`: recipe -> bundle. Load the target, trace it to ONNX, check it in ONNX Runtime, write the bundle."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from dspark_compile.bundle import BundleWriter
from dspark_compile.config import Recipe
from dspark_compile.errors import BuildError, ExportError, RecipeError

StepReporter = Callable[[str], contextlib.AbstractContextManager]

EXPORT_CHECK_ATOL = {"fp32": 1e-3, "fp16": 5e-2}
"""Largest |logit| difference allowed between the traced graph in ONNX Runtime and PyTorch."""


@contextlib.contextmanager
def _quiet_step(name: str) -> Iterator[None]:
    yield


def resolve_taps(recipe: Recipe, num_layers: int) -> tuple[int, ...]:
    """The recipe's tap layers, or the default spread; never the final layer (HF returns it normed)."""
    from dspark_compile.models import default_tap_layers

    taps = recipe.target.tap_layers
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
    past = [np.zeros((rows, model.num_kv_heads, 0, model.head_dim), dtype=dtype) for _ in model.kv_names()]  # P = 0
    feeds = {"input_ids": ids, "positions": positions, "past_lengths": lengths, "logit_index": index}
    feeds.update({f"past_{n}": p for n, p in zip(model.kv_names(), past)})
    got = engine.run(feeds, ["logits"])["logits"]
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
        "dtype": "float16" if model.dtype == torch.float16 else "float32",
        "eos_token_ids": list(eos), "pad_token_id": int(pad), "max_context": recipe.shapes.max_context,
    }


def _load_drafter(recipe: Recipe, model, target_config):
    """The recipe's drafter for the exported target `model`: a checkpoint, or random init from a seed."""
    from dspark_compile.drafter.checkpoint import init_drafter, load_drafter
    from dspark_compile.drafter.config import DrafterConfig

    d = recipe.draft
    if d.source == "random":
        cfg = DrafterConfig.for_target(target_config, num_layers=d.num_layers, markov_rank=d.markov_rank,
                                       block_size=recipe.speculation.block_size, target_layer_ids=model.tap_layers)
        return init_drafter(cfg, model, seed=d.seed), f"random ({d.num_layers} layers, seed {d.seed})"
    drafter = load_drafter(recipe.resolve(d.path), model)
    if drafter.config.block_size != recipe.speculation.block_size:
        raise RecipeError(f"speculation.block_size = {recipe.speculation.block_size}, but the drafter at "
                          f"{d.path} was trained with block size {drafter.config.block_size}")
    return drafter, f"checkpoint {recipe.resolve(d.path).name}"


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
    import hashlib

    from dspark_compile.bundle import sha256_file

    return hashlib.sha256("".join(sha256_file(root / f) for f in files).encode()).hexdigest()


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
    from dspark_compile.engine.base import load_engine
    from dspark_compile.export.target import export_target, fuse_verify_graph
    from dspark_compile.models import from_hf_model
    from dspark_compile.runtime.drafter import DrafterInfo, DrafterModel
    from dspark_compile.runtime.target import ModelInfo, TargetModel
    from dspark_compile.sources import load_target

    if "tensorrt" in recipe.backends:  # fail before the long export when TensorRT, a GPU or the plugins are missing
        from dspark_compile.trt.bundle import check_available

        check_available(recipe)
    started = time.perf_counter()
    with BundleWriter(out, overwrite=force, protect=(Path(recipe.base_dir),), notify=notify) as writer:
        with step("load target"):
            target = load_target(recipe.target, recipe.resolve)
            taps = resolve_taps(recipe, target.config.num_hidden_layers)
            model = from_hf_model(target.model, taps)
            if recipe.precision == "fp16":
                model = model.half()
            del target.model
        with step("trace target to ONNX"):
            graph = export_target(model, writer.root)
        with step("fuse Verify into the target graph"):
            verify = fuse_verify_graph(graph, writer.root)
        with step("check the graph in ONNX Runtime"):
            engine = load_engine("onnxruntime", writer.root / "target.onnx")
            diff = check_export(model, engine)
            del engine
            if diff > EXPORT_CHECK_ATOL[recipe.precision]:
                raise ExportError(f"ONNX Runtime and PyTorch logits differ by {diff:.3g} "
                                  f"(allowed {EXPORT_CHECK_ATOL[recipe.precision]})")
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
                dgraph = export_drafter(drafter, writer.root, schedule=_schedule_attrs(recipe))
            engines["drafter"] = {"backend": "onnxruntime", "files": list(dgraph.files), **_spec_dicts(dgraph)}
            manifest["drafter"] = {
                "source": desc, "source_sha256": inputs.get("draft.path", {}).get("sha256"),
                "block_size": dgraph.block_size, "num_layers": drafter.config.num_layers,
                "num_kv_heads": drafter.num_kv_heads, "head_dim": drafter.head_dim,
                "kv_names": list(drafter.kv_names()), "dtype": manifest["model"]["dtype"],
                "sts_temperatures": list(drafter.config.sts_temperatures),
                "schedule": dgraph.schedule,
            }
            with step("measure the verify and drafter costs"):
                engine = load_engine("onnxruntime", writer.root / verify.files[0])
                draft_model = DrafterModel(load_engine("onnxruntime", writer.root / dgraph.files[0]),
                                           DrafterInfo.from_manifest(manifest["drafter"]))
                manifest["costs"] = measure_costs(
                    TargetModel(engine, ModelInfo.from_manifest(manifest["model"])), dgraph.block_size,
                    recipe.shapes.max_batch, digest=_files_digest(writer.root, verify.files),
                    drafter=draft_model, drafter_digest=_files_digest(writer.root, dgraph.files))
                del engine, draft_model
        if "tensorrt" in recipe.backends:
            from dspark_compile.trt.bundle import build_trt_engines

            with step("build TensorRT engines"):
                fused = {"verify": verify, **({"drafter": dgraph} if recipe.draft.source != "none" else {})}
                block = dgraph.block_size if recipe.draft.source != "none" else 0
                engines.update(build_trt_engines(recipe, writer.root, fused, block, model.vocab_size))
        with step("save tokenizer"):
            target.tokenizer.save_pretrained(str(writer.root / "tokenizer"))
        manifest.update(tokenizer="tokenizer", build_seconds=round(time.perf_counter() - started, 1))
        with step("write manifest"):
            return writer.commit(manifest)
