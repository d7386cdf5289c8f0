"""The weights cache: where checkpoint files live, their digests, adding and verifying.

Files sit directly in :func:`bench.paths.weights_dir` under their published
names; unfinished downloads sit in its ``.downloads/`` folder and never under
a final name. Every digest the cache computes is recorded with the file's
size and modification time, so loading an unchanged file does not hash it
again; ``verify`` always does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.errors import WeightsError
from bench.paths import weights_dir
from bench.weights.registry import (
    KNOWN_CHECKPOINTS,
    Checkpoint,
    get_checkpoint,
    list_checkpoints,
    read_registry,
    write_registry,
)

_CHUNK = 1 << 20


def checkpoint_path(ck: Checkpoint) -> Path:
    """Where ``ck`` lives in the cache (it may not exist)."""
    return weights_dir() / ck.file


def downloads_dir() -> Path:
    path = weights_dir() / ".downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """Full SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def record_digest(path: Path, digest: str) -> None:
    """Remember ``digest`` for the file at ``path`` as it is now (size and mtime)."""
    data = read_registry()
    data["verified"][path.name] = {"sha256": digest, **_stamp(path)}
    write_registry(data)


def file_digest(path: Path) -> str:
    """SHA-256 of a cached file, hashed again only when it changed since it was last hashed."""
    entry = read_registry()["verified"].get(path.name)
    if entry is not None and {k: entry.get(k) for k in ("size", "mtime_ns")} == _stamp(path):
        return entry["sha256"]
    digest = sha256_file(path)
    record_digest(path, digest)
    return digest


def check_file(ck: Checkpoint, path: Path, digest: str) -> None:
    """Raise unless ``path`` has the size and digest ``ck`` expects."""
    size = path.stat().st_size
    if ck.size is not None and size != ck.size:
        raise WeightsError(f"checkpoint {ck.name!r} ({path}): expected {ck.size:,} bytes, found {size:,}")
    if not ck.matches(digest):
        raise WeightsError(f"checkpoint {ck.name!r} ({path}): expected SHA-256 {ck.sha256}, found {digest}")


def missing_message(ck: Checkpoint) -> str:
    """What to say when a checkpoint is needed but not in the cache."""
    where = f"checkpoint {ck.name!r} (file {ck.file}) is not in the weights cache {weights_dir()}"
    if ck.url:
        return (
            f"{where}; it comes from {ck.url}; install it with `mias-bench weights fetch {ck.name}` "
            f"(offline: download it elsewhere and run `mias-bench weights add PATH --name {ck.name}`)"
        )
    return f"{where}; register the file again with `mias-bench weights add PATH --name {ck.name}`"


def require_checkpoint(name: str) -> tuple[Checkpoint, Path]:
    """The checkpoint and its cached file; a missing file is a :class:`WeightsError` naming the fix."""
    ck = get_checkpoint(name)
    path = checkpoint_path(ck)
    if not path.is_file():
        raise WeightsError(missing_message(ck))
    return ck, path


def add_checkpoint(source: str | Path, name: str, variant: str | None = None) -> Checkpoint:
    """Copy a local checkpoint file into the cache under ``name``.

    A known name (``sam_vit_b``) must match the published size and digest
    (the way to install an official file on a machine without network);
    any other name is registered with the digest computed here.

    Raises:
        WeightsError: the source is missing, or does not match a known name's digest.
    """
    src = Path(source).expanduser()
    if not src.is_file():
        raise WeightsError(f"expected a checkpoint file at {src}, found {'a folder' if src.exists() else 'nothing'}")
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise WeightsError(f"checkpoint names are single words such as 'my_sam'; got {name!r}")
    known = KNOWN_CHECKPOINTS.get(name)
    if known is not None and variant not in (None, known.variant):
        raise WeightsError(f"{name!r} is the published {known.variant} checkpoint; --variant {variant} contradicts it")
    file = known.file if known is not None else f"{name}{src.suffix or '.pth'}"
    dest = weights_dir() / file
    fd, tmp_name = tempfile.mkstemp(dir=downloads_dir(), prefix=f".{file}-", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                digest.update(chunk)
                fout.write(chunk)
        hexdigest = digest.hexdigest()
        if known is not None:
            check_file(known, tmp, hexdigest)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    shutil.copystat(src, dest, follow_symlinks=True)
    data = read_registry()
    data["verified"][dest.name] = {"sha256": hexdigest, **_stamp(dest)}
    if known is None:
        data["added"][name] = {
            "file": file,
            "sha256": hexdigest,
            "size": dest.stat().st_size,
            "source": str(src.resolve()),
            "variant": variant,
        }
    write_registry(data)
    return known or get_checkpoint(name)


@dataclass(frozen=True)
class VerifyResult:
    """One checkpoint's state in the cache: ``ok``, ``missing`` or ``corrupt`` (with why)."""

    name: str
    file: str
    status: str
    detail: str = ""
    sha256: str | None = None


def verify_checkpoints(names: Iterable[str] | None = None) -> list[VerifyResult]:
    """Hash every cached checkpoint (or the named ones) and compare with what is expected."""
    targets = [get_checkpoint(n) for n in names] if names else list_checkpoints()
    results = []
    for ck in targets:
        path = checkpoint_path(ck)
        if not path.is_file():
            results.append(VerifyResult(ck.name, ck.file, "missing", missing_message(ck)))
            continue
        digest = sha256_file(path)
        try:
            check_file(ck, path, digest)
        except WeightsError as exc:
            results.append(VerifyResult(ck.name, ck.file, "corrupt", str(exc), digest))
            continue
        record_digest(path, digest)
        results.append(VerifyResult(ck.name, ck.file, "ok", "", digest))
    return results


def installed(ck: Checkpoint) -> bool:
    return checkpoint_path(ck).is_file()
