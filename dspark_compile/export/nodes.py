"""Walking an exported ONNX graph."""

from __future__ import annotations


def all_nodes(graph):
    """Every node of `graph`, then those of its subgraphs (If/Loop/Scan bodies), depth first."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from all_nodes(sub)
