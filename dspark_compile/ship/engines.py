"""`dspark-compile engines BUNDLE --backend tensorrt`: build the TensorRT plans of a bundle on the device.

The bundle's fused ONNX graphs (verify, drafter) are parsed and built with the recipe's shapes, profiles
and portability settings, on the machine that will run them; the plans, their sidecars and the plugin
library are added to the bundle and listed in the manifest with their sha256, the TensorRT version, the
GPU and its SM, and the compatibility flags. Plans are built into a hidden sibling folder first and moved
in only when all are done, so a failure leaves the bundle as it was. A quantized graph (MatMulNBits) is built
from its DequantizeLinear twin, derived beside it for the build and removed after (`trt.bundle`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dspark_compile.bundle import load_bundle, sha256_file, write_manifest
from dspark_compile.engine.base import TensorSpec
from dspark_compile.errors import BuildError

BACKENDS = ("tensorrt",)
FUSED_ROLES = ("verify", "drafter")


@dataclass(frozen=True)
class _Graph:
    """What build_trt_engines needs of an exported graph, read back from the manifest."""

    files: tuple[str, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def _graphs(manifest: dict[str, Any]) -> dict[str, _Graph]:
    def specs(entry, kind):
        return tuple(TensorSpec(s["name"], tuple(s["shape"]), s["dtype"]) for s in entry[kind])

    return {role: _Graph(tuple(e["files"]), specs(e, "inputs"), specs(e, "outputs"))
            for role, e in manifest["engines"].items() if role in FUSED_ROLES}


def plan_inputs(manifest: dict[str, Any], source: str, overrides: dict[str, Any] | None = None):
    """(recipe, graphs, block size, draft vocabulary size) for build_trt_engines, from a bundle's manifest: the recorded
    recipe (paths are names there, so files are not checked) with `overrides` of its `tensorrt` section."""
    from dspark_compile.config import parse_recipe

    data = dict(manifest["recipe"])
    data["tensorrt"] = {**data.get("tensorrt", {}), **(overrides or {}), "plugin_library": None}
    recipe = parse_recipe(data, source=f"{source} (recipe)", base_dir=Path.cwd(), check_files=False)
    graphs = _graphs(manifest)
    if "verify" not in graphs:
        raise BuildError(f"{source}: the bundle has no 'verify' graph to build a TensorRT engine from")
    block = int(manifest.get("drafter", {}).get("block_size", 0))
    return recipe, graphs, block, int(manifest.get("drafter", {}).get("draft_vocab_size", 1))


def plugin_origin(explicit: str | None) -> str:
    """Where the plugin library came from, without the builder's path: what the manifest records."""
    from dspark_compile.trt.build import PLUGIN_LIBRARY_ENV

    if explicit:
        return "--plugins (prebuilt or built on this device: cmake -S plugins -B plugins/build)"
    if os.environ.get(PLUGIN_LIBRARY_ENV):
        return f"${PLUGIN_LIBRARY_ENV}"
    return "plugins/build of the dspark-compile checkout (cmake -S plugins -B plugins/build)"


def build_device_engines(bundle_root: Path, backend: str = "tensorrt", plugins: str | None = None,
                         overrides: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Build the bundle's plans for this machine's GPU and TensorRT; returns the new manifest entries.

    `overrides` replaces keys of the recipe's `tensorrt` section (hardware_compatibility, version_compatible,
    timing_cache, workspace_mib, optimization_level). Refuses, before any work, where TensorRT, a GPU or the
    plugin library is missing.
    """
    from dspark_compile.trt import import_tensorrt, trt_major
    from dspark_compile.trt.build import find_plugin_library
    from dspark_compile.trt.bundle import build_trt_engines
    from dspark_compile.trt.cuda import CudaDriver

    if backend not in BACKENDS:
        raise BuildError(f"--backend {backend!r}: device engines are built for {', '.join(BACKENDS)} "
                         "(onnxruntime needs none: the bundle's ONNX graphs are its engines)")
    bundle = load_bundle(bundle_root)  # checksums first: never build from altered graphs
    root, manifest = bundle.root, bundle.manifest
    recipe, graphs, block, draft_vocab = plan_inputs(manifest, str(root / "manifest.json"), overrides)
    trt = import_tensorrt(BuildError)
    gpu = CudaDriver(BuildError).info()
    plugin = find_plugin_library(plugins, trt_major(trt))
    stage = Path(tempfile.mkdtemp(prefix=f".{root.name}.engines-", dir=root.parent))
    try:
        entries = build_trt_engines(recipe, root, graphs, block, draft_vocab, out=stage, plugin=plugin)
        names = sorted({f for e in entries.values() for f in e["files"]})
        for name in names:
            manifest["files"][name] = {"sha256": sha256_file(stage / name), "size": (stage / name).stat().st_size}
        manifest["engines"] = {k: v for k, v in manifest["engines"].items() if not k.endswith("_tensorrt")}
        manifest["engines"].update(entries)
        recorded = recipe.to_dict()["tensorrt"]
        if recorded["timing_cache"]:
            recorded["timing_cache"] = Path(recorded["timing_cache"]).name  # a name, never a builder path
        manifest["recipe"]["tensorrt"] = recorded
        manifest["device_build"] = {
            "backend": backend, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "gpu": gpu.name, "sm": gpu.sm, "plugin_library": {
                "name": plugin.name, "sha256": manifest["files"][plugin.name]["sha256"],
                "origin": plugin_origin(plugins)}}
        for name in names:
            os.replace(stage / name, root / name)
        write_manifest(root, manifest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return entries
