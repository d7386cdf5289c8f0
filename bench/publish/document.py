"""``leaderboard.json`` and ``cases.csv``: the published board as data, both ways.

:func:`board_document` turns a :class:`~bench.publish.board.Board` into the
versioned document (``{"schema": "mias-bench/leaderboard", "schema_version":
2, ...}``, every field described in ``docs/leaderboard-schema.md``);
:func:`board_from_document` turns the document and the parsed ``cases.csv``
back into a board, losslessly, so ``verify`` can recompute and re-render
everything a publish wrote. JSON is written with sorted keys and Python's
shortest round-trip float text; the same store gives the same bytes except
``published_at``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from bench.leaderboard import LeaderboardRow
from bench.marks import MARKS
from bench.metrics import METRICS, RECOMPUTABLE
from bench.provenance import Provenance, provenance_fields
from bench.publish.board import (
    Board,
    CaseRow,
    GalleryCase,
    GalleryImage,
    Group,
    GroupGallery,
    PublishedRow,
    PublishError,
    finite,
)

SCHEMA = "mias-bench/leaderboard"
SCHEMA_VERSION = 2
CASE_COLUMNS = (
    "row_id",
    "case_id",
    "label",
    "score",
    "dice",
    "pred_fraction",
    "intersection",
    "predicted",
    "truth_pixels",
    "pixels",
    "extras",
)
#: What a row holds besides its provenance fields.
ROW_FIELDS = (
    "row_id",
    "run_id",
    "evaluation_id",
    "protocol",
    "threshold",
    "fitted_on",
    "upper_bound",
    "finished_at",
    "variant",
    "method",
    "marks",
    "ranked",
    "rank",
    "letters",
    "n_cases_by_label",
    "metrics",
)


def registries() -> dict[str, Any]:
    """The marks and metrics this version of mias-bench defines, as the document states them."""
    return {
        "marks": {
            name: {"title": m.title, "rule": m.rule, "colour": m.colour, "ranked": m.ranked}
            for name, m in MARKS.items()
        },
        "metrics": {
            name: {
                "title": m.title,
                "higher_is_better": m.higher_is_better,
                "description": m.description,
                "recomputable_from_cases": name in RECOMPUTABLE,
            }
            for name, m in METRICS.items()
        },
    }


def row_document(published: PublishedRow) -> dict[str, Any]:
    row = published.row
    data = row.as_dict()
    data.update(
        threshold=finite(row.threshold),
        row_id=published.row_id,
        rank=published.rank,
        letters=published.letters,
        n_cases_by_label=published.n_cases,
    )
    return data


def _gallery_document(gallery: GroupGallery) -> dict[str, Any]:
    return {
        "cases": [
            {
                "case_id": c.case_id,
                "label": c.label,
                "images": {k: vars(v) for k, v in c.images.items()},
                "truths": {k: vars(v) for k, v in c.truths.items()},
                "masks": {k: vars(v) for k, v in c.masks.items()},
                "dice": {k: finite(v) for k, v in c.dice.items()},
            }
            for c in gallery.cases
        ],
        "frames": dict(gallery.frames),
        "notes": list(gallery.notes),
    }


def group_document(group: Group) -> dict[str, Any]:
    return {
        "group_id": group.group_id,
        "modality": group.modality,
        "dataset": group.dataset,
        "collection": group.collection,
        "manifest_hash": group.manifest_hash,
        "row_ids": [r.row_id for r in group.rows],
        "comparison": group.comparison,
        "note": group.note,
        "seeds": group.seeds,
        "gallery": _gallery_document(group.gallery),
    }


def board_document(board: Board) -> dict[str, Any]:
    """The whole ``leaderboard.json`` document."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "published_at": board.published_at,
        "mias_bench_version": board.version,
        "dataset": board.name,
        **registries(),
        "statistics": dict(board.statistics),
        "groups": [group_document(g) for g in board.groups],
        "rows": [row_document(r) for g in board.groups for r in g.rows],
    }


def dump_document(document: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, no NaN."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a ``leaderboard.json`` and check its schema and version.

    Raises:
        PublishError: the file is missing, not JSON, or not version 2 of ``mias-bench/leaderboard``.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PublishError(f"no leaderboard file at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PublishError(f"{path} is not a readable JSON file: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise PublishError(f"{path}: expected a {SCHEMA!r} document, found schema {found!r}")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise PublishError(
            f"{path}: schema version {document.get('schema_version')!r} of {SCHEMA!r} is not known to this "
            f"mias-bench (it reads version {SCHEMA_VERSION}); publish again with this version, or use the one "
            "that wrote it"
        )
    for key, kind in (("rows", list), ("groups", list), ("statistics", dict)):
        if not isinstance(document.get(key), kind):
            raise PublishError(f"{path}: expected a {kind.__name__} under {key!r}")
    return document


# -- cases.csv -------------------------------------------------------------------------------


def cases_csv(board: Board) -> str:
    """One line per (row, test case), in row order then case-id order; full-precision numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CASE_COLUMNS)
    for published in board.rows:
        for c in published.cases:
            writer.writerow(
                [
                    published.row_id,
                    c.case_id,
                    str(c.label),
                    _cell(c.score),
                    _cell(c.dice),
                    _cell(c.pred_fraction),
                    _cell(c.intersection),
                    _cell(c.predicted),
                    _cell(c.truth_pixels),
                    _cell(c.pixels),
                    json.dumps(c.extras, sort_keys=True, separators=(",", ":")),
                ]
            )
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def read_cases_csv(text: str, where: str = "cases.csv") -> dict[str, list[CaseRow]]:
    """Parse ``cases.csv``: row id -> its cases, in file order.

    Raises:
        PublishError: a missing column or a value that is not a number, naming the line.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CASE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise PublishError(f"{where}: missing column(s) {', '.join(missing)}")
    out: dict[str, list[CaseRow]] = {}
    for number, line in enumerate(reader, start=2):
        try:
            case = CaseRow(
                case_id=line["case_id"],
                label=int(line["label"]),
                score=_number(line["score"]),
                dice=float(line["dice"]),
                pred_fraction=float(line["pred_fraction"]),
                intersection=_integer(line["intersection"]),
                predicted=_integer(line["predicted"]),
                truth_pixels=_integer(line["truth_pixels"]),
                pixels=_integer(line["pixels"]),
                extras={k: float(v) for k, v in json.loads(line["extras"] or "{}").items()},
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise PublishError(f"{where} line {number} (row {line.get('row_id')!r}): {exc}") from None
        out.setdefault(line["row_id"], []).append(case)
    return out


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def _integer(text: str) -> int | None:
    return None if text == "" else int(text)


# -- back to a board ---------------------------------------------------------------------------


def board_from_document(document: dict[str, Any], cases: dict[str, list[CaseRow]]) -> Board:
    """The board a document and its cases describe (the inverse of :func:`board_document`).

    Raises:
        PublishError: a row or group is malformed, or a group names a row the document lacks.
    """
    rows: dict[str, PublishedRow] = {}
    names = {name for name, _ in provenance_fields()}
    for index, data in enumerate(document["rows"]):
        if not isinstance(data, dict):
            raise PublishError(f"rows[{index}]: expected an object, found {type(data).__name__}")
        try:
            row = LeaderboardRow(
                run_id=data["run_id"],
                evaluation_id=data["evaluation_id"],
                protocol=data["protocol"],
                threshold=data["threshold"],
                fitted_on=data["fitted_on"],
                upper_bound=data["upper_bound"],
                finished_at=data["finished_at"],
                provenance=Provenance(**{k: data[k] for k in names}),
                metrics={k: (float("nan") if v is None else v) for k, v in data["metrics"].items()},
                variant=data["variant"],
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise PublishError(f"row {data.get('row_id', index)!r}: malformed ({type(exc).__name__}: {exc})") from None
        published = PublishedRow(row, cases.get(str(data.get("row_id")), []), data.get("rank"), data.get("letters", ""))
        rows[str(data.get("row_id"))] = published
    board = Board(
        name=document.get("dataset", ""),
        published_at=document.get("published_at", ""),
        version=document.get("mias_bench_version", ""),
        statistics=dict(document["statistics"]),
    )
    for data in document["groups"]:
        missing = [r for r in data.get("row_ids", []) if r not in rows]
        if missing:
            raise PublishError(f"group {data.get('group_id')!r} names rows the document lacks: {missing[:5]}")
        board.groups.append(
            Group(
                modality=data["modality"],
                dataset=data["dataset"],
                collection=data["collection"],
                manifest_hash=data["manifest_hash"],
                rows=[rows[r] for r in data["row_ids"]],
                comparison=data.get("comparison"),
                note=data.get("note"),
                gallery=_gallery_from(data.get("gallery") or {}),
                seeds=list(data.get("seeds") or []),
            )
        )
    return board


def _gallery_from(data: dict[str, Any]) -> GroupGallery:
    def images(raw: dict) -> dict[str, GalleryImage]:
        return {k: GalleryImage(**v) for k, v in raw.items()}

    return GroupGallery(
        cases=[
            GalleryCase(
                case_id=c["case_id"],
                label=c["label"],
                images=images(c["images"]),
                truths=images(c["truths"]),
                masks=images(c["masks"]),
                dice={k: (float("nan") if v is None else v) for k, v in c["dice"].items()},
            )
            for c in data.get("cases", [])
        ],
        frames=dict(data.get("frames", {})),
        notes=list(data.get("notes", [])),
    )
