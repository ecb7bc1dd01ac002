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

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        names = outputs or self._output_names
        values = self.session.run(names, dict(feeds))
        return dict(zip(names, values))
