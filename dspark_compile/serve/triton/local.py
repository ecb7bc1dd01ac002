"""Run the `tritonserver` that the `nvidia-pytriton` wheel ships (Triton 2.51, Python backend) on this machine,
without a container: for tests and for trying an exported repository. In production use NVIDIA's Triton image.

The wheel's Python-backend stub is built against NumPy 1.x (with NumPy 2 its tensors come out empty or
garbled) and finds its interpreter as `python3` on PATH. So the backend gets a small virtual environment of its
own, on PATH first, that sees NumPy 1.26 (installed apart by `make setup` into .venv/triton-numpy), then this
checkout, then everything else in the current environment. The stub must also load this interpreter's
libpython, not another Python 3.11's.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
import venv
from pathlib import Path

from dspark_compile.errors import EngineError

PACKAGE_ROOT = Path(__file__).resolve().parents[3]


def _pytriton_dir() -> Path:
    spec = importlib.util.find_spec("pytriton")  # located, not imported (its own dependencies are not needed)
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("nvidia-pytriton is not installed (it ships tritonserver): run `make setup`")
    return Path(list(spec.submodule_search_locations)[0])


def numpy1_dir() -> Path:
    return Path(sys.prefix) / "triton-numpy"


class LocalTriton:
    """Prepares `workdir` (backends folder, the backend's environment) and gives the command and environment."""

    def __init__(self, workdir: Path, numpy_dir: Path | None = None):
        pkg = _pytriton_dir()
        dist = pkg / "tritonserver"
        self.binary = dist / "bin" / "tritonserver"
        self.libs = pkg.parent / "nvidia_pytriton.libs"
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = dist / "python_backend_stubs" / version / "triton_python_backend_stub"
        numpy_dir = Path(numpy_dir or numpy1_dir())
        for need, what in ((self.binary, "tritonserver"), (stub, f"the Python {version} backend stub"),
                           (numpy_dir / "numpy", "NumPy 1.x for the backend stub (make setup installs it)")):
            if not need.exists():
                raise EngineError(f"{need} is missing: {what}")
        workdir = Path(workdir)
        self.backends = workdir / "backends"
        python = self.backends / "python"
        python.mkdir(parents=True, exist_ok=True)
        for f in (dist / "backends" / "python" / "libtriton_python.so",
                  dist / "backends" / "python" / "triton_python_backend_utils.py", stub):
            shutil.copy(f, python / f.name)
        self.env_dir = workdir / "backend-env"
        venv.EnvBuilder(with_pip=False, clear=True).create(self.env_dir)
        purelib = sysconfig.get_paths()["purelib"]
        site_dir = Path(sysconfig.get_paths(vars={"base": str(self.env_dir), "platbase": str(self.env_dir)})["purelib"])
        (site_dir / "dspark_compile_backend.pth").write_text(
            f"{numpy_dir}\n{PACKAGE_ROOT}\nimport site; site.addsitedir({purelib!r})\n")

    def command(self, repo: Path, http_port: int, grpc_port: int, metrics_port: int) -> list[str]:
        """tritonserver on loopback only."""
        return [str(self.binary), "--model-repository", str(repo), "--backend-directory", str(self.backends),
                "--http-address", "127.0.0.1", "--http-port", str(http_port), "--grpc-address", "127.0.0.1",
                "--grpc-port", str(grpc_port), "--metrics-address", "127.0.0.1", "--metrics-port", str(metrics_port),
                "--exit-timeout-secs", "10"]

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        libdir = sysconfig.get_config_var("LIBDIR")
        libs = [d for d in (libdir,) if d and Path(d, sysconfig.get_config_var("LDLIBRARY") or "").exists()]
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, str(self.libs), env.get("LD_LIBRARY_PATH", "")]).rstrip(":")
        env["PATH"] = os.pathsep.join([str(self.env_dir / "bin"), env.get("PATH", "")])
        return env
