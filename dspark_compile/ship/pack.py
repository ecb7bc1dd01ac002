"""`pack` / `unpack`: a bundle as one tar file that travels, checked on both ends.

`pack` verifies the bundle (every listed file's size and sha256) and writes the manifest and exactly the
files it lists, under their relative paths, with neutral owners, modes and times. `unpack` accepts only
regular files with relative paths inside the archive, extracts into a hidden sibling folder, verifies it
with the same check `Runtime.load` runs (`bundle.verify_bundle`), and only then moves it into place: a
truncated or altered archive (one flipped byte) is refused and leaves nothing behind. Plain `tar` works too
(`tar -C BUNDLE -cf FILE.tar .` / `tar -xf`), then `dspark-compile inspect DIR` does the verification.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from dspark_compile.bundle import MANIFEST, Bundle, load_bundle, move_into_place
from dspark_compile.errors import BundleError

_CHUNK = 1 << 22


def pack_bundle(bundle_root: str | Path, out: str | Path, force: bool = False) -> tuple[Path, Bundle]:
    """Write the verified bundle at `bundle_root` to the tar file `out` (atomically); returns (out, bundle)."""
    bundle = load_bundle(bundle_root)
    out = Path(out).resolve()
    if out.exists() and not force:
        raise BundleError(f"{out} already exists; pass --force to replace it")
    if out.is_relative_to(bundle.root.resolve()):
        raise BundleError(f"{out}: the archive cannot be written inside the bundle it packs")
    names = [MANIFEST, *sorted(bundle.manifest["files"])]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.partial-", dir=out.parent)
    try:
        with open(fd, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in names:
                info = tar.gettarinfo(str(bundle.path(name)), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode, info.mtime = 0o644, 0
                with bundle.path(name).open("rb") as src:
                    tar.addfile(info, src)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out, bundle


def _member_path(archive: Path, member: tarfile.TarInfo) -> PurePosixPath:
    """The member's relative path; anything but a regular file at a relative path inside is refused."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or not name.parts or name.parts[0] == "":
        raise BundleError(f"{archive}: member '{member.name}' is not a relative path inside the bundle")
    if member.isdir():
        return name
    if not member.isfile():
        raise BundleError(f"{archive}: member '{member.name}' is a link or special file; a bundle holds only "
                          "regular files")
    return name


def unpack_bundle(archive: str | Path, dest: str | Path, force: bool = False) -> Bundle:
    """Extract and verify the bundle in `archive` to `dest`; nothing is left at `dest` unless it verifies."""
    archive, dest = Path(archive), Path(dest).resolve()
    if not archive.is_file():
        raise BundleError(f"{archive}: no such archive")
    if dest.exists() and not force:
        raise BundleError(f"{dest} already exists; pass --force to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, mode="r:*") as tar:
                for member in tar:
                    name = _member_path(archive, member)
                    target = stage.joinpath(*name.parts).resolve()
                    if not target.is_relative_to(stage.resolve()):
                        raise BundleError(f"{archive}: member '{member.name}' points outside the bundle")
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if target.exists():
                        raise BundleError(f"{archive}: member '{member.name}' appears twice")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    with target.open("wb") as f:
                        while block := src.read(_CHUNK):
                            f.write(block)
                    target.chmod(0o644)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BundleError(f"{archive}: not a readable tar archive ({exc})") from None
        if not (stage / MANIFEST).is_file():
            raise BundleError(f"{archive}: no {MANIFEST} at the top of the archive; this is not a packed bundle")
        try:
            load_bundle(stage)  # the check Runtime.load runs: manifest digest, confined paths, no unlisted file,
            # every listed file's size and sha256
        except BundleError as exc:
            raise BundleError(str(exc).replace(str(stage), str(archive))) from None
        stage.chmod(0o755)
        for path in stage.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
        move_into_place(stage, dest)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return load_bundle(dest, verify=False)
