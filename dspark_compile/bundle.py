"""Bundles: a directory of engines, tokenizer and a manifest with checksums, written atomically.

Layout:
    manifest.json      schema version, resolved recipe, model dimensions, engines and their I/O,
                       every other file with sha256 and size, tool and library versions
    target.onnx        the target graph (+ target.onnx.data when weights exceed 2 GB)
    tokenizer/         transformers tokenizer files
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Iterator

from dspark_compile.errors import BundleError

MANIFEST = "manifest.json"
SCHEMA_VERSION = 5
"""2: head-major KV I/O ([B, Hkv, P, D] past, [B, Hkv, T, D] new); 3: manifest digest; 4: the cost
table's drafter times per sampling mode and per absorbed position (`runtime/cost_table.py`), which the
guard requires; 5: DraftSample and Verify version 2 (q_full over the draft vocabulary, Verify's
`draft_vocab` input)."""
DIGEST_KEY = "manifest_sha256"
_VERSIONED = ("dspark-compile", "torch", "transformers", "onnx", "onnxscript", "onnxruntime", "numpy", "tensorrt")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder: over each file's relative path and sha256, in sorted order. Records
    what a build used (a drafter checkpoint, a model folder) by content instead of by the builder's path."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
    return digest.hexdigest()


def engine_digest(checksums: Iterable[str]) -> str:
    """One sha256 over the sha256s of an engine's files, in the manifest's order: what a cost table is bound to."""
    return hashlib.sha256("".join(checksums).encode()).hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the tools that shaped a bundle (absent libraries are left out)."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


class BundleWriter:
    """Collect files in a temporary sibling folder; `commit` checksums them and renames atomically.

    Used as a context manager: an exception inside the block (SIGTERM and Ctrl-C included, see cli.main)
    removes the temporary folder, so a failed build never leaves a half bundle behind, and an existing
    bundle at the destination is only replaced once the new one is complete. It never destroys what it
    did not create: `overwrite` replaces only a folder holding a bundle manifest, and never the current
    folder, a folder above it or above any of `protect` (e.g. the recipe's folder). A lock file beside the
    destination stops two builds racing to one output; holding it, the writer sweeps the partial and old
    folders that killed builds (kill -9) left beside the destination, naming each in `notify`.
    """

    def __init__(self, dest: Path, overwrite: bool = False, protect: tuple[Path, ...] = (),
                 notify: Callable[[str], None] = lambda message: None):
        given = Path(dest)
        self.dest = given.resolve()
        self._check_destination(given, overwrite, protect)
        try:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BundleError(f"{given}: cannot create its parent folder: {_os_reason(exc)}") from None
        self._lock = _DestinationLock(self.dest)
        try:
            self._sweep(notify)
            self.root = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.partial-", dir=self.dest.parent))
        except BaseException:
            self._lock.release()
            raise

    def _check_destination(self, given: Path, overwrite: bool, protect: tuple[Path, ...]) -> None:
        dest = self.dest
        guarded = [Path.cwd().resolve(), *(Path(p).resolve() for p in protect)]
        if any(dest == g or dest in g.parents for g in guarded):
            raise BundleError(f"{given}: refusing to write a bundle over the current folder, the recipe's folder "
                              "or a folder above them; choose a new folder for -o")
        if not (given.exists() or given.is_symlink()):
            return
        if given.is_symlink():
            raise BundleError(f"{given} is a symbolic link; give the bundle folder itself (or a new path) to -o")
        if not overwrite:
            raise BundleError(f"{given} already exists; pass --force to replace it")
        if not is_bundle(dest):
            what = "a file" if not dest.is_dir() else f"a folder without {MANIFEST}"
            raise BundleError(f"{given} is {what}, not a bundle: --force replaces only a bundle; choose another "
                              "-o or remove it yourself")

    def _sweep(self, notify: Callable[[str], None]) -> None:
        """Remove what interrupted builds to this destination left (we hold its lock: no build is running)."""
        for left in sorted(self.dest.parent.glob(f".{self.dest.name}.partial-*")) + \
                sorted(self.dest.parent.glob(f".{self.dest.name}.old-*")):
            if left.is_dir() and not left.is_symlink():
                notify(f"removing {left}, left by an interrupted build")
                shutil.rmtree(left, ignore_errors=True)

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.root.exists():
                shutil.rmtree(self.root, ignore_errors=True)
        finally:
            self._lock.release()

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write manifest.json (adding schema, files, versions and its digest) and move the bundle into place."""
        files = {}
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            rel = path.relative_to(self.root).as_posix()
            files[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
        full = {
            "schema_version": SCHEMA_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **manifest,
            "files": files,
            "versions": library_versions(),
        }
        write_manifest(self.root, full)
        # mkdtemp and some writers create private files; a bundle is meant to be shared and served
        self.root.chmod(0o755)
        for path in self.root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        return move_into_place(self.root, self.dest)


class _DestinationLock:
    """An exclusive, non-blocking flock on `.NAME.lock` beside the destination, removed on release."""

    def __init__(self, dest: Path):
        import fcntl

        self.path = dest.with_name(f".{dest.name}.lock")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BundleError(f"{dest}: cannot write beside it: {_os_reason(exc)}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # the holder before us may have removed the file after we opened it: then it is not our lock
            if os.fstat(self.fd).st_ino != os.stat(self.path).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(self.fd)
            raise BundleError(f"{dest}: another build is writing this bundle (lock {self.path} is held); wait "
                              "for it to finish or choose another -o") from None

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


def _os_reason(exc: OSError) -> str:
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def is_bundle(folder: Path) -> bool:
    """Whether `folder` holds a bundle manifest (any schema version): the only kind of folder --force replaces."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "schema_version" in manifest and "files" in manifest


@contextlib.contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """`with replaced_atomically(p) as tmp:` write `tmp` (a sibling of p); when the block succeeds it replaces p
    in one rename (readers see the old file or the new one, never half of one), readable by all; when it
    fails, p is untouched and tmp removed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        tmp.chmod(0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def move_into_place(src: Path, dest: Path) -> Path:
    """Rename the complete folder `src` to `dest` (a sibling), replacing what is there: readers see the old
    folder or the new one, never a mixture. (If the old one cannot be removed, the next build sweeps it.)"""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        dest.rename(old)
        src.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        src.rename(dest)
    return dest


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, no spaces), its own `manifest_sha256` left out."""
    body = {k: v for k, v in manifest.items() if k != DIGEST_KEY}
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except ValueError as exc:
        raise BundleError(f"the manifest holds a value JSON cannot carry: {exc}") from None
    return hashlib.sha256(text.encode()).hexdigest()


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Store `manifest` (with its digest) in root/manifest.json, replacing the old one atomically.
    Every tool that changes a manifest writes it through here, or the bundle no longer verifies."""
    manifest[DIGEST_KEY] = manifest_digest(manifest)
    try:
        with replaced_atomically(Path(root) / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    except OSError as exc:
        raise BundleError(f"{root}: cannot write {MANIFEST}: {_os_reason(exc)}") from None


def engine_role(role: str, backend: str) -> str:
    """Manifest engine key: the ONNX graphs are 'verify' / 'drafter', their TensorRT plans 'verify_tensorrt'."""
    return role if backend == "onnxruntime" else f"{role}_{backend}"


def costs_key(backend: str) -> str:
    """Manifest key of the cost table measured with this backend's engines (`measure-costs --backend`)."""
    return "costs" if backend == "onnxruntime" else f"costs_{backend}"


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    root: Path
    manifest: dict[str, Any]

    def path(self, rel: str) -> Path:
        return self.root / rel

    @property
    def recipe(self) -> dict[str, Any]:
        return self.manifest["recipe"]

    @property
    def model(self) -> dict[str, Any]:
        return self.manifest["model"]

    def engine(self, role: str) -> dict[str, Any]:
        try:
            return self.manifest["engines"][role]
        except KeyError:
            raise BundleError(f"{self.root}: the bundle has no '{role}' engine "
                              f"(it has: {', '.join(self.manifest.get('engines', {}))})") from None


def load_bundle(root: str | Path, verify: bool = True) -> Bundle:
    """Open a bundle after `verify_bundle`; verify=False skips only the files' sha256 (the slow part)."""
    return Bundle(root=Path(root), manifest=verify_bundle(root, checksums=verify))


MAX_MANIFEST_BYTES = 64 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def verify_bundle(root: str | Path, checksums: bool = True) -> dict[str, Any]:
    """Check the bundle at `root` as a whole and return its manifest; BundleError names the first problem.

    Covered: the manifest's own content (`manifest_sha256`, a digest of its canonical JSON, so no field
    can be edited, added or dropped unnoticed), its schema version and shape; every path it names (the
    `files` keys, each engine's files, the tokenizer folder) is relative, normalised and inside the
    bundle, with no symbolic link anywhere in the bundle; every engine file is listed; no file in the
    bundle is unlisted (so the tokenizer folder cannot grow an `added_tokens.json`); every listed file
    has its recorded size and (with `checksums`) sha256. Not covered: files and manifest rewritten together
    with a recomputed digest. This is tamper-evidence against accidents and simple edits, not a signature.
    """
    given = Path(root)
    if not given.is_dir():
        raise BundleError(f"{given}: no bundle directory here (build one with: dspark-compile build RECIPE -o {given})")
    root = given.resolve()
    manifest = _read_manifest(given, root / MANIFEST)
    mpath = given / MANIFEST
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(f"{mpath}: schema_version {version!r} is not supported (this dspark-compile reads "
                          f"version {SCHEMA_VERSION}); rebuild the bundle with this version")
    if manifest.get(DIGEST_KEY) != manifest_digest(manifest):
        raise BundleError(f"{mpath}: the manifest was changed after the build (its {DIGEST_KEY} does not match "
                          "its content); rebuild the bundle")
    files = _check_shape(mpath, manifest)
    for rel in files:
        _confined(given, root, rel, "file")
    for role, eng in manifest["engines"].items():
        for rel in eng["files"]:
            if rel not in files:
                raise BundleError(f"{mpath}: engine '{role}' names the file {rel!r}, which the manifest's files "
                                  "do not list (every file the runtime opens must be listed and hashed)")
    if not _confined(given, root, manifest["tokenizer"], "tokenizer folder").is_dir():
        raise BundleError(f"{given}: the tokenizer folder {manifest['tokenizer']!r} is missing")
    _check_listing(given, root, files)
    verify_files(given, files, checksums)
    return manifest


def _read_manifest(given: Path, mpath: Path) -> dict[str, Any]:
    if mpath.is_symlink() or not mpath.is_file():
        raise BundleError(f"{given}: {MANIFEST} is missing; this is not a bundle or it was not fully written")
    if mpath.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{given / MANIFEST}: larger than {MAX_MANIFEST_BYTES >> 20} MiB; not a manifest")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"a key is given twice: {sorted(k for k in set(keys) if keys.count(k) > 1)}")
        return dict(pairs)

    try:
        manifest = json.loads(mpath.read_bytes().decode("utf-8"), object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{given / MANIFEST}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{given / MANIFEST}: a manifest is a JSON object, got {type(manifest).__name__}")
    return manifest


def _check_shape(mpath: Path, m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The keys every reader relies on, with their types; returns `files`."""
    for key, kind in (("recipe", dict), ("model", dict), ("engines", dict), ("files", dict), ("tokenizer", str)):
        if key not in m:
            raise BundleError(f"{mpath}: the key '{key}' is missing")
        if not isinstance(m[key], kind):
            raise BundleError(f"{mpath}: '{key}' must be a JSON {'object' if kind is dict else 'string'}")
    for rel, meta in m["files"].items():
        ok = isinstance(meta, dict) and set(meta) == {"sha256", "size"} and isinstance(meta["sha256"], str) \
            and _SHA256.match(meta["sha256"]) \
            and type(meta.get("size")) is int and meta["size"] >= 0
        if not ok:
            raise BundleError(f"{mpath}: files[{rel!r}] must be {{\"sha256\": 64 hex digits, \"size\": bytes}}")
    if not m["engines"]:
        raise BundleError(f"{mpath}: 'engines' is empty")
    for role, eng in m["engines"].items():
        if not (isinstance(eng, dict) and isinstance(eng.get("backend"), str) and isinstance(eng.get("files"), list)
                and eng["files"] and all(isinstance(f, str) for f in eng["files"])):
            raise BundleError(f"{mpath}: engines[{role!r}] must name a 'backend' and a non-empty list of 'files'")
    return m["files"]


def _confined(given: Path, root: Path, rel: Any, what: str) -> Path:
    """root/rel for a manifest path that is relative, normalised, inside the bundle and free of symlinks."""
    pure = PurePosixPath(rel) if isinstance(rel, str) else None
    if pure is None or not rel or "\\" in rel or pure.is_absolute() or pure.as_posix() != rel or not pure.parts \
            or any(part in ("..", ".") for part in pure.parts):
        raise BundleError(f"{given}: the manifest names the {what} {rel!r}; paths in a bundle are relative, "
                          "normalised and stay inside it (no absolute path, no '..')")
    path = root
    for part in pure.parts:
        path = path / part
        if path.is_symlink():
            raise BundleError(f"{given}: {path.relative_to(root).as_posix()!r} is a symbolic link; a bundle holds "
                              "its files itself (no link may lead out of it)")
    return path


def _check_listing(given: Path, root: Path, files: dict[str, Any]) -> None:
    """No symlink and no unlisted file anywhere in the bundle: nothing is read that is not hashed."""
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise BundleError(f"{given}: {rel!r} is a symbolic link; a bundle holds its files itself")
            if not stat.S_ISDIR(mode) and rel != MANIFEST and rel not in files:
                raise BundleError(f"{given}: {rel!r} is not listed in the manifest; a bundle holds only the files "
                                  "its manifest lists and hashes (remove it, or rebuild the bundle)")


def verify_files(root: Path, files: dict[str, dict[str, Any]], checksums: bool = True) -> None:
    """Every listed file must be a regular file with the recorded size and (with `checksums`) sha256."""
    for rel, meta in files.items():
        path = Path(root) / rel
        if not path.is_file():
            raise BundleError(f"{root}: file '{rel}' listed in the manifest is missing")
        size = path.stat().st_size
        if size != meta["size"]:
            raise BundleError(f"{root}: file '{rel}' has {size} bytes, the manifest says {meta['size']} "
                              "(truncated or replaced)")
        if checksums and sha256_file(path) != meta["sha256"]:
            raise BundleError(f"{root}: file '{rel}' does not match its sha256 in the manifest (altered)")
