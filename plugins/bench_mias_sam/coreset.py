"""Coresets of a memory bank, chosen image by image as the bank is streamed in.

PatchCore's coreset is k-center greedy over every training patch at once
(on a random projection): O(N x m) distance evaluations for N patches and
m kept, about 10^17 for BMAD brain at 10 %, and it needs all patches in
memory. Here each training image's patches are reduced as the image
arrives, so memory and time grow linearly with the training set:

- ``random``: a uniform draw without replacement of ``ratio`` of the image's
  patches (seeded);
- ``greedy``: k-center greedy on a Gaussian random projection to
  ``projection_dim`` values (Johnson-Lindenstrauss: squared distances kept
  to within a few per cent), where each patch starts at its distance to the
  patches already kept from earlier images, so an image contributes the
  patches the bank does not cover yet (a patch repeated from earlier images
  is kept again only when an image has fewer new patches than its quota).
  The first image starts from a seeded random patch.
  Earlier patches are remembered (projected) up to :data:`MEMORY_ROWS`,
  then by a uniform reservoir sample: approximate twice over (the
  projection, and the bounded memory), linear in the training set.

Each image keeps ``max(1, round(ratio x patches))`` patches. The kept rows
are the original (unprojected) features; only the choice uses the
projection.
"""

from __future__ import annotations

import numpy as np

#: Projected kept patches remembered for the greedy coreset (65,536 x 128 float32 = 32 MiB).
MEMORY_ROWS = 65_536


def kept_count(patches: int, ratio: float) -> int:
    """Patches kept out of ``patches`` at ``ratio`` (at least one)."""
    return max(1, min(patches, int(round(ratio * patches))))


class RandomCoreset:
    """A seeded uniform draw of ``ratio`` of each image's patches."""

    def __init__(self, ratio: float, seed: int):
        self.ratio = ratio
        self._rng = np.random.default_rng(seed)

    def select(self, features: np.ndarray) -> np.ndarray:
        """N x D features of one image -> ascending row indices to keep."""
        n = len(features)
        return np.sort(self._rng.choice(n, size=kept_count(n, self.ratio), replace=False))


def greedy_k_center(points: np.ndarray, count: int, start: int, nearest: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``count`` points chosen by k-center greedy (float64 squared distances).

    Each step takes the point farthest from everything chosen so far. With
    ``nearest`` (each point's squared distance to points chosen before, e.g.
    from other images), the first point is the farthest one rather than ``start``.
    """
    points = points.astype(np.float64, copy=False)
    chosen = np.empty(count, dtype=np.int64)
    if nearest is None:
        chosen[0] = start
        nearest = ((points - points[start]) ** 2).sum(axis=1)
    else:
        chosen[0] = int(np.argmax(nearest))
        nearest = np.minimum(nearest.astype(np.float64), ((points - points[chosen[0]]) ** 2).sum(axis=1))
    for i in range(1, count):
        chosen[i] = int(np.argmax(nearest))
        nearest = np.minimum(nearest, ((points - points[chosen[i]]) ** 2).sum(axis=1))
    return chosen


class GreedyCoreset:
    """Streaming k-center greedy on a random projection (see the module docstring)."""

    def __init__(self, dim: int, ratio: float, projection_dim: int, seed: int):
        self.ratio = ratio
        self._rng = np.random.default_rng(seed)
        # Gaussian projection scaled so squared lengths are kept in expectation.
        self.projection = (self._rng.standard_normal((dim, projection_dim)) / np.sqrt(projection_dim)).astype(
            np.float32
        )
        self._memory = np.empty((0, projection_dim), dtype=np.float32)  # projected kept patches (or a sample)
        self._seen = 0  # kept patches so far (the reservoir's population)

    def select(self, features: np.ndarray) -> np.ndarray:
        """N x D features of one image -> ascending row indices to keep."""
        import faiss

        n = len(features)
        projected = np.ascontiguousarray(np.asarray(features, dtype=np.float32) @ self.projection)
        nearest = None
        if len(self._memory):
            nearest = np.maximum(faiss.knn(projected, self._memory, 1)[0][:, 0], 0.0)
        chosen = greedy_k_center(projected, kept_count(n, self.ratio), int(self._rng.integers(n)), nearest)
        self._remember(projected[chosen])
        return np.sort(chosen)

    def _remember(self, rows: np.ndarray) -> None:
        """Add kept rows to the memory; past MEMORY_ROWS, keep a uniform reservoir sample of all kept rows."""
        room = max(MEMORY_ROWS - len(self._memory), 0)
        if room:
            self._memory = np.concatenate([self._memory, rows[:room]])
            self._seen += min(room, len(rows))
        for row in rows[room:]:
            slot = int(self._rng.integers(self._seen + 1))
            if slot < MEMORY_ROWS:
                self._memory[slot] = row
            self._seen += 1


def make_coreset(kind: str, *, dim: int, ratio: float, projection_dim: int, seed: int):
    """The selector for ``bank_coreset`` (``None`` for ``none``)."""
    if kind == "none":
        return None
    if kind == "random":
        return RandomCoreset(ratio, seed)
    if kind == "greedy":
        return GreedyCoreset(dim, ratio, projection_dim, seed)
    raise ValueError(f"unknown bank_coreset {kind!r}; expected none, random or greedy")
