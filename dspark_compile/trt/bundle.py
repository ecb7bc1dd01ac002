"""TensorRT engines for a bundle: one plan per fused graph (verify, drafter), next to the ONNX graphs.

Called by `build` when a recipe lists `tensorrt` in `backends`. Nothing here has run against a native
TensorRT (none is installable on the development machine): the code path is tested up to the first
native call, and `check_available` fails fast, before the minute-long export, naming what is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from dspark_compile import graph_io as io
from dspark_compile.config import Recipe
from dspark_compile.errors import BuildError
from dspark_compile.trt.profiles import DimRange, build_profiles, target_dim_ranges


def check_available(recipe: Recipe) -> None:
    """TensorRT importable, a CUDA GPU present, and the plugin library found; else a BuildError saying which."""
    from dspark_compile.trt import import_tensorrt
    from dspark_compile.trt.build import find_plugin_library
    from dspark_compile.trt.cuda import CudaDriver

    from dspark_compile.trt import trt_major

    trt = import_tensorrt(BuildError)
    CudaDriver(BuildError).info()
    find_plugin_library(_plugin_path(recipe), trt_major(trt))


def _plugin_path(recipe: Recipe) -> str | None:
    lib = recipe.tensorrt.plugin_library
    return str(recipe.resolve(lib)) if lib else None


def dim_ranges(recipe: Recipe, role: str, block_size: int, draft_vocab: int) -> dict[str, dict[str, DimRange]]:
    """Per profile, the (min, opt, max) of every symbolic dim of the verify or drafter graph (`draft_vocab`: the
    drafter's Vd, 1 without one)."""
    ranges = target_dim_ranges(recipe.shapes, block_size)
    g = block_size
    for name, dims in ranges.items():
        decode = name == "decode"
        # Verify's inputs: G = K-1 drafts (0 in prefill), 2G+1 uniforms, Vq = Vd (or 1 when all greedy)
        dims.update({"K-1": (0, g, g) if decode else (0, 0, 0), "2K-1": (1, 2 * g + 1, 2 * g + 1) if decode
                     else (1, 1, 1), "Vq": (1, draft_vocab, draft_vocab)})
    if role == "drafter":  # T = new context rows: a whole prompt on the first call, then accepted + 1
        ctx = recipe.shapes.max_context
        n = recipe.shapes.max_batch * (g + 1)  # Schedule's cost table: verify time for 1..N tokens in the batch
        slots = {"S": (1, g, g)}  # the slots a pass drafts (`drafter.export.draft_slots`)
        ranges = {"first": {**ranges["prefill"], "T": (1, min(recipe.shapes.prefill_chunk, ctx), ctx), "N": (1, n, n),
                            **slots},
                  "decode": {**ranges["decode"], "T": (1, g + 1, g + 1), "N": (1, n, n), **slots}}
    return ranges


def build_trt_engines(recipe: Recipe, root: Path, graphs: dict[str, Any], block_size: int, draft_vocab: int,
                      out: Path | None = None, plugin: Path | None = None) -> dict[str, dict[str, Any]]:
    """Build `<role>.plan` for each fused graph (role -> graph with .files/.inputs) of the bundle at `root`
    into `out` (default: `root`), with the plugin library copied beside them; manifest entries. A quantized graph
    (MatMulNBits, ONNX Runtime only) is built from its DequantizeLinear twin, derived beside it for the build and
    removed after (`quantize.qdq.tensorrt_graph`)."""
    from dspark_compile.quantize.qdq import tensorrt_graph
    from dspark_compile.trt import import_tensorrt, trt_major
    from dspark_compile.trt.build import TrtBuildOptions, build_engine, find_plugin_library

    t = recipe.tensorrt
    out = Path(out or root)
    plugin = plugin or find_plugin_library(_plugin_path(recipe), trt_major(import_tensorrt(BuildError)))
    options = TrtBuildOptions(
        hardware_compatibility=t.hardware_compatibility, version_compatible=t.version_compatible,
        timing_cache=str(recipe.resolve(t.timing_cache)) if t.timing_cache else None,
        workspace_bytes=t.workspace_mib << 20, optimization_level=t.optimization_level, plugin_library=str(plugin))
    shutil.copy2(plugin, out / plugin.name)  # the plans load it from beside themselves
    entries = {}
    for role, graph in graphs.items():
        profiles = build_profiles(graph.inputs, dim_ranges(recipe, role, block_size, draft_vocab))
        plan_file = f"{role}.plan"
        with tensorrt_graph(root / graph.files[0]) as onnx_path:  # a quantized graph: its DequantizeLinear twin
            info = build_engine(onnx_path, out / plan_file, graph.inputs, profiles, options)
        entries[f"{role}_tensorrt"] = {"backend": "tensorrt", "files": [plan_file, plan_file + ".json", plugin.name],
                                       "inputs": [s.to_dict() for s in graph.inputs],
                                       "outputs": [s.to_dict() for s in graph.outputs
                                                   if not s.name.startswith(io.PRESENT)], "tensorrt": info}
    return entries
