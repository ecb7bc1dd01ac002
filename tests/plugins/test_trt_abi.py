"""libdspark_plugins.so against real TensorRT: NVIDIA's headers and NVIDIA's lean runtime binaries.

The library is built by CMake (as .ci/cuda.sh and a user on a device build it) against the real 10.3 and
11.1 headers (../shared/vendor/tensorrt beside the clone), then loaded into the real plugin registry of
the lean runtime wheels `make` installs (.trt/lean-11.4, .trt/lean-10.16; no GPU needed for the registry):
through the Python bindings, and through trt_abi_driver.cpp, a small C++ program linked against the real
libnvinfer_lean that calls what the bindings cannot reach on a C++ plugin. Everything is compared with
ops/spec.py. A library that exports nothing, or whose vtables are shifted against TensorRT's, fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dspark_compile.config import load_recipe
from dspark_compile.ops.spec import OPS, AttrType
from dspark_compile.runtime.scheduler import schedule_attrs

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
VENDOR = Path(os.environ.get("DSPARK_TRT_VENDOR", ROOT.parent / "shared" / "vendor" / "tensorrt"))
# runtime wheel folder -> (headers the library is built against, TensorRT major)
RUNTIMES = {"11.4": ("11.1", 11), "10.16": ("10.3", 10)}
ENTRY_POINTS = {"getCreators", "setLoggerFinder"}
DTYPE_BITS = {"float32": 1, "float16": 2, "int32": 4}
TRT_DATATYPE = {"float32": 0, "float16": 1, "int32": 3}  # nvinfer1::DataType
FIELD_TYPE = {AttrType.INT: 5, AttrType.FLOAT: 1}  # nvinfer1::PluginFieldType kINT32 / kFLOAT32
RECIPE = ROOT / "recipes" / "smollm2-135m.yaml"


def _recipe_fields() -> dict[str, dict[str, tuple[str, float]]]:
    """The attributes each op gets from the default recipe (spec defaults where the recipe sets none)."""
    recipe = load_recipe(RECIPE)
    given = {"Schedule": schedule_attrs(recipe.speculation.scheduler)}
    out = {}
    for name, spec in OPS.items():
        attrs = spec.resolve_attrs(given.get(name, {}))
        out[name] = {a.name: ("i" if a.type is AttrType.INT else "f", attrs[a.name]) for a in spec.attributes}
    return out


def _cmake_build(headers: str) -> Path:
    """plugins/build/ci-trt<headers>/libdspark_plugins.so.<major> (what .ci/cuda.sh built; else built now)."""
    root = VENDOR / headers
    if not (root / "include" / "NvInferRuntime.h").is_file():
        pytest.skip(f"NVIDIA's TensorRT {headers} headers are not at {root}/include (../shared beside the clone)")
    nvcc = os.environ.get("NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if shutil.which("cmake") is None or not Path(nvcc).is_file():
        pytest.skip("cmake or nvcc missing: the plugin library cannot be built")
    build = PLUGINS / "build" / f"ci-trt{headers}"
    cfg = subprocess.run(["cmake", "-S", str(PLUGINS), "-B", str(build), f"-DTENSORRT_ROOT={root}",
                          f"-DCMAKE_CUDA_COMPILER={nvcc}", "-DCMAKE_CUDA_ARCHITECTURES=90-virtual"],
                         capture_output=True, text=True)  # (re)configured: these headers, whatever built it before
    assert cfg.returncode == 0, cfg.stdout[-3000:] + cfg.stderr[-3000:]
    assert f"TensorRT headers: {root / 'include'}" in cfg.stdout, cfg.stdout[-3000:]
    proc = subprocess.run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    libs = sorted(build.glob("libdspark_plugins.so.*"))
    assert len(libs) == 1, f"{build}: expected one libdspark_plugins.so.<major>, found {libs}"
    return libs[0]


@pytest.fixture(scope="module", params=sorted(RUNTIMES), ids=lambda v: f"trt{v}")
def runtime(request):
    """(lean wheel folder, major, our library built against that major's headers, CUDA include dir)."""
    headers, major = RUNTIMES[request.param]
    lib = _cmake_build(headers)
    assert lib.name == f"libdspark_plugins.so.{major}"
    folder = ROOT / ".trt" / f"lean-{request.param}"
    if not (folder / "tensorrt_lean_libs" / f"libnvinfer_lean.so.{major}").is_file():
        pytest.skip(f"TensorRT {request.param} lean runtime not installed at {folder} (make setup installs it)")
    # nvcc's own report of its include folder, as CMake recorded it (works when nvcc is a wrapper script)
    compiler = next(lib.parent.glob("CMakeFiles/*/CMakeCUDACompiler.cmake")).read_text()
    cuda_inc = re.search(r'set\(CMAKE_CUDA_TOOLKIT_INCLUDE_DIRECTORIES "([^"]*)"\)', compiler).group(1).split(";")
    return folder, major, lib, VENDOR / headers / "include", cuda_inc


def test_library_exports_exactly_the_entry_points(runtime):
    _, _, lib, _, _ = runtime
    nm = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True)
    exported = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
    assert exported == ENTRY_POINTS, f"{lib.name} exports {sorted(exported)}"
    needed = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "libnvinfer" not in needed, "the plugin library must not link libnvinfer (version-compatible plans)"


def test_python_bindings_list_and_create_every_creator(runtime):
    folder, major, lib, _, _ = runtime
    fields = _recipe_fields()
    request = {op: {"version": str(s.version), "fields": fields[op]} for op, s in OPS.items()}
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("trt_lean_probe.py")), str(folder),
                           str(major), str(lib), json.dumps(request)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["loaded"], f"the real registry did not load {lib}"
    assert {c["name"]: (c["version"], c["interface"], c["fields"]) for c in got["creators"]} == {
        op: (str(s.version), "PLUGIN CREATOR_V3ONE", [[a.name, FIELD_TYPE[a.type]] for a in s.attributes])
        for op, s in OPS.items()}
    for op, s in OPS.items():
        assert got["ops"][op] == {"core": [op, str(s.version), "dspark"], "nb_outputs": len(s.outputs)}, op


@pytest.fixture(scope="module")
def driver(runtime, tmp_path_factory):
    folder, major, _, include, cuda_inc = runtime
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ not found")
    exe = tmp_path_factory.mktemp("driver") / f"trt_abi_driver_{major}"
    lean = folder / "tensorrt_lean_libs" / f"libnvinfer_lean.so.{major}"
    cmd = [cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-isystem", str(include),
           *(f"-isystem{d}" for d in cuda_inc), str(Path(__file__).with_name("trt_abi_driver.cpp")), "-o", str(exe),
           str(lean), f"-Wl,-rpath,{lean.parent}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-4000:]}"
    return exe


def _expected_formats(spec) -> list[list[bool]]:
    """supportsFormatCombination per position for FLOAT, HALF, INT32 in LINEAR, then FLOAT in CHW4."""
    tensors = list(spec.inputs) + list(spec.outputs)
    return [[dt in t.dtypes for dt in ("float32", "float16", "int32")] + [False] for t in tensors]


@pytest.mark.parametrize("op", sorted(OPS))
def test_real_runtime_drives_each_plugin_through_its_vtables(runtime, driver, op):
    _, _, lib, _, _ = runtime
    spec, fields = OPS[op], _recipe_fields()[op]
    lines = [f"lib {lib}", f"op {op} {spec.version} dspark"]
    lines += [f"field {n} {k} {v!r}" for n, (k, v) in fields.items()]
    lines += [f"input {','.join(t.shape)} {sum(DTYPE_BITS[d] for d in t.dtypes)}" for t in spec.inputs]
    lines += [f"output {sum(DTYPE_BITS[d] for d in t.dtypes)}" for t in spec.outputs]
    proc = subprocess.run([str(driver)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"driver crashed ({proc.returncode}): {proc.stderr[-3000:]}"
    got = json.loads(proc.stdout)
    assert got["loaded"] and got["created"], got
    ours = {c["name"]: c for c in got["creators"] if c["namespace"] == "dspark"}
    assert set(ours) == set(OPS)
    assert [(f["name"], f["type"]) for f in ours[op]["fields"]] == [(a.name, FIELD_TYPE[a.type])
                                                                     for a in spec.attributes]
    assert got["core"] == [op, str(spec.version), "dspark"]
    assert got["capability_kinds"] == ["PLUGIN_V3ONE_CORE", "PLUGIN_V3ONE_BUILD", "PLUGIN_V3ONE_RUNTIME"]
    assert got["nb_outputs"] == len(spec.outputs)
    assert got["output_types"] == {"rc": 0, "types": [TRT_DATATYPE[t.dtypes[0]] for t in spec.outputs]}
    assert got["formats"] == _expected_formats(spec)
    # DraftSample's q_full is [B, G, Vq] with Vq = 1 for an all-greedy batch, a choice made from values: the
    # plugin's output shapes are symbolic in input shapes only, so it always writes Vd (the one-hots)
    shapes = [["Vd" if d == "Vq" else d for d in t.shape] for t in spec.outputs]
    assert got["output_shapes"] == {"rc": 0, "shapes": shapes}
    want = [{"name": n, "type": FIELD_TYPE[AttrType.INT if k == "i" else AttrType.FLOAT], "length": 1,
             "value": pytest.approx(v)} for n, (k, v) in fields.items()]
    assert got["serialized"] == want
    assert got["clone"] == want, "clone() must carry every attribute"
    assert got["recreated"] == want, "createPlugin(getFieldsToSerialize()) must give the same plugin back"
    assert got["after_deregister"] == 0
