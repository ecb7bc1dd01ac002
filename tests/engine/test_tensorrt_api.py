"""Every `tensorrt` attribute, enum member and method the TensorRT backend uses exists in the installed
bindings (11.x, and 10.x where present), checked without TensorRT's native libraries.

What "the backend uses" is read from its source, so new uses are checked automatically: chains rooted at
`trt` (`trt.BuilderFlag.VERSION_COMPATIBLE`), and attributes of variables named after TensorRT objects
(`config.set_flag`, `self._context.execute_async_v3`; names in dspark_compile.trt.TRT_OBJECT_NAMES).
`getattr(trt.X, "NAME", None)` marks a version-dependent name: it must exist in at least one version.

The bindings import only once libnvinfer.so.N & co. resolve, so the test compiles stub libraries that
define the entry points the module links against (shared/reference/tensorrt.md §0) and imports it in a
subprocess with LD_LIBRARY_PATH set. It installs nothing: CI runs
`pip install tensorrt-cu13-bindings==11.4.0.106`; a 10.x wheel installed with `pip install --target DIR`
is checked too when DIR is listed in DSPARK_TRT_BINDINGS (os.pathsep-separated).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dspark_compile.trt import TRT_OBJECT_NAMES

ROOT = Path(__file__).resolve().parents[2]
BACKEND = sorted((ROOT / "dspark_compile" / "trt").glob("*.py")) + [ROOT / "dspark_compile" / "engine" / "tensorrt.py"]

_STUBS = {
    "nvinfer": """void* createInferBuilder_INTERNAL(void* l, int v) { return 0; }
void* createInferRefitter_INTERNAL(void* e, void* l, int v) { return 0; }
void* createInferRuntime_INTERNAL(void* l, int v) { return 0; }
void* getBuilderPluginRegistry(int t) { return 0; }
void* getPluginRegistry(void) { return 0; }
int getInferLibVersion(void) { return VERSION; }""",
    "nvonnxparser": """void* createNvOnnxParser_INTERNAL(void* n, void* l, int v) { return 0; }
void* createNvOnnxParserRefitter_INTERNAL(void* r, void* l, int v) { return 0; }
int getNvOnnxParserVersion(void) { return VERSION; }""",
    "nvinfer_plugin": "int initLibNvInferPlugins(void* l, const char* ns) { return 0; }",
}


def _chain(node: ast.AST) -> list[str] | None:
    """['trt', 'BuilderFlag', 'FP16'] for trt.BuilderFlag.FP16; None if the chain is not rooted at a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def backend_uses() -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """(required, optional) attribute paths relative to the tensorrt module, e.g. ('IBuilderConfig', 'set_flag')."""
    required, optional = set(), set()
    for path in BACKEND:
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                base = _chain(node.args[0])
                if base and base[0] == "trt":
                    optional.add((*base[1:], node.args[1].value))
            if not isinstance(node, ast.Attribute) or isinstance(parents.get(node), ast.Attribute):
                continue  # only whole chains
            chain = _chain(node)
            if chain and chain[0] == "trt":
                required.add(tuple(chain[1:]))
                continue
            # obj.method / self._obj.method where obj is named after a TensorRT class
            attrs = []
            n = node
            while isinstance(n, ast.Attribute):
                attrs.append(n.attr)
                n = n.value
            attrs.reverse()  # e.g. ['_context', 'set_input_shape'] for self._context.set_input_shape
            names = ([n.id] if isinstance(n, ast.Name) else []) + attrs
            for i in range(len(names) - 1):
                cls = TRT_OBJECT_NAMES.get(names[i].lstrip("_"))
                if cls and (i == 0 or names[0] == "self"):
                    required.add((cls, names[i + 1]))
                    break
    return required, optional


def test_scan_finds_what_the_backend_is_known_to_use():
    required, optional = backend_uses()
    for use in [("BuilderFlag", "VERSION_COMPATIBLE"), ("HardwareCompatibilityLevel", "AMPERE_PLUS"),
                ("IBuilderConfig", "plugins_to_serialize"), ("Runtime", "engine_host_code_allowed"),
                ("IExecutionContext", "execute_async_v3"), ("IExecutionContext", "set_tensor_address"),
                ("IPluginRegistry", "load_library"), ("OnnxParser", "parse_from_file")]:
        assert use in required, use
    assert ("OnnxParserFlag", "ENABLE_PLUGIN_OVERRIDE") in optional


def _binding_locations() -> list[str]:
    """'' for the current environment when it has the bindings, then the DSPARK_TRT_BINDINGS folders."""
    found = [""] if (importlib.util.find_spec("tensorrt_bindings") or importlib.util.find_spec("tensorrt")) else []
    return found + [p for p in os.environ.get("DSPARK_TRT_BINDINGS", "").split(os.pathsep) if p]


@pytest.fixture(scope="module")
def stub_libs(tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the TensorRT stub libraries")
    out = tmp_path_factory.mktemp("trt_stubs")
    for major in (10, 11):
        for lib, body in _STUBS.items():
            src = out / f"{lib}.c"
            src.write_text(body)
            so = f"lib{lib}.so.{major}"
            subprocess.run([cc, "-shared", "-fPIC", f"-DVERSION={major}0000", f"-Wl,-soname,{so}", str(src), "-o",
                            str(out / so)], check=True)
    return out


_PROBE = r"""
import json, sys
try:
    import tensorrt as trt
except ImportError:
    import tensorrt_bindings as trt
uses = json.loads(sys.argv[1])
missing = []
for path in uses:
    obj = trt
    for part in path:
        if not hasattr(obj, part):
            missing.append(".".join(path)); break
        obj = getattr(obj, part)
print(json.dumps({"version": trt.__version__, "missing": missing}))
"""


def _probe(location: str, libs: Path, uses) -> dict:
    env = {**os.environ, "LD_LIBRARY_PATH": f"{libs}{os.pathsep}{os.environ.get('LD_LIBRARY_PATH', '')}"}
    if location:
        env["PYTHONPATH"] = location + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(sorted(uses))], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"importing tensorrt from {location or 'this environment'} failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("location", _binding_locations() or [pytest.param(None, marks=pytest.mark.skip(
    reason="tensorrt bindings not installed: pip install tensorrt-cu13-bindings==11.4.0.106"))])
def test_backend_uses_exist_in_installed_tensorrt(location, stub_libs):
    required, optional = backend_uses()
    got = _probe(location, stub_libs, required | optional)
    missing_required = sorted(set(got["missing"]) & {".".join(u) for u in required})
    assert not missing_required, f"TensorRT {got['version']} lacks what the backend uses: {missing_required}"


def test_optional_names_exist_in_some_installed_version(stub_libs):
    locations = _binding_locations()
    if not locations:
        pytest.skip("tensorrt bindings not installed: pip install tensorrt-cu13-bindings==11.4.0.106")
    _, optional = backend_uses()
    still_missing = {".".join(u) for u in optional}
    for loc in locations:
        still_missing &= set(_probe(loc, stub_libs, optional)["missing"])
    assert not still_missing, f"version-dependent names exist in no installed TensorRT: {sorted(still_missing)}"
