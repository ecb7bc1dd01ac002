"""plugins/ restates ops/spec.py (the one definition): the YAMLs, the C++ op table, the creators' fields.

Also, behind `slow`, the CUDA gate .ci/cuda.sh passes. The plugin C++ against NVIDIA's real headers and
runtimes: test_trt_abi.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dspark_compile.ops.spec import OPS, AttrType

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
sys.path.insert(0, str(PLUGINS))
import gen_from_spec  # noqa: E402  (plugins/ is not a package: the generator is a script)

YAML_TYPES = {AttrType.INT: "int32", AttrType.FLOAT: "float32"}


def _yaml(op: str) -> dict:
    folder = gen_from_spec.FOLDERS[op]
    return yaml.safe_load((PLUGINS / folder / f"{folder}_PluginConfig.yaml").read_text())


def test_every_op_has_a_plugin_folder_with_the_anatomy():
    assert set(gen_from_spec.FOLDERS) == set(OPS)
    for op, folder in gen_from_spec.FOLDERS.items():
        d = PLUGINS / folder
        stem = folder.removesuffix("Plugin")
        for name in (f"{folder}.h", f"{folder}.cpp", f"{stem}Kernels.cu", f"{stem}Kernels.h", "README.md",
                     f"{folder}_PluginConfig.yaml"):
            assert (d / name).is_file(), f"{op}: plugins/{folder}/{name} is missing"
        readme = (d / "README.md").read_text()
        for section in ("## Description", "## Parameters", "## Known limits", "bytes"):
            assert section in readme, f"plugins/{folder}/README.md lacks '{section}'"


@pytest.mark.parametrize("op", sorted(OPS))
def test_plugin_yaml_matches_spec(op):
    spec, doc = OPS[op], _yaml(op)
    assert (doc["name"], doc["domain"], doc["interface"]) == (spec.name, spec.domain, "IPluginV3")
    assert list(doc["versions"]) == [str(spec.version)]
    v = doc["versions"][str(spec.version)]
    for kind, tensors in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        got = [(t["name"], tuple(t["shape"]), tuple(t["dtypes"])) for t in v[kind]]
        assert got == [(t.name, t.shape, t.dtypes) for t in tensors], f"{op} {kind}"
    assert list(v["attributes"]) == [a.name for a in spec.attributes]
    for a in spec.attributes:
        y = v["attributes"][a.name]
        assert y["type"] == YAML_TYPES[a.type], f"{op}.{a.name}: TensorRT receives {YAML_TYPES[a.type]}"
        assert (y["default"], y["min"], y["max"]) == (a.default, a.min, a.max), f"{op}.{a.name}"
        assert y.get("choices") == (list(a.choices) if a.choices is not None else None)
    assert v["constraints"] == [c.doc for c in spec.constraints]


def test_generated_files_are_current():
    stale = [str(p.relative_to(ROOT)) for p, text in gen_from_spec.outputs().items()
             if not p.is_file() or p.read_text() != text]
    assert not stale, f"out of date with ops/spec.py: {stale}; run python plugins/gen_from_spec.py"


def test_cpp_op_table_matches_spec():
    header = (PLUGINS / "common" / "dsparkOpSpec.h").read_text()
    for spec in OPS.values():
        ns = gen_from_spec._snake(spec.name)
        block = header.split(f"namespace {ns}\n{{", 1)[1].split(f"}} // namespace {ns}", 1)[0]
        assert f'kName = "{spec.name}"' in block and f'kVersion = "{spec.version}"' in block
        assert re.findall(r"^    in_(\w+) = \d+,", block, re.M) == list(spec.input_names)
        assert re.findall(r"^    out_(\w+) = \d+,", block, re.M) == list(spec.output_names)
        rows = re.findall(r'\{"(\w+)", (true|false), ([-\d.e+]+), ([-\d.e+]+), ([-\d.e+]+)\}', block)
        want = [(a.name, "true" if a.type is AttrType.INT else "false", float(a.min), float(a.max), float(a.default))
                for a in spec.attributes]
        assert [(n, t, float(lo), float(hi), float(d)) for n, t, lo, hi, d in rows] == want


def test_no_op_name_literals_in_plugin_cpp():
    """Op names and attribute names reach C++ only through the generated table."""
    names = list(OPS) + [a.name for s in OPS.values() for a in s.attributes]
    for src in list(PLUGINS.rglob("*.cpp")) + list(PLUGINS.rglob("*Plugin.h")):
        text = src.read_text()
        for name in names:
            assert f'"{name}"' not in text, f"{src.relative_to(ROOT)} spells the literal \"{name}\""


@pytest.mark.toolchain
def test_cuda_gate_compiles_every_kernel_for_three_archs():
    if shutil.which("nvcc") is None and not Path("/usr/local/cuda/bin/nvcc").is_file():
        pytest.skip("nvcc not found: install the CUDA toolkit to compile the kernels")
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "cuda.sh")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "all CUDA kernels compiled" in proc.stdout
