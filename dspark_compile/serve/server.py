"""Run a bundle as an OpenAI-compatible server: load, warm up, serve with uvicorn, drain on SIGTERM/SIGINT."""

from __future__ import annotations

import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from dspark_compile.errors import GenerationError

log = logging.getLogger("dspark_compile.serve")


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    scheduler: str = "recipe"  # recipe | off | fixed | threshold | cost
    max_queue: int = 256
    drain_timeout: float = 30.0  # seconds in-flight requests get after SIGTERM before they are cancelled
    threads: int | None = None
    ignore_eos: bool = False  # benchmarks: every request generates max_tokens
    model_name: str | None = None

    def __post_init__(self) -> None:
        if self.max_queue < 1:
            raise GenerationError(f"max_queue = {self.max_queue}: must be >= 1")
        if self.drain_timeout < 0:
            raise GenerationError(f"drain_timeout = {self.drain_timeout}: must be >= 0")


def build(bundle: Path, config: ServeConfig):
    """Load the bundle and start its engine; returns (app, engine)."""
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.serve.app import create_app
    from dspark_compile.serve.engine import Engine
    from dspark_compile.serve.metrics import ServerMetrics

    rt = Runtime.load(bundle, threads=config.threads)
    sched = None if config.scheduler == "recipe" else rt.scheduler_config.model_copy(update={"mode": config.scheduler})
    batcher = rt.batcher(sched, ignore_eos=config.ignore_eos)
    block = batcher.block
    metrics = ServerMetrics(block)
    engine = Engine(batcher, config.max_queue, metrics, block)
    metrics.bind(engine)
    engine.start(warmup=rt.encode("warm up"))
    name = config.model_name or rt.bundle.recipe["name"]
    return create_app(rt, engine, metrics, name), engine


def serve(bundle: Path, config: ServeConfig, on_ready=None) -> None:
    """Serve until SIGTERM or SIGINT; then refuse new requests, give in-flight ones `drain_timeout` seconds to
    finish (the rest end with an error), and return (the process exits 0)."""
    import uvicorn

    app, engine = build(bundle, config)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn re-raises a captured signal after shutdown (exit status 143 for SIGTERM); a drained
            # shutdown is a clean one, so handle the signals here and return normally instead.
            def on_signal(sig, frame):
                if self.should_exit:
                    self.force_exit = True
                    return
                log.info("signal %d: draining (%.0f s for requests in flight)", sig, config.drain_timeout)
                engine.drain(config.drain_timeout)
                self.should_exit = True

            old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, handler in old.items():
                    signal.signal(s, handler)

    uv = uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", lifespan="off",
                        timeout_graceful_shutdown=int(config.drain_timeout) + 5, timeout_keep_alive=5)
    server = Server(uv)
    if on_ready is not None:
        on_ready(engine)
    try:
        server.run()
    finally:
        engine.drain(0)
        engine.stop()
