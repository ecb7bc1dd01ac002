"""A bundle is verified as a whole: the manifest's own content, every path it names, every file in the folder.

Each test tampers with one thing and expects a refusal naming it. All but the missing-file and altered-file
cases were accepted before the manifest digest and the listing check (schema 3).
"""

import json
import os
import shutil

import pytest

from dspark_compile.bundle import (DIGEST_KEY, MANIFEST, BundleWriter, load_bundle, manifest_digest, verify_bundle,
                                   write_manifest)
from dspark_compile.errors import BundleError

BODY = {"recipe": {"name": "x"}, "model": {"eos_token_ids": [2], "max_context": 256}, "tokenizer": "tokenizer",
        "engines": {"target": {"backend": "onnxruntime", "files": ["target.onnx"]}}, "costs": {"ms": [[1.0]]}}


def _bundle(dest):
    with BundleWriter(dest) as w:
        (w.root / "target.onnx").write_bytes(b"graph" * 100)
        (w.root / "tokenizer").mkdir()
        (w.root / "tokenizer" / "tokenizer.json").write_text("{}")
        return w.commit(json.loads(json.dumps(BODY)))


def _manifest(path):
    return json.loads((path / MANIFEST).read_text())


def _save(path, m, redigest: bool):
    """Write an edited manifest: as a hand edit (digest left stale) or as a tool that recomputes it would."""
    if redigest:
        write_manifest(path, m)
    else:
        (path / MANIFEST).write_text(json.dumps(m, indent=2))


@pytest.fixture
def bundle(tmp_path):
    return _bundle(tmp_path / "b")


def test_a_fresh_bundle_verifies_and_carries_its_digest(bundle):
    m = verify_bundle(bundle)
    assert m[DIGEST_KEY] == manifest_digest(m) and len(m[DIGEST_KEY]) == 64


@pytest.mark.parametrize("edit", [
    lambda m: m["model"].update(eos_token_ids=[5]),
    lambda m: m["model"].update(max_context=1 << 20),
    lambda m: m["costs"]["ms"][0].__setitem__(0, 0.001),
    lambda m: m["recipe"].update(name="y"),
    lambda m: m.pop(DIGEST_KEY),
    lambda m: m.update(extra=1),
])
def test_any_edit_of_the_manifest_is_refused(bundle, edit):
    # before: unhashed fields (costs, eos, max_context, vocab) could be edited freely
    m = _manifest(bundle)
    edit(m)
    _save(bundle, m, redigest=False)
    with pytest.raises(BundleError, match="the manifest was changed after the build"):
        load_bundle(bundle)


def test_dropping_a_file_from_the_list_and_altering_it_is_refused(bundle):
    # before: `inspect` said "checksums ok" and `run` exited 0 with garbage
    m = _manifest(bundle)
    del m["files"]["tokenizer/tokenizer.json"]
    (bundle / "tokenizer" / "tokenizer.json").write_text('{"altered": true}')
    _save(bundle, m, redigest=False)
    with pytest.raises(BundleError, match="the manifest was changed"):
        load_bundle(bundle)
    _save(bundle, m, redigest=True)  # even with the digest recomputed: the file is no longer listed
    with pytest.raises(BundleError, match="'tokenizer/tokenizer.json' is not listed in the manifest"):
        load_bundle(bundle)


def test_an_unlisted_file_is_refused_never_read(bundle):
    # before: an unlisted tokenizer/added_tokens.json silently changed tokenization
    (bundle / "tokenizer" / "added_tokens.json").write_text('{"hello": 7}')
    with pytest.raises(BundleError, match="'tokenizer/added_tokens.json' is not listed in the manifest"):
        load_bundle(bundle, verify=False)


@pytest.mark.parametrize("bad", ["/tmp/target.onnx", "../other/target.onnx", "./target.onnx", "a/../target.onnx",
                                 "a//target.onnx", "", "tokenizer\\x", 7])
def test_paths_outside_or_not_normalised_are_refused(bundle, bad):
    # before: a `files` key could point outside the bundle (and be hashed there)
    m = _manifest(bundle)
    m["files"][bad if isinstance(bad, str) else str(bad)] = dict(m["files"]["target.onnx"])
    if not isinstance(bad, str):
        m["tokenizer"] = bad
    _save(bundle, m, redigest=True)
    with pytest.raises(BundleError, match="relative, normalised|'tokenizer' must be a JSON string"):
        load_bundle(bundle)


@pytest.mark.parametrize("bad", ["/tmp/evil/target.onnx", "../evil/target.onnx", "target2.onnx"])
def test_engine_files_must_be_listed(tmp_path, bundle, bad):
    # before: an absolute or '..' engine path to an altered copy outside the bundle loaded unverified
    evil = tmp_path / "evil"
    evil.mkdir()
    shutil.copy(bundle / "target.onnx", evil / "target.onnx")
    m = _manifest(bundle)
    m["engines"]["target"]["files"] = [bad]
    _save(bundle, m, redigest=True)
    with pytest.raises(BundleError, match=f"engine 'target' names the file '{bad}', which the manifest's files do not"):
        load_bundle(bundle)


def test_a_symlinked_tokenizer_folder_is_refused(tmp_path, bundle):
    # before: a tokenizer folder that is a symlink to elsewhere was accepted
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(bundle / "tokenizer", elsewhere)
    shutil.rmtree(bundle / "tokenizer")
    os.symlink(elsewhere, bundle / "tokenizer")
    with pytest.raises(BundleError, match="'tokenizer' is a symbolic link"):
        load_bundle(bundle)


def test_a_symlinked_file_with_the_right_content_is_refused(tmp_path, bundle):
    copy = tmp_path / "copy.onnx"
    shutil.copy(bundle / "target.onnx", copy)
    (bundle / "target.onnx").unlink()
    os.symlink(copy, bundle / "target.onnx")
    with pytest.raises(BundleError, match="'target.onnx' is a symbolic link"):
        load_bundle(bundle)


def test_a_symlinked_manifest_is_refused(tmp_path, bundle):
    shutil.copy(bundle / MANIFEST, tmp_path / "m.json")
    (bundle / MANIFEST).unlink()
    os.symlink(tmp_path / "m.json", bundle / MANIFEST)
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(bundle)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["files"]["target.onnx"].pop("size"), r"files\['target.onnx'\] must be"),
    (lambda m: m["files"]["target.onnx"].update(size="500"), r"files\['target.onnx'\] must be"),
    (lambda m: m["files"]["target.onnx"].update(sha256="00"), r"files\['target.onnx'\] must be"),
    (lambda m: m.update(files=[]), "'files' must be a JSON object"),
    (lambda m: m.pop("engines"), "the key 'engines' is missing"),
    (lambda m: m.update(engines={}), "'engines' is empty"),
    (lambda m: m["engines"]["target"].update(files="target.onnx"), r"engines\['target'\] must name"),
])
def test_malformed_entries_are_bundle_errors(bundle, edit, message):
    # before: a manifest entry without `size` was a KeyError traceback
    m = _manifest(bundle)
    edit(m)
    _save(bundle, m, redigest=True)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def test_duplicate_keys_in_the_manifest_are_refused(bundle):
    text = (bundle / MANIFEST).read_text()
    (bundle / MANIFEST).write_text(text.replace('"recipe":', '"tokenizer": "x",\n  "recipe":', 1))
    with pytest.raises(BundleError, match=r"not valid JSON \(a key is given twice: \['tokenizer'\]\)"):
        load_bundle(bundle)


def test_the_real_tokenizer_sees_no_unlisted_added_tokens(tmp_path, tiny_bundles):
    """With a real tiny bundle: an added_tokens.json that would change tokenization is refused at load."""
    from dspark_compile.runtime.api import Runtime

    copy = tmp_path / "b"
    shutil.copytree(tiny_bundles("llama"), copy)
    (copy / "tokenizer" / "added_tokens.json").write_text(json.dumps({"hello": 3}))
    with pytest.raises(BundleError, match="'tokenizer/added_tokens.json' is not listed"):
        Runtime.load(copy)
