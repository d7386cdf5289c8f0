"""What a plugin declares about a checkpoint it can use: name, file, address, digest, licence.

A detector lists its checkpoints as a class attribute
(``checkpoints: ClassVar[tuple[Checkpoint, ...]]``); the core's cache
(:mod:`bench.weights.cache`) fetches, verifies, adds and lists them without
knowing any model. A declaration may leave ``sha256`` unknown (``None``):
the digest is then recorded when the file is first fetched or added, and
every later load is checked against that recorded digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: File names the cache keeps for itself; no checkpoint may use them.
REGISTRY_FILE = "registry.json"
LOCK_FILE = "registry.lock"
DOWNLOADS_DIR = ".downloads"
RESERVED_FILES = frozenset({REGISTRY_FILE, LOCK_FILE, DOWNLOADS_DIR})

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_HEX_RE = re.compile(r"^[0-9a-f]{6,64}$")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint the cache knows by name.

    Attributes:
        name: what users type, e.g. ``sam_vit_b``.
        file: file name inside the weights cache.
        url: official address (``None``: register a local file with ``weights add``).
        sha256: full hex digest, or a hex prefix; ``None`` when the publisher gives none.
        licence: the weights' licence (SPDX id or a short phrase), when known.
        size: bytes, when known.
        md5: full hex MD5 when known (informational; SAM file names carry its start).
        variant: the architecture variant the weights fit (plugin-specific, e.g. ``vit_b``).
        description: one line for listings.
        origin: ``"declared"`` (by an installed plugin) or ``"added"`` (registered by a user).
        declared_by: the detectors that declare it.
        sha256_recorded: ``sha256`` was recorded by this cache on first fetch or add,
            not published by the declaration.
    """

    name: str
    file: str
    url: str | None = None
    sha256: str | None = None
    licence: str | None = None
    size: int | None = None
    md5: str | None = None
    variant: str | None = None
    description: str = ""
    origin: str = "declared"
    declared_by: tuple[str, ...] = ()
    sha256_recorded: bool = False

    def matches(self, digest: str) -> bool:
        """Whether a full SHA-256 hex digest agrees with the expected one (or its prefix)."""
        return self.sha256 is None or digest.lower().startswith(self.sha256.lower())

    @property
    def digest_source(self) -> str:
        """``"declared"``, ``"recorded"`` (by this cache, on first fetch or add) or ``"unknown"``."""
        if self.sha256 is None:
            return "unknown"
        return "recorded" if self.sha256_recorded else "declared"


def declaration_problems(ck: object) -> list[str]:
    """What is wrong with one declared checkpoint (empty when it is usable)."""
    if not isinstance(ck, Checkpoint):
        return [f"expected a bench.sdk.Checkpoint, got {ck!r}"]
    problems = []
    if not _NAME_RE.match(ck.name or ""):
        problems.append(f"checkpoint name {ck.name!r} is not a single word (letters, digits, _ . + -)")
    if not ck.file or "/" in ck.file or "\\" in ck.file or ck.file.startswith(".") or ck.file in RESERVED_FILES:
        problems.append(f"checkpoint {ck.name!r}: file {ck.file!r} must be a plain file name the cache does not use")
    if ck.sha256 is not None and not _HEX_RE.match(ck.sha256):
        problems.append(f"checkpoint {ck.name!r}: sha256 {ck.sha256!r} is not lower-case hex (6 to 64 digits)")
    if ck.url is not None and not ck.url.startswith(("https://", "http://")):
        problems.append(f"checkpoint {ck.name!r}: url {ck.url!r} is not an http(s) address")
    return problems
