"""What a registered dataset is: a name, a modality, published counts and a way to open a root.

A :class:`DatasetSpec` is the object an entry point of the group
``mias_bench.datasets`` points at. Opening it on a folder returns a
:class:`~bench.datasets.base.Dataset`; nothing is decoded until a case loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.datasets.base import SPLITS, Dataset


@dataclass(frozen=True)
class SplitCounts:
    """How many cases one split holds; ``None`` where the source does not say."""

    normal: int | None = None
    anomalous: int | None = None
    total: int | None = None

    def __post_init__(self) -> None:
        if self.total is None and self.normal is not None and self.anomalous is not None:
            object.__setattr__(self, "total", self.normal + self.anomalous)

    def as_dict(self) -> dict[str, int | None]:
        return {"normal": self.normal, "anomalous": self.anomalous, "total": self.total}


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset that can be opened by name.

    Attributes:
        name: registry name, lower-case and hyphenated (``"bmad-brain"``).
        modality: ``"brain"``, ``"liver"``, ``"retina"`` or a plugin's own.
        description: one line for ``mias-bench data list``.
        published: the source's own counts per split (``train``, ``valid``,
            ``test``), compared against a tree by ``mias-bench data check``.
        opener: ``opener(root) -> Dataset``; raises ``DatasetError`` on a
            missing or malformed tree.
        folders: names the dataset's folder goes by in the copies that
            circulate (matched case-insensitively under a parent root).
    """

    name: str
    modality: str
    description: str
    opener: Callable[[Path], Dataset]
    published: Mapping[str, SplitCounts] = field(default_factory=dict)
    folders: tuple[str, ...] = ()

    def open(self, root: str | Path) -> Dataset:
        """The dataset under ``root`` (its own folder, or a parent holding it)."""
        return self.opener(Path(root).expanduser())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modality": self.modality,
            "description": self.description,
            "folders": list(self.folders),
            "published": {s: self.published[s].as_dict() for s in SPLITS if s in self.published},
        }
