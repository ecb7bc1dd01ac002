"""The recipes for the four released DSpark checkpoints (deepseek-ai/dspark_{qwen3_4b,qwen3_8b,qwen3_14b,
gemma4_12b}_block7), datacenter and Jetson Orin sizes, dry-run (`build --dry-run`) on tiny stand-ins with
the same structure: the target's config with the real layer count, layer types, vocabulary, tying and
(Gemma 4) window/softcap/wide full-attention heads, hidden sizes shrunk; the drafter written as DeepSpec's
trainer writes it (its config keys, bf16, embed/lm_head inside) with the released configs' taps, block size,
mask id and 5 layers (config/dspark/dspark_*.py in deepseek-ai/DeepSpec afdfa7c), Markov rank shrunk.
The real weights cannot be downloaded here."""

import json

import pytest
import torch
import yaml
from click.testing import CliRunner
from safetensors.torch import save_file

from dspark_compile.cli import cli

from tests.helpers import RECIPES

SMALL = dict(hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1, head_dim=16)
# recipe key -> (target config factory kwargs, DeepSpec config: taps, mask id)
RELEASED = {
    "qwen3-4b": (dict(model_type="qwen3", num_hidden_layers=36, vocab_size=151936, tie_word_embeddings=True,
                      rope_theta=1_000_000.0), [1, 9, 17, 25, 33], 151669),
    "qwen3-8b": (dict(model_type="qwen3", num_hidden_layers=36, vocab_size=151936, tie_word_embeddings=False,
                      rope_theta=1_000_000.0), [1, 9, 17, 25, 33], 151669),
    "qwen3-14b": (dict(model_type="qwen3", num_hidden_layers=40, vocab_size=151936, tie_word_embeddings=False,
                       rope_theta=1_000_000.0), [1, 10, 19, 28, 37], 151669),
    "gemma4-12b": (dict(model_type="gemma4_unified", num_hidden_layers=48, vocab_size=262144, sliding_window=1024,
                        final_logit_softcapping=30.0, tie_word_embeddings=True, global_head_dim=32,
                        num_global_key_value_heads=1, attention_k_eq_v=True), [5, 17, 29, 41, 46], 4),
}
DRAFT_LAYERS, BLOCK, RANK = 5, 7, 4


def _target_config(kwargs):
    from transformers import Gemma4UnifiedConfig, Qwen3Config

    kwargs = dict(kwargs)
    model_type = kwargs.pop("model_type")
    if model_type == "qwen3":
        theta = kwargs.pop("rope_theta")
        return Qwen3Config(**SMALL, **kwargs, rope_parameters={"rope_type": "default", "rope_theta": theta})
    n = kwargs["num_hidden_layers"]
    text = dict(SMALL, hidden_activation="gelu_pytorch_tanh",
                layer_types=["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(n)],
                **kwargs)
    return Gemma4UnifiedConfig(text_config=text)


def _standins(root, key):
    """(target dir, drafter dir) for one released checkpoint's structure."""
    from torch import nn

    from dspark_compile.drafter import DrafterConfig, DSparkDrafter

    kwargs, taps, mask = RELEASED[key]
    target = root / "target"
    config = _target_config(kwargs)
    config.save_pretrained(target)
    dcfg = DrafterConfig.for_target(config, num_layers=DRAFT_LAYERS, block_size=BLOCK, target_layer_ids=taps,
                                    markov_rank=RANK, mask_token_id=mask)
    arch = dcfg.arch()
    with torch.device("meta"):
        d = DSparkDrafter(dcfg, arch, nn.Embedding(arch.vocab_size, arch.hidden_size),
                          nn.Linear(arch.hidden_size, arch.vocab_size, bias=False))
    raw = dcfg.to_json()
    del raw["sts_temperatures"]  # DeepSpec writes none
    drafter = root / "drafter"
    drafter.mkdir()
    (drafter / "config.json").write_text(json.dumps(raw))
    save_file({k: torch.zeros(tuple(v.shape), dtype=torch.bfloat16) for k, v in d.state_dict().items()},
              str(drafter / "model.safetensors"))
    return target, drafter


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    built = {}

    def get(key):
        if key not in built:
            built[key] = _standins(tmp_path_factory.mktemp(key), key)
        return built[key]

    return get


RECIPE_FILES = sorted(p.name for p in RECIPES.glob("dspark-*.yaml"))


def test_a_recipe_per_released_checkpoint_and_device():
    assert RECIPE_FILES == sorted(f"dspark-{k}{s}.yaml" for k in RELEASED for s in ("", "-orin"))


@pytest.mark.parametrize("name", RECIPE_FILES)
def test_recipe_dry_runs_on_a_standin(standins, tmp_path, name):
    key = name.removeprefix("dspark-").removesuffix(".yaml").removesuffix("-orin")
    target, drafter = standins(key)
    data = yaml.safe_load((RECIPES / name).read_text())
    assert data["backends"] == ["onnxruntime", "tensorrt"] and data["precision"] == "fp16"
    data["target"]["path"], data["draft"]["path"] = str(target), str(drafter)
    (tmp_path / name).write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(cli, ["build", str(tmp_path / name), "-o", str(tmp_path / "out"), "--dry-run"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    kwargs, taps, mask = RELEASED[key]
    assert plan["target"]["tap_layers"] == taps and plan["target"]["num_layers"] == kwargs["num_hidden_layers"]
    assert plan["target"]["vocab_size"] == kwargs["vocab_size"]
    assert plan["drafter"] == {"source": "checkpoint", "block_size": BLOCK, "num_layers": DRAFT_LAYERS,
                               "markov_rank": RANK, "mask_token_id": mask}
    assert plan["engines"] == ["target", "verify", "drafter"] and "tensorrt" in plan
    assert not (tmp_path / "out").exists()


def test_dry_run_catches_a_drafter_for_another_target(standins, tmp_path):
    """The 14B drafter against the 4B target: stopped with both values named, before any weights load."""
    target, _ = standins("qwen3-4b")
    _, drafter = standins("qwen3-14b")
    data = yaml.safe_load((RECIPES / "dspark-qwen3-4b.yaml").read_text())
    data["target"]["path"], data["draft"]["path"] = str(target), str(drafter)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(cli, ["build", str(tmp_path / "r.yaml"), "-o", str(tmp_path / "out"), "--dry-run"])
    assert res.exit_code != 0
    assert "trained for a target with 40 layers (its num_target_layers), but the target has 36" in str(res.exception)
