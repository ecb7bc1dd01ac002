"""The wire protocol of the OpenAI-compatible API: request bodies, responses, stream chunks, error bodies.

Nothing here knows the engine; `app.py` turns these into engine jobs and back. Fields the server does not
implement are refused (pydantic `extra="forbid"`, or a value other than the neutral one) with a 400 that names
them, never ignored.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DONE = "data: [DONE]\n\n"


class ApiError(Exception):
    """An error answered as an OpenAI-style body: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers = headers or {}

    @property
    def kind(self) -> str:
        return {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error",
                503: "service_unavailable"}.get(self.status, "server_error")

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def sse(payload: dict) -> str:
    """One server-sent event carrying a JSON payload."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class _Sampling(BaseModel):
    """What completions and chat completions share. `top_k` and `ignore_eos`-free extensions only."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int = Field(default=0, ge=-1)  # extension (as in vLLM): 0 or -1 is off
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    stop: str | list[str] | None = None
    n: int = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    user: str | None = None  # an end-user id for the operator's logs; it changes nothing
    return_token_ids: bool = False  # extension (as in vLLM): each choice also carries the generated token ids

    @field_validator("n")
    @classmethod
    def _one(cls, v: int) -> int:
        if v != 1:
            raise ValueError("only n = 1 is supported")
        return v

    @field_validator("presence_penalty", "frequency_penalty")
    @classmethod
    def _no_penalty(cls, v: float) -> float:
        if v != 0.0:
            raise ValueError("penalties are not supported (only 0)")
        return v

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        stops = [v] if isinstance(v, str) else list(v or [])
        if len(stops) > 4:
            raise ValueError("at most 4 stop strings")
        if any(not s for s in stops):
            raise ValueError("a stop string is empty")
        return stops

    @property
    def stops(self) -> tuple[str, ...]:
        return tuple(self.stop or ())

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class CompletionRequest(_Sampling):
    prompt: str | list[int]
    max_tokens: int | None = Field(default=16, ge=1)  # OpenAI's default for completions
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None

    @field_validator("echo", "logprobs", "suffix")
    @classmethod
    def _unsupported(cls, v, info):
        if v:
            raise ValueError(f"{info.field_name} is not supported")
        return v


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str
    name: str | None = None


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool = False

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, v: bool) -> bool:
        if v:
            raise ValueError("logprobs are not supported")
        return v

    @property
    def limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def finish_reason(engine_reason: str) -> str:
    """The batcher's reason as OpenAI names it: EOS and stop strings are both 'stop'."""
    return {"eos": "stop", "stop": "stop", "length": "length"}.get(engine_reason, engine_reason)


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


class Reply:
    """Response bodies and stream chunks for one request (one id and creation time for all its chunks)."""

    def __init__(self, model: str, chat: bool, with_ids: bool = False):
        self.model, self.chat, self.with_ids = model, chat, with_ids
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())

    def _head(self, obj: str) -> dict:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def whole(self, text: str, reason: str, prompt_tokens: int, tokens: list[int] | None) -> dict:
        """A non-streamed response; `tokens` are all generated ids (listed when asked for: `with_ids`)."""
        n = len(tokens or ())
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                      "finish_reason": finish_reason(reason)}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason(reason)}
            obj = "text_completion"
        if self.with_ids:
            choice["token_ids"] = list(tokens or ())
        return {**self._head(obj), "choices": [choice], "usage": usage(prompt_tokens, n)}

    def chunk(self, text: str, reason: str | None, first: bool = False, ids: list[int] = ()) -> str:
        """One streamed chunk: new text (and, when asked for, the new token ids), the finish reason on the last."""
        fr = finish_reason(reason) if reason else None
        if self.chat:
            delta = {"role": "assistant", "content": text} if first else ({"content": text} if text else {})
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": fr}
            obj = "chat.completion.chunk"
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": fr}
            obj = "text_completion"
        if self.with_ids:
            choice["token_ids"] = list(ids)
        return sse({**self._head(obj), "choices": [choice]})

    def usage_chunk(self, prompt_tokens: int, completion_tokens: int) -> str:
        obj = "chat.completion.chunk" if self.chat else "text_completion"
        return sse({**self._head(obj), "choices": [], "usage": usage(prompt_tokens, completion_tokens)})


def validation_message(errors: list[dict]) -> tuple[str, str | None]:
    """A readable message and the offending parameter from pydantic's errors of a request body."""
    e = errors[0]
    loc = [str(p) for p in e.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if e.get("type") == "extra_forbidden":
        return f"unsupported field '{param}': this server does not implement it", param
    if e.get("type") == "missing":
        return f"'{param}' is required", param
    msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
    value = e.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    return (f"'{param}': {msg}{shown}" if param else f"invalid request body: {msg}"), param
