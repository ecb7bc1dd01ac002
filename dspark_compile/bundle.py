"""Bundles: a directory of engines, tokenizer and a manifest with checksums, written atomically.

Layout:
    manifest.json      schema version, resolved recipe, model dimensions, engines and their I/O,
                       every other file with sha256 and size, tool and library versions
    target.onnx        the target graph (+ target.onnx.data when weights exceed 2 GB)
    tokenizer/         transformers tokenizer files
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from dspark_compile.errors import BundleError

MANIFEST = "manifest.json"
SCHEMA_VERSION = 2  # 2: head-major KV I/O ([B, Hkv, P, D] past, [B, Hkv, T, D] new)
_VERSIONED = ("dspark-compile", "torch", "transformers", "onnx", "onnxscript", "onnxruntime", "numpy", "tensorrt")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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

    Used as a context manager: an exception inside the block removes the temporary folder, so a
    failed build never leaves a half bundle behind, and an existing bundle at the destination is
    only replaced once the new one is complete.
    """

    def __init__(self, dest: Path, overwrite: bool = False):
        self.dest = Path(dest).resolve()
        if self.dest.exists() and not overwrite:
            raise BundleError(f"{self.dest} already exists; pass --force to replace it")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.partial-", dir=self.dest.parent))

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write manifest.json (adding schema, files and versions) and move the bundle into place."""
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
        (self.root / MANIFEST).write_text(json.dumps(full, indent=2) + "\n")
        # mkdtemp and some writers create private files; a bundle is meant to be shared and served
        self.root.chmod(0o755)
        for path in self.root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        return move_into_place(self.root, self.dest)


def move_into_place(src: Path, dest: Path) -> Path:
    """Rename the complete folder `src` to `dest` (a sibling), replacing what is there: readers see the old
    folder or the new one, never a mixture."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        dest.rename(old)
        src.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        src.rename(dest)
    return dest


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
    """Open a bundle, check its schema version and (by default) every file's size and sha256."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"{root}: no bundle directory here (build one with: dspark-compile build RECIPE -o {root})")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{root}: {MANIFEST} is missing; this is not a bundle or it was not fully written")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{mpath}: not valid JSON ({exc})") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version != SCHEMA_VERSION:
        raise BundleError(f"{mpath}: schema_version {version!r} is not supported (this dspark-compile reads "
                          f"version {SCHEMA_VERSION}); rebuild the bundle with this version")
    for key in ("recipe", "model", "engines", "files"):
        if key not in manifest:
            raise BundleError(f"{mpath}: the key '{key}' is missing")
    if verify:
        verify_files(root, manifest["files"])
    return Bundle(root=root, manifest=manifest)


def verify_files(root: Path, files: dict[str, dict[str, Any]]) -> None:
    """Every listed file must exist with the recorded size and sha256."""
    for rel, meta in files.items():
        path = root / rel
        if not path.is_file():
            raise BundleError(f"{root}: file '{rel}' listed in the manifest is missing")
        size = path.stat().st_size
        if size != meta["size"]:
            raise BundleError(f"{root}: file '{rel}' has {size} bytes, the manifest says {meta['size']} "
                              "(truncated or replaced)")
        if sha256_file(path) != meta["sha256"]:
            raise BundleError(f"{root}: file '{rel}' does not match its sha256 in the manifest (altered)")
