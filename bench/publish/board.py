"""What one publish holds: the leaderboard rows of a dataset or collection, with their cases.

A published leaderboard is named by a dataset (``bmad-brain``) or a
collection (``synthetic``, ``bmad``: every dataset of that collection). Its
rows are :class:`~bench.leaderboard.LeaderboardRow` objects with what the
files need besides: a stable ``row_id``, the per-case values, and, once
ranked, a rank and letter groups. Rows are grouped per (modality, dataset,
manifest): only rows of one group were scored on the same files and may be
compared.

A :class:`Board` is built from a store by :func:`collect_board` when
publishing, and from the published files by
:func:`bench.publish.document.board_from_document` when verifying; every
published file is rendered from a board, so both paths write the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import select

from bench.errors import BenchError
from bench.formatting import is_missing
from bench.leaderboard import LeaderboardRow, group_key, leaderboard_rows
from bench.metrics import MaskCounts
from bench.store import CaseMetric, CasePrediction, Evaluation, Store

#: How a board's groups are ranked (stored in the document, so verify recomputes with the same settings).
DEFAULT_STATISTICS = {"metric": "dice", "n_boot": 10000, "seed": 0, "alpha": 0.05}


class PublishError(BenchError):
    """A leaderboard cannot be published or read: nothing to publish, or a file of an unknown schema."""


@dataclass(frozen=True)
class CaseRow:
    """One test case of one row, as stored: values in [0, 1], pixel counts, the image score.

    ``intersection``, ``predicted``, ``truth_pixels`` and ``pixels`` are the
    counts every mask metric of the case is computed from (``None`` for runs
    stored before mias-bench kept them).
    """

    case_id: str
    label: int
    score: float | None
    dice: float
    pred_fraction: float
    intersection: int | None
    predicted: int | None
    truth_pixels: int | None
    pixels: int | None
    extras: dict[str, float]

    @property
    def counts(self) -> MaskCounts | None:
        if None in (self.intersection, self.predicted, self.truth_pixels, self.pixels):
            return None
        return MaskCounts(self.intersection, self.predicted, self.truth_pixels, self.pixels)  # type: ignore[arg-type]


@dataclass
class PublishedRow:
    """A leaderboard row with everything the published files say about it."""

    row: LeaderboardRow
    cases: list[CaseRow]
    rank: int | None = None
    letters: str = ""

    @property
    def row_id(self) -> str:
        return row_id(self.row.run_id, self.row.protocol)

    @property
    def n_cases(self) -> dict[str, int]:
        anomalous = sum(1 for c in self.cases if c.label == 1)
        return {"normal": len(self.cases) - anomalous, "anomalous": anomalous, "total": len(self.cases)}

    def anomalous_dice(self) -> list[float]:
        """Per-case DICE of the anomalous cases, in case-id order."""
        return [c.dice for c in self.cases if c.label == 1]


@dataclass
class GalleryImage:
    """A written PNG: path relative to the published folder, pixel size."""

    path: str
    width: int
    height: int


@dataclass
class GalleryCase:
    case_id: str
    label: int
    images: dict[str, GalleryImage] = field(default_factory=dict)  # frame -> image
    truths: dict[str, GalleryImage] = field(default_factory=dict)  # frame -> truth mask
    masks: dict[str, GalleryImage] = field(default_factory=dict)  # row_id -> predicted mask
    dice: dict[str, float] = field(default_factory=dict)  # row_id -> stored per-case DICE


@dataclass
class GroupGallery:
    """The gallery of one group: chosen cases, which rows could be drawn, and why others were not."""

    cases: list[GalleryCase] = field(default_factory=list)
    frames: dict[str, str] = field(default_factory=dict)  # row_id -> frame
    notes: list[str] = field(default_factory=list)


@dataclass
class Group:
    """Rows scored on the same files: one modality, dataset and manifest."""

    modality: str
    dataset: str
    collection: str
    manifest_hash: str
    rows: list[PublishedRow]
    comparison: dict | None = None  # Comparison.as_dict() of the group's ranked rows
    note: str | None = None  # why the group has no comparison
    gallery: GroupGallery = field(default_factory=GroupGallery)
    seeds: list[dict] = field(default_factory=list)  # SeedSummary.as_dict() of methods run with several seeds

    @property
    def group_id(self) -> str:
        return f"{self.modality}-{self.dataset}-{self.manifest_hash[:12]}"

    @property
    def title(self) -> str:
        return f"{self.modality} · {self.dataset} ({self.collection})"


@dataclass
class Board:
    """Everything one publish writes, for one dataset or collection name."""

    name: str
    groups: list[Group] = field(default_factory=list)
    published_at: str = ""
    version: str = ""
    statistics: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_STATISTICS))

    @property
    def rows(self) -> list[PublishedRow]:
        return [r for g in self.groups for r in g.rows]


def row_id(run_id: int, protocol: str) -> str:
    """The stable id of a row: ``run<run id>:<protocol>``."""
    return f"run{run_id}:{protocol}"


def select_rows(store: Store, name: str) -> list[LeaderboardRow]:
    """The rows of dataset ``name``, or of every dataset of collection ``name``.

    Raises:
        PublishError: no complete run of that dataset or collection is stored.
    """
    rows = leaderboard_rows(store)
    chosen = [r for r in rows if r.dataset == name] or [r for r in rows if r.collection == name]
    if not chosen:
        datasets = sorted({r.dataset for r in rows})
        collections = sorted({r.collection for r in rows})
        raise PublishError(
            f"nothing to publish for {name!r}: no complete run of a dataset or collection of that name in "
            f"{store.url} (datasets: {', '.join(datasets) or 'none'}; collections: {', '.join(collections) or 'none'})"
        )
    return chosen


def case_rows(store: Store, evaluation_id: int) -> list[CaseRow]:
    """An evaluation's stored per-case rows with each case's image score, sorted by case id."""
    with store.session() as s:
        query = (
            select(CaseMetric, CasePrediction.score)
            .join(Evaluation, Evaluation.id == CaseMetric.evaluation_id)
            .outerjoin(
                CasePrediction,
                (CasePrediction.run_id == Evaluation.run_id) & (CasePrediction.case_id == CaseMetric.case_id),
            )
            .where(CaseMetric.evaluation_id == evaluation_id)
            .order_by(CaseMetric.case_id)
        )
        return [
            CaseRow(
                case_id=c.case_id,
                label=c.label,
                score=score,
                dice=c.dice,
                pred_fraction=c.pred_fraction,
                intersection=c.intersection,
                predicted=c.predicted,
                truth_pixels=c.truth_pixels,
                pixels=c.pixels,
                extras=json.loads(c.extras_json or "{}"),
            )
            for c, score in s.execute(query)
        ]


def collect_board(store: Store, name: str) -> Board:
    """The rows of ``name`` grouped per (modality, dataset, manifest), in leaderboard order."""
    board = Board(name=name)
    for _, rows in groupby(select_rows(store, name), key=group_key):
        rows = list(rows)
        first = rows[0]
        board.groups.append(
            Group(
                modality=first.modality,
                dataset=first.dataset,
                collection=first.collection,
                manifest_hash=first.manifest_hash,
                rows=[PublishedRow(r, case_rows(store, r.evaluation_id)) for r in rows],
            )
        )
    return board


def finite(value: float | None) -> float | None:
    """``value`` with NaN as ``None`` (JSON has no NaN)."""
    return None if is_missing(value) else value
