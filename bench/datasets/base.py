"""The dataset interface the runner needs, kept narrow on purpose.

A dataset lists :class:`CaseRef` objects per split without decoding any
image; a ref decodes its case on :meth:`CaseRef.load`, at the native
resolution. The runner then puts each case into the evaluation frame.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from bench.contract import LabelledCase

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class CaseRef(ABC):
    """A case listed but not decoded. ``id`` is unique within its dataset."""

    id: str
    split: str
    label: int
    modality: str

    @abstractmethod
    def load(self) -> LabelledCase:
        """Decode the image (and mask) at native resolution."""


@dataclass(frozen=True)
class ArrayCaseRef(CaseRef):
    """A ref over an in-memory case (tests, generated data)."""

    case: LabelledCase | None = None

    def load(self) -> LabelledCase:
        assert self.case is not None
        return self.case


class Dataset(ABC):
    """A named set of cases in train / valid / test splits.

    Attributes:
        name: registry name, e.g. ``"bmad-brain"``.
        modality: ``"brain"``, ``"liver"``, ``"retina"`` or another.
        collection: where the files come from: ``"bmad"`` for the real
            benchmark, ``"synthetic"`` for the embedded one, or another.
    """

    name: str
    modality: str
    collection: str = "custom"

    @abstractmethod
    def cases(self, split: str) -> list[CaseRef]:
        """Refs of one split, sorted by id, without decoding images."""

    @abstractmethod
    def manifest_hash(self) -> str:
        """SHA-256 hex identifying exactly which files (bytes) the dataset holds."""

    def location(self) -> str:
        """Where the data lives, for messages and provenance."""
        return "<memory>"


class InMemoryDataset(Dataset):
    """A dataset of already-decoded cases; its manifest hashes the arrays."""

    def __init__(self, name: str, modality: str, cases: list[LabelledCase]):
        self.name = name
        self.modality = modality
        self._cases = sorted(cases, key=lambda c: (c.split, c.id))
        ids = [c.id for c in self._cases]
        if len(set(ids)) != len(ids):
            raise ValueError(f"dataset {name}: case ids must be unique")

    def cases(self, split: str) -> list[CaseRef]:
        return [
            ArrayCaseRef(id=c.id, split=c.split, label=c.label, modality=c.modality, case=c)
            for c in self._cases
            if c.split == split
        ]

    def manifest_hash(self) -> str:
        digest = hashlib.sha256()
        for c in self._cases:
            digest.update(f"{c.split}\0{c.label}\0{c.id}\0".encode())
            digest.update(np.ascontiguousarray(c.image).tobytes())
            if c.mask is not None:
                digest.update(np.packbits(c.mask).tobytes())
        return digest.hexdigest()
