"""Threshold protocols: how the runner turns an anomaly map into a mask.

A detector that outputs only a map is scored under one or more protocols.
The binarisation rule is ``map >= threshold``, with the threshold first
rounded to the map's dtype (float32), so that a threshold taken from a map
value selects exactly the pixels at or above it.

Protocols, where each takes its threshold from, and ``ThresholdFit.fitted_on``:

- ``fixed:T``: the number ``T`` given by the user (``"user"``).
- ``valid-f1``: the pooled-pixel F1 optimum over all validation pixels,
  normal and anomalous cases (``"valid"``).
- ``normal-pXX``: the XX-th percentile of the pixels of normal validation
  cases (``"valid-normal"``).
- ``oracle``: the exact mean-DICE optimum on the test set itself, over every
  distinct map value (``"test"``). Not honest: an upper bound, always labelled
  as such.
- ``mask``: no threshold, the detector's own mask (``None``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.errors import ThresholdError

__all__ = [
    "ACCEPTED_FORMS",
    "ORACLE_GRID_SIZE",
    "ThresholdFit",
    "ThresholdProtocol",
    "apply_threshold",
    "fit_threshold",
    "parse_protocol",
    "parse_protocols",
]

ACCEPTED_FORMS = (
    "fixed:T (T a number, e.g. fixed:0.5), valid-f1, normal-pXX (0 < XX <= 100, e.g. normal-p99 or normal-p99.5), "
    "oracle, mask"
)
#: Candidate thresholds the oracle's search evaluates per refinement step.
ORACLE_GRID_SIZE = 1024

_PERCENTILE = re.compile(r"normal-p(\d+(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class ThresholdProtocol:
    """One parsed protocol.

    Attributes:
        name: canonical text, e.g. ``"fixed:0.5"``, ``"normal-p99.5"``.
        kind: ``"fixed"``, ``"valid-f1"``, ``"normal-percentile"``, ``"oracle"`` or ``"mask"``.
        honest: False only for ``oracle``, which looks at the test truths.
        needs_valid: whether fitting reads the validation split.
        label: a short human description.
        parameter: ``T`` for ``fixed:T``, ``XX`` for ``normal-pXX``, else None.
    """

    name: str
    kind: str
    honest: bool
    needs_valid: bool
    label: str
    parameter: float | None = None


@dataclass(frozen=True)
class ThresholdFit:
    """A fitted threshold.

    Attributes:
        value: the threshold (``map >= value`` is anomalous); None for ``mask``.
        fitted_on: ``"user"``, ``"valid"``, ``"valid-normal"``, ``"test"`` or None (``mask``).
        upper_bound: True when fitted on the test truths (``oracle``).
    """

    value: float | None
    fitted_on: str | None
    upper_bound: bool


def parse_protocol(text: str) -> ThresholdProtocol:
    """Parse one protocol; see :data:`ACCEPTED_FORMS`.

    Raises:
        ThresholdError: quoting the value and listing the accepted forms.
    """
    key = text.strip().lower()
    if key == "valid-f1":
        return ThresholdProtocol(
            "valid-f1", "valid-f1", True, True, "threshold maximising pooled-pixel F1 on the validation split"
        )
    if key == "oracle":
        return ThresholdProtocol(
            "oracle",
            "oracle",
            False,
            False,
            "upper bound: threshold maximising mean DICE on the test set itself",
        )
    if key == "mask":
        return ThresholdProtocol("mask", "mask", True, False, "the detector's own mask (no threshold)")
    if key.startswith("fixed:"):
        try:
            value = float(key[len("fixed:") :])
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ThresholdError(f"threshold protocol {text!r}: T must be a finite number; accepted: {ACCEPTED_FORMS}")
        shown = _format_number(value)
        return ThresholdProtocol(f"fixed:{shown}", "fixed", True, False, f"fixed threshold {shown}", value)
    match = _PERCENTILE.fullmatch(key)
    if match:
        pct = float(match.group(1))
        if not 0.0 < pct <= 100.0:
            raise ThresholdError(f"threshold protocol {text!r}: XX must be in (0, 100]; accepted: {ACCEPTED_FORMS}")
        shown = _format_number(pct)
        return ThresholdProtocol(
            f"normal-p{shown}",
            "normal-percentile",
            True,
            True,
            f"{shown}th percentile of pixel scores on normal validation cases",
            pct,
        )
    raise ThresholdError(f"unknown threshold protocol {text!r}; accepted: {ACCEPTED_FORMS}")


def parse_protocols(text: str) -> list[ThresholdProtocol]:
    """Parse a comma-separated list; duplicates (by canonical name) are dropped, order kept.

    An empty string gives an empty list (the caller picks its default).
    """
    protocols: dict[str, ThresholdProtocol] = {}
    for part in text.split(","):
        if part.strip():
            protocol = parse_protocol(part)
            protocols.setdefault(protocol.name, protocol)
    return list(protocols.values())


def apply_threshold(anomaly_map: np.ndarray, value: float) -> np.ndarray:
    """bool, H x W: ``anomaly_map >= value``, compared in the map's dtype."""
    anomaly_map = np.asarray(anomaly_map)
    return anomaly_map >= _as_dtype(value, anomaly_map.dtype)


def fit_threshold(
    protocol: ThresholdProtocol,
    *,
    valid_maps: Sequence[np.ndarray] = (),
    valid_truths: Sequence[np.ndarray] = (),
    valid_labels: Sequence[int] = (),
    test_maps: Sequence[np.ndarray] = (),
    test_truths: Sequence[np.ndarray] = (),
    test_labels: Sequence[int] = (),
    extra_candidates: Sequence[float] = (),
) -> ThresholdFit:
    """Choose the threshold of ``protocol``.

    Args:
        protocol: from :func:`parse_protocol`.
        valid_maps, test_maps: per case, float, H x W anomaly maps.
        valid_truths, test_truths: per case, bool, H x W (empty for normal cases).
        valid_labels, test_labels: per case, 0 normal, 1 anomalous.
        extra_candidates: thresholds the oracle tries besides its quantile
            grid; passing the honest protocols' thresholds guarantees the
            oracle's DICE is never below theirs.

    Returns:
        The fitted threshold; ties between thresholds go to the largest.

    Raises:
        ThresholdError: naming the protocol and the data it needed but lacked.
    """
    if protocol.kind == "mask":
        return ThresholdFit(None, None, False)
    if protocol.kind == "fixed":
        return ThresholdFit(float(protocol.parameter), "user", False)
    if protocol.kind == "valid-f1":
        _check_split(protocol, "validation", valid_maps, valid_truths, valid_labels)
        return ThresholdFit(_best_f1_threshold(protocol, valid_maps, valid_truths), "valid", False)
    if protocol.kind == "normal-percentile":
        _check_split(protocol, "validation", valid_maps, valid_truths, valid_labels)
        normal = [np.ravel(m) for m, lab in zip(valid_maps, valid_labels, strict=True) if lab == 0]
        if not normal:
            raise ThresholdError(
                f"protocol {protocol.name!r} needs at least one normal validation case; "
                f"the validation split has {len(valid_maps)} case(s), none normal"
            )
        return ThresholdFit(float(np.percentile(np.concatenate(normal), protocol.parameter)), "valid-normal", False)
    if protocol.kind == "oracle":
        _check_split(protocol, "test", test_maps, test_truths, test_labels)
        return ThresholdFit(
            _best_dice_threshold(protocol, test_maps, test_truths, test_labels, extra_candidates), "test", True
        )
    raise ThresholdError(f"protocol {protocol.name!r} has unknown kind {protocol.kind!r}")


def _best_f1_threshold(protocol: ThresholdProtocol, maps: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """Pooled-pixel F1 optimum, exact over the distinct map values.

    Lowering the threshold between two lesion values adds only false
    positives, so the optimum sits at a lesion value: only those are tried.
    """
    pairs = [(np.ravel(m), np.ravel(t).astype(bool)) for m, t in zip(maps, truths, strict=True)]
    normal = np.sort(np.concatenate([m[~t] for m, t in pairs]))
    lesion = np.concatenate([m[t] for m, t in pairs])
    if lesion.size == 0:
        raise ThresholdError(
            f"protocol {protocol.name!r} needs anomalous pixels in the validation split; "
            f"its {len(maps)} case(s) have none"
        )
    candidates = np.unique(lesion)  # ascending
    tp = lesion.size - np.searchsorted(np.sort(lesion), candidates, side="left")
    fp = normal.size - np.searchsorted(normal, candidates, side="left")
    f1 = 2.0 * tp / (tp + fp + lesion.size)
    best = np.flatnonzero(f1 == f1.max())[-1]  # the largest among equal F1
    return float(candidates[best])


def _best_dice_threshold(
    protocol: ThresholdProtocol,
    maps: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    labels: Sequence[int],
    extra: Sequence[float],
) -> float:
    """The exact mean-DICE optimum over anomalous cases: the best of every distinct map value.

    Mean DICE changes only at values present in the anomalous maps, so those
    are the only thresholds to try; there can be hundreds of millions. The
    search is a branch and bound that finds the exact optimum while evaluating
    few of them: the candidates are sorted, a coarse grid of them is evaluated,
    and between two neighbouring grid values ``a < b`` no threshold can do better
    than ``sum_i 2 tp_i(a) / (pred_i(b) + |T_i|)`` (at most the true positives of
    the lower end, at least the predictions of the upper end). Every interval
    whose bound beats the best value found is refined the same way, until it
    holds few enough candidates to evaluate all of them. Ties go to the largest
    threshold. ``extra`` (the honest protocols' thresholds) are evaluated too.
    """
    anomalous = [i for i, lab in enumerate(labels) if lab == 1]
    if not anomalous:
        raise ThresholdError(f"protocol {protocol.name!r} needs at least one anomalous test case; found none")
    dtype = np.result_type(*maps)
    cases = [_SortedCase(np.ravel(maps[i]), np.ravel(truths[i]).astype(bool)) for i in anomalous]
    values = np.unique(np.concatenate([c.values for c in cases]))  # every distinct anomalous-map value
    extra_values = np.unique(_as_dtype(np.asarray(extra, float), dtype)) if len(extra) else values[:0]
    best_value, best_total = -np.inf, -np.inf

    def consider(candidates: np.ndarray, totals: np.ndarray) -> None:
        nonlocal best_value, best_total
        if candidates.size == 0:
            return
        top = totals.max()
        pick = candidates[np.flatnonzero(totals == top)[-1]]
        if top > best_total or (top == best_total and pick > best_value):
            best_value, best_total = float(pick), float(top)

    consider(extra_values, _total_dice(cases, extra_values))
    pending = [(0, values.size - 1)]  # inclusive index ranges of `values` still to search
    while pending:
        lo, hi = pending.pop()
        if hi - lo + 1 <= _ORACLE_EXACT:
            consider(values[lo : hi + 1], _total_dice(cases, values[lo : hi + 1]))
            continue
        grid = np.unique(np.linspace(lo, hi, ORACLE_GRID_SIZE).round().astype(np.int64))
        totals = _total_dice(cases, values[grid])
        consider(values[grid], totals)
        bounds = _interval_bounds(cases, values[grid])
        for k in np.flatnonzero(bounds >= best_total):
            if grid[k + 1] - grid[k] > 1:
                pending.append((int(grid[k]) + 1, int(grid[k + 1]) - 1))
    return best_value


#: Intervals holding at most this many candidate thresholds are evaluated whole.
_ORACLE_EXACT = 4096


class _SortedCase:
    """One anomalous case: its map values sorted, its lesion values sorted."""

    def __init__(self, amap: np.ndarray, truth: np.ndarray):
        self.values = np.sort(amap)
        self.lesion = np.sort(amap[truth])

    def counts(self, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted and true-positive pixel counts at each threshold (``map >= t``)."""
        predicted = self.values.size - np.searchsorted(self.values, thresholds, side="left")
        hits = self.lesion.size - np.searchsorted(self.lesion, thresholds, side="left")
        return predicted, hits


def _dice(hits: np.ndarray, predicted: np.ndarray, n_true: int) -> np.ndarray:
    denom = predicted + n_true
    # Both empty counts 1.0, as bench.metrics.dice does.
    return np.where(denom == 0, 1.0, 2.0 * hits / np.maximum(denom, 1))


def _total_dice(cases: list[_SortedCase], thresholds: np.ndarray) -> np.ndarray:
    """Sum over cases of DICE at each threshold (float64, exact counts)."""
    total = np.zeros(thresholds.size)
    for case in cases:
        predicted, hits = case.counts(thresholds)
        total += _dice(hits, predicted, case.lesion.size)
    return total


def _interval_bounds(cases: list[_SortedCase], grid: np.ndarray) -> np.ndarray:
    """For each open interval ``(grid[k], grid[k + 1])``: an upper bound of the total DICE of any threshold in it."""
    bound = np.zeros(max(grid.size - 1, 0))
    for case in cases:
        predicted, hits = case.counts(grid)
        denom = predicted[1:] + case.lesion.size
        # Both empty is possible only when the case has no lesion and nothing is predicted at the upper end.
        bound += np.where(denom == 0, 1.0, 2.0 * hits[:-1] / np.maximum(denom, 1))
    return bound


def _check_split(
    protocol: ThresholdProtocol,
    split: str,
    maps: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    labels: Sequence[int],
) -> None:
    if not len(maps):
        raise ThresholdError(f"protocol {protocol.name!r} needs the {split} split, and none was given")
    if not len(maps) == len(truths) == len(labels):
        raise ThresholdError(
            f"protocol {protocol.name!r}: the {split} split has {len(maps)} maps, {len(truths)} truths and "
            f"{len(labels)} labels; expected one of each per case"
        )
    for i, (m, t) in enumerate(zip(maps, truths, strict=True)):
        if np.shape(m) != np.shape(t):
            raise ThresholdError(
                f"protocol {protocol.name!r}: {split} case {i} has map shape {np.shape(m)} "
                f"and truth shape {np.shape(t)}; expected the same"
            )


def _as_dtype(value, dtype: np.dtype):
    """``value`` rounded to ``dtype`` when that is a float type (maps compare in their own precision)."""
    return np.asarray(value).astype(dtype) if np.issubdtype(dtype, np.floating) else value


def _format_number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
