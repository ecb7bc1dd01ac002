"""Bounded fuzzing (hypothesis, derandomized: the same cases every run) of recipes and manifests.

Whatever the mutation, the only outcomes are success or the typed error (RecipeError, BundleError): never
another exception (which the CLI would show as an internal error). And where the mutation surely broke the
input (an unknown key, a value of the wrong kind, any edit of a manifest whose digest was not recomputed,
any change to the file list or the paths), success is a failure of the test: no silent success.
"""

import copy
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspark_compile.bundle import MANIFEST, verify_bundle, write_manifest
from dspark_compile.config import load_recipe
from dspark_compile.errors import BundleError, RecipeError
from dspark_compile.sources import random_hf_config
from tests.helpers import RECIPES
from tests.test_bundle_integrity import _bundle

FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.sampled_from([0, 1, 2, 7, 32, 4096]),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                   st.sampled_from(["off", "auto", "fp16", "llama", "../x", "/etc/passwd", "", "tensorrt"]),
                   st.lists(st.integers(-3, 40), max_size=4), st.dictionaries(st.text(max_size=4), st.integers(),
                                                                               max_size=2))


def _paths(tree, prefix=()):
    """Every key path into nested dicts and lists."""
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, prefix + (i,))
    return out


def _get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def _mutate(tree, data) -> tuple[object, str, object, object]:
    """Apply one random edit; returns (new tree, kind, old value, new value)."""
    tree = copy.deepcopy(tree)
    path = data.draw(st.sampled_from([p for p in _paths(tree) if p]))
    parent, key = _get(tree, path[:-1]), path[-1]
    kind = data.draw(st.sampled_from(["replace", "delete", "add"]))
    old = parent[key]
    if kind == "add" and isinstance(old, dict):
        name = data.draw(st.text(min_size=1, max_size=6).filter(lambda k: k not in old))
        old[name] = data.draw(VALUES)
        return tree, "add", None, old[name]
    if kind == "delete" and isinstance(parent, dict):
        del parent[key]
        return tree, "delete", old, None
    parent[key] = data.draw(VALUES)
    return tree, "replace", old, parent[key]


def _wrong_kind(old, new) -> bool:
    """A value of a kind no recipe key of the old value's kind accepts (so the recipe must be refused)."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if isinstance(old, bool):
        return not isinstance(new, bool)
    if number(old):
        return isinstance(new, (dict, list, bool)) or (isinstance(new, str) and old != "auto")
    if isinstance(old, dict):
        return not isinstance(new, dict)
    return isinstance(new, dict)


TINY = yaml.safe_load((RECIPES / "tiny-llama.yaml").read_text())


@FUZZ
@given(data=st.data())
def test_mutated_recipes_are_accepted_or_refused_with_a_recipe_error(tmp_path, data):
    tree, kind, old, new = _mutate(TINY, data)
    text = yaml.safe_dump(tree, allow_unicode=True)
    if data.draw(st.booleans()):  # and sometimes raw byte damage on top
        raw = bytearray(text.encode())
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        text, kind = bytes(raw), "bytes"
    path = tmp_path / "r.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    try:
        recipe = load_recipe(path)
        if recipe.target.source == "random":
            random_hf_config(recipe.target)  # what the build does first: refused here too, or fine
    except RecipeError:
        return
    assert kind != "add", f"an unknown key was accepted: {new!r}"
    if kind == "replace":
        assert not _wrong_kind(old, new), f"{old!r} replaced by {new!r} was accepted"


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    return _bundle(tmp_path_factory.mktemp("fuzz") / "b")


@FUZZ
@given(data=st.data())
def test_mutated_manifests_are_refused_with_a_bundle_error(tmp_path, small_bundle, data):
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "b"
    shutil.copytree(small_bundle, path)
    original = json.loads((path / MANIFEST).read_text())
    tree, kind, old, new = _mutate(original, data)
    if tree == original:
        return  # (a no-op edit)
    redigest = data.draw(st.booleans())
    try:
        if redigest:
            write_manifest(path, tree)
        else:
            (path / MANIFEST).write_text(json.dumps(tree))
        verify_bundle(path)
    except BundleError:
        return
    assert redigest, f"an edit without a new digest was accepted: {kind} {old!r} -> {new!r}"
    touched = {k for k in original if original.get(k) != tree.get(k)}
    assert not touched & {"files", "tokenizer", "schema_version", "engines"} or _harmless(original, tree), \
        f"a changed file list, path or version was accepted: {kind} {old!r} -> {new!r}"


def _harmless(original, tree) -> bool:
    """Edits to engines that keep every engine's files listed (e.g. a renamed backend) are not breakage of the
    bundle's integrity (the runtime refuses an unknown backend by name)."""
    return all(original.get(k) == tree.get(k) for k in ("files", "tokenizer", "schema_version")) and all(
        isinstance(e, dict) and all(f in tree["files"] for f in e.get("files", [])) for e in tree["engines"].values())
