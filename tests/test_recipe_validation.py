"""Recipes are validated before any work: YAML 1.2 core values, no duplicate keys or aliases, text files
only, a checked `target.config`, and the rules across fields that would otherwise fail every `run`."""

import re
from pathlib import Path

import pytest

from dspark_compile.config import load_recipe, parse_recipe
from dspark_compile.errors import RecipeError
from dspark_compile.yaml_core import YamlError, loads

README = Path(__file__).resolve().parents[1] / "README.md"
BASE = "name: t\ntarget: {source: random, family: llama}\n"


def _readme_recipe() -> str:
    return re.search(r"## Recipes\n\n```yaml\n(.*?)```", README.read_text(), re.S).group(1)


@pytest.mark.parametrize("mode", ["off", "fixed", "threshold", "cost"])
def test_readme_recipe_parses_with_every_documented_mode_unquoted(tmp_path, mode):
    # before the fix: `mode: off` was YAML 1.1's False and refused
    text = _readme_recipe().replace("{mode: cost}", f"{{mode: {mode}}}")
    (tmp_path / "r.yaml").write_text(text)
    assert load_recipe(tmp_path / "r.yaml").speculation.scheduler.mode == mode


@pytest.mark.parametrize("text, expected", [
    ("a: off", {"a": "off"}), ("a: yes", {"a": "yes"}), ("a: No", {"a": "No"}), ("a: y", {"a": "y"}),
    ("a: true", {"a": True}), ("a: False", {"a": False}), ("a: 1e3", {"a": 1000.0}), ("a: 010", {"a": 10}),
    ("a: 0x1f", {"a": 31}), ("a: 0o17", {"a": 15}), ("a: 1:20", {"a": "1:20"}), ("a: 2024-01-01", {"a": "2024-01-01"}),
    ("a: ~", {"a": None}), ("a: -.5", {"a": -0.5}), ("a: '1'", {"a": "1"}),
])
def test_yaml_core_schema(text, expected):
    assert loads(text) == expected


@pytest.mark.parametrize("text, message", [
    ("a: 1\nb: 2\na: 3\n", "line 3: the key 'a' is given twice in one mapping (first on line 1)"),
    ("a: {x: 1, x: 2}", "the key 'x' is given twice"),
    ("a: &x [1, 2]\nb: *x\n", "line 2: the alias '*x' is not allowed"),
    ("base: &b {n: 1}\nother:\n  <<: *b\n", "the alias '*b' is not allowed"),
    ("a: !!python/object/apply:os.system [ls]", "could not determine a constructor"),
    ("a: !!binary aGk=", "could not determine a constructor"),
    ("{[1, 2]: x}", "a mapping key must be a plain value"),
    ("[" * 3000, "nested too deeply"),
])
def test_yaml_refusals(text, message):
    with pytest.raises(YamlError, match=re.escape(message)):
        loads(text)


def test_alias_bomb_in_target_config_is_refused_at_once(tmp_path):
    # before the fix: passed validation (target.config is free-form) and then grew without bound
    lines = ["name: t", "target:", "  source: random", "  family: llama", "  config:", '    a0: &a0 ["x"]']
    lines += [f"    a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(RecipeError, match=r"bomb.yaml: not valid YAML: line 7: the alias '\*a0' is not allowed"):
        load_recipe(tmp_path / "bomb.yaml")


def test_duplicate_recipe_key_is_refused(tmp_path):
    # before the fix: the second `precision` silently won
    (tmp_path / "r.yaml").write_text(BASE + "precision: fp16\nprecision: fp32\n")
    with pytest.raises(RecipeError, match="line 4: the key 'precision' is given twice"):
        load_recipe(tmp_path / "r.yaml")


@pytest.mark.parametrize("data, message", [
    (b"\x00\x01\x02\xff" * 64, "a binary file (it holds NUL bytes)"),
    (b"name: t\n\xff\xfe\n", "not UTF-8 text (byte 8)"),
    (b"name: t\n" + b"# pad\n" * 200_000, "larger than 1 MiB"),
])
def test_binary_and_huge_files_are_refused(tmp_path, data, message):
    # before the fix: a traceback (UnicodeDecodeError) for the first two
    (tmp_path / "r.yaml").write_bytes(data)
    with pytest.raises(RecipeError, match=re.escape(message)):
        load_recipe(tmp_path / "r.yaml")


def test_a_folder_is_not_a_recipe(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path)


RANDOM = {"source": "random", "family": "llama"}


@pytest.mark.parametrize("target, message", [
    ({**RANDOM, "config": {"hidden_sise": 64}}, "'hidden_sise' are not known for family 'llama'"),
    ({**RANDOM, "config": {"attn_logit_softcapping": 2.0}}, "'attn_logit_softcapping' are not known for family 'llama'"),
    ({**RANDOM, "config": {"hidden_size": 10**9}}, "hidden_size = 1000000000: Input should be less than or equal to 16384"),
    ({**RANDOM, "config": {"num_hidden_layers": 0}}, "num_hidden_layers = 0: Input should be greater than or equal to 2"),
    ({**RANDOM, "config": {"head_dim": 15}}, "head_dim = 15: Input should be a multiple of 2"),
    ({**RANDOM, "config": {"vocab_size": 100}}, "vocab_size = 100: Input should be greater than or equal to 261"),
    ({**RANDOM, "config": {"num_attention_heads": 4, "num_key_value_heads": 3}},
     "num_attention_heads (4) must be a multiple of num_key_value_heads (3)"),
    ({**RANDOM, "config": {"hidden_size": 16384, "intermediate_size": 65536, "num_hidden_layers": 256,
                           "vocab_size": 262144}}, "GiB and this machine has"),
    ({**RANDOM, "config": {"rms_norm_eps": float("nan")}}, "rms_norm_eps"),
    ({"source": "random", "family": "gpt-neo"}, "family 'gpt-neo' is not one of llama"),
])
def test_random_target_config_is_checked(target, message):
    # before the fix: every one of these passed validation (config was a free-form dict)
    with pytest.raises(RecipeError, match=re.escape(message)):
        parse_recipe({"name": "t", "target": target}, source="r.yaml")


def test_family_table_covers_every_registered_family():
    from dspark_compile.config import _FAMILY_KEYS
    from dspark_compile.models import supported_families, supported_model_types

    assert set(_FAMILY_KEYS) == set(supported_families()) | set(supported_model_types())


@pytest.mark.parametrize("patch, message", [
    ({"speculation": {"scheduler": {"min_len": 5, "max_len": 2}}}, "min_len (5) is above max_len (2)"),
    ({"speculation": {"block_size": 4, "scheduler": {"mode": "fixed", "fixed_len": 7}}},
     "scheduler.fixed_len (7) is above block_size (4)"),
    ({"backends": []}, "backends is empty"),
    ({"backends": ["onnxruntime", "onnxruntime"]}, "names a backend twice"),
    ({"shapes": {"max_context": 16}, "speculation": {"block_size": 16}}, "shapes.max_context (16) is below 19"),
    ({"speculation": {"scheduler": {"threshold": float("inf")}}}, "threshold"),
    ({"training": {"grad_clip": float("inf")}}, "training.grad_clip"),
    ({"training": {"temperature": 1e-40}}, "training.temperature = 1e-40: must be 0 (greedy) or at least 0.001"),
])
def test_cross_field_rules(patch, message):
    # before the fix: these built and then every run failed, or were accepted as nonsense
    with pytest.raises(RecipeError, match=re.escape(message)):
        parse_recipe({"name": "t", "target": RANDOM, **patch}, source="r.yaml")


def test_fixed_len_above_block_is_fine_when_mode_is_not_fixed():
    r = parse_recipe({"name": "t", "target": RANDOM, "speculation": {"block_size": 4, "scheduler": {"mode": "cost"}}})
    assert r.speculation.scheduler.fixed_len == 7
