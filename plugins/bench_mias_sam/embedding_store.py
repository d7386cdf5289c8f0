"""Test embeddings kept between ``predict`` and ``finalize`` under test-set normalisation.

With ``normalization=test-set`` no prompt can be computed before every test
map is known, yet the contract promises one encode per image. So each test
embedding (256 x 64 x 64 float32, 4 MiB) is written to the run's private
``work_dir`` as it is computed and read back once in ``finalize``. Disk,
not memory: the BraTS test set alone would hold 3,715 x 4 MiB = 14.5 GiB.
Re-encoding instead would double the dominant cost, which is what the
published code does.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch


class EmbeddingStore:
    """One ``.npy`` file per case id in ``folder`` (a private temporary folder when ``None``)."""

    def __init__(self, folder: Path | None):
        self._owned = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="mias-sam-emb-")) if folder is None else Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, case_id: str) -> Path:
        return self.folder / (hashlib.sha1(case_id.encode()).hexdigest()[:24] + ".npy")

    def put(self, case_id: str, embedding: torch.Tensor) -> None:
        """Store a 1 x C x H x W (or C x H x W) embedding, exactly (float32)."""
        path = self._path(case_id)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, embedding.detach().float().cpu().numpy().reshape(embedding.shape[-3:]))
        tmp.replace(path)

    def take(self, case_id: str) -> torch.Tensor:
        """The stored embedding as 1 x C x H x W; the file is removed."""
        path = self._path(case_id)
        array = np.load(path)
        path.unlink()
        return torch.from_numpy(array)[None]

    def __contains__(self, case_id: str) -> bool:
        return self._path(case_id).exists()

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.npy"))

    def close(self) -> None:
        """Remove what is left (and the folder, when this store created it)."""
        for path in self.files():
            path.unlink(missing_ok=True)
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)
