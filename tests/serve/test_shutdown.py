"""SIGTERM with requests in flight: the server drains within its deadline, exits 0, and every client gets a
final chunk or an error."""

from __future__ import annotations

import threading
import time

import openai
import pytest

from tests.serve.conftest import ServerProcess

STREAMS = 24  # more than the tiny bundle's 16 rows: some are still queued at SIGTERM


def test_sigterm_drains_and_exits_0(tiny_llama):
    srv = ServerProcess(tiny_llama, "--drain-timeout", "1.5", "--ignore-eos")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=60)
    outcomes: list[str | None] = [None] * STREAMS
    started = threading.Barrier(STREAMS + 1)

    def one(i: int) -> None:
        tokens = 40 if i % 2 else 230  # short ones finish in time, long ones meet the deadline
        try:
            stream = client.completions.create(model="tiny-llama", prompt=f"request {i}", max_tokens=tokens,
                                               temperature=0, stream=True)
            started.wait()
            for chunk in stream:
                if chunk.choices and chunk.choices[0].finish_reason:
                    outcomes[i] = "final:" + chunk.choices[0].finish_reason
        except openai.APIError as exc:
            outcomes[i] = f"error:{exc}"
        finally:
            if outcomes[i] is None:
                outcomes[i] = "nothing"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(STREAMS)]
    for t in threads:
        t.start()
    started.wait(timeout=60)
    t0 = time.monotonic()
    status = srv.terminate(timeout=30)
    took = time.monotonic() - t0
    for t in threads:
        t.join(timeout=30)
    assert status == 0 and took < 1.5 + 10, (status, took)
    assert all(o and o != "nothing" for o in outcomes), outcomes
    assert any(o.startswith("final:length") for o in outcomes), outcomes
    assert any("shut down" in o for o in outcomes if o.startswith("error:")), outcomes
    with pytest.raises(openai.APIConnectionError):
        client.completions.create(model="tiny-llama", prompt="late", max_tokens=2)
