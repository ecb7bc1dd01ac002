"""A fresh venv with only the runtime install of this checkout (no compile extra), from local wheels.

    python -m tests.ship.runtime_venv BUNDLE [--venv DIR] [--wheels DIR]   # prints size, load time, tokens

Used by tests/ship/test_runtime_install.py, and by hand on the SmolLM2 bundle for the README's figures. The
package is built from a copy of the source (so the checkout gets no build/ or egg-info), the dependencies come
from `--wheels` (what `make setup` downloads into .venv/wheels from requirements-runtime.txt) with
--no-index, so nothing is fetched and nothing outside the runtime's dependency list can be installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / ".venv" / "wheels"
COMPILE_STACK = ("torch", "onnx", "onnxscript", "gguf", "accelerate")

PROBE = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
from dspark_compile.runtime.api import Runtime
from dspark_compile.runtime.sampling import SamplingParams
rt = Runtime.load(sys.argv[1])
load_s = time.perf_counter() - t0
prompts, new = json.loads(sys.argv[2]), int(sys.argv[3])
ids = [rt.encode(p, chat=True) for p in prompts]
out = {}
for mode in ("recipe", "off"):
    sched = None if mode == "recipe" else rt.scheduler_config.model_copy(update={"mode": "off"})
    res = rt.generate_ids(ids, new, [SamplingParams()] * len(ids), ignore_eos=True, scheduler=sched)
    out[mode] = [r.tokens for r in res]
heavy = json.loads(sys.argv[4])
print(json.dumps({"load_s": load_s, "ids": ids, "tokens": out, "imported": sorted(m for m in heavy if m in sys.modules),
                  "installed": sorted(m for m in heavy if importlib.util.find_spec(m) is not None),
                  "torch_in_sys_modules": "torch" in sys.modules}))
"""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def create(venv: Path, wheels: Path = WHEELS) -> Path:
    """Create `venv` with `pip install dspark-compile` from this checkout and `wheels`; returns its python."""
    work = venv.parent / f".{venv.name}-src"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, work / name)
    shutil.copytree(ROOT / "dspark_compile", work / "dspark_compile",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(work)],
         cwd=work)
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # no machine-wide find-links, and no PYTHONPATH through which pip would see this checkout as installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile", "--no-index",
          "--find-links", str(wheels), "--find-links", str(dist), "dspark-compile"], env=env)
    shutil.rmtree(work, ignore_errors=True)
    return python


def probe(python: Path, bundle: Path, prompts: list[str], new_tokens: int) -> dict:
    """Load `bundle` in that interpreter, generate greedily (the recipe's scheduler and plain), report."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the venv installed
    proc = _run([str(python), "-c", PROBE, str(bundle), json.dumps(prompts), str(new_tokens),
                 json.dumps(COMPILE_STACK)], env=env, cwd=python.parents[2])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def size_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/dspark-runtime-venv"))
    parser.add_argument("--wheels", type=Path, default=WHEELS)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args()
    shutil.rmtree(args.venv, ignore_errors=True)
    python = create(args.venv, args.wheels)
    got = probe(python, args.bundle.resolve(), ["What is the capital of France?"], args.new_tokens)
    print(json.dumps({"venv_mb": round(size_bytes(args.venv) / 1e6, 1), "load_s": round(got["load_s"], 2),
                      "imported": got["imported"], "installed": got["installed"], "tokens": got["tokens"]["recipe"]}))


if __name__ == "__main__":
    main()
