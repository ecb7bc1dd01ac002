"""The official `openai` client against `dspark-compile serve` on the tiny bundle (real socket, loopback)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

PROMPTS = ["The quick brown fox", "hello", "Once upon a time, in a land far away"]


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def twin(offline, prompt: str, max_tokens: int, chat: bool = False, stop=()):
    """What `dspark-compile run` prints for the same greedy request."""
    return offline.generate([prompt], max_new_tokens=max_tokens, chat=chat, stop=tuple(stop))[0]


def test_models(client, server):
    assert [m.id for m in client.models.list()] == ["tiny-llama"]
    assert json.loads(server.get("/health")) == {"status": "ok"}


@pytest.mark.parametrize("prompt", PROMPTS)
def test_completion_equals_run(client, offline, prompt):
    ref = twin(offline, prompt, 12)
    out = client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=12, temperature=0)
    assert out.choices[0].text == ref.text
    assert out.usage.prompt_tokens == ref.prompt_tokens and out.usage.completion_tokens == len(ref.tokens)
    assert out.choices[0].finish_reason == {"eos": "stop", "length": "length"}[ref.finish_reason]
    chunks = list(client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=12, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == ref.text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == out.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == len(ref.tokens)


def test_token_prompt(client, offline):
    ids = offline.encode("hello")
    ref = offline.generate_ids([ids], 8, [offline_sampling()])[0]
    out = client.completions.create(model="tiny-llama", prompt=ids, max_tokens=8, temperature=0)
    assert out.choices[0].text == ref.text


def offline_sampling():
    from dspark_compile.runtime.sampling import SamplingParams

    return SamplingParams()


def test_chat_equals_run(client, offline):
    ref = twin(offline, "Say something.", 10, chat=True)
    messages = [{"role": "user", "content": "Say something."}]
    out = client.chat.completions.create(model="tiny-llama", messages=messages, max_tokens=10, temperature=0)
    assert out.choices[0].message.content == ref.text and out.choices[0].message.role == "assistant"
    assert out.usage.completion_tokens == len(ref.tokens)
    chunks = list(client.chat.completions.create(model="tiny-llama", messages=messages, max_tokens=10,
                                                 temperature=0, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ref.text
    assert chunks[-1].choices[0].finish_reason is not None


def test_stop_string(client, offline):
    prompt = PROMPTS[2]  # the tiny model answers 'yKKKK…'
    full = twin(offline, prompt, 24).text
    stop = next(full[i:i + 2] for i in range(1, len(full) - 2) if "\ufffd" not in full[i:i + 2])
    ref = twin(offline, prompt, 24, stop=[stop])
    out = client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=24, temperature=0, stop=stop)
    assert out.choices[0].text == ref.text == full[:full.index(stop)]
    assert out.choices[0].finish_reason == "stop"
    chunks = list(client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=24, temperature=0,
                                            stop=[stop], stream=True))
    assert "".join(c.choices[0].text for c in chunks) == ref.text


def test_sampling_is_seeded(client):
    args = dict(model="tiny-llama", prompt="hello", max_tokens=8, temperature=0.9, top_p=0.9, seed=7,
                extra_body={"top_k": 20})
    a = client.completions.create(**args)
    assert a.usage.completion_tokens >= 1 and a.choices[0].finish_reason in ("stop", "length")


@pytest.mark.parametrize("kwargs, param", [
    (dict(prompt="hi", n=2), "n"),
    (dict(prompt="hi", logprobs=2), "logprobs"),
    (dict(prompt="hi", temperature=-1), "temperature"),
    (dict(prompt="hi", extra_body={"best_of": 2}), "best_of"),
    (dict(prompt="hi", max_tokens=10_000), "prompt"),
    (dict(prompt=[1, 10**9]), "prompt"),
    (dict(prompt="hi", presence_penalty=0.5), "presence_penalty"),
])
def test_unsupported_or_invalid_is_400(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="tiny-llama", **{"max_tokens": 4, **kwargs})
    body = err.value.body
    assert body["type"] == "invalid_request_error" and body["param"] == param and body["message"]


def test_oversize_prompt_names_the_limit(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="tiny-llama", prompt="x" * 400, max_tokens=4)
    assert "256" in err.value.body["message"] and "max_context" in err.value.body["message"]


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="hi", max_tokens=2)


def test_bad_json_is_400(server):
    req = urllib.request.Request(server.url + "/v1/completions", data=b"{not json", method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400 and "error" in json.loads(err.value.read())


def test_metrics(client, server):
    client.completions.create(model="tiny-llama", prompt="hello", max_tokens=6, temperature=0)
    text = server.get("/metrics")
    for name in ("dspark_requests_total", "dspark_generation_tokens_total", "dspark_queue_depth",
                 "dspark_batch_occupancy", "dspark_time_to_first_token_seconds_bucket",
                 "dspark_time_per_output_token_seconds_bucket", "dspark_tau", "dspark_acceptance",
                 "dspark_drafted_share", "dspark_verify_depth_bucket"):
        assert name in text, name
    assert server.metric("dspark_generation_tokens_total") >= 6
    assert server.metric("dspark_tau") >= 1.0
