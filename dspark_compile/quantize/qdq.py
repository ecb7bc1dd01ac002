"""MatMulNBits -> DequantizeLinear + MatMul: the standard-ONNX twin of a quantized graph (issue 20).

`com.microsoft::MatMulNBits` runs on ONNX Runtime only; TensorRT builds blocked weight-only quantization from
`DequantizeLinear` (DQ) -> `MatMul`. `to_qdq` rewrites every MatMulNBits of a graph into that form, reading the
very blocks the node holds (its B, scales and zero_points initializers, `blocks.from_packed`): both graphs come
from one definition, nothing is requantized. One rewrite: pattern (a MatMulNBits node), check (`_why_not`: its
blocks are constant and carriable; a rejected node is a QuantizeError saying why), rewrite (`_rewrite`).

TensorRT's constraints on DQ, and where they are written:
- Zero points none or all zero: "TensorRT only supports symmetric quantization" (onnx-tensorrt
  `onnxOpImporters.cpp`, `QuantDequantLinearHelper`, release/10.1-GA; TensorRT operator reference "Dequantize",
  docs.nvidia.com/deeplearning/tensorrt/operators/docs/Dequantize.html: "The zero_point must only contain
  zero-valued coefficients"). The parser refuses UINT8 data and has no UINT4 type: weights are signed INT4/INT8.
- Scales are build-time constants, every coefficient > 0 (`QuantDequantLinearHelper`: "Scale coefficients
  must all be positive"); block scales have the data's rank with exactly one blocked dimension, the last or the
  second to last (IDequantizeLayer API reference); the parser infers the block size from the shapes.
- INT4 data needs an even last dimension (`QuantDequantLinearHelper`).
- Block quantization is INT4 only in the TensorRT 10.x operator reference ("Dequantize": scale "a 2-D tensor for
  block quantization (supported for DataType::kINT4 only)"; the current reference, docs.nvidia.com/deeplearning/
  tensorrt/latest/_static/operators/Quantize.html, adds INT8, FP8 and FP4 without naming the version), and
  weight-only quantization is INT4 only ("Working with Quantized Types", TensorRT 10.11); NVIDIA's Model
  Optimizer writes 8-bit weights per channel "as no support for int8 block-wise dq node"
  (modelopt/onnx/quantization/qdq_utils.py). So for TensorRT 10.3 (JetPack 6, Jetson Orin) 8-bit blocks are a
  per-tensor INT8 DQ (scale 1) times the block scales (`int8_blocks=False`), which 10.x documents; TensorRT
  has no INT8 weight-only GEMM, so it computes those weights in float either way.
- DQ takes INT4 data and `block_size` from ONNX opset 21 (ONNX operator docs, DequantizeLinear-21), and INT4
  needs IR version 10: the twin's default domain is raised to opset 21 (checked: the op kinds our graphs use
  kept their meaning from 18 to 21, `_CHANGED_SINCE_18` lists the one that did not).

Carrying a block (q in [0, 2^bits), zero point z, scale d, W = d*(q - z)) without a zero point: s = q - c with
c = 2^(bits-1) (always in INT range), scale d, and the rest of the block, d*(c - z), added through the
activations' block sums as a Q4_1 minimum is (`passes.py`): Y += blocksum(A) @ R. Where the MatMulNBits output
already feeds Q4_1 minima (Gemm, or MatMul + Add) R is folded into them, one correction per weight. d < 0:
c = 2^(bits-1) - 1 and s = c - q with scale -d; d = 0: s = 0 with scale 1. Symmetric blocks (z = c, d > 0) need
no rest: DQ -> MatMul alone. ONNX Runtime (1.32 here) fuses DQ (INT4 or INT8, blocks on axis 0) -> MatMul back
into MatMulNBits (`DQMatMulToMatMulNBits`, tests/quantize/test_qdq.py), so with INT4 one graph serves both engines;
the fused node computes at the session's `session.qdq_matmulnbits_accuracy_level` ("If not provided, default is 4",
int8 activations: onnxruntime_session_options_config_keys.h), not at the replaced node's accuracy_level.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dspark_compile.errors import QuantizeError
from dspark_compile.export.nodes import all_nodes, prune
from dspark_compile.export.shapes import ranks as tensor_ranks
from dspark_compile.quantize.blocks import BlockQuant, from_packed
from dspark_compile.quantize.passes import MS_DOMAIN, _base, add_block_offsets

OPSET = 21
"""DequantizeLinear with INT4 data and `block_size`."""
IR_VERSION = 10
"""The ONNX IR that has the INT4 type."""
_CHANGED_SINCE_18 = ("GroupNormalization",)
"""Default-domain ops whose meaning (not just their types) changed between opsets 18 and 21."""


@dataclass(frozen=True)
class SignedBlocks:
    """W [K, N] = scale * s + rest, per block of `block` rows along K: what DQ -> MatMul plus the block sums compute."""

    bits: int
    block: int
    s: np.ndarray  # [K, N] int8 in [-2^(bits-1), 2^(bits-1))
    scale: np.ndarray  # [K/block, N] float32, every one > 0
    rest: np.ndarray  # [K/block, N] float32, added to every weight of its block

    def dequantize(self) -> np.ndarray:
        """W [K, N] float32."""
        return self.s * np.repeat(self.scale, self.block, axis=0) + np.repeat(self.rest, self.block, axis=0)


def signed_blocks(bq: BlockQuant) -> SignedBlocks:
    """`bq` (unsigned q, zero point, scale; Q4_1 offsets included in the rest) as signed blocks (module docstring)."""
    half = 1 << (bq.bits - 1)
    d = bq.scales  # [N, nb]
    z = bq.zero_points.astype(np.int16) if bq.zero_points is not None else np.full(d.shape, half, np.int16)
    c = np.where(d < 0, half - 1, half).astype(np.int16)
    q = bq.q.astype(np.int16)  # [N, nb, blk]
    s = np.where((d < 0)[..., None], c[..., None] - q, q - c[..., None])
    s = np.where((d == 0)[..., None], 0, s).astype(np.int8)
    scale = np.where(d == 0, 1.0, np.abs(d)).astype(np.float32)
    rest = (d * (c - z)).astype(np.float32)
    if bq.offsets is not None:
        rest = rest + bq.offsets
    n = d.shape[0]
    return SignedBlocks(bq.bits, bq.block, np.ascontiguousarray(s.reshape(n, -1).T), np.ascontiguousarray(scale.T),
                        np.ascontiguousarray(rest.T))


def to_qdq(model, int8_blocks: bool = True):
    """A copy of `model` (onnx.ModelProto; its MatMulNBits initializers and Q4_1 minima loaded) with every
    MatMulNBits of its main graph as DequantizeLinear -> MatMul (plus the block-sum rest where zero points need
    one). Returns (new model, how many MatMulNBits were rewritten). `int8_blocks=False`: 8-bit blocks as a
    per-tensor INT8 DQ times the block scales, as TensorRT 10.x documents DQ (module docstring)."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producers = {o: n for n in graph.node for o in n.output}
    nodes, pending, count = [], [], 0
    for node in graph.node:
        if not _is_nbits(node):
            nodes.append(node)
            continue
        why = _why_not(node, inits)
        if why:
            raise QuantizeError(f"MatMulNBits '{node.name}': {why}, so it has no DequantizeLinear form")
        sb = signed_blocks(_blocks(node, inits))
        _rewrite(graph, nodes, node, sb, int8_blocks)
        count += 1
        if not np.any(sb.rest):
            continue
        minima = _minima(node.output[0], consumers, producers, inits)
        if minima is not None and tuple(inits[minima[0].input[1]].dims) == sb.rest.shape:
            _fold(graph, minima[0], inits[minima[0].input[1]], sb.rest)
        else:
            pending.append((nodes[-1].name, node.input[0], sb))
    del graph.node[:]
    graph.node.extend(nodes)
    if count:
        _opset(out)
    if pending:
        _add_rests(out, pending)
    prune(graph)  # the MatMulNBits initializers, and minima replaced by their folded copies
    if count and not any(n.domain == MS_DOMAIN for n in all_nodes(graph)) and \
            not any(n.domain == MS_DOMAIN for f in out.functions for n in f.node):
        kept = [o for o in out.opset_import if o.domain != MS_DOMAIN]
        del out.opset_import[:]
        out.opset_import.extend(kept)
    return out, count


def _is_nbits(node) -> bool:
    return node.op_type == "MatMulNBits" and node.domain == MS_DOMAIN


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _why_not(node, inits: dict) -> str | None:
    """Why this MatMulNBits cannot be written as DQ -> MatMul, or None."""
    import onnx

    a = _attrs(node)
    k, n, bits, block = a.get("K"), a.get("N"), a.get("bits", 4), a.get("block_size")
    inputs = list(node.input) + [""] * 6
    if bits not in (4, 8):
        return f"bits = {bits} (only 4 and 8 have a signed ONNX type TensorRT reads)"
    if k is None or n is None or block is None or k % block:
        return f"K = {k} is not a whole number of blocks of {block}"
    if bits == 4 and n % 2:
        return f"N = {n} is odd (TensorRT's INT4 tensors need an even last dimension)"
    if any(inputs[4:6]):
        return "it has g_idx or bias inputs"
    for i, what in ((1, "B"), (2, "scales"), (3, "zero_points")):
        if inputs[i] and inputs[i] not in inits:
            return f"its {what} '{inputs[i]}' is not an initializer"
    if inits[inputs[2]].data_type != onnx.TensorProto.FLOAT:
        return "its scales are not float32"
    if inputs[3] and inits[inputs[3]].data_type != onnx.TensorProto.UINT8:
        return "its zero points are not integers (uint8)"
    return None


def _blocks(node, inits: dict) -> BlockQuant:
    from onnx import numpy_helper

    a = _attrs(node)
    arr = [numpy_helper.to_array(inits[name]) if name else None for name in (list(node.input) + [""])[1:4]]
    return from_packed(arr[0], arr[1], arr[2], a.get("bits", 4), a["block_size"], a["K"], a["N"])


def _rewrite(graph, nodes: list, node, sb: SignedBlocks, int8_blocks: bool) -> None:
    """Replace `node` by DQ(s, scale) -> MatMul writing its output (appended to `nodes`)."""
    from onnx import helper, numpy_helper

    base = f"{_base(node)}.qdq"
    k, n = sb.s.shape
    nb = k // sb.block
    graph.initializer.append(_int_tensor(sb.s, sb.bits, f"{base}.q"))  # [K, N]
    if sb.bits == 4 or int8_blocks:  # blocks of `block` rows: scale [K/block, N]
        graph.initializer.append(numpy_helper.from_array(sb.scale, f"{base}.scale"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{base}.q", f"{base}.scale"], [f"{base}.w"],
                                      name=f"{base}_dq", axis=0, block_size=sb.block))
    else:  # TensorRT 10.x: per-tensor INT8 DQ, then [K, N] -> [K/block, block, N] * scale [K/block, 1, N] -> [K, N]
        consts = {"one": np.array(1.0, np.float32), "blk_shape": np.array([nb, sb.block, n], np.int64),
                  "scale": sb.scale[:, None, :], "w_shape": np.array([k, n], np.int64)}
        graph.initializer.extend(numpy_helper.from_array(v, f"{base}.{key}") for key, v in consts.items())
        nodes.append(helper.make_node("DequantizeLinear", [f"{base}.q", f"{base}.one"], [f"{base}.wq"],
                                      name=f"{base}_dq"))
        nodes.append(helper.make_node("Reshape", [f"{base}.wq", f"{base}.blk_shape"], [f"{base}.wq_blocks"],
                                      name=f"{base}_blocks"))
        nodes.append(helper.make_node("Mul", [f"{base}.wq_blocks", f"{base}.scale"], [f"{base}.w_blocks"],
                                      name=f"{base}_scale"))
        nodes.append(helper.make_node("Reshape", [f"{base}.w_blocks", f"{base}.w_shape"], [f"{base}.w"],
                                      name=f"{base}_unblock"))
    nodes.append(helper.make_node("MatMul", [node.input[0], f"{base}.w"], [node.output[0]], name=f"{base}_matmul"))


def _int_tensor(s: np.ndarray, bits: int, name: str):
    """[K, N] int8 values as an INT8 or INT4 initializer (INT4: two per byte, the first in the low nibble)."""
    from onnx import TensorProto, helper, numpy_helper

    if bits == 8:
        return numpy_helper.from_array(s.astype(np.int8), name)
    nibbles = s.reshape(-1).astype(np.int8).view(np.uint8) & 0x0F
    if nibbles.size % 2:
        nibbles = np.append(nibbles, np.uint8(0))
    packed = nibbles[0::2] | (nibbles[1::2] << 4)
    return helper.make_tensor(name, TensorProto.INT4, list(s.shape), packed.tobytes(), raw=True)


def _minima(y: str, consumers: dict, producers: dict, inits) -> tuple | None:
    """(node, 1) where the Q4_1 minima initializer is that node's input 1, when y's only reader applies them:
    Gemm(blocksum, M, y), or Add(y, MatMul(blocksum, M)) (`passes.py`); else None."""
    users = consumers.get(y, [])
    if len(users) != 1:
        return None
    user = users[0]
    if user.op_type == "Gemm" and list(user.input)[2:] == [y] and user.input[1] in inits and not user.attribute:
        return user, 1
    if user.op_type == "Add" and len(user.input) == 2:
        other = user.input[1] if user.input[0] == y else user.input[0]
        mm = producers.get(other)
        if mm is not None and mm.op_type == "MatMul" and mm.input[1] in inits and len(consumers.get(other, [])) == 1:
            return mm, 1
    return None


def _fold(graph, node, minima, rest: np.ndarray) -> None:
    """The minima M [K/32, N] become M + R in a new initializer that `node` reads instead."""
    from onnx import numpy_helper

    folded = numpy_helper.to_array(minima).astype(np.float32) + rest
    name = f"{minima.name}.qdq"
    graph.initializer.append(numpy_helper.from_array(folded, name))
    node.input[1] = name


def _add_rests(model, pending: list) -> None:
    """After each pending MatMul (A @ W -> y): y = that product + blocksum(A) @ R (`passes.add_block_offsets`),
    the block sums shared by the weights that read one activation."""
    graph = model.graph
    ranks = tensor_ranks(model)  # every op is standard ONNX (or a DSpark function) now: inference reaches all
    matmuls = {n.name: n for n in graph.node}
    after: dict[str, list] = {}
    sums: dict[tuple[str, int], str] = {}
    for name, a, sb in pending:
        matmul = matmuls[name]
        if a not in ranks:
            raise QuantizeError(f"{name}: the rank of its input '{a}' is unknown (ONNX shape inference)")
        base, y = name.removesuffix("_matmul"), matmul.output[0]
        matmul.output[0] = f"{base}.y_dq"
        add_block_offsets(graph, after.setdefault(name, []), a, ranks[a], sb.rest, sb.block, f"{base}.y_dq", y,
                          f"{base}.rest", sums)  # (`_rewrite` names its own nodes after `base`)
    nodes = []
    for node in graph.node:
        nodes.append(node)
        nodes.extend(after.get(node.name, []))
    del graph.node[:]
    graph.node.extend(nodes)


def _opset(model) -> None:
    """Default domain at opset >= 21 and IR >= 10, in the graph and in its functions (a function must import the
    model's version, onnx.checker); refuses an op whose meaning changed since opset 18."""
    scopes = [(model.opset_import, list(all_nodes(model.graph)))] + [(f.opset_import, list(f.node))
                                                                       for f in model.functions]
    for imports, nodes in scopes:
        for imp in imports:
            if imp.domain in ("", "ai.onnx") and imp.version < OPSET:
                changed = sorted({n.op_type for n in nodes if n.domain in ("", "ai.onnx")} & set(_CHANGED_SINCE_18))
                if changed:
                    raise QuantizeError(f"the graph (opset {imp.version}) uses {changed}, whose meaning changed "
                                        f"before opset {OPSET}, which DequantizeLinear of INT4 blocks needs")
                imp.version = OPSET
    model.ir_version = max(model.ir_version, IR_VERSION)


@contextmanager
def tensorrt_graph(path: Path) -> Iterator[Path]:
    """The ONNX file TensorRT should parse for the graph at `path`: `path` itself without MatMulNBits, else its QDQ
    twin (`to_qdq(int8_blocks=False)`), written beside it as `.<stem>.qdq.onnx` + `.<stem>.qdq.weights` (its
    other initializers keep pointing at the graph's own weights files) and removed on exit. Either way without
    the `present_*` outputs (`export.cache_writes`; a graph that has them and no MatMulNBits is written beside
    it as `.<stem>.trt.onnx`)."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

    from dspark_compile.export.cache_writes import without_cache_writes

    path = Path(path)
    proto = onnx.load(str(path), load_external_data=False)
    nbits = [n for n in proto.graph.node if _is_nbits(n)]
    stripped = without_cache_writes(proto)  # TensorRT would return whole caches every step (export.cache_writes)
    if not nbits and not stripped:
        yield path
        return
    if not nbits:  # the same graph less its present_* outputs; its initializers keep pointing at its weights
        twin_path = path.parent / f".{path.stem}.trt.onnx"
        try:
            onnx.save_model(proto, str(twin_path))
            del proto
            yield twin_path
        finally:
            twin_path.unlink(missing_ok=True)
        return
    names = {i.name for i in proto.graph.initializer}
    consumers: dict[str, list] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producers = {o: n for n in proto.graph.node for o in n.output}
    needed = {name for n in nbits for name in n.input[1:]}
    for n in nbits:
        minima = _minima(n.output[0], consumers, producers, names)
        if minima is not None:
            needed.add(minima[0].input[1])
    for init in proto.graph.initializer:
        if init.name in needed and uses_external_data(init):
            load_external_data_for_tensor(init, str(path.parent))
            del init.external_data[:]
            init.data_location = onnx.TensorProto.DEFAULT
    twin, _ = to_qdq(proto, int8_blocks=False)
    del proto
    twin_path, weights = path.parent / f".{path.stem}.qdq.onnx", f".{path.stem}.qdq.weights"
    try:
        onnx.save_model(twin, str(twin_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=weights, size_threshold=1024)
        del twin
        yield twin_path
    finally:
        twin_path.unlink(missing_ok=True)
        (path.parent / weights).unlink(missing_ok=True)
