"""``verify``: check a published ``leaderboard.json`` (and its ``cases.csv``) against a store.

For every row of the file: the run and evaluation exist and belong
together; every provenance field (detector, plugin, config and its hash,
the config's own hash, manifest, protocol, threshold and split, weights,
marks, ...) equals the store's; the mask-dependent metrics recomputed from
the stored per-case rows (``dice``: mean over anomalous cases, ``dice_normal``,
``fp_area_normal`` from ``pred_fraction``, each extra mask's ``dice_*``)
equal both the store's summary and the file's; and every metric of the
file equals the store's summary. Numbers agree within 1e-9 relative. When
``cases.csv`` lies beside the file, its per-case values are checked too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.paths import database_url
from bench.publish.board import PublishError, case_rows, row_id, select_rows
from bench.publish.schema import load_document
from bench.store import Evaluation, Run, Store

REL_TOL = 1e-9
ABS_TOL = 1e-12

#: (file field, store attribute) of the run, compared exactly.
RUN_FIELDS = (
    "detector",
    "detector_version",
    "plugin_dist",
    "plugin_version",
    "preset",
    "dataset",
    "collection",
    "modality",
    "manifest_hash",
    "config_hash",
    "frame",
    "seed",
    "device",
    "weights",
    "weights_sha256",
    "transductive",
    "git_commit",
    "n_cases",
)


@dataclass
class RowCheck:
    """One row of the file and what about it disagrees with the store (nothing when it verifies)."""

    row_id: str
    method: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerifyReport:
    path: str
    store: str
    rows: list[RowCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def failures(self) -> list[RowCheck]:
        return [r for r in self.rows if not r.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "store": self.store,
            "ok": self.ok,
            "rows": [{"row_id": r.row_id, "method": r.method, "ok": r.ok, "problems": r.problems} for r in self.rows],
            "notes": self.notes,
        }


def open_store(db: str | None) -> Store:
    """The store at ``db``; an SQLite file that does not exist is an error, never a new empty store."""
    url = database_url(db)
    parsed = make_url(url)
    local = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    if local and not Path(parsed.database).is_file():
        raise PublishError(f"no store at {parsed.database}: pass --db with the database the leaderboard came from")
    return Store(url, readonly=True)


def same_number(a: Any, b: Any) -> bool:
    """Equal within 1e-9 relative; ``None`` (NaN in the store) equals only ``None`` or NaN."""
    a = None if isinstance(a, float) and math.isnan(a) else a
    b = None if isinstance(b, float) and math.isnan(b) else b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return False
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def config_hash(config: Any) -> str:
    """SHA-256 of a config's canonical JSON (sorted keys, no spaces), as the runner hashes it."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def expected_marks(run: Run, evaluation: Evaluation) -> list[str]:
    marks = ["oracle"] if evaluation.upper_bound else []
    marks += ["transductive"] if run.transductive else []
    return marks + (["random-init"] if run.weights == "random-init" else [])


def recompute(cases) -> dict[str, float | None]:
    """The mask-dependent summary from per-case rows (NaN-free: ``None`` where nothing is averaged)."""
    anomalous = [c for c in cases if c.label == 1]
    normal = [c for c in cases if c.label == 0]

    def mean(values: list[float]) -> float | None:
        return math.fsum(values) / len(values) if values else None

    out = {
        "dice": mean([c.dice for c in anomalous]),
        "dice_normal": mean([c.dice for c in normal]),
        "fp_area_normal": mean([c.pred_fraction for c in normal]),
    }
    for name in sorted({k for c in anomalous for k in c.extras}):
        out[name] = mean([c.extras[name] for c in anomalous if name in c.extras])
    return out


def _check_row(store: Store, data: dict[str, Any]) -> tuple[RowCheck, list]:
    check = RowCheck(str(data.get("row_id")), str(data.get("method", "?")))
    problems = check.problems
    with store.session() as s:
        evaluation = (
            s.get(Evaluation, data.get("evaluation_id")) if isinstance(data.get("evaluation_id"), int) else None
        )
        run = s.get(Run, data.get("run_id")) if isinstance(data.get("run_id"), int) else None
    if evaluation is None or run is None:
        missing = "evaluation" if evaluation is None else "run"
        problems.append(f"{missing} {data.get(missing + '_id')!r} is not in the store")
        return check, []
    if evaluation.run_id != run.id:
        problems.append(f"evaluation {evaluation.id} belongs to run {evaluation.run_id}, not run {run.id}")
    if data.get("row_id") != row_id(run.id, evaluation.protocol):
        problems.append(f"row_id: file {data.get('row_id')!r} != {row_id(run.id, evaluation.protocol)!r}")
    if run.status != "complete":
        problems.append(f"run {run.id} is {run.status} in the store, not complete")

    def differs(name: str, stored: Any) -> None:
        if name not in data:
            problems.append(f"{name}: missing from the file")
        elif data[name] != stored:
            problems.append(f"{name}: file {data[name]!r} != store {stored!r}")

    for name in RUN_FIELDS:
        differs(name, getattr(run, name))
    differs("protocol", evaluation.protocol)
    differs("fitted_on", evaluation.fitted_on)
    differs("upper_bound", evaluation.upper_bound)
    differs("config", json.loads(run.config_json))
    differs("packages", json.loads(run.packages_json))
    differs("finished_at", run.finished_at.isoformat() if run.finished_at else None)
    differs("marks", expected_marks(run, evaluation))
    if not same_number(data.get("threshold"), evaluation.threshold):
        problems.append(f"threshold: file {data.get('threshold')!r} != store {evaluation.threshold!r}")
    if "config" in data and config_hash(data["config"]) != data.get("config_hash"):
        problems.append(f"config_hash: the file's config hashes to {config_hash(data['config'])}, not its config_hash")

    cases = case_rows(store, evaluation.id)
    anomalous = sum(c.label == 1 for c in cases)
    differs("n_cases_by_label", {"normal": len(cases) - anomalous, "anomalous": anomalous, "total": len(cases)})
    summary = store.summary(evaluation.id)
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    for name, value in recompute(cases).items():
        if not same_number(value, summary.get(name)):
            problems.append(f"{name}: per-case rows give {value!r}, the store's summary says {summary.get(name)!r}")
        if not same_number(value, metrics.get(name)):
            problems.append(f"{name}: per-case rows give {value!r}, the file says {metrics.get(name)!r}")
    for name in sorted(set(metrics) | set(summary)):
        if name not in metrics or name not in summary:
            where = "file" if name not in metrics else "store"
            problems.append(f"metrics.{name}: missing from the {where}")
        elif not same_number(metrics[name], summary[name]):
            problems.append(f"metrics.{name}: file {metrics[name]!r} != store {summary[name]!r}")
    return check, cases


def _read_cases_csv(path: Path) -> dict[str, list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        by_row: dict[str, list[dict[str, str]]] = {}
        for line in csv.DictReader(fh):
            by_row.setdefault(line.get("row_id", ""), []).append(line)
    return by_row


def _number(text: str | None) -> float | None:
    try:
        return None if text in (None, "") else float(text)
    except ValueError:
        return math.nan


def _check_cases_csv(check: RowCheck, lines: list[dict[str, str]], cases) -> None:
    stored = {c.case_id: c for c in cases}
    listed = {line.get("case_id"): line for line in lines}
    if set(listed) != set(stored):
        check.problems.append(
            f"cases.csv: lists {len(listed)} cases, the store {len(stored)} "
            f"({len(set(stored) - set(listed))} missing, {len(set(listed) - set(stored))} unknown)"
        )
    for case_id in sorted(set(listed) & set(stored)):
        line, case = listed[case_id], stored[case_id]
        for column, value in (("dice", case.dice), ("pred_fraction", case.pred_fraction)):
            if not same_number(_number(line.get(column)), value):
                check.problems.append(f"cases.csv: {case_id} {column} {line.get(column)!r} != store {value!r}")
        if line.get("label") != str(case.label):
            check.problems.append(f"cases.csv: {case_id} label {line.get('label')!r} != store {case.label}")


def verify_leaderboard(path: str | Path, store: Store) -> VerifyReport:
    """Check every row of the leaderboard file at ``path`` against ``store``.

    Raises:
        PublishError: the file is missing, not JSON, or of an unknown schema or version.
    """
    path = Path(path)
    document = load_document(path)
    report = VerifyReport(path=str(path), store=store.url)
    cases_path = path.with_name("cases.csv")
    listed_cases = _read_cases_csv(cases_path) if cases_path.is_file() else None
    if listed_cases is None:
        report.notes.append(f"no {cases_path.name} beside {path.name}: per-case file not checked")
    seen = set()
    for data in document["rows"]:
        if not isinstance(data, dict):
            report.rows.append(RowCheck("?", "?", [f"expected an object per row, found {type(data).__name__}"]))
            continue
        check, cases = _check_row(store, data)
        seen.add(check.row_id)
        if listed_cases is not None and cases:
            _check_cases_csv(check, listed_cases.get(check.row_id, []), cases)
        report.rows.append(check)
    if listed_cases is not None:
        extra = sorted(set(listed_cases) - seen)
        if extra:
            report.rows.append(RowCheck("cases.csv", "?", [f"cases.csv lists rows the file does not: {extra[:5]}"]))
    report.notes += _unlisted(store, document.get("dataset"), seen)
    return report


def _unlisted(store: Store, name: Any, listed: set[str]) -> list[str]:
    """A note on rows the store holds for the same name that the file leaves out (runs added since, or dropped)."""
    if not isinstance(name, str):
        return []
    try:
        stored = {row_id(r.run_id, r.protocol) for r in select_rows(store, name)}
    except PublishError:
        return []
    missing = sorted(stored - listed)
    if not missing:
        return []
    shown = ", ".join(missing[:10]) + (f" (+{len(missing) - 10} more)" if len(missing) > 10 else "")
    return [f"the store holds {len(missing)} row(s) of {name} that the file does not list: {shown}"]
