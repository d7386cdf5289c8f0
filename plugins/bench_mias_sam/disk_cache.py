"""A content-addressed array cache on disk, shared by runs and processes, with a size limit.

Entries are ``.npy`` files named by a hex key (a SHA-256 of everything
that determines the array, see :mod:`bench_mias_sam.cache_keys`), in
sub-folders by namespace and the key's first two characters. Because a key
names its content, a hit is the array the computation would produce again
here (the computation's own float noise aside): the cache never changes a result.

Safe under concurrent runs without locks:

- a writer writes a private temporary file in the entry's folder and
  renames it into place (``os.replace`` is atomic on POSIX), so a reader
  sees either nothing or a whole file; two writers of one key write the
  same content, and the last rename wins;
- a reader treats a file that vanishes, or does not parse as the expected
  array, as a miss (and removes a corrupt one);
- eviction is least recently used by modification time (a hit touches
  its file), removes the oldest entries until the total is under 90 % of
  the limit, and tolerates files vanishing under it (another process
  evicting or replacing them); each process rescans the folder after it
  has written 5 % of the limit, so the others' writes are counted too and
  the cache overshoots its limit by at most about 5 % per writing process.

The location and limit are not config keys (they change no result, so they
must not change a run's identity): ``MIAS_SAM_EMBEDDING_CACHE`` (a folder, or
``off``) and ``MIAS_SAM_EMBEDDING_CACHE_GIB`` (default 20).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.sdk import ConfigError, cache_dir

log = logging.getLogger("bench_mias_sam")

CACHE_ENV = "MIAS_SAM_EMBEDDING_CACHE"
LIMIT_ENV = "MIAS_SAM_EMBEDDING_CACHE_GIB"
DEFAULT_LIMIT_GIB = 20.0
OFF_VALUES = {"off", "0", "none", "false", "no"}
#: Eviction stops when the total is at or below this fraction of the limit, so it does not run on every write.
LOW_WATER = 0.9
#: Other processes write too: this process rescans the folder after writing this fraction of the limit.
RESCAN_FRACTION = 0.05
#: A temporary file older than this (seconds) was left by a writer that died; eviction removes it.
STALE_TMP_SECONDS = 3600.0
TMP_MARK = ".tmp-"


@dataclass
class CacheStats:
    """What one process asked of the cache: hits, misses, writes, bytes evicted."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    evicted_bytes: int = 0


class DiskCache:
    """Arrays under ``root`` by (namespace, key), at most about ``limit_bytes`` in all.

    Args:
        root: the cache folder (created if missing).
        limit_bytes: size limit of everything under ``root``.
    """

    def __init__(self, root: Path, limit_bytes: int):
        if limit_bytes <= 0:
            raise ConfigError(f"{LIMIT_ENV}: the embedding cache limit must be positive, got {limit_bytes} bytes")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.limit_bytes = int(limit_bytes)
        self.stats = CacheStats()
        self._estimate: int | None = None  # bytes under root, from the last scan plus this process's writes
        self._since_scan = 0  # bytes this process wrote since its last scan

    def path(self, namespace: str, key: str) -> Path:
        """Where the entry ``key`` of ``namespace`` lives (whether or not it exists)."""
        return self.root / namespace / key[:2] / f"{key}.npy"

    def get(self, namespace: str, key: str, shape: tuple[int, ...] | None = None, dtype=None) -> np.ndarray | None:
        """The stored array, or ``None`` on a miss.

        A stored file whose shape or dtype differs from the expected ones,
        or that does not parse, is removed and counted as a miss.
        """
        path = self.path(namespace, key)
        try:
            array = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            self.stats.misses += 1
            return None
        except (OSError, ValueError, EOFError) as exc:
            log.warning("mias-sam cache: removing unreadable entry %s (%s)", path, exc)
            path.unlink(missing_ok=True)
            self.stats.misses += 1
            return None
        if (shape is not None and array.shape != tuple(shape)) or (dtype is not None and array.dtype != dtype):
            log.warning(
                "mias-sam cache: removing %s: expected %s %s, found %s %s", path, shape, dtype, array.shape, array.dtype
            )
            path.unlink(missing_ok=True)
            self.stats.misses += 1
            return None
        # Recency for eviction; the file may be evicted by another process after we read it (what we hold is whole).
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)
        self.stats.hits += 1
        return array

    def put(self, namespace: str, key: str, array: np.ndarray) -> None:
        """Store ``array`` under ``key`` (atomically), then evict if the cache is over its limit."""
        path = self.path(namespace, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}.npy")
        try:
            with open(tmp, "wb") as handle:
                np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            size = tmp.stat().st_size
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.stats.writes += 1
        self._since_scan += size
        if self._estimate is not None:
            self._estimate += size
        if (
            self._estimate is None
            or self._estimate > self.limit_bytes
            or self._since_scan > RESCAN_FRACTION * self.limit_bytes
        ):
            self.evict()  # scans, and removes entries only when over the limit

    def _scan(self) -> tuple[int, list[tuple[float, int, Path]]]:
        """Total bytes and (mtime, size, path) of every entry; stale temporary files are removed."""
        total, entries = 0, []
        now = time.time()
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue
                if TMP_MARK in name:
                    if now - info.st_mtime > STALE_TMP_SECONDS:
                        path.unlink(missing_ok=True)
                    else:
                        total += info.st_size  # a write in progress still takes space
                    continue
                total += info.st_size
                entries.append((info.st_mtime, info.st_size, path))
        return total, entries

    def evict(self) -> int:
        """Remove least recently used entries until the total is at most ``LOW_WATER`` x the limit.

        Returns the bytes removed by this call.
        """
        total, entries = self._scan()
        removed = 0
        target = int(self.limit_bytes * LOW_WATER)
        if total > self.limit_bytes:
            for _, size, path in sorted(entries, key=lambda entry: entry[0]):
                if total - removed <= target:
                    break
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue  # another process removed it first
                removed += size
        self._estimate, self._since_scan = total - removed, 0
        self.stats.evicted_bytes += removed
        return removed

    def total_bytes(self) -> int:
        """Bytes under the cache folder now."""
        return self._scan()[0]


def cache_from_environment() -> DiskCache | None:
    """The cache the environment asks for: ``MIAS_SAM_EMBEDDING_CACHE`` (folder or ``off``) and its limit.

    Default: ``bench.sdk.cache_dir() / "embeddings"``, 20 GiB.

    Raises:
        ConfigError: the limit is not a positive number.
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in OFF_VALUES:
        return None
    raw_limit = os.environ.get(LIMIT_ENV, "").strip() or str(DEFAULT_LIMIT_GIB)
    try:
        limit_gib = float(raw_limit)
    except ValueError:
        limit_gib = float("nan")
    if not np.isfinite(limit_gib) or limit_gib <= 0:
        raise ConfigError(f"{LIMIT_ENV}={raw_limit!r}: expected a positive number of GiB")
    root = Path(value).expanduser() if value else cache_dir() / "embeddings"
    return DiskCache(root, int(limit_gib * 2**30))
