"""Builds never destroy what they did not create and leave nothing behind: --force replaces only bundles,
interrupted builds are cleaned up or swept, a lock stops two builds to one output, I/O errors are clean."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from dspark_compile.build import build_bundle
from dspark_compile.bundle import BundleWriter, load_bundle
from dspark_compile.errors import BuildError, BundleError
from tests.helpers import RECIPES, tiny_recipe
from tests.test_bundle_integrity import _bundle


def _tree(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


def test_force_never_replaces_the_current_folder_or_its_parents(tmp_path, monkeypatch):
    # before: `build ... -o . --force` deleted the folder's contents and exited 0
    work = tmp_path / "work"
    work.mkdir()
    (work / "precious.txt").write_text("mine")
    monkeypatch.chdir(work)
    for dest in (".", "..", str(work)):
        with pytest.raises(BundleError, match="refusing to write a bundle over the current folder"):
            BundleWriter(dest, overwrite=True)
    assert _tree(tmp_path) == ["work", "work/precious.txt"]


def test_force_never_replaces_the_recipes_folder(tmp_path):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "r.yaml").write_text("x")
    with pytest.raises(BundleError, match="the recipe's folder or a folder above them"):
        BundleWriter(recipes, overwrite=True, protect=(recipes,))
    with pytest.raises(BundleError, match="the recipe's folder or a folder above them"):
        BundleWriter(tmp_path, overwrite=True, protect=(recipes,))
    assert (recipes / "r.yaml").read_text() == "x"


def test_force_replaces_only_a_bundle(tmp_path):
    # before: any existing folder was emptied; a file left `.NAME.old-PID` behind
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(BundleError, match="photos is a folder without manifest.json, not a bundle"):
        BundleWriter(folder, overwrite=True)
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(BundleError, match="notes.txt is a file, not a bundle"):
        BundleWriter(tmp_path / "notes.txt", overwrite=True)
    os.symlink(folder, tmp_path / "link")
    with pytest.raises(BundleError, match="link is a symbolic link"):
        BundleWriter(tmp_path / "link", overwrite=True)
    assert _tree(tmp_path) == ["link", "notes.txt", "photos", "photos/cat.jpg"]
    b = _bundle(tmp_path / "b")
    with BundleWriter(b, overwrite=True) as w:  # a bundle is replaced
        (w.root / "target.onnx").write_bytes(b"new")
    assert ".b.old" not in " ".join(_tree(tmp_path))


def test_leftovers_of_killed_builds_are_swept_with_a_message(tmp_path):
    # before: hidden `.NAME.partial-*` folders (0.9 GB each for SmolLM2) were never removed
    for left in (".b.partial-abc123", ".b.old-4242"):
        (tmp_path / left).mkdir()
        (tmp_path / left / "target.onnx").write_bytes(b"x" * 10)
    (tmp_path / ".other.partial-zzz").mkdir()  # another destination's: not ours to sweep
    heard = []
    _bundle_with_notes(tmp_path / "b", heard.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.partial-zzz", "b"]
    assert [m.split("/")[-1] for m in heard] == [".b.partial-abc123, left by an interrupted build",
                                                  ".b.old-4242, left by an interrupted build"]


def _bundle_with_notes(dest, notify):
    with BundleWriter(dest, notify=notify) as w:
        (w.root / "tokenizer").mkdir()
        (w.root / "tokenizer" / "t.json").write_text("{}")
        (w.root / "target.onnx").write_bytes(b"g")
        return w.commit({"recipe": {}, "model": {}, "tokenizer": "tokenizer",
                         "engines": {"target": {"backend": "onnxruntime", "files": ["target.onnx"]}}})


def test_a_lock_stops_two_builds_to_one_output(tmp_path):
    # before: the second build silently replaced the first
    first = BundleWriter(tmp_path / "b")
    with pytest.raises(BundleError, match="another build is writing this bundle"):
        BundleWriter(tmp_path / "b")
    partial = first.root
    with first:
        pass
    assert not partial.exists() and sorted(tmp_path.iterdir()) == []  # no lock file left either
    BundleWriter(tmp_path / "other").__exit__(None, None, None)  # other outputs are independent
    _bundle(tmp_path / "b")
    load_bundle(tmp_path / "b")


def test_output_whose_parent_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleError, match="cannot create its parent folder"):
        BundleWriter(tmp_path / "file" / "b")
    assert _tree(tmp_path) == ["file"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_io_errors_during_a_build_are_clean_and_leave_nothing(tmp_path, monkeypatch, code):
    # before: a traceback (and, for a full disk, whatever had been written)
    import dspark_compile.export.target as export

    def full_disk(model, root, **options):
        (root / "target.onnx").write_bytes(b"half")
        raise OSError(code, os.strerror(code), str(root / "target.onnx"))

    monkeypatch.setattr(export, "export_target", full_disk)
    with pytest.raises(BuildError, match=f"writing the bundle failed: {os.strerror(code)}"):
        build_bundle(tiny_recipe("llama"), tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_mid_build_removes_the_partial_folder(tmp_path):
    # before: SIGTERM (like kill -9) left the hidden partial folder behind
    proc = subprocess.Popen([sys.executable, "-m", "dspark_compile.cli", "build", str(RECIPES / "tiny-llama.yaml"),
                             "-o", str(tmp_path / "b")], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob(".b.partial-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
