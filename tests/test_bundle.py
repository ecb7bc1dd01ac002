import json

import pytest

from dspark_compile.bundle import MANIFEST, SCHEMA_VERSION, BundleWriter, load_bundle
from dspark_compile.errors import BundleError

MANIFEST_BODY = {"recipe": {"name": "x"}, "model": {}, "tokenizer": "tokenizer",
                 "engines": {"target": {"backend": "onnxruntime", "files": ["target.onnx"]}}}


def _write(dest, overwrite=False):
    with BundleWriter(dest, overwrite=overwrite) as w:
        (w.root / "target.onnx").write_bytes(b"graph" * 100)
        (w.root / "tokenizer").mkdir()
        (w.root / "tokenizer" / "tokenizer.json").write_text("{}")
        return w.commit(dict(MANIFEST_BODY))


def test_round_trip_records_every_file(tmp_path):
    path = _write(tmp_path / "b")
    b = load_bundle(path)
    assert set(b.manifest["files"]) == {"target.onnx", "tokenizer/tokenizer.json"}
    assert b.manifest["files"]["target.onnx"]["size"] == 500
    assert b.manifest["schema_version"] == SCHEMA_VERSION and "onnx" in b.manifest["versions"]
    assert b.engine("target")["backend"] == "onnxruntime"
    with pytest.raises(BundleError, match="has no 'draft' engine"):
        b.engine("draft")


def test_failed_build_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with BundleWriter(tmp_path / "b") as w:
            (w.root / "target.onnx").write_bytes(b"half")
            raise RuntimeError("export failed")
    assert list(tmp_path.iterdir()) == []


def test_existing_bundle_needs_overwrite_and_survives_failure(tmp_path):
    path = _write(tmp_path / "b")
    with pytest.raises(BundleError, match="already exists"):
        BundleWriter(path)
    with pytest.raises(RuntimeError):
        with BundleWriter(path, overwrite=True):
            raise RuntimeError("boom")
    load_bundle(path)  # the old bundle is intact
    _write(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda p: (p / "target.onnx").unlink(), "'target.onnx' listed in the manifest is missing"),
        (lambda p: (p / "target.onnx").write_bytes(b"graph" * 50), "'target.onnx' has 250 bytes"),
        (lambda p: (p / "target.onnx").write_bytes(b"grapH" * 100), "'target.onnx' does not match its sha256"),
        (lambda p: (p / MANIFEST).unlink(), "manifest.json is missing"),
        (lambda p: (p / MANIFEST).write_text("{"), "not valid JSON"),
    ],
)
def test_tampered_bundles_are_refused(tmp_path, tamper, message):
    path = _write(tmp_path / "b")
    tamper(path)
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


def test_unknown_schema_version(tmp_path):
    path = _write(tmp_path / "b")
    m = json.loads((path / MANIFEST).read_text())
    m["schema_version"] = 99
    (path / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BundleError, match="schema_version 99 is not supported"):
        load_bundle(path)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no bundle directory here"):
        load_bundle(tmp_path / "missing")
