"""A real `dspark-compile serve` process on a loopback port, shared by the server tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`dspark-compile serve BUNDLE` in a subprocess, listening on 127.0.0.1 only."""

    def __init__(self, bundle, *args: str, timeout: float = 120.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dspark_compile.cli", "serve", str(bundle), "--host", "127.0.0.1",
             "--port", str(self.port), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.proc.stdout.read()}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the server was not ready within {timeout} s")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return r.read().decode()

    def metric(self, name: str) -> float:
        """The sum of a metric's samples named exactly `name` (all label sets)."""
        total = 0.0
        for line in self.get("/metrics").splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def terminate(self, timeout: float) -> int:
        """SIGTERM, then the exit status (killing it if it outlives `timeout`)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.terminate(30)


@pytest.fixture(scope="session")
def tiny_llama(tiny_bundles):
    return tiny_bundles("llama")


@pytest.fixture(scope="session")
def server(tiny_llama):
    srv = ServerProcess(tiny_llama, "--max-queue", "512")
    yield srv
    assert srv.terminate(30) == 0


@pytest.fixture(scope="session")
def offline(tiny_llama):
    """The offline twin: the same bundle in this process, generating as `dspark-compile run` does."""
    from dspark_compile.runtime.api import Runtime

    return Runtime.load(tiny_llama)
