"""Cache of a run's test predictions, so a run resumes and several threshold
protocols score the same predictions without recomputing them.

One ``.npz`` per case under ``<root>/<run key>/predictions/``, where the root
is a local folder (default ``<cache>/runs``) or any URL fsspec reads
(``s3://bucket/prefix``, ``file:///srv/predictions``; see
:func:`bench.paths.predictions_root`), so grid workers on several machines
write predictions where ``publish`` and ``verify`` read them. Each file is
written under a temporary name and then renamed (a copy on object stores), so
a killed worker never leaves a half-written prediction under its final name.
:meth:`PredictionCache.save` returns the file's SHA-256, which the store keeps
with the case; :meth:`PredictionCache.load` checks it, so a file that was
truncated, corrupted or replaced is named and predicted again instead of being
scored.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import posixpath
import uuid
import zipfile
from pathlib import Path

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from bench.contract import Prediction
from bench.errors import BenchError
from bench.paths import predictions_root


class CorruptPrediction(BenchError):
    """A cached prediction is missing, unreadable, or not the file the store recorded."""


class CacheUnavailable(BenchError):
    """The prediction cache's location cannot be opened or written (bad URL, missing backend, no access)."""


def open_root(root: str | Path | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and the path inside it of a prediction cache root (default: :func:`predictions_root`).

    Raises:
        CacheUnavailable: an unknown protocol, or a backend that is not installed (e.g. s3fs for ``s3://``).
    """
    url = predictions_root(root)
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise CacheUnavailable(
            f"prediction cache {url}: {exc} (for s3:// install the extra: pip install 'mias-bench[s3]')"
        ) from None
    except (ValueError, TypeError) as exc:
        raise CacheUnavailable(f"prediction cache {url}: not a path or a URL fsspec can open ({exc})") from None


def run_folder(run_key: str) -> Path:
    """The run's folder in the local prediction cache (the configured root must be a local folder).

    Raises:
        CacheUnavailable: the prediction cache is a remote URL, which has no local folder.
    """
    fs, base = open_root()
    if not isinstance(fs, LocalFileSystem):
        raise CacheUnavailable(f"prediction cache {predictions_root()} is not a local folder")
    return Path(base) / run_key


class PredictionCache:
    """The cached test predictions of one run.

    Args:
        run_key: the run's identity key (a folder under the root).
        root: a local folder or an fsspec URL; default :func:`bench.paths.predictions_root`.
    """

    def __init__(self, run_key: str, root: str | Path | None = None):
        self.fs, base = open_root(root)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.folder = posixpath.join(base, run_key, "predictions")
        self._folder_made = False

    def _file(self, case_id: str) -> str:
        return posixpath.join(self.folder, hashlib.sha1(case_id.encode()).hexdigest()[:20] + ".npz")

    def _shown(self, file: str) -> str:
        """A file as a reader can find it: a local path, or a URL with its protocol."""
        return file if self.local else self.fs.unstrip_protocol(file)

    def _fresh(self, path: str) -> None:
        # Another worker may have written since this process last listed: object-store listings are cached.
        if not self.local:
            self.fs.invalidate_cache(path)

    def has(self, case_id: str) -> bool:
        file = self._file(case_id)
        self._fresh(file)
        return self.fs.exists(file)

    def exists(self) -> bool:
        """Whether the run has a prediction folder here (e.g. written by a worker on another machine)."""
        self._fresh(self.folder)
        try:
            return self.fs.isdir(self.folder)
        except OSError:
            return False

    def path(self, case_id: str) -> Path | str:
        """Where ``case_id``'s prediction is kept (it may not exist): a local path, else a URL."""
        file = self._file(case_id)
        return Path(file) if self.local else self._shown(file)

    def discard(self, case_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._file(case_id))

    def save(self, case_id: str, prediction: Prediction) -> str:
        """Write one prediction atomically; return the SHA-256 hex of the file written.

        Raises:
            CacheUnavailable: the file cannot be written (naming where and why).
        """
        arrays: dict[str, np.ndarray] = {
            "anomaly_map": prediction.anomaly_map.astype(np.float32, copy=False),
            "score": np.float64(prediction.score),
            "shape": np.asarray(prediction.anomaly_map.shape),
        }
        if prediction.mask is not None:
            arrays["mask"] = np.packbits(prediction.mask)
        for name, mask in prediction.extra_masks.items():
            arrays[f"extra::{name}"] = np.packbits(mask)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
        target = self._file(case_id)
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        try:
            if self.local and not self._folder_made:
                self.fs.makedirs(self.folder, exist_ok=True)  # object stores have no folders to make
                self._folder_made = True
            with self.fs.open(tmp, "wb") as fh:
                fh.write(payload)
            if self.local:
                self.fs.mv(tmp, target)  # a rename: atomic
            else:
                self.fs.cp_file(tmp, target)  # a server-side copy of the complete object (no rename there)
                self.fs.rm_file(tmp)
        except BaseException as exc:
            # Nothing written, or the store is unreachable: a stray temporary name is all that is left.
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            if isinstance(exc, Exception):
                raise CacheUnavailable(
                    f"cannot write the prediction of case `{case_id}` to {self._shown(target)}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            raise
        return hashlib.sha256(payload).hexdigest()

    def load(self, case_id: str, digest: str | None = None) -> Prediction:
        """Read one prediction; with ``digest``, the file must be exactly the one saved.

        Raises:
            CorruptPrediction: naming the file and what is wrong with it.
        """
        file = self._file(case_id)
        shown = self._shown(file)
        try:
            payload = self.fs.cat_file(file)
        except FileNotFoundError:
            raise CorruptPrediction(f"cached prediction of case `{case_id}` ({shown}) does not exist") from None
        except Exception as exc:  # each fsspec backend raises its own errors for an unreadable or unreachable file
            raise CorruptPrediction(
                f"cached prediction of case `{case_id}` ({shown}) cannot be read: {type(exc).__name__}: {exc}"
            ) from None
        if digest is not None and hashlib.sha256(payload).hexdigest() != digest:
            raise CorruptPrediction(
                f"cached prediction of case `{case_id}` ({shown}) is not the file the store recorded (SHA-256 differs)"
            )
        try:
            return self._decode(payload)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise CorruptPrediction(f"cached prediction of case `{case_id}` ({shown}) is unreadable: {exc}") from None

    @staticmethod
    def _decode(payload: bytes) -> Prediction:
        with np.load(io.BytesIO(payload)) as data:
            shape = tuple(int(v) for v in data["shape"])
            size = shape[0] * shape[1]

            def unpack(key: str) -> np.ndarray:
                return np.unpackbits(data[key], count=size).reshape(shape).astype(bool)

            extras = {k.split("::", 1)[1]: unpack(k) for k in data.files if k.startswith("extra::")}
            return Prediction(
                anomaly_map=data["anomaly_map"],
                score=float(data["score"]),
                mask=unpack("mask") if "mask" in data.files else None,
                extra_masks=extras,
            )

    def clear(self) -> None:
        """Remove every cached prediction of the run."""
        self._fresh(self.folder)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.folder, recursive=True)
        self._folder_made = False
