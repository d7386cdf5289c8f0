"""Running a reproduction spec and setting the measured table beside the published one.

Every (method, modality, seed) is one ordinary run request: what the store
already holds is reused (a second ``reproduce`` runs nothing), the rest is
executed. The report holds, per modality and method, each metric as
published and as measured (mean over the seeds, in percent) with the
difference, the marks of the measured rows, and the paired comparison of the
method's per-case DICE with the reference method's (first seed).

``offline`` runs every detector with its ``offline_overrides()`` (random-init
weights where no checkpoint is installed): a smoke run of the pipeline, not a
reproduction, and the report says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.compare import ComparisonError, compare_rows
from bench.datasets.base import Dataset
from bench.datasets.registry import get_dataset_spec, open_dataset
from bench.errors import BenchError, ConfigError
from bench.leaderboard import LeaderboardRow, leaderboard_rows
from bench.plugins import get_detector_record
from bench.reproduce.spec import Method, ReproductionSpec
from bench.runner import Reporter, RunFailed, RunRequest, execute
from bench.store import Store


@dataclass
class MeasuredMethod:
    """One method on one modality: its measured rows (one per seed) and how they compare."""

    method: Method
    modality: str
    rows: list[LeaderboardRow] = field(default_factory=list)
    error: str | None = None
    comparison: dict | None = None  # the pair against the reference, first seed

    def measured(self, metric: str) -> float | None:
        """Mean over the seeds, in percent; ``None`` when not measured."""
        values = [r.metrics.get(metric, math.nan) for r in self.rows]
        values = [v for v in values if not math.isnan(v)]
        return 100 * math.fsum(values) / len(values) if values else None

    @property
    def marks(self) -> list[str]:
        return sorted({m for r in self.rows for m in r.marks})

    def as_dict(self, metrics: dict[str, str]) -> dict[str, Any]:
        cells = {}
        for metric in metrics:
            published = self.method.published.get(self.modality, {}).get(metric)
            measured = self.measured(metric)
            diff = None if published is None or measured is None else measured - published
            cells[metric] = {"published": published, "measured": measured, "difference": diff}
        return {
            "label": self.method.label,
            "detector": self.method.detector,
            "protocol": self.method.protocol,
            "note": self.method.note,
            "modality": self.modality,
            "run_ids": [r.run_id for r in self.rows],
            "rows": [f"run{r.run_id}:{r.protocol}" for r in self.rows],
            "marks": self.marks,
            "error": self.error,
            "cells": cells,
            "against_reference": self.comparison,
        }


@dataclass
class Reproduction:
    spec: ReproductionSpec
    offline: bool
    measured: list[MeasuredMethod] = field(default_factory=list)
    collections: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def smoke(self) -> bool:
        """Synthetic data or untrained weights: the figures check the pipeline, not the paper."""
        return self.offline or "synthetic" in self.collections or any("random-init" in m.marks for m in self.measured)

    @property
    def failures(self) -> list[MeasuredMethod]:
        return [m for m in self.measured if m.error]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "mias-bench/reproduction",
            "schema_version": 1,
            "spec": self.spec.name,
            "title": self.spec.title,
            "source": self.spec.source,
            "reference": self.spec.reference,
            "metrics": self.spec.metrics,
            "seeds": list(self.spec.seeds),
            "smoke": self.smoke,
            "offline": self.offline,
            "collections": sorted(self.collections),
            "methods": [m.as_dict(self.spec.metrics) for m in self.measured],
            "notes": self.notes,
        }


def data_root_for(dataset: str, modality: str, root: Path) -> Path:
    """Where ``dataset`` lies under ``root``: one of its known folder names, or ``root/<modality>`` (synthetic)."""
    spec = get_dataset_spec(dataset)
    candidates = [root / f for f in spec.folders] + [root / modality]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    names = ", ".join(str(c.relative_to(root)) for c in candidates)
    raise ConfigError(f"no folder for dataset {dataset} under {root}: expected one of {names}")


def _overrides(method: Method, cls: type, offline: bool) -> list[str]:
    values = list(method.set)
    if offline:
        extra = cls.offline_overrides()
        if extra is None:
            raise ConfigError(f"detector {method.detector} ({method.label}) cannot run offline")
        values += [f"{k}={json.dumps(v)}" for k, v in extra.items()]
    return values


def reproduce(
    spec: ReproductionSpec,
    store: Store,
    root: str | Path,
    *,
    offline: bool = False,
    reporter: Callable[[], Reporter] | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Reproduction:
    """Run what the store lacks of ``spec`` on the data under ``root``, then measure it against the paper.

    Raises:
        BenchError: a detector or dataset of the spec is not installed, or its data is not under ``root``,
            before anything runs.
    """
    root = Path(root).expanduser().resolve()
    classes = {m.detector: get_detector_record(m.detector).obj for m in spec.methods}
    datasets: dict[str, Dataset] = {
        modality: open_dataset(name, data_root_for(name, modality, root)) for modality, name in spec.datasets.items()
    }
    result = Reproduction(spec=spec, offline=offline)
    for modality, dataset in datasets.items():
        result.collections.add(dataset.collection)
        for method in spec.methods:
            measured = MeasuredMethod(method, modality)
            result.measured.append(measured)
            for seed in spec.seeds:
                request = RunRequest(
                    detector=method.detector,
                    dataset=dataset,
                    protocols=method.protocol,
                    preset=method.preset,
                    overrides=_overrides(method, classes[method.detector], offline),
                    seed=seed,
                )
                try:
                    if reporter is None:
                        run = execute(request, store)
                    else:
                        with reporter() as shown:
                            run = execute(request, store, shown)
                except RunFailed as exc:
                    measured.error = str(exc)
                    log(f"{method.label} on {modality}: {exc}")
                    break
                row = _row(store, run.run_id, method.protocol)
                if row is None:
                    measured.error = run.failed_evaluations.get(method.protocol, "no complete evaluation")
                    break
                measured.rows.append(row)
    _compare(result, store)
    return result


def _row(store: Store, run_id: int, protocol: str) -> LeaderboardRow | None:
    return next((r for r in leaderboard_rows(store) if r.run_id == run_id and r.protocol == protocol), None)


def _compare(result: Reproduction, store: Store) -> None:
    for modality in result.spec.datasets:
        mine = {m.method.label: m for m in result.measured if m.modality == modality}
        reference = mine.get(result.spec.reference)
        if reference is None or not reference.rows:
            result.notes.append(f"{modality}: the reference {result.spec.reference} was not measured; no comparisons")
            continue
        for label, measured in mine.items():
            if label == result.spec.reference or not measured.rows:
                continue
            try:
                comparison = compare_rows(store, [measured.rows[0], reference.rows[0]])
            except (ComparisonError, BenchError) as exc:
                result.notes.append(f"{modality}: {label} against {result.spec.reference}: {exc}")
                continue
            (pair,) = comparison.pairs
            measured.comparison = {
                "against": result.spec.reference,
                "n": pair.n,
                "mean_diff": pair.mean_diff,
                "ci_low": pair.ci_low,
                "ci_high": pair.ci_high,
                "p_value": pair.p_value,
                "p_method": pair.p_method,
                "wins": pair.wins,
                "ties": pair.ties,
                "losses": pair.losses,
                "significant": pair.significant,
                "verdict": "better"
                if pair.significant and pair.better == pair.a
                else ("worse" if pair.significant else "no significant difference"),
            }
