"""The memory bank: every training patch, searched exactly with a faiss flat L2 index.

Distances are **squared** L2 (what ``IndexFlatL2`` returns, and what the
authors' code scores with). A patch's score is the mean of its ``k``
smallest squared distances; with ``k = 1`` (the published code's effective
value) it is the squared distance to the nearest training patch.

The bank is filled as training images are encoded and searched a bounded
number of queries at a time, so nothing but the index itself grows with the
training set. On a GPU build of faiss (the ``gpu`` extra) the index lives on
the GPU; the choice is automatic and reported by :attr:`MemoryBank.device`.
"""

from __future__ import annotations

import logging

import numpy as np

from bench.sdk import ConfigError

log = logging.getLogger("bench_mias_sam")

#: Queries per faiss call (1,024 x 1,024 float32 = 4 MiB of queries; distances are B x k).
SEARCH_CHUNK = 8192


def faiss_has_gpu() -> bool:
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def resolve_faiss_device(requested: str, torch_device: str) -> str:
    """``auto`` -> ``gpu`` when faiss was built with GPU support, sees a GPU and the run is on CUDA."""
    if requested == "cpu":
        return "cpu"
    if requested == "gpu":
        if not faiss_has_gpu():
            raise ConfigError(
                "faiss_device=gpu, but this faiss has no GPU support or sees no GPU; install the `gpu` extra "
                "(faiss-gpu-cu12) or set faiss_device=auto"
            )
        return "gpu"
    return "gpu" if torch_device.startswith("cuda") and faiss_has_gpu() else "cpu"


class MemoryBank:
    """An exact L2 index over D-dimensional float32 patch features.

    Args:
        dim: feature length (1,024).
        device: ``"cpu"`` or ``"gpu"`` (see :func:`resolve_faiss_device`).
    """

    def __init__(self, dim: int, device: str = "cpu"):
        import faiss

        self.dim = dim
        self.device = device
        if device == "gpu":
            self._resources = faiss.StandardGpuResources()
            self.index = faiss.GpuIndexFlatL2(self._resources, dim)
        else:
            self.index = faiss.IndexFlatL2(dim)

    @property
    def size(self) -> int:
        """Number of patches in the bank."""
        return int(self.index.ntotal)

    @property
    def nbytes(self) -> int:
        """Bytes the stored features take (float32)."""
        return self.size * self.dim * 4

    def add(self, features: np.ndarray) -> None:
        """Append N x D features (float32)."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"expected N x {self.dim} features, got {features.shape}")
        self.index.add(features)

    def search(self, queries: np.ndarray, k: int = 1) -> np.ndarray:
        """N x D queries -> N x k squared L2 distances to the k nearest bank features, ascending.

        Raises:
            ConfigError: the bank is empty or holds fewer than ``k`` patches.
        """
        if k > self.size:
            raise ConfigError(f"k={k} nearest neighbours requested, but the memory bank holds {self.size} patches")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        out = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), SEARCH_CHUNK):
            distances, _ = self.index.search(queries[start : start + SEARCH_CHUNK], k)
            out[start : start + SEARCH_CHUNK] = distances
        return out

    def patch_scores(self, queries: np.ndarray, k: int = 1) -> np.ndarray:
        """N x D queries -> N scores: the mean of the k smallest squared L2 distances."""
        return self.search(queries, k).mean(axis=1)

    def log_size(self, images: int) -> None:
        per_image = self.nbytes / max(images, 1)
        log.info(
            "mias-sam memory bank: %d patches x %d values from %d images = %.1f MiB (%.2f MiB per image) on faiss-%s",
            self.size,
            self.dim,
            images,
            self.nbytes / 2**20,
            per_image / 2**20,
            self.device,
        )
