"""Generated cases and a tiny random SAM, shared by the MIAS-SAM tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.contract import LabelledCase


def make_case(rng: np.random.Generator, case_id: str, split: str, anomalous: bool, shape=(256, 256)) -> LabelledCase:
    """A textured gray slice from 8-bit values; anomalous cases carry a bright disk and its mask."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    image = 0.35 + 0.1 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + rng.normal(0, 0.03, shape)
    mask = None
    if anomalous:
        cy, cx = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < (min(h, w) // 10) ** 2
        image[mask] = 0.95
    image = (np.rint(np.clip(image, 0, 1) * 255) / 255).astype(np.float32)
    return LabelledCase(case_id, image, mask, "brain", split, int(anomalous))


def make_split(seed: int, split: str, n_normal: int, n_anomalous: int, shape=(256, 256)) -> list[LabelledCase]:
    rng = np.random.default_rng(seed)
    cases = [make_case(rng, f"{split}/good/{i:03d}", split, False, shape) for i in range(n_normal)]
    cases += [make_case(rng, f"{split}/Ungood/{i:03d}", split, True, shape) for i in range(n_anomalous)]
    return cases


@pytest.fixture(scope="session")
def split_factory():
    """``make_split(seed, split, n_normal, n_anomalous, shape)`` for tests that need their own cases."""
    return make_split


@pytest.fixture(scope="session")
def cases() -> dict[str, list[LabelledCase]]:
    return {
        "train": make_split(1, "train", 3, 0),
        "valid": make_split(2, "valid", 2, 1),
        "test": make_split(3, "test", 2, 2),
    }


@pytest.fixture(scope="session")
def tiny_sam():
    from bench_mias_sam.sam_models import build_tiny_sam

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_tiny_sam().requires_grad_(False)


@pytest.fixture(autouse=True)
def _one_thread():
    """The machine is shared; keep torch on one thread inside these tests."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
