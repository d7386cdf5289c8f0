"""k-center greedy against an explicit loop; the greedy coreset covers better than a random one."""

from __future__ import annotations

import numpy as np
import pytest

from bench_mias_sam.coreset import GreedyCoreset, RandomCoreset, greedy_k_center, kept_count


def _greedy_by_loop(points: np.ndarray, count: int, start: int, before: np.ndarray | None = None) -> list[int]:
    """k-center greedy: each step the point farthest from everything chosen (and from ``before``)."""
    chosen = [] if before is not None else [start]
    while len(chosen) < count:
        best, best_distance = -1, -1.0
        for i, p in enumerate(points):
            centres = [points[j] for j in chosen] + ([] if before is None else list(before))
            distance = min(float(((p - c) ** 2).sum()) for c in centres)
            if distance > best_distance:
                best, best_distance = i, distance
        chosen.append(best)
    return chosen


def test_greedy_k_center_matches_an_explicit_loop():
    points = np.random.default_rng(0).normal(size=(60, 5))
    assert greedy_k_center(points, 12, start=7).tolist() == _greedy_by_loop(points, 12, 7)


def test_greedy_k_center_continues_from_points_chosen_before():
    rng = np.random.default_rng(1)
    points, before = rng.normal(size=(50, 4)), rng.normal(size=(9, 4))
    nearest = ((points[:, None, :] - before[None]) ** 2).sum(-1).min(axis=1)
    got = greedy_k_center(points, 10, start=0, nearest=nearest).tolist()
    assert got == _greedy_by_loop(points, 10, 0, before)


def test_an_image_seen_again_adds_the_patches_not_kept_the_first_time():
    image = np.random.default_rng(2).normal(size=(200, 32)).astype(np.float32)
    coreset = GreedyCoreset(32, 0.1, 16, seed=0)
    first, second = coreset.select(image), coreset.select(image)
    assert len(first) == len(second) == 20 and not set(first) & set(second)


def test_past_its_memory_the_greedy_coreset_keeps_a_uniform_sample(monkeypatch):
    from bench_mias_sam import coreset as coreset_module

    monkeypatch.setattr(coreset_module, "MEMORY_ROWS", 50)
    coreset = GreedyCoreset(8, 0.5, 8, seed=0)
    rng = np.random.default_rng(3)
    late = []
    for image in range(40):  # 40 images x 10 kept = 400 kept rows, 50 remembered
        features = rng.normal(size=(20, 8)).astype(np.float32)
        kept = features[coreset.select(features)] @ coreset.projection
        if image >= 20:
            late.append(kept)
    assert coreset._memory.shape == (50, 8) and coreset._seen == 400
    late_rows = np.concatenate(late)
    from_late = sum(bool((np.abs(late_rows - row).max(axis=1) < 1e-4).any()) for row in coreset._memory)
    assert 12 <= from_late <= 38  # half the kept rows came from the last 20 images: about 25 of 50 expected


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
