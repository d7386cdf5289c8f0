"""``leaderboard.json``: the versioned document of a published leaderboard.

The document is ``{"schema": "mias-bench/leaderboard", "schema_version": 1,
...}``; every field is described in ``docs/leaderboard-schema.md``. It is
written with sorted keys and Python's shortest round-trip float text, so the
same store gives the same bytes, except ``published_at``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.leaderboard import MARKS
from bench.metrics import METRICS
from bench.publish.board import Board, Group, PublishedRow, PublishError, finite

SCHEMA = "mias-bench/leaderboard"
SCHEMA_VERSION = 1


def row_document(published: PublishedRow) -> dict[str, Any]:
    """One row: every :class:`LeaderboardRow` field, its marks, rank, case counts and ``row_id``."""
    data = published.row.as_dict()
    data["threshold"] = finite(data["threshold"])
    data["row_id"] = published.row_id
    data["method"] = published.row.method
    data["rank"] = published.rank
    data["n_cases_by_label"] = published.n_cases
    return data


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
    }


def board_document(board: Board, *, published_at: str, version: str) -> dict[str, Any]:
    """The whole ``leaderboard.json`` document."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "published_at": published_at,
        "mias_bench_version": version,
        "dataset": board.name,
        "marks": dict(MARKS),
        "metrics": {
            name: {"title": m.title, "higher_is_better": m.higher_is_better, "description": m.description}
            for name, m in METRICS.items()
        },
        "groups": [group_document(g) for g in board.groups],
        "rows": [row_document(r) for g in board.groups for r in g.rows],
    }


def dump_document(document: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, no NaN."""
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a ``leaderboard.json`` and check its schema and version.

    Raises:
        PublishError: the file is missing, not JSON, or not schema version 1 of ``mias-bench/leaderboard``.
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
            f"mias-bench (it reads version {SCHEMA_VERSION}); upgrade mias-bench"
        )
    if not isinstance(document.get("rows"), list):
        raise PublishError(f"{path}: expected a list under 'rows'")
    return document
