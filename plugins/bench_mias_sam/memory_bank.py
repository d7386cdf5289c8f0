"""The memory bank: training patches, stored and searched as the config says.

Distances are **squared** L2 (what faiss's L2 indexes return, and what the
authors' code scores with). A patch's score is the mean of its ``k``
smallest squared distances; with ``k = 1`` (the published code's effective
value) it is the squared distance to the nearest training patch.

Options (:class:`BankOptions`, each a config key, so part of a run's identity):

- ``index=flat``, ``dtype=float32``: every kept patch, exact search
  (``IndexFlatL2``); the paper's bank. 4 KiB per patch, 4 MiB per image.
- ``index=flat``, ``dtype=float16``: values rounded to float16 (2 KiB per
  patch); searched exactly on the rounded values, a block at a time through
  BLAS (``faiss.knn``), so as fast as float32 on a CPU (faiss's own float16
  index is about 4x slower there); on a GPU, ``GpuIndexFlatL2`` in float16.
- ``index=ivf``: inverted lists over ``ivf_lists`` k-means centroids, of
  float32 or float16 vectors; ``ivf_probe`` lists searched per query.
- ``index=ivf-pq``: inverted lists of product-quantised residuals,
  ``pq_subquantizers`` codes of ``pq_bits`` bits per patch (64 bytes at the
  defaults) plus an 8-byte id.
- ``coreset``: any of the above over a per-image coreset (see
  :mod:`bench_mias_sam.coreset`).

The bank is built streaming: :meth:`MemoryBank.add` takes one image's
patches at a time and only the index grows. An ``ivf`` bank must be trained
before vectors are added: it holds back the first patches (at most
:data:`TRAIN_CAP` vectors) as the k-means sample, trains, then adds them and
everything after directly; the detector feeds such a bank its training
images in a seeded shuffled order, so the sample is spread over the set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from bench.sdk import ConfigError
from bench_mias_sam.coreset import make_coreset

log = logging.getLogger("bench_mias_sam")

#: Queries per faiss call (8,192 x 1,024 float32 = 32 MiB of queries; distances are B x k).
SEARCH_CHUNK = 8192
#: Rows per float16 block on the CPU (32,768 x 1,024 x 4 bytes = 128 MiB while a block is searched).
FLOAT16_BLOCK_ROWS = 32768
#: Most vectors held back to train an ivf bank (1 GiB of float32 features at 1,024 values).
TRAIN_CAP = 262_144
ID_BYTES = 8  # faiss stores an int64 id beside every vector of an inverted list


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


@dataclass(frozen=True)
class BankOptions:
    """How the bank stores and searches patches (the ``bank_*``, ``coreset_*``, ``ivf_*``, ``pq_*`` keys)."""

    index: str = "flat"
    dtype: str = "float32"
    coreset: str = "none"
    coreset_ratio: float = 1.0
    projection_dim: int = 128
    ivf_lists: int = 1024
    ivf_probe: int = 16
    pq_subquantizers: int = 64
    pq_bits: int = 8
    seed: int = 0

    @classmethod
    def from_config(cls, cfg, seed: int) -> BankOptions:
        return cls(
            index=cfg.bank_index,
            dtype=cfg.bank_dtype,
            coreset=cfg.bank_coreset,
            coreset_ratio=cfg.bank_coreset_ratio,
            projection_dim=cfg.coreset_projection_dim,
            ivf_lists=cfg.ivf_lists,
            ivf_probe=cfg.ivf_probe,
            pq_subquantizers=cfg.pq_subquantizers,
            pq_bits=cfg.pq_bits,
            seed=seed,
        )

    @property
    def needs_training(self) -> bool:
        return self.index != "flat"

    def describe(self) -> dict:
        """The options that matter for this bank (for its cache key and the run's notes)."""
        out = {"index": self.index}
        if self.index != "ivf-pq":
            out["dtype"] = self.dtype
        if self.index != "flat":
            out.update(ivf_lists=self.ivf_lists, ivf_probe=self.ivf_probe)
        if self.index == "ivf-pq":
            out.update(pq_subquantizers=self.pq_subquantizers, pq_bits=self.pq_bits)
        if self.coreset != "none":
            out.update(coreset=self.coreset, coreset_ratio=self.coreset_ratio, seed=self.seed)
            if self.coreset == "greedy":
                out["projection_dim"] = self.projection_dim
        if self.index != "flat":
            out["shuffle_seed"] = self.seed
        return out


class _Float16Blocks:
    """Float16 rows in fixed-size blocks, searched exactly a block at a time through ``faiss.knn``."""

    def __init__(self, dim: int):
        self.dim = dim
        self.blocks: list[np.ndarray] = []
        self.ntotal = 0

    def add(self, features: np.ndarray) -> None:
        rows = features.astype(np.float16)
        while len(rows):
            if not self.blocks or len(self.blocks[-1]) == FLOAT16_BLOCK_ROWS:
                self.blocks.append(np.empty((0, self.dim), dtype=np.float16))
            room = FLOAT16_BLOCK_ROWS - len(self.blocks[-1])
            self.blocks[-1] = np.concatenate([self.blocks[-1], rows[:room]])
            rows = rows[room:]
        self.ntotal = sum(len(b) for b in self.blocks)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, None]:
        import faiss

        parts = []
        for block in self.blocks:
            kb = min(k, len(block))
            distances, _ = faiss.knn(queries, block.astype(np.float32), kb)
            parts.append(distances)
        merged = np.concatenate(parts, axis=1)
        return np.sort(merged, axis=1)[:, :k], None


class MemoryBank:
    """Training patches of dimension ``dim`` in the store ``options`` describe, on faiss ``device``.

    Args:
        dim: feature length (1,024).
        device: ``"cpu"`` or ``"gpu"`` (see :func:`resolve_faiss_device`).
        options: storage, index and coreset (:class:`BankOptions`).
    """

    def __init__(self, dim: int, device: str = "cpu", options: BankOptions | None = None):
        self.dim = dim
        self.device = device
        self.options = options or BankOptions()
        self._coreset = make_coreset(
            self.options.coreset,
            dim=dim,
            ratio=self.options.coreset_ratio,
            projection_dim=self.options.projection_dim,
            seed=self.options.seed,
        )
        self._held: list[np.ndarray] = []  # ivf training sample, until trained
        self._held_rows = 0
        self.offered = 0  # patches offered before any coreset
        self.index = self._new_index()
        self._trained = not self.options.needs_training

    # -- building ---------------------------------------------------------------------------------

    def _gpu_resources(self):
        import faiss

        if not hasattr(self, "_resources"):
            self._resources = faiss.StandardGpuResources()
        return self._resources

    def _new_index(self):
        import faiss

        opts, d = self.options, self.dim
        if opts.index == "flat":
            if self.device == "gpu":
                config = faiss.GpuIndexFlatConfig()
                config.useFloat16 = opts.dtype == "float16"
                return faiss.GpuIndexFlatL2(self._gpu_resources(), d, config)
            return faiss.IndexFlatL2(d) if opts.dtype == "float32" else _Float16Blocks(d)
        quantizer = faiss.IndexFlatL2(d)
        if opts.index == "ivf-pq":
            index = faiss.IndexIVFPQ(quantizer, d, opts.ivf_lists, opts.pq_subquantizers, opts.pq_bits)
            index.pq.cp.min_points_per_centroid = 1  # small samples are expected; faiss would print a warning
        elif opts.dtype == "float16":
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, d, opts.ivf_lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_L2
            )
            index.by_residual = False  # store the vectors themselves in float16, as a flat float16 bank does
        else:
            index = faiss.IndexIVFFlat(quantizer, d, opts.ivf_lists, faiss.METRIC_L2)
        index.cp.min_points_per_centroid = 1
        return index  # faiss's Python layer keeps `quantizer` alive with the index

    @property
    def train_target(self) -> int:
        """Vectors held back to train an ivf bank (64 per list, at least 16 per PQ centroid, at most TRAIN_CAP)."""
        want = 64 * self.options.ivf_lists
        if self.options.index == "ivf-pq":
            want = max(want, 16 * (1 << self.options.pq_bits))
        return min(want, TRAIN_CAP)

    def add(self, features: np.ndarray) -> None:
        """Append one image's N x D patches (float32), through the coreset when there is one."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"expected N x {self.dim} features, got {features.shape}")
        self.offered += len(features)
        if self._coreset is not None:
            features = np.ascontiguousarray(features[self._coreset.select(features)])
        if self._trained:
            self.index.add(features)
            return
        self._held.append(features)
        self._held_rows += len(features)
        if self._held_rows >= self.train_target:
            self._train()

    def _train(self) -> None:
        sample = np.concatenate(self._held) if self._held else np.empty((0, self.dim), np.float32)
        lists = self.options.ivf_lists
        if len(sample) < lists:
            raise ConfigError(
                f"ivf_lists={lists} needs at least {lists} training patches to train its centroids; the memory "
                f"bank has {len(sample)} (lower ivf_lists or use bank_index=flat)"
            )
        self.index.train(sample)
        self.index.add(sample)
        self._held, self._held_rows, self._trained = [], 0, True

    def finish(self) -> None:
        """End of the training stream: train an ivf bank on what it holds, set its probes, move it to the GPU."""
        if not self._trained:
            self._train()
        if self.options.needs_training:
            self.index.nprobe = self.options.ivf_probe
            if self.device == "gpu" and not hasattr(self, "_on_gpu"):
                import faiss

                options = faiss.GpuClonerOptions()
                # IVF-PQ's lookup tables must fit the GPU's shared memory; float16 tables halve them.
                options.useFloat16LookupTables = self.options.index == "ivf-pq"
                self.index = faiss.index_cpu_to_gpu(self._gpu_resources(), 0, self.index, options)
                self._on_gpu = True

    # -- facts ------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of patches in the bank."""
        return int(self.index.ntotal) + self._held_rows

    @property
    def nbytes(self) -> int:
        """Bytes the bank's search structure takes: vectors or codes, ids, centroids and codebooks."""
        opts, n, d = self.options, self.size, self.dim
        if opts.index == "flat":
            return n * d * (4 if opts.dtype == "float32" else 2)
        centroids = opts.ivf_lists * d * 4
        if opts.index == "ivf":
            return n * (d * (4 if opts.dtype == "float32" else 2) + ID_BYTES) + centroids
        code = -(-opts.pq_subquantizers * opts.pq_bits // 8)
        codebooks = (1 << opts.pq_bits) * d * 4
        return n * (code + ID_BYTES) + centroids + codebooks

    def vectors(self) -> np.ndarray:
        """Every stored vector as float32 (flat banks only; for tests and diagnostics)."""
        if self.options.index != "flat":
            raise ValueError(f"bank_index={self.options.index} stores codes, not vectors")
        if isinstance(self.index, _Float16Blocks):
            if not self.index.blocks:
                return np.empty((0, self.dim), np.float32)
            return np.concatenate(self.index.blocks).astype(np.float32)
        return self.index.reconstruct_n(0, self.size)

    # -- searching --------------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int = 1) -> np.ndarray:
        """N x D queries -> N x k squared L2 distances to the k nearest bank patches, ascending.

        Raises:
            ConfigError: the bank holds fewer than ``k`` patches, or an ivf
                search found fewer than ``k`` neighbours for some query
                (too few lists probed).
        """
        if k > self.size:
            raise ConfigError(f"k={k} nearest neighbours requested, but the memory bank holds {self.size} patches")
        if not self._trained:
            self.finish()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        out = np.empty((len(queries), k), dtype=np.float32)
        short = 0
        for start in range(0, len(queries), SEARCH_CHUNK):
            distances, labels = self.index.search(queries[start : start + SEARCH_CHUNK], k)
            out[start : start + SEARCH_CHUNK] = distances
            if labels is not None:  # faiss marks a missing neighbour with label -1 (distance FLT_MAX)
                short += int((labels < 0).any(axis=1).sum())
        if short:
            raise ConfigError(
                f"the memory bank found fewer than k={k} neighbours for {short} of {len(out)} patches with "
                f"ivf_probe={self.options.ivf_probe}; raise ivf_probe (or lower ivf_lists)"
            )
        return out

    def patch_scores(self, queries: np.ndarray, k: int = 1) -> np.ndarray:
        """N x D queries -> N scores: the mean of the k smallest squared L2 distances."""
        return self.search(queries, k).mean(axis=1)

    def describe(self, images: int) -> dict:
        """Facts for the run's notes: options, patches, bytes (total and per training image)."""
        return {
            "bank": self.options.describe(),
            "bank_patches": self.size,
            "bank_patches_offered": self.offered,
            "bank_bytes": self.nbytes,
            "bank_bytes_per_train_image": self.nbytes // max(images, 1),
            "faiss_device": self.device,
        }

    def log_size(self, images: int) -> None:
        log.info(
            "mias-sam memory bank (%s): %d patches x %d values from %d images = %.1f MiB (%.2f MiB per image) "
            "on faiss-%s",
            ", ".join(f"{k}={v}" for k, v in self.options.describe().items()),
            self.size,
            self.dim,
            images,
            self.nbytes / 2**20,
            self.nbytes / max(images, 1) / 2**20,
            self.device,
        )
