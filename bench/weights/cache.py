"""The weights cache: where checkpoint files live, their digests, adding and verifying.

The cache is generic: it knows checkpoints only through what plugins declare
(:mod:`bench.weights.registry`). Files sit directly in
:func:`bench.paths.weights_dir` under their declared names; unfinished
downloads and copies sit in its ``.downloads/`` folder and never under a
final name. Every file is identified by its SHA-256: a declared digest is
checked on every add, fetch and load; a declaration without one gets the
digest of the first file fetched or added, recorded and checked from then
on. Digests are also remembered with each file's size and modification
time, so a listing does not re-hash an unchanged file; ``verify`` and
loading always do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.errors import WeightsError
from bench.hashing import sha256_file
from bench.paths import weights_dir
from bench.weights.checkpoint import DOWNLOADS_DIR, RESERVED_FILES, Checkpoint
from bench.weights.registry import (
    added_checkpoints,
    declared_checkpoints,
    get_checkpoint,
    list_checkpoints,
    read_registry,
    update_registry,
)

_CHUNK = 1 << 20


def checkpoint_path(ck: Checkpoint) -> Path:
    """Where ``ck`` lives in the cache (it may not exist)."""
    return weights_dir() / ck.file


def downloads_dir() -> Path:
    path = weights_dir() / DOWNLOADS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def record_digest(path: Path, digest: str, checkpoint: Checkpoint | None = None) -> None:
    """Remember ``digest`` for the file at ``path`` as it is now (size and mtime).

    For a ``checkpoint`` whose declaration publishes no digest, the digest is
    also recorded as the one every later load must match.
    """
    stamp = _stamp(path)

    def change(data: dict) -> None:
        data["verified"][path.name] = {"sha256": digest, **stamp}
        if checkpoint is not None and checkpoint.origin == "declared" and not _published(checkpoint):
            data["recorded"][checkpoint.name] = {"file": checkpoint.file, "sha256": digest, "size": stamp["size"]}

    update_registry(change)


def _published(ck: Checkpoint) -> bool:
    return ck.sha256 is not None and not ck.sha256_recorded


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


def _target_file(name: str, src: Path, variant: str | None) -> tuple[Checkpoint | None, str]:
    """The declared checkpoint ``name`` is (if any) and the cache file it goes to; refuses collisions."""
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise WeightsError(f"checkpoint names are single words such as 'my_sam'; got {name!r}")
    declared = declared_checkpoints().get(name)
    if declared is not None:
        if variant not in (None, declared.variant):
            raise WeightsError(
                f"{name!r} is declared by {', '.join(declared.declared_by)} for variant {declared.variant}; "
                f"--variant {variant} contradicts it"
            )
        return declared, declared.file
    file = f"{name}{src.suffix or '.pth'}"
    if file in RESERVED_FILES or file.startswith("."):
        raise WeightsError(f"cannot add {name!r}: its file {file} would replace the cache's own {file}")
    owners = {ck.file: ck for ck in declared_checkpoints().values()}
    owners.update({ck.file: ck for n, ck in added_checkpoints().items() if n != name})
    if file in owners:
        other = owners[file]
        whose = f"declared by {', '.join(other.declared_by)}" if other.origin == "declared" else "added earlier"
        raise WeightsError(
            f"cannot add {name!r}: its file {file} is the file of checkpoint {other.name!r} ({whose}); "
            f"choose another --name, or `--name {other.name}` to install that checkpoint"
        )
    return None, file


def add_checkpoint(source: str | Path, name: str, variant: str | None = None) -> Checkpoint:
    """Copy a local checkpoint file into the cache under ``name``.

    A declared name (``sam_vit_b``) must match the declared size and digest
    (the way to install a published file on a machine without network); when
    the declaration gives no digest, this file's digest is recorded and every
    later load must match it. Any other name is registered with the digest
    computed here. A name whose file would replace another checkpoint's file
    or the cache's own files is refused.

    Raises:
        WeightsError: the source is missing, the name collides, or the file does
            not match a declared digest.
    """
    src = Path(source).expanduser()
    if not src.is_file():
        raise WeightsError(f"expected a checkpoint file at {src}, found {'a folder' if src.exists() else 'nothing'}")
    declared, file = _target_file(name, src, variant)
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
        if declared is not None:
            check_file(declared, tmp, hexdigest)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    shutil.copystat(src, dest, follow_symlinks=True)
    stamp = _stamp(dest)

    def change(data: dict) -> None:
        data["verified"][dest.name] = {"sha256": hexdigest, **stamp}
        if declared is not None:
            if not _published(declared):
                data["recorded"][name] = {"file": file, "sha256": hexdigest, "size": stamp["size"]}
            return
        data["added"][name] = {
            "file": file,
            "sha256": hexdigest,
            "size": stamp["size"],
            "source": str(src.resolve()),
            "variant": variant,
        }

    update_registry(change)
    return get_checkpoint(name)


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
        record_digest(path, digest, ck)
        detail = "" if ck.sha256 is not None else "no published digest; this one is now recorded"
        results.append(VerifyResult(ck.name, ck.file, "ok", detail, digest))
    return results


def installed(ck: Checkpoint) -> bool:
    return checkpoint_path(ck).is_file()
