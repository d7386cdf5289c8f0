"""BMAD's published per-split counts, reproduced from trees of tiny valid PNG files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench.datasets.bmad import BMAD_BRAIN, BMAD_LIVER, BMAD_RESC
from bench.datasets.check import _count_problems

TINY = io.BytesIO()
Image.fromarray(np.zeros((1, 1), np.uint8)).save(TINY, format="PNG")
TINY_PNG = TINY.getvalue()

# RESC publishes only its validation total (115); the split between labels is ours.
RESC_VALID = (60, 55)


def _paths(layout: str, split: str, label: int, i: int) -> list[str]:
    cls, name = ("Ungood" if label else "good"), f"{i:05d}.png"
    if split == "train":
        return [f"Train/train/good/{name}" if layout == "RESC" else f"train/good/{name}"]
    if layout == "BraTS2021_slice":
        return [f"{split}/{cls}/img/{name}"] + ([f"{split}/{cls}/label/{name}"] if label else [])
    if layout == "hist_DIY":
        return [f"{split}/img/{cls}/{name}"] + ([f"{split}/label/{cls}/{name}"] if label else [])
    outer, inner = ("Val", "val") if split == "valid" else ("Test", "test")
    return [f"{outer}/{inner}/{cls}/{name}"] + ([f"{outer}/{inner}_label/{cls}/{name}"] if label else [])


@pytest.mark.parametrize(
    ("spec", "layout"), [(BMAD_BRAIN, "BraTS2021_slice"), (BMAD_LIVER, "hist_DIY"), (BMAD_RESC, "RESC")]
)
def test_loaders_reproduce_bmad_published_counts(tmp_path, spec, layout):
    root = tmp_path / layout
    made = set()
    i = 0
    for split, counts in spec.published.items():
        normal, anomalous = counts.normal, counts.anomalous
        if normal is None:
            normal, anomalous = RESC_VALID
        for label, n in ((0, normal), (1, anomalous)):
            for _ in range(n):
                for rel in _paths(layout, split, label, i):
                    folder = (root / rel).parent
                    if folder not in made:
                        folder.mkdir(parents=True, exist_ok=True)
                        made.add(folder)
                    (root / rel).write_bytes(TINY_PNG)
                i += 1
    dataset = spec.open(tmp_path)
    for split, published in spec.published.items():
        refs = dataset.cases(split)
        assert len(refs) == published.total
        if published.normal is not None:
            assert sum(r.label == 0 for r in refs) == published.normal
            assert sum(r.label == 1 for r in refs) == published.anomalous
    expected = {s: c.as_dict() for s, c in spec.published.items()}
    assert _count_problems(dataset.counts(), expected, "BMAD") == []
