"""``mias-bench data synth``: write the embedded benchmark in BMAD's own layouts.

Brain goes to ``OUT/brain`` in the ``BraTS2021_slice`` layout, liver to
``OUT/liver`` in the ``hist_DIY`` layout, retina to ``OUT/retina`` in the
``RESC`` layout, so the BMAD loaders read them unchanged. Each tree gets a
``mias-bench-synthetic.json`` marker (generator version, modality, seed,
size, counts). Same arguments, same bytes.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bench.datasets.folder import SYNTHETIC_MARKER
from bench.datasets.synth.brain import BrainGenerator
from bench.datasets.synth.fields import case_rng, to_uint8, write_png
from bench.datasets.synth.liver import LiverGenerator
from bench.datasets.synth.retina import RetinaGenerator
from bench.errors import ConfigError, DatasetError

#: Bumped whenever a change to the generators changes the bytes they write.
GENERATOR_VERSION = 1
MODALITY_LAYOUTS = {"brain": "BraTS2021_slice", "liver": "hist_DIY", "retina": "RESC"}
DEFAULTS = {"seed": 0, "size": 256, "n_train": 40, "n_valid": 10, "n_test": 30}

Progress = Callable[[str, int, int], None]  # (modality, done, total)


class _Generator(Protocol):
    modality: str

    def shape(self) -> tuple[int, int]: ...
    def normal(self, rng: np.random.Generator) -> np.ndarray: ...
    def anomalous(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]: ...


_GENERATORS: dict[str, Callable[[int], _Generator]] = {
    "brain": BrainGenerator,
    "liver": LiverGenerator,
    "retina": RetinaGenerator,
}


@dataclass(frozen=True)
class SynthSummary:
    """One generated tree: where, how many cases per split and label, how long it took."""

    modality: str
    root: Path
    layout: str
    counts: dict[str, dict[str, int]]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "root": str(self.root),
            "layout": self.layout,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
        }


def case_paths(layout: str, split: str, label: int, name: str) -> tuple[str, str | None]:
    """(image path, mask path or ``None``) of one case, relative to the tree, in ``layout``."""
    cls = "Ungood" if label else "good"
    if layout == "BraTS2021_slice":
        if split == "train":
            return f"train/good/{name}", None
        return f"{split}/{cls}/img/{name}", (f"{split}/{cls}/label/{name}" if label else None)
    if layout == "hist_DIY":
        if split == "train":
            return f"train/good/{name}", None
        return f"{split}/img/{cls}/{name}", (f"{split}/label/{cls}/{name}" if label else None)
    if layout == "RESC":
        outer, inner = {"train": ("Train", "train"), "valid": ("Val", "val"), "test": ("Test", "test")}[split]
        return f"{outer}/{inner}/{cls}/{name}", (f"{outer}/{inner}_label/{cls}/{name}" if label else None)
    raise ConfigError(f"unknown layout {layout!r}: expected one of {', '.join(MODALITY_LAYOUTS.values())}")


def split_plan(n_train: int, n_valid: int, n_test: int) -> dict[str, dict[str, int]]:
    """Cases per split and label: training all normal, valid and test about half anomalous."""
    plan = {"train": {"normal": n_train, "anomalous": 0}}
    for split, n in (("valid", n_valid), ("test", n_test)):
        plan[split] = {"normal": n - n // 2, "anomalous": n // 2}
    return plan


def _prepare(root: Path) -> None:
    """Empty a previous synthetic tree; refuse to write into any other non-empty folder."""
    if root.is_file():
        raise DatasetError(f"cannot write the synthetic tree to {root}: it is a file")
    if root.is_dir() and any(root.iterdir()):
        if not (root / SYNTHETIC_MARKER).is_file():
            raise DatasetError(
                f"refusing to write into {root}: it is not empty and holds no {SYNTHETIC_MARKER} "
                "(choose an empty --out folder)"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)


def generate_modality(
    out: Path,
    modality: str,
    *,
    seed: int = 0,
    size: int = 256,
    n_train: int = 40,
    n_valid: int = 10,
    n_test: int = 30,
    progress: Progress | None = None,
) -> SynthSummary:
    """Write ``OUT/<modality>``: PNG images (8-bit grey), masks (0 / 255) and the marker."""
    if modality not in _GENERATORS:
        raise ConfigError(f"unknown modality {modality!r}: expected brain, liver, retina or all")
    if size < 32:
        raise ConfigError(f"--size {size} is too small: expected at least 32 pixels")
    if min(n_train, n_valid, n_test) < 0:
        raise ConfigError("case counts must be zero or more")
    started = time.perf_counter()
    layout = MODALITY_LAYOUTS[modality]
    root = Path(out) / modality
    _prepare(root)
    generator = _GENERATORS[modality](size)
    plan = split_plan(n_train, n_valid, n_test)
    total = sum(c["normal"] + c["anomalous"] for c in plan.values())
    done = 0
    for split, counts in plan.items():
        for index in range(counts["normal"] + counts["anomalous"]):
            rng = case_rng(seed, modality, split, index)
            label = int(index >= counts["normal"])
            image_rel, mask_rel = case_paths(layout, split, label, f"{index:05d}.png")
            if label:
                image, mask = generator.anomalous(rng)
                write_png(root / mask_rel, np.where(mask, 255, 0).astype(np.uint8))
            else:
                image = generator.normal(rng)
            write_png(root / image_rel, to_uint8(image))
            done += 1
            if progress:
                progress(modality, done, total)
    marker = {
        "generator": "mias-bench data synth",
        "version": GENERATOR_VERSION,
        "modality": modality,
        "layout": layout,
        "seed": seed,
        "size": size,
        "shape": list(generator.shape()),
        "counts": plan,
    }
    (root / SYNTHETIC_MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return SynthSummary(modality, root, layout, plan, time.perf_counter() - started)


def generate_synthetic(
    out: str | Path,
    modalities: Sequence[str] = ("brain", "liver", "retina"),
    *,
    progress: Progress | None = None,
    **options: int,
) -> list[SynthSummary]:
    """Write the synthetic benchmark for each modality under ``out``.

    Args:
        out: parent folder; each modality goes to ``out/<modality>``.
        modalities: any of ``brain``, ``liver``, ``retina`` (``all`` expands to the three).
        options: ``seed``, ``size``, ``n_train``, ``n_valid``, ``n_test`` (see ``DEFAULTS``).

    Raises:
        ConfigError: an unknown modality or option, or an invalid size or count.
        DatasetError: ``out/<modality>`` is a non-empty folder that ``data synth`` did not write.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown synth option(s) {', '.join(unknown)}: expected {', '.join(DEFAULTS)}")
    wanted: list[str] = []
    for m in modalities:
        for name in _GENERATORS if m == "all" else [m]:
            if name not in _GENERATORS:
                raise ConfigError(f"unknown modality {name!r}: expected brain, liver, retina or all")
            if name not in wanted:
                wanted.append(name)
    settings = {**DEFAULTS, **options}
    return [generate_modality(Path(out), m, progress=progress, **settings) for m in wanted]
