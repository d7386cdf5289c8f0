"""How a row's values read in the published tables (Markdown and HTML share these)."""

from __future__ import annotations

import math

from bench.publish.board import PublishedRow

#: Metric columns of the published tables, in order (values in percent).
SHOWN_METRICS = ("dice", "dice_pooled", "dice_normal", "fp_area_normal", "pixel_auroc", "image_auroc", "aupro")

MARK_TITLES = {"oracle": "oracle (upper bound)", "transductive": "transductive", "random-init": "random-init"}


def percent(value: float | None) -> str:
    """``0.12345`` -> ``"12.35"``; missing or NaN -> ``"–"``."""
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.2f}"


def number(value: float | None) -> str:
    """A threshold or other raw number, four significant digits."""
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.4g}"


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


def plugin_text(published: PublishedRow) -> str:
    row = published.row
    return f"{row.plugin_dist or '?'} {row.plugin_version or '?'}"


def marks_text(published: PublishedRow) -> str:
    return ", ".join(MARK_TITLES.get(m, m) for m in published.row.marks)


def rank_text(published: PublishedRow) -> str:
    return "–" if published.rank is None else str(published.rank)


def packages_text(published: PublishedRow) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(published.row.packages.items()))
