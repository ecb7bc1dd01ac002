"""TensorRT backend: a built plan (see dspark_compile/trt/build.py) run through the Engine interface.

Host numpy in, host numpy out: inputs are copied to device buffers, the context runs with
execute_async_v3 on its own stream, outputs are copied back. Device memory comes from the CUDA driver
through ctypes (dspark_compile/trt/cuda.py), so no CuPy or cuda-python is needed. `tensorrt` is imported
only when an engine is opened.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from dspark_compile.engine.base import Engine, EngineOptions, TensorSpec
from dspark_compile.errors import EngineError
from dspark_compile.trt import import_tensorrt
from dspark_compile.trt.cuda import CudaDriver, DeviceBuffer
from dspark_compile.trt.profiles import Profile, select_profile


def _numpy_dtype(trt, dtype) -> str:
    try:
        return np.dtype(trt.nptype(dtype)).name
    except TypeError:  # bf16 / fp8 have no numpy type
        raise EngineError(f"engine tensor dtype {dtype} has no numpy equivalent; export that tensor as "
                          "float16 or float32") from None


class TrtEngine(Engine):
    """A TensorRT plan with its sidecar `<plan>.json` (profiles, plugin library) from build_engine."""

    def __init__(self, path: Path, options: EngineOptions = EngineOptions()):
        path = Path(path)
        if options.device == "cpu":
            raise EngineError("the tensorrt backend runs on CUDA GPUs only; use the onnxruntime backend for device 'cpu'")
        if not path.is_file():
            raise EngineError(f"{path}: TensorRT plan not found")
        sidecar = Path(str(path) + ".json")
        info = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        trt = import_tensorrt(EngineError)
        self.cuda = CudaDriver(EngineError)
        from dspark_compile.trt.build import plan_mismatch

        mismatch = plan_mismatch(info, trt.__version__, self.cuda.info().compute_capability)
        if mismatch:
            raise EngineError(f"{path.name} was built for {mismatch}: rebuild the plans on this machine with "
                              f"`dspark-compile engines {path.parent} --backend tensorrt [--plugins PATH]`, or run "
                              "it with --backend onnxruntime")
        self._trt = trt
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        if info.get("plugin_library_serialized"):
            runtime.engine_host_code_allowed = True  # the plan carries the plugin library (version compatible)
        elif info.get("plugin_library"):
            from dspark_compile.trt.build import load_plugin_library

            lib = path.parent / info["plugin_library"]
            if not lib.is_file():
                raise EngineError(f"{path.name} needs its plugin library {lib} (copy it beside the plan)")
            registry = runtime.get_plugin_registry()
            self._plugins = load_plugin_library(trt, registry, lib, EngineError)
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise EngineError(f"{path}: TensorRT {trt.__version__} could not deserialize this plan (built with "
                              f"TensorRT {info.get('tensorrt_version', '?')} for compute capability "
                              f"{info.get('compute_capability', '?')})")
        self._runtime, self._engine = runtime, engine
        self._context = engine.create_execution_context()
        self._stream = self.cuda.stream()
        self._profiles = [Profile(p["name"], {k: tuple(tuple(s) for s in v) for k, v in p["shapes"].items()})
                          for p in info.get("profiles", [])]
        self._profile = -1
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        specs = {n: TensorSpec(n, tuple(d if d >= 0 else "?" for d in engine.get_tensor_shape(n)),
                               _numpy_dtype(trt, engine.get_tensor_dtype(n))) for n in names}
        is_input = {n: engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.inputs = tuple(specs[n] for n in names if is_input[n])
        self.outputs = tuple(specs[n] for n in names if not is_input[n])
        self._buffers = {n: DeviceBuffer(self.cuda) for n in names}

    def _use_profile(self, shapes: dict[str, tuple[int, ...]]) -> None:
        if len(self._profiles) <= 1:
            return
        index = select_profile(self._profiles, shapes)
        if index != self._profile:
            if not self._context.set_optimization_profile_async(index, self._stream):
                raise EngineError(f"TensorRT refused optimisation profile {index} ({self._profiles[index].name})")
            self._profile = index

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        context = self._context
        self._use_profile({s.name: tuple(feeds[s.name].shape) for s in self.inputs})
        for spec in self.inputs:
            array = feeds[spec.name]
            if not context.set_input_shape(spec.name, tuple(array.shape)):
                raise EngineError(f"input '{spec.name}' shape {list(array.shape)} is outside the engine's profiles")
            context.set_tensor_address(spec.name, self._buffers[spec.name].upload(array, self._stream))
        unresolved = context.infer_shapes()
        if unresolved:
            raise EngineError(f"TensorRT could not infer output shapes; unspecified: {unresolved}")
        results = {}
        for spec in self.outputs:
            shape = tuple(context.get_tensor_shape(spec.name))
            results[spec.name] = np.empty(shape, dtype=spec.dtype)
            context.set_tensor_address(spec.name, self._buffers[spec.name].reserve(results[spec.name].nbytes))
        if not context.execute_async_v3(self._stream):
            raise EngineError("TensorRT execute_async_v3 failed (see the TensorRT log above)")
        wanted = outputs or [s.name for s in self.outputs]
        for name in wanted:
            if name not in results:
                raise EngineError(f"unknown output '{name}'; the engine has {sorted(results)}")
            self._buffers[name].download(results[name], self._stream)
        self.cuda.synchronize(self._stream)
        return {n: results[n] for n in wanted}
