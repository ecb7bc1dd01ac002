"""Prepare an ONNX graph for TensorRT's parser: DSpark ops become plugin nodes.

The exported graphs carry each DSpark op as a node of domain `dspark` plus an ONNX function (its
reference body, for ONNX Runtime). TensorRT parsers up to 10.6 inline a local function before trying
plugins, and 10.3 (Jetson) never looks at the domain, so the function bodies are removed and every
DSpark node is tagged with `plugin_namespace` / `plugin_version`: the parser then asks the plugin
registry for (op_type, version, namespace), on every version from 10.3 to 11.x.
"""

from __future__ import annotations

from collections import Counter

from onnx import ModelProto, helper

from dspark_compile.errors import BuildError
from dspark_compile.export.nodes import all_nodes

from dspark_compile.ops.spec import PLUGIN_NAMESPACE  # the creators of libdspark_plugins.so register under it


def to_plugin_graph(model: ModelProto) -> tuple[ModelProto, Counter]:
    """A copy of `model` with DSpark function bodies removed and DSpark nodes tagged for the plugins.

    Returns the copy and how many nodes of each op were rewritten. Unknown ops of the domain are a
    BuildError naming them and the ops the plugin library provides.
    """
    from dspark_compile.ops.spec import DOMAIN, OPS

    out = ModelProto()
    out.CopyFrom(model)
    fired: Counter = Counter()
    for node in all_nodes(out.graph):  # subgraphs of If/Loop/Scan too
        if node.domain != DOMAIN:
            continue
        if node.op_type not in OPS:
            raise BuildError(f"node '{node.name}': op {DOMAIN}::{node.op_type} has no TensorRT plugin "
                             f"(libdspark_plugins.so provides {', '.join(OPS)})")
        kept = [a for a in node.attribute if a.name not in ("plugin_namespace", "plugin_version")]
        del node.attribute[:]
        node.attribute.extend(kept + [helper.make_attribute("plugin_namespace", PLUGIN_NAMESPACE),
                                      helper.make_attribute("plugin_version", str(OPS[node.op_type].version))])
        fired[node.op_type] += 1
    kept_functions = [f for f in out.functions if f.domain != DOMAIN]
    del out.functions[:]
    out.functions.extend(kept_functions)
    return out, fired
