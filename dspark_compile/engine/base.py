"""The one engine interface the runtime uses; backends live in their own modules, imported lazily."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from dspark_compile.errors import EngineError


@dataclass(frozen=True)
class TensorSpec:
    """One engine input or output: its name, symbolic shape (ints or dim names) and numpy dtype name."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class EngineOptions:
    """Backend-independent run options."""

    threads: int = 0
    """Intra-op threads (0: the backend chooses)."""
    device: str = "auto"
    """'cpu', 'cuda' or 'auto' (CUDA when the backend and a GPU are there)."""
    yield_after_run: bool = False
    """Stop the worker threads spinning as soon as a run ends, for engines that take turns (the drafter and
    the target). ONNX Runtime's workers otherwise spin-wait after a run and take the cores from the other
    engine's run: on 2 cores a 3-token verify pass right after a drafter pass took 61 ms instead of 41 (README, "Threads")."""


class Engine(ABC):
    """A compiled graph: named numpy tensors in, named numpy tensors out."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    writes_in_place = False
    """Whether `run_in_place` works: the backend can bind an output to an input array's memory."""

    @abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run once. `feeds` must hold every input; `outputs` selects outputs (default: all)."""

    def run_in_place(self, feeds: Mapping[str, np.ndarray], in_place: Mapping[str, str],
                     outputs: list[str]) -> dict[str, np.ndarray]:
        """Run once, each output o of `in_place` (output name -> input name, same shape and dtype) written into the
        input's own array, which must be C-contiguous and writable; returns the `outputs` asked for."""
        raise EngineError(f"the {type(self).__name__} backend cannot write outputs into its inputs' memory")

    def check_feeds(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Name the first missing, unexpected or wrongly typed input (cheap; called by backends)."""
        expected = {t.name: t for t in self.inputs}
        for name in feeds:
            if name not in expected:
                raise EngineError(f"unexpected input '{name}'; the engine takes {sorted(expected)}")
        for spec in self.inputs:
            if spec.name not in feeds:
                raise EngineError(f"missing input '{spec.name}' {list(spec.shape)} {spec.dtype}")
            arr = feeds[spec.name]
            if arr.dtype != np.dtype(spec.dtype) or arr.ndim != len(spec.shape):
                raise EngineError(f"input '{spec.name}': expected {spec.dtype} with {len(spec.shape)} dims "
                                  f"{list(spec.shape)}, got {arr.dtype} {list(arr.shape)}")


# Backend name -> "module:class"; modules are imported only when that backend is asked for, so the
# CPU-only path never imports tensorrt or CUDA libraries.
_BACKENDS = {
    "onnxruntime": "dspark_compile.engine.onnxruntime:OrtEngine",
    "tensorrt": "dspark_compile.engine.tensorrt:TrtEngine",
}


def available_backends() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def load_engine(backend: str, path: str | Path, options: EngineOptions = EngineOptions()) -> Engine:
    """Open the engine file at `path` with the named backend."""
    if backend not in _BACKENDS:
        raise EngineError(f"unknown backend '{backend}'; available: {', '.join(_BACKENDS)}")
    module_name, cls_name = _BACKENDS[backend].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(Path(path), options)
