"""A dataset backed by a folder of PNG files in a BMAD-style layout.

Listing a split scans the tree once (``stat`` only) and returns
:class:`FileCaseRef` objects; a ref decodes its image and mask only in
:meth:`FileCaseRef.load`. A malformed tree raises :class:`DatasetError` on
first use, naming the files and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.contract import LabelledCase
from bench.datasets.base import SPLITS, CaseRef, Dataset
from bench.datasets.images import read_image, read_mask
from bench.datasets.layout import TreeScan, scan_tree
from bench.datasets.manifest import Manifest, build_manifest
from bench.errors import DatasetError

#: Written by ``mias-bench data synth`` at the root of every tree it generates.
SYNTHETIC_MARKER = "mias-bench-synthetic.json"
_SHOWN_PROBLEMS = 3


@dataclass(frozen=True)
class FileCaseRef(CaseRef):
    """A case on disk: ``image`` (and ``mask``) are paths relative to ``root``."""

    root: Path = Path(".")
    image: str = ""
    mask: str | None = None

    def load(self) -> LabelledCase:
        """Decode the image (float32 H x W in [0, 1]) and, for an anomalous case, its mask.

        Raises:
            DatasetError: a file is unreadable, or the mask's size differs from the image's.
        """
        image, bits = read_image(self.root / self.image)
        mask = None
        if self.label == 1:
            if self.mask is None:
                raise DatasetError(f"anomalous case `{self.id}` has no mask")
            mask = read_mask(self.root / self.mask)
            if mask.shape != image.shape:
                raise DatasetError(
                    f"mask `{self.mask}` is {mask.shape[1]}x{mask.shape[0]} (WxH), "
                    f"expected the size of its image `{self.image}`, {image.shape[1]}x{image.shape[0]}"
                )
        return LabelledCase(
            id=self.id,
            image=image,
            mask=mask,
            modality=self.modality,
            split=self.split,
            label=self.label,
            source_bits=bits,
        )


class FolderDataset(Dataset):
    """PNG images (and masks) under one folder, read with the BMAD layout rules.

    Attributes:
        root: the dataset folder; case ids are image paths relative to it.
        collection: ``"synthetic"`` when ``data synth`` wrote the tree, else ``"bmad"``.
    """

    def __init__(self, name: str, modality: str, root: Path, *, collection: str | None = None):
        self.name = name
        self.modality = modality
        self.root = Path(root)
        self.collection = collection or ("synthetic" if self.synthetic_info() else "bmad")
        self._scan: TreeScan | None = None
        self._manifest: Manifest | None = None

    def location(self) -> str:
        return str(self.root)

    def synthetic_info(self) -> dict[str, Any] | None:
        """The generator's marker (version, modality, seed, counts), or ``None`` for other trees."""
        marker = self.root / SYNTHETIC_MARKER
        try:
            data = json.loads(marker.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def scan(self) -> TreeScan:
        """The tree as listed (cached); problems are reported, not raised."""
        if self._scan is None:
            self._scan = scan_tree(self.root)
        return self._scan

    def validate(self) -> TreeScan:
        """The scan, or :class:`DatasetError` listing the first problems that stop loading."""
        scan = self.scan()
        errors = scan.errors
        if errors:
            shown = "; ".join(str(p) for p in errors[:_SHOWN_PROBLEMS])
            more = f" (and {len(errors) - _SHOWN_PROBLEMS} more)" if len(errors) > _SHOWN_PROBLEMS else ""
            raise DatasetError(
                f"dataset {self.name} at {self.root}: {shown}{more}; "
                f"`mias-bench data check {self.root} --dataset {self.name}` lists every problem"
            )
        return scan

    def cases(self, split: str) -> list[CaseRef]:
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
        scan = self.validate()
        return [
            FileCaseRef(
                id=pair.image.relpath,
                split=pair.image.split,
                label=pair.image.label,
                modality=self.modality,
                root=self.root,
                image=pair.image.relpath,
                mask=pair.mask.relpath if pair.mask is not None else None,
            )
            for pair in scan.pairs
            if pair.image.split == split
        ]

    def manifest(self) -> Manifest:
        """Every image and mask with its size and SHA-256 (cached by path, size and mtime)."""
        if self._manifest is None:
            self._manifest = build_manifest(self.root, self.validate().files)
        return self._manifest

    def manifest_hash(self) -> str:
        return self.manifest().hash

    def counts(self) -> dict[str, dict[str, int]]:
        """Cases per split and label: ``{"test": {"normal": 640, "anomalous": 3075, "total": 3715}}``."""
        out = {s: {"normal": 0, "anomalous": 0, "total": 0} for s in SPLITS}
        for pair in self.scan().pairs:
            row = out[pair.image.split]
            row["anomalous" if pair.image.label else "normal"] += 1
            row["total"] += 1
        return out
