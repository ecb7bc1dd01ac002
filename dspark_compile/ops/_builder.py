"""A tiny node emitter for ONNX function bodies: ``b.Add(x, y)`` appends a node and returns its output name."""

from __future__ import annotations

import itertools

import numpy as np
from onnx import AttributeProto, GraphProto, NodeProto, TensorProto, helper, numpy_helper

FLOAT, DOUBLE, INT64, INT32, BOOL = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT32,
                                     TensorProto.BOOL)


class Builder:
    """Collects nodes; names are fresh and unique across a builder and the sub-builders it spawns."""

    def __init__(self, prefix: str, counter: itertools.count | None = None):
        self.prefix = prefix
        self.nodes: list[NodeProto] = []
        self._counter = counter if counter is not None else itertools.count()

    def sub(self) -> "Builder":
        """A builder for a subgraph (e.g. a Loop body) sharing this builder's name counter."""
        return Builder(self.prefix, self._counter)

    def fresh(self, hint: str = "t") -> str:
        return f"{self.prefix}_{hint}_{next(self._counter)}"

    def op(self, op_type: str, *inputs: str, outputs: int | list[str] = 1, **attrs):
        """Append ``op_type(inputs, **attrs)``; return one output name, or a tuple when outputs > 1."""
        names = outputs if isinstance(outputs, list) else [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if len(names) == 1 else tuple(names)

    def __getattr__(self, op_type: str):
        if not op_type[:1].isupper():
            raise AttributeError(op_type)
        return lambda *inputs, **kw: self.op(op_type, *inputs, **kw)

    def const(self, value, dtype=np.float32) -> str:
        """A Constant node holding ``value`` (scalar or array) of ``dtype``."""
        return self.op("Constant", value=numpy_helper.from_array(np.asarray(value, dtype=dtype)))

    def attr(self, attr_name: str, kind: int) -> str:
        """A scalar Constant taking the enclosing function's attribute ``attr_name`` (INT -> int64)."""
        key = {AttributeProto.INT: "value_int", AttributeProto.FLOAT: "value_float"}[kind]
        a = AttributeProto(name=key, type=kind, ref_attr_name=attr_name)
        node = helper.make_node("Constant", [], [self.fresh(attr_name)])
        node.attribute.append(a)
        self.nodes.append(node)
        return node.output[0]

    def graph(self, name: str, inputs: list[tuple[str, int, list | None]],
              outputs: list[tuple[str, int]]) -> GraphProto:
        """Wrap the collected nodes as a subgraph with typed inputs/outputs (shape None = unknown rank)."""
        ins = [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs]
        outs = [helper.make_tensor_value_info(n, t, None) for n, t in outputs]
        return helper.make_graph(self.nodes, name, ins, outs)

    # -- small idioms used by several bodies ---------------------------------------------------------
    def last(self, x: str) -> str:
        """x[..., -1:] (keeps the axis)."""
        return self.Slice(x, self.const([-1], np.int64), self.const([2**62], np.int64), self.const([-1], np.int64))

    def count(self, cond: str, axis: int, keepdims: int = 1) -> str:
        """Number of True entries of ``cond`` along ``axis`` (int64)."""
        return self.ReduceSum(self.Cast(cond, to=INT64), self.const([axis], np.int64), keepdims=keepdims)
