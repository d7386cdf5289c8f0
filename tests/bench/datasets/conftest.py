"""Builders of small BMAD-layout trees in every variant the loaders accept."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@dataclass(frozen=True)
class ToyCase:
    split: str
    label: int
    stem: str
    image: np.ndarray  # uint8 H x W
    mask: np.ndarray | None  # uint8 H x W, several grey levels (as BraTS saves them)


def toy_cases(n_train: int = 4, n_valid: int = 4, n_test: int = 6, size: int = 16, seed: int = 0) -> list[ToyCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        for i in range(n):
            label = int(split != "train" and i % 2 == 1)
            image = rng.integers(0, 256, (size, size), dtype=np.uint8)
            mask = None
            if label:
                mask = np.zeros((size, size), dtype=np.uint8)
                mask[2 : 2 + i + 2, 3:9] = rng.choice([1, 2, 4, 255])
                mask[1, 1] = 2
            cases.append(ToyCase(split, label, f"{split[:2]}{i:03d}", image, mask))
    return cases


def _cls(label: int, lower: bool = False) -> str:
    return ("ungood" if lower else "Ungood") if label else "good"


def layout_paths(layout: str, case: ToyCase) -> tuple[str, str | None]:
    """(image path, mask path) of a toy case in one of the layout variants the loaders accept."""
    s, c, name = case.split, _cls(case.label), f"{case.stem}.png"
    if layout == "brats":
        if s == "train":
            return f"train/good/{name}", None
        return f"{s}/{c}/img/{name}", f"{s}/{c}/label/{name}"
    if layout == "brats-variant":  # lower-case ungood, anomaly_mask, val, masks named *_mask
        sv, cl = ("val" if s == "valid" else s), _cls(case.label, lower=True)
        if s == "train":
            return f"train/good/{name}", None
        return f"{sv}/{cl}/img/{name}", f"{sv}/{cl}/anomaly_mask/{case.stem}_mask.png"
    if layout == "hist_diy":
        if s == "train":
            return f"train/good/{name}", None
        return f"{s}/img/{c}/{name}", f"{s}/label/{c}/{name}"
    if layout == "resc":
        outer, inner = {"train": ("Train", "train"), "valid": ("Val", "val"), "test": ("Test", "test")}[s]
        return f"{outer}/{inner}/{c}/{name}", f"{outer}/{inner}_label/{c}/{name}"
    if layout == "class-first":  # class-then-split nesting
        if s == "train":
            return f"good/train/{name}", None
        return f"{c}/{s}/img/{name}", f"{c}/{s}/label/{name}"
    if layout == "anomalib":  # the anomalib copy: BMAD/Brain/..., normals with masks too
        if s == "train":
            return f"Brain/train/good/{name}", None
        return f"Brain/{s}/{c}/img/{name}", f"Brain/{s}/{c}/label/{name}"
    raise ValueError(layout)


LAYOUTS = ("brats", "brats-variant", "hist_diy", "resc", "class-first", "anomalib")


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def write_tree(root: Path, layout: str, cases: list[ToyCase], *, normal_masks: bool = False) -> Path:
    """Write ``cases`` under ``root`` in ``layout``; return the folder to pass as the data root."""
    for case in cases:
        image_rel, mask_rel = layout_paths(layout, case)
        path = root / image_rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(case.image))
        mask = case.mask
        if mask is None and case.split != "train" and (normal_masks or layout == "anomalib"):
            mask = np.zeros_like(case.image)
        if mask is not None and mask_rel is not None:
            (root / mask_rel).parent.mkdir(parents=True, exist_ok=True)
            (root / mask_rel).write_bytes(png_bytes(mask))
    return root


@pytest.fixture
def toy():
    return toy_cases()


@pytest.fixture
def brats_tree(tmp_path, toy):
    return write_tree(tmp_path / "BraTS2021_slice", "brats", toy)


@pytest.fixture(params=LAYOUTS)
def layout(request) -> str:
    return request.param


@pytest.fixture
def kit():
    """The builders, for tests that need more than the fixtures give."""
    from types import SimpleNamespace

    return SimpleNamespace(
        toy_cases=toy_cases, write_tree=write_tree, layout_paths=layout_paths, png_bytes=png_bytes, LAYOUTS=LAYOUTS
    )
