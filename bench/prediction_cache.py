"""On-disk cache of a run's test predictions, so a run resumes and several
threshold protocols score the same predictions without recomputing them.

One ``.npz`` per case under ``<cache>/runs/<run key>/predictions/``; each is
written to a temporary name and renamed, so a killed run never leaves a
half-written file behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bench.contract import Prediction
from bench.paths import cache_dir


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

    def save(self, case_id: str, prediction: Prediction) -> None:
        arrays: dict[str, np.ndarray] = {
            "anomaly_map": prediction.anomaly_map.astype(np.float32, copy=False),
            "score": np.float64(prediction.score),
            "shape": np.asarray(prediction.anomaly_map.shape),
        }
        if prediction.mask is not None:
            arrays["mask"] = np.packbits(prediction.mask)
        for name, mask in prediction.extra_masks.items():
            arrays[f"extra::{name}"] = np.packbits(mask)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, self._path(case_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, case_id: str) -> Prediction:
        with np.load(self._path(case_id)) as data:
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
