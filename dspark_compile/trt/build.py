"""ONNX -> TensorRT engine (plan), with the DSpark plugin library, profiles and portability options.

    info = build_engine(onnx_path, plan_path, inputs, profiles, TrtBuildOptions(...))

Precision comes from the ONNX dtypes: TensorRT 11 networks are always strongly typed, and on 10.x the
STRONGLY_TYPED flag is set so both majors build the same precision. Returns the manifest data
(TensorRT version, GPU and compute capability, flags, profiles) and writes it beside the plan as
`<plan>.json`, which TrtEngine reads to load the plugin library and pick profiles.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from dspark_compile.engine.base import TensorSpec
from dspark_compile.errors import BuildError
from dspark_compile.trt import import_tensorrt, trt_major
from dspark_compile.trt.cuda import CudaDriver
from dspark_compile.trt.profiles import Profile

PLUGIN_LIBRARY = "libdspark_plugins.so"
"""Stem of the plugin library; plugins/CMakeLists.txt names it libdspark_plugins.so.<major> after the
TensorRT headers it was compiled against (10.x and 11.x differ in ILogger's vtable: one library per major)."""
PLUGIN_LIBRARY_ENV = "DSPARK_PLUGIN_LIBRARY"


@dataclass(frozen=True)
class TrtBuildOptions:
    """Engine portability and build settings."""

    hardware_compatibility: Literal["none", "ampere_plus"] = "none"
    """'ampere_plus': one engine for every GPU from sm_80 on (48 KiB shared-memory cap, fewer tactics)."""
    version_compatible: bool = False
    """Run on later TensorRT runtimes of the same major (and 10 -> 11, per NVIDIA: the plan carries the lean
    runtime it was built with; not run here); the plugin library is serialised into the plan, so loading
    it needs engine_host_code_allowed."""
    timing_cache: str | None = None
    """File read before and written after the build; speeds up rebuilds on the same GPU and version."""
    workspace_bytes: int = 4 << 30
    optimization_level: int = 3
    plugin_library: str | None = None
    """Path of libdspark_plugins.so.<major>; default: $DSPARK_PLUGIN_LIBRARY, then plugins/build/."""


def find_plugin_library(explicit: str | None = None, major: int | None = None) -> Path:
    """The plugin library for TensorRT `major` (explicit path, $DSPARK_PLUGIN_LIBRARY, then
    plugins/build/libdspark_plugins.so.<major>), or a BuildError saying where it was looked for and how to
    build it. A library whose name says another major (`.so.10` for TensorRT 11) is refused."""
    name = f"{PLUGIN_LIBRARY}.{major}" if major is not None else PLUGIN_LIBRARY
    candidates = [explicit, os.environ.get(PLUGIN_LIBRARY_ENV),
                  str(Path(__file__).resolve().parents[2] / "plugins" / "build" / name)]
    for c in candidates:
        if c and Path(c).is_file():
            built_for = re.search(r"\.so\.(\d+)$", Path(c).resolve().name)
            if major is not None and built_for and int(built_for.group(1)) != major:
                raise BuildError(f"{c} was compiled against TensorRT {built_for.group(1)} headers, but this is "
                                 f"TensorRT {major}: build the library for it (cmake -DTENSORRT_ROOT=<TensorRT "
                                 f"{major}>), one per major")
            return Path(c).resolve()
    looked = ", ".join(c for c in candidates if c)
    raise BuildError(f"{name} not found (looked at: {looked}); build it with "
                     "`cmake -S plugins -B plugins/build -DTENSORRT_ROOT=<TensorRT> && cmake --build plugins/build` "
                     f"or set {PLUGIN_LIBRARY_ENV}")


def load_plugin_library(trt, registry, path: Path, error=BuildError):
    """load_library through getCreators; checks that every DSpark creator is now registered."""
    from dspark_compile.ops.spec import OPS
    from dspark_compile.trt.onnx_plugins import PLUGIN_NAMESPACE

    handle = registry.load_library(str(path))
    if handle is None:
        raise error(f"TensorRT could not load the plugin library {path} (built for another TensorRT major, "
                    "or already loaded in this process)")
    missing = [n for n, s in OPS.items() if registry.get_creator(n, str(s.version), PLUGIN_NAMESPACE) is None]
    if missing:
        raise error(f"{path} loaded but registers no creator for {missing} in namespace '{PLUGIN_NAMESPACE}'")
    return handle


def _parse(trt, network, logger, onnx_path: Path):
    """Parse with DSpark function bodies stripped; the rewritten copy sits beside the original so
    external weights (`location` relative to the model) still resolve."""
    import onnx

    from dspark_compile.trt.onnx_plugins import to_plugin_graph

    model = onnx.load(str(onnx_path), load_external_data=False)
    model, fired = to_plugin_graph(model)
    parser = trt.OnnxParser(network, logger)
    override = getattr(trt.OnnxParserFlag, "ENABLE_PLUGIN_OVERRIDE", None)  # 10.15+: plugins win over builtins
    if override is not None and fired:
        parser.set_flag(override)
    with tempfile.NamedTemporaryFile(suffix=".onnx", dir=onnx_path.parent) as tmp:
        tmp.write(model.SerializeToString())
        tmp.flush()
        ok = parser.parse_from_file(tmp.name)
    if not ok:
        errors = [f"{e.node_name()} ({e.node_operator()}): {e.desc()}"
                  for e in (parser.get_error(i) for i in range(parser.num_errors))]
        raise BuildError(f"{onnx_path.name}: TensorRT's ONNX parser failed:\n  " + "\n  ".join(errors))
    return parser, dict(fired)


def build_engine(onnx_path: Path, plan_path: Path, inputs: tuple[TensorSpec, ...], profiles: list[Profile],
                 options: TrtBuildOptions = TrtBuildOptions()) -> dict:
    """Build `plan_path` from `onnx_path`; return the manifest data (also written to `<plan>.json`)."""
    trt = import_tensorrt(BuildError)
    gpu = CudaDriver(BuildError).info()  # before any builder call: a clear error on CPU-only machines
    major = trt_major(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    registry = builder.get_plugin_registry()
    plugin_path = find_plugin_library(options.plugin_library, major)
    load_plugin_library(trt, registry, plugin_path)

    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if major == 10 else 0
    network = builder.create_network(flags)
    parser, fired = _parse(trt, network, logger, Path(onnx_path))

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_bytes)
    config.builder_optimization_level = options.optimization_level
    if options.hardware_compatibility == "ampere_plus":
        if gpu.compute_capability < (8, 0):
            raise BuildError(f"hardware_compatibility 'ampere_plus' needs an sm_80+ GPU to build on; this is "
                             f"{gpu.name} ({gpu.sm})")
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
    if options.version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
        config.plugins_to_serialize = sorted(set(parser.get_used_vc_plugin_libraries()) | {str(plugin_path)})
    for prof in profiles:
        profile = builder.create_optimization_profile()
        for spec in inputs:
            profile.set_shape(spec.name, *prof.shapes[spec.name])
        config.add_optimization_profile(profile)

    cache_path = Path(options.timing_cache) if options.timing_cache else None
    blob = cache_path.read_bytes() if cache_path and cache_path.is_file() else b""
    timing_cache = config.create_timing_cache(blob)
    config.set_timing_cache(timing_cache, False)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BuildError(f"TensorRT could not build an engine from {Path(onnx_path).name} (see the log above)")
    Path(plan_path).write_bytes(bytes(plan))
    if cache_path:
        cache_path.write_bytes(bytes(config.get_timing_cache().serialize()))

    info = {
        "tensorrt_version": trt.__version__,
        "gpu": gpu.name,
        "compute_capability": f"{gpu.compute_capability[0]}.{gpu.compute_capability[1]}",
        "sm": gpu.sm,
        "plan_sha256": hashlib.sha256(bytes(plan)).hexdigest(),
        "strongly_typed": True,
        "flags": {k: v for k, v in asdict(options).items() if k not in ("plugin_library", "timing_cache")},
        "plugin_library": plugin_path.name,
        "plugin_library_serialized": options.version_compatible,
        "plugins_used": fired,
        "profiles": [p.to_dict() for p in profiles],
    }
    Path(str(plan_path) + ".json").write_text(json.dumps(info, indent=2))
    return info


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


def plan_mismatch(info: dict, tensorrt_version: str, compute_capability: tuple[int, int]) -> str | None:
    """Why a plan described by `info` (its sidecar / manifest entry) cannot run with this TensorRT and GPU,
    or None. Plans are specific to the TensorRT version and the GPU's compute capability unless built
    version-compatible (later runtimes of the same major) or hardware-compatible (ampere_plus: sm_80+)."""
    built, here = info.get("tensorrt_version", "?"), tensorrt_version
    flags = info.get("flags", {})
    reasons = []
    if flags.get("version_compatible"):
        if not (_version(built)[:1] == _version(here)[:1] and _version(here) >= _version(built)):
            reasons.append(f"TensorRT {built} (version-compatible: runs on {built.split('.')[0]}.x from {built} on), "
                           f"this machine has TensorRT {here}")
    elif _version(built) != _version(here):
        reasons.append(f"TensorRT {built}, this machine has TensorRT {here}")
    cc = info.get("compute_capability", "?")
    sm_here = f"sm_{compute_capability[0]}{compute_capability[1]}"
    if flags.get("hardware_compatibility") == "ampere_plus":
        if compute_capability < (8, 0):
            reasons.append(f"Ampere or later (hardware-compatible), this GPU is {sm_here}")
    elif cc != f"{compute_capability[0]}.{compute_capability[1]}":
        reasons.append(f"compute capability {cc} ({info.get('gpu', '?')}), this GPU is {sm_here}")
    return "; ".join(reasons) or None
