"""pack / unpack: a bundle travels as one tar file, verified on both ends; nothing is left behind on refusal."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from click.testing import CliRunner

from dspark_compile.bundle import MANIFEST, load_bundle
from dspark_compile.cli import cli
from dspark_compile.errors import BundleError
from dspark_compile.ship.pack import pack_bundle, unpack_bundle


@pytest.fixture(scope="module")
def packed(tiny_bundles, tmp_path_factory):
    out, _ = pack_bundle(tiny_bundles("llama"), tmp_path_factory.mktemp("pack") / "tiny.tar")
    return out


def test_round_trip_keeps_every_listed_file_and_only_those(packed, tiny_bundles, tmp_path):
    src = load_bundle(tiny_bundles("llama"))
    with tarfile.open(packed) as tar:
        names = tar.getnames()
        assert all(m.uid == 0 and m.mtime == 0 and m.isfile() for m in tar.getmembers())
    assert names == [MANIFEST, *sorted(src.manifest["files"])]
    assert all(not n.startswith("/") and ".." not in n for n in names)
    out = unpack_bundle(packed, tmp_path / "b")
    assert out.manifest == src.manifest
    assert sorted(p.relative_to(out.root).as_posix() for p in out.root.rglob("*") if p.is_file()) == sorted(names)
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # the staging folder is gone


def _flip_byte_in(archive, member: str, dest):
    """A copy of `archive` with one byte of `member`'s data flipped."""
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        info = tar.getmember(member)
    data[info.offset_data + info.size // 2] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


def test_a_flipped_byte_is_refused_and_nothing_is_left(packed, tmp_path):
    bad = _flip_byte_in(packed, "target.weights", tmp_path / "bad.tar")
    with pytest.raises(BundleError, match=r"bad.tar: file 'target.weights' does not match its sha256"):
        unpack_bundle(bad, tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar"]


def test_cli_round_trip_and_refusal(packed, tiny_bundles, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["pack", str(tiny_bundles("llama")), "-o", str(tmp_path / "t.tar")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t.tar").read_bytes() == packed.read_bytes()  # deterministic
    res = runner.invoke(cli, ["unpack", str(tmp_path / "t.tar"), "-o", str(tmp_path / "b")])
    assert res.exit_code == 0 and "verified (sha256)" in res.output, res.output
    res = runner.invoke(cli, ["unpack", str(tmp_path / "t.tar"), "-o", str(tmp_path / "b")])
    assert isinstance(res.exception, BundleError) and "already exists" in str(res.exception)


def _tar_with(tmp_path, add) -> "Path":
    path = tmp_path / "crafted.tar"
    with tarfile.open(path, "w") as tar:
        add(tar)
    return path


def _file(tar, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("name", ["/etc/evil", "../evil", "a/../../evil"])
def test_members_outside_the_bundle_are_refused(tmp_path, name):
    archive = _tar_with(tmp_path, lambda tar: _file(tar, name))
    with pytest.raises(BundleError, match="not a relative path inside the bundle"):
        unpack_bundle(archive, tmp_path / "b")
    assert not (tmp_path / "b").exists() and not (tmp_path / "evil").exists()


def test_links_and_unlisted_files_are_refused(packed, tmp_path):
    def link(tar):
        info = tarfile.TarInfo("tokenizer")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(info)

    with pytest.raises(BundleError, match="link or special file"):
        unpack_bundle(_tar_with(tmp_path, link), tmp_path / "b")
    extra = tmp_path / "extra.tar"
    extra.write_bytes(packed.read_bytes())
    with tarfile.open(extra, "a") as tar:
        _file(tar, "surprise.py", b"import os")
    with pytest.raises(BundleError, match="'surprise.py' is not listed in the manifest"):
        unpack_bundle(extra, tmp_path / "b")
    with pytest.raises(BundleError, match="no manifest.json"):
        unpack_bundle(_tar_with(tmp_path, lambda tar: _file(tar, "target.onnx")), tmp_path / "b")
    (tmp_path / "junk.tar").write_bytes(b"not a tar file at all")
    with pytest.raises(BundleError, match="not a readable tar archive"):
        unpack_bundle(tmp_path / "junk.tar", tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_pack_refuses_an_altered_bundle(tiny_bundles, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_bundles("llama"), copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / "drafter.onnx").write_bytes(b"\0" * manifest["files"]["drafter.onnx"]["size"])
    with pytest.raises(BundleError, match="drafter.onnx' does not match its sha256"):
        pack_bundle(copy, tmp_path / "x.tar")
    assert not (tmp_path / "x.tar").exists()
