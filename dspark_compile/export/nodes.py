"""Walking and pruning an exported ONNX graph."""

from __future__ import annotations

from collections import Counter


def all_nodes(graph):
    """Every node of `graph`, then those of its subgraphs (If/Loop/Scan bodies), depth first."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from all_nodes(sub)


def prune(graph) -> int:
    """Remove the nodes whose outputs nothing reads (subgraph reads and graph outputs count), then the
    initializers nothing reads. Returns the number of nodes removed."""
    outputs = {o.name for o in graph.output}
    removed = 0
    while True:
        reads = Counter(name for node in all_nodes(graph) for name in node.input)
        dead = [n for n in graph.node if not any(reads[o] or o in outputs for o in n.output if o)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
        removed += len(dead)
    reads = Counter(name for node in all_nodes(graph) for name in node.input)
    for init in [i for i in graph.initializer if not reads[i.name] and i.name not in outputs]:
        graph.initializer.remove(init)
    return removed
