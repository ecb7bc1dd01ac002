"""The runtime-only install: a fresh venv with `pip install dspark-compile` (no compile extra) from this
checkout loads a bundle the full install built and generates the same greedy tokens, never importing torch."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.ship.runtime_venv import COMPILE_STACK, WHEELS, create, probe, size_bytes

PROMPTS = ["Hello there.", "Tell me a story about a cat.", "1 2 3 4"]
NEW_TOKENS = 12


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory):
    if not WHEELS.is_dir():
        pytest.skip(f"{WHEELS} missing: `make setup` downloads the runtime's wheels there")
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    python = create(venv)
    print(f"runtime-only venv: {size_bytes(venv) / 1e6:.1f} MB installed")
    return python


def test_runtime_install_generates_what_the_full_install_generates(runtime_python, tiny_bundles):
    from dspark_compile.runtime.api import Runtime
    from dspark_compile.runtime.sampling import SamplingParams

    bundle = tiny_bundles("llama")
    got = probe(runtime_python, bundle, PROMPTS, NEW_TOKENS)
    print(f"Runtime.load in the runtime-only venv: {got['load_s']:.2f} s")
    assert got["installed"] == [], f"the runtime-only install pulled in {got['installed']}"
    assert not got["torch_in_sys_modules"] and got["imported"] == []

    rt = Runtime.load(bundle)
    ids = [rt.encode(p, chat=True) for p in PROMPTS]
    assert got["ids"] == ids  # same tokenizer, same chat template
    plain = rt.scheduler_config.model_copy(update={"mode": "off"})
    for mode, sched in (("recipe", None), ("off", plain)):
        ours = rt.generate_ids(ids, NEW_TOKENS, [SamplingParams()] * len(ids), ignore_eos=True, scheduler=sched)
        assert got["tokens"][mode] == [r.tokens for r in ours], mode


def test_runtime_install_cli_ships_and_refuses_to_build(runtime_python, tiny_bundles, tmp_path):
    """In the runtime-only venv: inspect, pack, unpack and run work; build names the compile extra."""
    from tests.helpers import RECIPES

    cli = str(runtime_python.parent / "dspark-compile")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args):
        return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=600, env=env)

    bundle = tiny_bundles("llama")
    for args in (("inspect", bundle), ("pack", bundle, "-o", tmp_path / "t.tar"),
                 ("unpack", tmp_path / "t.tar", "-o", tmp_path / "u"),
                 ("run", tmp_path / "u", "--prompt", "Hello", "--max-new-tokens", "4")):
        proc = run(*args)
        assert proc.returncode == 0, (args[0], proc.stderr)
    proc = run("build", RECIPES / "tiny-llama.yaml", "-o", tmp_path / "b")
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'dspark-compile[compile]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "b").exists()


def test_compile_stack_names_match_the_extra():
    """The modules checked above are the ones the compile extra installs (pyproject.toml)."""
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    extra = {r.split(">")[0].split("=")[0].split("<")[0].strip() for r in data["project"]["optional-dependencies"]["compile"]}
    required = {r.split(">")[0].split("=")[0].split("<")[0].strip() for r in data["project"]["dependencies"]}
    assert set(COMPILE_STACK) <= extra and not set(COMPILE_STACK) & required
