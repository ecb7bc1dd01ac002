"""A server started with --ignore-eos: `bench --url` measures it beside the in-process arms (same requests,
identical greedy outputs), then SIGTERM with requests in flight: it drains within its deadline, exits 0, and
every client gets a final chunk or an error (here with no grace time: in-flight requests end with an error at once;
test_engine.py shows requests finishing within the grace time)."""

from __future__ import annotations

import threading
import time

import json

import openai
import pytest
from click.testing import CliRunner

from dspark_compile.cli import cli
from tests.serve.conftest import ServerProcess

STREAMS = 24  # more than the tiny bundle's 16 rows: some are still queued at SIGTERM


@pytest.fixture(scope="module")
def srv(tiny_llama):
    return ServerProcess(tiny_llama, "--drain-timeout", "0", "--ignore-eos")


def test_bench_url(srv, tiny_llama, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The cat sat on the mat.\nOnce upon a time\n1 2 3 4\n")
    res = CliRunner().invoke(cli, ["bench", str(tiny_llama), "--url", srv.url, "--arms", "plain,cost,server",
                                   "--levels", "1,4", "--new-tokens", "5", "--modes", "greedy", "--peers", "",
                                   "--prompts", str(prompts), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rows = {(r["arm"], r["level"]): r for r in out["rows"]}
    assert set(rows) == {(a, c) for a in ("plain", "cost", "server") for c in (1, 4)}
    assert all(rows[("server", c)]["requests"] == 2 * c and rows[("server", c)]["tokens"] == 10 * c for c in (1, 4))
    assert out["greedy_check"]["identical_across_runtime_arms"], out["greedy_check"]  # the server's ids included
    assert "server_throughput_vs_plain_c4" in out["headline"]["greedy"]


def test_bench_url_without_server(tiny_llama):
    res = CliRunner().invoke(cli, ["bench", str(tiny_llama), "--url", "http://127.0.0.1:9", "--arms", "server",
                                   "--levels", "1", "--new-tokens", "2", "--modes", "greedy", "--peers", ""])
    assert res.exit_code != 0 and "no server answers" in str(res.exception)


def test_sigterm_drains_and_exits_0(srv):
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=60)
    outcomes: list[str | None] = [None] * STREAMS
    started = threading.Barrier(STREAMS + 1)

    def one(i: int) -> None:
        try:
            stream = client.completions.create(model="tiny-llama", prompt=f"request {i}", max_tokens=230,
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
    assert status == 0 and took < 10, (status, took)
    assert all(o.startswith("final:length") or "shut down" in o for o in outcomes), outcomes
    assert any("shut down" in o for o in outcomes), outcomes  # at least those still queued behind 16 rows
    with pytest.raises(openai.APIConnectionError):
        client.completions.create(model="tiny-llama", prompt="late", max_tokens=2)
