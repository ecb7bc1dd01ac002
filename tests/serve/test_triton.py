"""`export-triton` served by the real `tritonserver` 2.51 (from the nvidia-pytriton wheel) on loopback ports:
HTTP requests to the plain model and gRPC streaming to the decoupled one, both equal to `dspark-compile run`."""

from __future__ import annotations

import queue
import subprocess
import time
import urllib.request

import numpy as np
import pytest
from click.testing import CliRunner

from dspark_compile.cli import cli
from dspark_compile.serve.triton.local import LocalTriton
from tests.serve.conftest import free_port

PROMPTS = ["Once upon a time, in a land far away", "hello"]


@pytest.fixture(scope="module")
def triton(tiny_llama, tmp_path_factory):
    root = tmp_path_factory.mktemp("triton")
    repo = root / "repo"
    for args in (["--name", "dspark"], ["--name", "dspark_whole", "--no-decoupled"]):
        res = CliRunner().invoke(cli, ["export-triton", str(tiny_llama), "-o", str(repo), *args])
        assert res.exit_code == 0, res.output
    local = LocalTriton(root)
    http, grpc, metrics = free_port(), free_port(), free_port()
    log = open(root / "tritonserver.log", "w")
    proc = subprocess.Popen(local.command(repo, http, grpc, metrics), env=local.environ(), stdout=log,
                            stderr=subprocess.STDOUT, cwd=root)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"tritonserver did not become ready:\n{(root / 'tritonserver.log').read_text()[-4000:]}")
    yield f"127.0.0.1:{http}", f"127.0.0.1:{grpc}"
    proc.terminate()
    proc.wait(60)
    log.close()


def _inputs(module, prompt: str, max_tokens: int):
    text = module.InferInput("text_input", [1], "BYTES")
    text.set_data_from_numpy(np.array([prompt.encode()], dtype=np.object_))
    limit = module.InferInput("max_tokens", [1], "INT32")
    limit.set_data_from_numpy(np.array([max_tokens], dtype=np.int32))
    return [text, limit]


def test_http_equals_run(triton, offline):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(triton[0])
    assert client.is_model_ready("dspark_whole") and client.is_model_ready("dspark")
    refs = offline.generate(PROMPTS, max_new_tokens=10)
    for prompt, ref in zip(PROMPTS, refs):
        out = client.infer("dspark_whole", _inputs(httpclient, prompt, 10))
        assert out.as_numpy("text_output")[0].decode() == ref.text
        assert out.as_numpy("token_ids").tolist() == ref.tokens
        assert out.as_numpy("finish_reason")[0].decode() == ref.finish_reason


def test_grpc_stream_equals_run(triton, offline):
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(triton[1])
    results: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        for i, prompt in enumerate(PROMPTS):
            ref = offline.generate([prompt], max_new_tokens=12)[0]
            client.async_stream_infer("dspark", _inputs(grpcclient, prompt, 12), request_id=str(i))
            text, tokens, responses = "", [], 0
            while True:
                result, error = results.get(timeout=120)
                assert error is None, error
                responses += 1
                text += result.as_numpy("text_output")[0].decode()
                tokens += result.as_numpy("token_ids").tolist()
                reason = result.as_numpy("finish_reason")[0].decode()
                if reason:
                    break
            assert (text, tokens, reason) == (ref.text, ref.tokens, ref.finish_reason)
            assert responses >= 2  # streamed: the first token (prefill) and later rounds arrive apart
    finally:
        client.stop_stream()
