"""SHA-256 of files, read in 1 MiB chunks (datasets, checkpoints, published files share this one)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: str | Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """Full SHA-256 hex digest of a file; ``on_bytes(n)`` is called after each chunk (progress)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()
