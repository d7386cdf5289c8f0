"""Leaderboard rows from the store (the CLI draws them: :mod:`bench.cli.leaderboard`).

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
from typing import Any

from sqlalchemy import select

from bench.marks import is_ranked, marks_of
from bench.provenance import Provenance
from bench.store import Evaluation, Run, Store, Summary


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


@dataclass(frozen=True)
class SeedSummary:
    """One method run with several seeds: the spread of its DICE across them (fractions)."""

    method: str  # detector[variant without the seed]@protocol
    seeds: tuple[int, ...]
    run_ids: tuple[int, ...]
    mean: float
    sd: float  # sample standard deviation (n - 1); 0 for one seed
    min: float
    max: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "seeds": list(self.seeds),
            "run_ids": list(self.run_ids),
            "mean": self.mean,
            "sd": self.sd,
            "min": self.min,
            "max": self.max,
        }


def seed_summaries(rows: list[LeaderboardRow]) -> list[SeedSummary]:
    """Per method (same detector, code, config and protocol) run with two or more seeds: mean and spread of DICE.

    ``rows`` are one group's; the order is that of each method's first row.
    """
    buckets: dict[tuple, list[LeaderboardRow]] = {}
    for row in rows:
        key = (row.detector, row.detector_version, row.plugin_version, row.config_hash, row.frame, row.protocol)
        buckets.setdefault(key, []).append(row)
    out = []
    for bucket in buckets.values():
        values = [r.metrics.get("dice", math.nan) for r in bucket]
        if len({r.seed for r in bucket}) < 2 or any(math.isnan(v) for v in values):
            continue
        first = bucket[0]
        variant = ",".join(p for p in first.variant.split(",") if p and not p.startswith("seed="))
        method = f"{first.detector}{f'[{variant}]' if variant else ''}@{first.protocol}"
        pairs = sorted(zip((r.seed for r in bucket), (r.run_id for r in bucket), values, strict=True))
        data = [v for _, _, v in pairs]
        mean = math.fsum(data) / len(data)
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in data) / (len(data) - 1))
        out.append(
            SeedSummary(method, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), mean, sd, min(data), max(data))
        )
    return out


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
