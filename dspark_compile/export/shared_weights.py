"""One copy of shared weights in a bundle.

Two rewrites of exported graphs, both exact (they only change where bytes live, never their values):

- `tie_lm_head`: a tied model's output projection is traced as its own initializer, the transposed
  embedding ([H, V] next to the embedding's [V, H]). It becomes `Transpose(embedding)` (or, for a drafter
  that scores a draft vocabulary, `Transpose(Gather(embedding, ids))`): a constant expression ONNX Runtime
  and TensorRT fold when the engine is built, so the file holds the embedding once.
- `link_external`: a graph whose initializer holds the same bytes as one of another graph's external
  tensors (the drafter's copy of the target's embedding) points its external data at the other graph's
  weights file (location + offset + length) instead of storing the bytes again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from onnx import ModelProto, TensorProto, helper, numpy_helper
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

LINK_MIN_BYTES = 1 << 16  # smaller tensors (norms, biases) are not worth a cross-file reference


def tie_lm_head(model: ModelProto, rows: np.ndarray | None = None) -> int:
    """Replace every MatMul weight [H, V'] equal to the transposed rows `rows` (all when None) of an embedding
    that a Gather reads [V, H] by a Transpose (of a Gather) of that embedding. Mutates `model` (initializers
    loaded in memory); returns how many weights were replaced."""
    inits = {t.name: t for t in model.graph.initializer}
    embeddings = [inits[n.input[0]] for n in model.graph.node
                  if n.op_type == "Gather" and n.input[0] in inits and len(inits[n.input[0]].dims) == 2]
    replaced = 0
    for emb in embeddings:
        table = numpy_helper.to_array(emb)  # [V, H]
        want = (table if rows is None else table[rows]).T  # [H, V']
        for node in list(model.graph.node):
            if node.op_type != "MatMul" or node.input[1] not in inits:
                continue
            weight = inits[node.input[1]]
            if tuple(weight.dims) != want.shape or weight.data_type != emb.data_type:
                continue
            if not np.array_equal(numpy_helper.to_array(weight), want):
                continue
            source = emb.name
            new_nodes = []
            if rows is not None:
                ids_name = f"{weight.name}.draft_vocab"
                model.graph.initializer.append(numpy_helper.from_array(np.asarray(rows, np.int64), ids_name))
                source = f"{weight.name}.rows"
                new_nodes.append(helper.make_node("Gather", [emb.name, ids_name], [source], axis=0,
                                                  name=f"{weight.name}/tied_rows"))
            tied = f"{weight.name}.tied"
            new_nodes.append(helper.make_node("Transpose", [source], [tied], perm=[1, 0],
                                              name=f"{weight.name}/tied_transpose"))
            at = list(model.graph.node).index(node)
            for k, extra in enumerate(new_nodes):
                model.graph.node.insert(at + k, extra)
            node.input[1] = tied
            model.graph.initializer.remove(weight)
            del inits[weight.name]
            replaced += 1
    return replaced


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def external_tensors(model: ModelProto, folder: Path) -> dict[tuple, tuple[str, int, int]]:
    """(dims, data_type, sha256 of bytes) -> (location, offset, length) of `model`'s external initializers."""
    out = {}
    for t in model.graph.initializer:
        if not uses_external_data(t):
            continue
        info = ExternalDataInfo(t)
        if info.length is None or info.length < LINK_MIN_BYTES:
            continue
        with open(Path(folder) / info.location, "rb") as f:
            f.seek(info.offset or 0)
            data = f.read(info.length)
        out[(tuple(t.dims), t.data_type, _digest(data))] = (info.location, info.offset or 0, info.length)
    return out


def link_external(model: ModelProto, donors: dict[tuple, tuple[str, int, int]]) -> list[str]:
    """Point every in-memory initializer of `model` whose bytes a donor holds (see `external_tensors`) at the
    donor's bytes; their raw data is dropped, so saving `model` writes only the rest. Returns their names."""
    linked = []
    for t in model.graph.initializer:
        if len(t.dims) != 2 or not t.HasField("raw_data") or len(t.raw_data) < LINK_MIN_BYTES:
            continue
        hit = donors.get((tuple(t.dims), t.data_type, _digest(t.raw_data)))
        if hit is None:
            continue
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        del t.external_data[:]
        for key, value in zip(("location", "offset", "length"), hit):
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
        linked.append(t.name)
    return linked
