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


def expose_cache_writes(proto, caches) -> tuple[TensorSpec, ...]:
    """For each cache input spec `past_<name>` [B, Hkv, P, D] of `caches`, rename the ScatterND that writes it to
    output `present_<name>` and add that to the graph's outputs; returns their specs (the inputs' shape and dtype)."""
    import onnx

    writers = {n.input[0]: n for n in proto.graph.node if n.op_type == "ScatterND" and n.input}
    specs = []
    for cache in caches:
        node = writers.get(cache.name)
        if node is None:
            raise ExportError(f"no ScatterND writes the cache input {cache.name!r}: the graph does not place new "
                              "keys/values in the cache (models.base.write_rows)")
        old, new = node.output[0], io.present(cache.name.removeprefix(io.PAST))
        for other in proto.graph.node:
            for i, x in enumerate(other.input):
                if x == old:
                    other.input[i] = new
        node.output[0] = new
        elem = onnx.TensorProto.FLOAT16 if cache.dtype == "float16" else onnx.TensorProto.FLOAT
        proto.graph.output.append(onnx.helper.make_tensor_value_info(new, elem, list(cache.shape)))
        specs.append(TensorSpec(new, cache.shape, cache.dtype))
    return tuple(specs)


def without_cache_writes(proto) -> bool:
    """Drop the `present_*` outputs (for backends that cannot write in place); whether there were any."""
    keep = [o for o in proto.graph.output if not o.name.startswith(io.PRESENT)]
    if len(keep) == len(proto.graph.output):
        return False
    del proto.graph.output[:]
    proto.graph.output.extend(keep)
    return True
