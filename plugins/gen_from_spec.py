"""Write the plugin files that restate dspark_compile/ops/spec.py: the C++ op table and the plugin YAMLs.

    python plugins/gen_from_spec.py          # rewrite the files
    python plugins/gen_from_spec.py --check  # exit 1 if any file differs from what the spec gives

spec.py is the one definition; tests/plugins/test_plugin_spec.py fails when these files drift from it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from dspark_compile.ops.spec import OPS, PAD_TOKEN, PLUGIN_NAMESPACE, AttrType, OpSpec, ScheduleMode

ROOT = Path(__file__).resolve().parent
HEADER = ROOT / "common" / "dsparkOpSpec.h"
FOLDERS = {"DraftSample": "draftSamplePlugin", "Schedule": "schedulePlugin", "Verify": "verifyPlugin"}

_FIELD = {AttrType.INT: "int32", AttrType.FLOAT: "float32", AttrType.INTS: "int32[]", AttrType.FLOATS: "float32[]"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def plugin_yaml(spec: OpSpec) -> str:
    """The `*_PluginConfig.yaml` text for one op (TensorRT plugin-folder convention)."""
    def tensors(ts):
        return [{"name": t.name, "shape": list(t.shape), "dtypes": list(t.dtypes)} for t in ts]

    attrs = {a.name: {"type": _FIELD[a.type], "default": a.default, "min": a.min, "max": a.max,
                      **({"choices": list(a.choices)} if a.choices is not None else {})} for a in spec.attributes}
    doc = {"name": spec.name, "interface": "IPluginV3", "domain": spec.domain, "plugin_namespace": PLUGIN_NAMESPACE,
           "versions": {str(spec.version): {"inputs": tensors(spec.inputs), "outputs": tensors(spec.outputs),
                                             "attributes": attrs,
                                             "constraints": [c.doc for c in spec.constraints]}}}
    head = (f"# {spec.name} plugin: generated from dspark_compile/ops/spec.py by plugins/gen_from_spec.py;\n"
            "# tests/plugins/test_plugin_spec.py checks it against the spec.\n")
    return head + yaml.safe_dump(doc, sort_keys=False, width=110)


def _num(v) -> str:
    return repr(float(v)) if v is not None else "0.0"


_DTYPE_BITS = {"float32": "kF32", "float16": "kF16", "int32": "kI32"}


def _mask(t) -> str:
    return " | ".join(_DTYPE_BITS[d] for d in t.dtypes)


def _camel(name: str) -> str:
    return name.title().replace("_", "")


def header() -> str:
    """dsparkOpSpec.h: the plugin namespace, the pad token, Schedule's modes, and per op its name, version, I/O
    indices, dtypes and attribute ranges, gathered in `Op`, the constants a plugin class inherits."""
    out = ["/* Generated from dspark_compile/ops/spec.py by plugins/gen_from_spec.py: do not edit. */",
           "#pragma once", "", "#include <stdint.h>", "", "namespace dspark", "{", "namespace spec", "{", "",
           f'constexpr char const* kPluginNamespace = "{PLUGIN_NAMESPACE}";',
           "constexpr uint32_t kF32 = 1u, kF16 = 2u, kI32 = 4u;",
           f"constexpr int32_t kPadToken = {PAD_TOKEN}; /* Verify.out_tokens after the correction/bonus token */", "",
           "/* Schedule.mode */", "enum ScheduleMode : int32_t", "{"]
    assert [int(m) for m in ScheduleMode] == list(range(len(ScheduleMode))), "Schedule modes are 0 .. n-1"
    out += [f"    kSchedule{_camel(m.name)} = {int(m)}," for m in ScheduleMode] + ["};"]
    out += [f"constexpr int32_t kNbScheduleModes = {len(ScheduleMode)}; /* valid modes: 0 .. kNbScheduleModes - 1 */", ""]
    out += ["struct AttrDef", "{", "    char const* name;", "    bool isInt;", "    double min, max, def;", "};", ""]
    for spec in OPS.values():
        sn = _snake(spec.name)
        out += [f"namespace {sn}", "{", "enum In : int32_t", "{"]
        out += [f"    in_{t.name} = {i}," for i, t in enumerate(spec.inputs)] + ["};", "enum Out : int32_t", "{"]
        out += [f"    out_{t.name} = {i}," for i, t in enumerate(spec.outputs)] + ["};"]
        if spec.attributes:
            out += ["enum Attr : int32_t", "{"]
            out += [f"    attr_{a.name} = {i}," for i, a in enumerate(spec.attributes)] + ["};"]
        out += ["/* what the plugin class of this op inherits (PluginBase and PluginCreator read it) */",
                "struct Op", "{", f'    static constexpr char const* kName = "{spec.name}";',
                f'    static constexpr char const* kVersion = "{spec.version}";',
                f"    static constexpr int32_t kNbInputs = {len(spec.inputs)};",
                f"    static constexpr int32_t kNbOutputs = {len(spec.outputs)};",
                "    /* allowed dtypes per tensor: bit mask of kF32, kF16, kI32 */",
                f"    static constexpr uint32_t kInDtypes[] = {{{', '.join(_mask(t) for t in spec.inputs)}}};",
                f"    static constexpr uint32_t kOutDtypes[] = {{{', '.join(_mask(t) for t in spec.outputs)}}};",
                f"    static constexpr int32_t kNbAttrs = {len(spec.attributes)};"]
        if spec.attributes:
            out += ["    static constexpr AttrDef kAttrs[] = {"]
            out += [f'        {{"{a.name}", {"true" if a.type is AttrType.INT else "false"}, {_num(a.min)}, '
                    f"{_num(a.max)}, {_num(a.default)}}}," for a in spec.attributes] + ["    };"]
        else:
            out += ["    static constexpr AttrDef const* kAttrs = nullptr;"]
        out += ["};", f"}} // namespace {sn}", ""]
    out += ["} // namespace spec", "} // namespace dspark", ""]
    return "\n".join(out)


def outputs() -> dict[Path, str]:
    files = {HEADER: header()}
    for name, spec in OPS.items():
        files[ROOT / FOLDERS[name] / f"{FOLDERS[name]}_PluginConfig.yaml"] = plugin_yaml(spec)
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report stale files instead of writing them")
    args = ap.parse_args(argv)
    stale = [p for p, text in outputs().items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(ROOT.parent)} (run python plugins/gen_from_spec.py)")
        return 1 if stale else 0
    for p, text in outputs().items():
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
