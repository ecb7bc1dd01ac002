"""Run in a subprocess by test_trt_abi.py: NVIDIA's lean runtime (Python bindings) loads our plugin library.

    python trt_lean_probe.py <lean wheel folder> <major> <libdspark_plugins.so.N> <request json>

The request maps op name -> {"version", "fields": {name: [kind "i"|"f", value]}}. Prints one JSON object:
each creator the registry lists in namespace `dspark` (name, version, field names and types), and per op
what create_plugin from a PluginFieldCollection, its core and build capabilities report.
(The bindings cannot call clone, getFieldsToSerialize or the build-phase queries of a C++ plugin: those are
reached through trt_abi_driver.cpp.) A subprocess per runtime: both wheels use the module names tensorrt_lean_*.
"""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path


def main(folder: str, major: str, lib: str, request: str) -> None:
    sys.path.insert(0, folder)
    ctypes.CDLL(str(Path(folder) / "tensorrt_lean_libs" / f"libnvinfer_lean.so.{major}"), mode=ctypes.RTLD_GLOBAL)
    import numpy as np
    from tensorrt_lean_bindings import tensorrt_lean as trt

    registry = trt.get_plugin_registry()
    out = {"loaded": registry.load_library(lib) is not None}
    out["creators"] = [{"name": c.name, "version": c.plugin_version, "interface": c.interface_info.kind,
                        "fields": [[f.name, int(f.type)] for f in c.field_names]}
                       for c in registry.all_creators if c.plugin_namespace == "dspark"]
    types = {"i": (np.int32, trt.PluginFieldType.INT32), "f": (np.float32, trt.PluginFieldType.FLOAT32)}
    out["ops"] = {}
    for op, want in json.loads(request).items():
        creator = registry.get_creator(op, want["version"], "dspark")
        fc = trt.PluginFieldCollection([trt.PluginField(n, np.array([v], types[k][0]), types[k][1])
                                        for n, (k, v) in want["fields"].items()])
        plugin = creator.create_plugin("probe", fc, trt.TensorRTPhase.BUILD)
        core = plugin.get_capability_interface(trt.PluginCapabilityType.CORE)
        build = plugin.get_capability_interface(trt.PluginCapabilityType.BUILD)
        out["ops"][op] = {
            "core": [core.plugin_name, core.plugin_version, core.plugin_namespace],
            "nb_outputs": build.num_outputs,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:5])
