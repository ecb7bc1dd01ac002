"""The engine loop: one thread owns the continuous batcher; everyone else talks to it through a queue.

Handlers (HTTP, Triton) make a `Job` and `submit` it; the loop hands it to the batcher between steps and
reports every change to the job's `sink` (a callable, run on the engine thread, that must not block: the HTTP
layer passes an asyncio queue's thread-safe put). A job's lifetime is QUEUED (accepted, no token yet) →
RUNNING (tokens arriving) → FINISHED | CANCELLED | FAILED, visible to the metrics and the tests.

The batcher (and with it the scheduler and the guard's state) lives as long as the engine.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from dspark_compile.errors import DSparkError, GenerationError
from dspark_compile.runtime.sampling import SamplingParams

log = logging.getLogger("dspark_compile.serve")


class State(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        return self in (State.FINISHED, State.CANCELLED, State.FAILED)


@dataclass(frozen=True)
class Update:
    """What a job's sink receives: all tokens so far (a copy) and, on the last update, how it ended.
    `error` is set (and `status` says which HTTP status fits) when the job failed or was refused."""

    tokens: tuple[int, ...]
    state: State
    finish_reason: str | None = None  # the batcher's: "eos" | "length" | "stop" | "cancelled"
    error: str | None = None
    status: int = 200

    @property
    def last(self) -> bool:
        return self.state.done


@dataclass(eq=False)
class Job:
    """One request as the server sees it."""

    prompt: list[int]
    max_tokens: int
    sampling: SamplingParams
    stop: tuple[str, ...]
    sink: Callable[[Update], None]
    state: State = State.QUEUED
    arrived: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    ended: float | None = None
    request: object = None  # the batcher's Request once submitted
    tokens: int = 0


class TextDeltas:
    """New text of a request as its tokens arrive. Text that may still change is held back: a trailing
    partial UTF-8 character, and a tail that could be the start of a stop string (cut if it completes)."""

    def __init__(self, decode, stop: tuple[str, ...]):
        self.decode, self.stop, self.shown = decode, stop, ""

    def next(self, update: Update) -> str:
        text = self.decode(list(update.tokens), update.finish_reason, self.stop)
        if not update.last:
            text = text.rstrip("\ufffd")
            hold = max((k for s in self.stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
            text = text[:len(text) - hold]
        if len(text) <= len(self.shown) or not text.startswith(self.shown):
            return ""
        delta, self.shown = text[len(self.shown):], text
        return delta


class Refused(DSparkError):
    """The engine cannot take a job now (queue full, shutting down); `status` is the HTTP answer."""

    def __init__(self, message: str, status: int, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


class Engine:
    """Owns `batcher` (from `Runtime.batcher`) on its own thread for its whole life."""

    def __init__(self, batcher, max_queue: int = 256, metrics=None, block_size: int = 0):
        self.batcher = batcher
        self.max_queue = max_queue
        self.metrics = metrics
        self.block_size = block_size
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}  # batcher request id -> job (engine thread only)
        self.queued = 0  # jobs accepted and without a token yet (under _lock)
        self.running = 0  # jobs receiving tokens (engine thread writes)
        self.ready = threading.Event()
        self._draining = False
        self._deadline: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dspark-engine", daemon=True)

    # ------------------------------------------------------------------ from any thread
    def start(self, warmup: list[int] | None = None) -> "Engine":
        """Start the loop; with `warmup` (prompt ids), one short request runs before `ready` is set."""
        self._warmup = warmup
        self._thread.start()
        return self

    def submit(self, job: Job) -> None:
        """Hand a job to the loop, or raise `Refused` (429 when the queue is full, 503 while shutting down)."""
        with self._lock:
            if self._draining or self._stop.is_set():
                raise Refused("the server is shutting down", 503)
            if self.queued >= self.max_queue:
                raise Refused(f"the queue is full ({self.max_queue} requests waiting; --max-queue)", 429, retry_after=1)
            self.queued += 1
        self._inbox.put(("submit", job))

    def cancel(self, job: Job) -> None:
        """Stop a job (its client went away); its row is freed at the next step."""
        self._inbox.put(("cancel", job))

    def drain(self, timeout: float) -> None:
        """Refuse new jobs; jobs still unfinished after `timeout` seconds are cancelled with an error."""
        with self._lock:
            self._draining = True
            self._deadline = time.perf_counter() + timeout
        self._inbox.put(("wake", None))

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop (unfinished jobs fail with an error) and wait for the thread."""
        self._stop.set()
        self._inbox.put(("wake", None))
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def idle(self) -> bool:
        """No job queued or running (for tests: nothing lost or leaked)."""
        return self.queued == 0 and self.running == 0 and not self.batcher.busy

    # ------------------------------------------------------------------ the loop (engine thread)
    def _loop(self) -> None:
        try:
            if self._warmup:
                self.batcher.submit(self._warmup, 2, SamplingParams())
                self.batcher.run()
            self.ready.set()
            while not self._stop.is_set():
                self._read_inbox(block=not self.batcher.busy)
                if self._deadline is not None and time.perf_counter() > self._deadline:
                    self._abort_all("the server shut down before this request finished", 503)
                if self.batcher.busy:
                    self._step()
        except Exception:  # noqa: BLE001 - the loop must report, then fail every job, never die silently
            log.exception("engine loop failed")
        finally:
            self._stop.set()  # refuse new jobs from here on
            self._abort_all("the server stopped before this request finished", 503)
            self.ready.clear()

    def _read_inbox(self, block: bool) -> None:
        try:
            item = self._inbox.get(timeout=0.1) if block else self._inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            kind, job = item
            if kind == "submit":
                self._admit(job)
            elif kind == "cancel":
                self._cancel(job)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _admit(self, job: Job) -> None:
        try:
            job.request = self.batcher.submit(job.prompt, job.max_tokens, job.sampling, job.stop)
        except GenerationError as exc:
            self._end(job, State.FAILED, error=str(exc), status=400)
            return
        self._jobs[job.request.id] = job
        job.sink(Update((), State.QUEUED))  # accepted: the handler may start its response

    def _cancel(self, job: Job) -> None:
        if job.state.done:
            return
        if job.request is not None:
            self.batcher.cancel(job.request)
        self._end(job, State.CANCELLED, reason="cancelled")

    def _step(self) -> None:
        try:
            touched = self.batcher.step()
        except Exception as exc:  # noqa: BLE001 - an engine failure fails the jobs in flight, not the server
            log.exception("batcher step failed")
            self._abort_all(f"the engine failed: {exc}", 500)
            return
        for req in touched:
            job = self._jobs.get(req.id)
            if job is None or job.state.done:
                continue
            if job.state is State.QUEUED and req.tokens:
                job.first_token = time.perf_counter()
                self._dequeue(job, State.RUNNING)
            job.tokens = len(req.tokens)
            if req.finish_reason == "error":  # the engine failed on this request alone; the others go on
                self._end(job, State.FAILED, error=str(req.error), status=500)
            elif req.finished:
                self._end(job, State.FINISHED, reason=req.finish_reason)
            else:
                job.sink(Update(tuple(req.tokens), job.state))

    def _dequeue(self, job: Job, to: State | None = None) -> None:
        with self._lock:
            self.queued -= 1
        if to is State.RUNNING:
            job.state = to
            self.running += 1

    def _end(self, job: Job, state: State, reason: str | None = None, error: str | None = None,
             status: int = 200) -> None:
        if job.state is State.QUEUED:
            self._dequeue(job)
        elif job.state is State.RUNNING:
            self.running -= 1
        job.state, job.ended = state, time.perf_counter()
        if job.request is not None:
            self._jobs.pop(job.request.id, None)
        if self.metrics is not None:
            self.metrics.ended(job, self.block_size)
        tokens = tuple(job.request.tokens) if job.request is not None else ()
        job.sink(Update(tokens, state, finish_reason=reason, error=error, status=status))

    def _abort_all(self, message: str, status: int) -> None:
        """Fail every unfinished job (shutdown deadline, engine failure), freeing their rows."""
        for job in list(self._jobs.values()):
            if job.request is not None and not job.request.finished:
                self.batcher.cancel(job.request)
            self._end(job, State.FAILED, error=message, status=status)
        while True:  # jobs still in the inbox
            try:
                kind, job = self._inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "submit" and not job.state.done:
                self._end(job, State.FAILED, error=message, status=status)
