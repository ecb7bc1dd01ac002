"""ONNX Runtime backend: CPU everywhere, CUDA when onnxruntime-gpu and a GPU are present."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from dspark_compile.engine.base import Engine, EngineOptions, TensorSpec
from dspark_compile.errors import EngineError

_ORT_TYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(bool)": "bool", "tensor(uint8)": "uint8",
}


def _providers(ort, device: str) -> list[str]:
    have = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise EngineError("device 'cuda' asked for, but this onnxruntime has no CUDAExecutionProvider "
                          f"(available: {have}); install the extra: pip install 'dspark-compile[gpu]'")
    return ["CPUExecutionProvider"]


def _spec(arg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else str(d) for d in arg.shape)
    return TensorSpec(arg.name, shape, _ORT_TYPES.get(arg.type, arg.type))


class OrtEngine(Engine):
    """An ONNX model run by an onnxruntime.InferenceSession."""

    def __init__(self, path: Path, options: EngineOptions = EngineOptions()):
        import onnxruntime as ort

        if not path.is_file():
            raise EngineError(f"{path}: ONNX model not found")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if options.threads:
            so.intra_op_num_threads = options.threads
        so.inter_op_num_threads = 1
        if options.yield_after_run:
            so.add_session_config_entry("session.force_spinning_stop", "1")
        try:
            self.session = ort.InferenceSession(str(path), so, providers=_providers(ort, options.device))
        except Exception as exc:  # onnxruntime raises its own exception types for invalid graphs
            raise EngineError(f"{path}: onnxruntime could not load the model: {exc}") from None
        self.providers = tuple(self.session.get_providers())
        self.inputs = tuple(_spec(a) for a in self.session.get_inputs())
        self.outputs = tuple(_spec(a) for a in self.session.get_outputs())
        self._output_names = [o.name for o in self.outputs]
        self._bound = None  # (key, IOBinding, its OrtValues) of the last run_in_place

    writes_in_place = True

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        names = outputs or self._output_names
        values = self.session.run(names, dict(feeds))
        return dict(zip(names, values))

    def run_in_place(self, feeds: Mapping[str, np.ndarray], in_place: Mapping[str, str],
                     outputs: list[str]) -> dict[str, np.ndarray]:
        """Through an IOBinding: every input is bound to its array's own memory and each in-place output to its
        input's, so a kernel that writes its input's buffer (ScatterND with input and output the same) copies
        nothing (`export.cache_writes`). The binding is kept while the in-place arrays stay the same (a KV
        cache between joins and leaves): binding ~70 tensors afresh cost more than the copies it saves."""
        import onnxruntime as ort

        self.check_feeds(feeds)
        targets = {name: feeds[name] for name in in_place.values()}
        for name, a in targets.items():
            if not (a.flags.c_contiguous and a.flags.writeable):
                raise EngineError(f"input '{name}' is written in place, so it must be a C-contiguous writable array")
        key = (tuple(in_place.items()), tuple(outputs),
               tuple((n, a.ctypes.data, a.shape, a.dtype.str) for n, a in targets.items()))
        if self._bound is None or self._bound[0] != key:
            binding, keep = self.session.io_binding(), {}
            for name, a in targets.items():
                keep[name] = ort.OrtValue.ortvalue_from_numpy(a)  # shares the array's memory
                binding.bind_ortvalue_input(name, keep[name])
            for out, name in in_place.items():
                a = targets[name]
                binding.bind_output(out, "cpu", 0, a.dtype, list(a.shape), a.ctypes.data)
            self._bound = (key, binding, keep)
        _, binding, keep = self._bound
        for name in outputs:  # afresh each run: a bound output keeps the shape of the run that allocated it
            binding.bind_output(name, "cpu")
        for name, value in feeds.items():
            if name not in targets:
                keep[name] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(value))  # outlives the run
                binding.bind_ortvalue_input(name, keep[name])
        try:
            self.session.run_with_iobinding(binding)
        except Exception as exc:  # onnxruntime's own exception types
            raise EngineError(f"onnxruntime failed running the model: {exc}") from None
        values = binding.get_outputs()[len(in_place):]  # the in-place ones are the inputs' own arrays
        return {name: v.numpy() for name, v in zip(outputs, values)}
