"""Fixtures for the plugin tests: the host math library, built here with g++ (no CUDA, no TensorRT)."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
HOST_SOURCES = [PLUGINS / "common" / "dsparkMathHost.cpp"]
# -ffp-contract=off: no fused multiply-adds beyond those written out (bit parity with numpy).
CXXFLAGS = ["-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-Werror",
            "-shared", "-fPIC"]


@pytest.fixture(scope="session")
def host_lib(tmp_path_factory) -> ctypes.CDLL:
    """libdspark_math_host.so compiled from plugins/common into a temporary folder."""
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ not found: the host math library cannot be built (apt-get install g++)")
    out = tmp_path_factory.mktemp("hostlib") / "libdspark_math_host.so"
    cmd = [cxx, *CXXFLAGS, f"-I{PLUGINS / 'common'}", *map(str, HOST_SOURCES), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"g++ failed:\n{' '.join(cmd)}\n{proc.stderr}"
    lib = ctypes.CDLL(str(out))
    assert lib.dspark_abi_version() == 1
    return lib
