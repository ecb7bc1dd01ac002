"""`engines`: TensorRT plans built on the device. This machine has neither TensorRT's native libraries nor a GPU,
so the tests check the refusals (without TensorRT; with the real bindings over stub libraries but no GPU), the
profiles the build would use, and which plans `run` accepts; the native build itself is API-checked in
tests/engine/test_tensorrt_api.py like the rest of the TensorRT backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dspark_compile.bundle import MANIFEST, load_bundle
from dspark_compile.cli import cli
from dspark_compile.errors import BuildError, BundleError
from dspark_compile.ship.engines import build_device_engines, plan_inputs
from dspark_compile.trt.build import plan_mismatch
from dspark_compile.trt.bundle import dim_ranges
from dspark_compile.trt.profiles import build_profiles
from tests.engine.test_tensorrt_backend import _has_cuda_driver

ROOT = Path(__file__).resolve().parents[2]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_profiles_from_the_recorded_recipe_cover_every_input(tiny_bundles):
    bundle = load_bundle(tiny_bundles("llama"))
    recipe, graphs, block, vocab = plan_inputs(bundle.manifest, "tiny", {"version_compatible": True})
    assert set(graphs) == {"verify", "drafter"} and block == bundle.manifest["drafter"]["block_size"]
    assert recipe.tensorrt.version_compatible and recipe.tensorrt.plugin_library is None
    for role, graph in graphs.items():
        profiles = build_profiles(graph.inputs, dim_ranges(recipe, role, block, vocab))
        assert [p.name for p in profiles] == (["prefill", "decode"] if role == "verify" else ["first", "decode"])
        assert all(set(p.shapes) == {s.name for s in graph.inputs} for p in profiles)


@pytest.mark.skipif(_has_cuda_driver(), reason="this machine has an NVIDIA driver")
def test_engines_refuses_cleanly_without_tensorrt_or_gpu(tiny_bundles):
    root = Path(tiny_bundles("llama"))
    before = _snapshot(root)
    with pytest.raises(BuildError, match="tensorrt|TensorRT|NVIDIA driver"):
        build_device_engines(root)
    res = CliRunner().invoke(cli, ["engines", str(root), "--backend", "tensorrt"])
    assert isinstance(res.exception, BuildError)
    assert _snapshot(root) == before
    assert not [p for p in root.parent.iterdir() if ".engines-" in p.name]  # no staging folder left


def test_engines_refuses_an_altered_bundle_before_anything_else(tiny_bundles, tmp_path):
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(tiny_bundles("llama"), copy)
    data = bytearray((copy / "target_verify.onnx").read_bytes())
    data[len(data) // 2] ^= 1
    (copy / "target_verify.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="target_verify.onnx' does not match its sha256"):
        build_device_engines(copy)


_ENGINES = r"""
import sys
from dspark_compile.cli import main
sys.argv = ["dspark-compile", "engines", sys.argv[1], "--backend", "tensorrt"]
main()
"""


@pytest.mark.skipif(_has_cuda_driver(), reason="this machine has an NVIDIA driver")
def test_with_real_bindings_and_no_gpu_the_cli_names_the_gpu(tiny_bundles):
    """TensorRT's real Python bindings over stub native libraries: `engines` gets past importing tensorrt and
    stops at the GPU, with one line and exit status 2."""
    from tests.engine.test_tensorrt_api import _STUBS, _binding_locations

    locations = _binding_locations()
    if not locations:
        pytest.skip("tensorrt bindings not installed: pip install tensorrt-cu13-bindings==11.4.0.106")
    import shutil
    import tempfile

    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the TensorRT stub libraries")
    with tempfile.TemporaryDirectory() as libs:
        for major in (10, 11):
            for lib, body in _STUBS.items():
                src = Path(libs) / f"{lib}.c"
                src.write_text(body)
                so = f"lib{lib}.so.{major}"
                subprocess.run([cc, "-shared", "-fPIC", f"-DVERSION={major}0000", f"-Wl,-soname,{so}", str(src),
                                "-o", str(Path(libs) / so)], check=True)
        for location in locations:
            env = {**os.environ, "LD_LIBRARY_PATH": libs,
                   "PYTHONPATH": os.pathsep.join(p for p in (location, str(ROOT), os.environ.get("PYTHONPATH")) if p)}
            proc = subprocess.run([sys.executable, "-c", _ENGINES, str(tiny_bundles("llama"))], capture_output=True,
                                  text=True, env=env, timeout=300)
            assert proc.returncode == 2, (location, proc.stdout, proc.stderr)
            assert proc.stderr.startswith("error: no NVIDIA driver on this machine"), (location, proc.stderr)
            assert "Traceback" not in proc.stderr


def test_engines_rejects_an_unknown_backend(tiny_bundles):
    res = CliRunner().invoke(cli, ["engines", str(tiny_bundles("llama")), "--backend", "onnxruntime"])
    assert res.exit_code == 2 and "onnxruntime" in res.output  # click: not one of 'tensorrt'
    with pytest.raises(BuildError, match="onnxruntime needs none"):
        build_device_engines(tiny_bundles("llama"), backend="onnxruntime")


def test_runtime_asked_for_tensorrt_on_a_bundle_without_plans(tiny_bundles):
    from dspark_compile.runtime.api import Runtime

    with pytest.raises(BundleError, match="no tensorrt engines; build them on this machine with: dspark-compile engines"):
        Runtime.load(tiny_bundles("llama"), backend="tensorrt")


INFO = {"tensorrt_version": "10.3.0", "gpu": "Orin", "compute_capability": "8.7",
        "flags": {"hardware_compatibility": "none", "version_compatible": False}}


def test_plan_for_this_version_and_gpu_runs():
    assert plan_mismatch(INFO, "10.3.0", (8, 7)) is None
    assert plan_mismatch(INFO, "10.3.0.26", (8, 7)) is None  # build number beyond major.minor.patch


def test_plan_for_another_version_or_sm_is_refused_with_both_named():
    why = plan_mismatch(INFO, "11.4.0", (9, 0))
    assert "TensorRT 10.3.0, this machine has TensorRT 11.4.0" in why
    assert "compute capability 8.7 (Orin), this GPU is sm_90" in why
    assert plan_mismatch(INFO, "10.4.0", (8, 7)) == "TensorRT 10.3.0, this machine has TensorRT 10.4.0"


def test_compatibility_flags_widen_what_runs():
    portable = {**INFO, "compute_capability": "8.0",
                "flags": {"hardware_compatibility": "ampere_plus", "version_compatible": True}}
    assert plan_mismatch(portable, "10.8.0", (9, 0)) is None  # later 10.x, any sm_80+
    assert "version-compatible" in plan_mismatch(portable, "10.2.0", (9, 0))  # older runtime
    assert "version-compatible" in plan_mismatch(portable, "11.0.0", (9, 0))  # other major
    assert "this GPU is sm_75" in plan_mismatch(portable, "10.3.0", (7, 5))


def test_a_bundle_with_plans_runs_them_by_default_and_names_the_way_out(tiny_bundles, tmp_path):
    """Plans listed in the manifest (as `engines` lists them) make TensorRT the default backend; where TensorRT
    cannot load them the error says so and how to run the ONNX graphs instead, which still works."""
    import shutil

    from dspark_compile.bundle import sha256_file, write_manifest
    from dspark_compile.errors import EngineError
    from dspark_compile.runtime.api import Runtime

    copy = tmp_path / "b"
    shutil.copytree(tiny_bundles("llama"), copy)
    manifest = load_bundle(copy).manifest
    for role in ("verify", "drafter"):
        plan = copy / f"{role}.plan"
        plan.write_bytes(b"not a real plan")
        (copy / f"{role}.plan.json").write_text(json.dumps({**INFO, "profiles": []}))
        for f in (plan.name, plan.name + ".json"):
            manifest["files"][f] = {"sha256": sha256_file(copy / f), "size": (copy / f).stat().st_size}
        manifest["engines"][f"{role}_tensorrt"] = {**manifest["engines"][role], "backend": "tensorrt",
                                                   "files": [plan.name, plan.name + ".json"]}
    write_manifest(copy, manifest)
    with pytest.raises(EngineError, match=r"tensorrt.*\(the bundle's ONNX graphs run anywhere: --backend onnxruntime\)"):
        Runtime.load(copy)
    assert Runtime.load(copy, backend="onnxruntime").generate(["hi"], max_new_tokens=2)[0].tokens
