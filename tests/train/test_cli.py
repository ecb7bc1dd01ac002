"""train-draft, calibrate and measure-costs from the command line; user errors are one clean line."""

import json
import shutil
import subprocess
import sys

import yaml
from click.testing import CliRunner

from dspark_compile.bundle import load_bundle
from dspark_compile.cli import cli
from tests.helpers import RECIPES

TRAINING = {"max_prompts": 6, "max_new_tokens": 12, "steps": 3, "sequences_per_step": 3, "anchors_per_sequence": 4,
            "top_k_probs": 8, "markov_rank": 8, "num_layers": 1, "bf16": False}


def _recipe(tmp_path, name="r.yaml", **changes):
    data = yaml.safe_load((RECIPES / "tiny-llama.yaml").read_text())
    data.update({"training": TRAINING, **changes})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _main(*args):
    return subprocess.run([sys.executable, "-m", "dspark_compile.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_train_calibrate_and_measure_costs(tiny_bundles, tmp_path):
    bundle = tiny_bundles("llama")
    # the recipe names the drafter it will ship (draft.path) before it exists: train-draft writes it there
    recipe = _recipe(tmp_path, draft={"source": "checkpoint", "path": "drafter"})
    out, work = tmp_path / "drafter", tmp_path / "work"
    res = CliRunner().invoke(cli, ["build", str(recipe), "-o", str(tmp_path / "early")])
    assert "draft.path = 'drafter': no such file or directory" in str(res.exception)
    res = CliRunner().invoke(cli, ["train-draft", str(recipe), "-o", str(out), "--work", str(work),
                                   "--bundle", str(bundle)])
    assert res.exit_code == 0, res.output
    assert "step 3/3" in res.stderr and "drafter ready" in res.stderr
    assert (out / "model.safetensors").is_file() and (work / "checkpoints" / "checkpoint.pt").is_file()

    res = CliRunner().invoke(cli, ["calibrate", str(recipe), "--drafter", str(out), "--work", str(work),
                                   "--bundle", str(bundle), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    temps = json.loads((out / "config.json").read_text())["sts_temperatures"]
    assert temps == report["temperatures"] and len(temps) == 4
    assert set(report["before"]) == {"fit", "eval"} and report["tau_full_block"] >= 1.0
    assert set(report["sts_only"]) == {"fit", "eval"} and -3.0 <= report["offset"] <= 3.0
    assert report["anchors"] == "every" and set(report["visited"]) == set(report["current"]) == {"fit", "eval"}
    visited = sum(c["blocks"] for c in report["visited"].values())
    assert 0 < visited <= report["blocks"] and 1.0 <= report["tau_visited"] <= 1 + len(temps)

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    before = json.loads((copy / "manifest.json").read_text())
    res = CliRunner().invoke(cli, ["measure-costs", str(copy), "--repeats", "1"])
    assert res.exit_code == 0, res.output
    after = json.loads((copy / "manifest.json").read_text())
    assert after["costs"]["repeats"] == 1 and after["costs"]["engine_sha256"] == before["costs"]["engine_sha256"]
    assert "drafter step" in res.output and len(after["costs"]["draft_ms"]["greedy"]) == len(after["costs"]["batch_sizes"])
    same = lambda m: {k: v for k, v in m.items() if k not in ("costs", "manifest_sha256")}  # noqa: E731
    assert same(after) == same(before)
    load_bundle(copy)  # the new manifest carries its new digest
    assert CliRunner().invoke(cli, ["run", str(copy), "--prompt", "hi", "--max-new-tokens", "3"]).exit_code == 0


def test_user_errors_are_clean(tmp_path, tiny_bundles):
    res = _main("train-draft", str(tmp_path / "none.yaml"), "-o", str(tmp_path / "d"), "--work", str(tmp_path / "w"))
    assert res.returncode == 2 and "Traceback" not in res.stderr and "recipe file not found" in res.stderr
    recipe = _recipe(tmp_path, draft={"source": "none"})
    res = _main("calibrate", str(recipe), "--work", str(tmp_path / "w"))
    assert res.returncode == 2 and "Traceback" not in res.stderr and "--drafter DIR" in res.stderr
    bad = _recipe(tmp_path, "bad.yaml", draft={"source": "none"})
    bad.write_text(bad.read_text().replace("steps: 3", "stepz: 3"))
    res = _main("train-draft", str(bad), "-o", str(tmp_path / "d"), "--work", str(tmp_path / "w"))
    assert res.returncode == 2 and "training.stepz: unknown key" in res.stderr
    plain = tmp_path / "plain"
    res = CliRunner().invoke(cli, ["build", str(recipe), "-o", str(plain)])
    assert res.exit_code == 0, res.output
    res = _main("measure-costs", str(plain))
    assert res.returncode == 2 and "Traceback" not in res.stderr and "has no drafter" in res.stderr


def test_more_answers_per_prompt_and_warm_start(tiny_bundles, tmp_path):
    """answers_per_prompt: 2 answers the prompts again under new ids (reusing the first answers) and
    extracts only the new answers; --init starts from a drafter's weights; a wrong-shaped one is refused."""
    bundle = tiny_bundles("llama")
    first, out = tmp_path / "w1", tmp_path / "d1"
    res = CliRunner().invoke(cli, ["train-draft", str(_recipe(tmp_path)), "-o", str(out), "--work", str(first),
                                   "--bundle", str(bundle)])
    assert res.exit_code == 0, res.output
    assert "last check: greedy slot accuracy (teacher-forced) held-out " in res.output and " | train " in res.output
    assert (first / "heldout" / "features" / "meta.json").is_file()  # answered for the watch
    twice = _recipe(tmp_path, "twice.yaml", training={**TRAINING, "answers_per_prompt": 2})
    answers = (first / "train" / "responses.jsonl").read_text()
    res = _main("train-draft", str(twice), "-o", str(tmp_path / "d0"), "--work", str(first), "--bundle", str(bundle))
    assert res.returncode == 2 and "answers_per_prompt" in res.stderr and "Traceback" not in res.stderr
    assert (first / "train" / "responses.jsonl").read_text() == answers  # refused before answering anything
    work = tmp_path / "w2"
    (work / "train").mkdir(parents=True)
    shutil.copy(first / "train" / "responses.jsonl", work / "train")
    res = CliRunner().invoke(cli, ["train-draft", str(twice), "-o", str(tmp_path / "d2"), "--work", str(work),
                                   "--bundle", str(bundle), "--init", str(out)])
    assert res.exit_code == 0, res.output
    ids = [json.loads(line)["id"] for line in (work / "train" / "responses.jsonl").read_text().splitlines()]
    assert len(ids) == 12 and ids[:6] == [json.loads(line)["id"] for line in
                                          (first / "train" / "responses.jsonl").read_text().splitlines()]
    assert sorted(ids[6:]) == sorted(f"{i}~1" for i in ids[:6])
    meta = json.loads((work / "train" / "features" / "meta.json").read_text())
    assert meta["prompts"] == 12
    first_meta = json.loads((first / "train" / "features" / "meta.json").read_text())
    assert meta["ids"][:6] == first_meta["ids"] and len(meta["ids"]) == 12
    # the first answers' features are reused: only the new six were extracted
    shutil.copytree(first / "train" / "features", work / "again" / "train" / "features")
    shutil.copy(work / "train" / "responses.jsonl", work / "again" / "train")
    res = CliRunner().invoke(cli, ["train-draft", str(twice), "-o", str(tmp_path / "d4"), "--work",
                                   str(work / "again"), "--bundle", str(bundle), "--steps", "1"])
    assert res.exit_code == 0, res.output
    assert "6 answers, 6 extracted before" in res.output
    again = json.loads((work / "again" / "train" / "features" / "meta.json").read_text())
    assert again["ids"] == meta["ids"] and again["prompts"] == 12
    wrong = _recipe(tmp_path, "wrong.yaml", training={**TRAINING, "markov_rank": 4})
    res = _main("train-draft", str(wrong), "-o", str(tmp_path / "d3"), "--work", str(tmp_path / "w3"), "--bundle",
                str(bundle), "--init", str(out))
    assert res.returncode == 2 and "markov_head.markov_w1.weight" in res.stderr and "Traceback" not in res.stderr
