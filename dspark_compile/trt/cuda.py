"""The few CUDA driver calls the TensorRT backend needs, through ctypes on libcuda.so.1.

The driver library comes with every NVIDIA driver install, so the backend needs neither CuPy nor
cuda-python to find a GPU, allocate I/O buffers, copy and synchronise. TensorRT uses the runtime API,
which works in the device's primary context: that is the context retained and made current here.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from dspark_compile.errors import DSparkError

_ATTR_CC_MAJOR, _ATTR_CC_MINOR = 75, 76  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_{MAJOR,MINOR}
_NO_DEVICE = 100  # CUDA_ERROR_NO_DEVICE


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: tuple[int, int]
    total_bytes: int

    @property
    def sm(self) -> str:
        return f"sm_{self.compute_capability[0]}{self.compute_capability[1]}"


class CudaDriver:
    """libcuda.so.1, initialised, with the primary context of one device current on this thread."""

    def __init__(self, error: type[DSparkError], device: int = 0):
        self._error = error
        try:
            self.lib = ctypes.CDLL("libcuda.so.1")
        except OSError:
            raise error("no NVIDIA driver on this machine (libcuda.so.1 not found): the TensorRT backend needs "
                        "a CUDA GPU with its driver installed; use the onnxruntime backend on CPU-only "
                        "machines") from None
        code = self.lib.cuInit(0)
        if code == _NO_DEVICE:
            raise error("the NVIDIA driver reports no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE): the TensorRT "
                        "backend needs a GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES")
        self._check(code, "cuInit")
        count = ctypes.c_int()
        self._check(self.lib.cuDeviceGetCount(ctypes.byref(count)), "cuDeviceGetCount")
        if device >= count.value:
            raise error(f"CUDA device {device} asked for; this machine has {count.value}")
        self.device = ctypes.c_int()
        self._check(self.lib.cuDeviceGet(ctypes.byref(self.device), device), "cuDeviceGet")
        self.context = ctypes.c_void_p()
        self._check(self.lib.cuDevicePrimaryCtxRetain(ctypes.byref(self.context), self.device),
                    "cuDevicePrimaryCtxRetain")
        self._check(self.lib.cuCtxSetCurrent(self.context), "cuCtxSetCurrent")

    def _check(self, code: int, call: str) -> None:
        if code != 0:
            name = ctypes.c_char_p()
            self.lib.cuGetErrorName(code, ctypes.byref(name))
            raise self._error(f"CUDA driver call {call} failed: {(name.value or b'?').decode()} ({code})")

    def info(self) -> GpuInfo:
        name = ctypes.create_string_buffer(256)
        self._check(self.lib.cuDeviceGetName(name, 256, self.device), "cuDeviceGetName")
        major, minor, total = ctypes.c_int(), ctypes.c_int(), ctypes.c_size_t()
        self._check(self.lib.cuDeviceGetAttribute(ctypes.byref(major), _ATTR_CC_MAJOR, self.device), "attr")
        self._check(self.lib.cuDeviceGetAttribute(ctypes.byref(minor), _ATTR_CC_MINOR, self.device), "attr")
        self._check(self.lib.cuDeviceTotalMem_v2(ctypes.byref(total), self.device), "cuDeviceTotalMem")
        return GpuInfo(name.value.decode(), (major.value, minor.value), total.value)

    def stream(self) -> int:
        handle = ctypes.c_void_p()
        self._check(self.lib.cuStreamCreate(ctypes.byref(handle), 1), "cuStreamCreate")  # 1: non-blocking
        return handle.value or 0

    def synchronize(self, stream: int) -> None:
        self._check(self.lib.cuStreamSynchronize(ctypes.c_void_p(stream)), "cuStreamSynchronize")


class DeviceBuffer:
    """A growable device allocation; cuMemAlloc returns 256-byte aligned pointers, as TensorRT needs."""

    def __init__(self, cuda: CudaDriver):
        self.cuda, self.ptr, self.nbytes = cuda, ctypes.c_uint64(0), 0

    def reserve(self, nbytes: int) -> int:
        # TensorRT needs a valid address even for empty tensors (zero-length past at prefill).
        nbytes = max(nbytes, 256)
        if nbytes > self.nbytes:
            self.free()
            self.cuda._check(self.cuda.lib.cuMemAlloc_v2(ctypes.byref(self.ptr), ctypes.c_size_t(nbytes)),
                             "cuMemAlloc")
            self.nbytes = nbytes
        return self.ptr.value

    def upload(self, array: np.ndarray, stream: int) -> int:
        array = np.ascontiguousarray(array)
        ptr = self.reserve(array.nbytes)
        if array.nbytes:
            self.cuda._check(self.cuda.lib.cuMemcpyHtoDAsync_v2(
                ctypes.c_uint64(ptr), array.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(array.nbytes),
                ctypes.c_void_p(stream)), "cuMemcpyHtoDAsync")
        return ptr

    def download(self, out: np.ndarray, stream: int) -> None:
        if out.nbytes:
            self.cuda._check(self.cuda.lib.cuMemcpyDtoHAsync_v2(
                out.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint64(self.ptr.value), ctypes.c_size_t(out.nbytes),
                ctypes.c_void_p(stream)), "cuMemcpyDtoHAsync")

    def free(self) -> None:
        if self.ptr.value:
            self.cuda.lib.cuMemFree_v2(ctypes.c_uint64(self.ptr.value))
            self.ptr, self.nbytes = ctypes.c_uint64(0), 0

    def __del__(self):
        try:
            self.free()
        except Exception:  # interpreter shutdown: the driver may already be gone
            pass
