"""TensorRT backend: build engines from the exported ONNX graphs and run them.

Everything that touches `tensorrt` or CUDA imports it lazily, inside a function, so that the CPU-only
path (and the tests) import this package without TensorRT, a GPU or a CUDA driver.

Naming convention the API-surface test relies on (tests/engine/test_tensorrt_api.py): the `tensorrt`
module is always bound to `trt`, and TensorRT objects to the names in `TRT_OBJECT_NAMES`, so that a
scan of this package's source finds every attribute, enum member and method we use.
"""

from __future__ import annotations

import types

from dspark_compile.errors import DSparkError

TRT_OBJECT_NAMES = {
    "builder": "Builder",
    "network": "INetworkDefinition",
    "parser": "OnnxParser",
    "config": "IBuilderConfig",
    "profile": "IOptimizationProfile",
    "registry": "IPluginRegistry",
    "runtime": "Runtime",
    "engine": "ICudaEngine",
    "context": "IExecutionContext",
    "timing_cache": "ITimingCache",
    "plan": "IHostMemory",
}
"""Variable name -> `tensorrt` class, for every TensorRT object held in a local or attribute."""

INSTALL_HINT = ("install TensorRT's Python package matching your CUDA major version, e.g. "
                "`pip install tensorrt-cu13` (TensorRT 11) or `pip install tensorrt-cu12==10.*`; "
                "on Jetson use the python3-libnvinfer package of JetPack")


def import_tensorrt(error: type[DSparkError]) -> types.ModuleType:
    """The `tensorrt` module (or the bare `tensorrt_bindings` wheel); `error` names what to install."""
    try:
        import tensorrt as trt
    except ImportError:
        try:
            import tensorrt_bindings as trt
        except ImportError as exc:
            raise error(f"the TensorRT backend needs the tensorrt Python package, which is not importable "
                        f"({exc}); {INSTALL_HINT}") from None
        except OSError as exc:  # the bindings found but libnvinfer.so.N missing
            raise error(f"the tensorrt Python bindings are installed but TensorRT's native libraries are not "
                        f"loadable ({exc}); {INSTALL_HINT}") from None
    except OSError as exc:
        raise error(f"tensorrt is installed but its native libraries are not loadable ({exc}); "
                    f"{INSTALL_HINT}") from None
    return trt


def trt_major(trt: types.ModuleType) -> int:
    return int(trt.__version__.split(".")[0])
