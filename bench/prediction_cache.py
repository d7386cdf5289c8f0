"""On-disk cache of a run's test predictions, so a run resumes and several
threshold protocols score the same predictions without recomputing them.

One ``.npz`` per case under ``<cache>/runs/<run key>/predictions/``; each is
written to a temporary name and renamed, so a killed run never leaves a
half-written file behind. :meth:`PredictionCache.save` returns the file's
SHA-256, which the store keeps with the case; :meth:`PredictionCache.load`
checks it, so a file that was truncated, corrupted or replaced is named and
predicted again instead of being scored.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from bench.contract import Prediction
from bench.errors import BenchError
from bench.paths import cache_dir


class CorruptPrediction(BenchError):
    """A cached prediction is missing, unreadable, or not the file the store recorded."""


def run_folder(run_key: str) -> Path:
    """The run's private folder (predictions, detector work files)."""
    return cache_dir() / "runs" / run_key


class PredictionCache:
    def __init__(self, run_key: str):
        self.folder = run_folder(run_key) / "predictions"
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, case_id: str) -> Path:
        return self.folder / (hashlib.sha1(case_id.encode()).hexdigest()[:20] + ".npz")

    def has(self, case_id: str) -> bool:
        return self._path(case_id).exists()

    def path(self, case_id: str) -> Path:
        """The file holding ``case_id``'s prediction (it may not exist)."""
        return self._path(case_id)

    def discard(self, case_id: str) -> None:
        self._path(case_id).unlink(missing_ok=True)

    def save(self, case_id: str, prediction: Prediction) -> str:
        """Write one prediction atomically; return the SHA-256 hex of the file written."""
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
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, self._path(case_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return hashlib.sha256(payload).hexdigest()

    def load(self, case_id: str, digest: str | None = None) -> Prediction:
        """Read one prediction; with ``digest``, the file must be exactly the one saved.

        Raises:
            CorruptPrediction: naming the file and what is wrong with it.
        """
        path = self._path(case_id)
        try:
            payload = path.read_bytes()
        except OSError as exc:
            raise CorruptPrediction(f"cached prediction of case `{case_id}` ({path}) cannot be read: {exc}") from None
        if digest is not None and hashlib.sha256(payload).hexdigest() != digest:
            raise CorruptPrediction(
                f"cached prediction of case `{case_id}` ({path}) is not the file the store recorded (SHA-256 differs)"
            )
        try:
            return self._decode(payload)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise CorruptPrediction(f"cached prediction of case `{case_id}` ({path}) is unreadable: {exc}") from None

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
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
