"""Leaderboard rows from the store, and their rich tables.

A row is a (detector, config, threshold protocol) triple on one dataset
manifest: one complete evaluation of one complete run. Rows are grouped per
modality, dataset and manifest. Within a group, rows without a mark that
keeps them out of the ranking (:mod:`bench.marks`) come first, sorted by the
paper's DICE and numbered; oracle, random-init and self-reported rows follow,
marked and unnumbered. Rows of one detector with different configs are told
apart by their differing config keys (``variant``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from bench.marks import MARKS, is_ranked, marks_of
from bench.metrics import METRICS
from bench.provenance import Provenance
from bench.store import Evaluation, Run, Store, Summary

#: Columns shown in the table, in order (all are stored).
TABLE_METRICS = ("dice", "dice_pooled", "dice_normal", "pixel_auroc", "image_auroc", "aupro")


@dataclass
class LeaderboardRow:
    """One leaderboard row; provenance fields read through (``row.detector`` is ``row.provenance.detector``)."""

    run_id: int
    evaluation_id: int
    protocol: str
    threshold: float | None
    fitted_on: str | None
    upper_bound: bool
    finished_at: str | None
    provenance: Provenance
    metrics: dict[str, float] = field(default_factory=dict)
    variant: str = ""  # the differing config keys among rows of the same detector, e.g. "k=3"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "provenance":
            raise AttributeError(name)
        return getattr(self.provenance, name)

    @property
    def marks(self) -> list[str]:
        return marks_of(self.provenance, self.upper_bound)

    @property
    def ranked(self) -> bool:
        """Whether the row takes part in the honest ranking of its group."""
        return is_ranked(self.marks)

    @property
    def method(self) -> str:
        """``detector[variant]@protocol``: unique within a group."""
        variant = f"[{self.variant}]" if self.variant else ""
        return f"{self.provenance.detector}{variant}@{self.protocol}"

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.provenance.as_dict(),
            "run_id": self.run_id,
            "evaluation_id": self.evaluation_id,
            "protocol": self.protocol,
            "threshold": self.threshold,
            "fitted_on": self.fitted_on,
            "upper_bound": self.upper_bound,
            "finished_at": self.finished_at,
            "variant": self.variant,
            "method": self.method,
            "marks": self.marks,
            "ranked": self.ranked,
            "metrics": {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()},
        }


def _dice(row: LeaderboardRow) -> float:
    value = row.metrics.get("dice", math.nan)
    return -value if not math.isnan(value) else math.inf


def group_key(row: LeaderboardRow) -> tuple[str, str, str]:
    return (row.modality, row.dataset, row.manifest_hash)


def order_key(row: LeaderboardRow) -> tuple:
    """Within a group: ranked rows first, by DICE (best first), then marked rows by DICE."""
    return (*group_key(row), not row.ranked, _dice(row), row.detector, row.variant, row.run_id, row.protocol)


def leaderboard_rows(store: Store, dataset: str | None = None) -> list[LeaderboardRow]:
    """Every complete evaluation of every complete run, grouped and ordered (see :func:`order_key`)."""
    with store.session() as s:
        query = (
            select(Run, Evaluation)
            .join(Evaluation, Evaluation.run_id == Run.id)
            .where(Run.status == "complete", Evaluation.status == "complete")
        )
        if dataset:
            query = query.where(Run.dataset == dataset)
        pairs = list(s.execute(query))
        ids = [ev.id for _, ev in pairs]
        metrics: dict[int, dict[str, float]] = {}
        if ids:
            for row in s.scalars(select(Summary).where(Summary.evaluation_id.in_(ids))):
                metrics.setdefault(row.evaluation_id, {})[row.metric] = math.nan if row.value is None else row.value
    rows = [
        LeaderboardRow(
            run_id=run.id,
            evaluation_id=ev.id,
            protocol=ev.protocol,
            threshold=ev.threshold,
            fitted_on=ev.fitted_on,
            upper_bound=ev.upper_bound,
            finished_at=run.finished_at.isoformat() if run.finished_at else None,
            provenance=Provenance.from_columns(run),
            metrics=metrics.get(ev.id, {}),
        )
        for run, ev in pairs
    ]
    label_variants(rows)
    rows.sort(key=order_key)
    return rows


def label_variants(rows: list[LeaderboardRow]) -> None:
    """Set each row's ``variant``: what tells it apart from rows of the same detector and protocol in its group.

    The config keys whose values differ among those rows (``k=3,gamma=5``);
    then, where configs are equal, the seed, the frame and the code versions.
    """
    buckets: dict[tuple, list[LeaderboardRow]] = {}
    for row in rows:
        buckets.setdefault((*group_key(row), row.detector), []).append(row)
    for bucket in buckets.values():
        if len({(r.config_hash, r.seed, r.detector_version, r.plugin_version) for r in bucket}) <= 1:
            continue
        keys = sorted({k for r in bucket for k in r.config})
        differing = [k for k in keys if len({json.dumps(r.config.get(k), sort_keys=True) for r in bucket}) > 1]
        extra = [
            (name, getter)
            for name, getter in (
                ("seed", lambda r: r.seed),
                ("v", lambda r: f"{r.detector_version}/{r.plugin_version}"),
            )
            if len({getter(r) for r in bucket}) > 1
        ]
        for row in bucket:
            parts = [f"{k}={_short(row.config.get(k))}" for k in differing]
            parts += [f"{name}={getter(row)}" for name, getter in extra]
            row.variant = ",".join(parts)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 24 else text[:21] + "..."


def positions(group: list[LeaderboardRow]) -> list[int | None]:
    """Position numbers of a group in order: 1, 2, ... for ranked rows, ``None`` for marked ones."""
    out, n = [], 0
    for row in group:
        if row.ranked:
            n += 1
            out.append(n)
        else:
            out.append(None)
    return out


def _fmt(value: float | None, percent: bool) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.2f}" if percent else f"{value:.4g}"


def render_tables(rows: list[LeaderboardRow]) -> list[Table]:
    """One rich table per (modality, dataset, manifest); metrics in percent."""
    tables = []
    for (modality, dataset, manifest), group in groupby(rows, key=group_key):
        group = list(group)
        collection = group[0].collection
        table = Table(
            title=f"{modality} · {dataset} ({collection}) · manifest {manifest[:12]}",
            caption="metrics in %; unnumbered rows are outside the ranking; "
            + "; ".join(f"[bold]{m.name}[/]: {m.rule}" for m in MARKS.values()),
            caption_justify="left",
        )
        table.add_column("#", justify="right")
        table.add_column("method")
        table.add_column("fitted on")
        table.add_column("threshold", justify="right")
        table.add_column("weights")
        for metric in TABLE_METRICS:
            table.add_column(METRICS[metric].title, justify="right")
        table.add_column("marks")
        table.add_column("run", justify="right")
        for position, row in zip(positions(group), group, strict=True):
            style = "yellow" if row.upper_bound else ("dim" if not row.ranked else None)
            table.add_row(
                "" if position is None else str(position),
                escape(row.method),
                row.fitted_on or "",
                _fmt(row.threshold, False),
                escape(row.weights or "none"),
                *(_fmt(row.metrics.get(m), True) for m in TABLE_METRICS),
                ", ".join(row.marks),
                str(row.run_id),
                style=style,
            )
        tables.append(table)
    return tables
