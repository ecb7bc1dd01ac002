"""Weight-only quantization passes: each a pure function ONNX graph -> ONNX graph (plus a report).

Every `MatMul` whose second input is a 2-D float32 initializer W [K, N] (K a multiple of the block size),
or the Transpose of one (a tied lm_head reading the embedding), or the Transpose of constant rows of one (a
drafter's lm_head over its draft vocabulary: Gather(embedding, ids)), becomes `com.microsoft::MatMulNBits`.
MatMuls that read one activation (q/k/v, gate/up) become one MatMulNBits over their columns side by side,
then a Split: each column keeps its own blocks, so the result is the same per column. Schemes:

- `int8` / `int4`: round-to-nearest per block of `block_size` weights along K (`blocks.quantize_rtn`;
  asymmetric with an integer zero point unless `symmetric`).
- `gguf`: the source GGUF's own blocks, carried over instead of requantized: Q8_0 is exactly 8-bit
  MatMulNBits; Q4_1 (w = d*q + m) is MatMulNBits(q, scale d, integer zero point z = round(-m/d)) plus the
  rest of each block's offset applied to the activations' block sums, Y += blocksum(A) [.., K/32] @ M
  [K/32, N] with M = m + z*d (`blocks.centre`), because MatMulNBits with float zero points runs unpacked
  (it dequantizes all of W on every call). Each weight's GGUF tensor is
  found by its rows (every dequantized GGUF row must equal one column of W bit for bit, whatever the
  row order the loader used, e.g. Llama's q/k permutation), so a GGUF that is not the graph's source is
  an error, never a silent requantization.

Why our own packing instead of onnxruntime's `MatMulNBitsQuantizer`: it requantizes the dequantized
weights (a second rounding on top of the GGUF's, which changed SmolLM2's wording, issue 20); it also
writes our RTN blocks in the same layout, so one writer serves both and the round trip is tested.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from dspark_compile.errors import QuantizeError
from dspark_compile.export.nodes import prune
from dspark_compile.export.shapes import ranks as tensor_ranks
from dspark_compile.quantize.blocks import BlockQuant, centre, quantize_rtn
from dspark_compile.quantize.config import WeightQuant

MS_DOMAIN = "com.microsoft"


@dataclass(frozen=True)
class LayerError:
    """How far one quantized weight is from the float weight it replaced."""

    name: str  # the MatMul node's name
    shape: tuple[int, int]  # [K, N]
    bits: int
    rel_rms: float  # ||Wq - W|| / ||W||
    max_abs: float

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "bits": self.bits,
                "rel_rms": float(f"{self.rel_rms:.4g}"), "max_abs": float(f"{self.max_abs:.4g}")}


@dataclass(frozen=True)
class QuantReport:
    scheme: str
    layers: tuple[LayerError, ...] = field(default=())
    skipped: tuple[str, ...] = field(default=())  # MatMuls left in float (shape not blockable)

    def summary(self) -> dict:
        errs = [l.rel_rms for l in self.layers]
        return {"scheme": self.scheme, "quantized": len(self.layers), "skipped": list(self.skipped),
                "mean_rel_rms": float(f"{np.mean(errs):.4g}") if errs else 0.0,
                "max_rel_rms": float(f"{np.max(errs):.4g}") if errs else 0.0,
                "layers": [l.to_dict() for l in self.layers]}


class GGUFBlocks:
    """The quantized tensors of a GGUF file, indexed by the bytes of each dequantized row."""

    def __init__(self, path):
        from gguf import GGUFReader

        from dspark_compile.quantize.blocks import from_q4_1, from_q8_0, gguf_values

        self.path = path
        readers = {"Q4_1": from_q4_1, "Q8_0": from_q8_0}
        self.tensors: dict[str, BlockQuant] = {}
        self.rows: dict[bytes, tuple[str, int]] = {}
        for t in GGUFReader(str(path)).tensors:
            if t.tensor_type.name not in readers:
                continue
            bq = readers[t.tensor_type.name](np.asarray(t.data))
            self.tensors[t.name] = bq
            for i, row in enumerate(gguf_values(bq)):
                self.rows[_digest(row)] = (t.name, i)

    def match(self, w: np.ndarray, name: str) -> BlockQuant:
        """The GGUF blocks of W [K, N], columns in W's order; QuantizeError when W is not a GGUF tensor."""
        hits = [self.rows.get(_digest(np.ascontiguousarray(w[:, n]))) for n in range(w.shape[1])]
        tensors = {h[0] for h in hits if h is not None}
        if None in hits or len(tensors) != 1:
            raise QuantizeError(f"{name}: its weights {list(w.shape)} are not the blocks of one quantized tensor "
                                f"of {self.path} ({sum(h is None for h in hits)} of {w.shape[1]} columns found); "
                                "build from the GGUF this graph was loaded from, or choose 'int4'/'int8'")
        bq = self.tensors[tensors.pop()]
        order = np.array([h[1] for h in hits])
        return centre(BlockQuant(bq.bits, bq.block, bq.q[order], bq.scales[order],
                                 None if bq.zero_points is None else bq.zero_points[order],
                                 None if bq.offsets is None else bq.offsets[order]))


def _digest(row: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(row, dtype=np.float32).tobytes(), digest_size=16).digest()


def quantize_weights(model, spec: WeightQuant, gguf: GGUFBlocks | None = None):
    """A copy of `model` (onnx.ModelProto, weights loaded) with its blockable MatMuls as MatMulNBits.

    Returns (new model, QuantReport). `gguf` is required for the scheme 'gguf'.
    """
    import onnx
    from onnx import helper, numpy_helper

    if spec.scheme == "gguf" and gguf is None:
        raise QuantizeError("scheme 'gguf' needs the source GGUF file (the target is not loaded from one)")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {i.name: i for i in graph.initializer}
    ranks = tensor_ranks(out) if spec.scheme == "gguf" else {}  # (the Q4_1 minima reshape activations to blocks)
    producers = {o: n for n in graph.node for o in n.output}
    nodes, layers, skipped = [], [], []
    block_sums: dict[tuple[str, int], str] = {}  # (activation, block) -> its [.., K/block] block sums
    weights: dict[str, np.ndarray] = {}  # MatMul output -> its float weight W [K, N], for every MatMul we quantize
    groups: dict[str, list] = {}  # activation -> the MatMuls that read it (q/k/v, gate/up): one fused MatMulNBits
    for node in graph.node:
        w = _weight(node, inits, producers)
        if w is None:
            continue
        if w.shape[0] % spec.block_size or w.shape[1] < spec.min_columns:
            skipped.append(node.name)
            continue
        weights[node.output[0]] = w
        groups.setdefault(node.input[0], []).append(node)

    def emit(a: str, bq: BlockQuant, base: str, y_out: str, name: str) -> None:
        """a [.., K] @ bq -> y_out [.., N]: MatMulNBits, plus the Q4_1 minima."""
        k, n = bq.shape
        packed = bq.packed()
        names = []
        for key in ("B", "scales", "zero_points"):
            if key in packed:
                graph.initializer.append(numpy_helper.from_array(packed[key], f"{base}.{key}"))
                names.append(f"{base}.{key}")
        y_nbits = y_out if bq.offsets is None else f"{base}.nbits_out"
        nodes.append(helper.make_node("MatMulNBits", [a, *names], [y_nbits], name=f"{name}_nbits", domain=MS_DOMAIN,
                                      K=k, N=n, bits=bq.bits, block_size=bq.block, accuracy_level=spec.accuracy_level))
        if bq.offsets is not None:  # Q4_1 minima: Y += blocksum(A) @ M
            if a not in ranks:
                raise QuantizeError(f"{name}: the rank of its input '{a}' is unknown (ONNX shape inference)")
            add_block_offsets(graph, nodes, a, ranks[a], bq.offsets.T.copy(), bq.block, y_nbits, y_out, base,
                              block_sums)

    for node in graph.node:
        if node.output[0] not in weights:
            nodes.append(node)
            continue
        group = groups.pop(node.input[0], None)
        if group is None:  # emitted with the first MatMul of its group
            continue
        bqs = []
        for member in group:
            w = weights[member.output[0]]
            bq = _quantize(w, spec, gguf, member.name)
            err = bq.dequantize() - w
            layers.append(LayerError(member.name, w.shape, bq.bits,
                                     float(np.linalg.norm(err) / max(np.linalg.norm(w), 1e-30)), float(np.abs(err).max())))
            bqs.append(bq)
        base = _base(node)
        if len(group) > 1 and _fusable(bqs):  # one MatMulNBits over the columns of all, then Split
            emit(node.input[0], _concat(bqs), base, f"{base}.fused", node.name)
            split = f"{base}.split"
            graph.initializer.append(numpy_helper.from_array(np.array([b.shape[1] for b in bqs], np.int64), split))
            nodes.append(helper.make_node("Split", [f"{base}.fused", split], [m.output[0] for m in group],
                                          name=f"{base}_split", axis=-1))
        else:
            for member, bq in zip(group, bqs):
                emit(member.input[0], bq, _base(member), member.output[0], member.name)
    del graph.node[:]
    graph.node.extend(nodes)
    prune(graph)  # the float weights only the replaced MatMuls read, and a tied lm_head's Transpose nothing else reads
    if not any(o.domain == MS_DOMAIN for o in out.opset_import):
        out.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return out, QuantReport(spec.scheme, tuple(layers), tuple(skipped))


def add_block_offsets(graph, nodes: list, a: str, rank: int, offsets: np.ndarray, block: int, y_in: str, y_out: str,
                      base: str, sums: dict[tuple[str, int], str]) -> None:
    """y_out = y_in + blocksum(a) @ offsets, nodes appended to `nodes`: a [.., K] (of `rank` dims) summed per block
    of `block` along K, shared through `sums` by the weights that read one activation; offsets [K/block, N]
    added to every weight of its block. On 2-D rows (a row-padded target, `DecoderLM.row_pad`) one Gemm,
    Y = S @ M + Y, else MatMul + Add. The Q4_1 minima here, and the rest of a zero point in `qdq`."""
    from onnx import helper, numpy_helper

    if (a, block) not in sums:  # [.., K] -> [.., K/block, block] -> [.., K/block]
        dims = [0] * (rank - 1) + [offsets.shape[0], block]
        graph.initializer.append(numpy_helper.from_array(np.array(dims, np.int64), f"{base}.blk_shape"))
        nodes.append(helper.make_node("Reshape", [a, f"{base}.blk_shape"], [f"{base}.a_blocks"], name=f"{base}_blocks"))
        graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), f"{base}.blk_axes"))
        nodes.append(helper.make_node("ReduceSum", [f"{base}.a_blocks", f"{base}.blk_axes"], [f"{base}.a_blocksum"],
                                      name=f"{base}_blocksum", keepdims=0))
        sums[a, block] = f"{base}.a_blocksum"
    graph.initializer.append(numpy_helper.from_array(offsets, f"{base}.minima"))  # [K/block, N]
    if rank == 2:
        nodes.append(helper.make_node("Gemm", [sums[a, block], f"{base}.minima", y_in], [y_out], name=f"{base}_minima"))
    else:
        nodes.append(helper.make_node("MatMul", [sums[a, block], f"{base}.minima"], [f"{base}.min_out"],
                                      name=f"{base}_minima"))
        nodes.append(helper.make_node("Add", [y_in, f"{base}.min_out"], [y_out], name=f"{base}_add_minima"))


def _base(node) -> str:
    """The prefix of the tensors a quantized MatMul's replacement adds."""
    return (node.name or node.output[0]).strip("/").replace("/", "_")


def _fusable(bqs: list[BlockQuant]) -> bool:
    first = bqs[0]
    return all(b.bits == first.bits and b.block == first.block and (b.zero_points is None) == (first.zero_points is None)
               and (b.offsets is None) == (first.offsets is None) for b in bqs)


def _concat(bqs: list[BlockQuant]) -> BlockQuant:
    """The blocks of [W1 | W2 | ...] (columns side by side; every array is indexed by column first)."""
    def cat(field):
        parts = [getattr(b, field) for b in bqs]
        return None if parts[0] is None else np.concatenate(parts, axis=0)
    return BlockQuant(bqs[0].bits, bqs[0].block, cat("q"), cat("scales"), cat("zero_points"), cat("offsets"))


def _weight(node, inits: dict, producers: dict) -> np.ndarray | None:
    """The constant float32 weight W [K, N] of a MatMul: an initializer, or one read through a Transpose (a tied
    embedding used as the lm_head), or through a Transpose of constant rows of one (Gather along axis 0 with
    constant indices: a draft vocabulary's rows of a tied lm_head); None for any other node. Identity nodes
    on the way are followed: the exporter reads a weight that two MatMuls share (the drafter's k/v projections
    of its block and of its context) through one for the second."""
    if node.op_type != "MatMul" or len(node.input) != 2:
        return None
    w = _through_identities(node.input[1], producers)
    if w in inits:
        return _float_matrix(inits[w])
    t = producers.get(w)
    if t is None or t.op_type != "Transpose" or \
            [list(a.ints) for a in t.attribute if a.name == "perm"] not in ([], [[1, 0]]):
        return None
    source = _through_identities(t.input[0], producers)
    if source in inits:
        rows = _float_matrix(inits[source])
    else:
        rows = _gathered_rows(producers.get(source), inits)
    return None if rows is None else rows.T


def _through_identities(name: str, producers: dict) -> str:
    """The tensor `name` copies through a chain of Identity nodes (itself if none produces it)."""
    while name in producers and producers[name].op_type == "Identity":
        name = producers[name].input[0]
    return name


def _gathered_rows(node, inits: dict) -> np.ndarray | None:
    """table[ids] of a Gather along axis 0 whose table [N, K] and indices [n] are both initializers, else None."""
    from onnx import numpy_helper

    if node is None or node.op_type != "Gather" or len(node.input) != 2 or \
            any(a.name == "axis" and a.i != 0 for a in node.attribute):
        return None
    table, ids = (inits.get(name) for name in node.input)
    if table is None or ids is None or len(ids.dims) != 1:
        return None
    table = _float_matrix(table)
    return None if table is None else table[numpy_helper.to_array(ids).astype(np.int64)]


def _float_matrix(init) -> np.ndarray | None:
    """A 2-D float32 initializer as an array, else None."""
    import onnx
    from onnx import numpy_helper

    if len(init.dims) != 2 or init.data_type != onnx.TensorProto.FLOAT:
        return None
    return numpy_helper.to_array(init)


def _quantize(w: np.ndarray, spec: WeightQuant, gguf: GGUFBlocks | None, name: str) -> BlockQuant:
    if spec.scheme == "gguf":
        return gguf.match(w, name)
    bits = {"int4": 4, "int8": 8}[spec.scheme]
    return quantize_rtn(w, bits, spec.block_size, spec.symmetric)


def quantize_file(folder, name: str, weights: str, spec: WeightQuant, gguf: GGUFBlocks | None = None) -> QuantReport:
    """Rewrite folder/name (weights in folder/weights) quantized: the new graph replaces the old one and
    its weights file; nothing else in the folder changes. Initializers stored in another graph's weights
    file (the drafter's link to the target's embedding, `export.shared_weights`) keep pointing there."""
    import os

    import onnx
    from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_model, uses_external_data

    proto = onnx.load(str(folder / name), load_external_data=False)
    foreign = {t.name: list(t.external_data) for t in proto.graph.initializer
               if uses_external_data(t) and ExternalDataInfo(t).location != weights}
    load_external_data_for_model(proto, str(folder))  # pulls in the external weights (their pointers stay)
    quantized, report = quantize_weights(proto, spec, gguf)
    del proto
    for init in quantized.graph.initializer:  # drop the stale external-data pointers; rewritten below
        if init.name in foreign:  # the same bytes, still in the other graph's file
            init.ClearField("raw_data")
            del init.external_data[:]
            init.external_data.extend(foreign[init.name])
            init.data_location = onnx.TensorProto.EXTERNAL
        elif init.data_location == onnx.TensorProto.EXTERNAL:
            del init.external_data[:]
            init.data_location = onnx.TensorProto.DEFAULT
    tmp_name, tmp_weights = f".{name}.q", f".{weights}.q"
    onnx.save_model(quantized, str(folder / tmp_name), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=tmp_weights, size_threshold=1024)
    # the graph names its weights file: save again under the final name (cheap: the graph part only)
    final = onnx.load(str(folder / tmp_name), load_external_data=False)
    for init in final.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location" and entry.value == tmp_weights:
                entry.value = weights
    os.replace(folder / tmp_weights, folder / weights)
    onnx.save_model(final, str(folder / name))
    (folder / tmp_name).unlink()
    return report
