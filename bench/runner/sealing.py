"""Sealed splits: what a detector is handed of the validation and test splits.

A dataset's case ids name their folders (``test/Ungood/img/00012.png``) and
its sorted order puts every anomalous case on one side: either would tell a
detector which images hold a lesion. A :class:`SealedSplit` therefore hands
cases over in an order shuffled by the run's secret salt (stored with the
run, never given to the detector), under ids that say only the split and a
position (``test-00007``), each a fresh :class:`~bench.contract.Case` with
its own copy of the pixels and no truth. The runner keeps the way back from
a sealed id to the dataset's case.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Sequence

from bench.contract import Case, LabelledCase
from bench.datasets.base import CaseRef
from bench.frame import Frame


def new_salt() -> str:
    """A run's secret: 128 random bits, hex."""
    return secrets.token_hex(16)


class SealedSplit:
    """One split's cases in sealed order: ``refs[i]`` is handed over as ``ids[i]``."""

    def __init__(self, refs: Sequence[CaseRef], frame: Frame, split: str, salt: str):
        def rank(ref: CaseRef) -> bytes:
            return hashlib.sha256(f"{salt}\0{ref.id}".encode()).digest()

        self.refs: list[CaseRef] = sorted(refs, key=rank)
        self.ids: list[str] = [f"{split}-{i:05d}" for i in range(len(self.refs))]
        self.frame = frame

    def __len__(self) -> int:
        return len(self.refs)

    def labelled(self, index: int) -> LabelledCase:
        """The framed case with its truth, under the dataset's own id (the runner's view)."""
        return self.frame.apply(self.refs[index].load())

    def subset(self, keep: set[str]) -> SealedSplit:
        """The cases whose dataset ids are in ``keep``, in the same sealed order and under the same ids."""
        out = object.__new__(SealedSplit)
        pairs = [(r, i) for r, i in zip(self.refs, self.ids, strict=True) if r.id in keep]
        out.refs, out.ids, out.frame = [r for r, _ in pairs], [i for _, i in pairs], self.frame
        return out


class SealedCases(Sequence[Case]):
    """A lazily decoded sequence of sealed cases (e.g. the training split handed to ``fit``)."""

    def __init__(self, refs: Sequence[CaseRef], frame: Frame, ids: Sequence[str] | None = None):
        self._refs, self._frame = list(refs), frame
        self._ids = list(ids) if ids is not None else [r.id for r in self._refs]

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return SealedCases(self._refs[index], self._frame, self._ids[index])
        return self._frame.apply(self._refs[index].load()).sealed(self._ids[index])

    def __iter__(self) -> Iterator[Case]:
        for ref, case_id in zip(self._refs, self._ids, strict=True):
            yield self._frame.apply(ref.load()).sealed(case_id)
