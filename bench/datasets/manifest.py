"""Dataset manifests: exactly which files (bytes) a dataset holds, and one hash for them.

A manifest is the sorted list of (split, label, relative path, bytes,
sha256) over every image and mask. Its hash is stored with every run, so two
results are compared only when they were computed on the same files.

Hashing 10,000 files is the slow part, so digests are cached under
``<cache>/manifests/``, one JSON file per dataset folder, keyed by each
file's relative path, size and ``mtime_ns``: a touched file is rehashed, an
untouched tree costs one ``stat`` per file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.datasets.layout import FileEntry
from bench.errors import DatasetError
from bench.hashing import sha256_file
from bench.paths import cache_dir

MANIFEST_VERSION = 1
_CACHE_VERSION = 1


@dataclass(frozen=True, order=True)
class ManifestEntry:
    """One file of a dataset; ``relpath`` uses forward slashes."""

    split: str
    label: int
    relpath: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The sorted entries of a dataset and their hash."""

    entries: tuple[ManifestEntry, ...]

    @property
    def hash(self) -> str:
        """SHA-256 hex over the canonical text of every entry, in order."""
        digest = hashlib.sha256(f"mias-bench-manifest-v{MANIFEST_VERSION}\n".encode())
        for e in self.entries:
            digest.update(f"{e.split}\t{e.label}\t{e.relpath}\t{e.size}\t{e.sha256}\n".encode())
        return digest.hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for storing beside a run."""
        return {"version": MANIFEST_VERSION, "hash": self.hash, "entries": [asdict(e) for e in self.entries]}

    def __len__(self) -> int:
        return len(self.entries)


def cache_file(root: Path) -> Path:
    """Where the digests of the dataset at ``root`` are cached."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    return cache_dir() / "manifests" / f"{key}.json"


def _read_cache(path: Path, root: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION or data.get("root") != str(root.resolve()):
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _write_cache(path: Path, root: Path, files: dict[str, list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    payload = {"version": _CACHE_VERSION, "root": str(root.resolve()), "files": files}
    try:
        tmp.write_text(json.dumps(payload, separators=(",", ":")))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache only costs speed


def build_manifest(root: Path, files: Iterable[FileEntry], *, use_cache: bool = True, workers: int = 4) -> Manifest:
    """Hash every listed file (or reuse cached digests) and return the sorted manifest.

    Args:
        root: the dataset folder ``files`` are relative to.
        files: entries from :func:`bench.datasets.layout.scan_tree`.
        use_cache: read and update the digest cache.
        workers: threads hashing files not in the cache.

    Raises:
        DatasetError: a listed file can no longer be read.
    """
    files = list(files)
    where = cache_file(root)
    cached = _read_cache(where, root) if use_cache else {}
    digests: dict[str, str] = {}
    todo: list[FileEntry] = []
    for f in files:
        hit = cached.get(f.relpath)
        if hit is not None and hit[0] == f.size and hit[1] == f.mtime_ns:
            digests[f.relpath] = hit[2]
        else:
            todo.append(f)
    if todo:
        paths = [os.path.join(root, f.relpath) for f in todo]
        try:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                for f, digest in zip(todo, pool.map(sha256_file, paths, chunksize=64), strict=True):
                    digests[f.relpath] = digest
        except OSError as exc:
            raise DatasetError(
                f"cannot read `{exc.filename}` while hashing the dataset at {root}: {exc.strerror}"
            ) from None
    if use_cache and (todo or len(cached) != len(files)):
        _write_cache(where, root, {f.relpath: [f.size, f.mtime_ns, digests[f.relpath]] for f in files})
    entries = sorted(ManifestEntry(f.split, f.label, f.relpath, f.size, digests[f.relpath]) for f in files)
    return Manifest(tuple(entries))
