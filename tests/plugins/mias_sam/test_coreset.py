"""k-center greedy against an explicit loop; the greedy coreset covers better than a random one."""

from __future__ import annotations

import numpy as np
import pytest

from bench_mias_sam.coreset import GreedyCoreset, RandomCoreset, greedy_k_center, kept_count


def _greedy_by_loop(points: np.ndarray, count: int, start: int) -> list[int]:
    chosen = [start]
    while len(chosen) < count:
        best, best_distance = -1, -1.0
        for i, p in enumerate(points):
            distance = min(float(((p - points[j]) ** 2).sum()) for j in chosen)
            if distance > best_distance:
                best, best_distance = i, distance
        chosen.append(best)
    return chosen


def test_greedy_k_center_matches_an_explicit_loop():
    points = np.random.default_rng(0).normal(size=(60, 5))
    assert greedy_k_center(points, 12, start=7).tolist() == _greedy_by_loop(points, 12, 7)


def _covering_radius(points: np.ndarray, kept: np.ndarray) -> float:
    d2 = ((points[:, None, :] - points[None, kept, :]) ** 2).sum(-1)
    return float(np.sqrt(d2.min(axis=1).max()))


def test_the_greedy_coreset_covers_an_image_better_than_a_random_one():
    rng = np.random.default_rng(1)
    means = rng.normal(0, 6, (30, 256))
    image = (means[rng.integers(30, size=1024)] + rng.normal(0, 1, (1024, 256))).astype(np.float32)
    greedy = GreedyCoreset(256, 0.05, 64, seed=0).select(image)
    random = RandomCoreset(0.05, seed=0).select(image)
    assert len(greedy) == len(random) == kept_count(1024, 0.05) == 51
    assert _covering_radius(image, greedy) < 0.8 * _covering_radius(image, random)


@pytest.mark.parametrize(("patches", "ratio", "kept"), [(1024, 0.1, 102), (1024, 1.0, 1024), (3, 0.01, 1)])
def test_kept_count_rounds_and_keeps_at_least_one(patches, ratio, kept):
    assert kept_count(patches, ratio) == kept
