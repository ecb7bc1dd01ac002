"""The HTTP layer (FastAPI): turns OpenAI-style requests into engine jobs and job updates into responses.

Handlers never touch engine state: they `submit` a job, read its updates from an asyncio queue and `cancel` it
when the client goes away.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dspark_compile.errors import GenerationError
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.serve.engine import Engine, Job, Refused, TextDeltas, Update
from dspark_compile.serve.metrics import ServerMetrics
from dspark_compile.serve.protocol import (DONE, ApiError, ChatCompletionRequest, CompletionRequest, Reply, sse,
                                           validation_message)


def create_app(rt, engine: Engine, metrics: ServerMetrics, model_name: str) -> FastAPI:
    """The application for one loaded runtime `rt` and its running `engine`."""
    app = FastAPI(title="dspark-compile", docs_url=None, redoc_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        if exc.status in (429, 503):
            metrics.rejected.labels(str(exc.status)).inc()
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, param = validation_message(exc.errors())
        return JSONResponse(ApiError(400, message, param).body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        err = ApiError(exc.status_code, str(exc.detail))
        return JSONResponse(err.body(), status_code=exc.status_code)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        if engine.ready.is_set() and not engine.draining:
            return {"status": "ready"}
        return JSONResponse({"status": "draining" if engine.draining else "loading"}, status_code=503)

    @app.get("/metrics")
    async def scrape():
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.scrape(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0,
                                            "owned_by": "dspark-compile"}]}

    def check_model(name: str | None) -> None:
        if name not in (None, model_name):
            raise ApiError(404, f"model '{name}' is not served here; this server serves '{model_name}'",
                           "model", "model_not_found")

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        check_model(body.model)
        if isinstance(body.prompt, str):
            if not body.prompt:
                raise ApiError(400, "'prompt' is empty", "prompt")
            ids = rt.encode(body.prompt)
        else:
            ids = body.prompt  # token ids: the batcher checks them against the vocabulary (a 400 from there)
        return await run(body, ids, body.max_tokens, Reply(model_name, chat=False, with_ids=body.return_token_ids), request)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatCompletionRequest, request: Request):
        check_model(body.model)
        try:
            ids = rt.encode_chat([{"role": m.role, "content": m.content} for m in body.messages])
        except GenerationError as exc:
            raise ApiError(400, str(exc), "messages") from None
        limit = body.limit or max(1, rt.info.max_context - len(ids) - engine.block_size - 1)
        return await run(body, ids, limit, Reply(model_name, chat=True, with_ids=body.return_token_ids), request)

    async def run(body, ids: list[int], max_tokens: int, reply: Reply, request: Request):
        try:
            sampling = SamplingParams(temperature=body.temperature, top_k=max(body.top_k, 0), top_p=body.top_p,
                                      seed=body.seed or 0)
        except GenerationError as exc:
            raise ApiError(400, str(exc)) from None
        loop = asyncio.get_running_loop()
        updates: asyncio.Queue[Update] = asyncio.Queue()
        job = Job(ids, max_tokens, sampling, body.stops, sink=lambda u: loop.call_soon_threadsafe(updates.put_nowait, u))
        try:
            engine.submit(job)
        except Refused as exc:
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            raise ApiError(exc.status, str(exc), headers=headers) from None
        first = await updates.get()  # accepted, or refused by the batcher (e.g. beyond the context)
        if first.error:
            raise ApiError(first.status, first.error, "prompt" if first.status == 400 else None)
        text = TextDeltas(rt.decode, body.stops)
        if body.stream:
            return StreamingResponse(stream(job, updates, text, reply, len(ids), body.include_usage),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        last = await until_last(job, updates, request)
        if last is None:  # the client went away
            return Response(status_code=499)
        if last.error:
            raise ApiError(last.status, last.error)
        return reply.whole(text.next(last), last.finish_reason, len(ids), list(last.tokens))

    async def until_last(job: Job, updates: asyncio.Queue, request: Request) -> Update | None:
        """The job's last update, or None (and the job cancelled) if the client disconnects first."""
        gone = asyncio.ensure_future(disconnected(request))
        try:
            while True:
                get = asyncio.ensure_future(updates.get())
                await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    engine.cancel(job)
                    return None
                if get.result().last:
                    return get.result()
        finally:
            gone.cancel()

    async def stream(job: Job, updates: asyncio.Queue, text: TextDeltas, reply: Reply, prompt_tokens: int,
                     include_usage: bool) -> AsyncIterator[str]:
        first, sent = True, 0  # sent: token ids already in a chunk
        try:
            while True:
                update = await updates.get()
                while not update.last and not updates.empty():  # a slow reader skips to the newest tokens
                    update = updates.get_nowait()
                if update.error:
                    yield sse(ApiError(update.status, update.error).body())
                    break
                delta = text.next(update)
                if delta or update.last or first or (reply.with_ids and len(update.tokens) > sent):
                    yield reply.chunk(delta, update.finish_reason if update.last else None, first,
                                      update.tokens[sent:])
                    first, sent = False, len(update.tokens)
                if update.last:
                    if include_usage:
                        yield reply.usage_chunk(prompt_tokens, len(update.tokens))
                    break
            yield DONE
        finally:  # also when the client disconnected and the response was cancelled
            if not job.state.done:
                engine.cancel(job)

    return app


async def disconnected(request: Request) -> None:
    """Returns when the client has gone (the request body has already been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
