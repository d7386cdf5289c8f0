"""Coresets of a memory bank, chosen image by image as the bank is streamed in.

PatchCore's coreset is k-center greedy over every training patch at once
(on a random projection): O(N x m) distance evaluations for N patches and
m kept, about 10^17 for BMAD brain at 10 %, and it needs all patches in
memory. Here each training image's patches are reduced on their own as the
image arrives, so memory and time grow linearly with the training set:

- ``random``: a uniform draw without replacement of ``ratio`` of the image's
  patches (seeded);
- ``greedy``: k-center greedy within the image on a Gaussian random
  projection to ``projection_dim`` values (Johnson-Lindenstrauss; squared
  distances kept to within a few per cent), starting from a seeded random
  patch. Approximate twice over: the projection, and no comparison with
  other images' patches.

Each image keeps ``max(1, round(ratio x patches))`` patches. The kept rows
are the original (unprojected) features; only the choice uses the
projection.
"""

from __future__ import annotations

import numpy as np


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


def greedy_k_center(points: np.ndarray, count: int, start: int) -> np.ndarray:
    """Indices of ``count`` points chosen by k-center greedy from ``start`` (float64 squared distances).

    Each step takes the point farthest (squared L2) from everything chosen so far.
    """
    points = points.astype(np.float64, copy=False)
    chosen = np.empty(count, dtype=np.int64)
    chosen[0] = start
    nearest = ((points - points[start]) ** 2).sum(axis=1)
    for i in range(1, count):
        chosen[i] = int(np.argmax(nearest))
        nearest = np.minimum(nearest, ((points - points[chosen[i]]) ** 2).sum(axis=1))
    return chosen


class GreedyCoreset:
    """Approximate k-center greedy per image on a random projection (see the module docstring)."""

    def __init__(self, dim: int, ratio: float, projection_dim: int, seed: int):
        self.ratio = ratio
        self._rng = np.random.default_rng(seed)
        # Gaussian projection scaled so squared lengths are kept in expectation.
        self.projection = (self._rng.standard_normal((dim, projection_dim)) / np.sqrt(projection_dim)).astype(
            np.float32
        )

    def select(self, features: np.ndarray) -> np.ndarray:
        """N x D features of one image -> ascending row indices to keep."""
        n = len(features)
        projected = np.asarray(features, dtype=np.float32) @ self.projection
        chosen = greedy_k_center(projected, kept_count(n, self.ratio), int(self._rng.integers(n)))
        return np.sort(chosen)


def make_coreset(kind: str, *, dim: int, ratio: float, projection_dim: int, seed: int):
    """The selector for ``bank_coreset`` (``None`` for ``none``)."""
    if kind == "none":
        return None
    if kind == "random":
        return RandomCoreset(ratio, seed)
    if kind == "greedy":
        return GreedyCoreset(dim, ratio, projection_dim, seed)
    raise ValueError(f"unknown bank_coreset {kind!r}; expected none, random or greedy")
