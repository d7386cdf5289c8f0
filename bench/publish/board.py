"""What one publish holds: the leaderboard rows of a dataset or collection, with their cases.

A published leaderboard is named by a dataset (``bmad-brain``) or a
collection (``synthetic``, ``bmad``: every dataset of that collection). Its
rows are :class:`~bench.leaderboard.LeaderboardRow` objects with what the
files need besides: a stable ``row_id``, the per-case rows, case counts per
label and, once compared, a statistical rank. Rows are grouped per
(modality, dataset, manifest): only rows of one group were scored on the
same files and may be compared.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from itertools import groupby

from bench.errors import BenchError
from bench.leaderboard import LeaderboardRow, group_key, leaderboard_rows
from bench.store import Store


class PublishError(BenchError):
    """A leaderboard cannot be published or read: nothing to publish, or a file of an unknown schema."""


@dataclass(frozen=True)
class CaseRow:
    """One test case of one row, as stored (``dice`` and ``pred_fraction`` in [0, 1])."""

    case_id: str
    label: int
    dice: float
    pred_fraction: float
    extras: dict[str, float]


@dataclass
class PublishedRow:
    """A leaderboard row with everything the published files say about it."""

    row: LeaderboardRow
    cases: list[CaseRow]
    rank: int | None = None

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
class Group:
    """Rows scored on the same files: one modality, dataset and manifest."""

    modality: str
    dataset: str
    collection: str
    manifest_hash: str
    rows: list[PublishedRow]
    comparison: dict | None = None  # Comparison.as_dict() of the group's rows, when compared
    note: str | None = None  # why the group has no comparison

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
    """An evaluation's stored per-case rows, sorted by case id."""
    return [
        CaseRow(c.case_id, c.label, c.dice, c.pred_fraction, json.loads(c.extras_json or "{}"))
        for c in store.case_metrics(evaluation_id)
    ]


def collect_board(store: Store, name: str) -> Board:
    """The rows of ``name`` grouped per (modality, dataset, manifest), sorted as the leaderboard sorts them."""
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
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
