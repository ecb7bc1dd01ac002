"""`dspark-compile export-drafter` writes checkpoints DeepSpec's loader accepts (the contract in
deepspec_contract.py, itself checked against a checkpoint DeepSpec's code wrote), and DeepSpec options the
fused op cannot run are refused naming the field."""

import json

import pytest
import torch
import yaml
from click.testing import CliRunner
from safetensors.torch import load_file

from dspark_compile.cli import cli
from dspark_compile.drafter import load_drafter, save_drafter
from dspark_compile.errors import ModelError

from tests.helpers import RECIPES, deepspec_fixtures

from .deepspec_contract import check_loadable


def test_contract_matches_a_checkpoint_written_by_deepspec():
    path = deepspec_fixtures() / "ckpt_deepspec"
    check_loadable(json.loads((path / "config.json").read_text()), load_file(str(path / "model.safetensors")))


def _export(recipe, out, *extra):
    res = CliRunner().invoke(cli, ["export-drafter", str(recipe), "-o", str(out), *extra])
    assert res.exit_code == 0, res.output
    return json.loads((out / "config.json").read_text()), load_file(str(out / "model.safetensors"))


def test_exported_drafter_has_everything_deepspec_loads(tmp_path):
    """A drafter of ours (the tiny Qwen3 recipe's random one, saved our way: no embed/lm_head) exported:
    every key and tensor DeepSpec's loader needs, the target's embedding/lm_head inside, bf16 on disk,
    and it still loads back into ours with the same weights."""
    from dspark_compile.build import _load_drafter
    from dspark_compile.config import load_recipe
    from dspark_compile.train.pipeline import load_target_model

    recipe = load_recipe(RECIPES / "tiny-qwen3.yaml")
    model, hf_config = load_target_model(recipe)
    ours, _ = _load_drafter(recipe, model, hf_config)
    save_drafter(ours, tmp_path / "ours")
    assert "lm_head.weight" not in load_file(str(tmp_path / "ours" / "model.safetensors"))

    data = yaml.safe_load((RECIPES / "tiny-qwen3.yaml").read_text())
    data["draft"] = {"source": "checkpoint", "path": str(tmp_path / "ours")}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    cfg, tensors = _export(tmp_path / "r.yaml", tmp_path / "deepspec")
    check_loadable(cfg, tensors)
    assert {t.dtype for t in tensors.values()} == {torch.bfloat16}
    assert torch.equal(tensors["embed_tokens.weight"], model.embed_tokens.weight.bfloat16())
    assert torch.equal(tensors["lm_head.weight"], model.lm_head.weight.bfloat16())
    back = load_drafter(tmp_path / "deepspec", model)  # bf16 copies of the fp32 target are accepted
    assert torch.equal(back.fc.weight, ours.fc.weight.bfloat16().float())
    # --drafter names the drafter instead of the recipe's; fp32 keeps the weights bit for bit
    _, exact = _export(RECIPES / "tiny-qwen3.yaml", tmp_path / "fp32", "--drafter", str(tmp_path / "ours"),
                       "--dtype", "fp32")
    assert all(torch.equal(exact[k], v) for k, v in ours.state_dict().items() if k in exact)


def test_deepspec_checkpoint_exports_back_bit_for_bit(tmp_path):
    """DeepSpec's own bf16 checkpoint, loaded by us and exported again, is the same file content: the round
    trip the issue found broken (embeddings/lm_head dropped)."""
    fixtures = deepspec_fixtures()
    recipe = {"schema": 1, "name": "fixture", "target": {"source": "hf", "path": str(fixtures / "target")},
              "draft": {"source": "checkpoint", "path": str(fixtures / "ckpt_deepspec")}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    cfg, tensors = _export(tmp_path / "r.yaml", tmp_path / "again")
    original = load_file(str(fixtures / "ckpt_deepspec" / "model.safetensors"))
    assert set(tensors) == set(original)
    assert all(torch.equal(tensors[k], original[k]) for k in original)
    theirs = json.loads((fixtures / "ckpt_deepspec" / "config.json").read_text())
    for key in ("target_layer_ids", "mask_token_id", "block_size", "markov_rank", "num_anchors",
                "num_target_layers", "hidden_size", "vocab_size", "rope_parameters"):
        assert cfg[key] == theirs[key], key


@pytest.mark.parametrize("change,field", [
    ({"target_layer_ids": [-1, 2, 3]}, "target_layer_ids"),
    ({"enable_confidence_head": False}, "enable_confidence_head"),
    ({"confidence_head_with_markov": False}, "confidence_head_with_markov"),
    ({"markov_head_type": "gated"}, "markov_head_type"),
    ({"markov_head_type": "rnn"}, "markov_head_type"),
    ({"markov_rank": 0}, "markov_rank"),
])
def test_unsupported_deepspec_options_are_refused_naming_the_field(tmp_path, change, field):
    """As DeepSpec's build_draft_config writes them: no confidence head drops confidence_head_with_markov,
    rank 0 drops markov_head_type; the message names the deciding field, never a missing key."""
    src = deepspec_fixtures() / "ckpt_deepspec"
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(change)
    if change.get("enable_confidence_head") is False:
        del cfg["confidence_head_with_markov"]
    if change.get("markov_rank") == 0:
        del cfg["markov_head_type"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "model.safetensors").symlink_to(src / "model.safetensors")
    from dspark_compile.drafter.checkpoint import read_drafter_config

    with pytest.raises(ModelError, match=rf"{field}=.* is not supported: "):
        read_drafter_config(tmp_path)


@pytest.mark.parametrize("section,key,value,theirs", [
    ("target", "tap_layers", [1, 2, 4], "target_layer_ids = [1, 2, 3]"),
    ("speculation", "block_size", 5, "block_size = 7"),
    ("draft", "markov_rank", 32, "markov_rank = 16"),
    ("draft", "mask_token_id", 4, "mask_token_id = 3"),
])
def test_explicit_recipe_values_must_equal_the_checkpoints(tmp_path, section, key, value, theirs):
    """`auto` takes the checkpoint's value (the conformance test builds that way); an explicit, different value
    stops the build before any work with both values named, and an equal one is accepted."""
    from dspark_compile.build import build_bundle, check_checkpoint_settings
    from dspark_compile.config import parse_recipe
    from dspark_compile.errors import RecipeError

    fixtures = deepspec_fixtures()
    data = {"schema": 1, "name": "fixture", "target": {"source": "hf", "path": str(fixtures / "target")},
            "draft": {"source": "checkpoint", "path": str(fixtures / "ckpt_deepspec")}}
    bad = json.loads(json.dumps(data))
    bad.setdefault(section, {})[key] = value
    with pytest.raises(RecipeError, match=rf"{section}.{key} = {value!r}, but .* has {theirs} \(its config.json\)".replace("[", r"\[")):
        build_bundle(parse_recipe(bad), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    good = json.loads(json.dumps(data))
    good.setdefault(section, {})[key] = {"tap_layers": [1, 2, 3], "block_size": 7, "markov_rank": 16,
                                          "mask_token_id": 3}[key]
    assert check_checkpoint_settings(parse_recipe(good)).target_layer_ids == (1, 2, 3)
