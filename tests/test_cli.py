"""The command line: build, run and inspect a tiny bundle; user errors are one line, no traceback."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dspark_compile.cli import cli
from tests.helpers import RECIPES


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny"
    res = CliRunner().invoke(cli, ["build", str(RECIPES / "tiny-qwen3.yaml"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _main(*args):
    """Run the installed entry point as a user would (a separate process)."""
    return subprocess.run([sys.executable, "-m", "dspark_compile.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_run_json_and_text(bundle):
    res = CliRunner().invoke(cli, ["run", str(bundle), "--prompt", "hi", "--prompt", "there", "--max-new-tokens",
                                   "5", "--json", "--temperature", "0.8", "--seed", "3"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["prompt"] for r in rows] == ["hi", "there"]
    assert all(1 <= len(r["tokens"]) <= 5 and r["finish_reason"] in ("eos", "length") for r in rows)
    # a seed reproduces a sampled answer token for token in plain decoding (README, "Random numbers"); the cost
    # arm's guard decides from measured round times, so its draws may fall otherwise from one run to the next
    plain = ["run", str(bundle), "--prompt", "hi", "--prompt", "there", "--max-new-tokens", "5", "--json",
             "--temperature", "0.8", "--seed", "3", "--scheduler", "off"]
    first, again = (json.loads(CliRunner().invoke(cli, plain).stdout) for _ in range(2))
    assert [r["tokens"] for r in again] == [r["tokens"] for r in first]
    res = CliRunner().invoke(cli, ["run", str(bundle), "--prompt", "hi", "--chat", "--max-new-tokens", "3"])
    assert res.exit_code == 0 and "tokens" in res.stderr


def test_inspect(bundle):
    res = CliRunner().invoke(cli, ["inspect", str(bundle), "--json"])
    manifest = json.loads(res.stdout)
    assert manifest["model"]["family"] == "qwen3" and "target.onnx" in manifest["files"]
    res = CliRunner().invoke(cli, ["inspect", str(bundle)])
    assert res.exit_code == 0 and "checksums ok" in res.stderr


def test_user_errors_have_no_traceback(tmp_path, bundle):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntarget: {source: random, family: llama}\nprecision: fp8\n")
    res = _main("build", str(bad), "-o", str(tmp_path / "out"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "bad.yaml: invalid recipe" in res.stderr and "precision = 'fp8'" in res.stderr
    assert not (tmp_path / "out").exists()

    res = _main("run", str(tmp_path / "nothing"), "--prompt", "x")
    assert res.returncode == 2 and "Traceback" not in res.stderr and "no bundle directory here" in res.stderr

    tampered = tmp_path / "tampered"
    subprocess.run(["cp", "-r", str(bundle), str(tampered)], check=True)
    with (tampered / "target.onnx").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    res = _main("inspect", str(tampered))
    assert res.returncode == 2 and "Traceback" not in res.stderr and "'target.onnx' does not match" in res.stderr


def test_unknown_family_fails_cleanly_and_leaves_nothing(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("name: r\ntarget: {source: random, family: gpt-neo}\n")
    res = CliRunner().invoke(cli, ["build", str(bad), "-o", str(tmp_path / "b")])
    assert res.exit_code != 0 and "gpt-neo" in str(res.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]


def test_existing_output_needs_force(bundle):
    res = _main("build", str(RECIPES / "tiny-qwen3.yaml"), "-o", str(bundle))
    assert res.returncode == 2 and "already exists; pass --force" in res.stderr
