from pathlib import Path

import pytest

from dspark_compile.config import load_recipe, parse_recipe
from dspark_compile.errors import RecipeError

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
BASE = {"name": "t", "target": {"source": "random", "family": "llama"}}


@pytest.mark.parametrize("path", sorted(p for p in RECIPES.glob("*.yaml") if not p.name.startswith("dspark-")),
                         ids=lambda p: p.name)
def test_shipped_recipes_parse(path):
    """(The published drafters' recipes name models that are downloaded first: test_published_recipes.py
    dry-runs them on stand-ins.)"""
    recipe = load_recipe(path)
    assert recipe.name == path.stem
    assert recipe.to_dict()["schema"] == 1


def test_defaults_are_filled_and_frozen():
    r = parse_recipe(BASE)
    assert r.speculation.block_size == "auto" and r.precision == "fp32" and r.backends == ("onnxruntime",)
    assert r.speculation.scheduler.mode == "cost" and r.speculation.scheduler.fallback is True
    with pytest.raises(Exception):
        r.name = "other"  # frozen


@pytest.mark.parametrize(
    "patch, expected",
    [
        ({"precision": "int3"}, "precision = 'int3': Input should be 'fp32' or 'fp16'"),
        ({"shapes": {"max_batch": 0}}, "shapes.max_batch = 0: Input should be greater than or equal to 1"),
        ({"shapes": {"max_batchh": 4}}, "shapes.max_batchh: unknown key"),
        ({"speculation": {"block_size": "7"}}, "speculation.block_size = '7': Input should be a valid integer"),
        ({"speculation": {"scheduler": {"fallback": "no"}}}, "speculation.scheduler.fallback = 'no': Input should be a valid boolean"),
        ({"target": {"source": "hf"}}, "source 'hf' needs the key 'path'"),
        ({"target": {"source": "random", "family": "llama", "tap_layers": [1, "a"]}}, "target.tap_layers.1 = 'a'"),
        ({"backends": ["cuda"]}, "backends.0 = 'cuda': Input should be 'onnxruntime' or 'tensorrt'"),
        ({"name": "has space"}, "name = 'has space'"),
    ],
)
def test_bad_values_name_key_value_and_allowed(patch, expected):
    with pytest.raises(RecipeError) as err:
        parse_recipe({**BASE, **patch}, source="bad.yaml")
    assert str(err.value).startswith("bad.yaml: ")
    assert expected in str(err.value)


def test_missing_required_key():
    with pytest.raises(RecipeError, match="name: required key is missing"):
        parse_recipe({"target": BASE["target"]}, source="r.yaml")


def test_missing_file_is_named(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("name: r\ntarget: {source: gguf, path: models/none.gguf}\n")
    with pytest.raises(RecipeError, match=r"r.yaml: target.path = 'models/none.gguf': no such file"):
        load_recipe(f)


def test_relative_paths_resolve_against_the_recipe(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"")
    f = tmp_path / "r.yaml"
    f.write_text("name: r\ntarget: {source: gguf, path: m.gguf}\n")
    assert load_recipe(f).resolve("m.gguf") == tmp_path / "m.gguf"


def test_not_yaml_and_not_a_mapping(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(f)
    f.write_text("- a\n- b\n")
    with pytest.raises(RecipeError, match="a recipe is a YAML mapping"):
        load_recipe(f)
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_device_presets_fill_what_the_recipe_leaves_unset():
    orin = parse_recipe({**BASE, "device": "jetson-orin"})
    assert orin.precision == "fp16" and orin.shapes.max_batch == 4 and orin.tensorrt.workspace_mib == 1024
    assert orin.backends == ("onnxruntime",)  # plans are built on the device: dspark-compile engines
    own = parse_recipe({**BASE, "device": "datacenter", "precision": "fp32", "shapes": {"max_batch": 8}})
    assert own.precision == "fp32" and own.shapes.max_batch == 8  # the recipe's own values win
    assert own.shapes.max_context == 8192 and own.tensorrt.workspace_mib == 8192  # the rest from the preset
    assert parse_recipe(BASE).device is None and parse_recipe(BASE).precision == "fp32"
    with pytest.raises(RecipeError, match="device = 'jetson-nano': Input should be 'jetson-orin' or 'datacenter'"):
        parse_recipe({**BASE, "device": "jetson-nano"})


def test_quantization_builds_for_tensorrt_in_fp32_only():
    """TensorRT builds a quantized graph from its DequantizeLinear twin (quantize/qdq.py); fp16 stays refused."""
    q = {"target": "int4", "drafter": "int8"}
    r = parse_recipe({**BASE, "backends": ["onnxruntime", "tensorrt"], "quantization": q})
    assert r.backends == ("onnxruntime", "tensorrt") and r.quantization.target == "int4"
    with pytest.raises(RecipeError, match=r"^q.yaml: precision = 'fp16' with quantization \(target 'int4', drafter "
                                          r"'int8'\): quantized engines need precision 'fp32'$"):
        parse_recipe({**BASE, "backends": ["tensorrt"], "precision": "fp16", "quantization": q}, source="q.yaml")
    with pytest.raises(RecipeError, match="need precision 'fp32'"):  # the Jetson preset's fp16, too
        parse_recipe({**BASE, "device": "jetson-orin", "quantization": {"drafter": "int4"}})
    assert parse_recipe({**BASE, "device": "jetson-orin", "precision": "fp32", "quantization": q}).precision == "fp32"
