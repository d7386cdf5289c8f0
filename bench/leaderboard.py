"""Leaderboard rows from the store, and their rich tables.

A row is a (detector, config, threshold protocol) triple on one dataset
manifest. Rows are grouped per modality and dataset and sorted by the
paper's DICE; oracle rows (upper bounds), transductive rows (test-set
statistics) and random-init rows (untrained weights) are marked.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from itertools import groupby

from rich.table import Table
from sqlalchemy import select

from bench.metrics import METRICS
from bench.store import Evaluation, Run, Store, Summary

#: Columns shown in the table, in order (all are stored).
TABLE_METRICS = ("dice", "dice_pooled", "dice_normal", "pixel_auroc", "image_auroc", "aupro")

MARKS = {
    "oracle": "upper bound: threshold chosen on the test set itself",
    "transductive": "used test-set statistics (e.g. min-max over all test maps)",
    "random-init": "untrained (random) weights: not a result of the method",
}


@dataclass
class LeaderboardRow:
    run_id: int
    evaluation_id: int
    detector: str
    protocol: str
    threshold: float | None
    fitted_on: str | None
    dataset: str
    collection: str
    modality: str
    manifest_hash: str
    config_hash: str
    config: dict
    preset: str | None
    plugin_dist: str | None
    plugin_version: str | None
    detector_version: str
    weights: str | None
    weights_sha256: str | None
    transductive: bool
    upper_bound: bool
    seed: int
    frame: str
    device: str
    n_cases: int
    packages: dict
    git_commit: str | None
    finished_at: str | None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def marks(self) -> list[str]:
        marks = []
        if self.upper_bound:
            marks.append("oracle")
        if self.transductive:
            marks.append("transductive")
        if self.weights == "random-init":
            marks.append("random-init")
        return marks

    @property
    def method(self) -> str:
        return f"{self.detector}@{self.protocol}"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["marks"] = self.marks
        data["metrics"] = {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()}
        return data


def _sort_value(row: LeaderboardRow) -> float:
    value = row.metrics.get("dice", math.nan)
    return -value if not math.isnan(value) else math.inf


def leaderboard_rows(store: Store, dataset: str | None = None) -> list[LeaderboardRow]:
    """Every scored protocol of every complete run, grouped and sorted by DICE."""
    with store.session() as s:
        query = select(Run, Evaluation).join(Evaluation, Evaluation.run_id == Run.id).where(Run.status == "complete")
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
            detector=run.detector,
            protocol=ev.protocol,
            threshold=ev.threshold,
            fitted_on=ev.fitted_on,
            dataset=run.dataset,
            collection=run.collection,
            modality=run.modality,
            manifest_hash=run.manifest_hash,
            config_hash=run.config_hash,
            config=json.loads(run.config_json),
            preset=run.preset,
            plugin_dist=run.plugin_dist,
            plugin_version=run.plugin_version,
            detector_version=run.detector_version,
            weights=run.weights,
            weights_sha256=run.weights_sha256,
            transductive=run.transductive,
            upper_bound=ev.upper_bound,
            seed=run.seed,
            frame=run.frame,
            device=run.device,
            n_cases=run.n_cases,
            packages=json.loads(run.packages_json),
            git_commit=run.git_commit,
            finished_at=run.finished_at.isoformat() if run.finished_at else None,
            metrics=metrics.get(ev.id, {}),
        )
        for run, ev in pairs
    ]
    rows.sort(key=lambda r: (r.modality, r.dataset, r.manifest_hash, _sort_value(r), r.run_id, r.protocol))
    return rows


def group_key(row: LeaderboardRow) -> tuple[str, str, str]:
    return (row.modality, row.dataset, row.manifest_hash)


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
            caption="metrics in %; " + "; ".join(f"[bold]{k}[/]: {v}" for k, v in MARKS.items()),
            caption_justify="left",
        )
        table.add_column("#", justify="right")
        table.add_column("detector")
        table.add_column("protocol")
        table.add_column("threshold", justify="right")
        table.add_column("weights")
        for metric in TABLE_METRICS:
            table.add_column(METRICS[metric].title, justify="right")
        table.add_column("marks")
        table.add_column("run", justify="right")
        for rank, row in enumerate(group, 1):
            marks = ", ".join(row.marks)
            style = "yellow" if row.upper_bound else ("dim" if row.weights == "random-init" else None)
            fitted = f" ({row.fitted_on})" if row.fitted_on else ""
            table.add_row(
                str(rank),
                row.detector,
                f"{row.protocol}{fitted}",
                _fmt(row.threshold, False),
                row.weights or "none",
                *(_fmt(row.metrics.get(m), True) for m in TABLE_METRICS),
                marks,
                str(row.run_id),
                style=style,
            )
        tables.append(table)
    return tables
