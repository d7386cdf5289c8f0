"""Which checkpoints exist: those installed plugins declare, and those a user registered.

Declared checkpoints come from the ``checkpoints`` class attribute of every
installed detector (so ``mias-bench weights list`` shows a plugin's weights
as soon as it is installed); checkpoints registered with ``mias-bench
weights add`` live in ``<weights dir>/registry.json`` beside the files,
together with the digests this cache recorded for declared checkpoints that
publish none, and the digest of every file it has verified (so a listing
need not re-hash an unchanged file; loading always does).

``registry.json`` is changed under an exclusive lock and replaced
atomically (temporary file, ``fsync``, rename): a crash or a second
``weights add`` at the same moment never loses a registration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.errors import UnknownNameError, WeightsError
from bench.names import suggest
from bench.paths import weights_dir
from bench.weights.checkpoint import LOCK_FILE, REGISTRY_FILE, Checkpoint

_SECTIONS = ("added", "recorded", "verified")


def registry_path() -> Path:
    return weights_dir() / REGISTRY_FILE


def read_registry() -> dict[str, Any]:
    """The cache's bookkeeping: ``{"added": {name: {...}}, "recorded": {name: {...}}, "verified": {file: {...}}}``."""
    path = registry_path()
    if not path.exists():
        return {section: {} for section in _SECTIONS}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights registry {path} is unreadable ({exc}); fix or delete it") from None
    if not isinstance(data, dict):
        raise WeightsError(f"weights registry {path}: expected a JSON object, found {type(data).__name__}")
    for section in _SECTIONS:
        data.setdefault(section, {})
    return data


def write_registry(data: dict[str, Any]) -> None:
    """Replace ``registry.json`` atomically: a temporary file in the same folder, flushed to disk, renamed."""
    path = registry_path()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".registry-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _registry_lock() -> Iterator[None]:
    with open(weights_dir() / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_registry(change: Callable[[dict[str, Any]], None]) -> None:
    """Read, change and write ``registry.json`` under an exclusive lock (concurrent updates all land)."""
    with _registry_lock():
        data = read_registry()
        change(data)
        write_registry(data)


def declared_checkpoints() -> dict[str, Checkpoint]:
    """Every checkpoint installed detectors declare, by name, with the detectors that declare it.

    The same checkpoint declared by several detectors is listed once; a
    second declaration of a name with other fields is left out (see
    :func:`declaration_conflicts`).
    """
    return _collect_declarations()[0]


def declaration_conflicts() -> list[str]:
    """Messages for names declared differently by two detectors (the first declaration is used)."""
    return _collect_declarations()[1]


def _collect_declarations() -> tuple[dict[str, Checkpoint], list[str]]:
    from bench.plugins import discover_detectors

    found: dict[str, Checkpoint] = {}
    conflicts: list[str] = []
    for record in discover_detectors():
        if not record.ok:
            continue
        for ck in getattr(record.obj, "checkpoints", ()):
            known = found.get(ck.name)
            if known is None:
                found[ck.name] = dataclasses.replace(ck, origin="declared", declared_by=(record.name,))
            elif dataclasses.replace(known, declared_by=()) == dataclasses.replace(ck, origin="declared"):
                found[ck.name] = dataclasses.replace(known, declared_by=(*known.declared_by, record.name))
            else:
                conflicts.append(
                    f"checkpoint {ck.name!r} is declared differently by {record.name} and by "
                    f"{', '.join(known.declared_by)}; {known.declared_by[0]}'s declaration is used"
                )
    return found, conflicts


def _with_recorded_digest(ck: Checkpoint, recorded: dict[str, Any]) -> Checkpoint:
    entry = recorded.get(ck.name)
    if ck.sha256 is not None or entry is None or entry.get("file") != ck.file:
        return ck
    return dataclasses.replace(ck, sha256=entry["sha256"], size=ck.size or entry.get("size"), sha256_recorded=True)


def added_checkpoints(data: dict[str, Any] | None = None) -> dict[str, Checkpoint]:
    """Checkpoints registered from local files with ``mias-bench weights add``."""
    data = data if data is not None else read_registry()
    out = {}
    for name, entry in data["added"].items():
        out[name] = Checkpoint(
            name=name,
            file=entry["file"],
            url=None,
            size=entry.get("size"),
            sha256=entry.get("sha256"),
            variant=entry.get("variant"),
            origin="added",
            description=f"added from {entry.get('source', '?')}",
            sha256_recorded=True,
        )
    return out


def list_checkpoints() -> list[Checkpoint]:
    """Declared checkpoints first, then added ones, each group sorted by name."""
    data = read_registry()
    declared = declared_checkpoints()
    added = added_checkpoints(data)
    return [_with_recorded_digest(declared[n], data["recorded"]) for n in sorted(declared)] + [
        added[n] for n in sorted(added) if n not in declared
    ]


def get_checkpoint(name: str) -> Checkpoint:
    """The checkpoint called ``name`` (with the digest this cache recorded, if it publishes none).

    Raises:
        UnknownNameError: no installed plugin declares it and nobody added it; close names are suggested.
    """
    declared = declared_checkpoints()
    data = read_registry()
    if name in declared:
        return _with_recorded_digest(declared[name], data["recorded"])
    added = added_checkpoints(data)
    if name in added:
        return added[name]
    known = sorted({*declared, *added})
    raise UnknownNameError(
        f"unknown checkpoint {name!r}{suggest(name, known)} (known: {', '.join(known) or 'none'}); "
        f"register a local file with `mias-bench weights add PATH --name {name}`"
    )


def as_dict(ck: Checkpoint) -> dict[str, Any]:
    return {**asdict(ck), "declared_by": list(ck.declared_by), "digest_source": ck.digest_source}
