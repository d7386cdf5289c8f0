"""``verify``: check a published leaderboard folder on its own, and against a store with ``--db``.

Without a store, from the folder alone:

1. every file matches ``SHA256SUMS`` and nothing was added (:mod:`bench.publish.digests`);
2. the document is well formed: known schema, unique row ids, every row in one
   group, its cases in ``cases.csv`` and no case of an unknown row, the marks
   and metrics registries of this version, the dataset name of its rows;
3. per row, everything the published values determine is recomputed and
   compared field by field: the marks (from the provenance fields), the
   method label and variant, ``ranked``, the case counts, the config hash,
   each case's DICE and predicted fraction against its pixel counts, and the
   summary metrics of :data:`bench.metrics.RECOMPUTABLE` (plus each extra
   mask's DICE);
4. per group, the honest ranking is recomputed from the per-case DICE (same
   bootstrap seed and resamples): every rank, letter group and pairwise statistic;
5. every text file is rendered again from the verified board and must be
   byte-for-byte what is there (the page, Markdown and CSV cannot say
   anything the JSON does not).

Pixel AUROC and AUPRO need the anomaly maps: they are checked only against a
store (``--db``, which also checks every provenance field, metric and
per-case value against the stored rows) with ``--rescore``, which scores every
row again from the run's cached predictions and the dataset's truths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.leaderboard import label_variants, order_key
from bench.paths import database_url
from bench.provenance import Provenance, provenance_fields
from bench.publish.board import Board, PublishedRow, PublishError, case_rows, row_id, select_rows
from bench.publish.digests import check_digests
from bench.publish.document import board_from_document, load_document, read_cases_csv, registries
from bench.publish.ranks import rank_groups
from bench.publish.recompute import case_problems, same_number, summary_from_cases
from bench.publish.rescore import Rescorer
from bench.store import Evaluation, Run, Store


@dataclass
class Check:
    """One thing verified (a row, a group, a file) and what about it is wrong (nothing when it verifies)."""

    name: str
    what: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerifyReport:
    folder: str
    store: str | None
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def rows(self) -> list[Check]:
        return [c for c in self.checks if c.what.startswith("row")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "store": self.store,
            "ok": self.ok,
            "checks": [{"name": c.name, "what": c.what, "ok": c.ok, "problems": c.problems} for c in self.checks],
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


def publication_folder(path: str | Path) -> Path:
    """The folder of a publication, given the folder or its ``leaderboard.json``."""
    path = Path(path)
    folder = path.parent if path.name == "leaderboard.json" else path
    if not (folder / "leaderboard.json").is_file():
        raise PublishError(f"no leaderboard.json in {folder}: expected a folder written by `mias-bench publish`")
    return folder


def verify_publication(path: str | Path, store: Store | None = None, *, rescore: bool = False) -> VerifyReport:
    """Verify the publication at ``path`` on its own and, when ``store`` is given, against it.

    ``rescore`` (needs ``store``): also score every row again from the run's
    cached predictions and the dataset's truths (:mod:`bench.publish.rescore`).

    Raises:
        PublishError: no publication there, or a document of an unknown schema or version.
    """
    folder = publication_folder(path)
    report = VerifyReport(folder=str(folder), store=store.url if store is not None else None)
    files = Check("files", "files")
    files.problems += [f"{name}: {problem}" for name, problem in check_digests(folder)]
    report.checks.append(files)
    document = load_document(folder / "leaderboard.json")
    cases_path = folder / "cases.csv"
    if not cases_path.is_file():
        raise PublishError(f"no cases.csv in {folder}: the per-case values are needed to verify anything")
    cases = read_cases_csv(cases_path.read_text(encoding="utf-8"), str(cases_path))
    structure = Check("document", "structure", _structure_problems(document, cases))
    report.checks.append(structure)
    if not structure.ok:
        return report
    published = board_from_document(document, cases)
    recomputed = _recompute(published)
    stated_rows = document["rows"]
    for stated, before, after in zip(stated_rows, published.rows, recomputed.rows, strict=True):
        check = Check(str(stated.get("row_id")), f"row {stated.get('method')}")
        check.problems += _row_problems(stated, before, after)
        report.checks.append(check)
    for before, after in zip(published.groups, recomputed.groups, strict=True):
        check = Check(before.group_id, "group ranking")
        check.problems += _diff("comparison", before.comparison, after.comparison)
        check.problems += _diff("seeds", before.seeds, after.seeds)
        if before.note != after.note:
            check.problems.append(f"note: file {before.note!r}, recomputed {after.note!r}")
        ordered = sorted(after.rows, key=lambda p: order_key(p.row))
        if [p.row_id for p in ordered] != [p.row_id for p in after.rows]:
            check.problems.append(
                "rows are not in leaderboard order (ranked rows first, by DICE): expected "
                + ", ".join(p.row_id for p in ordered)
            )
        report.checks.append(check)
    rendered = Check("rendering", "files rendered from the verified values")
    from bench.publish.writer import render_files  # the writer imports this module's neighbours

    row_ids = [p.row_id for p in published.rows]
    for name, text in render_files(recomputed).items():
        rendered.problems += _text_problems(folder / name, text, row_ids)
    report.checks.append(rendered)
    if rescore and store is None:
        raise PublishError("re-scoring needs the store the leaderboard came from: pass --db")
    if store is not None:
        rescorer = Rescorer(store) if rescore else None
        for stated, published_row in zip(stated_rows, published.rows, strict=True):
            check = next(c for c in report.checks if c.name == str(stated.get("row_id")))
            check.problems += _store_problems(store, published_row)
            if rescorer is not None:
                check.problems += rescorer.problems(published_row)
        report.notes += _unlisted(store, document.get("dataset"), {r.row_id for r in published.rows})
    return report


def _structure_problems(document: dict[str, Any], cases: dict) -> list[str]:
    problems = []
    ids = [r.get("row_id") for r in document["rows"] if isinstance(r, dict)]
    duplicated = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if duplicated:
        problems.append(f"rows: row id(s) {duplicated} appear more than once")
    grouped = [r for g in document["groups"] for r in g.get("row_ids", [])]
    if sorted(map(str, grouped)) != sorted(map(str, ids)):
        problems.append(
            f"groups: list {len(grouped)} row ids, the document has {len(ids)} rows "
            f"(ungrouped: {sorted(set(map(str, ids)) - set(map(str, grouped)))[:5]}, "
            f"unknown: {sorted(set(map(str, grouped)) - set(map(str, ids)))[:5]})"
        )
    for rid in ids:
        if not cases.get(rid):
            problems.append(f"cases.csv: no case of row {rid}")
    for rid in sorted(set(cases) - set(map(str, ids))):
        problems.append(f"cases.csv: {len(cases[rid])} case(s) of row {rid}, which the document does not have")
    expected = registries()
    for key in ("marks", "metrics"):
        if document.get(key) != expected[key]:
            problems.append(f"{key}: differ from the {key} this mias-bench defines")
    name = document.get("dataset")
    for data in document["rows"]:
        if isinstance(data, dict) and name not in (data.get("dataset"), data.get("collection")):
            problems.append(
                f"dataset: the document is for {name!r}, row {data.get('row_id')} is of dataset "
                f"{data.get('dataset')!r} in collection {data.get('collection')!r}"
            )
    return problems


def _recompute(published: Board) -> Board:
    """A copy of ``published`` with everything the per-case values determine computed again."""
    board = replace(published, groups=[])
    for group in published.groups:
        rows = []
        for p in group.rows:
            metrics = dict(p.row.metrics)
            metrics.update(summary_from_cases(p.cases))
            rows.append(PublishedRow(replace(p.row, metrics=metrics, variant=""), p.cases))
        board.groups.append(replace(group, rows=rows, comparison=None, note=None))
    label_variants([p.row for p in board.rows])
    rank_groups(board)
    return board


def _row_problems(stated: dict[str, Any], before: PublishedRow, after: PublishedRow) -> list[str]:
    """What the file states of a row (``stated``: its JSON object) against what its values give (``after``)."""
    problems = []
    if stated.get("row_id") != after.row_id:
        problems.append(f"row_id: {stated.get('row_id')!r}, its run and protocol give {after.row_id!r}")
    for case in before.cases:
        problems += case_problems(case)
    expected = {
        "variant": after.row.variant,
        "method": after.row.method,
        "marks": after.row.marks,
        "ranked": after.row.ranked,
        "rank": after.rank,
        "letters": after.letters,
        "n_cases_by_label": after.n_cases,
    }
    for name, value in expected.items():
        if stated.get(name) != value:
            problems.append(f"{name}: file {stated.get(name)!r}, recomputed {value!r}")
    digest = _config_hash(before.row.config)
    if digest != before.row.config_hash:
        problems.append(f"config_hash: file {before.row.config_hash}, the file's config hashes to {digest}")
    for name in sorted(set(before.row.metrics) | set(after.row.metrics)):
        a, b = before.row.metrics.get(name), after.row.metrics.get(name)
        if not same_number(a, b):
            problems.append(f"metrics.{name}: file {a!r}, the per-case values give {b!r}")
    return problems


def _config_hash(config: dict) -> str:
    """SHA-256 of a config's canonical JSON, as :meth:`bench.contract.DetectorConfig.config_hash` computes it."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _diff(where: str, a: Any, b: Any) -> list[str]:
    """Field-by-field differences of two JSON-like values (numbers within 1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{where}.{key}: {'missing from the file' if key not in a else 'not expected'}")
            else:
                out += _diff(f"{where}.{key}", a[key], b[key])
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: file has {len(a)} items, recomputed {len(b)}"]
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in _diff(f"{where}[{i}]", x, y)]
    numeric = isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool)
    if (numeric and not same_number(a, b)) or (not numeric and a != b):
        return [f"{where}: file {a!r}, recomputed {b!r}"]
    return []


def _json_rows_differing(text: str, expected: str) -> list[str]:
    try:
        have, want = json.loads(text).get("rows", []), json.loads(expected).get("rows", [])
    except (json.JSONDecodeError, AttributeError):
        return []
    return [str(w.get("row_id")) for h, w in zip(have, want, strict=False) if h != w]


def _segments(text: str) -> list[str]:
    """Lines, and the page's table rows within its (long) lines, for pointing at what differs."""
    return [piece for line in text.splitlines() for piece in line.split("<tr")]


def _text_problems(path: Path, expected: str, row_ids: list[str]) -> list[str]:
    """Where a file differs from what the verified values render, naming the rows whose text differs."""
    if not path.is_file():
        return [f"{path.name}: missing"]
    text = path.read_text(encoding="utf-8", errors="replace")
    if text == expected:
        return []
    if path.suffix == ".json":
        named = _json_rows_differing(text, expected)
        if named:
            return [f"{path.name}: row {r} is not what the verified values render" for r in named]
    have, want = _segments(text), _segments(expected)
    differing = [w for h, w in zip(have, want, strict=False) if h != w] + want[len(have) :]
    differing += [h for h in have[len(want) :]]
    named = [r for r in row_ids if any(r in piece for piece in differing)]
    if named:
        return [f"{path.name}: row {r} is not what the verified values render" for r in named]
    first = next((i for i, (h, w) in enumerate(zip(have, want, strict=False)) if h != w), min(len(have), len(want)))
    shown = have[first][:100] if first < len(have) else "<end of file>"
    return [f"{path.name}: differs from what the verified values render, from {shown!r} (truncated or edited)"]


def _store_problems(store: Store, published: PublishedRow) -> list[str]:
    row = published.row
    with store.session() as s:
        evaluation = s.get(Evaluation, row.evaluation_id)
        run = s.get(Run, row.run_id)
    if evaluation is None or run is None:
        missing = "evaluation" if evaluation is None else "run"
        return [f"store: {missing} {row.evaluation_id if evaluation is None else row.run_id} is not in the store"]
    problems = []
    if evaluation.run_id != run.id:
        problems.append(f"store: evaluation {evaluation.id} belongs to run {evaluation.run_id}, not run {run.id}")
    if run.status != "complete" or evaluation.status != "complete":
        problems.append(f"store: run {run.id} is {run.status}, its evaluation {evaluation.status}")
    stored = {"protocol": evaluation.protocol, "fitted_on": evaluation.fitted_on, "upper_bound": evaluation.upper_bound}
    stored["finished_at"] = run.finished_at.isoformat() if run.finished_at else None
    stored.update(Provenance.from_columns(run).as_dict())
    mine = {**row.provenance.as_dict(), "protocol": row.protocol, "fitted_on": row.fitted_on}
    mine.update(upper_bound=row.upper_bound, finished_at=row.finished_at)
    names = [n for n, _ in provenance_fields()] + ["protocol", "fitted_on", "upper_bound", "finished_at"]
    for name in names:
        if mine.get(name) != stored.get(name):
            problems.append(f"{name}: file {mine.get(name)!r}, store {stored.get(name)!r}")
    if not same_number(row.threshold, evaluation.threshold):
        problems.append(f"threshold: file {row.threshold!r}, store {evaluation.threshold!r}")
    summary = store.summary(evaluation.id)
    for name in sorted(set(row.metrics) | set(summary)):
        if not same_number(row.metrics.get(name), summary.get(name)):
            problems.append(f"metrics.{name}: file {row.metrics.get(name)!r}, store {summary.get(name)!r}")
    stored_cases = {c.case_id: c for c in case_rows(store, evaluation.id)}
    listed = {c.case_id: c for c in published.cases}
    if set(stored_cases) != set(listed):
        problems.append(f"cases: the file lists {len(listed)}, the store {len(stored_cases)}")
    for case_id in sorted(set(stored_cases) & set(listed)):
        a, b = listed[case_id], stored_cases[case_id]
        for name in ("label", "score", "dice", "pred_fraction", "intersection", "predicted", "truth_pixels", "pixels"):
            if not same_number(getattr(a, name), getattr(b, name)):
                problems.append(f"case {case_id}: {name} file {getattr(a, name)!r}, store {getattr(b, name)!r}")
        problems += _diff(f"case {case_id}: extras", a.extras, b.extras)
    return problems


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
