"""What the published per-case values determine, recomputed: row summaries and per-case consistency.

The mask metrics come from each case's pixel counts through the same
function the runner scores with (:func:`bench.metrics.mask_metrics_from_counts`),
image AUROC from each case's score and label, each extra mask's DICE from its
per-case values. ``verify`` compares these with what a file says.
"""

from __future__ import annotations

import math

import numpy as np

from bench.metrics import image_auroc, mask_metrics_from_counts
from bench.publish.board import CaseRow

REL_TOL = 1e-9
ABS_TOL = 1e-12


def same_number(a, b) -> bool:
    """Equal within 1e-9 relative; ``None`` and NaN equal only each other."""
    a = None if isinstance(a, float) and math.isnan(a) else a
    b = None if isinstance(b, float) and math.isnan(b) else b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return False
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def summary_from_cases(cases: list[CaseRow]) -> dict[str, float]:
    """Every summary metric the cases determine (NaN where nothing is averaged)."""
    labels = [c.label for c in cases]
    counts = [c.counts for c in cases]
    out: dict[str, float] = {}
    if cases and all(k is not None for k in counts):
        out.update(mask_metrics_from_counts(counts, labels))  # type: ignore[arg-type]
    else:  # stores from before pixel counts were kept: what dice and pred_fraction give
        anomalous = [c.dice for c in cases if c.label == 1]
        normal = [c for c in cases if c.label == 0]
        out["dice"] = float(np.mean(anomalous)) if anomalous else math.nan
        out["dice_normal"] = float(np.mean([c.dice for c in normal])) if normal else math.nan
        out["fp_area_normal"] = float(np.mean([c.pred_fraction for c in normal])) if normal else math.nan
    if cases and all(c.score is not None for c in cases):
        out["image_auroc"] = image_auroc([c.score for c in cases], labels)
    for name in sorted({k for c in cases if c.label == 1 for k in c.extras}):
        values = [c.extras[name] for c in cases if c.label == 1 and name in c.extras]
        out[name] = float(np.mean(values)) if values else math.nan
    return out


def case_problems(case: CaseRow) -> list[str]:
    """Where one case's own values contradict each other (DICE or predicted fraction against its counts)."""
    counts = case.counts
    if counts is None:
        return []
    problems = []
    if not same_number(case.dice, counts.dice):
        problems.append(f"case {case.case_id}: dice {case.dice!r}, its pixel counts give {counts.dice!r}")
    fraction = counts.predicted / counts.pixels if counts.pixels else 0.0
    if not same_number(case.pred_fraction, fraction):
        problems.append(f"case {case.case_id}: pred_fraction {case.pred_fraction!r}, its counts give {fraction!r}")
    if case.label == 0 and counts.true:
        problems.append(f"case {case.case_id}: labelled normal but has {counts.true} lesion pixels")
    return problems
