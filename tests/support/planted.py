"""Generated cases with a planted bright lesion, for tests of the core."""

from __future__ import annotations

import numpy as np

from bench.contract import LabelledCase
from bench.datasets.base import InMemoryDataset


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    blob = np.exp(-(((yy - 0.5) ** 2 + (xx - 0.5) ** 2) / 0.08))
    image = 0.2 + 0.4 * blob + rng.normal(0, 0.03, (size, size))
    return np.clip(image, 0, 1).astype(np.float32)


def _quantise(image: np.ndarray) -> np.ndarray:
    return (np.rint(image * 255) / 255).astype(np.float32)


def planted_cases(
    n_train: int = 12, n_valid: int = 6, n_test: int = 10, size: int = 64, seed: int = 0, intensity: float = 0.35
) -> list[LabelledCase]:
    """Normal training cases; valid and test halves normal, halves with a bright disc."""
    rng = np.random.default_rng(seed)
    cases: list[LabelledCase] = []
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        for i in range(n):
            image = _background(rng, size)
            anomalous = split != "train" and i % 2 == 1
            mask = None
            if anomalous:
                radius = rng.uniform(0.06, 0.14) * size
                cy, cx = rng.uniform(0.3, 0.7, 2) * size
                yy, xx = np.mgrid[0:size, 0:size]
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
                image = np.clip(image + intensity * mask, 0, 1).astype(np.float32)
            cases.append(
                LabelledCase(
                    id=f"{split}/{'Ungood' if anomalous else 'good'}/{i:03d}.png",
                    image=_quantise(image),
                    mask=mask,
                    modality="brain",
                    split=split,
                    label=int(anomalous),
                )
            )
    return cases


def planted_dataset(**kwargs) -> InMemoryDataset:
    return InMemoryDataset("planted", "brain", planted_cases(**kwargs))
