"""How a row's values read in the published tables (Markdown and HTML share these)."""

from __future__ import annotations

import json
from typing import Any

from bench.formatting import number, p_value, percent, points
from bench.marks import MARKS
from bench.publish.board import Group, PublishedRow

#: Metric columns of the published tables, in order (values in percent).
__all__ = [
    "SHOWN_METRICS",
    "marks_text",
    "number",
    "p_value",
    "percent",
    "points",
    "position_texts",
    "protocol_text",
    "provenance_text",
    "rank_text",
    "weights_text",
]

SHOWN_METRICS = ("dice", "dice_pooled", "dice_normal", "fp_area_normal", "pixel_auroc", "image_auroc", "aupro")


def protocol_text(published: PublishedRow) -> str:
    """``valid-f1 (fitted on valid)``; ``mask`` has nothing fitted."""
    row = published.row
    return f"{row.protocol} (fitted on {row.fitted_on})" if row.fitted_on else row.protocol


def weights_text(published: PublishedRow) -> str:
    """Weights name with the start of its SHA-256, ``random-init``, or ``none`` (no weights used)."""
    row = published.row
    if row.weights is None:
        return "none"
    if row.weights_sha256:
        return f"{row.weights} (sha256 {row.weights_sha256[:12]})"
    return row.weights


def marks_text(published: PublishedRow) -> str:
    return ", ".join(MARKS[m].title for m in published.row.marks)


def rank_text(published: PublishedRow) -> str:
    return "–" if published.rank is None else str(published.rank)


def position_texts(group: Group) -> list[str]:
    """``"1"``, ``"2"``, ... for ranked rows in table order; ``""`` for rows outside the ranking."""
    out, n = [], 0
    for published in group.rows:
        if published.row.ranked:
            n += 1
            out.append(str(n))
        else:
            out.append("")
    return out


def provenance_text(provenance: Any, name: str) -> str:
    """One provenance field as a table cell (structures as compact JSON, missing as ``–``)."""
    value = getattr(provenance, name)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "packages":
        return ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)
