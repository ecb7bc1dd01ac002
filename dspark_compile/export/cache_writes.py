"""The target graph's cache writes as outputs: `present_<kv>`, the cache input with the step's new rows written.

Attention reads each cache with the new keys/values placed at their own rows (`models.base.write_rows`, one
ScatterND per cache tensor), so every step copies every [B, Hkv, P, D] cache tensor inside the graph: 4.4 MB
per SmolLM2-135M step at 84 cached positions and one row, 94 MB at 2,048. Naming that ScatterND's output a
graph output lets a backend bind it to the cache input's own memory; ONNX Runtime's ScatterND skips its copy
when its input and output are the same buffer, so the step writes only the new rows, in place, and there is
nothing left to commit but the lengths (`runtime.kvcache.KVCache.commit`). The values are the same either way.

TensorRT builds the graph without these outputs (`quantize.qdq.tensorrt_graph`): it would allocate and return
the whole caches every step.
"""

from __future__ import annotations

from dspark_compile import graph_io as io
from dspark_compile.engine.base import TensorSpec
from dspark_compile.errors import ExportError


def expose_cache_writes(proto, kv: list[tuple[str, tuple[int, int]]], dtype: str) -> tuple[TensorSpec, ...]:
    """Rename the ScatterND that writes cache input `past_<name>` to output `present_<name>` and add it to the
    graph's outputs, for each (name, (Hkv, D)) of `kv`; returns their specs [B, Hkv, P, D]."""
    import onnx

    writers = {n.input[0]: n for n in proto.graph.node if n.op_type == "ScatterND" and n.input}
    specs = []
    for name, (hkv, d) in kv:
        node = writers.get(io.past(name))
        if node is None:
            raise ExportError(f"no ScatterND writes the cache input {io.past(name)!r}: the graph does not place new "
                              "keys/values in the cache (models.base.write_rows)")
        old, new = node.output[0], io.present(name)
        for other in proto.graph.node:
            for i, x in enumerate(other.input):
                if x == old:
                    other.input[i] = new
        node.output[0] = new
        elem = onnx.TensorProto.FLOAT16 if dtype == "float16" else onnx.TensorProto.FLOAT
        proto.graph.output.append(onnx.helper.make_tensor_value_info(new, elem, ["B", hkv, "P", d]))
        specs.append(TensorSpec(new, ("B", hkv, "P", d), dtype))
    return tuple(specs)


def without_cache_writes(proto) -> bool:
    """Drop the `present_*` outputs (for backends that cannot write in place); whether there were any."""
    keep = [o for o in proto.graph.output if not o.name.startswith(io.PRESENT)]
    if len(keep) == len(proto.graph.output):
        return False
    del proto.graph.output[:]
    proto.graph.output.extend(keep)
    return True
