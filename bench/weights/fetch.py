"""Downloading checkpoints: stream to a temporary file, resume, verify, then move into the cache.

A download goes to ``<weights dir>/.downloads/<file>.part``. A checkpoint
whose declaration publishes no SHA-256 gets the digest of the file first
fetched recorded, and every later load is checked against it. A second attempt
(a retry after a dropped connection, or the same command run again later)
asks the server for the remaining bytes with an HTTP ``Range`` header and
appends them when the server answers ``206 Partial Content``; a server that
ignores ranges answers ``200`` and the file is cleanly restarted. Only a
file whose size and SHA-256 match the registry is renamed to its final
name; a file that does not match is deleted.

The library draws nothing: callers pass a :class:`DownloadProgress` (the
CLI's draws a rich progress bar on stderr).
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from bench.errors import WeightsError
from bench.weights.cache import (
    check_file,
    checkpoint_path,
    downloads_dir,
    file_digest,
    record_digest,
    sha256_file,
)
from bench.weights.checkpoint import Checkpoint
from bench.weights.registry import get_checkpoint

_CHUNK = 1 << 20
_USER_AGENT = "mias-bench-weights/1"


class DownloadProgress(Protocol):
    """Receives progress; the CLI's implementation draws a bar on stderr."""

    def start(self, description: str, total: int | None, completed: int) -> None: ...
    def advance(self, n: int) -> None: ...


class _Silent:
    def start(self, description: str, total: int | None, completed: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


class _Interrupted(Exception):
    """The connection ended before the file did; the partial file is kept for a resume."""


def fetch_checkpoint(
    checkpoint: str | Checkpoint,
    *,
    progress: DownloadProgress | None = None,
    retries: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Download a known checkpoint into the cache and return its path.

    An already-installed file that verifies is returned as is. A dropped
    connection is retried up to ``retries`` times, each resuming where the
    previous one stopped (when the server allows ranges).

    Raises:
        WeightsError: no address is known, the server cannot be reached or
            answers an error, the download keeps failing, or the file's
            size or SHA-256 is not the expected one (the file is deleted).
    """
    ck = get_checkpoint(checkpoint) if isinstance(checkpoint, str) else checkpoint
    progress = progress or _Silent()
    if not ck.url:
        raise WeightsError(
            f"checkpoint {ck.name!r} has no known address; register the file with "
            f"`mias-bench weights add PATH --name {ck.name}`"
        )
    dest = checkpoint_path(ck)
    if dest.is_file():
        try:
            check_file(ck, dest, file_digest(dest))
            return dest
        except WeightsError:
            pass  # a damaged copy is replaced below; os.replace swaps it atomically
    part = downloads_dir() / f"{ck.file}.part"
    attempts = 0
    while True:
        attempts += 1
        try:
            _download(ck, part, progress, timeout)
            break
        except _Interrupted as exc:
            if attempts > retries:
                have = part.stat().st_size if part.exists() else 0
                raise WeightsError(
                    f"download of {ck.name!r} from {ck.url} was interrupted {attempts} times ({exc}); "
                    f"{have:,} bytes are kept in {part}; run `mias-bench weights fetch {ck.name}` again to resume"
                ) from None
    digest = sha256_file(part)
    try:
        check_file(ck, part, digest)
    except WeightsError as exc:
        part.unlink(missing_ok=True)
        raise WeightsError(f"rejected the download from {ck.url}: {exc}; the file was deleted") from None
    os.replace(part, dest)
    record_digest(dest, digest, ck)  # a declaration without a digest gets this one, checked from now on
    return dest


def _download(ck: Checkpoint, part: Path, progress: DownloadProgress, timeout: float) -> None:
    """One attempt: resume ``part`` from its current size, or start it over."""
    offset = part.stat().st_size if part.exists() else 0
    if ck.size is not None and offset > ck.size:
        part.unlink()
        offset = 0
    if ck.size is not None and offset == ck.size:
        return  # complete from an earlier attempt; verification decides
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(ck.url, headers=headers)  # type: ignore[arg-type]
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range not satisfiable: the part is stale; start over
            part.unlink(missing_ok=True)
            raise _Interrupted("the server refused to resume; restarting") from None
        raise WeightsError(f"could not fetch {ck.name!r}: {ck.url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsError(
            f"could not reach {ck.url} to fetch {ck.name!r} ({reason}); check the network, or download "
            f"the file on another machine and run `mias-bench weights add PATH --name {ck.name}`"
        ) from None
    with response:
        mode = "wb"
        if offset and response.status == 206 and _range_start(response.headers.get("Content-Range")) == offset:
            mode = "ab"
        else:
            offset = 0  # the server sent the whole file: start over
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        total = offset + expected if expected is not None else ck.size
        progress.start(ck.name, total, offset)
        received = 0
        try:
            with open(part, mode) as fh:
                while chunk := response.read(_CHUNK):
                    fh.write(chunk)
                    received += len(chunk)
                    progress.advance(len(chunk))
        except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
            raise _Interrupted(f"{type(exc).__name__} after {offset + received:,} bytes") from None
        if expected is not None and received < expected:
            raise _Interrupted(f"connection closed after {offset + received:,} of {offset + expected:,} bytes")


def _range_start(content_range: str | None) -> int | None:
    """``"bytes 100-199/200"`` -> 100."""
    match = re.match(r"bytes\s+(\d+)-", content_range or "")
    return int(match.group(1)) if match else None
